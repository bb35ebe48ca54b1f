"""Noise matrix: which given labels hide which true classes; click a cell for its rows."""

import streamlit as st

from dashboard import components, figures, selection, session
from dashboard.text import md

dataset, result = session.current()
names = dataset.class_names

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

cell = selection.parse_cell(st.query_params.get("cell"), dataset.num_classes)
fig = figures.noise_matrix_figure(result.estimate, names, kind=kind, hide_diagonal=hide,
                                  selected=cell)
event = st.plotly_chart(fig, key="noise_matrix", on_select="rerun",
                        selection_mode=("points",), config={"displayModeBar": False})
clicked = selection.cell_from_event(event)
if clicked is not None and clicked != cell:
    # rerun so that the outline is drawn on the cell just chosen
    st.query_params["cell"] = f"{clicked[0]}-{clicked[1]}"
    st.rerun()

if cell is None:
    st.info("Click a cell of the matrix to see the examples in it.")
    st.stop()

given, true = cell
rows = result.cell(given, true)
count = result.estimate.confident_joint[given, true]
st.subheader(f"Given '{md(names[given])}', estimated true '{md(names[true])}'")
st.caption(f"{len(rows):,} examples counted in this cell before calibration (the matrix shows "
           f"~{int(count):,} after calibration to the class sizes); lowest label quality first.")
if len(rows) == 0:
    st.write("No example in this cell.")
    st.stop()
picked = components.rows_table(dataset, result, rows, key=f"cell-table-{given}-{true}",
                               decisions=components.decision_labels(dataset))
components.accept_suggestions(
    dataset, result, rows, what=f"cell {names[given]} → {names[true]}",
    key=f"accept-cell-{given}-{true}")
c1, c2 = st.columns(2)
c1.page_link("app_pages/suspects.py", label="Review this cell on the Suspects page",
             icon=":material/arrow_forward:", query_params={"cell": f"{given}-{true}"})
if c2.button("Clear the selected cell", key="clear_cell"):
    del st.query_params["cell"]
    st.rerun()
components.review_example(dataset, result, picked, key="cell")
