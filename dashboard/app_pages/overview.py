"""Overview: how healthy are the labels, which classes are noisy, which pairs are confused."""

import streamlit as st

from analysis.core.classes import describe_pair
from analysis.review.evaluate import audit_design, audit_line
from dashboard import compute, figures, findings_view, labels, session, why
from dashboard.text import md

dataset, result = session.current()
source = session.current_source()
est = result.estimate
n = len(dataset)

st.title("Label health")
st.caption(f"{md(source.title)} · flagged by: {labels.method_label(result)} · ranking: "
           f"{labels.RANK_LABELS[result.rank_by]}")

c = st.columns(5)
c[0].metric("Rows", f"{n:,}")
c[1].metric("Classes", f"{dataset.num_classes}")
c[2].metric("Label health", f"{result.health:.1f} / 100",
            help="Estimated percentage of correct labels: 100 x trace of the estimated joint "
                 "distribution of given and true labels.")
c[3].metric("Estimated wrong labels", f"{result.estimated_wrong:,}",
            help="N x (1 - trace(joint)): how many labels are probably wrong in total.")
c[4].metric("Flagged for review", f"{result.num_issues:,}",
            help="Rows the chosen filter flags; the Suspects page ranks them.")

design = compute.derived(result, "audit_design", lambda: audit_design(result))
if design is not None:  # the same sentence as on Evaluate and in the report (#25)
    st.info(audit_line(design))  # our words and numbers only: no dataset text

findings_view.overview_section(dataset, result)  # intervals, review, slice, trend (#17)

left, right = st.columns(2)
with left:
    st.plotly_chart(compute.derived(result, "noise_rate_bars", lambda: figures.noise_rate_bars(
        result.per_class, title="Estimated noise rate per given class")), key="noise_rates")
with right:
    st.plotly_chart(compute.derived(
        result, "class_distribution", lambda: figures.class_distribution(
            result.per_class, title="Given vs estimated true class sizes")), key="distribution")

why.issue_summary(dataset, result)  # every issue type (dashboard/why.py)

st.subheader("Most confused class pairs")
pairs = compute.derived(result, "pairs", result.pairs)
if pairs.empty:
    st.success("No class pair is confused: every confident example agrees with its label.")
else:
    st.caption("*Systematic*: more than 10% of a true class carries the other label — the "
               "annotators confuse the two classes, so fix the guideline. *Isolated*: a few "
               "wrong rows — fix the rows.")
    for _, row in pairs.head(8).iterrows():
        badge = (":red-badge[systematic]" if row["verdict"] == "systematic"
                 else ":gray-badge[isolated]")
        cols = st.columns([6, 1.3], vertical_alignment="center")
        cols[0].markdown(f"{badge} **{md(row['given_name'])} → really {md(row['true_name'])}**"
                         f" — {md(describe_pair(row))}")
        cols[1].page_link("app_pages/noise_matrix.py", label="Show rows",
                          icon=":material/arrow_forward:",
                          query_params={"cell": f"{int(row['given'])}-{int(row['true'])}"})
    with st.expander("All pairs as a table"):
        st.dataframe(
            pairs.drop(columns=["given", "true"]).rename(columns={
                "given_name": "given", "true_name": "estimated true",
                "count": "rows (est.)", "p_given_given_true": "P(given | true)",
                "share_of_given": "P(true | given)"}),
            hide_index=True,
            column_config={
                "P(given | true)": st.column_config.NumberColumn(format="percent"),
                "P(true | given)": st.column_config.NumberColumn(format="percent"),
            },
        )

with st.expander("Per-class table"):
    st.dataframe(result.per_class.drop(columns=["class"]), hide_index=True, column_config={
        "noise_rate": st.column_config.NumberColumn("noise rate", format="percent"),
        "mean_quality": st.column_config.NumberColumn("mean quality", format="%.3f"),
        "estimated_true": st.column_config.NumberColumn("estimated true", format="%d"),
    })
st.caption(f"Predicted probabilities: {result.probabilities_source}.")
if getattr(result, "model", None):
    with st.expander("How the model was chosen"):
        # every decision of the automatic model (#26); plain text, never markup
        st.text("\n".join(result.model.get("summary", [])))
