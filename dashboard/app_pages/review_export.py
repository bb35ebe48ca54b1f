"""Review & export: the decisions so far, the cleaned split, its change list, manifest and
a stakeholder report."""

from pathlib import Path

import numpy as np
import streamlit as st

from analysis.annotators.relabel import relabel_order
from analysis.export.split import (
    UNREVIEWED_MIN_CONFIDENCE,
    apply_decisions,
    class_sizes,
    default_stem,
    unreviewed_decisions,
)
from analysis.export.verdicts import VerdictError, check_verdicts, read_verdicts
from analysis.review.store import ReviewDatabaseError, reconcile
from dashboard import components, compute, exporting, findings_view, session
from dashboard.report import build_report
from dashboard.text import md

dataset, result = session.current()
try:
    store = compute.review_store(dataset)
    carry = reconcile(store, dataset)
except ReviewDatabaseError as exc:
    st.error(f"**The review decisions cannot be read.** {md(exc)}")
    st.stop()
names = [str(c) for c in dataset.class_names]

st.title("Review & export")
if carry.needs_a_look:
    st.warning(f"**The file changed since some decisions were made.** {carry.message()} "
               "The rows below deserve a second look.", icon=":material/difference:")
    changed = carry.table()
    first, last = components.page_controls(len(changed), key="carry_table")
    st.dataframe(changed.iloc[first:last], hide_index=True, height=200)
decisions = carry.applicable  # = store.decisions(): the decisions on rows in this file
counts = {a: int((decisions["action"] == a).sum()) for a in ("relabel", "remove", "keep")}
reviewed_flagged = int(components.decided_rows(dataset, decisions["id"])[result.ranked].sum())
c = st.columns(4)
c[0].metric("Relabelled", f"{counts['relabel']:,}")
c[1].metric("Removed", f"{counts['remove']:,}")
c[2].metric("Kept (label confirmed)", f"{counts['keep']:,}")
c[3].metric("Flagged rows reviewed", f"{reviewed_flagged:,} / {result.num_issues:,}")

st.subheader("Decisions")
if decisions.empty:
    st.info("No decision yet. Review suspects on the **Suspects** page (keys: A accept, X remove, "
            "K keep, U undo, ← → walk), or accept a whole noise-matrix cell or map selection. "
            "Or export the detector's suggestions below without review.")
else:
    # newest first, one page of rows sent (components.page_controls)
    first, last = components.page_controls(len(decisions), key="decisions_table")
    shown = decisions.iloc[::-1].iloc[first:last]
    index = dataset.id_index
    rows = np.array([index.get(i, -1) for i in shown["id"]], dtype=np.int64)
    known = rows >= 0
    view = shown.assign(
        given=[names[dataset.labels[r]] if r >= 0 else "?" for r in rows],
        score=np.where(known, result.scores[np.maximum(rows, 0)], np.nan),
    )[["id", "given", "action", "new_label", "score", "note", "decided_at"]]
    st.dataframe(view, hide_index=True, height=280, column_config={
        "score": st.column_config.NumberColumn("quality", format="%.3f"),
        "decided_at": st.column_config.DatetimeColumn("when", format="YYYY-MM-DD HH:mm:ss"),
        "new_label": "new label",
    })
    b1, b2, _ = st.columns([1, 1.4, 3])
    if b1.button("Undo last", icon=":material/undo:", key="undo_last",
                 disabled=not store.can_undo()):
        store.undo()
        st.rerun()
    with b2.popover("Clear all decisions", icon=":material/delete_sweep:"):
        st.write(f"Forget all **{len(decisions):,}** decisions? (Undo can restore them.)")
        if st.button("Clear them", type="primary", key="clear_all"):
            store.clear(decisions["id"].tolist())
            st.rerun()

st.subheader("Labelling tools")
st.caption("Send the suspects not yet reviewed to Label Studio, Argilla, CVAT or a spreadsheet, "
           "and bring the verdicts back: they become decisions here (README, Labelling tools).")
order = st.radio("Rows", ["review", "next"], horizontal=True, key="tasks_order",
                 format_func={"review": "flagged, not reviewed, most likely wrong first",
                              "next": "every row, the one that most needs another label first "
                                      "(ActiveLab-like)"}.get)
queue = (compute.review_order(result, decisions) if order == "review" else
         relabel_order(result.pred_probs, result.labels, store.verdicts(), dataset.ids, names))
components.tasks_download(dataset, result, queue, key="tasks")
upload = st.file_uploader("Verdicts: a Label Studio export (JSON, JSON_MIN, CSV), Argilla "
                          "records.json, CVAT annotations.xml, or the CSV form",
                          type=["json", "csv", "xml"], key="verdicts_upload")
if upload is not None and st.button("Import the verdicts", key="verdicts_import",
                                    icon=":material/upload:"):
    try:
        found = read_verdicts(None, name=upload.name, content=upload.getvalue())
        done = store.record_verdicts(check_verdicts(found, dataset),
                                     source=f"{found.format}: {upload.name}",
                                     probabilities=result.pred_probs)
        st.session_state["verdicts_done"] = (f"{done.message()} {found.skipped_line()}.",
                                             done.disagreements)
        st.rerun()
    except VerdictError as exc:
        st.error(f"**Not imported.** {md(exc)}")
if "verdicts_done" in st.session_state:
    said, disagreements = st.session_state["verdicts_done"]
    st.success(md(said), icon=":material/task_alt:")
    if len(disagreements):
        st.dataframe(disagreements, hide_index=True, height=200)

st.subheader("Export the cleaned split")
mode = st.radio("Apply", ["reviewed", "suggestions"], horizontal=True, key="export_mode",
                format_func={"reviewed": "my review decisions",
                             "suggestions": "the detector's suggestions, without review"}.get)
params = {}
if mode == "suggestions":
    s1, s2 = st.columns(2)
    action = s1.radio("Flagged rows are", ["relabel", "remove"], horizontal=True,
                      key="suggest_action",
                      format_func={"relabel": "relabelled to the suggestion",
                                   "remove": "removed"}.get)
    max_score = s2.slider("Only rows with quality score at most", 0.0, 1.0, 1.0, 0.01,
                          key="suggest_max_score")
    min_conf = s2.slider(
        "Only where the model is at least this sure of the suggestion", 0.0, 1.0,
        UNREVIEWED_MIN_CONFIDENCE, 0.01, key="suggest_min_confidence",
        help="Nobody reviews these changes: the other flagged rows keep their label and stay "
             "listed for review (measured in docs/benchmarks.md, Unreviewed default).")
    chosen, unreviewed = unreviewed_decisions(result, max_score=max_score, action=action,
                                              min_confidence=min_conf)
    st.warning(f"{md(unreviewed.line())}.", icon=":material/person_off:")
    params = {"suggestion_action": action, "max_score": max_score, "min_confidence": min_conf}
else:
    chosen, unreviewed = decisions, None
o1, o2 = st.columns(2)
removed = o1.radio("Removed rows", ["drop", "flag"], horizontal=True, key="export_removed",
                   format_func={"drop": "dropped",
                                "flag": "kept with a noiselens_removed column"}.get)
fmt = o2.radio("Format", ["csv", "parquet"], horizontal=True, key="export_format",
               format_func=str.upper)

try:
    cleaned = apply_decisions(dataset, chosen, removed=removed, scores=result.scores)
except ValueError as exc:
    st.error(f"These decisions cannot be applied: {md(exc)}")
    st.stop()
st.markdown(f"**{cleaned.rows_in:,}** rows in → **{cleaned.rows_out:,}** rows out: "
            f"{cleaned.relabelled:,} relabelled, {cleaned.removed:,} removed"
            f"{' (flagged)' if removed == 'flag' else ''}, {cleaned.kept:,} confirmed.")
with st.expander("Class sizes before and after"):
    st.dataframe(class_sizes(dataset, cleaned), hide_index=True)

stem = default_stem(dataset)
# the folder is chosen at launch (noiselens dashboard --export-dir), never typed into the page:
# whoever reaches the page must not be able to make the server write elsewhere
folder = session.export_dir() / stem
st.caption(f"Files are written to {md(folder)} on the machine running noiselens (choose another "
           "folder at launch with `noiselens dashboard --export-dir DIR`) and offered below as "
           "downloads.")
if st.button("Export", type="primary", icon=":material/download:", key="export_go",
             disabled=len(chosen) == 0 and mode == "reviewed"):
    try:
        with st.spinner("Writing the cleaned split, change list, report and manifest…"):
            out = exporting.write_export_set(
                dataset, result, chosen, folder, mode=mode, carry=carry,
                unreviewed=unreviewed, fmt=fmt, removed=removed, parameters=params, stem=stem,
                **findings_view.report_inputs(dataset, result))
        st.session_state["last_export"] = {k: str(p) for k, p in out.files.items()}
    except (OSError, ValueError) as exc:
        st.error(f"**The export failed.** {md(exc)}")
if len(chosen) == 0 and mode == "reviewed":
    st.caption("Nothing to export yet: make decisions first, or choose the suggestions.")

last = st.session_state.get("last_export")
if last and all(Path(p).exists() for p in last.values()):
    st.success("Exported: " + ", ".join(md(p) for p in last.values()))
    mimes = {".csv": "text/csv", ".parquet": "application/octet-stream",
             ".json": "application/json", ".html": "text/html"}
    cols = st.columns(len(last))
    for col, (kind, p) in zip(cols, last.items(), strict=True):
        path = Path(p)
        col.download_button(f"{kind} ({path.suffix[1:]})", path.read_bytes(),
                            file_name=path.name, mime=mimes.get(path.suffix, "text/plain"),
                            key=f"dl-{kind}", icon=":material/file_download:")

with st.expander("Preview the stakeholder report"):
    if st.button("Build the report preview", key="report_preview"):
        st.components.v1.html(build_report(dataset, result, cleaned=cleaned,
                                           **findings_view.report_inputs(dataset, result)),
                              height=900,
                              scrolling=True)
