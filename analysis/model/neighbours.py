"""Neighbourhood evidence: k nearest neighbours, label agreement, near-duplicates, outliers.

A second, model-free signal of a wrong label: a row whose neighbours (in the space of
:func:`analysis.model.embedding.prepare_features`, the space the map is drawn from) mostly carry
another label, and pairs of (near-)identical rows with different labels, where one label is
almost always wrong.

Memory is O(N * k): nothing here builds an N x N matrix. ``method="auto"`` takes the cheapest
search (:func:`search_algorithm`): an exact brute force in float32 blocks while
``N^2 (D + 120)`` is at most :data:`BRUTE_MAX_COST` (30k x 30 in ~3-6 s on a 2-core machine,
no compilation), an exact k-d tree above that for at most 5 dimensions, and only beyond both
pynndescent's approximate k-NN graph (NN-descent): 100k x 64 in ~14 s once compiled, but its
numba compilation costs ~40-55 s on the first call of a process in a fresh install; recall@10
0.95 on the benchmark's generated data and 0.94 on isotropic 64-D blobs, the hardest case
(``benchmarks/embedding_speed.py``, ``benchmarks/first_run.py``). Cache the result
(``cache_key``) to pay that once.

The exact searches return the k nearest rows by the float64 distance of the float32 rows
(Euclidean ``sqrt(sum (x - y)^2)``, Manhattan ``sum |x - y|``, cosine
``1 - x.y / (|x| |y|)``), ties in row order: the same as a loop over all pairs. The
approximate graph's Euclidean and Manhattan distances are recomputed the same way, so
identical rows are at distance 0.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
from scipy.spatial.distance import cdist
from scipy.stats import rankdata
from sklearn.neighbors import KDTree

from analysis.core import cache
from analysis.core._helpers import Progress, no_progress
from analysis.model.embedding import check_matrix

#: Metrics supported by both the exact and the approximate search.
METRICS = ("euclidean", "manhattan", "cosine")
#: Search methods of :func:`nearest_neighbours`.
SEARCH_METHODS = ("auto", "exact", "approximate")
#: The brute-force search runs while ``N^2 (D + BRUTE_PAIR_OVERHEAD)`` is at most this: at the
#: measured 4.9e-11 s per unit that is ~53 s, what NN-descent's first call costs on a fresh
#: install (53 s on 30k x 30, nearly all numba compiling; 37 s with numba's on-disk cache
#: filled, 2 s once compiled in the process), so brute force is used wherever it is no
#: slower than a first NN-descent, and it is exact. 2-core machine, ``benchmarks/first_run.py``.
BRUTE_MAX_COST = 1.1e12
#: Per pair of rows, the brute-force search costs ``D`` (the float32 product) plus this, in
#: the same units: writing and reading the block once more (the group minima) costs as much
#: as ~120 dimensions of the product. Fitted to 20k rows x 4, 16, 64, 256 dimensions (2.43,
#: 2.47, 3.45, 7.32 s: 0.019 s per dimension, 2.35 s at none), ``benchmarks/first_run.py``.
BRUTE_PAIR_OVERHEAD = 120
#: Up to this many dimensions a k-d tree (scikit-learn's ``KDTree``) is exact and fast at any
#: N; above, its pruning fails: 200k isotropic Gaussian rows took 10 s in 4 dimensions, 119 s
#: in 6 and 201 s in 8 (2-core machine, loaded), against ~60 s for a first NN-descent.
KD_TREE_MAX_DIMS = 5
#: ``method="approximate"`` / above the brute-force and k-d tree limits: pynndescent's graph
#: is built with at least this many neighbours, then cut to k: a wider graph is what makes
#: NN-descent accurate (recall@10 0.53 -> 0.94 on isotropic 64-D blobs).
APPROX_GRAPH_NEIGHBOURS = 30
#: Default near-duplicate threshold, as a fraction of the median first-neighbour distance
#: (the default of cleanlab's Datalab near-duplicate check).
DUPLICATE_FRACTION = 0.13
#: 2: the exact search is exact to the float64 distance with ties in row order (it was
#: scikit-learn's, whose choice among ties at the k-th neighbour was its own).
CACHE_VERSION = 2

_CHUNK_BYTES = 64 * 2**20
#: Bytes of one block of the brute-force search (block rows x N distances).
_BLOCK_BYTES = 128 * 2**20
#: Relative rounding of scikit-learn's k-d tree distances against ours (both float64 sums
#: of D terms: ~D 1e-16), with a wide margin.
_TREE_SLACK = 1e-9
#: Absolute margin of the radius query of a row whose boundary distance is 0.
_TREE_ABS_SLACK = 1e-300


def nearest_neighbours(
    X,
    k: int = 10,
    *,
    metric: str = "euclidean",
    method: str = "auto",
    exact_max_rows: int | None = None,
    random_state: int | None = 0,
    cache_key: Any = None,
    progress: Progress | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest other rows of every row.

    Parameters
    ----------
    X : array-like of shape (N, D)
        Finite numeric matrix (usually :func:`analysis.model.embedding.prepare_features`), N >= 2.
    k : int
        Neighbours per row, ``1 <= k <= N - 1``.
    metric : {"euclidean", "manhattan", "cosine"}
    method : {"auto", "exact", "approximate"}
        ``"exact"``: brute force in blocks, or a k-d tree for at most
        :data:`KD_TREE_MAX_DIMS` dimensions where brute force costs more than
        :data:`BRUTE_MAX_COST`. ``"approximate"``: pynndescent NN-descent. ``"auto"``: the
        cheapest, :func:`search_algorithm`.
    exact_max_rows : int, optional
        With ``method="auto"``: exact up to this many rows, approximate above (instead of
        :func:`search_algorithm`'s choice).
    random_state : int or None
        Seed of the approximate search (single-threaded when set, so results do not depend on
        the number of cores).
    cache_key : optional
        As in :func:`analysis.model.embedding.project`: when given, the result is stored under
        ``workspace()/cache/neighbours`` keyed by it, the content of ``X`` and the parameters.
    progress : callable(fraction, message), optional
        Called at the start, before the search and when done.

    Returns
    -------
    indices : ndarray of shape (N, k), int64
        ``indices[i]`` are rows other than ``i`` itself, nearest first (exact searches: ties
        in row order). With exact duplicates a row's duplicates come before any other row,
        but never the row itself.
    distances : ndarray of shape (N, k), float32
        Matching distances, ascending along each row.

    Raises
    ------
    ValueError
        Bad ``X``, ``k`` out of range, unknown ``metric`` or ``method``.
    """
    if metric not in METRICS:
        raise ValueError(f"metric={metric!r} is not one of: {', '.join(METRICS)}.")
    if method not in SEARCH_METHODS:
        raise ValueError(f"method={method!r} is not one of: {', '.join(SEARCH_METHODS)}.")
    X = check_matrix(X, min_rows=2)
    n = X.shape[0]
    if not isinstance(k, int | np.integer) or isinstance(k, bool) or not 1 <= k <= n - 1:
        raise ValueError(f"k must be an integer from 1 to N - 1 = {n - 1} (other rows), got {k!r}.")
    k = int(k)
    if method == "auto" and exact_max_rows is not None:
        method = "exact" if n <= exact_max_rows else "approximate"
    elif method == "auto":
        method = "approximate" if search_algorithm(n, X.shape[1], metric) == "nndescent" \
            else "exact"
    if method == "approximate" and n <= max(k + 1, APPROX_GRAPH_NEIGHBOURS) + 1:
        method = "exact"  # too small for an index, and exact is instant here
    report = progress or no_progress
    report(0.0, f"Finding {k} neighbours of {n:,} rows ({method})")

    key = None
    if cache_key is not None:
        key = cache.fingerprint(
            "neighbours", CACHE_VERSION, cache_key, k, metric, method, random_state, X
        )
        found = _load_graph(key, n, k)
        if found is not None:
            report(1.0, "Neighbours loaded from the cache")
            return found

    report(0.05, f"Searching neighbours ({method})")
    if method == "exact":
        idx, dist = _exact(X, k, metric, progress=report)
    else:
        idx, dist = _refine(X, *_approximate(X, k, metric, random_state), metric)

    if key is not None:
        try:
            cache.save_array("neighbours", f"{key}-indices", idx)
            cache.save_array("neighbours", f"{key}-distances", dist)
        except OSError as exc:
            warnings.warn(
                f"could not cache the neighbours ({exc}); they will be recomputed next time.",
                RuntimeWarning,
                stacklevel=2,
            )
    report(1.0, "Neighbours done")
    return idx, dist


def _load_graph(key: str, n: int, k: int) -> tuple[np.ndarray, np.ndarray] | None:
    """The cached graph of ``key`` when it is there whole (shapes and dtypes), else None."""
    idx = cache.load_array("neighbours", f"{key}-indices")
    dist = cache.load_array("neighbours", f"{key}-distances")
    if (idx is not None and dist is not None and idx.shape == dist.shape == (n, k)
            and idx.dtype == np.int64 and dist.dtype == np.float32):
        return idx, dist
    return None


def neighbours_of_rows(X, rows, k: int = 10, *,
                       metric: str = "euclidean") -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest other rows of a few rows, exactly, with no index to build.

    One pass over ``X`` per chunk of query rows (about 10 ms for one row of 100k x 64): the
    right tool for the rows a person looks at; :func:`nearest_neighbours` is for all rows.

    Parameters
    ----------
    X : ndarray of shape (N, D)
        Finite numeric matrix.
    rows : array-like of int, shape (M,)
        The query rows.
    k : int
        Neighbours per row, ``1 <= k <= N - 1``.
    metric : {"euclidean", "manhattan", "cosine"}

    Returns
    -------
    indices : ndarray of shape (M, k), int64
        Nearest first; ties in row order; never the row itself (its exact duplicates come
        first).
    distances : ndarray of shape (M, k), float64
    """
    from sklearn.metrics import pairwise_distances

    if metric not in METRICS:
        raise ValueError(f"metric={metric!r} is not one of: {', '.join(METRICS)}.")
    X = np.asarray(X)
    rows = np.asarray(rows, dtype=np.int64).reshape(-1)
    n = X.shape[0]
    if not 1 <= k <= n - 1:
        raise ValueError(f"k must be from 1 to N - 1 = {n - 1} (other rows), got {k!r}.")
    per_chunk = max(1, _CHUNK_BYTES // max(8 * n, 1))
    out_idx = np.empty((rows.size, k), dtype=np.int64)
    out_dist = np.empty((rows.size, k), dtype=np.float64)
    for start in range(0, rows.size, per_chunk):
        chunk = rows[start:start + per_chunk]
        d = pairwise_distances(X[chunk].astype(np.float64), X.astype(np.float64, copy=False),
                               metric=metric)
        d[np.arange(chunk.size), chunk] = np.inf  # never the row itself
        near = np.argpartition(d, k - 1, axis=1)[:, :k] if k < n - 1 else \
            np.broadcast_to(np.arange(n), d.shape).copy()
        # nearest first, ties in row order (exact, whatever argpartition picked at the edge)
        cut = np.take_along_axis(d, near, axis=1).max(axis=1, keepdims=True)
        for t in range(chunk.size):
            cand = np.flatnonzero(d[t] <= cut[t])
            order = np.lexsort((cand, d[t, cand]))[:k]
            out_idx[start + t] = cand[order]
            out_dist[start + t] = d[t, cand[order]]
    return out_idx, out_dist


# --------------------------------------------------------------------------------------------
# exact search: brute force in float32 blocks, or a k-d tree in few dimensions


def search_algorithm(n: int, d: int, metric: str = "euclidean") -> str:
    """The search ``method="auto"`` runs on an N x D matrix, the cheapest of the three.

    Returns
    -------
    {"brute", "kd_tree", "nndescent"}
        ``"brute"`` (exact) while :func:`brute_cost` is at most :data:`BRUTE_MAX_COST`;
        above, ``"kd_tree"`` (exact; scikit-learn's ``KDTree``) up to
        :data:`KD_TREE_MAX_DIMS` dimensions (Euclidean and Manhattan: a k-d tree knows no
        cosine); else ``"nndescent"`` (approximate, pynndescent).
    """
    if brute_cost(n, d) <= BRUTE_MAX_COST:
        return "brute"
    if metric != "cosine" and d <= KD_TREE_MAX_DIMS:
        return "kd_tree"
    return "nndescent"


#: Seconds per unit of :func:`brute_cost` (the fit of :data:`BRUTE_PAIR_OVERHEAD`).
BRUTE_SECONDS_PER_UNIT = 4.9e-11
#: Seconds of NN-descent's numba compilation on a process's first call (53 s fresh, 37 s with
#: numba's cache filled: the estimate takes the middle) and per 100k rows x 64 dimensions.
NNDESCENT_COMPILE_SECONDS = 45.0
NNDESCENT_SECONDS_PER_100K = 14.0


def search_seconds(n: int, d: int, metric: str = "euclidean") -> tuple[str, float]:
    """The search ``method="auto"`` runs on an N x D matrix, in words, and a rough estimate
    of its seconds on a 2-core machine (the measurements behind :data:`BRUTE_MAX_COST`):
    for a progress line, not a promise."""
    algorithm = search_algorithm(n, d, metric)
    if algorithm == "brute":
        return "exact, brute force", BRUTE_SECONDS_PER_UNIT * brute_cost(n, d)
    if algorithm == "kd_tree":  # 200k x 4 in 10 s (KD_TREE_MAX_DIMS); about N log N
        return "exact, k-d tree", float(10.0 * n / 200_000 * np.log2(max(n, 2)) / np.log2(200_000))
    return "approximate, NN-descent", (NNDESCENT_COMPILE_SECONDS
                                       + NNDESCENT_SECONDS_PER_100K * n / 1e5 * max(d, 16) / 64)


def brute_cost(n: int, d: int) -> float:
    """The cost of the brute-force search in the units of :data:`BRUTE_MAX_COST`:
    ``N^2 (D + BRUTE_PAIR_OVERHEAD)``: the product of the blocks (D per pair) and the
    selection of the neighbours in them."""
    return float(n) * float(n) * (d + BRUTE_PAIR_OVERHEAD)


def _exact(X, k, metric, rows=None, progress: Progress | None = None,
           ) -> tuple[np.ndarray, np.ndarray]:
    """Exact search; the row itself is excluded (also among exact duplicates). Nearest
    first by the float64 distance, ties in row order."""
    if rows is not None:
        return neighbours_of_rows(X, rows, k, metric=metric)
    if search_algorithm(*X.shape, metric) == "kd_tree":  # else brute force, at any cost
        return _kd_tree(X, k, metric)
    return _brute(X, k, metric, progress or no_progress)


def _brute(X: np.ndarray, k: int, metric: str,
           progress: Progress = no_progress) -> tuple[np.ndarray, np.ndarray]:
    """Exact neighbours by blocks of rows against all rows, never an N x N matrix.

    A block holds the rows' distances to every row: Euclidean and cosine from one float32
    matrix product (squared distances ``|x|^2 + |y|^2 - 2 x.y`` of centred rows, or
    ``2 - 2 x.y`` of unit rows), Manhattan from ``cdist`` in float64. The columns are cut
    into G groups (column j in group ``j mod G``); the k-th smallest group minimum of a row
    is at least its k-th smallest value (k groups, k distinct values under it). That bound
    plus the bound of the block's rounding is a threshold: every value under it is a
    candidate, its distance recomputed in float64, and the nearest k candidates (ties in
    row order) are the exact neighbours. One pass of the block computes the minima
    (``min`` over the groups), the rest reads only the groups that reach the threshold.
    """
    n = X.shape[0]
    left, right, sq, slack = _search_matrix(X, metric)
    group = int(np.clip(np.sqrt(n / k), 1, 512))  # G groups of `group` columns
    groups = -(-n // group)
    width = groups * group
    wide = metric == "manhattan"
    step = max(1, _BLOCK_BYTES // ((8 if wide else 4) * width))
    lift = np.zeros(width)  # per column, the rounding bound the threshold adds
    if not wide:
        lift[:n] = slack * sq
    out_idx = np.empty((n, k), dtype=np.int64)
    out_dist = np.empty((n, k), dtype=np.float64)
    X64 = X.astype(np.float64)
    norms = np.sqrt(np.einsum("ij,ij->i", X64, X64)) if metric == "cosine" else None
    for lo in range(0, n, step):
        hi = min(n, lo + step)
        block = _block_distances(left, right, lo, hi, metric, width)
        block[np.arange(hi - lo), np.arange(lo, hi)] = np.inf  # never the row itself
        view = block.reshape(hi - lo, group, groups)  # [row, t, g]: column t * G + g
        minima = view.min(axis=1)
        kth = np.partition(minima, k - 1, axis=1)[:, k - 1].astype(np.float64)
        if wide:  # relative error <= slack on every value: k-th and candidate
            limit = kth * (1.0 + 3.0 * slack)
        else:  # |error| <= slack (|x|^2 + |y|^2): the k-th's bound, then the candidate's
            limit = kth + slack * (2.0 * sq[lo:hi] + sq.max())
        reach = (limit + lift.max()).astype(block.dtype)
        rows, cols = np.nonzero(minima <= _round_up(reach)[:, None])
        values = view[rows, :, cols]  # (pairs, group): the reached groups' values
        columns = cols[:, None] + groups * np.arange(group)[None, :]
        below = values <= _round_up((limit[rows, None] + lift[columns]).astype(block.dtype))
        rows, cols = np.broadcast_to(rows[:, None], below.shape)[below], columns[below]
        del block, view, values, columns, below
        dist = _pair_distances(X64, rows + lo, cols, metric, norms)
        out_idx[lo:hi], out_dist[lo:hi] = _first_k(rows, cols, dist, hi - lo, k)
        progress(0.05 + 0.9 * hi / n, f"Neighbours of {hi:,} of {n:,} rows (exact)")
    return out_idx, _as_distance(out_dist, metric)


def _round_up(values: np.ndarray) -> np.ndarray:
    """The next representable value above each (a threshold rounded to its dtype stays
    above the bound it stands for)."""
    return np.nextafter(values, np.inf)


def _search_matrix(X: np.ndarray, metric: str) -> tuple[np.ndarray, np.ndarray,
                                                      np.ndarray, float]:
    """The two matrices whose product is a block (``left[lo:hi] @ right.T``), the rows'
    squared norms (float64) and the rounding slack of a block's values.

    Euclidean: rows centred (the norms, hence the bound, stay small) and augmented,
    ``[y, |y|^2, 1] . [-2 x, 1, |x|^2] = |x - y|^2``: one float32 product gives the squared
    distance, off by at most ``(2 gamma_(D+2) + 5 u) (|x|^2 + |y|^2)`` (u = 2^-24,
    gamma_m ~ m u: a dot product's bound in any summation order, plus the norms' and the
    centring's roundings). Cosine: unit rows (a zero row stays zero) against -2 x (2 is
    added), the same bound with norms 1. The slack is twice that. Manhattan: ``cdist`` of
    the float64 rows, sums of D non-negative terms, relative error under (D + 2) 2^-53,
    slack 2x that.
    """
    d = X.shape[1]
    X64 = X.astype(np.float64)
    if metric == "manhattan":
        return X64, X64, np.empty(0), 2.0 * (d + 2) * 2.0**-53
    if metric == "cosine":
        norms = np.sqrt(np.einsum("ij,ij->i", X64, X64))
        Y = np.divide(X64, norms[:, None], out=np.zeros_like(X64), where=norms[:, None] > 0)
        sq = np.ones(X.shape[0])  # the bound of unit rows (a zero row is tighter)
        left, right = Y, -2.0 * Y
    else:
        Y = X64 - X64.mean(axis=0)
        sq = np.einsum("ij,ij->i", Y, Y)
        ones = np.ones((X.shape[0], 1))
        left = np.hstack([Y, sq[:, None], ones])
        right = np.hstack([-2.0 * Y, ones, sq[:, None]])
    slack = 2.0 * (2.02 * (d + 2) + 5) * 2.0**-24
    return (np.ascontiguousarray(left, dtype=np.float32),
            np.ascontiguousarray(right, dtype=np.float32), sq, slack)


def _block_distances(left: np.ndarray, right: np.ndarray, lo: int, hi: int, metric: str,
                     width: int) -> np.ndarray:
    """Rows ``lo:hi`` against all rows, padded with ``inf`` to ``width`` columns: squared
    distances (Euclidean, float32), twice the cosine distance (float32) or Manhattan
    distances (float64)."""
    n = left.shape[0]
    if metric == "manhattan":
        block = np.full((hi - lo, width), np.inf)
        block[:, :n] = cdist(left[lo:hi], right, metric="cityblock")
        return block
    block = np.empty((hi - lo, width), dtype=np.float32)
    np.matmul(left[lo:hi], right.T, out=block[:, :n])
    if metric == "cosine":
        block[:, :n] += 2.0
    block[:, n:] = np.inf
    return block


def _pair_distances(X64: np.ndarray, rows: np.ndarray, cols: np.ndarray, metric: str,
                    norms: np.ndarray | None) -> np.ndarray:
    """Float64 distances of the pairs ``(rows[t], cols[t])``, in bounded chunks: Euclidean
    ``sqrt(sum (x - y)^2)``, Manhattan ``sum |x - y|``, cosine ``1 - x.y / (|x| |y|)`` (a zero
    row is at distance 1 from every row, as in scikit-learn)."""
    out = np.empty(rows.size, dtype=np.float64)
    step = max(1, _CHUNK_BYTES // (8 * X64.shape[1]))
    for lo in range(0, rows.size, step):
        a, b = X64[rows[lo:lo + step]], X64[cols[lo:lo + step]]
        if metric == "cosine":
            scale = norms[rows[lo:lo + step]] * norms[cols[lo:lo + step]]
            dots = np.einsum("ij,ij->i", a, b)
            sim = np.divide(dots, scale, out=np.zeros_like(dots), where=scale > 0)
            out[lo:lo + step] = 1.0 - sim
            continue
        diff = a - b
        if metric == "euclidean":
            out[lo:lo + step] = np.sqrt(np.einsum("ij,ij->i", diff, diff))
        else:
            out[lo:lo + step] = np.abs(diff).sum(axis=1)
    return out


def _first_k(rows: np.ndarray, cols: np.ndarray, dist: np.ndarray, m: int,
             k: int) -> tuple[np.ndarray, np.ndarray]:
    """From candidate pairs of ``m`` rows (every row with at least ``k``), each row's ``k``
    nearest by ``dist``, ties by the other row's number."""
    order = np.lexsort((cols, dist, rows))
    starts = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=m))[:-1]])
    take = order[starts[:, None] + np.arange(k)]
    return cols[take].astype(np.int64, copy=False), dist[take]


def _as_distance(dist: np.ndarray, metric: str) -> np.ndarray:
    """Float64 distances as returned: cosine clipped to [0, 2] (rounding), float32."""
    if metric == "cosine":
        dist = np.clip(dist, 0.0, 2.0)
    return dist.astype(np.float32)


def _kd_tree(X: np.ndarray, k: int, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Exact neighbours from scikit-learn's ``KDTree`` (few dimensions, any N).

    The tree returns ``k + 2`` candidates (the row itself among them); their float64 distances
    are recomputed as in :func:`_brute` and sorted, ties in row order. A row is settled when
    its k-th distance is below the farthest candidate's: nothing outside can tie with it.
    The others (ties or more than ``k + 1`` duplicates at the boundary) take every row within
    the boundary distance (``query_radius``) and choose among them the same way.
    """
    n = X.shape[0]
    X64 = X.astype(np.float64)
    tree = KDTree(X64, metric=metric)
    width = min(n, k + 2)
    tree_dist, cand = tree.query(X64, k=width)
    rows = np.repeat(np.arange(n), width)
    cols = cand.reshape(-1).astype(np.int64)
    dist = _pair_distances(X64, rows, cols, metric, None)
    dist[rows == cols] = np.inf  # never the row itself
    idx, out = _first_k(rows, cols, dist, n, width)
    idx, out = idx[:, :k], out[:, :k]
    if width < n:
        reach = tree_dist[:, -1]
        unsettled = np.flatnonzero(out[:, -1] >= reach * (1.0 - _TREE_SLACK))
        if unsettled.size:
            fix_idx, fix_dist = _kd_ties(tree, X64, unsettled, reach * (1.0 + _TREE_SLACK), k,
                                         metric)
            idx[unsettled], out[unsettled] = fix_idx, fix_dist
    return idx, out.astype(np.float32)


def _kd_ties(tree, X64: np.ndarray, rows: np.ndarray, reach: np.ndarray, k: int,
             metric: str) -> tuple[np.ndarray, np.ndarray]:
    """The exact neighbours of ``rows`` from every row within ``reach`` of each (at least
    ``k + 1`` rows with the row itself)."""
    out_idx = np.empty((rows.size, k), dtype=np.int64)
    out_dist = np.empty((rows.size, k), dtype=np.float64)
    step = 256  # query rows per call: the lists of a group of duplicates can be long
    for lo in range(0, rows.size, step):
        part = rows[lo:lo + step]
        found = tree.query_radius(X64[part], r=reach[part] + _TREE_ABS_SLACK)
        sizes = np.array([f.size for f in found])
        pair_rows = np.repeat(part, sizes)
        cols = np.concatenate(found).astype(np.int64)
        dist = _pair_distances(X64, pair_rows, cols, metric, None)
        dist[pair_rows == cols] = np.inf
        local = np.repeat(np.arange(part.size), sizes)
        take_idx, take_dist = _first_k(local, cols, dist, part.size, k)
        out_idx[lo:lo + step], out_dist[lo:lo + step] = take_idx, take_dist
    return out_idx, out_dist


def _approximate(X, k, metric, random_state) -> tuple[np.ndarray, np.ndarray]:
    from pynndescent import NNDescent

    n = X.shape[0]
    width = max(k + 1, APPROX_GRAPH_NEIGHBOURS)
    index = NNDescent(
        X,
        n_neighbors=width,
        metric=metric,
        random_state=random_state,
        n_jobs=1 if random_state is not None else None,
        low_memory=True,
        compressed=True,
    )
    graph_idx, graph_dist = index.neighbor_graph
    graph_idx = graph_idx.astype(np.int64, copy=False)
    idx, dist = _drop_self(graph_idx, graph_dist, np.arange(n), k)
    missing = np.flatnonzero((idx < 0).any(axis=1))  # NN-descent left a slot empty
    if missing.size:
        fix_idx, fix_dist = _exact(X, k, metric, rows=missing)
        idx[missing] = fix_idx
        dist[missing] = fix_dist
    return idx, dist


def _drop_self(idx, dist, rows, k) -> tuple[np.ndarray, np.ndarray]:
    """From candidates sorted nearest first, keep the first ``k`` that are not the row itself.

    ``idx``/``dist`` (M, C) with C >= k + 1 candidates for the rows ``rows`` (M,); empty slots
    (index -1) sort last.
    """
    is_self = idx == np.asarray(rows)[:, None]
    is_empty = idx < 0
    order = np.argsort(is_self.astype(np.int8) + 2 * is_empty, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(idx, order, axis=1), np.take_along_axis(dist, order, axis=1)


def _refine(X, idx, dist, metric) -> tuple[np.ndarray, np.ndarray]:
    """Exact float64 distances for the found pairs (Euclidean / Manhattan), re-sorted."""
    n, k = idx.shape
    if metric == "cosine":
        out = np.clip(np.asarray(dist, dtype=np.float32), 0.0, None)
        return idx, out
    exact = np.empty((n, k), dtype=np.float64)
    step = max(1, _CHUNK_BYTES // (8 * k * X.shape[1]))
    for lo in range(0, n, step):
        hi = min(n, lo + step)
        diff = X[lo:hi, None, :].astype(np.float64) - X[idx[lo:hi]].astype(np.float64)
        if metric == "euclidean":
            exact[lo:hi] = np.sqrt(np.einsum("ijk,ijk->ij", diff, diff))
        else:
            exact[lo:hi] = np.abs(diff).sum(axis=2)
    order = _row_order(exact, idx)
    return (
        np.take_along_axis(idx, order, axis=1),
        np.take_along_axis(exact, order, axis=1).astype(np.float32),
    )


def _row_order(values: np.ndarray, ties: np.ndarray) -> np.ndarray:
    """Per-row argsort by ``values``, ties broken by ``ties`` (both (N, k))."""
    first = np.argsort(ties, axis=1, kind="stable")
    by_value = np.argsort(np.take_along_axis(values, first, axis=1), axis=1, kind="stable")
    return np.take_along_axis(first, by_value, axis=1)


# --------------------------------------------------------------------------------------------
# evidence from the neighbours


def _check_graph(indices, distances=None) -> tuple[np.ndarray, np.ndarray | None]:
    idx = np.asarray(indices)
    if idx.ndim != 2 or idx.shape[1] < 1:
        raise ValueError(f"indices must be 2-D (rows x k), k >= 1; got shape {idx.shape}.")
    if idx.dtype.kind not in "iu":
        raise ValueError(f"indices must be integer row numbers, got dtype {idx.dtype}.")
    n = idx.shape[0]
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise ValueError(f"indices must be row numbers 0..{n - 1}.")
    dist = None
    if distances is not None:
        dist = _check_distances(distances)
        if dist.shape != idx.shape:
            raise ValueError(
                f"distances has shape {dist.shape} but indices has {idx.shape}: they must match."
            )
    return idx.astype(np.int64, copy=False), dist


def _check_distances(distances) -> np.ndarray:
    dist = np.asarray(distances)
    if dist.ndim != 2 or dist.shape[1] < 1:
        raise ValueError(f"distances must be 2-D (rows x k), k >= 1; got shape {dist.shape}.")
    if dist.dtype.kind not in "biuf" or (dist.size and not np.isfinite(dist).all()):
        raise ValueError("distances must be finite numbers.")
    return dist


def _check_row_labels(labels, n: int) -> np.ndarray:
    arr = np.asarray(labels)
    if arr.shape != (n,):
        raise ValueError(
            f"labels must have one value per row of indices ({n}), got shape {arr.shape}."
        )
    return arr


def neighbour_agreement(labels, indices) -> np.ndarray:
    """Share of each row's neighbours that carry the row's own label.

    Parameters
    ----------
    labels : array-like of shape (N,)
        Given labels (any comparable values).
    indices : array-like of shape (N, k), int
        From :func:`nearest_neighbours`.

    Returns
    -------
    ndarray of shape (N,), float64 in [0, 1]
        1 = every neighbour agrees; a low value beside a low label-quality score is a second,
        model-free sign of a wrong label.
    """
    idx, _ = _check_graph(indices)
    lab = _check_row_labels(labels, idx.shape[0])
    return (lab[idx] == lab[:, None]).mean(axis=1)


def default_duplicate_threshold(distances) -> float:
    """Distance at or under which two rows count as near-duplicates.

    ``0.13 x median(distance to the nearest neighbour)``: the default of cleanlab's Datalab
    near-duplicate check. It scales with the data, so it works for pixels, standardised
    features and unit-length text vectors alike, and it is far below a typical neighbour
    distance, so data without duplicates yields few or no pairs (a quantile would always flag
    a fixed share). When over half the rows have an exact duplicate the median is 0 and so is
    the threshold: exact duplicates only.

    Parameters
    ----------
    distances : array-like of shape (N, k)
        From :func:`nearest_neighbours` (column 0 = nearest).

    Returns
    -------
    float
    """
    dist = _check_distances(distances)
    if dist.shape[0] == 0:
        return 0.0
    return float(DUPLICATE_FRACTION * np.median(dist[:, 0].astype(np.float64)))


def near_duplicates(indices, distances, labels, *, threshold: float | None = None) -> pd.DataFrame:
    """Pairs of rows at most ``threshold`` apart; ``conflicting`` when their labels differ.

    Parameters
    ----------
    indices, distances : array-like of shape (N, k)
        From :func:`nearest_neighbours`.
    labels : array-like of shape (N,)
        Given labels.
    threshold : float, optional
        Largest distance of a pair (inclusive: 0 finds exact duplicates only). Default:
        :func:`default_duplicate_threshold`.

    Returns
    -------
    DataFrame
        One row per pair, each pair once: ``row_a`` < ``row_b`` (int64 row positions),
        ``distance`` (float32), ``label_a``, ``label_b``, ``conflicting`` (bool), sorted by
        distance then rows. Conflicting duplicates almost always mean one label is wrong.

    Notes
    -----
    Only pairs within each row's ``k`` neighbours are seen: in a group of more than ``k + 1``
    identical rows some pairs are missing, but every row of the group appears in one.
    """
    idx, dist = _check_graph(indices, distances)
    n, k = idx.shape
    lab = _check_row_labels(labels, n)
    if threshold is None:
        threshold = default_duplicate_threshold(dist)
    if not np.isfinite(threshold) or threshold < 0:
        raise ValueError(f"threshold must be a finite distance >= 0, got {threshold!r}.")
    rows, cols = np.nonzero(dist <= threshold)
    other = idx[rows, cols]
    pair_d = dist[rows, cols].astype(np.float32)
    valid = other != rows  # a hand-made graph may list the row itself
    rows, other, pair_d = rows[valid], other[valid], pair_d[valid]
    a = np.minimum(rows, other).astype(np.int64)
    b = np.maximum(rows, other).astype(np.int64)
    pair_key = a * n + b
    order = np.lexsort((pair_d, pair_key))
    first = np.ones(order.size, dtype=bool)
    first[1:] = pair_key[order][1:] != pair_key[order][:-1]
    keep = order[first]  # each pair once, at its smallest reported distance
    a, b, pair_d = a[keep], b[keep], pair_d[keep]
    final = np.lexsort((b, a, pair_d))
    a, b, pair_d = a[final], b[final], pair_d[final]
    label_a, label_b = lab[a], lab[b]
    return pd.DataFrame(
        {
            "row_a": a,
            "row_b": b,
            "distance": pair_d,
            "label_a": label_a,
            "label_b": label_b,
            "conflicting": np.asarray(label_a != label_b, dtype=bool),
        }
    )


def outlier_score(distances) -> np.ndarray:
    """How far each row lies from its neighbours, as a rank in [0, 1] (1 = most isolated).

    Parameters
    ----------
    distances : array-like of shape (N, k)
        From :func:`nearest_neighbours`.

    Returns
    -------
    ndarray of shape (N,), float64
        Rank of the mean distance to the ``k`` neighbours, scaled to [0, 1]: the farthest row
        scores 1, the closest 0, ties share their average rank (a single row scores 0).
    """
    dist = _check_distances(distances)
    mean = dist.astype(np.float64).mean(axis=1)
    n = mean.size
    if n <= 1:
        return np.zeros(n)
    return (rankdata(mean, method="average") - 1.0) / (n - 1.0)
