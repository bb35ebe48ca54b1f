"""Which rows are label issues, and how sure: filters, quality scores and rankings."""

from __future__ import annotations

import numpy as np

from analysis.core import limits, sparse
from analysis.core._helpers import check_choice
from analysis.core.confident import evidence
from analysis.core.evidence import Evidence
from analysis.core.numbers import round_preserving_row_totals
from analysis.core.selection import smallest

FILTERS = (
    "prune_by_noise_rate",
    "prune_by_class",
    "both",
    "confident_learning",
    "predicted_neq_given",
    "low_self_confidence",
    "low_normalized_margin",
)
RANKINGS = ("self_confidence", "normalized_margin", "confidence_weighted_entropy")
_PRUNE_FILTERS = ("prune_by_noise_rate", "prune_by_class", "both")
_CLIP = 1e-6


def scores_from(ev: Evidence, method: str) -> np.ndarray:
    """Label quality scores (low = likely wrong) from computed evidence."""
    check_choice(method, RANKINGS, "method")
    sc = ev.self_confidence
    if method == "self_confidence":
        return sc
    if method == "normalized_margin":
        one = ev.dtype.type(1)
        return (sc - ev.max_other + one) / ev.dtype.type(2)
    entropy = -ev.xlogx_sum / np.log(ev.k)
    # only tolerated rounding above 1 makes it negative: a score must stay in [0, 1]
    entropy = np.maximum(entropy, 0)
    weighted = entropy / np.clip(sc, a_min=_CLIP, a_max=None)
    return np.log(weighted + 1) / np.clip(weighted, a_min=_CLIP, a_max=None)


def label_quality_scores(
    labels, pred_probs, *, method: str = "self_confidence", chunk_rows: int | None = None,
    progress=None,
) -> np.ndarray:
    """Score every label: near 0 = probably wrong, near 1 = probably right.

    Parameters
    ----------
    labels : array-like of shape (N,)
        Given labels, integers 0..K-1.
    pred_probs : array-like of shape (N, K)
        Out-of-fold predicted probabilities.
    method : {"self_confidence", "normalized_margin", "confidence_weighted_entropy"}
        ``self_confidence``: p(given label). ``normalized_margin``: (p(given) - max other p
        + 1) / 2. ``confidence_weighted_entropy``: log(1 + e / p) / (e / p) with e the row's
        entropy normalised by log K and p the self-confidence.
    chunk_rows : int, optional
        Rows per chunk. ``pred_probs`` may also be a ``.npy`` path (memory-mapped), a zarr
        array or its path, or a ``dask.array.Array``: read in row chunks, identical results.
    progress : callable(fraction, message), optional
        Progress of the chunked route.

    Returns
    -------
    ndarray of shape (N,)
        Scores in [0, 1].
    """
    check_choice(method, RANKINGS, "method")
    ev = evidence(labels, pred_probs, chunk_rows=chunk_rows, require_two_classes=False,
                  progress=progress)
    return scores_from(ev, method)


def _num_off_diagonal(ev: Evidence) -> int:
    return ev.num_issues()


def num_label_issues(labels, pred_probs, *, estimation_method: str = "off_diagonal") -> int:
    """Estimate how many labels are wrong.

    Parameters
    ----------
    labels : array-like of shape (N,)
    pred_probs : array-like of shape (N, K)
    estimation_method : {"off_diagonal", "off_diagonal_calibrated"}
        ``off_diagonal``: rows counted off the diagonal of the (uncalibrated) confident joint
        whose given label is not the predicted one. ``off_diagonal_calibrated``:
        ``round(N * (1 - trace(joint)))`` of the calibrated joint.

    Returns
    -------
    int
    """
    methods = ("off_diagonal", "off_diagonal_calibrated")
    check_choice(estimation_method, methods, "estimation_method")
    ev = evidence(labels, pred_probs)
    if estimation_method == "off_diagonal":
        return _num_off_diagonal(ev)
    cj = ev.confident_joint
    joint = cj / np.clip(float(np.sum(cj)), a_min=1e-100, a_max=None)
    return int(np.rint((1.0 - joint.trace()) * ev.n))


def _prune_counts(ev: Evidence, min_examples: int, frac_noise: float, num_to_remove) -> np.ndarray:
    """How many rows to prune per (true j, given k): ``counts[j, k]``.

    Starts from the calibrated confident joint, keeps at least ``min_examples`` rows per
    class (taking the difference evenly from the non-zero noise counts of that class), scales
    the noise counts by ``frac_noise`` and, if given, rescales them to remove exactly
    ``num_to_remove[k]`` rows from class k.
    """
    if ev.sparse:
        if frac_noise == 1.0 and num_to_remove is None:
            return sparse.prune_counts(ev.confident_joint, min_examples)
        # the dense definition fills zero entries: dense, if it fits
        limits.check_dense_matrices(ev.k, 8 * 6, "frac_noise / num_to_remove_per_class")
        counts = ev.confident_joint.toarray().T
    else:
        counts = ev.confident_joint.T
    diagonal = np.diagonal(counts)
    kept = np.maximum(diagonal, min_examples)
    per_col = np.maximum(np.count_nonzero(counts, axis=0) - 1.0, 1.0)
    adjusted = counts - (kept - diagonal) / per_col
    adjusted[adjusted < 0] = 0
    np.fill_diagonal(adjusted, kept)
    scaled = adjusted * frac_noise
    np.fill_diagonal(scaled, adjusted.diagonal())
    np.fill_diagonal(scaled, adjusted.diagonal() + np.sum(adjusted - scaled, axis=0))
    counts = round_preserving_row_totals(scaled.astype(int))
    if num_to_remove is not None:
        # a class with no estimated noise gives 0 / 0 here, as in the reference: stay quiet
        with np.errstate(divide="ignore", invalid="ignore"):
            share = counts / np.sum(counts, axis=1)
            noise_per_class = share.sum(axis=1) - share.diagonal()
            target = (share.T * num_to_remove / noise_per_class).T
            np.fill_diagonal(target, ev.label_counts - num_to_remove)
            counts = round_preserving_row_totals(target)
    return counts


def _prune_mask(ev: Evidence, filter_by: str, counts: np.ndarray, min_examples: int):
    by_class = np.zeros(ev.n, dtype=bool)
    skip = (ev.label_counts <= min_examples) | (ev.label_counts < 2)
    if filter_by in ("prune_by_class", "both"):
        kept = counts.diagonal()
        for k in np.flatnonzero(~skip):
            num = int(ev.label_counts[k]) - int(kept[k])
            if num >= 1:
                rows = ev.rows_of(k)
                by_class[rows[smallest(ev.self_confidence[rows], num)]] = True
    by_rate = None
    if filter_by in ("prune_by_noise_rate", "both"):
        by_rate = ev.noise_rate_mask(counts, skip)
    if filter_by == "prune_by_class":
        return by_class
    if filter_by == "prune_by_noise_rate":
        return by_rate
    return by_class & by_rate


def issues_mask_from(
    ev: Evidence,
    filter_by: str = "prune_by_noise_rate",
    *,
    frac_noise: float = 1.0,
    num_to_remove_per_class=None,
    min_examples_per_class: int = 1,
) -> np.ndarray:
    """Boolean label-issue mask from computed evidence (see :func:`find_label_issues`)."""
    check_choice(filter_by, FILTERS, "filter_by")
    if filter_by not in _PRUNE_FILTERS and (
        frac_noise != 1.0 or num_to_remove_per_class is not None
    ):
        raise ValueError(
            "frac_noise and num_to_remove_per_class apply only to filter_by "
            f"{', '.join(_PRUNE_FILTERS)}; got filter_by={filter_by!r}."
        )
    if not 0.0 < frac_noise <= 1.0:
        raise ValueError(f"frac_noise must be in (0, 1], got {frac_noise}.")
    if min_examples_per_class < 0:
        raise ValueError(f"min_examples_per_class must be >= 0, got {min_examples_per_class}.")
    if num_to_remove_per_class is not None:
        num_to_remove_per_class = np.asarray(num_to_remove_per_class)
        if num_to_remove_per_class.ndim == 0:  # one count for every class, as the reference
            num_to_remove_per_class = np.full(ev.k, num_to_remove_per_class)
        if num_to_remove_per_class.shape != (ev.k,) or np.any(num_to_remove_per_class < 0):
            raise ValueError(
                f"num_to_remove_per_class must hold {ev.k} non-negative counts (one per class)."
            )
        over = np.flatnonzero(num_to_remove_per_class > ev.label_counts)
        if over.size:
            raise ValueError(
                f"num_to_remove_per_class asks to remove more rows than class {over[0]} has "
                f"({num_to_remove_per_class[over[0]]} > {ev.label_counts[over[0]]})."
            )

    if filter_by in ("low_self_confidence", "low_normalized_margin"):
        scores = scores_from(ev, filter_by[4:])
        mask = np.zeros(ev.n, dtype=bool)
        mask[smallest(scores, _num_off_diagonal(ev))] = True
        return mask
    if filter_by in _PRUNE_FILTERS:
        counts = _prune_counts(ev, min_examples_per_class, frac_noise, num_to_remove_per_class)
        mask = _prune_mask(ev, filter_by, counts, min_examples_per_class)
    elif filter_by == "confident_learning":
        mask = ev.off_diagonal.copy()
    else:  # predicted_neq_given
        mask = ev.predicted != ev.labels
    # a row whose given label is (within 1e-6) the model's prediction is never an issue
    rows = np.flatnonzero(mask)
    mask[rows[ev.label_wins_at(rows)]] = False
    return mask


def rank_flagged(scores: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Indices of the flagged rows, lowest score (most likely wrong) first.

    The one ranking of label issues: :func:`find_label_issues` with ``rank_by`` and
    :attr:`analysis.pipeline.Analysis.ranked` (hence ``label_issues.csv``) both use it.

    Tied scores keep the reference implementation's order: the flagged rows' scores, taken in
    row order, sorted by numpy's default ``argsort``. That sort is not stable (tied rows do
    not stay in row order), and which order it leaves ties in may change with the numpy
    version and the CPU's vector instructions; on a given machine it is the reference's order.
    """
    rows = np.flatnonzero(mask)
    return rows[np.argsort(scores[rows])]


def rank_issues(ev: Evidence, mask: np.ndarray, rank_by: str) -> np.ndarray:
    """Indices of the flagged rows, most likely wrong first (see :func:`rank_flagged`)."""
    return rank_flagged(scores_from(ev, rank_by), mask)


def find_label_issues(
    labels,
    pred_probs,
    *,
    filter_by: str = "prune_by_noise_rate",
    rank_by: str | None = None,
    frac_noise: float = 1.0,
    num_to_remove_per_class=None,
    min_examples_per_class: int = 1,
    chunk_rows: int | None = None,
    progress=None,
) -> np.ndarray:
    """Find the rows whose given label is probably wrong.

    Parameters
    ----------
    labels : array-like of shape (N,)
        Given labels, integers 0..K-1.
    pred_probs : array-like of shape (N, K)
        Out-of-fold predicted probabilities, rows summing to 1 (within 1e-3).
    filter_by : str, default="prune_by_noise_rate"
        ``prune_by_noise_rate``: from each given class k and each other class j, the
        ``C[k, j]`` rows with the largest margin p(j) - p(k) (C the calibrated confident
        joint). ``prune_by_class``: from each class k, its N_k - C[k, k] rows of lowest
        p(k). ``both``: rows both of these flag. ``confident_learning``: rows counted off the
        diagonal of the confident joint. ``predicted_neq_given``: arg-max != given.
        ``low_self_confidence`` / ``low_normalized_margin``: the
        :func:`num_label_issues` rows of lowest score. Every filter but the last two keeps
        rows whose given label is the prediction.
    rank_by : {"self_confidence", "normalized_margin", "confidence_weighted_entropy"}, optional
        If given, return the flagged row indices sorted by that score, lowest first (ties as
        the reference orders them, see :func:`rank_flagged`).
    frac_noise : float in (0, 1], default=1.0
        Prune only this fraction of the estimated noise (prune filters only).
    num_to_remove_per_class : array-like of shape (K,) or int, optional
        Number of rows to remove per class (prune filters only); a single number applies to
        every class. Exact for
        ``prune_by_class``; ``prune_by_noise_rate`` spreads it by true class, as the
        reference implementation does, so it is a target there, not a count.
    min_examples_per_class : int, default=1
        Classes with at most this many rows are not pruned, and pruning leaves at least this
        many rows in every class.
    chunk_rows : int, optional
        Rows per chunk. ``pred_probs`` may also be the path of a ``.npy`` file (memory-mapped),
        a zarr array or its path, or a ``dask.array.Array`` chunked by rows (run on the active
        ``dask.distributed`` client): read in row chunks, never whole, with results identical
        to the in-memory call (``analysis.core.chunked`` states the passes and the memory bound).
    progress : callable(fraction, message), optional
        Progress of the chunked route, per pass and chunk.

    Returns
    -------
    ndarray
        Boolean mask of shape (N,), or int indices of the flagged rows when ``rank_by`` is set.
    """
    if rank_by is not None:
        check_choice(rank_by, RANKINGS, "rank_by")
    ev = evidence(labels, pred_probs, chunk_rows=chunk_rows, progress=progress)
    mask = issues_mask_from(
        ev,
        filter_by,
        frac_noise=frac_noise,
        num_to_remove_per_class=num_to_remove_per_class,
        min_examples_per_class=min_examples_per_class,
    )
    return mask if rank_by is None else rank_issues(ev, mask, rank_by)
