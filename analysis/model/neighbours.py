"""Neighbourhood evidence: k nearest neighbours, label agreement, near-duplicates, outliers.

A second, model-free signal of a wrong label: a row whose neighbours (in the space of
:func:`analysis.model.embedding.prepare_features`, the space the map is drawn from) mostly carry
another label, and pairs of (near-)identical rows with different labels, where one label is
almost always wrong.

Memory is O(N * k): nothing here builds an N x N matrix. Up to ``exact_max_rows`` rows (20,000)
the neighbours are exact (scikit-learn); above, an all-pairs search costs too much (100k x 64
took ~5 minutes on a 2-core machine), so pynndescent builds an approximate k-NN graph: 100k x 64
in ~14 s, ~65 s on the first call of a process (numba compilation), recall@10 0.95 on the
benchmark's generated data and 0.94 on isotropic 64-D blobs, the hardest case; see
``benchmarks/embedding_speed.py``. Cache the result (``cache_key``) to pay that once.
Euclidean and Manhattan distances of the returned pairs are always recomputed exactly (in
float64), so identical rows are at distance 0.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from analysis.core import cache
from analysis.core._helpers import Progress, no_progress
from analysis.model.embedding import check_matrix

#: Metrics supported by both the exact and the approximate search.
METRICS = ("euclidean", "manhattan", "cosine")
#: Search methods of :func:`nearest_neighbours`.
SEARCH_METHODS = ("auto", "exact", "approximate")
#: Above this many rows ``method="auto"`` uses the approximate search.
EXACT_MAX_ROWS = 20_000
#: The approximate graph is built with at least this many neighbours, then cut to k: a wider
#: graph is what makes NN-descent accurate (recall@10 0.53 -> 0.94 on isotropic 64-D blobs).
APPROX_GRAPH_NEIGHBOURS = 30
#: Default near-duplicate threshold, as a fraction of the median first-neighbour distance
#: (the default of cleanlab's Datalab near-duplicate check).
DUPLICATE_FRACTION = 0.13
CACHE_VERSION = 1

_CHUNK_BYTES = 64 * 2**20


def nearest_neighbours(
    X,
    k: int = 10,
    *,
    metric: str = "euclidean",
    method: str = "auto",
    exact_max_rows: int = EXACT_MAX_ROWS,
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
        ``"exact"``: scikit-learn ``NearestNeighbors`` (``algorithm="auto"``: a k-d tree for few
        dimensions, else brute force in bounded chunks). ``"approximate"``: pynndescent
        NN-descent. ``"auto"``: exact up to ``exact_max_rows`` rows, approximate above.
    exact_max_rows : int
        Switch-over point of ``method="auto"``.
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
        ``indices[i]`` are rows other than ``i`` itself, nearest first. With exact duplicates a
        row's duplicates come before any other row, but never the row itself.
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
    if method == "auto":
        method = "exact" if n <= exact_max_rows else "approximate"
    if method == "approximate" and n <= max(k + 1, APPROX_GRAPH_NEIGHBOURS) + 1:
        method = "exact"  # too small for an index, and exact is instant here
    report = progress or no_progress
    report(0.0, f"Finding {k} neighbours of {n:,} rows ({method})")

    key = None
    if cache_key is not None:
        key = cache.fingerprint(
            "neighbours", CACHE_VERSION, cache_key, k, metric, method, random_state, X
        )
        idx = cache.load_array("neighbours", f"{key}-indices")
        dist = cache.load_array("neighbours", f"{key}-distances")
        if (
            idx is not None
            and dist is not None
            and idx.shape == dist.shape == (n, k)
            and idx.dtype == np.int64
            and dist.dtype == np.float32
        ):
            report(1.0, "Neighbours loaded from the cache")
            return idx, dist

    report(0.05, f"Searching neighbours ({method})")
    if method == "exact":
        idx, dist = _exact(X, k, metric)
    else:
        idx, dist = _approximate(X, k, metric, random_state)
    idx, dist = _refine(X, idx, dist, metric)

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


def _exact(X, k, metric, rows=None) -> tuple[np.ndarray, np.ndarray]:
    """Exact search; the row itself is excluded (also among exact duplicates)."""
    from sklearn.neighbors import NearestNeighbors

    if rows is not None:
        return neighbours_of_rows(X, rows, k, metric=metric)
    nn = NearestNeighbors(n_neighbors=k, metric=metric, algorithm="auto").fit(X)
    # Querying the training set: scikit-learn asks for k + 1 and drops the row itself.
    dist, idx = nn.kneighbors()
    return idx.astype(np.int64, copy=False), dist


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
