"""Plotly figures of the multi-label pages (#28): pure functions of the analysis' tables.

As in :mod:`dashboard.figures`, every class name passes through :func:`dashboard.text.plot`
before plotly sees it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dashboard.figures import ACCENT, BAR_MAX_CLASSES, GIVEN_COLOUR, class_ticks, styled
from dashboard.text import plot_all

#: The two rates drawn per class: (column prefix, legend name, colour).
RATES = (("missing_rate", "tag missing", ACCENT), ("extra_rate", "tag extra", GIVEN_COLOUR))


def _error(frame: pd.DataFrame, column: str) -> dict:
    """Asymmetric error bars (in %) from a rate's Jeffreys interval; 0 where undefined."""
    rate = frame[column].to_numpy(dtype=np.float64)
    low = frame[f"{column}_low"].to_numpy(dtype=np.float64)
    high = frame[f"{column}_high"].to_numpy(dtype=np.float64)
    plus = np.nan_to_num(np.clip(high - rate, 0, None)) * 100
    minus = np.nan_to_num(np.clip(rate - low, 0, None)) * 100
    return {"type": "data", "symmetric": False, "array": plus, "arrayminus": minus,
            "thickness": 1.2, "width": 4, "color": "#343a40"}


def tag_rate_bars(per_class: pd.DataFrame, *, title: str | None = None,
                  limit: int | None = None) -> go.Figure:
    """Horizontal grouped bars: per class, the estimated tag-missing and tag-extra rates (%)
    with their 95% Jeffreys intervals as error bars; the noisiest class on top.

    Parameters
    ----------
    per_class : DataFrame
        :meth:`analysis.multilabel_pipeline.MultilabelAnalysis.per_class`.
    title : str, optional
    limit : int, optional
        Classes drawn at most (default :data:`dashboard.figures.BAR_MAX_CLASSES`): the ones
        with the largest missing + extra rate; the axis title says so.

    Returns
    -------
    plotly Figure
        One bar trace per rate, the class name (escaped) on the y axis, the interval in the
        hover text.
    """
    limit = BAR_MAX_CLASSES if limit is None else limit
    order = np.argsort((per_class["missing_rate"].fillna(0) + per_class["extra_rate"].fillna(0))
                       .to_numpy(), kind="stable")
    frame = per_class.iloc[order]
    total = len(frame)
    if total > limit:
        frame = frame.iloc[-limit:]
    names = plot_all(frame["class"])
    fig = go.Figure()
    for column, legend, colour in RATES:
        fig.add_trace(go.Bar(
            x=frame[column].to_numpy(dtype=np.float64) * 100, y=names, orientation="h",
            name=legend, marker_color=colour, error_x=_error(frame, column),
            customdata=np.stack([frame[f"{column}_low"] * 100, frame[f"{column}_high"] * 100],
                                axis=1),
            hovertemplate=f"class %{{y}}<br>{legend} %{{x:.1f}}%<br>95% interval "
                          "%{customdata[0]:.1f}% to %{customdata[1]:.1f}%<extra></extra>"))
    top = np.nanmax(np.r_[frame["missing_rate_high"], frame["extra_rate_high"], 0.01]) * 100
    what = "estimated rate (%), 95% interval"
    if total > limit:
        what += f" — the {limit} noisiest of {total:,} classes"
    fig.update_xaxes(title=what, ticksuffix="%", range=[0, float(top) * 1.1])
    fig.update_yaxes(type="category", title=None, **class_ticks(frame["class"]))
    fig.update_layout(barmode="group", legend={"orientation": "h", "y": 1.02, "x": 1,
                                               "xanchor": "right", "yanchor": "bottom"})
    return styled(fig, height=max(280, 44 * len(frame) + 110), title=title)


def row_probability_bars(probabilities: pd.DataFrame) -> go.Figure:
    """One row's per-class probabilities (%) as horizontal bars, the given tags in the accent
    colour; ``probabilities`` is :func:`dashboard.ml_compute.row_probabilities`."""
    names = plot_all(probabilities["tag"])
    given = probabilities["given"].to_numpy(dtype=bool)
    fig = go.Figure(go.Bar(
        x=probabilities["probability"].to_numpy(dtype=np.float64) * 100, y=names,
        orientation="h", marker_color=np.where(given, ACCENT, GIVEN_COLOUR).tolist(),
        text=[f"{100 * p:.0f}%" for p in probabilities["probability"]], textposition="outside",
        cliponaxis=False, customdata=np.where(given, "given", "not given"),
        hovertemplate="tag %{y}: %{x:.1f}% (%{customdata})<extra></extra>"))
    fig.update_xaxes(range=[0, 112], ticksuffix="%", title="model probability of the tag")
    fig.update_yaxes(type="category", autorange="reversed", title=None,
                     **class_ticks(probabilities["tag"]))
    return styled(fig, height=max(200, 30 * len(names) + 80))
