"""Plotly figure builders shared by the dashboard pages and the HTML report.

Plain functions of analysis results: no streamlit here. Every string that comes from the
dataset (class names, ids) passes through :func:`dashboard.text.plot` before plotly sees it:
plotly's labels are HTML-like, and a name must never become a tag, a style or a template field.
Clickable figures carry the row id (or the matrix cell) in ``customdata`` so that a selection
event can be read back without relying on per-trace point indices (docs/architecture.md,
Pitfalls).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dashboard.selection import confused_classes
from dashboard.text import plot, plot_all

ACCENT = "#d6336c"
GIVEN_COLOUR = "#868e96"
SUGGESTED_COLOUR = ACCENT
FONT = "Inter, Segoe UI, Helvetica, Arial, sans-serif"
#: Qualitative palette with enough distinct colours for 20 classes.
PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94",
    "#f7b6d2", "#c7c7c7", "#dbdb8d", "#9edae5",
)

MATRIX_KINDS = {
    "confident_joint": "Rows (counts)",
    "joint": "Joint P(given, true)",
    "noise_matrix": "P(given | true)",
    "inverse_noise_matrix": "P(true | given)",
}


def _layout(fig: go.Figure, *, height: int | None = None, title: str | None = None) -> go.Figure:
    fig.update_layout(
        template="plotly_white",
        font={"family": FONT, "size": 13},
        margin={"l": 10, "r": 10, "t": 40 if title else 10, "b": 10},
        title={"text": title, "x": 0, "font": {"size": 15}} if title else None,
        height=height,
    )
    return fig


def class_colour(k: int) -> str:
    return PALETTE[k % len(PALETTE)]


# -- overview ----------------------------------------------------------------------------
#: Class names longer than this are cut (with "…") on a bar chart's class axis, so that long
#: names do not squeeze the bars and the axis titles; the hover shows the whole name.
TICK_MAX_CHARS = 24


def styled(fig: go.Figure, *, height: int | None = None, title: str | None = None) -> go.Figure:
    """The dashboard's look (template, font, margins, title) on ``fig`` (the multi-label
    figures, dashboard/ml_figures.py, share it)."""
    return _layout(fig, height=height, title=title)


def class_ticks(names: Sequence) -> dict:
    """Axis settings that label the categories ``plot_all(names)`` with the names cut to
    :data:`TICK_MAX_CHARS` characters (cut before escaping: never inside an entity)."""
    def cut(name) -> str:
        name = str(name)
        return name if len(name) <= TICK_MAX_CHARS else name[:TICK_MAX_CHARS - 1] + "…"

    return {"tickmode": "array", "tickvals": plot_all(names),
            "ticktext": [plot(cut(n)) for n in names]}


def noise_rate_bars(per_class: pd.DataFrame, *, title: str | None = None,
                    limit: int | None = None) -> go.Figure:
    """Horizontal bars: estimated share of wrong labels per given class, noisiest on top.

    ``per_class`` is :attr:`analysis.pipeline.Analysis.per_class`. Past ``limit`` classes
    (default :data:`BAR_MAX_CLASSES`) only the noisiest ``limit`` are drawn, and the axis
    title says so.
    """
    limit = BAR_MAX_CLASSES if limit is None else limit
    frame = per_class.sort_values("noise_rate", kind="stable")
    total = len(frame)
    if total > limit:
        frame = frame.iloc[-limit:]
    fig = go.Figure(
        go.Bar(
            x=frame["noise_rate"] * 100,
            y=plot_all(frame["name"]),
            orientation="h",
            marker_color=ACCENT,
            customdata=np.stack([frame["given"], frame["issues"]], axis=1),
            text=[f"{v:.1f}%" for v in frame["noise_rate"] * 100],
            textposition="outside",
            cliponaxis=False,
            hovertemplate="class %{y}<br>estimated noise rate %{x:.1f}%<br>"
            "%{customdata[0]} rows given this class, %{customdata[1]} flagged<extra></extra>",
        )
    )
    top = float(np.nanmax(frame["noise_rate"])) * 100 if len(frame) else 1.0
    what = "estimated wrong labels in the class (%)"
    if total > limit:
        what += f" — the {limit} noisiest of {total:,} classes"
    fig.update_xaxes(title=what, ticksuffix="%", range=[0, max(top, 1.0) * 1.2])
    fig.update_yaxes(type="category", title=None, **class_ticks(frame["name"]))
    return _layout(fig, height=max(260, 24 * len(frame) + 90), title=title)


def class_distribution(per_class: pd.DataFrame, *, title: str | None = None,
                       limit: int | None = None) -> go.Figure:
    """Grouped bars: rows given each class vs rows estimated to truly belong to it.

    Up to 10 classes: vertical bars. More: horizontal bars (names stay readable), and past
    ``limit`` (default :data:`BAR_MAX_CLASSES`) the classes whose size changes most.
    """
    limit = BAR_MAX_CLASSES if limit is None else limit
    frame = per_class
    total = len(frame)
    if total > limit:
        change = (frame["estimated_true"] - frame["given"]).abs().to_numpy()
        frame = frame.iloc[np.sort(np.argsort(-change, kind="stable")[:limit])]
    names = plot_all(frame["name"])
    horizontal = len(frame) > 10
    xy = (lambda v: {"x": v, "y": names}) if horizontal else (lambda v: {"x": names, "y": v})
    axis = "y" if horizontal else "x"
    fig = go.Figure([
        go.Bar(name="given labels", **xy(frame["given"]), marker_color=GIVEN_COLOUR,
               orientation="h" if horizontal else "v",
               hovertemplate=f"class %{{{axis}}}: %{{{'x' if horizontal else 'y'}}} rows "
                             "given<extra></extra>"),
        go.Bar(name="estimated true", **xy(frame["estimated_true"]), marker_color=ACCENT,
               orientation="h" if horizontal else "v",
               hovertemplate=f"class %{{{axis}}}: ~%{{{'x' if horizontal else 'y'}}} rows "
                             "truly<extra></extra>"),
    ])
    # the legend above the plot area, never over the bars
    fig.update_layout(barmode="group",
                      legend={"orientation": "h", "yanchor": "bottom", "y": 1.01, "x": 0})
    cls_title = "class" if total <= limit else \
        f"class — the {limit} of {total:,} whose size changes most"
    if horizontal:
        fig.update_yaxes(type="category", title=cls_title, autorange="reversed",
                         **class_ticks(frame["name"]))
        fig.update_xaxes(title="rows")
        height = max(320, 26 * len(frame) + 110)
    else:
        fig.update_xaxes(type="category", title=cls_title, **class_ticks(frame["name"]))
        fig.update_yaxes(title="rows")
        height = 340
    fig = _layout(fig, height=height, title=title)
    fig.update_layout(margin={"t": 70 if title else 40})
    return fig


# -- noise matrix ------------------------------------------------------------------------
def dense(matrix) -> np.ndarray:
    """A (K, K) matrix as a dense float array (from 1,000 classes the estimate is
    scipy.sparse, analysis/core/sparse.py; K x K, never N x N, so it fits)."""
    if hasattr(matrix, "toarray"):
        return np.asarray(matrix.toarray(), dtype=float)
    return np.asarray(matrix, dtype=float)


def matrix_values(estimate, kind: str) -> np.ndarray:
    """The (K, K) matrix of ``kind`` oriented rows = given label, columns = true label."""
    if kind not in MATRIX_KINDS:
        raise ValueError(f"kind={kind!r} is not one of: {', '.join(MATRIX_KINDS)}.")
    if kind == "inverse_noise_matrix":  # stored as [true, given]
        return dense(estimate.inverse_noise_matrix).T
    return dense(getattr(estimate, kind))


NO_CONFIDENT_CLASS = "no confident class"
#: Without ``classes=``, a matrix of more classes shows this many of the most confused.
MATRIX_MAX_CLASSES = 25
#: Bar charts of classes show at most this many (the ones that matter most).
BAR_MAX_CLASSES = 30


@dataclass(frozen=True)
class _MatrixGrid:
    """The noise matrix's cells, one entry per drawn marker, ready to draw.

    ``given`` / ``true`` are the cell's class indices (``true == k_all`` is the "no confident
    class" column), ``shown`` the value the colour and the text show, ``cell_count`` the rows
    the cell stands for, ``p_gt`` / ``p_tg`` / ``joint`` the rates the hover names.
    """

    order: np.ndarray
    columns: list
    col_names: list
    names_all: list
    given: np.ndarray
    true: np.ndarray
    shown: np.ndarray
    colour_max: float
    p_gt: np.ndarray
    p_tg: np.ndarray
    joint: np.ndarray
    label: list
    cell_count: np.ndarray
    calibrated: np.ndarray
    k_all: int
    raw: bool
    is_count: bool
    size: int


def _matrix_grid(estimate, class_names: Sequence[str], *, kind: str, hide_diagonal: bool,
                 cells: np.ndarray | None, classes: Sequence[int] | None) -> _MatrixGrid:
    """Data preparation of :func:`noise_matrix_figure`: which cells, their values and rates."""
    values = matrix_values(estimate, kind)
    calibrated = dense(estimate.confident_joint)
    k_all = values.shape[0]
    if classes is None and k_all > MATRIX_MAX_CLASSES:  # never a million markers
        classes = confused_classes(calibrated, MATRIX_MAX_CLASSES)
    order = np.arange(k_all) if classes is None else np.asarray(classes, dtype=np.int64)
    is_count = kind == "confident_joint"
    raw = cells is not None and is_count
    counts = np.asarray(cells, dtype=float) if cells is not None else calibrated
    names_all = plot_all(class_names)
    columns = list(order) + ([k_all] if raw else [])
    col_names = [names_all[j] if j < k_all else NO_CONFIDENT_CLASS for j in columns]
    given = np.repeat(order, len(columns))
    true = np.tile(np.asarray(columns, dtype=np.int64), len(order))
    in_matrix = true < k_all
    tj = np.where(in_matrix, true, 0)
    if raw:
        shown = counts[given, true].astype(float)
    else:
        shown = np.where(in_matrix, values[given, tj], np.nan)
    off = given != true
    if hide_diagonal:
        shown[~off] = np.nan
    # the colours are scaled on the class cells only: the "no confident class" column (on
    # CIFAR-10 1,148 rows, 41 flagged) would set the scale and leave the real confusion
    # (cat -> dog, 32) pale; its cells are drawn at the top colour, with their count (#25)
    scaled = np.where(in_matrix, shown, np.nan)
    colour_max = np.nanmax(scaled) if np.isfinite(scaled).any() else 1.0
    label = [
        "" if not np.isfinite(v) or (is_count and v == 0) or (not is_count and v < 0.005)
        else (f"{int(v)}" if is_count else f"{100 * v:.0f}%")
        for v in shown
    ]
    return _MatrixGrid(
        order=order, columns=columns, col_names=col_names, names_all=names_all,
        given=given, true=true, shown=shown, colour_max=colour_max,
        p_gt=dense(estimate.noise_matrix)[given, tj],
        p_tg=dense(estimate.inverse_noise_matrix)[tj, given],
        joint=dense(estimate.joint)[given, tj], label=label,
        cell_count=counts[given, true] if raw else calibrated[given, tj],
        calibrated=calibrated, k_all=k_all, raw=raw, is_count=is_count,
        size=max(14, min(46, int(640 / max(len(order), 1)))),
    )


def _matrix_hover(g: _MatrixGrid) -> list[str]:
    """The hover text of every cell: its rows and the three rates (P(given|true), P(true|given),
    joint); the "no confident class" cells say why their rows have no column."""
    names_all = g.names_all

    def hover(i, j, c, a, b, jv) -> str:
        if j >= g.k_all:
            return (f"given <b>{names_all[i]}</b>, no confident class<br>{int(c):,} "
                    f"row{'s' if int(c) != 1 else ''}: no class's probability reaches its "
                    "threshold<extra>click to list</extra>")
        rows = (f"{int(c):,} row{'s' if int(c) != 1 else ''} listed (raw count)<br>"
                f"~{g.calibrated[i, j]:,.0f} after calibration to the class sizes" if g.raw
                else f"~{int(c)} rows (confident joint)")
        return (f"given <b>{names_all[i]}</b>, true <b>{names_all[j]}</b><br>{rows}<br>"
                f"P(given={names_all[i]} | true={names_all[j]}) = {100 * a:.1f}%<br>"
                f"P(true={names_all[j]} | given={names_all[i]}) = {100 * b:.1f}%<br>"
                f"joint {100 * jv:.2f}%<extra>click to list</extra>")

    return [hover(i, j, c, a, b, jv) for i, j, c, a, b, jv in zip(
        g.given, g.true, g.cell_count, g.p_gt, g.p_tg, g.joint, strict=True)]


def _matrix_trace(g: _MatrixGrid) -> go.Scatter:
    """Drawing of :func:`noise_matrix_figure`: the cells as square markers with their text."""
    k = len(g.order)
    colour_max = g.colour_max or 1.0
    return go.Scatter(
        x=[g.col_names[c] for c in np.tile(np.arange(len(g.columns)), k)],
        y=[g.names_all[i] for i in g.given],
        mode="markers+text" if k <= 30 else "markers",
        marker={
            "symbol": "square",
            "size": g.size,
            "color": np.nan_to_num(g.shown, nan=0.0),
            "colorscale": [[0, "#f8f9fa"], [0.15, "#fcc2d7"], [1, "#a61e4d"]],
            "cmin": 0,
            "cmax": colour_max,
            "line": {"width": 1, "color": "white"},
            "showscale": True,
            "colorbar": {"thickness": 12, "title": {
                "text": ("raw rows<br>(class cells;<br>no confident<br>class clipped)"
                         if g.raw else "rows (calibrated)" if g.is_count else "")},
                         "tickformat": "d" if g.is_count else ".0%"},
        },
        text=g.label,
        textfont={"size": max(10, min(14, g.size // 3)),
                  "color": np.where(np.nan_to_num(g.shown) > 0.55 * colour_max,
                                    "white", "#212529").tolist()},
        customdata=np.stack([g.given, g.true, g.cell_count], axis=1),
        hovertemplate=_matrix_hover(g),
    )


def noise_matrix_figure(
    estimate,
    class_names: Sequence[str],
    *,
    kind: str = "confident_joint",
    hide_diagonal: bool = True,
    selected: tuple[int, int] | None = None,
    title: str | None = None,
    cells: np.ndarray | None = None,
    classes: Sequence[int] | None = None,
) -> go.Figure:
    """The noise matrix as a clickable grid: one square marker per (given, true) cell.

    A scatter, not a ``go.Heatmap``: Streamlit returns no selection for heatmaps
    (docs/architecture.md, Pitfalls).
    Each marker's ``customdata`` is ``[given, true, count]``; hover shows the count and the
    three rates. ``selected`` gets an outline.

    ``cells`` — the rows listed under each cell, (K, K+1) from
    :func:`dashboard.selection.cell_counts` — makes the counts view show those raw counts
    (the calibrated confident joint goes to the hover) and adds a last column, "no confident
    class", so that the cells together hold every row. ``classes`` draws only these classes
    (rows and columns), in this order.
    """
    g = _matrix_grid(estimate, class_names, kind=kind, hide_diagonal=hide_diagonal,
                     cells=cells, classes=classes)
    order, columns, col_names, names_all = g.order, g.columns, g.col_names, g.names_all
    k, size = len(order), g.size
    fig = go.Figure(_matrix_trace(g))
    if selected is not None and selected[0] in set(order.tolist()) and (
            selected[1] in set(order.tolist()) or (g.raw and selected[1] == g.k_all)):
        i, j = selected
        fig.add_trace(go.Scatter(
            x=[col_names[columns.index(j)]], y=[names_all[i]], mode="markers",
            hoverinfo="skip", showlegend=False,
            marker={"symbol": "square-open", "size": size + 4,
                    "line": {"width": 3, "color": "#212529"}},
        ))
    longest = max((len(str(n)) for n in col_names), default=1)
    fig.update_xaxes(type="category", categoryorder="array", categoryarray=col_names,
                     title="estimated true label", side="top", showgrid=False,
                     tickangle=0 if len(columns) <= 8 and longest <= 10 else -90,
                     tickfont={"size": 12 if k <= 30 else 11})
    fig.update_yaxes(type="category", categoryorder="array",
                     categoryarray=[names_all[i] for i in order][::-1],
                     title="given label", showgrid=False, tickfont={"size": 12})
    side = max(360, min(1000, size * k + 160 + (6 * min(longest, 24) if k > 8 else 0)))
    # no "select" dragmode: with it Streamlit turns clicks into plain events and a click on a
    # cell selects nothing (box / lasso belong to the embedding map)
    fig.update_layout(clickmode="event+select", showlegend=False)
    return _layout(fig, height=side, title=title)


COLOUR_BY = {
    "given": "given label",
    "suggested": "suggested label",
    "issue": "flagged as issue",
    "score": "label quality score",
}


#: Above this many rows the embedding map draws a density image with a bounded point layer.
DENSITY_ABOVE = 50_000


def _drawn_rows(is_issue: np.ndarray, limit: int, random_state: int) -> np.ndarray:
    """At most ``limit`` rows to draw as points: flagged rows first, then others, sorted."""
    rng = np.random.default_rng(random_state)
    flagged = np.flatnonzero(is_issue)
    if flagged.size > limit * 2 // 3:  # keep a third for the rest, when there is a rest
        room = limit if flagged.size == len(is_issue) else limit * 2 // 3
        flagged = np.sort(rng.choice(flagged, min(room, flagged.size), replace=False))
    rest = np.flatnonzero(~np.asarray(is_issue, dtype=bool))
    extra = rng.choice(rest, min(limit - flagged.size, rest.size), replace=False)
    return np.sort(np.concatenate([flagged, extra]))


def _density_trace(xy: np.ndarray, bins: int = 240) -> go.Heatmap:
    """Every row binned into a ``bins`` x ``bins`` grey image (log counts, empty bins clear)."""
    ok = np.isfinite(xy).all(axis=1)
    x, y = xy[ok, 0], xy[ok, 1]
    counts, ex, ey = np.histogram2d(x, y, bins=bins)
    z = np.where(counts > 0, np.log1p(counts), np.nan).T
    return go.Heatmap(
        z=z, x=(ex[:-1] + ex[1:]) / 2, y=(ey[:-1] + ey[1:]) / 2, showscale=False,
        colorscale=[[0, "#e9ecef"], [1, "#343a40"]], hoverinfo="skip", name="all rows",
        zsmooth=False,
    )


def _embedding_rows(is_issue: np.ndarray, *, dense: bool, max_points: int, max_drawn: int,
                    random_state: int) -> np.ndarray:
    """Which rows the embedding map draws as points: all of them, or a sample that keeps the
    flagged rows (past ``max_points``; on a density map, at most ``max_drawn``)."""
    n = len(is_issue)
    keep = np.arange(n)
    if dense:
        keep = _drawn_rows(is_issue, max_drawn, random_state)
    elif n > max_points:
        rng = np.random.default_rng(random_state)
        flagged = np.flatnonzero(is_issue)
        rest = np.setdiff1d(keep, flagged)
        room = max(0, max_points - flagged.size)
        keep = np.sort(np.concatenate([flagged, rng.choice(rest, min(room, rest.size),
                                                           replace=False)]))
    return keep


@dataclass(frozen=True)
class _MapPoints:
    """The drawn rows of the embedding map: coordinates, customdata and what colours them.

    ``custom`` is ``[row, id, score]`` per point; ``id_word`` names the second column in the
    hover ("id" for integer ids, else "row"); ``codes`` is the class the colours follow (the
    suggested one when the map is coloured by it, else the given one).
    """

    xy: np.ndarray
    custom: np.ndarray
    id_word: str
    issue: np.ndarray
    given: np.ndarray
    codes: np.ndarray
    names: list
    size: int

    @property
    def many(self) -> bool:
        """Past the palette one trace per class would mean hundreds of WebGL traces: one trace,
        colours per point, the class name in each point's text."""
        return len(self.names) > len(PALETTE)

    def hover(self, group: str) -> str:
        """The hover template of a trace whose points belong to ``group``."""
        return (f"{self.id_word} %{{customdata[1]:d}}<br>{group}<br>quality "
                "%{customdata[2]:.3f}<extra></extra>")

    def name_of(self, k: int) -> str:
        """The plotly-safe name of class ``k`` (its number past the known names)."""
        return self.names[k] if k < len(self.names) else plot(k)

    def point_names(self, values) -> np.ndarray:
        """The class name of each point (``""`` past the known names)."""
        shown_names = np.asarray(self.names + [""], dtype=object)
        return shown_names[np.minimum(values, len(self.names))]


def _map_points(coords: np.ndarray, table: pd.DataFrame, keep: np.ndarray,
                class_names: Sequence[str], *, dense: bool, colour_by: str) -> _MapPoints:
    """Data preparation of :func:`embedding_figure`: the kept rows' coordinates and columns."""
    n = len(table)
    t = table.iloc[keep] if keep.size < n else table
    xy = np.asarray(coords, dtype=np.float32)
    xy = xy[keep] if keep.size < n else xy
    ids = t["id"].to_numpy()
    shown_ids = ids.astype(np.float64) if ids.dtype.kind in "iu" else t["row"].to_numpy()
    # numeric customdata only: 100k points serialise in milliseconds (strings would take s)
    custom = np.stack([t["row"].to_numpy(np.float64), shown_ids,
                       t["score"].to_numpy(np.float64)], axis=1)
    return _MapPoints(
        xy=xy, custom=custom, id_word="id" if ids.dtype.kind in "iu" else "row",
        issue=t["is_issue"].to_numpy(), given=t["given"].to_numpy(),
        codes=t["suggested" if colour_by == "suggested" else "given"].to_numpy(),
        names=plot_all(class_names),
        size=4 if dense else 5 if len(t) > 20_000 else 7,
    )


def _class_traces(fig: go.Figure, pts: _MapPoints, by: str) -> None:
    """Colour by the given or the suggested class: one trace per class (one in all past the
    palette)."""
    xy, custom, size = pts.xy, pts.custom, pts.size
    codes = pts.codes
    if pts.many:
        fig.add_trace(go.Scattergl(
            x=xy[:, 0], y=xy[:, 1], mode="markers", name=f"{by} label", showlegend=False,
            customdata=custom, text=pts.point_names(codes),
            hovertemplate=pts.hover(f"{by} <b>%{{text}}</b>"),
            marker={"size": size, "color": [class_colour(int(c)) for c in codes],
                    "opacity": 0.8},
        ))
        return
    for k in np.unique(codes):
        m = codes == k
        fig.add_trace(go.Scattergl(
            x=xy[m, 0], y=xy[m, 1], mode="markers", name=pts.name_of(int(k)),
            customdata=custom[m], hovertemplate=pts.hover(f"{by} <b>{pts.name_of(int(k))}</b>"),
            marker={"size": size, "color": class_colour(int(k)), "opacity": 0.8},
        ))


def _score_traces(fig: go.Figure, pts: _MapPoints) -> None:
    """Colour by the label quality score, on one shared colour axis (red low, green high)."""
    xy, custom, given = pts.xy, pts.custom, pts.given
    groups = [None] if pts.many else np.unique(given)
    for k in groups:
        m = np.ones(len(given), bool) if k is None else given == k
        fig.add_trace(go.Scattergl(
            x=xy[m, 0], y=xy[m, 1], mode="markers",
            name="rows" if k is None else pts.name_of(int(k)),
            showlegend=False, customdata=custom[m], text=pts.point_names(given[m]),
            hovertemplate=pts.hover("given <b>%{text}</b>"),
            marker={"size": pts.size, "color": custom[m, 2], "coloraxis": "coloraxis"},
        ))
    fig.update_layout(coloraxis={"colorscale": "RdYlGn", "cmin": 0, "cmax": 1,
                                 "colorbar": {"title": {"text": "quality"},
                                              "thickness": 12}})


def _issue_traces(fig: go.Figure, pts: _MapPoints) -> None:
    """Colour by the issue flag: grey rows that look right, accent-coloured flagged rows."""
    xy, custom, given, issue = pts.xy, pts.custom, pts.given, pts.issue
    for flag, colour, label in ((False, "#ced4da", "looks right"),
                                (True, ACCENT, "flagged")):
        groups = [None] if pts.many else np.unique(given[issue == flag])
        for first, k in enumerate(groups):
            m = (issue == flag) & (True if k is None else given == k)
            fig.add_trace(go.Scattergl(
                x=xy[m, 0], y=xy[m, 1], mode="markers", name=label, legendgroup=label,
                showlegend=first == 0, customdata=custom[m], text=pts.point_names(given[m]),
                hovertemplate=pts.hover("given <b>%{text}</b>"),
                marker={"size": pts.size + (2 if flag else 0), "color": colour},
            ))


def embedding_figure(
    coords: np.ndarray,
    table: pd.DataFrame,
    *,
    colour_by: str = "given",
    class_names: Sequence[str] = (),
    highlight_issues: bool = True,
    max_points: int = 200_000,
    random_state: int = 0,
    title: str | None = None,
    density_above: int | None = None,
    max_drawn: int = 6_000,
) -> go.Figure:
    """WebGL scatter of a 2-D projection, one trace per colour, suspects drawn on top.

    ``table`` is :meth:`analysis.pipeline.Analysis.table` (same row order as ``coords``).
    Each point's ``customdata`` is ``[row, id, score]`` (numbers only, so 100k points stay
    fast; non-integer ids show as the row number): read the row from it, never from the
    per-trace point index. Above ``max_points`` a random sample is drawn that keeps every
    flagged row.

    Above ``density_above`` rows (default :data:`DENSITY_ABOVE`) the map is a density: every
    row binned into a grey image (a heatmap that takes no hover or selection) with at most
    ``max_drawn`` points on top: flagged rows (a random sample of them if they exceed two
    thirds of it), then a random sample of the rest. Box / lasso then select by coordinates on
    the server (:func:`dashboard.selection.rows_in_regions`), so every row inside counts.
    """
    if colour_by not in COLOUR_BY:
        raise ValueError(f"colour_by={colour_by!r} is not one of: {', '.join(COLOUR_BY)}.")
    dense = len(table) > (DENSITY_ABOVE if density_above is None else density_above)
    keep = _embedding_rows(table["is_issue"].to_numpy(), dense=dense, max_points=max_points,
                           max_drawn=max_drawn, random_state=random_state)
    pts = _map_points(coords, table, keep, class_names, dense=dense, colour_by=colour_by)
    fig = go.Figure()
    if dense:
        fig.add_trace(_density_trace(np.asarray(coords, dtype=np.float32)))
    if colour_by in ("given", "suggested"):
        _class_traces(fig, pts, colour_by)
    elif colour_by == "score":
        _score_traces(fig, pts)
    else:  # issue
        _issue_traces(fig, pts)
    issue, size = pts.issue, pts.size
    if highlight_issues and colour_by != "issue" and issue.any():
        fig.add_trace(go.Scattergl(
            x=pts.xy[issue, 0], y=pts.xy[issue, 1], mode="markers", name="flagged (outlined)",
            customdata=pts.custom[issue], hovertemplate=pts.hover("flagged"),
            marker={"size": size + (3 if dense else 5), "color": "rgba(0,0,0,0)",
                    "line": {"width": 0.8 if dense else 1.5, "color": "#212529"}},
        ))
    fig.update_xaxes(showticklabels=False, title=None, zeroline=False, showgrid=False,
                     showline=True, linecolor="#dee2e6", mirror=True)
    fig.update_yaxes(showticklabels=False, title=None, zeroline=False, showgrid=False,
                     showline=True, linecolor="#dee2e6", mirror=True)
    fig.update_layout(dragmode="lasso", legend={"itemsizing": "constant"},
                      uirevision="embedding")
    return _layout(fig, height=620, title=title)


# -- one example -------------------------------------------------------------------------
def probability_bars(
    probs: np.ndarray, class_names: Sequence[str], *, given: int, suggested: int,
    top: int = 10, title: str | None = None,
) -> go.Figure:
    """The example's predicted probabilities (its ``top`` classes plus given and suggested),
    with the given label grey and the suggested label in the accent colour."""
    probs = np.asarray(probs, dtype=float)
    order = list(np.argsort(-probs, kind="stable")[:top])
    for c in (given, suggested):
        if c not in order:
            order.append(c)
    names = [plot(class_names[c]) for c in order]
    colours = [SUGGESTED_COLOUR if c == suggested else GIVEN_COLOUR if c == given
               else "#dee2e6" for c in order]
    tags = ["suggested" if c == suggested else "given" if c == given else "" for c in order]
    fig = go.Figure(go.Bar(
        x=probs[order], y=names, orientation="h", marker_color=colours,
        text=[f"{100 * p:.1f}%  {t}" for p, t in zip(probs[order], tags, strict=True)],
        textposition="outside", cliponaxis=False,
        hovertemplate="%{y}: %{x:.1%}<extra></extra>",
    ))
    fig.update_xaxes(range=[0, 1.3], tickformat=".0%", title="predicted probability",
                     tickvals=[0, 0.25, 0.5, 0.75, 1.0])
    fig.update_yaxes(type="category", autorange="reversed", title=None)
    return _layout(fig, height=max(180, 28 * len(order) + 70), title=title)


def image_figure(pixels: np.ndarray, shape: tuple[int, int], *, title: str | None = None,
                 height: int = 220) -> go.Figure:
    """A grey-scale image drawn from its pixel values (e.g. an 8 x 8 digit)."""
    img = np.asarray(pixels, dtype=float).reshape(shape)
    fig = go.Figure(go.Heatmap(z=img, colorscale="Greys", showscale=False,
                               hovertemplate="%{z}<extra></extra>"))
    fig.update_xaxes(visible=False, constrain="domain")
    fig.update_yaxes(visible=False, autorange="reversed", scaleanchor="x")
    return _layout(fig, height=height, title=title)


# -- annotators -------------------------------------------------------------------------
def kappa_figure(kappa: np.ndarray, annotator_names: Sequence[str], *,
                 title: str | None = None) -> go.Figure:
    """Pairwise Cohen's kappa of the annotators as an annotated heatmap.

    ``kappa`` is (A, A), NaN where two annotators share no row; ``annotator_names`` are the
    A annotator column names.
    """
    kappa = np.asarray(kappa, dtype=float)
    labels = plot_all(annotator_names)
    fig = go.Figure(go.Heatmap(
        z=kappa, x=labels, y=labels, colorscale=[[0, "#f8f9fa"], [1, ACCENT]],
        zmin=0, zmax=1, text=[["" if np.isnan(v) else f"{v:.2f}" for v in row] for row in kappa],
        texttemplate="%{text}", hovertemplate="%{y} vs %{x}: κ = %{z:.3f}<extra></extra>",
        colorbar={"title": {"text": "κ"}, "thickness": 12}))
    fig.update_xaxes(type="category")
    fig.update_yaxes(type="category", autorange="reversed")
    return _layout(fig, height=380, title=title)


def annotator_quality_figure(annotators: pd.DataFrame, *, title: str | None = None) -> go.Figure:
    """Horizontal bars: each annotator's estimated accuracy (weighted consensus), lowest first.

    ``annotators`` is :attr:`analysis.annotators.agreement.AgreementSummary.annotators` (columns
    ``annotator``, ``weighted_accuracy``, ``ratings``, ``accuracy``).
    """
    table = annotators.sort_values("weighted_accuracy", kind="stable")
    fig = go.Figure(go.Bar(
        x=table["weighted_accuracy"], y=plot_all(table["annotator"]), orientation="h",
        marker_color=ACCENT, text=[f"{v:.0%}" for v in table["weighted_accuracy"]],
        textposition="outside", cliponaxis=False,
        customdata=np.stack([table["ratings"], table["accuracy"]], axis=1),
        hovertemplate="%{y}: %{x:.1%} agree with the weighted consensus<br>%{customdata[0]} "
                      "rows rated; %{customdata[1]:.1%} agree with the majority<extra></extra>"))
    fig.update_xaxes(range=[0, 1.12], tickformat=".0%", title="estimated accuracy")
    fig.update_yaxes(type="category")
    return _layout(fig, height=380, title=title)


# -- evaluate ----------------------------------------------------------------------------
RANK_COLOURS = {"self_confidence": ACCENT, "normalized_margin": "#1c7ed6",
                "confidence_weighted_entropy": "#37b24d"}


def pr_curves_figure(curves: dict, *, title: str | None = None) -> go.Figure:
    """Precision vs recall of flagging the k lowest-scored rows, one line per score.

    ``curves`` maps a score name to :func:`analysis.review.evaluate.precision_recall` output.
    """
    fig = go.Figure()
    for name, curve in curves.items():
        fig.add_trace(go.Scatter(
            x=curve["recall"], y=curve["precision"], mode="lines", name=name.replace("_", " "),
            line={"color": RANK_COLOURS.get(name, GIVEN_COLOUR), "width": 2.5},
            customdata=curve["k"],
            hovertemplate="top %{customdata} rows<br>recall %{x:.1%}<br>precision %{y:.1%}"
                          "<extra>%{fullData.name}</extra>",
        ))
    fig.update_xaxes(title="recall (share of the wrong labels found)", tickformat=".0%",
                     range=[0, 1.02])
    fig.update_yaxes(title="precision (share of flagged that are wrong)", tickformat=".0%",
                     range=[0, 1.02])
    fig.update_layout(legend={"orientation": "h", "y": -0.25, "x": 0})
    return _layout(fig, height=420, title=title)


def retrain_figure(retrain, *, title: str | None = None) -> go.Figure:
    """Held-out accuracy of the model trained on each version of the labels, with intervals."""
    names = ["original labels", "cleaned labels"]
    values = [retrain.original, retrain.cleaned]
    fig = go.Figure(go.Bar(
        x=names, y=[v[0] for v in values], marker_color=[GIVEN_COLOUR, ACCENT],
        error_y={"type": "data", "symmetric": False, "array": [v[2] - v[0] for v in values],
                 "arrayminus": [v[0] - v[1] for v in values], "color": "#212529"},
        text=[f"{100 * v[0]:.1f}%" for v in values], textposition="inside",
        hovertemplate="%{x}: %{y:.1%}<extra></extra>",
    ))
    low = min(v[1] for v in values)
    fig.update_yaxes(title="accuracy on held-out true labels", tickformat=".0%",
                     range=[max(0.0, low - 0.1), 1.0])
    return _layout(fig, height=360, title=title)
