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


def parse_cell(text: str | None, num_classes: int) -> tuple[int, int] | None:
    """``"3-8"`` -> (3, 8) when both are class indices, else ``None`` (a stale URL)."""
    if not text:
        return None
    parts = str(text).split("-")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        return None
    i, j = int(parts[0]), int(parts[1])
    return (i, j) if i < num_classes and j < num_classes else None


def suspect_rows(result, *, classes=(), cell: tuple[int, int] | None = None,
                 threshold: float = 1.0, only_flagged: bool = True, within=None):
    """The rows the Suspects page lists, in its order (a pure function of the analysis).

    Parameters
    ----------
    result : analysis.pipeline.Analysis
    classes : sequence of int
        Keep rows given one of these classes (empty: every class).
    cell : (given, true), optional
        Keep rows of this confident-joint cell.
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
        keep &= (result.labels[rows] == cell[0]) & (result.estimated_true[rows] == cell[1])
    if within is not None and only_flagged:
        keep &= result.is_issue[rows]
    rows = rows[keep]
    if within is not None:
        rows = rows[np.argsort(result.scores[rows], kind="stable")]
    return rows
