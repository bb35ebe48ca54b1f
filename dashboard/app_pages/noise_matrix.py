"""Noise matrix: which given labels hide which true classes; click a cell for its rows."""

import numpy as np
import streamlit as st

from dashboard import components, compute, figures, selection, session
from dashboard.text import md

#: Past this many classes the matrix shows the most confused ones (a selector for the rest).
MATRIX_CLASSES = 25

dataset, result = session.current()
names = dataset.class_names
k = dataset.num_classes

st.title("Noise matrix")
st.caption("Rows: the label given in the data. Columns: the class confident learning estimates "
           "the example truly belongs to. Click a cell to list its examples.")

kinds = list(figures.MATRIX_KINDS)
c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
kind = c1.segmented_control("Show", kinds, default=st.query_params.get("kind", kinds[0])
                            if st.query_params.get("kind") in kinds else kinds[0],
                            format_func=figures.MATRIX_KINDS.get, key="matrix_kind",
                            required=True)
hide = c2.toggle("Hide the diagonal", value=True, key="hide_diagonal",
                 help="The diagonal (labels that are right) dwarfs the errors.")

counts = compute.derived(result, "cell_counts", lambda: selection.cell_counts(
    result.labels, result.estimated_true, k))
cell = selection.parse_cell(st.query_params.get("cell"), k, bucket=True)
shown_classes = None
if k > MATRIX_CLASSES:
    top = selection.confused_classes(counts, MATRIX_CLASSES)
    if cell is not None:  # a deep link to a cell outside the default view: show its classes
        top = np.concatenate([top, [c for c in cell if c < k and c not in top]])
    shown_classes = st.multiselect(
        f"Classes shown ({k:,} in all; the {MATRIX_CLASSES} most confused by default, "
        "ordered so that confused classes sit together)", list(range(k)),
        default=[int(c) for c in top], format_func=lambda c: names[c], key="matrix_classes")
    if len(shown_classes) < 2:
        st.info("Choose at least two classes to draw the matrix.")
        st.stop()
fig = compute.derived(
    result, ("noise_matrix", kind, hide, cell, None if shown_classes is None else
             tuple(shown_classes)),
    lambda: figures.noise_matrix_figure(result.estimate, names, kind=kind, hide_diagonal=hide,
                                        selected=cell, cells=counts, classes=shown_classes))
event = st.plotly_chart(fig, key="noise_matrix", on_select="rerun",
                        selection_mode=("points",), config={"displayModeBar": False})
flagged_nowhere = int((result.is_issue & (result.estimated_true < 0)).sum())
if kind == "confident_joint":
    st.caption(
        "Each number is the count of rows listed under the cell (raw confident-joint counts); "
        "the calibrated estimate (rescaled to the class sizes, the basis of the noise rates) "
        "is in the hover. The last column, *no confident class*, holds rows whose "
        "probabilities reach no class's threshold: "
        f"{flagged_nowhere:,} of the {result.num_issues:,} flagged rows are there "
        "(`estimated_true = -1` in label_issues.csv).")
clicked = selection.cell_from_event(event)
if clicked is not None and clicked != cell:
    # rerun so that the outline is drawn on the cell just chosen
    st.query_params["cell"] = f"{clicked[0]}-{clicked[1]}"
    st.rerun()

if cell is None:
    st.info("Click a cell of the matrix to see the examples in it.")
    st.stop()

given, true = cell
rows = selection.cell_rows(result, given, true)
n_flagged = int(result.is_issue[rows].sum())
if true >= k:
    st.subheader(f"Given '{md(names[given])}', no confident class")
    st.caption(f"{len(rows):,} row{'s' if len(rows) != 1 else ''} given "
               f"'{md(names[given])}' whose probabilities reach no class's confidence "
               f"threshold ({n_flagged:,} flagged); lowest label quality first.")
else:
    count = result.estimate.confident_joint[given, true]
    st.subheader(f"Given '{md(names[given])}', estimated true '{md(names[true])}'")
    st.caption(f"{len(rows):,} row{'s' if len(rows) != 1 else ''} in this cell "
               f"({n_flagged:,} flagged); calibrated to the class sizes the cell counts "
               f"~{count:,.0f}. Lowest label quality first.")
if len(rows) == 0:
    st.write("No example in this cell.")
    st.stop()
picked = components.rows_table(dataset, result, rows, key=f"cell-table-{given}-{true}",
                               decisions=components.decision_labels(dataset))
where = (f"cell {names[given]} → no confident class" if true >= k
         else f"cell {names[given]} → {names[true]}")
components.accept_suggestions(dataset, result, rows, what=where,
                              key=f"accept-cell-{given}-{true}")
c1, c2 = st.columns(2)
c1.page_link("app_pages/suspects.py", label="Review this cell on the Suspects page",
             icon=":material/arrow_forward:", query_params={"cell": f"{given}-{true}"})
if c2.button("Clear the selected cell", key="clear_cell"):
    del st.query_params["cell"]
    st.rerun()
components.review_example(dataset, result, picked, key="cell")
