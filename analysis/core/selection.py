"""Selecting the m smallest values exactly as a full sort would, in memory or per pair of
classes over row chunks (bounded heaps whose boundary ties are reported, never guessed)."""

from __future__ import annotations

import numpy as np

from analysis.core import _kernels


def smallest(values: np.ndarray, m: int) -> np.ndarray:
    """Indices of the ``m`` smallest values: the same set as ``np.argsort(values)[:m]``.

    Linear time (``argpartition``); falls back to the full sort only when the value at the
    boundary is tied, so that ties are broken exactly as the sort breaks them.
    """
    n = values.size
    if m <= 0:
        return np.empty(0, dtype=np.int64)
    if m >= n:
        return np.arange(n)
    part = np.argpartition(values, m - 1)[:m]
    if np.count_nonzero(values <= values[part].max()) == m:
        return part
    return np.argsort(values)[:m]



class Heaps:
    """The state of :func:`analysis.core._kernels.margin_heaps`: per pair, a bounded max-heap of
    ``cap[p]`` values and rows (``cap`` = the rows wanted, or fewer for one chunk)."""

    def __init__(self, cap: np.ndarray, dtype):
        self.cap = cap
        self.offset = np.zeros(cap.size + 1, np.int64)
        np.cumsum(cap, out=self.offset[1:])
        self.values = np.empty(self.offset[-1], dtype)
        self.rows = np.empty(self.offset[-1], np.int64)
        self.size = np.zeros(cap.size, np.int64)
        self.top = np.where(cap > 0, np.inf, -np.inf).astype(dtype)
        self.lost = np.full(cap.size, np.inf)

    def feed(self, probs, labels, start, pair_start, pair_j, max_other) -> None:
        k = pair_start.size - 1
        counts = np.bincount(labels, minlength=k)
        order, starts = _kernels.group_by_label(labels, counts)
        _kernels.margin_heaps(probs, order, starts, counts, pair_start, pair_j, self.cap,
                              self.offset, self.values, self.rows, self.size, self.top,
                              self.lost, start, max_other)

    def candidates(self) -> tuple:
        """``(pair, values, rows, lost)`` (pairs grouped, each heap in heap order)."""
        pair = np.repeat(np.arange(self.cap.size), self.size)
        return pair, self.values, self.rows, self.lost


def combine_candidates(a: tuple, b: tuple, want: np.ndarray) -> tuple:
    """Merge two partial ``(pair, values, rows, lost)`` candidate sets (of
    :func:`_candidates_block` or of earlier merges): per pair the ``want[p]`` smallest values
    stay, sorted; ``lost[p]`` becomes the smallest value left out (or the earlier ``lost``).
    Associative and commutative in what it keeps unless the boundary is tied, which ``lost``
    then shows (:func:`select_candidates`)."""
    pair = np.concatenate([a[0], b[0]])
    values = np.concatenate([a[1], b[1]])
    rows = np.concatenate([a[2], b[2]])
    lost = np.minimum(a[3], b[3])
    order = np.lexsort((values, pair))
    pair, values, rows = pair[order], values[order], rows[order]
    first = np.searchsorted(pair, np.arange(want.size))
    total = np.bincount(pair, minlength=want.size)
    spill = np.flatnonzero(total > want)
    lost[spill] = np.minimum(lost[spill], values[first[spill] + want[spill]])
    keep = (np.arange(pair.size) - first[pair]) < want[pair]
    return pair[keep], values[keep], rows[keep], lost


def select_candidates(merged: tuple, want: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """From the candidates of every chunk, merged (``want[p]`` per pair): the selected rows of
    the pairs whose boundary is not tied, and the pairs whose boundary is tied (a value left
    out equals the largest kept one; the caller decides those with the sort, as in memory)."""
    pair, values, rows, lost = merged
    total = np.bincount(pair, minlength=want.size)
    if not np.array_equal(total, want):  # cannot happen: each chunk keeps min(want, its rows)
        raise AssertionError("the merged candidates do not hold want rows per pair")
    order = np.argsort(pair, kind="stable")  # one chunk's heaps are already grouped: no-op
    pair, values, rows = pair[order], values[order], rows[order]
    first = np.searchsorted(pair, np.arange(want.size))
    top = np.maximum.reduceat(values, first).astype(np.float64)
    tied = np.flatnonzero(lost == top)
    return rows[lost[pair] != top[pair]], tied

