"""Multi-label export (#28): the cleaned split with the suggested tag sets on the flagged rows,
in the input's own form, with the change list; written to the export folder and offered as
downloads."""

import tempfile
from pathlib import Path

import numpy as np
import streamlit as st

from dashboard import ml_compute, multilabel_cli, session
from dashboard.text import md

source, key, result = session.current_multilabel()

st.title("Export")
store = ml_compute.review_store(source)
decisions = store.decisions()
mode = st.radio("Apply", ["suggestions", "reviewed"], horizontal=True, key="ml_export_mode",
                index=1 if len(decisions) else 0,
                format_func={"suggestions": "the suggested tags of every flagged row",
                             "reviewed": f"the review ({len(decisions):,} decisions)"}.get)
rows = len(result.ids)
if mode == "reviewed":
    new, keep = ml_compute.reviewed(result, decisions)
else:
    new, keep = result.suggested, np.ones(rows, dtype=bool)
changes = multilabel_cli.changes_frame(result, np.where(keep[:, None], new, result.labels))
added = int((new[keep] > result.labels[keep]).sum())
removed = int((new[keep] < result.labels[keep]).sum())
st.markdown(f"**{rows:,}** rows in → **{int(keep.sum()):,}** rows out: **{len(changes):,}** "
            f"rows get new tags ({added:,} tags added, {removed:,} removed)"
            f"{f', {int((~keep).sum()):,} rows removed' if not keep.all() else ''}; every other "
            "row is written as it was.")
form = result.tags.form
st.caption(f"The cleaned split is written as the input is ({md(form)} tags, "
           f"{md(result.origin.kind if result.origin is not None else 'csv')}): only the "
           "changed rows' tag cells change.")

st.subheader("Changes")
st.dataframe(changes, hide_index=True, height=300, key="ml_changes",
             column_config={"row": st.column_config.NumberColumn(format="%d")})

folder = session.export_dir() / ml_compute.export_stem(result)
# the folder is chosen at launch (--export-dir), never typed into the page
st.caption(f"Files are written to {md(folder)} on the machine running noiselens (choose another "
           "folder at launch with `noiselens dashboard --export-dir DIR`) and offered below as "
           "downloads.")
if st.button("Export", type="primary", icon=":material/download:", key="ml_export_go"):
    try:
        with st.spinner("Writing the cleaned split and the change list…"):
            written = ml_compute.export_files(result, folder) if mode == "suggestions" else \
                ml_compute.write_reviewed(result, folder, new, keep)
        st.session_state["ml_last_export"] = [str(p) for p in written]
    except (OSError, ValueError) as exc:
        st.error(f"**The export failed.** {md(exc)}")
last = st.session_state.get("ml_last_export")
if last and all(Path(p).exists() for p in last):
    st.success("Exported: " + ", ".join(md(Path(p).name) for p in last))

st.subheader("Downloads")
if mode == "suggestions":
    files = ml_compute.download_bytes(key, result)
else:  # the review changes with every decision: built now (small files: the tags and ids)
    with tempfile.TemporaryDirectory() as tmp:
        files = {p.name: p.read_bytes()
                 for p in ml_compute.write_reviewed(result, Path(tmp), new, keep)}
mimes = {".csv": "text/csv", ".tsv": "text/tab-separated-values", ".json": "application/json",
         ".parquet": "application/octet-stream"}
cols = st.columns(3)
for n, (name, data) in enumerate(files.items()):
    cols[n % 3].download_button(md(name), data, file_name=name,
                                mime=mimes.get(Path(name).suffix, "text/plain"),
                                key=f"ml_dl_{n}", icon=":material/file_download:")
