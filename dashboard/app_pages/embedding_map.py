"""Embedding map: every example in 2-D; a point of one colour inside a cluster of another is a
label worth checking. Box or lasso a region to list its examples."""

import numpy as np
import streamlit as st

from dashboard import components, compute, figures, selection, session
from dashboard.text import md

dataset, result = session.current()
names = dataset.class_names

st.title("Embedding map")
methods = {"umap": "UMAP", "pca": "PCA", "tsne": "t-SNE"}
if len(dataset) > 20_000:
    methods.pop("tsne")
wanted = st.query_params.get("proj", compute.default_projection())
c1, c2 = st.columns([1, 2])
method = c1.segmented_control("Projection", list(methods), format_func=methods.get,
                              default=wanted if wanted in methods else "umap", key="projection",
                              required=True)
colour_by = c2.segmented_control("Colour by", list(figures.COLOUR_BY),
                                 format_func=figures.COLOUR_BY.get, default="given",
                                 key="colour_by", required=True)
session.set_query("proj", method, compute.default_projection())

coords = compute.projection_for(dataset, method)
shown = method
if coords is None:
    job = compute.projection_job(dataset, method)
    coords = compute.projection_for(dataset, "pca")
    shown = "pca"

    @st.fragment(run_every=1.5)
    def _wait_for_projection():
        j = compute.projection_job(dataset, method)
        if j is None or j.done:
            st.rerun()
        st.progress(float(j.fraction), text=f"{methods[method]} is computing in the background "
                    f"({j.message}); showing PCA meanwhile. The map switches by itself.")

    _wait_for_projection()
else:
    job = compute.projection_job(dataset, method)
    if job is not None and job.error:
        st.error(f"{methods[method]} failed: {job.error}. Showing PCA.")
        coords, shown = compute.projection_for(dataset, "pca"), "pca"

table = result.table()
fig = compute.derived(result, ("embedding", shown, colour_by), lambda: figures.embedding_figure(
    coords, table, colour_by=colour_by, class_names=names))
dense = len(dataset) > figures.DENSITY_ABOVE
if dense:
    drawn = sum(len(trace.x) for trace in fig.data[1:] if trace.name != "flagged (outlined)")
    st.caption(f"{methods[shown]} of {len(dataset):,} rows, drawn from "
               f"{md(compute.feature_space(dataset))}. The grey image is the density of all "
               f"rows; {drawn:,} of them are drawn as points (flagged rows first, outlined). "
               "A box or lasso selects every row inside it, drawn or not; double-click to "
               "clear.")
else:
    st.caption(f"{methods[shown]} of {len(dataset):,} rows, drawn from "
               f"{md(compute.feature_space(dataset))}; flagged rows are outlined. Use the box "
               "or lasso tool (top right of the chart) to select a region; double-click to "
               "clear.")
event = st.plotly_chart(fig, key=f"map-{shown}-{colour_by}", on_select="rerun",
                        selection_mode=("points", "box", "lasso"))
regions = selection.regions_from_event(event) if dense else []
if regions:
    rows = selection.rows_in_regions(coords, regions)
else:
    rows = selection.rows_from_event(event)
if len(rows) == 0:
    st.stop()
rows, flagged = selection.summarise_selection(result, rows)
st.subheader(f"{len(rows):,} selected examples · {flagged:,} flagged")
counts = table.iloc[rows]["given_name"].value_counts()
st.caption("Given labels in the selection: "
           + ", ".join(f"{md(k)}: {v}" for k, v in counts.items()))
# an array, not a list: a lasso over a million rows is 8 MB in the session, not ~40 MB
st.session_state["map_selection"] = np.asarray(rows, dtype=np.int64)
picked = components.rows_table(dataset, result, rows, key=f"map-table-{len(rows)}",
                               decisions=components.decision_labels(dataset))
components.accept_suggestions(dataset, result, rows, what="the map selection",
                                     key="accept-map")
st.page_link("app_pages/suspects.py", label="Review the selection on the Suspects page",
             icon=":material/arrow_forward:", query_params={"from": "map"})
components.review_example(dataset, result, picked, key="map")
