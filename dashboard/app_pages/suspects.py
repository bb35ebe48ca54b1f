"""Suspects: the ranked list of likely wrong labels, filterable, one example at a time."""

import numpy as np
import streamlit as st

from dashboard import components, compute, labels, selection, session, why

dataset, result = session.current()
names = dataset.class_names
k = dataset.num_classes

st.title("Suspects")
table = result.table()

c1, c2, c3, c4 = st.columns([2, 2, 1.4, 1.2], vertical_alignment="bottom")
classes = c1.multiselect("Given class", list(range(k)), format_func=lambda c: names[c],
                         key="suspect_classes", placeholder="all classes")


def _cells() -> list:
    """The cells holding rows, off the diagonal, plus the "no confident class" bucket
    (column k); from the counts (no loop over k x k cells: 1,000 classes stay fast)."""
    counts = selection.cell_counts(result.labels, result.estimated_true, k)
    np.fill_diagonal(counts[:, :k], 0)
    gi, tj = np.nonzero(counts)
    return [None] + [(int(i), int(j)) for i, j in zip(gi, tj, strict=True)]


# once per analysis, not on every rerun (a copy: the page may add the URL's cell)
cells = list(compute.derived(result, "suspect_cells", _cells))
q_cell = selection.parse_cell(st.query_params.get("cell"), k, bucket=True)
if q_cell is not None and q_cell not in cells:
    cells.append(q_cell)
cell = c2.selectbox("Noise-matrix cell", cells, index=cells.index(q_cell) if q_cell else 0,
                    format_func=lambda c: "any" if c is None else
                    f"given {names[c[0]]} → no confident class" if c[1] >= k else
                    f"given {names[c[0]]} → true {names[c[1]]}", key="suspect_cell")
threshold = c3.slider("Max quality score", 0.0, 1.0, 1.0, 0.01, key="suspect_threshold",
                      help="Show rows whose label quality score is at most this.")
only_flagged = c4.toggle("Flagged only", value=True, key="suspect_flagged")

session.set_query("cell", None if cell is None else f"{cell[0]}-{cell[1]}")

map_rows = st.session_state.get("map_selection")
from_map = st.query_params.get("from") == "map" and map_rows is not None and len(map_rows) > 0
if from_map:
    st.info(f"Showing the {len(map_rows):,} examples selected on the "
            "embedding map.")
    if st.button("Show all suspects instead", key="drop_map"):
        del st.query_params["from"]
        st.rerun()
rows = selection.suspect_rows(result, classes=classes, cell=cell, threshold=threshold,
                              only_flagged=only_flagged,
                              within=map_rows if from_map else None)
rows = why.issue_filter(result, rows)  # by issue type (dashboard/why.py)

st.caption(f"**{len(rows):,}** examples match · method: {labels.method_label(result)}"
           f", ranked by {labels.RANK_LABELS[result.rank_by].lower()} (lowest first).")
if len(rows) == 0:
    st.success("No example matches these filters.")
    st.stop()
with st.popover("Send to a labelling tool", icon=":material/send:"):
    st.caption("These examples, in this order, as Label Studio, Argilla, CVAT or CSV tasks; "
               "bring the verdicts back on the Review & export page.")
    components.tasks_download(dataset, result, rows, key="suspect_tasks")

decided_labels = components.decision_labels(dataset)
decided = components.decided_rows(dataset, decided_labels)
reviewed = int(decided[result.ranked].sum())
st.progress(reviewed / max(len(result.ranked), 1),
            text=f"Reviewed {reviewed:,} of {len(result.ranked):,} flagged rows "
                 f"({len(decided_labels):,} decisions in all)")
current = compute.row_of_id(dataset, st.query_params.get("id")) if st.query_params.get(
    "id") is not None else None
# the table's selection of the last run (the table is drawn below, marking the current row)
picked = components.table_pick("suspect_table", rows)  # the table pages past 200 rows
if picked is not None and st.session_state.get("_last_pick") != picked:
    st.session_state["_last_pick"] = picked
    current = picked
in_list = current is not None and bool(np.any(rows == current))
if not in_list:
    # open at the first row without a decision (the list's first when all are decided)
    undecided = ~decided[rows]
    current = int(rows[int(np.argmax(undecided))] if undecided.any() else rows[0])
position = int(np.flatnonzero(rows == current)[0])
components.rows_table(dataset, result, rows, key="suspect_table", height=320,
                      decisions=decided_labels, current=current)

nav = st.columns([1, 1, 4], vertical_alignment="center")
step = 0
if nav[0].button("Previous", icon=":material/arrow_back:", disabled=position == 0,
                 key="prev", shortcut="Left"):
    step = -1
if nav[1].button("Next", icon=":material/arrow_forward:", disabled=position >= len(rows) - 1,
                 key="next", shortcut="Right"):
    step = 1
if step:
    # rerun so that the buttons are drawn for the new position
    st.query_params["id"] = str(dataset.ids[rows[position + step]])
    st.rerun()
current = int(rows[position])
nav[2].caption(f"Example {position + 1:,} of {len(rows):,} (← / → keys walk the list)")
st.query_params["id"] = str(dataset.ids[current])


def _next_suspect() -> None:
    if position < len(rows) - 1:
        st.query_params["id"] = str(dataset.ids[rows[position + 1]])


components.review_example(dataset, result, current, key="suspect", on_decided=_next_suspect)
