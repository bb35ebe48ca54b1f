"""The per-row facts every confident-learning estimate is built from, computed once
(:class:`Evidence`), and the calibration of the confident joint. The definitions are those
of :mod:`analysis.core.confident`."""

from __future__ import annotations

from functools import cached_property

import numba as nb
import numpy as np

from analysis.core import _kernels, limits, sparse
from analysis.core._validation import check_inputs
from analysis.core.numbers import EPS, TINY, round_preserving_row_totals
from analysis.core.selection import Heaps, select_candidates, smallest

#: Threshold given to a class no row is labelled with: no probability reaches it.
ABSENT_CLASS_THRESHOLD = 2


_MIN_THRESHOLD = 2 * EPS


class Evidence:
    """Validated inputs and the per-row facts every estimate is built from, computed once.

    Internal: the public functions build one and read what they need from it.
    """

    def __init__(self, labels, pred_probs, *, require_two_classes: bool = True):
        self.labels, self.pred_probs = check_inputs(
            labels, pred_probs, require_two_classes=require_two_classes
        )
        self.n, self.k = self.pred_probs.shape
        limits.check_core(self.n, self.k, sparse=self.sparse, threads=nb.get_num_threads())

    @cached_property
    def label_counts(self) -> np.ndarray:
        return np.bincount(self.labels, minlength=self.k)

    @cached_property
    def groups(self) -> tuple[np.ndarray, np.ndarray]:
        """Row indices sorted by given label (stable) and each label's start in that order."""
        return _kernels.group_by_label(self.labels, self.label_counts)

    @property
    def dtype(self) -> np.dtype:
        """The float dtype the rows are worked in."""
        return self.pred_probs.dtype

    @cached_property
    def xlogx_sum(self) -> np.ndarray:
        """``sum_j p_ij log p_ij`` per row (0 log 0 = 0), in :attr:`dtype`."""
        return _kernels.row_xlogx_sum(self.pred_probs)

    def noise_rate_mask(self, counts: np.ndarray, skip: np.ndarray) -> np.ndarray:
        """Rows the ``prune_by_noise_rate`` filter selects: from each given class k (not
        ``skip``) and other class j, the ``counts[j, k]`` rows of class k with the smallest
        ``p_k - p_j`` (a tied boundary decided by ``np.argsort``, as in the reference)."""
        probs = self.pred_probs
        mask = np.zeros(self.n, dtype=bool)
        if self.sparse:  # per (class, other class) pair heaps: no (K, K) state
            pair_class, pair_j, want, pair_start = sparse.pairs(counts, skip, self.label_counts)
            heaps = Heaps(want, probs.dtype)
            heaps.feed(probs, self.labels, 0, pair_start, pair_j, self.max_other)
            selected, tied = select_candidates(heaps.candidates(), want)
            mask[selected] = True
            for p in tied:
                j, k = int(pair_j[p]), int(pair_class[p])
                rows = self.rows_of(k)
                margin = probs[rows, j] - probs[rows, k]
                mask[rows[smallest(-margin, int(want[p]))]] = True
            return mask
        order, starts = self.groups
        tied = _kernels.prune_by_margin(
            probs, order, starts, self.label_counts, np.ascontiguousarray(counts), skip, mask
        )
        # a tied boundary: the sort decides which of the tied rows go, as in the reference
        for j, k in zip(*np.nonzero(tied), strict=True):
            rows = self.rows_of(k)
            margin = probs[rows, j] - probs[rows, k]
            mask[rows[smallest(-margin, int(counts[j, k]))]] = True
        return mask

    def rows_of(self, k: int) -> np.ndarray:
        """Indices (ascending) of the rows given class ``k``."""
        order, starts = self.groups
        return order[starts[k] : starts[k] + self.label_counts[k]]

    @cached_property
    def self_confidence(self) -> np.ndarray:
        return _kernels.gather(self.pred_probs, self.labels)

    @cached_property
    def thresholds(self) -> np.ndarray:
        order, starts = self.groups
        grouped = self.self_confidence[order]
        means = [
            np.mean(grouped[s : s + c]) if c else ABSENT_CLASS_THRESHOLD
            for s, c in zip(starts, self.label_counts, strict=True)
        ]
        return np.clip(means, a_min=_MIN_THRESHOLD, a_max=None)

    @property
    def sparse(self) -> bool:
        """Many classes: the confident joint and the estimate are ``scipy.sparse`` matrices
        (:mod:`analysis.core.sparse`, identical numbers)."""
        return self.k >= sparse.SPARSE_MIN_CLASSES

    @cached_property
    def _guess_counts(self) -> tuple[np.ndarray, np.ndarray]:
        if self.sparse:
            guess = _kernels.guess_rows(self.pred_probs, self.thresholds - EPS)
            return guess, sparse.counts_from_guess(guess, self.labels, self.k)
        blocks = min(nb.get_num_threads(), max(1, self.n // 10_000))
        return _kernels.confident_guess(
            self.pred_probs, self.thresholds - EPS, self.labels, blocks
        )

    @property
    def guess(self) -> np.ndarray:
        """Estimated true class per row (-1: no class reached its threshold)."""
        return self._guess_counts[0]

    @cached_property
    def _facts(self):
        eps = self.pred_probs.dtype.type(EPS)
        return _kernels.row_facts(self.pred_probs, self.labels, eps)

    @property
    def predicted(self) -> np.ndarray:
        """Arg-max class per row."""
        return self._facts[0]

    @property
    def max_other(self) -> np.ndarray:
        """Largest probability among the classes other than the given one."""
        return self._facts[1]

    @property
    def label_wins(self) -> np.ndarray:
        """True where the given label is (within 1e-6) the most probable class."""
        return self._facts[2]

    def label_wins_at(self, rows: np.ndarray) -> np.ndarray:
        """:attr:`label_wins` of ``rows`` only (no pass over the other rows)."""
        if "_facts" in self.__dict__:
            return self.label_wins[rows]
        eps = self.pred_probs.dtype.type(EPS)
        return _kernels.label_wins_rows(self.pred_probs, self.labels, rows, eps)

    def num_issues(self) -> int:
        """Rows off the diagonal of the confident joint whose label is not the prediction."""
        rows = np.flatnonzero(self.off_diagonal)
        return int(rows.size - np.count_nonzero(self.label_wins_at(rows)))

    @cached_property
    def raw_confident_joint(self) -> np.ndarray:
        # counted as (true, given) and transposed: the Fortran-ordered layout of the
        # reference, which decides the summation order, hence the rounding ties, of the
        # calibration
        if self.sparse:
            return sparse.raw_joint(self._guess_counts[1])
        cj = self._guess_counts[1].copy().T
        np.fill_diagonal(cj, np.maximum(cj.diagonal(), 1))
        return cj

    @cached_property
    def confident_joint(self) -> np.ndarray:
        if self.sparse:
            return sparse.calibrate(self.raw_confident_joint, self.label_counts)
        return calibrate_confident_joint(self.raw_confident_joint, self.label_counts)

    @cached_property
    def off_diagonal(self) -> np.ndarray:
        """Rows counted off the diagonal of the confident joint."""
        return (self.guess >= 0) & (self.guess != self.labels)


def calibrate_confident_joint(cj: np.ndarray, label_counts: np.ndarray) -> np.ndarray:
    """Rescale rows of a confident joint to the given-label counts and the total to N.

    Parameters
    ----------
    cj : ndarray of shape (K, K)
        Confident joint, rows = given label.
    label_counts : ndarray of shape (K,)
        Number of rows given each label.

    Returns
    -------
    ndarray of shape (K, K), int
        Calibrated counts: row i sums to ``label_counts[i]`` (up to rounding), total N.
    """
    label_counts = np.asarray(label_counts)
    row_sums = np.clip(cj.sum(axis=1), a_min=TINY, a_max=None)
    calibrated = cj / row_sums[:, None] * label_counts[:, None]
    total = np.clip(np.sum(calibrated), a_min=TINY, a_max=None)
    calibrated = calibrated / total * int(label_counts.sum())
    return round_preserving_row_totals(calibrated)

