"""Annotators: how much the annotators agree, who is reliable, which rows they dispute."""

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from analysis.annotators import agreement_summary
from dashboard import components, figures, state

dataset, result = state.current()
names = [str(c) for c in dataset.class_names]

st.title("Annotators")
if not dataset.annotator_columns:
    st.info("This dataset has no annotator columns. When several people label the same rows, "
            "give one column per annotator (named `annotator_…`, empty where that person did "
            "not label the row): this page then shows their agreement, a consensus label and "
            "each annotator's quality. Try the bundled `digits_annotators` sample.")
    st.stop()

ratings = state.ratings_for(dataset)
summary = agreement_summary(ratings, names, annotator_names=dataset.annotator_columns)
consensus = state.consensus_for(dataset, None)

c = st.columns(5)
c[0].metric("Annotators", f"{summary.num_annotators}")
c[1].metric("Ratings per row", f"{summary.ratings_per_row:.1f}")
c[2].metric("Fleiss' κ", f"{summary.fleiss_kappa:.3f}",
            help="Agreement beyond chance among all annotators (1 = perfect, 0 = chance).")
c[3].metric("Krippendorff's α", f"{summary.krippendorff_alpha:.3f}",
            help="Nominal alpha; missing ratings allowed. >= 0.8 is usually called reliable.")
c[4].metric("Unanimous rows", f"{summary.unanimous_share:.0%}")

left, right = st.columns(2)
with left:
    kappa = summary.pairwise_kappa
    labels = list(dataset.annotator_columns)
    fig = go.Figure(go.Heatmap(
        z=kappa, x=labels, y=labels, colorscale=[[0, "#f8f9fa"], [1, figures.ACCENT]],
        zmin=0, zmax=1, text=np.vectorize(lambda v: "" if np.isnan(v) else f"{v:.2f}")(kappa),
        texttemplate="%{text}", hovertemplate="%{y} vs %{x}: κ = %{z:.3f}<extra></extra>",
        colorbar={"title": {"text": "κ"}, "thickness": 12}))
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(title={"text": "Pairwise Cohen's κ", "x": 0}, height=380,
                      margin={"l": 10, "r": 10, "t": 40, "b": 10}, template="plotly_white")
    st.plotly_chart(fig, key="kappa")
with right:
    table = summary.annotators.sort_values("weighted_accuracy")
    bars = go.Figure(go.Bar(
        x=table["weighted_accuracy"], y=table["annotator"], orientation="h",
        marker_color=figures.ACCENT, text=[f"{v:.0%}" for v in table["weighted_accuracy"]],
        textposition="outside", cliponaxis=False,
        customdata=np.stack([table["ratings"], table["accuracy"]], axis=1),
        hovertemplate="%{y}: %{x:.1%} agree with the weighted consensus<br>%{customdata[0]} "
                      "rows rated; %{customdata[1]:.1%} agree with the majority<extra></extra>"))
    bars.update_xaxes(range=[0, 1.12], tickformat=".0%", title="estimated accuracy")
    bars.update_layout(title={"text": "Annotator quality", "x": 0}, height=380,
                       margin={"l": 10, "r": 10, "t": 40, "b": 10}, template="plotly_white")
    st.plotly_chart(bars, key="quality")

with st.expander("Per-annotator table"):
    st.dataframe(summary.annotators, hide_index=True, column_config={
        "accuracy": st.column_config.NumberColumn("agrees with majority", format="percent"),
        "weighted_accuracy": st.column_config.NumberColumn("estimated accuracy",
                                                           format="percent"),
        "mean_kappa": st.column_config.NumberColumn("mean κ", format="%.3f"),
        "weight": st.column_config.NumberColumn(format="%.2f"),
    })

differs = (consensus.labels >= 0) & (consensus.labels != dataset.labels)
st.subheader("Consensus")
st.markdown(
    f"The quality-weighted vote (each annotator weighted by estimated accuracy) disagrees with "
    f"the label column on **{int(differs.sum()):,}** rows. Switch **Use the annotators' "
    "consensus as the label** in the sidebar to analyse it on every page.")
if differs.any():
    components.accept_consensus_button(dataset, np.flatnonzero(differs),
                                       [names[k] for k in consensus.labels[differs]])

st.subheader("Rows with the lowest consensus")
rated = consensus.num_ratings >= 2
order = np.flatnonzero(rated)[np.argsort(consensus.quality[rated], kind="stable")]
limit = st.slider("How many", 10, min(500, max(10, order.size)), min(50, max(10, order.size)),
                  key="low_consensus_n")
rows = order[:limit]
picked = components.rows_table(dataset, result, rows, key="consensus_table",
                               decisions=components.decision_labels(dataset))
if picked is not None:
    votes = ratings[picked]
    st.dataframe(pd.DataFrame({
        "annotator": dataset.annotator_columns,
        "label": [names[v] if v >= 0 else "—" for v in votes]}).T, hide_index=False)
    st.caption(f"Consensus **{names[consensus.labels[picked]]}** with quality "
               f"{consensus.quality[picked]:.2f}.")
    with st.container(border=True):
        if components.decision_bar(dataset, result, picked, key="consensus"):
            st.rerun()
    components.example_detail(dataset, result, picked)
