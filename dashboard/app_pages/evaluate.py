"""Evaluate: how well the detection finds the real errors, and whether cleaning pays."""

import numpy as np
import pandas as pd
import streamlit as st

from analysis.review import evaluate
from dashboard import compute, figures, labels, session

#: The retrain check runs on a stratified sample of at most this many rows.
RETRAIN_ROWS = 50_000
#: Points per precision-recall curve drawn (of up to one per audited row).
CURVE_POINTS = 2_000

dataset, result = session.current()

st.title("Evaluate")
truth = dataset.true_labels
if truth is None or not evaluate.audited(truth).any():
    st.info("This page needs known true labels: a `true_label` column (empty where unknown) "
            "for an audited subset, as the bundled samples have. Add one to your file and "
            "reload.")
    st.stop()
known = evaluate.audited(truth)  # a true class, or "wrong, class unknown"
wrong = known & (truth != result.labels)
st.caption(f"True labels are known for {int(known.sum()):,} of {len(dataset):,} rows; "
           f"{int(wrong.sum()):,} of those labels are actually wrong "
           f"({wrong.sum() / max(known.sum(), 1):.1%}).")

design = compute.derived(result, "audit_design", lambda: evaluate.audit_design(result))
if design is not None:  # one definition, the same sentence as the Overview and the report
    (st.warning if design.follows_the_detector else st.info)(
        evaluate.audit_line(design)  # our words and numbers only: no dataset text
        + (" The table below counts audited rows only: read its recall as an upper bound."
           if design.follows_the_detector else ""), icon=":material/policy:")
    c = st.columns(3)
    c[0].metric("Precision (audited flagged rows)",
                f"{design.precision:.0%}" if np.isfinite(design.precision) else "—")
    c[1].metric("Recall (estimated)",
                f"{design.recall:.0%}" if np.isfinite(design.recall) else "not estimable")
    c[2].metric("Audited rows flagged", f"{design.audited_flagged:,} of {int(known.sum()):,}")

st.subheader("Each filter against the truth")
table = compute.derived(result, "detection_table", lambda: evaluate.detection_table(result))
table = table.assign(method=table["filter"].map(labels.FILTER_LABELS))
table = table[["filter", "method", *table.columns[1:-1]]]
st.dataframe(
    table.drop(columns=["filter"]), hide_index=True,
    column_config={
        "precision": st.column_config.ProgressColumn(format="percent", min_value=0,
                                                     max_value=1),
        "recall": st.column_config.ProgressColumn(format="percent", min_value=0, max_value=1),
        "f1": st.column_config.NumberColumn("F1", format="%.3f"),
        "suggestion_right": st.column_config.NumberColumn(
            "suggestion = truth", format="percent",
            help="Of the truly wrong rows found, how often the suggested label is the true one"),
        "true_errors": st.column_config.NumberColumn("truly wrong among flagged"),
    })

left, right = st.columns([1.3, 1])
with left:
    # scores of the audited rows only, curves thinned to CURVE_POINTS (1M rows stay fast)
    scores = compute.derived(result, "known_scores", lambda: evaluate.known_scores(result))
    curves = compute.derived(result, ("ranking_curves", CURVE_POINTS), lambda: {
        m: evaluate.thin_curve(evaluate.precision_recall(sc, wrong[known]), CURVE_POINTS)
        for m, sc in scores.items()})
    st.plotly_chart(compute.derived(result, "pr_curves", lambda: figures.pr_curves_figure(
        curves, title="Precision-recall of each ranking")), key="pr_curves")
    ap = compute.derived(result, "average_precision", lambda: {
        m: evaluate.average_precision(sc, wrong[known]) for m, sc in scores.items()})
    st.caption("Average precision: " + ", ".join(
        f"{labels.RANK_LABELS[m].lower()} **{v:.3f}**" for m, v in ap.items()))
with right:
    flagged = result.is_issue & known
    cm = pd.DataFrame(
        [[int((flagged & wrong).sum()), int((flagged & ~wrong).sum())],
         [int((~result.is_issue & wrong).sum()), int((~result.is_issue & known & ~wrong).sum())]],
        index=["flagged", "not flagged"], columns=["label truly wrong", "label right"])
    st.markdown("**What was flagged** (current filter)")
    st.dataframe(cm)

st.subheader("Does cleaning pay? Retrain on the cleaned split")
st.caption("A held-out 30% of the rows with known truth is set aside; a logistic regression is "
           "trained on the other rows once with the original labels and once with the cleaned "
           "ones, and both are scored against the true labels of the held-out rows. Intervals: "
           "95% bootstrap over the held-out rows (paired for the gain); seeded. The model "
           f"learns from {compute.feature_space(dataset)}.")
if len(dataset) > RETRAIN_ROWS:
    st.caption(f"The data set has {len(dataset):,} rows: the check runs on a stratified sample "
               f"of {RETRAIN_ROWS:,} (by true class; seeded), so it takes seconds, not "
               "minutes.")
source = st.radio("Cleaned labels from", ["suggestions", "decisions"], horizontal=True,
                  key="retrain_source",
                  format_func={"suggestions": "the detector's suggestions (flagged rows "
                               "relabelled)", "decisions": "my review decisions"}.get)
if st.button("Run the retrain check", type="primary", key="retrain_go"):
    from analysis.export.split import apply_decisions, suggested_decisions

    decisions = (suggested_decisions(result) if source == "suggestions"
                 else compute.review_store(dataset).decisions())
    cleaned = apply_decisions(dataset, decisions, base_labels=result.labels).labels
    with st.spinner("Training both models…"):
        st.session_state["retrain"] = (dataset.fingerprint, source, evaluate.retrain_check(
            compute.features_for(dataset), result.labels, cleaned, truth, max_rows=RETRAIN_ROWS))
saved = st.session_state.get("retrain")
if saved and saved[0] == dataset.fingerprint and saved[1] == source:
    res = saved[2]
    a, b = st.columns([1, 1.2])
    with a:
        st.plotly_chart(figures.retrain_figure(res, title="Held-out accuracy"), key="retrain")
    with b:
        g = res.gain
        verdict = ("the interval excludes 0: cleaning pays." if g[1] > 0
                   else "the interval includes 0: no clear gain.")
        st.metric("Accuracy gain from cleaning", f"{100 * g[0]:+.1f} points",
                  help=f"95% interval {100 * g[1]:+.1f} to {100 * g[2]:+.1f} points")
        st.markdown(
            f"- original labels: **{100 * res.original[0]:.1f}%** "
            f"({100 * res.original[1]:.1f}–{100 * res.original[2]:.1f})\n"
            f"- cleaned labels: **{100 * res.cleaned[0]:.1f}%** "
            f"({100 * res.cleaned[1]:.1f}–{100 * res.cleaned[2]:.1f})\n"
            f"- gain: **{100 * g[0]:+.1f}** points ({100 * g[1]:+.1f} to {100 * g[2]:+.1f}); "
            f"{verdict}\n"
            f"- {res.test_rows:,} held-out rows; trained on {res.train_rows_original:,} rows "
            f"(original) and {res.train_rows_cleaned:,} rows (cleaned)"
            + (f"; a stratified sample of {res.sample_rows:,} of the {res.total_rows:,} rows."
               if res.sample_rows < res.total_rows else ".")
        )
