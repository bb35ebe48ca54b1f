"""Multi-label overview (#28): how healthy are the tags, which classes miss or carry extra
tags, and the most common issues."""

import streamlit as st

from dashboard import labels, ml_figures, session
from dashboard.text import md

source, key, result = session.current_multilabel()
health = result.health

st.title("Tag health")
st.caption(f"{md(source.title)} · multi-label · flagged by: "
           f"{md(labels.FILTER_LABELS.get(result.estimate.filter_by, result.estimate.filter_by))}")

c = st.columns(6)
c[0].metric("Rows", f"{health['rows']:,}")
c[1].metric("Classes", f"{len(result.class_names)}")
c[2].metric("Tags per row", f"{result.labels.sum(axis=1).mean():.2f}",
            help="Mean number of tags given per row.")
c[3].metric("Tag health", f"{health['health_score']:.3f}",
            help="Share of the rows with no flagged tag (1 = no tag looks wrong).")
c[4].metric("Flagged rows", f"{health['flagged_rows']:,}",
            help="Rows with at least one tag that looks missing or extra; the Suspects page "
                 "ranks them.")
c[5].metric("Tags missing / extra", f"{health['tags_missing']:,} / {health['tags_extra']:,}",
            help="Flagged (row, class) cells: a tag not given that looks missing, a tag given "
                 "that looks extra.")
if health["rows_without_tags"]:
    st.caption(f"{health['rows_without_tags']:,} rows carry no tag at all.")

per_class = result.per_class()
st.subheader("Missing and extra tags per class")
st.caption("Estimated share of the rows truly of a class whose tag is missing, and of the rows "
           "not of the class that carry it anyway, with 95% Jeffreys intervals of the "
           "confident-joint counts (the counts' sampling uncertainty, not the model's error).")
st.plotly_chart(ml_figures.tag_rate_bars(per_class), key="ml_rates")
st.dataframe(per_class, hide_index=True, column_config={
    "class": st.column_config.TextColumn("class"),
    "rows_with_tag": st.column_config.NumberColumn("rows with tag", format="%d"),
    "flagged_missing": st.column_config.NumberColumn("flagged missing", format="%d"),
    "flagged_extra": st.column_config.NumberColumn("flagged extra", format="%d"),
    **{c: st.column_config.NumberColumn(c.replace("_", " "), format="percent")
       for c in per_class.columns if "rate" in c},
}, key="ml_per_class")

st.subheader("Most common tag issues")
common = result.common_issues()
if common.empty:
    st.success("No tag is flagged: every confident example agrees with its tags.")
else:
    st.dataframe(common, hide_index=True, column_config={
        "count": st.column_config.NumberColumn("rows", format="%d"),
        "share_of_rows": st.column_config.NumberColumn("share of rows", format="percent")},
        key="ml_common")
st.caption(f"Predicted probabilities: {md(result.probabilities_source)}.")
if result.model is not None:
    with st.expander("How the model was chosen"):
        st.text(result.model.describe())  # plain text, never markup
