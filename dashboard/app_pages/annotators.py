"""Annotators: how much the annotators agree, who is reliable, which rows they dispute."""

import numpy as np
import pandas as pd
import streamlit as st

from analysis.annotators.agreement import agreement_summary
from analysis.annotators.relabel import ratings_from
from analysis.review.store import ReviewDatabaseError
from dashboard import components, compute, figures, session
from dashboard.text import md

dataset, result = session.current()
names = [str(c) for c in dataset.class_names]

st.title("Annotators")
try:  # verdicts imported from a labelling tool (noiselens verdicts, the Review page)
    verdicts = compute.review_store(dataset).verdicts()
except ReviewDatabaseError as exc:
    st.error(f"**The review decisions cannot be read.** {md(exc)}")
    verdicts = pd.DataFrame(columns=["annotator"])
if verdicts["annotator"].nunique() >= 2:
    st.subheader("Labelling-tool verdicts")
    who = sorted(set(verdicts["annotator"]))
    tool = ratings_from(dataset.labels, verdicts, dataset.ids, names)[:, 1:]
    tool = tool[(tool >= 0).any(axis=1)]
    vs = agreement_summary(tool, names, annotator_names=who)
    v = st.columns(4)
    v[0].metric("Verdict annotators", f"{vs.num_annotators}")
    v[1].metric("Rows with verdicts", f"{vs.num_rows:,}")
    v[2].metric("Verdicts' Fleiss' κ", f"{vs.fleiss_kappa:.3f}")
    v[3].metric("Verdicts' Krippendorff's α", f"{vs.krippendorff_alpha:.3f}")
    st.dataframe(vs.annotators, hide_index=True)
if not dataset.annotator_columns:
    st.info("This dataset has no annotator columns. When several people label the same rows, "
            "give one column per annotator (named `annotator_…`, empty where that person did "
            "not label the row): this page then shows their agreement, a consensus label and "
            "each annotator's quality. Try the bundled `digits_annotators` sample.")
    st.stop()

ratings = compute.ratings_for(dataset)
summary = agreement_summary(ratings, names, annotator_names=dataset.annotator_columns)
consensus = compute.consensus_for(dataset)

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
    st.plotly_chart(figures.kappa_figure(summary.pairwise_kappa, dataset.annotator_columns,
                                         title="Pairwise Cohen's κ"), key="kappa")
with right:
    st.plotly_chart(figures.annotator_quality_figure(summary.annotators,
                                                     title="Annotator quality"), key="quality")

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
    st.caption(f"Consensus **{md(names[consensus.labels[picked]])}** with quality "
               f"{consensus.quality[picked]:.2f}.")
components.review_example(dataset, result, picked, key="consensus")
