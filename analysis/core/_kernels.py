"""Compiled row kernels: one pass over ``pred_probs`` each, no (N, K) temporaries.

Every kernel works in the dtype of its input (float32 stays float32) and reproduces the
rounding of the equivalent numpy expression, so results are bit-identical to the plain
numpy formulation of the same definition.

Compilation is lazy (on a kernel's first call, for the dtypes it meets) and kept on disk
(numba's ``cache=True``; :func:`analysis.core.cache.numba_cache_folder` when numba has no
writable place). The row kernels come in two builds (:class:`_TwoBuilds`): serial for inputs
under :data:`PARALLEL_MIN_ELEMENTS` values, parallel above: a first analysis of 30k rows x 10
classes compiled its kernels in 17 s in the parallel build, 6.5 s in the serial one (2-core
machine, ``benchmarks/first_run.py``), and on such inputs a pass takes milliseconds either way.
"""

from __future__ import annotations

import math
import os
import types

import numba as nb
import numpy as np

from analysis.core import cache

#: Inputs (the first argument, usually ``pred_probs``) of at least this many values run the
#: parallel build of a kernel, smaller ones the serial build (when numba has more than one
#: thread). A serial pass over 5e7 float64 values takes ~50 ms: below, the parallel build
#: saves less per run than its extra compilation (~11 s, once per install) costs.
PARALLEL_MIN_ELEMENTS = 50_000_000


def _probe():  # pragma: no cover - compiled only to find where numba can cache
    return 0


def _cache_available() -> bool:
    """Whether numba can keep this module's kernels on disk; when it has no writable place
    (it would raise ``RuntimeError`` at import), ``NUMBA_CACHE_DIR`` is pointed at the
    workspace (:func:`analysis.core.cache.numba_cache_folder`) first, also for pynndescent,
    imported later. ``False``: compile without a cache (each process compiles again)."""
    try:
        nb.njit(cache=True)(_probe)
        return True
    except RuntimeError:
        pass
    folder = cache.numba_cache_folder()
    if folder is None:
        return False
    os.environ["NUMBA_CACHE_DIR"] = str(folder)  # numba re-reads its config from it
    nb.config.CACHE_DIR = str(folder)
    try:
        nb.njit(cache=True)(_probe)
        return True
    except RuntimeError:  # pragma: no cover - the folder was just written to
        return False


_OPTS = {"cache": _cache_available(), "nogil": True}


def _renamed(fn, suffix: str):
    """A copy of ``fn`` under another qualified name: numba keeps each build's cache files
    under its function's name and line, so the two builds of one kernel must not share it."""
    new = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__, fn.__defaults__,
                             fn.__closure__)
    new.__qualname__ = f"{fn.__qualname__}_{suffix}"
    new.__module__ = fn.__module__
    new.__doc__ = fn.__doc__
    return new


class _TwoBuilds:
    """A row kernel compiled on first use in the build its input needs: ``serial`` (a plain
    loop) or ``parallel`` (``prange`` over numba's threads) for inputs of at least
    :data:`PARALLEL_MIN_ELEMENTS` values. Both give the same results."""

    def __init__(self, fn, options: dict):
        self.__name__ = fn.__name__
        self.__qualname__ = fn.__qualname__
        self.__doc__ = fn.__doc__
        self.__wrapped__ = fn
        self.serial = nb.njit(**options, **_OPTS)(_renamed(fn, "serial"))
        self.parallel = nb.njit(parallel=True, **options, **_OPTS)(fn)

    def __call__(self, *args):
        big = np.size(args[0]) >= PARALLEL_MIN_ELEMENTS and nb.get_num_threads() > 1
        return (self.parallel if big else self.serial)(*args)

    def __reduce__(self):  # pickled by name (a dask task), as a function is
        return _by_name, (self.__name__,)


def _by_name(name: str) -> _TwoBuilds:
    return globals()[name]


def _row_kernel(**options):
    """Decorator: :class:`_TwoBuilds` with numba ``options`` (fastmath)."""
    return lambda fn: _TwoBuilds(fn, options)


@_row_kernel(fastmath={"reassoc", "nsz"})
def row_checks(pred_probs, tol):
    """Per row, the first problem found: 0 none, 1 NaN or infinity, 2 a value below ``-tol``,
    3 a value above ``1 + tol``, 4 a sum more than ``tol`` away from 1."""
    n, k = pred_probs.shape
    codes = np.empty(n, np.uint8)
    for i in nb.prange(n):
        row = pred_probs[i]
        s = row[0] - row[0]
        lo = row[0]
        hi = row[0]
        for j in range(k):
            v = row[j]
            s += v
            lo = min(lo, v)
            hi = max(hi, v)
        # NaN shows in the sum, infinity in the min or max (a sum that overflows on huge
        # finite values is a value above 1); comparisons stay honest under these flags
        if s != s or not (lo > -np.inf and hi < np.inf):
            codes[i] = 1
        elif lo < -tol:
            codes[i] = 2
        elif hi > 1.0 + tol:
            codes[i] = 3
        elif abs(s - 1.0) > tol:
            codes[i] = 4
        else:
            codes[i] = 0
    return codes


# The kernels below run on validated, finite input: max/min reductions may vectorise.
_FINITE = {"nnan", "ninf", "nsz", "reassoc"}


@nb.njit(inline="always", **_OPTS)
def _max(row, lo, hi):
    m = -np.inf
    for j in range(lo, hi):
        m = max(m, row[j])
    return m


@nb.njit(inline="always", **_OPTS)
def _first_equal(row, value):
    for j in range(row.size):
        if row[j] == value:
            return j
    return -1


@nb.njit(inline="always", **_OPTS)
def _guess_row(row, thresholds, k):
    count = 0
    for j in range(k):
        count += row[j] >= thresholds[j]
    if count == 0:
        return -1
    if count == 1:
        for j in range(k):
            if row[j] >= thresholds[j]:
                return j
    return _first_equal(row, _max(row, 0, k))


@_row_kernel(fastmath=_FINITE)
def confident_guess(pred_probs, thresholds, labels, blocks):
    """Estimated true class of each row (-1 when no class reaches its threshold), and the
    counts ``counts[true, given]`` of the rows with a guess.

    A class is *confident* for a row when its probability is at or above the class threshold.
    With one confident class that class is the guess; with several, the row's arg-max class
    (the first maximum). ``blocks``: how many parts the rows are cut into (the thread
    count), each counting into its own (K, K) array.
    """
    n, k = pred_probs.shape
    out = np.empty(n, np.int64)
    partial = np.zeros((blocks, k, k), np.int64)
    step = (n + blocks - 1) // blocks
    for b in nb.prange(blocks):
        for i in range(b * step, min(n, (b + 1) * step)):
            g = _guess_row(pred_probs[i], thresholds, k)
            out[i] = g
            if g >= 0:
                partial[b, g, labels[i]] += 1
    counts = np.zeros((k, k), np.int64)
    for b in range(blocks):
        counts += partial[b]
    return out, counts


@_row_kernel(fastmath=_FINITE)
def row_facts(pred_probs, labels, eps):
    """Arg-max class (first maximum), largest probability among the other classes, and
    whether the given label is the arg-max once ``eps`` is added to its probability (in the
    input dtype; earlier classes win ties, as arg-max returns the first maximum)."""
    n, k = pred_probs.shape
    argmax = np.empty(n, np.int64)
    max_other = np.empty(n, pred_probs.dtype)
    label_wins = np.empty(n, np.bool_)
    for i in nb.prange(n):
        row = pred_probs[i]
        lab = labels[i]
        before = _max(row, 0, lab)
        after = _max(row, lab + 1, k)
        other = max(before, after)
        own = row[lab]
        argmax[i] = _first_equal(row, max(other, own))
        max_other[i] = other
        bumped = own + eps
        label_wins[i] = before < bumped and after <= bumped
    return argmax, max_other, label_wins


@_row_kernel(fastmath=_FINITE)
def label_wins_rows(pred_probs, labels, rows, eps):
    """The ``label_wins`` of :func:`row_facts` for the given rows only."""
    k = pred_probs.shape[1]
    out = np.empty(rows.size, np.bool_)
    for t in nb.prange(rows.size):
        i = rows[t]
        row = pred_probs[i]
        lab = labels[i]
        bumped = row[lab] + eps
        out[t] = _max(row, 0, lab) < bumped and _max(row, lab + 1, k) <= bumped
    return out


@_row_kernel()
def gather(pred_probs, labels):
    """``pred_probs[i, labels[i]]`` for every row."""
    n = labels.size
    out = np.empty(n, pred_probs.dtype)
    for i in nb.prange(n):
        out[i] = pred_probs[i, labels[i]]
    return out


@nb.njit(**_OPTS)
def _block_sum(a, lo, n):
    # one leaf of numpy's pairwise summation: 8 accumulators over a block of <= 128 values
    if n < 8:
        res = a[lo] - a[lo]
        for i in range(n):
            res += a[lo + i]
        return res
    r0 = a[lo]
    r1 = a[lo + 1]
    r2 = a[lo + 2]
    r3 = a[lo + 3]
    r4 = a[lo + 4]
    r5 = a[lo + 5]
    r6 = a[lo + 6]
    r7 = a[lo + 7]
    i = 8
    m = n - (n % 8)
    while i < m:
        r0 += a[lo + i]
        r1 += a[lo + i + 1]
        r2 += a[lo + i + 2]
        r3 += a[lo + i + 3]
        r4 += a[lo + i + 4]
        r5 += a[lo + i + 5]
        r6 += a[lo + i + 6]
        r7 += a[lo + i + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[lo + i]
        i += 1
    return res


@nb.njit(**_OPTS)
def _pairwise_sum(a):
    """numpy's pairwise summation of a 1-D array (blocks of 128 halved on multiples of 8),
    so that the sum has the bits of ``np.sum(x, axis=1)`` on a C-contiguous row.

    Written with an explicit stack: recursive functions do not survive numba's disk cache.
    """
    n = a.size
    if n <= 128:
        return _block_sum(a, 0, n)
    task_lo = np.empty(128, np.int64)
    task_n = np.empty(128, np.int64)
    task_combine = np.empty(128, np.bool_)
    results = np.empty(128, a.dtype)
    sp = 0
    rp = 0
    task_lo[0] = 0
    task_n[0] = n
    task_combine[0] = False
    sp = 1
    while sp > 0:
        sp -= 1
        lo = task_lo[sp]
        m = task_n[sp]
        if task_combine[sp]:
            results[rp - 2] = results[rp - 2] + results[rp - 1]
            rp -= 1
        elif m <= 128:
            results[rp] = _block_sum(a, lo, m)
            rp += 1
        else:
            half = m // 2
            half -= half % 8
            task_lo[sp], task_n[sp], task_combine[sp] = lo, m, True
            task_lo[sp + 1], task_n[sp + 1], task_combine[sp + 1] = lo + half, m - half, False
            task_lo[sp + 2], task_n[sp + 2], task_combine[sp + 2] = lo, half, False
            sp += 3
    return results[0]


@_row_kernel()
def row_xlogx_sum(pred_probs):
    """``sum_j p_ij * log(p_ij)`` per row (0 log 0 = 0), in the input dtype."""
    n, k = pred_probs.shape
    out = np.empty(n, pred_probs.dtype)
    chunk = 4096
    for c in nb.prange((n + chunk - 1) // chunk):
        buf = np.empty(k, pred_probs.dtype)
        for i in range(c * chunk, min(n, (c + 1) * chunk)):
            for j in range(k):
                v = pred_probs[i, j]
                # 0 log 0 = 0; tolerated rounding below 0 counts as 0 too
                buf[j] = v * math.log(v) if v > 0 else v - v
            out[i] = _pairwise_sum(buf)
    return out


@nb.njit(**_OPTS)
def group_by_label(labels, counts):
    """Row indices sorted by label, stable within a label (a counting sort)."""
    starts = np.empty(counts.size, np.int64)
    total = 0
    for c in range(counts.size):
        starts[c] = total
        total += counts[c]
    pos = starts.copy()
    order = np.empty(labels.size, np.int64)
    for i in range(labels.size):
        lab = labels[i]
        order[pos[lab]] = i
        pos[lab] += 1
    return order, starts


@nb.njit(inline="always", **_OPTS)
def _sift_down(values, rows, lo, size, pos):
    # max-heap stored in values[lo:lo + size] (rows alongside)
    v = values[lo + pos]
    r = rows[lo + pos]
    while True:
        child = 2 * pos + 1
        if child >= size:
            break
        if child + 1 < size and values[lo + child + 1] > values[lo + child]:
            child += 1
        if values[lo + child] <= v:
            break
        values[lo + pos] = values[lo + child]
        rows[lo + pos] = rows[lo + child]
        pos = child
    values[lo + pos] = v
    rows[lo + pos] = r


@_row_kernel()
def prune_by_margin(pred_probs, order, starts, label_counts, counts, skip, mask):
    """The ``prune_by_noise_rate`` selection, one pass over each class's rows.

    For every given class k (not ``skip``) and other class j with ``c = counts[j, k] > 0``,
    sets ``mask`` on the c rows given k with the smallest ``p_k - p_j`` (in the input dtype):
    the set ``np.argsort(p_k - p_j)[:c]`` selects whenever the c-th smallest value is not
    tied. Pairs whose boundary value is tied are left unmarked and returned as ``True`` in
    a (K, K) array indexed [j, k], for the caller to resolve with the sort.
    """
    k_classes = counts.shape[0]
    tied = np.zeros((k_classes, k_classes), np.bool_)
    for k in nb.prange(k_classes):
        n_k = label_counts[k]
        if skip[k] or n_k == 0:
            continue
        rows_k = order[starts[k]:starts[k] + n_k]
        want = np.zeros(k_classes, np.int64)
        offset = np.zeros(k_classes + 1, np.int64)
        for j in range(k_classes):
            if j != k and counts[j, k] > 0:
                want[j] = min(counts[j, k], n_k)
            offset[j + 1] = offset[j] + want[j]
        values = np.empty(offset[k_classes], pred_probs.dtype)
        rows = np.empty(offset[k_classes], np.int64)
        size = np.zeros(k_classes, np.int64)
        # a value enters heap j only if below top[j]: +inf while it fills, -inf if unwanted
        top = np.empty(k_classes, pred_probs.dtype)
        for j in range(k_classes):
            top[j] = np.inf if want[j] > 0 else -np.inf
        # smallest value that left heap j or was turned away equal to its top: if it equals
        # the final top, a row outside the heap ties with the boundary
        lost = np.full(k_classes, np.inf)
        diff = np.empty(k_classes, pred_probs.dtype)
        for r in rows_k:
            row = pred_probs[r]
            own = row[k]
            for j in range(k_classes):
                diff[j] = own - row[j]
            for j in range(k_classes):
                v = diff[j]
                if v <= top[j]:
                    c = want[j]
                    lo = offset[j]
                    s = size[j]
                    if s < c:
                        values[lo + s] = v
                        rows[lo + s] = r
                        size[j] = s + 1
                        if s + 1 == c:
                            for pos in range(c // 2 - 1, -1, -1):
                                _sift_down(values, rows, lo, c, pos)
                            top[j] = values[lo]
                    elif v == top[j]:
                        lost[j] = min(lost[j], v)
                    else:
                        lost[j] = min(lost[j], values[lo])
                        values[lo] = v
                        rows[lo] = r
                        _sift_down(values, rows, lo, c, 0)
                        top[j] = values[lo]
        for j in range(k_classes):
            c = want[j]
            if c == 0:
                continue
            if lost[j] == top[j]:
                tied[j, k] = True
                continue
            for t in range(offset[j], offset[j] + c):
                mask[rows[t]] = True
    return tied


@_row_kernel(fastmath=_FINITE)
def guess_rows(pred_probs, thresholds):
    """The per-row guess of :func:`confident_guess` without the (K, K) counts (no per-thread
    (K, K) arrays: for many classes and for row chunks)."""
    n, k = pred_probs.shape
    out = np.empty(n, np.int64)
    for i in nb.prange(n):
        out[i] = _guess_row(pred_probs[i], thresholds, k)
    return out


@_row_kernel()
def margin_heaps(pred_probs, order, starts, label_counts, pair_start, pair_j, cap, offset,
                 values, rows, size, top, lost, row_offset, max_other):
    """The ``prune_by_noise_rate`` heaps of :func:`prune_by_margin`, per (class, other class)
    pair, fed one chunk of rows at a time (the state lives in the caller's arrays).

    Rows of the chunk are grouped by given class (``order``, ``starts``, ``label_counts``).
    Pair ``p`` in ``pair_start[k]:pair_start[k + 1]`` belongs to class k, with other class
    ``pair_j[p]``: a max-heap of the ``cap[p]`` smallest ``p_k - p_j`` seen so far in
    ``values[offset[p]:offset[p + 1]]`` with their rows (chunk row + ``row_offset``) in
    ``rows``, ``size[p]`` filled, ``top[p]`` its maximum (``inf`` while it fills), ``lost[p]``
    the smallest value seen that is not kept and may equal the final ``top`` (a tie at the
    boundary), exactly as in :func:`prune_by_margin`. Fed every chunk in row order, the heaps
    end as that kernel's do.

    ``max_other`` (the largest probability of each chunk row's other classes) skips a row at
    once when ``p_k - max_other`` exceeds every heap top of its class: then every
    ``p_k - p_j`` does (rounding is monotonic), so the row would change no heap.
    """
    k_classes = label_counts.size
    for k in nb.prange(k_classes):
        p0 = pair_start[k]
        p1 = pair_start[k + 1]
        n_k = label_counts[k]
        if p1 == p0 or n_k == 0:
            continue
        bound = top[p0]  # the largest heap top of the class (tops only decrease)
        for p in range(p0, p1):
            bound = max(bound, top[p])
        for t in range(starts[k], starts[k] + n_k):
            r = order[t]
            row = pred_probs[r]
            own = row[k]
            if own - max_other[r] > bound:
                continue
            for p in range(p0, p1):
                v = own - row[pair_j[p]]
                if v <= top[p]:
                    c = cap[p]
                    lo = offset[p]
                    s = size[p]
                    if s < c:
                        values[lo + s] = v
                        rows[lo + s] = r + row_offset
                        size[p] = s + 1
                        if s + 1 == c:
                            for pos in range(c // 2 - 1, -1, -1):
                                _sift_down(values, rows, lo, c, pos)
                            top[p] = values[lo]
                    elif v == top[p]:
                        lost[p] = min(lost[p], v)
                    else:
                        lost[p] = min(lost[p], values[lo])
                        values[lo] = v
                        rows[lo] = r + row_offset
                        _sift_down(values, rows, lo, c, 0)
                        top[p] = values[lo]
            bound = top[p0]
            for p in range(p0, p1):
                bound = max(bound, top[p])


@nb.njit(fastmath=_FINITE, **_OPTS)
def _facts_of_row(row, lab, eps):
    # the arithmetic of row_facts, on a row the checks found finite
    k = row.size
    before = _max(row, 0, lab)
    after = _max(row, lab + 1, k)
    other = max(before, after)
    own = row[lab]
    bumped = own + eps
    return own, _first_equal(row, max(other, own)), other, before < bumped and after <= bumped


@_row_kernel(fastmath={"reassoc", "nsz"})
def chunk_facts(pred_probs, labels, tol, eps):
    """:func:`row_checks`, :func:`gather` and :func:`row_facts` in one pass over the rows (one
    read of a chunk instead of three). The facts of a row with a problem code are unset.

    The checks keep :func:`row_checks`' arithmetic and flags; the facts of a valid row are
    :func:`row_facts`' (its finite-math flags), so both equal the separate kernels' exactly.
    """
    n, k = pred_probs.shape
    codes = np.empty(n, np.uint8)
    own_p = np.empty(n, pred_probs.dtype)
    argmax = np.empty(n, np.int64)
    max_other = np.empty(n, pred_probs.dtype)
    label_wins = np.empty(n, np.bool_)
    for i in nb.prange(n):
        row = pred_probs[i]
        s = row[0] - row[0]
        lo = row[0]
        hi = row[0]
        for j in range(k):
            v = row[j]
            s += v
            lo = min(lo, v)
            hi = max(hi, v)
        if s != s or not (lo > -np.inf and hi < np.inf):
            codes[i] = 1
        elif lo < -tol:
            codes[i] = 2
        elif hi > 1.0 + tol:
            codes[i] = 3
        elif abs(s - 1.0) > tol:
            codes[i] = 4
        else:
            codes[i] = 0
            own_p[i], argmax[i], max_other[i], label_wins[i] = _facts_of_row(row, labels[i], eps)
    return codes, own_p, argmax, max_other, label_wins


@nb.njit(**_OPTS)
def sparse_pairwise_sum(pos, vals, n):
    """numpy's pairwise sum (:func:`_pairwise_sum`) of a length-``n`` vector that is zero
    except ``vals`` at the sorted positions ``pos``: the same bits as summing the dense
    vector, without it. A part of the summation tree holding no value adds exactly 0."""
    buf = np.zeros(128, vals.dtype)
    if pos.size == 0:
        return buf[0]
    task_lo = np.empty(256, np.int64)
    task_n = np.empty(256, np.int64)
    task_combine = np.empty(256, np.bool_)
    results = np.empty(256, vals.dtype)
    rp = 0
    task_lo[0] = 0
    task_n[0] = n
    task_combine[0] = False
    sp = 1
    while sp > 0:
        sp -= 1
        lo = task_lo[sp]
        m = task_n[sp]
        if task_combine[sp]:
            results[rp - 2] = results[rp - 2] + results[rp - 1]
            rp -= 1
            continue
        i0 = np.searchsorted(pos, lo)
        i1 = np.searchsorted(pos, lo + m)
        if i0 == i1:
            results[rp] = buf[0] - buf[0]
            rp += 1
        elif m <= 128:
            block = np.zeros(m, vals.dtype)
            for t in range(i0, i1):
                block[pos[t] - lo] = vals[t]
            results[rp] = _block_sum(block, 0, m)
            rp += 1
        else:
            half = m // 2
            half -= half % 8
            task_lo[sp], task_n[sp], task_combine[sp] = lo, m, True
            task_lo[sp + 1], task_n[sp + 1], task_combine[sp + 1] = lo + half, m - half, False
            task_lo[sp + 2], task_n[sp + 2], task_combine[sp + 2] = lo, half, False
            sp += 3
    return results[0]


@nb.njit(**_OPTS)
def sparse_column_pairwise_sums(indptr, indices, data, n):
    """numpy's pairwise sum of each column of an (n, m) matrix given in CSC form (rows sorted
    within each column), as ``dense.sum(axis=0)`` gives it on a Fortran-ordered array."""
    m = indptr.size - 1
    out = np.empty(m, data.dtype)
    for c in range(m):
        lo = indptr[c]
        hi = indptr[c + 1]
        out[c] = sparse_pairwise_sum(indices[lo:hi].astype(np.int64), data[lo:hi], n)
    return out


@_row_kernel()
def most_common_other(neighbour_labels, labels):
    """Per row, the most common label among its neighbours other than its own (ties: the
    lowest class) and its count; -1 and 0 when every neighbour carries the row's label.
    ``neighbour_labels`` (N, k) int64, ``labels`` (N,) int64; O(N k^2), no (N, K) array."""
    n, k = neighbour_labels.shape
    best_label = np.full(n, -1, np.int64)
    best_count = np.zeros(n, np.int64)
    for i in nb.prange(n):
        own = labels[i]
        row = neighbour_labels[i]
        for j in range(k):
            c = row[j]
            if c == own:
                continue
            count = 0
            for m in range(k):
                if row[m] == c:
                    count += 1
            if count > best_count[i] or (count == best_count[i] and c < best_label[i]):
                best_count[i] = count
                best_label[i] = c
    return best_label, best_count
