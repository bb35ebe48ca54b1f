"""Selection events of ``st.plotly_chart`` -> matrix cells and dataset rows (pure functions).

Row ids travel in each point's ``customdata``, never as per-trace point indices, which
collide when a figure has one trace per class (streamlit #8914).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np


def _points(event: Any) -> list[Mapping]:
    if not event:
        return []
    selection = event.get("selection") if isinstance(event, Mapping) else getattr(
        event, "selection", None)
    if not selection:
        return []
    points = selection.get("points") if isinstance(selection, Mapping) else getattr(
        selection, "points", None)
    return list(points or [])


def _custom(point: Mapping):
    value = point.get("customdata", point.get("custom_data"))
    if value is None:
        return None
    if isinstance(value, Mapping):
        # numeric numpy customdata arrives from the browser as {"0": v0, "1": v1, ...}
        try:
            return [value[k] for k in sorted(value, key=lambda k: int(k))]
        except (TypeError, ValueError):
            return list(value.values())
    return value if isinstance(value, list | tuple) else [value]


def cell_from_event(event: Any) -> tuple[int, int] | None:
    """The (given, true) cell of the first clicked noise-matrix marker, or ``None``."""
    for point in _points(event):
        custom = _custom(point)
        if custom is not None and len(custom) >= 2:
            try:
                return int(custom[0]), int(custom[1])
            except (TypeError, ValueError):
                continue
    return None


def rows_from_event(event: Any) -> list[int]:
    """Dataset row positions of every selected embedding-map point, unique, in the order
    first met (the outline trace of suspects repeats rows: counted once)."""
    seen: dict[int, None] = {}
    for point in _points(event):
        custom = _custom(point)
        if custom is None:
            continue
        try:
            seen.setdefault(int(custom[0]), None)
        except (TypeError, ValueError):
            continue
    return list(seen)


def summarise_selection(result: Any, rows) -> tuple[np.ndarray, int]:
    """The selected dataset rows ordered by label quality score, lowest (most suspect) first,
    ties in selection order, and how many of them are flagged (``result.is_issue``)."""
    rows = np.asarray(rows, dtype=np.int64).reshape(-1)
    ordered = rows[np.argsort(np.asarray(result.scores)[rows], kind="stable")]
    return ordered, int(np.count_nonzero(np.asarray(result.is_issue)[ordered]))


def parse_cell(text: str | None, num_classes: int, *, bucket: bool = False
               ) -> tuple[int, int] | None:
    """``"3-8"`` -> (3, 8) when both are class indices, else ``None`` (a stale URL). With
    ``bucket`` the second may also be ``num_classes``: the "no confident class" bucket."""
    if not text:
        return None
    parts = str(text).split("-")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        return None
    i, j = int(parts[0]), int(parts[1])
    return (i, j) if i < num_classes and j < num_classes + bucket else None


def suspect_rows(result, *, classes=(), cell: tuple[int, int] | None = None,
                 threshold: float = 1.0, only_flagged: bool = True, within=None):
    """The rows the Suspects page lists, in its order (a pure function of the analysis).

    Parameters
    ----------
    result : analysis.pipeline.Analysis
    classes : sequence of int
        Keep rows given one of these classes (empty: every class).
    cell : (given, true), optional
        Keep rows of this confident-joint cell (``true`` = K: no confident class).
    threshold : float
        Keep rows whose label quality score is at most this.
    only_flagged : bool
        Keep flagged rows only.
    within : array-like of int, optional
        Start from these rows (a map selection) instead of the whole dataset.

    Returns
    -------
    ndarray of int64
        Lowest quality first. Flagged rows of the whole dataset come in exactly the order of
        ``result.ranked`` (``label_issues.csv``), ties included.
    """
    import numpy as np

    if within is not None:
        rows = np.asarray(within, dtype=np.int64)
    elif only_flagged:
        rows = result.ranked
    else:
        rows = np.argsort(result.scores, kind="stable")
    keep = result.scores[rows] <= threshold + 1e-12
    if len(classes):
        keep &= np.isin(result.labels[rows], list(classes))
    if cell is not None:
        # cell[1] == K: the rows with no confident class (selection.cell_counts)
        true = -1 if cell[1] >= len(result.class_names) else cell[1]
        keep &= (result.labels[rows] == cell[0]) & (result.estimated_true[rows] == true)
    if within is not None and only_flagged:
        keep &= result.is_issue[rows]
    rows = rows[keep]
    if within is not None:
        rows = rows[np.argsort(result.scores[rows], kind="stable")]
    return rows


def cell_counts(labels, estimated_true, num_classes: int) -> np.ndarray:
    """Rows per noise-matrix cell as listed under it: ``counts[i, j]`` = rows given ``i``
    counted for class ``j`` (raw, before calibration); the extra last column ``counts[i, K]``
    holds rows given ``i`` with no confident class (``estimated_true == -1``). Every row is
    in exactly one cell: the counts add up to N.
    """
    labels = np.asarray(labels, dtype=np.int64)
    guess = np.asarray(estimated_true, dtype=np.int64)
    column = np.where(guess < 0, num_classes, guess)
    k1 = num_classes + 1
    return np.bincount(labels * k1 + column, minlength=num_classes * k1).reshape(
        num_classes, k1)


def cell_rows(result, given: int, true: int) -> np.ndarray:
    """Rows of cell (``given``, ``true``) lowest quality first; ``true`` = K (the number of
    classes) is the "no confident class" bucket of :func:`cell_counts`."""
    k = len(result.class_names)
    guess = np.asarray(result.estimated_true)
    wanted = -1 if true >= k else true
    rows = np.flatnonzero((np.asarray(result.labels) == given) & (guess == wanted))
    return rows[np.argsort(np.asarray(result.scores)[rows], kind="stable")]


def confused_classes(counts: np.ndarray, limit: int = 25) -> np.ndarray:
    """The ``limit`` classes most involved in confusions, ordered so that confused pairs
    sit next to each other.

    ``counts`` is a (K, K) or (K, K+1) matrix of rows per (given, true) cell (the bucket
    column, if any, is ignored). Classes are chosen from the largest confusions down: both
    classes of each pair (counts of both directions added), in the order of the pair's count,
    until ``limit`` classes; then (no confusion left) by off-diagonal mass. The order is a
    greedy chain: start from the class of the largest off-diagonal cell, then repeatedly
    append the not-yet-placed class most confused with the last one placed (with any placed
    class when the last has none left), else the heaviest remaining class.
    """
    c = np.asarray(counts, dtype=float)[:, : len(counts)]
    k = c.shape[0]
    limit = min(limit, k)
    off = c.copy()
    np.fill_diagonal(off, 0.0)
    sym = off + off.T
    weight = sym.sum(axis=1)
    upper = np.triu(sym, 1)
    gi, gj = np.nonzero(upper)
    pairs = np.argsort(-upper[gi, gj], kind="stable")
    picked: dict[int, None] = {}
    for p in pairs:
        if len(picked) >= limit:
            break
        for cls in (int(gi[p]), int(gj[p])):
            if len(picked) < limit:
                picked.setdefault(cls, None)
    for cls in np.argsort(-weight, kind="stable"):
        if len(picked) >= limit:
            break
        picked.setdefault(int(cls), None)
    chosen = np.fromiter(picked, dtype=np.int64, count=len(picked))
    sub = sym[np.ix_(chosen, chosen)]
    order: list[int] = []
    left = set(range(len(chosen)))
    while left:
        cand = sorted(left)
        if order and sub[order[-1], cand].max() > 0:
            nxt = cand[int(np.argmax(sub[order[-1], cand]))]
        elif order and sub[np.ix_(order, cand)].max() > 0:
            nxt = cand[int(np.argmax(sub[np.ix_(order, cand)].max(axis=0)))]
        elif sub[np.ix_(cand, cand)].max() > 0:
            block = sub[np.ix_(cand, cand)]
            nxt = cand[int(np.unravel_index(np.argmax(block), block.shape)[0])]
        else:
            nxt = cand[int(np.argmax(weight[chosen][cand]))]
        order.append(nxt)
        left.discard(nxt)
    return chosen[order].astype(np.int64)


# -- box / lasso regions (the map at scale: test every row, not only the drawn points) --------
def regions_from_event(event: Any) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """The box and lasso regions of a selection event, as ``(kind, xs, ys)``.

    Streamlit puts each drawn region in ``selection.box`` (``{"x": [x0, x1], "y": [y0, y1]}``)
    or ``selection.lasso`` (``{"x": [...], "y": [...]}``, the polygon's vertices). A region
    with too few or non-finite coordinates is skipped.
    """
    if not event:
        return []
    sel = event.get("selection") if isinstance(event, Mapping) else getattr(
        event, "selection", None)
    if not sel:
        return []
    out = []
    for kind, least in (("box", 2), ("lasso", 3)):
        items = sel.get(kind) if isinstance(sel, Mapping) else getattr(sel, kind, None)
        for item in items or []:
            try:
                xs = np.asarray(item.get("x", []), dtype=np.float64).reshape(-1)
                ys = np.asarray(item.get("y", []), dtype=np.float64).reshape(-1)
            except (AttributeError, TypeError, ValueError):
                continue
            if xs.size >= least and xs.size == ys.size and np.isfinite(xs).all() \
                    and np.isfinite(ys).all():
                out.append((kind, xs, ys))
    return out


def points_in_polygon(x, y, px, py) -> np.ndarray:
    """Whether each point (``x[i]``, ``y[i]``) lies inside the polygon (``px``, ``py``).

    Even-odd rule (a ray to the right crosses the edges an odd number of times), the polygon
    closed from its last vertex back to the first. Vectorised over the points: the loop runs
    over the polygon's edges, and only points inside its bounding box are tested.
    """
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    px = np.asarray(px, dtype=np.float64).reshape(-1)
    py = np.asarray(py, dtype=np.float64).reshape(-1)
    inside = np.zeros(x.size, dtype=bool)
    if px.size < 3:
        return inside
    cand = np.flatnonzero((x >= px.min()) & (x <= px.max()) & (y >= py.min()) & (y <= py.max()))
    cx, cy = x[cand], y[cand]
    odd = np.zeros(cand.size, dtype=bool)
    for i in range(px.size):
        x1, y1 = px[i - 1], py[i - 1]
        x2, y2 = px[i], py[i]
        if y1 == y2:
            continue  # a horizontal edge is never crossed by a horizontal ray
        spans = (y1 > cy) != (y2 > cy)
        cross = x1 + (cy - y1) * (x2 - x1) / (y2 - y1)
        odd ^= spans & (cx < cross)
    inside[cand] = odd
    return inside


def rows_in_regions(coords, regions) -> np.ndarray:
    """Rows whose 2-D ``coords`` fall in any of ``regions`` (:func:`regions_from_event`):
    inside a box (edges included) or a lasso polygon. Sorted row positions, int64."""
    xy = np.asarray(coords, dtype=np.float64)
    hit = np.zeros(len(xy), dtype=bool)
    for kind, xs, ys in regions:
        if kind == "box":
            hit |= ((xy[:, 0] >= xs.min()) & (xy[:, 0] <= xs.max())
                    & (xy[:, 1] >= ys.min()) & (xy[:, 1] <= ys.max()))
        else:
            hit |= points_in_polygon(xy[:, 0], xy[:, 1], xs, ys)
    return np.flatnonzero(hit).astype(np.int64)


# -- paging of row tables -----------------------------------------------------------------------
#: Rows a table sends to the browser at once; longer lists page (a 1M-row data set never
#: sends a huge table).
PAGE_ROWS = 200


def page_count(total: int, size: int = PAGE_ROWS) -> int:
    """Pages of ``size`` rows needed for ``total`` rows (at least 1, also for no rows)."""
    if size < 1:
        raise ValueError(f"page size must be at least 1, got {size}.")
    return max(1, -(-int(total) // int(size)))


def page_bounds(total: int, page: int, size: int = PAGE_ROWS) -> tuple[int, int, int]:
    """``(start, stop, page)`` of page ``page`` (1-based) of ``total`` rows: positions
    ``start .. stop - 1``; a page out of range (a stale widget value after the list shrank)
    is clamped to the first or last page."""
    page = min(max(int(page), 1), page_count(total, size))
    start = (page - 1) * int(size)
    return start, min(start + int(size), max(int(total), 0)), page


def page_of(position: int, size: int = PAGE_ROWS) -> int:
    """The page (1-based) holding list position ``position`` (0-based)."""
    return int(position) // int(size) + 1


def page_caption(start: int, stop: int, total: int) -> str:
    """``"rows 201–400 of 141,702"`` (1-based, both ends included)."""
    if total <= 0 or stop <= start:
        return f"no rows of {total:,}"
    return f"rows {start + 1:,}–{stop:,} of {total:,}"
