"""Why flagged: every signal side by side (issue #16).

Streamlit components (the Overview's issue summary, the Suspects' issue-type filter, the
"Why flagged" panel of an example) and the report's section, all reading
:attr:`analysis.pipeline.Analysis.signals` (computed once per analysis; the neighbour search
is cached on disk). Dataset text goes through :mod:`dashboard.text`.

``streamlit`` and :mod:`dashboard.compute` (which imports streamlit) are imported inside the
functions that draw: :func:`report_section` runs without a server, in the report the CLI
writes (docs/architecture.md, Layers).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.pipeline import CHOSEN
from analysis.signals.compute import (
    ISSUE_NAMES,
    ISSUE_TYPES,
    class_percentiles,
    class_summary,
    why_sentences,
)
from dashboard import labels
from dashboard.text import html_text, md, visible

_SPACE = {"features": "the standardised features", "embeddings": "the embeddings",
          "text": "the text (TF-IDF)", "probabilities": "the predicted probabilities"}


#: Up to this many rows the signals are computed in the page run (a few seconds at most);
#: above, in a background thread, and the page fills in when they are ready.
SYNC_MAX_ROWS = 20_000


def _signals(result):
    """The signals of ``result``, or ``None`` while they are computed in the background."""
    import streamlit as st

    from dashboard import compute

    if "signals" in result.__dict__:
        return result.signals
    if len(result.labels) <= SYNC_MAX_ROWS:
        with st.spinner("Computing the neighbour signals (near-duplicates, outliers, "
                        "neighbours)…"):
            return result.signals
    job = compute.signals_job(result)
    if job.done:
        if job.error:
            raise ValueError(job.error)
        return result.signals
    return None


def _pending(result, where: str) -> None:
    """Say that the signals are being computed; rerun the page once they are ready."""
    import streamlit as st

    from dashboard import compute

    @st.fragment(run_every=1.0)
    def _wait():
        job = compute.signals_job(result)
        if job.done:
            st.rerun()
        st.caption(f"The neighbour signals of these {len(result.labels):,} rows are being "
                   f"computed in the background ({job.message}); {where} fills in by itself.")

    _wait()


def detector_name(result) -> str:
    """The label detector in use, in words."""
    return labels.method_label(result)


def detector_reason(result) -> str:
    """Why the label detector in use is the one in use, in words (the Overview's caption)."""
    if getattr(result, "detector", "confident_learning") != "confident_learning":
        return ("It found label errors better than confident learning alone on every data set "
                "of the benchmark (docs/benchmarks.md, Why flagged: the combined detector "
                "measured).")
    if result.dataset.pred_probs is not None:
        return ("The dataset brings its own probabilities: confident learning alone, there is "
                "no model to fit again.")
    combined = next(iter(labels.DETECTOR_LABELS.values()))
    return (f"The first look takes one model fit; *{combined}* in \"Flag rows by\" found label "
            "errors better on the benchmark and takes about 3x the fitting time (once: cached).")


def detector_result(dataset, result, choice: str):
    """The analysis of the sidebar's "Flag rows by" ``choice``: ``result`` itself for a
    confident-learning filter; for a detector of :data:`dashboard.labels.DETECTOR_LABELS`,
    :meth:`analysis.pipeline.Analysis.relearned` of ``result`` — fitted with a progress bar
    the first time, then read from the on-disk cache (keyed by the fingerprint and the
    cleaned labels) and kept with the analysis (``compute.derived``). A dataset with its own
    probabilities cannot be refitted: a warning, and confident learning."""
    import streamlit as st

    if choice not in labels.DETECTOR_LABELS:
        return result
    if dataset.pred_probs is not None:
        st.warning("The combined detector fits the model again, but this dataset brings its "
                   "own predicted probabilities: flagging by confident learning (prune by "
                   "noise rate) instead.", icon=":material/info:")
        return result
    from dashboard import compute

    try:  # fitted once per analysis (a failure is not kept: the next run says it again)
        return compute.derived(result, "combined_detector", lambda: _refit(result))
    except ValueError as exc:
        st.warning(f"The combined detector could not run: {md(exc)} Flagging by confident "
                   "learning instead.")
        return result


def _refit(result):
    """:meth:`analysis.pipeline.Analysis.relearned` with a progress bar on the page."""
    import streamlit as st

    slot = st.empty()
    try:
        with slot.status("Combined detector: fitting the model again on the cleaned labels…",
                         expanded=True):
            st.caption("The flagged rows take their suggested label and the model is fitted "
                       "again, out-of-fold; its probabilities judge the given labels. Cached: "
                       "this happens once per dataset.")
            bar = st.progress(0.0)

            def progress(fraction: float, message: str) -> None:
                bar.progress(float(min(max(fraction, 0.0), 1.0)), text=message)

            combined = result.relearned(progress=progress)
            _ = combined.is_issue, combined.scores, combined.ranked, combined.estimate
    finally:
        slot.empty()
    return combined


def issue_summary(dataset, result) -> None:
    """Overview: rows per issue type, the worst classes, the dataset-level checks."""
    import streamlit as st

    st.subheader("Issues by type")
    try:
        sig = _signals(result)
        if sig is None:
            _pending(result, "this section")
            return
        checks = result.checks
    except ValueError as exc:
        st.warning(f"The neighbour signals could not be computed: {md(exc)}")
        return
    n = max(len(dataset), 1)
    counts = sig.counts()
    cols = st.columns(len(ISSUE_TYPES))
    helps = {
        "label": f"Flagged by the label detector in use: {detector_name(result)}.",
        "near_duplicate": "Rows (almost) identical to another row in "
                          f"{_SPACE[sig.space]}; conflicting when the labels differ.",
        "outlier": "Rows far from every other row (or, with probabilities only, rows the "
                   "model spreads evenly over the classes).",
        "neighbour_disagreement": "Rows whose nearest neighbours mostly carry another label.",
    }
    for col, t in zip(cols, ISSUE_TYPES, strict=True):
        col.metric(ISSUE_NAMES[t].capitalize(), f"{counts[t]:,}",
                   f"{counts[t] / n:.1%} of rows", delta_color="off", delta_arrow="off",
                   help=helps[t])
    notes = [f"Label issues by **{md(detector_name(result))}**.", detector_reason(result),
             f"Neighbours searched in {_SPACE[sig.space]} (k = {sig.k})."]
    if sig.note:
        notes.append(md(sig.note))
    if checks["conflicting_pairs"]:
        notes.append(f"**{checks['conflicting_pairs']:,}** near-duplicate pair(s) carry "
                     "different labels: one label of each is almost surely wrong.")
    st.caption(" ".join(notes))
    imbalance = checks["class_imbalance"]
    if imbalance["issue"]:
        st.warning("Class imbalance: " + ", ".join(f"**{md(c)}**" for c in
                                                    imbalance["rare_classes"])
                   + f" hold(s) under 10% of an even share of rows (largest / smallest class "
                     f"{imbalance['ratio']:g}).")
    for c in checks["mostly_flagged_classes"]:
        st.warning(f"Class **{md(c['class'])}**: {c['flagged']:,} of its {c['rows']:,} rows "
                   f"({c['share']:.0%}) are flagged — check the class itself (its guideline, "
                   "its source), not only the rows.")
    splits = checks.get("splits")
    if splits:
        msg = (f"Split column **{md(splits['column'])}**: {splits['leaking_pairs']:,} "
               f"near-duplicate pair(s) across splits (leakage), "
               f"{splits['conflicting_pairs']:,} of them with different labels.")
        (st.warning if splits["leaking_pairs"] else st.caption)(msg)
    worst = class_summary(result.labels, dataset.class_names, sig).head(5)
    frame = pd.DataFrame({"class": [visible(str(c)) for c in worst["class_name"]],
                          "rows": worst["rows"],
                          **{ISSUE_NAMES[t]: worst[f"{t}_share"] for t in ISSUE_TYPES},
                          "any issue": worst["any_share"]})
    st.caption("Worst classes (share of their rows with each issue):")
    st.dataframe(frame, hide_index=True, key="why_worst_classes", column_config={
        c: st.column_config.NumberColumn(format="percent")
        for c in [*(ISSUE_NAMES[t] for t in ISSUE_TYPES), "any issue"]})


def filter_rows(result, rows: np.ndarray, types) -> np.ndarray:
    """The rows (order kept) flagged by any of the issue ``types`` (all rows when empty)."""
    if not types:
        return rows
    table = result.signals.table
    hit = np.zeros(len(table), dtype=bool)
    for t in types:
        hit |= table[f"is_{t}_issue"].to_numpy()
    return rows[hit[rows]]


def issue_filter(result, rows: np.ndarray, key: str = "suspect_issue_types") -> np.ndarray:
    """Suspects: a multiselect of issue types; returns the rows flagged by any chosen type."""
    import streamlit as st

    types = st.multiselect(
        "Issue type", list(ISSUE_TYPES), format_func=lambda t: ISSUE_NAMES[t], key=key,
        placeholder="any issue type",
        help="Keep the rows flagged by any of these signals (turn 'Flagged only' off to see "
             "rows the label detector does not flag).")
    if not types:
        return rows
    try:
        if _signals(result) is None:
            _pending(result, "the filter")
            return rows
    except ValueError as exc:
        st.warning(f"The neighbour signals could not be computed: {md(exc)}")
        return rows
    return filter_rows(result, rows, types)


def signal_rows(dataset, result, row: int) -> pd.DataFrame:
    """The panel's table: one line per signal with its flag, score and percentile."""
    sig = result.signals
    pct = class_percentiles(sig, result.labels, row)
    t = sig.table.iloc[row]
    return pd.DataFrame({
        "signal": [ISSUE_NAMES[ty] for ty in ISSUE_TYPES],
        "flagged": [bool(t[f"is_{ty}_issue"]) for ty in ISSUE_TYPES],
        "score": [float(t[f"{ty}_score"]) for ty in ISSUE_TYPES],
        "worse than (own class)": [pct[ty] for ty in ISSUE_TYPES],
    })


def why_panel(dataset, result, row: int) -> None:
    """The "Why flagged" panel of one example: every signal, its value, its percentile among
    the rows of the same class, and a sentence per signal."""
    import streamlit as st

    with st.container(border=True, key=f"why-panel-{row}"):
        st.markdown("**Why flagged** — every signal side by side (scores: 0 = worst, 1 = "
                    "fine; *worse than* = share of its class scoring better)")
        try:
            sig = _signals(result)
        except ValueError as exc:
            st.warning(f"The neighbour signals could not be computed: {md(exc)}")
            return
        if sig is None:
            _pending(result, "this panel")
            return
        from dashboard import compute

        sentences = compute.derived(result, ("why_sentences", row), lambda: why_sentences(
            sig, row, labels=result.labels, class_names=dataset.class_names, ids=dataset.ids,
            pred_probs=result.pred_probs, detector=detector_name(result)))
        st.markdown("\n".join(f"- {md(s)}" for s in sentences))
        table = compute.derived(result, ("signal_rows", row),
                                lambda: signal_rows(dataset, result, row))
        st.dataframe(table, hide_index=True,
                     key=f"why-table-{row}", column_config={
                         "score": st.column_config.NumberColumn(format="%.3f"),
                         "worse than (own class)": st.column_config.NumberColumn(
                             format="percent")})


def report_section(dataset, result) -> str:
    """The report's "Issues by type" section (HTML, dataset text escaped)."""
    try:
        sig = result.signals
        checks = result.checks
    except ValueError as exc:
        return f"<h2>Issues by type</h2><p>Not computed: {html_text(exc)}</p>"
    n = max(len(dataset), 1)
    counts = sig.counts()
    rows = "".join(f"<tr><td>{html_text(ISSUE_NAMES[t])}</td><td>{counts[t]:,}</td>"
                   f"<td>{counts[t] / n:.1%}</td></tr>" for t in ISSUE_TYPES)
    worst = class_summary(result.labels, dataset.class_names, sig).head(5)
    worst_rows = "".join(
        f"<tr><td>{html_text(r.class_name)}</td><td>{int(r.rows):,}</td>"
        f"<td>{r.any_share:.0%}</td></tr>" for r in worst.itertuples())
    reason = getattr(result, "detector_reason", "")
    notes = [f"Label issues by {html_text(detector_name(result))}"
             + (f": {html_text(reason)}." if reason and reason != CHOSEN else "."),
             f"Neighbours searched in {html_text(_SPACE[sig.space])} (k = {sig.k})."]
    if sig.note:
        notes.append(html_text(sig.note))
    if checks["conflicting_pairs"]:
        notes.append(f"{checks['conflicting_pairs']:,} near-duplicate pair(s) carry different "
                     "labels.")
    if checks["class_imbalance"]["issue"]:
        notes.append("Rare classes: " + ", ".join(html_text(c) for c in
                                                  checks["class_imbalance"]["rare_classes"])
                     + ".")
    for c in checks["mostly_flagged_classes"]:
        notes.append(f"Class {html_text(c['class'])}: {c['share']:.0%} of its rows flagged.")
    splits = checks.get("splits")
    if splits:
        notes.append(f"Split column {html_text(splits['column'])}: "
                     f"{splits['leaking_pairs']:,} near-duplicate pair(s) across splits, "
                     f"{splits['conflicting_pairs']:,} with different labels.")
    return (
        '<h2>Issues by type</h2><table class="issues"><tr><th>issue</th><th>rows</th>'
        f"<th>share</th></tr>{rows}</table>"
        f"<p>{' '.join(notes)}</p>"
        '<table class="issues"><tr><th>worst classes</th><th>rows</th><th>any issue</th></tr>'
        f"{worst_rows}</table>"
    )
