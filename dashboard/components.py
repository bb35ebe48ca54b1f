"""Pieces of page shared by several pages: the row table and one example in detail."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

import analysis as nl
from analysis.export.split import default_stem
from analysis.export.tasks import FORMATS as TASK_FORMATS
from analysis.export.tasks import task_files, tasks_zip
from analysis.pipeline import Analysis
from dashboard import compute, figures, labels, selection, thumbs, why
from dashboard.text import md, visible

#: Tables of at most this many rows show thumbnails.
TABLE_THUMBNAILS = 500


# client.toolbarMode=minimal hides Streamlit's own "Running…" (docs/architecture.md,
# Pitfalls): a bar at the top of the page while a script run is in progress, CSS only
RUNNING_BAR = """<style>
[data-testid="stApp"][data-test-script-state="running"]::before {
  content: "Working…"; position: fixed; top: 0; left: 0; right: 0; z-index: 999990;
  height: 1.6rem; line-height: 1.6rem; text-align: center; font-size: 0.85rem;
  color: #fff; background: linear-gradient(90deg, #d6336c, #f08cae, #d6336c);
  background-size: 200% 100%; animation: nl-running 1.2s linear infinite;
  pointer-events: none;
}
@keyframes nl-running { from { background-position: 0 0; } to { background-position: 200% 0; } }
</style>"""


def page_controls(total: int, *, key: str, size: int | None = None,
                  jump_to: int | None = None) -> tuple[int, int]:
    """A page number and "rows 201–400 of 141,702" for a list of ``total`` rows longer than
    ``size``; returns the ``(start, stop)`` positions of the page to show (every row when
    the list fits one page, and then nothing is drawn). ``jump_to`` (a list position) turns
    to the page holding it. The page is widget state ``f"{key}-page"``. ``size`` defaults to
    :data:`dashboard.selection.PAGE_ROWS`, read at each call."""
    size = selection.PAGE_ROWS if size is None else size
    if total <= size:
        return 0, total
    pages = selection.page_count(total, size)
    state = f"{key}-page"
    if jump_to is not None:
        st.session_state[state] = selection.page_of(jump_to, size)
    if st.session_state.get(state, 1) > pages:  # the list shrank since
        st.session_state[state] = pages
    left, right = st.columns([1, 4], vertical_alignment="bottom")
    page = left.number_input(f"Page (of {pages:,})", min_value=1, max_value=pages, step=1,
                             key=state)
    start, stop, page = selection.page_bounds(total, page, size)
    right.caption(f"Page {page:,} of {pages:,}: {selection.page_caption(start, stop, total)}"
                  " (sorting and filters apply to every row)")
    return start, stop


def table_pick(key: str, rows) -> int | None:
    """The dataset row picked in :func:`rows_table` ``key`` on the last run (its page's
    selection mapped back into ``rows``), or ``None``."""
    table_key, start = st.session_state.get(f"_{key}-shown", (key, 0))
    chosen = ((st.session_state.get(table_key) or {}).get("selection") or {}).get("rows") or []
    if not chosen or start + chosen[0] >= len(rows):
        return None
    return int(rows[start + chosen[0]])


def rows_table(dataset: nl.Dataset, result: Analysis, rows, *, key: str,
               height: int = 360, decisions: dict | None = None,
               current: int | None = None, page_rows: int | None = None
               ) -> int | None:
    """A table of ``rows`` (dataset positions, shown in that order) with thumbnails for
    image datasets; returns the row the user selected, if any. ``current`` (a row under
    review) is marked ▶ in the first column.

    Past ``page_rows`` rows one page is sent to the browser (:func:`page_controls`; the
    order and filters of ``rows`` are those of the whole list); when ``current`` changes the
    table turns to its page. Read the selection of the last run with :func:`table_pick`.
    """
    rows = np.asarray(rows, dtype=np.int64)
    jump = None
    if current is not None and st.session_state.get(f"_{key}-current") != current:
        st.session_state[f"_{key}-current"] = current
        at = np.flatnonzero(rows == current)
        jump = int(at[0]) if at.size else None
    start, stop = page_controls(len(rows), key=key, size=page_rows, jump_to=jump)
    table_key = key if stop - start == len(rows) else f"{key}-from{start}"
    st.session_state[f"_{key}-shown"] = (table_key, start)
    rows = rows[start:stop]
    table = result.table().iloc[rows]
    shown = np.array([visible(str(n)) for n in dataset.class_names], dtype=object)
    view = pd.DataFrame({
        # flagged rows carry their rank; the others show an empty cell, not "None"
        "rank": [str(r) if r > 0 else "" for r in table["rank"]],
        "id": table["id"].astype(str).map(visible),
        "given": shown[table["given"].to_numpy()],
        "suggested": shown[table["suggested"].to_numpy()],
        "quality": table["score"].astype(float),
        "p(given)": table["p_given"].astype(float),
        "p(suggested)": table["p_suggested"].astype(float),
        "flagged": table["is_issue"],
    })
    if decisions:
        # right after the id, wide enough for "relabel → <class>"
        view.insert(2, "decision", [decisions.get(i, "") for i in view["id"]])
    if current is not None:
        view.insert(0, "▶", np.where(rows == current, "▶", ""))
    config = {
        "▶": st.column_config.TextColumn("", width=28, help="the example shown below"),
        "rank": st.column_config.TextColumn(help="1 = most likely wrong (flagged rows only)"),
        "decision": st.column_config.TextColumn("decision", width="medium"),
        # 3 significant digits: the lowest scores (1e-4 and below) stay distinguishable
        "quality": st.column_config.NumberColumn(
            "quality", format="%.3g", help="Label quality score: low = likely wrong"),
        "p(given)": st.column_config.NumberColumn(format="percent"),
        "p(suggested)": st.column_config.NumberColumn(format="percent"),
    }
    pixels = compute.pixels_for(dataset)
    if pixels is not None and len(rows) <= TABLE_THUMBNAILS:
        view.insert(1, "image", [compute.thumbnail(dataset, r) for r in rows])
        config["image"] = st.column_config.ImageColumn("image", width="small")
    elif dataset.text_column:
        view.insert(2, "text", dataset.frame[dataset.text_column].iloc[rows].astype(str)
                    .str.slice(0, 200).map(visible).to_numpy())
    event = st.dataframe(view, hide_index=True, column_config=config, key=table_key,
                         on_select="rerun", selection_mode="single-row", height=height,
                         row_height=40 if "image" in view else None)
    picked = event.selection.rows if event is not None else []
    return int(rows[picked[0]]) if picked else None


def describe_decision(d: dict | None) -> str:
    if not d:
        return ""
    if d["action"] == "relabel":
        return f"relabel → {d['new_label']}"  # plain text (tables); md() it for Markdown
    return d["action"]


def decision_labels(dataset: nl.Dataset) -> dict[str, str]:
    """Row id -> short text of its review decision."""
    frame = compute.review_store(dataset).decisions()
    return {i: describe_decision({"action": a, "new_label": n})
            for i, a, n in zip(frame["id"], frame["action"], frame["new_label"], strict=True)}


def decided_rows(dataset: nl.Dataset, ids) -> np.ndarray:
    """(N,) bool: the rows whose id text is in ``ids`` (e.g. :func:`decision_labels`)."""
    mask = np.zeros(len(dataset), dtype=bool)
    if not len(ids):  # no decision yet: the id index is not needed
        return mask
    index = dataset.id_index
    mask[np.fromiter((index[i] for i in ids if i in index), dtype=np.int64)] = True
    return mask


def decision_bar(dataset: nl.Dataset, result: Analysis, row: int, *, key: str) -> bool:
    """Relabel / remove / keep buttons for one row; True when a decision was just made."""
    store = compute.review_store(dataset)
    names = [str(c) for c in dataset.class_names]
    row_id = str(dataset.ids[row])
    current = store.get(row_id)
    suggested = names[int(result.suggested[row])]
    given = names[int(result.labels[row])]
    status = (f"Decision: **{md(describe_decision(current))}**"
              + (f" — _{md(current['note'])}_" if current and current["note"] else "")
              if current else "No decision yet.")
    st.markdown(status)
    note = st.text_input("Note (optional)", key=f"{key}-note-{row_id}",
                         placeholder="why, for the change list")
    cols = st.columns([1.6, 1.6, 1, 1.1, 0.9], vertical_alignment="bottom")
    decided = False
    if suggested != given and cols[0].button(f"Relabel to {md(suggested)}", type="primary",
                                             key=f"{key}-accept", shortcut="A",
                                             icon=":material/check:",
                                             help="Accept the suggestion (key A)"):
        store.decide(row_id, "relabel", suggested, note)
        decided = True
    with cols[1].popover("Relabel to…", icon=":material/edit:"):
        other = st.selectbox("New label", [n for n in names if n != given],
                             key=f"{key}-other-{row_id}")
        if st.button("Apply", key=f"{key}-other-apply"):
            store.decide(row_id, "relabel", other, note)
            decided = True
    if cols[2].button("Remove", key=f"{key}-remove", shortcut="X", icon=":material/delete:",
                      help="Drop this row from the cleaned split (key X)"):
        store.decide(row_id, "remove", None, note)
        decided = True
    if cols[3].button("Keep label", key=f"{key}-keep", shortcut="K",
                      icon=":material/verified:", help="The given label is right (key K)"):
        store.decide(row_id, "keep", None, note)
        decided = True
    if cols[4].button("Undo", key=f"{key}-undo", shortcut="U", icon=":material/undo:",
                      disabled=not store.can_undo(), help="Undo the last decision (key U)"):
        undo_and_say(dataset)
        st.rerun()
    return decided


def undo_and_say(dataset: nl.Dataset) -> None:
    """Undo the last change; leave a message saying what it undid for the next run, and put
    the row it restored (the first, for a bulk step) in the URL so the page goes there."""
    store = compute.review_store(dataset)
    before = store.decisions().set_index("id")
    store.undo()
    after = store.decisions().set_index("id")
    changed = [i for i in before.index.union(after.index)
               if (i in before.index) != (i in after.index)
               or (i in before.index and not before.loc[i, ["action", "new_label", "note"]]
                   .fillna("").equals(after.loc[i, ["action", "new_label", "note"]].fillna("")))]
    if not changed:
        st.session_state["_undo_message"] = (
            "Nothing to undo: another session has decided those rows since; their decisions "
            "stay.")
        return
    first = changed[0]
    was = describe_decision(before.loc[first].to_dict()) if first in before.index else "nothing"
    now = describe_decision(after.loc[first].to_dict()) if first in after.index else \
        "no decision"
    if len(changed) == 1:
        st.session_state["_undo_message"] = (f"Undid **{md(was)}** on id **{md(first)}** "
                                             f"(now: {md(now)}).")
    else:
        st.session_state["_undo_message"] = (f"Undid one step on **{len(changed):,}** rows "
                                             f"(first: id {md(first)}, {md(was)} → {md(now)}).")
    st.query_params["id"] = str(first)


def review_example(dataset: nl.Dataset, result: Analysis, row: int | None, *, key: str,
                   on_decided=None) -> None:
    """One example under review: its decision bar in a frame, then its detail.

    After a decision ``on_decided()`` runs (e.g. move on to the next suspect) and the page
    reruns, so every count on it includes the decision. Nothing is drawn when ``row`` is None.
    """
    if row is None:
        return
    with st.container(border=True):
        message = st.session_state.pop("_undo_message", None)
        if message:
            st.info(message, icon=":material/undo:")
        if decision_bar(dataset, result, row, key=key):
            if on_decided is not None:
                on_decided()
            st.rerun()
    example_detail(dataset, result, row)


def confirmed(key: str, ask: str, message: str, confirm: str, *, icon: str | None = None) -> bool:
    """A button that asks for confirmation inline; True on the run the user confirms."""
    flag = f"_confirm_{key}"
    if not st.session_state.get(flag):
        if not st.button(ask, key=key, icon=icon):
            return False
        st.session_state[flag] = True
    with st.container(border=True):
        st.warning(message)
        yes, no, _ = st.columns([1.4, 1, 3])
        if yes.button(confirm, type="primary", key=f"{key}-yes"):
            st.session_state[flag] = False
            return True
        if no.button("Cancel", key=f"{key}-no"):
            st.session_state[flag] = False
            st.rerun()
    return False


def accept_suggestions(dataset: nl.Dataset, result: Analysis, rows, *, what: str,
                              key: str) -> None:
    """A button that relabels every flagged row of ``rows`` to its suggestion, after a
    confirmation that states the count."""
    rows = np.asarray(rows, dtype=np.int64)
    flagged = rows[result.is_issue[rows]]
    if flagged.size == 0:
        return
    names = [str(c) for c in dataset.class_names]
    one = flagged.size == 1
    if confirmed(key, "Accept this suggestion…" if one
                 else f"Accept these {flagged.size:,} suggestions…",
                 f"Relabel **{flagged.size:,}** flagged row{'' if one else 's'} in {md(what)} "
                 f"to {'its' if one else 'their'} suggested label{'' if one else 's'}? Rows you "
                 "already decided on are overwritten; Undo reverts the whole step.",
                 f"Relabel {flagged.size:,} row{'' if one else 's'}",
                 icon=":material/done_all:"):
        compute.review_store(dataset).decide_many(
            [str(dataset.ids[r]) for r in flagged], "relabel",
            [names[int(result.suggested[r])] for r in flagged],
            note=f"bulk: suggestions in {what}")
        st.rerun()


def accept_consensus_button(dataset: nl.Dataset, rows, labels) -> None:
    """Record 'relabel to the consensus' for the rows where it differs from the label."""
    rows = np.asarray(rows, dtype=np.int64)
    if confirmed("consensus-accept",
                 f"Record the consensus as decisions for these {rows.size:,} rows…",
                 f"Record **{rows.size:,}** relabel decisions, each row getting the annotators' "
                 "weighted consensus? Undo reverts the whole step.",
                 f"Relabel {rows.size:,} rows", icon=":material/how_to_vote:"):
        compute.review_store(dataset).decide_many(
            [str(dataset.ids[r]) for r in rows], "relabel", list(labels),
            note="annotators' weighted consensus")
        st.rerun()


def example_detail(dataset: nl.Dataset, result: Analysis, row: int) -> None:
    """One example: its content, its probabilities, its nearest neighbours."""
    names = dataset.class_names
    given = int(result.labels[row])
    suggested = int(result.suggested[row])
    flagged = bool(result.is_issue[row])
    verdict = (f":red-badge[flagged] suggested label **{md(names[suggested])}**" if flagged
               else ":green-badge[not flagged]")
    st.markdown(f"#### Example id {md(dataset.ids[row])} — given **{md(names[given])}** · "
                f"{verdict}")
    truth = dataset.true_labels
    if truth is not None and truth[row] >= 0:
        right = truth[row] == given
        st.caption(f"Known true label: **{md(names[truth[row]])}** "
                   f"({'the given label is right' if right else 'the given label is wrong'}).")
    left, middle = st.columns([1, 1.4])
    with left:
        pixels = compute.pixels_for(dataset)
        if pixels is not None:
            st.plotly_chart(compute.derived(result, ("image", row), lambda: figures.image_figure(
                pixels[row], dataset.image_shape, height=260)),
                key=f"img-{row}", config={"displayModeBar": False})
        elif dataset.image_column:
            problem = thumbs.image_problem(dataset.image_path(row))  # a bomb is not sent
            if problem is not None:
                st.warning(f"Cannot show the image: {md(problem)}")
            else:
                try:
                    st.image(str(dataset.image_path(row)), width="stretch")
                except Exception as exc:  # a missing or unreadable file: say so, keep going
                    st.warning(f"Cannot show the image: {md(exc)}")
        if dataset.text_column:
            st.text_area("Text", str(dataset.frame[dataset.text_column].iloc[row]),
                         height=200, disabled=True, key=f"text-{row}")
        if pixels is None and dataset.feature_columns:
            values = dataset.frame[dataset.feature_columns].iloc[row]
            st.dataframe(values.rename("value").to_frame(), height=260)
    with middle:
        st.plotly_chart(compute.derived(result, ("probability_bars", row), lambda: (
            figures.probability_bars(result.pred_probs[row], names, given=given,
                                     suggested=suggested,
                                     title="Predicted probabilities (out-of-fold)"))),
                        key=f"probs-{row}", config={"displayModeBar": False})
        st.caption(f"Label quality score ({labels.RANK_LABELS[result.rank_by].lower()}): "
                   f"**{result.scores[row]:.3g}** (0 = surely wrong, 1 = surely right); "
                   f"probability of the given label {result.pred_probs[row, given]:.3g}.")
    why.why_panel(dataset, result, row)  # every signal side by side (dashboard/why.py)
    _neighbours(dataset, result, row)


def _neighbours(dataset: nl.Dataset, result: Analysis, row: int, k: int = 10) -> None:
    if len(dataset) < 3:
        return
    near, distances = compute.row_neighbours(dataset, row, k)
    labels = result.labels[near]
    agree = float(np.mean(labels == result.labels[row]))
    names = dataset.class_names
    space = compute.feature_space(dataset)
    opinion = ("a model-free second opinion" if not space.startswith("the predicted")
               else "in the predicted probabilities: rows the model sees alike")
    st.markdown(f"**{len(near)} nearest neighbours** — {agree:.0%} carry the same given label "
                f"({opinion}).")
    pixels = compute.pixels_for(dataset)
    if pixels is not None:
        own = names[result.labels[row]]
        captions = [md(f"{names[lab]}{f' (not {own})' if lab != result.labels[row] else ''} · "
                       f"id {dataset.ids[r]}") for r, lab in zip(near, labels, strict=True)]
        st.image([compute.thumbnail(dataset, r, scale=10) for r in near], caption=captions,
                 width=80)
    else:
        frame = pd.DataFrame({
            "id": [visible(str(dataset.ids[r])) for r in near],
            "given": [visible(str(names[lab])) for lab in labels],
            "distance": distances,
            "flagged": result.is_issue[near],
        })
        if dataset.text_column:
            frame["text"] = dataset.frame[dataset.text_column].iloc[near].astype(str).str.slice(
                0, 160).map(visible).to_numpy()
        st.dataframe(frame, hide_index=True)


def tasks_download(dataset: nl.Dataset, result: Analysis, rows, *, key: str,
                   default: int = 200) -> None:
    """A tool choice, how many of ``rows`` (in their order) and the download of them as
    labelling tasks (a zip of :func:`analysis.export.tasks.task_files`, built on the click)."""
    rows = np.asarray(rows, dtype=np.int64)
    t1, t2, t3 = st.columns([1.2, 1, 1.2], vertical_alignment="bottom")
    tools = [f for f in TASK_FORMATS if f != "cvat" or dataset.image_column is not None]
    tool = t1.selectbox("Tool", tools, key=f"{key}_format")
    # no max_value: the rows shrink as decisions come in, and a kept value above them fails
    many = min(int(t2.number_input("How many", min_value=1, value=min(len(rows), default) or 1,
                                   key=f"{key}_rows")), len(rows))
    if not len(rows):
        t3.caption("No row to send.")
        return
    chosen = rows[:many]

    def build() -> bytes:  # on the click, on its own thread: the page is not held up
        return tasks_zip(task_files(dataset, chosen, result.suggested, result.scores, tool))

    t3.download_button(f"Download {many:,} task(s)", build,
                       file_name=f"{default_stem(dataset)}_{tool}_tasks.zip",
                       mime="application/zip", key=f"{key}_download",
                       icon=":material/file_download:")
