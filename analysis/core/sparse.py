"""Many classes: the confident joint and the noise estimate as sparse matrices.

With K classes the dense (K, K) matrices cost ``8 K^2`` bytes each (800 MB at K = 10,000)
and the compiled counting kernel one more per thread; a confident joint has at most
``N + K`` non-zero entries. From :data:`SPARSE_MIN_CLASSES` classes on,
:class:`analysis.core.evidence.Evidence` counts, calibrates and prunes in ``scipy.sparse`` CSR
form, and :class:`analysis.core.confident.NoiseEstimate` holds CSR matrices (``confident_joint``,
``joint``, ``noise_matrix``, ``inverse_noise_matrix``).

The numbers are those of the dense computation, bit for bit: every element-wise operation
is the same, and every float sum follows the order numpy's dense sum takes — the pairwise
summation tree over the Fortran-ordered (K, K) array for the calibration total and the
columns of the inverse noise matrix (:func:`analysis.core._kernels.sparse_pairwise_sum`, which
skips the parts of the tree that hold only zeros: they add exactly 0), and the row-by-row
accumulation for column sums of a C-ordered array (``np.bincount`` with weights in row
order). Each row is rounded by :func:`analysis.core.numbers.round_preserving_sum` on a dense
copy of that one row.

Options whose dense definition fills zero entries (``converge=True``,
``num_to_remove_per_class``) densify the matrix when it fits in memory
(:mod:`analysis.core.limits`), else are refused with the numbers.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from analysis.core import _kernels
from analysis.core.numbers import EPS, prior_by_count, round_preserving_sum

#: From this many classes on, the confident joint and the noise estimate are sparse.
SPARSE_MIN_CLASSES = 1000
_TINY = 1e-100


def is_sparse(matrix) -> bool:
    return sp.issparse(matrix)


def counts_from_guess(guess: np.ndarray, labels: np.ndarray, k: int) -> sp.csr_array:
    """``counts[true, given]`` of the rows with a guess (``guess >= 0``), CSR int64."""
    valid = guess >= 0
    flat = guess[valid] * k + labels[valid]
    keys, counts = np.unique(flat, return_counts=True)
    return sp.csr_array((counts.astype(np.int64), (keys // k, keys % k)), shape=(k, k))


def raw_joint(counts: sp.csr_array) -> sp.csr_array:
    """The raw confident joint (rows = given label) with at least 1 on the diagonal."""
    cj = sp.csr_array(counts.T)
    diag = np.maximum(cj.diagonal(), 1)
    cj = cj.tolil()
    cj.setdiag(diag)
    out = sp.csr_array(cj)
    out.sort_indices()
    return out


def _f_order_positions(m: sp.csr_array) -> tuple[np.ndarray, np.ndarray]:
    """Non-zero values of ``m`` and their positions in the Fortran-ordered flattening."""
    coo = sp.coo_array(m)
    pos = coo.col.astype(np.int64) * m.shape[0] + coo.row.astype(np.int64)
    order = np.argsort(pos, kind="stable")
    return pos[order], coo.data[order]


def calibrate(cj: sp.csr_array, label_counts: np.ndarray) -> sp.csr_array:
    """:func:`analysis.core.evidence.calibrate_confident_joint` of a sparse confident joint: the
    same integers."""

    k = cj.shape[0]
    label_counts = np.asarray(label_counts)
    cj = sp.csr_array(cj)
    cj.sum_duplicates()
    cj.sort_indices()
    row_sums = np.clip(np.asarray(cj.sum(axis=1)).ravel(), a_min=_TINY, a_max=None)
    rows = np.repeat(np.arange(k), np.diff(cj.indptr))
    values = cj.data / row_sums[rows] * label_counts[rows]
    calibrated = sp.csr_array((values, cj.indices.copy(), cj.indptr.copy()), shape=(k, k))
    pos, vals = _f_order_positions(calibrated)
    total = np.clip(_kernels.sparse_pairwise_sum(pos, vals, k * k), a_min=_TINY, a_max=None)
    values = values / total * int(label_counts.sum())
    out = np.empty(values.size, np.int64)
    dense = np.zeros(k)
    for i in range(k):
        lo, hi = cj.indptr[i], cj.indptr[i + 1]
        if lo == hi:
            continue
        cols = cj.indices[lo:hi].astype(np.int64)
        rounded = _round_row(cols, values[lo:hi], k)
        if rounded is None:  # a tie the sort decides: the dense row, as the dense code
            dense[cols] = values[lo:hi]
            full = round_preserving_sum(dense)
            dense[cols] = 0
            if np.count_nonzero(full) > np.count_nonzero(full[cols]):
                raise AssertionError("rounding moved a count onto a zero entry")
            rounded = full[cols]
        out[lo:hi] = rounded
    result = sp.csr_array((out, cj.indices.copy(), cj.indptr.copy()), shape=(k, k))
    result.eliminate_zeros()
    result.sort_indices()
    return result


def _round_row(cols: np.ndarray, vals: np.ndarray, k: int) -> np.ndarray | None:
    """:func:`analysis.core.numbers.round_preserving_sum` of a length-``k`` row that is zero
    except ``vals`` at ``cols``, on the non-zero entries only; ``None`` when which entries
    move depends on how the sort orders tied remainders (the caller uses the dense row)."""

    ints = vals.round()
    target = np.round(_kernels.sparse_pairwise_sum(cols, vals, k))
    gap = target - ints.sum().round()
    if abs(gap) <= EPS:
        return ints.astype(np.int64)
    step = 1 if gap > 0 else -1
    count = min(int(abs(gap)), k)
    zeros = k - vals.size  # entries of remainder 0 outside cols
    rem = (vals - ints) * step  # the `count` largest move
    if count >= rem.size:
        return None
    order = np.argsort(-rem, kind="stable")
    boundary, after = rem[order[count - 1]], rem[order[count]]
    if boundary == after or (zeros and boundary <= 0):
        return None
    ints[order[:count]] += step
    if abs(target - ints.sum().round()) > EPS:
        return None
    return ints.astype(np.int64)


def _column_sums_c_order(m: sp.csr_array) -> np.ndarray:
    """``dense.sum(axis=0)`` of a C-ordered dense matrix: per column, the rows added in row
    order (``np.bincount`` accumulates its weights in input order, CSR is row order)."""
    m = sp.csr_array(m)
    m.sort_indices()
    return np.bincount(m.indices, weights=m.data, minlength=m.shape[1])


def _column_sums_f_order(m) -> np.ndarray:
    """``dense.sum(axis=0)`` of a Fortran-ordered dense matrix: numpy's pairwise sum per
    column."""
    csc = sp.csc_array(m)
    csc.sort_indices()
    return _kernels.sparse_column_pairwise_sums(csc.indptr, csc.indices, csc.data.astype(float),
                                                m.shape[0])


def _clip_rates(m, column_sums) -> sp.csr_array:
    """:func:`analysis.core.confident._clip_noise_rates` with the column sums of the given order."""
    m = sp.csr_array(m, dtype=float)
    m.sort_indices()
    rows = np.repeat(np.arange(m.shape[0]), np.diff(m.indptr))
    diag = rows == m.indices
    clipped = np.clip(m.data, 0, 0.9999)
    clipped[diag] = m.data[diag]
    c = sp.csr_array((clipped, m.indices, m.indptr), shape=m.shape)
    sums = np.clip(column_sums(c), a_min=_TINY, a_max=None)
    return sp.csr_array((clipped / sums[m.indices], m.indices, m.indptr), shape=m.shape)


def noise_parts(cj: sp.csr_array, label_counts: np.ndarray, n: int):
    """joint, noise, inverse, prior and noise rate of :func:`analysis.core.confident
    .noise_estimate_from`, from a sparse calibrated confident joint."""

    k = cj.shape[0]
    cj = sp.csr_array(cj)
    cj.sort_indices()
    total = float(cj.data.sum())
    joint = sp.csr_array((cj.data / np.clip(total, a_min=_TINY, a_max=None), cj.indices,
                          cj.indptr), shape=cj.shape)
    given_counts = np.asarray(cj.sum(axis=1)).ravel().astype(float)
    true_counts = np.asarray(cj.sum(axis=0)).ravel().astype(float)
    noise = sp.csr_array((cj.data / np.clip(true_counts, a_min=_TINY, a_max=None)[cj.indices],
                          cj.indices, cj.indptr), shape=cj.shape)
    # inverse[a, b] = cj[b, a] / given[b]
    rows = np.repeat(np.arange(k), np.diff(cj.indptr))
    inv_vals = cj.data / np.clip(given_counts, a_min=_TINY, a_max=None)[rows]
    inverse = sp.csr_array(sp.csr_array((inv_vals, cj.indices, cj.indptr), shape=cj.shape).T)
    given_prior = label_counts / float(n)
    prior = prior_by_count(inverse, noise, given_prior, EPS)  # reads the diagonals only
    # noise is C-ordered in the dense code (row sums of cj divide it), inverse the transpose
    # of a C-ordered array (Fortran-ordered)
    inverse = _clip_rates(inverse, _column_sums_f_order)
    noise = _clip_rates(noise, _column_sums_c_order)
    return joint, noise, inverse, prior, 1.0 - inverse.diagonal()


def prune_counts(cj: sp.csr_array, min_examples: int) -> sp.csr_array:
    """:func:`analysis.core.issues._prune_counts` with ``frac_noise=1`` and no
    ``num_to_remove_per_class``, sparse: ``counts[j, k]`` rows to prune per (true j, given
    k)."""
    counts = sp.csc_array(cj.T)  # [true j, given k]; columns = given classes
    counts.sort_indices()
    k = counts.shape[0]
    diagonal = counts.diagonal()
    kept = np.maximum(diagonal, min_examples)
    per_col = np.maximum(np.diff(counts.indptr) - 1.0, 1.0)
    cols = np.repeat(np.arange(k), np.diff(counts.indptr))
    adjusted = counts.data - ((kept - diagonal) / per_col)[cols]
    adjusted[adjusted < 0] = 0
    diag = counts.indices == cols
    adjusted[diag] = kept[cols[diag]]
    out = sp.csc_array((adjusted.astype(int), counts.indices, counts.indptr), shape=(k, k))
    # a kept count on a diagonal entry that was absent (min_examples > 0 on an empty class)
    missing = np.flatnonzero(out.diagonal() != kept)
    if missing.size:
        lil = out.tolil()
        lil[missing, missing] = kept[missing].astype(int)
        out = sp.csc_array(lil)
    out = sp.csr_array(out)
    out.eliminate_zeros()
    out.sort_indices()
    return out


def pairs(counts, skip: np.ndarray, label_counts: np.ndarray):
    """The (given class k, other class j) pairs of the ``prune_by_noise_rate`` selection:
    ``pair_class`` (sorted), ``pair_j``, ``want`` = min(counts[j, k], N_k) > 0, and
    ``pair_start`` (K + 1 offsets), from a dense or sparse ``counts[j, k]``."""
    k = label_counts.size
    if sp.issparse(counts):
        t = sp.csr_array(sp.csr_array(counts).T)  # [k, j]
        t.sort_indices()
        pair_class = np.repeat(np.arange(k), np.diff(t.indptr))
        pair_j = t.indices.astype(np.int64)
        values = t.data
    else:
        wanted = np.asarray(counts).T
        pair_class, pair_j = np.nonzero(wanted)
        values = wanted[pair_class, pair_j]
    ok = (pair_class != pair_j) & (values > 0) & ~skip[pair_class] & (label_counts[pair_class] > 0)
    pair_class, pair_j, values = pair_class[ok], pair_j[ok].astype(np.int64), values[ok]
    want = np.minimum(values, label_counts[pair_class]).astype(np.int64)
    pair_start = np.searchsorted(pair_class, np.arange(k + 1)).astype(np.int64)
    return pair_class, pair_j, want, pair_start


def cells_at_least(cj, min_count: int) -> tuple[np.ndarray, np.ndarray]:
    """(given, true) of the off-diagonal cells of a sparse confident joint holding at least
    ``min_count`` rows, in row-major order (as ``np.nonzero`` lists them). ``min_count`` must
    be at least 1: the empty cells of many classes are not listed."""
    if min_count < 1:
        raise ValueError(f"min_count must be at least 1 with {cj.shape[0]:,} classes (sparse "
                         f"confident joint), got {min_count}.")
    coo = sp.coo_array(cj)
    keep = (coo.row != coo.col) & (coo.data >= min_count)
    rows, cols = coo.row[keep].astype(np.int64), coo.col[keep].astype(np.int64)
    order = np.lexsort((cols, rows))
    return rows[order], cols[order]
