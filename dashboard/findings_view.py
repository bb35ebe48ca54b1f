"""Findings in the app (#17): the slice selector, the Overview's intervals / errors remaining /
trend block, and the pieces of the "Noise by slice" page.

The computation is :mod:`analysis.review.findings` and :mod:`analysis.review.history`; this module
caches it per analysis (the process cache of ``dashboard.compute`` keeps each ``Analysis``
object, so it is the key) and draws it. The figure functions are plain (no streamlit) and tested
alone.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from analysis.review import findings, history
from dashboard import compute, session
from dashboard.text import md, plot

#: Session key and URL parameter of the chosen slice column.
SLICE_KEY = "slice_col"
_NONE = "(none)"

def _memo(result, name: str, make):
    """``make()`` once per analysis object and name (:func:`dashboard.compute.derived`)."""
    return compute.derived(result, ("findings", name), make)


def intervals(result) -> findings.ClassIntervals:
    return _memo(result, "intervals", lambda: findings.class_intervals(result))


def slices(dataset, result, column: str) -> findings.Slices:
    return _memo(result, f"slices:{column}", lambda: findings.slice_noise(
        result, findings.slice_values(dataset, column), column=column))


def _decisions(dataset) -> pd.DataFrame:
    return compute.review_store(dataset).decisions()


# --------------------------------------------------------------------------- sidebar


def slice_selector(dataset) -> str | None:
    """Sidebar: the column to break the noise down by (URL ``slice=``). The first candidate
    (e.g. ``vendor``) is chosen by default; ``(none)`` turns it off."""
    candidates = compute.per_dataset(dataset, "slice_columns",
                                     lambda: findings.slice_columns(dataset))
    if not candidates:
        st.session_state.pop("_slice_column", None)
        return None
    options = [_NONE, *candidates]
    wanted = st.query_params.get("slice", candidates[0])
    column = st.sidebar.selectbox(
        "Break noise down by", options,
        index=options.index(wanted) if wanted in options else 1,
        format_func=str, key=f"{SLICE_KEY}:{dataset.fingerprint[:12]}",
        help="A column that says where a row comes from (vendor, source, annotator, batch): "
             "the Noise by slice page shows the noise rate of each value.")
    session.set_query("slice", column, candidates[0])
    chosen = None if column == _NONE else column
    st.session_state["_slice_column"] = chosen
    return chosen


def current_slice_column() -> str | None:
    return st.session_state.get("_slice_column")


# --------------------------------------------------------------------------- figures


def slice_figure(table: pd.DataFrame, column: str) -> go.Figure:
    """"Where the wrong labels come from": noise rate per slice with its 95% interval,
    noisiest on top (plain function: no streamlit)."""
    t = table.iloc[::-1]
    fig = go.Figure(go.Bar(
        x=100 * t["noise_rate"], y=[plot(s) for s in t["slice"]], orientation="h",
        marker_color="#d6336c",
        error_x={"type": "data", "symmetric": False,
                 "array": 100 * (t["high"] - t["noise_rate"]),
                 "arrayminus": 100 * (t["noise_rate"] - t["low"])},
        customdata=t[["rows", "wrong"]].to_numpy(),
        hovertemplate="%{y}: %{x:.1f}% wrong (est.)<br>%{customdata[0]:,} rows, "
                      "~%{customdata[1]:.0f} wrong<extra></extra>",
    ))
    fig.update_layout(
        title=f"Where the wrong labels come from: by {plot(column)}",
        xaxis_title="labels estimated wrong (%), 95% interval", yaxis_title=None,
        height=max(240, 60 + 34 * len(t)), margin={"l": 10, "r": 10, "t": 50, "b": 40},
    )
    return fig


def trend_figure(frame: pd.DataFrame) -> go.Figure:
    """Estimated wrong labels per recorded analysis, with its interval where recorded."""
    fig = go.Figure(go.Scatter(
        x=frame["time"], y=frame["estimated_wrong"], mode="lines+markers",
        marker_color="#d6336c", text=[f"version {v}" for v in frame["version"]],
        hovertemplate="%{x|%d %b %Y %H:%M}: %{y:,} wrong (est.), %{text}<extra></extra>",
    ))
    if {"wrong_low", "wrong_high"} <= set(frame.columns):
        fig.update_traces(error_y={"type": "data", "symmetric": False,
                                   "array": frame["wrong_high"] - frame["estimated_wrong"],
                                   "arrayminus": frame["estimated_wrong"] - frame["wrong_low"]})
    fig.update_layout(title="Estimated wrong labels, analysis by analysis", height=260,
                      margin={"l": 10, "r": 10, "t": 50, "b": 30}, yaxis_title="wrong labels")
    return fig


# --------------------------------------------------------------------------- overview


def overview_section(dataset, result) -> None:
    """The Overview's findings: the 95% interval of the wrong labels, the review's evidence
    ("Reviewed 120 of 284 flagged · ..."), the noisiest slice and the trend across versions."""
    ci = intervals(result)
    st.caption(f"Estimated wrong labels: **{result.estimated_wrong:,}**, 95% interval "
               f"{ci.wrong.low:,.0f}–{ci.wrong.high:,.0f} ({ci.method}).")
    with st.expander("Noise rate per class with its 95% interval"):
        st.dataframe(ci.table.drop(columns=["class"]), hide_index=True, column_config={
            "noise_rate": st.column_config.NumberColumn("noise rate", format="percent"),
            "noise_low": st.column_config.NumberColumn("low", format="percent"),
            "noise_high": st.column_config.NumberColumn("high", format="percent"),
            "wrong": st.column_config.NumberColumn("wrong (est.)", format="%.1f"),
            "wrong_low": st.column_config.NumberColumn("low", format="%.1f"),
            "wrong_high": st.column_config.NumberColumn("high", format="%.1f"),
        })
    decisions = _decisions(dataset)
    if len(decisions):
        remaining = findings.errors_remaining(result, decisions)
        st.info(f"**{md(remaining.line())}.** Of these, about "
                f"{remaining.remaining_flagged.estimate:,.0f} are among the flagged rows not yet "
                f"reviewed, {remaining.remaining_unflagged.estimate:,.0f} among rows nobody "
                "flagged.", icon=":material/fact_check:")
    column = current_slice_column()
    if column:
        t = slices(dataset, result, column).table
        if len(t) > 1:
            cols = st.columns([6, 1.3], vertical_alignment="center")
            cols[0].markdown(noisiest_slice_line(t, column))
            cols[1].page_link("app_pages/slices.py", label="By slice",
                              icon=":material/arrow_forward:")
    key = compute.review_store(dataset).key
    # recorded once per analysis; read again (and drawn again) only when the file changed
    compute.derived(result, ("history_record", key), lambda: history.record_analysis(
        dataset, result, key=key, wrong_interval=ci.wrong))
    try:
        stat = history.history_path(key).stat()
        stamp = (stat.st_size, stat.st_mtime_ns)
    except OSError:
        stamp = None
    hist, frame = compute.derived(result, ("history", key, stamp), lambda: (
        (h := history.read(key)), h.frame()))
    if frame["version"].nunique() > 1 or len(frame) > 1:
        with st.expander(f"History: {len(frame)} analyses of this dataset, "
                         f"{frame['version'].nunique()} version(s)", expanded=False):
            st.plotly_chart(compute.derived(result, ("history_trend", key, stamp),
                                            lambda: trend_figure(frame)), key="history_trend")
            ch = hist.changes()
            if ch is not None:
                moved = ", ".join(f"{md(c['class'])} {100 * c['before']:.1f}% → "
                                  f"{100 * c['now']:.1f}%" for c in ch["classes"][:3]
                                  if round(100 * c["before"], 1) != round(100 * c["now"], 1))
                st.markdown(f"Since the previous version: {ch['rows']:+,} rows, label health "
                            f"{ch['health']:+.1f} points, estimated wrong labels "
                            f"{ch['estimated_wrong']:+,}" + (f"; biggest moves: {moved}"
                                                             if moved else "") + ".")


def noisiest_slice_line(table: pd.DataFrame, column: str) -> str:
    """The Overview's sentence on the noisiest slice (Markdown, dataset text escaped): its
    rate, interval, and how many times the average rate of the *other* slices it is."""
    first, rest = table.iloc[0], table.iloc[1:]
    ratio = first["noise_rate"] / max(rest["noise_rate"].mean(), 1e-9)
    return (f"**{md(first['slice'])}** ({md(column)}) has the noisiest labels: "
            f"{100 * first['noise_rate']:.1f}% estimated wrong "
            f"({100 * first['low']:.1f}–{100 * first['high']:.1f}%), {ratio:.1f}× the "
            "others' average.")


def report_inputs(dataset, result) -> dict:
    """What the report needs beyond the analysis, as the Overview shows it: the chosen slice
    column's noise, the review's evidence and the history (for ``build_report(**...)``)."""
    from analysis.review import history

    column = current_slice_column()
    decisions = _decisions(dataset)
    store = compute.review_store(dataset)
    return {
        "intervals": intervals(result),
        "slices": slices(dataset, result, column) if column else None,
        "remaining": findings.errors_remaining(result, decisions) if len(decisions) else None,
        "history": history.read(store.key),
    }
