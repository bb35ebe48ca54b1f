"""The exact neighbour searches (brute force in float32 blocks, k-d tree) against a slow loop
over all pairs: the same rows in the same order, ties in row order, for every metric, with
duplicates and lattices of equal distances, in one block and in many; and the signals built
on them equal those of the scikit-learn search they replace where that one was exact."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.neighbors import NearestNeighbors

import analysis.model.neighbours as neighbours
from analysis.model.neighbours import nearest_neighbours, search_algorithm
from analysis.signals.compute import compute_signals


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("NOISELENS_HOME", str(tmp_path / "ws"))
    return tmp_path / "ws"


def loop_neighbours(X, k, metric):
    """Reference: every pair's float64 distance in a Python loop; nearest first, ties by the
    lower row number, never the row itself."""
    X = np.asarray(X, dtype=np.float32).astype(np.float64)
    n = X.shape[0]
    norms = [float(np.sqrt(np.sum(x * x))) for x in X]
    idx = np.empty((n, k), dtype=np.int64)
    dist = np.empty((n, k))
    for i in range(n):
        pairs = []
        for j in range(n):
            if j == i:
                continue
            if metric == "euclidean":
                d = float(np.sqrt(np.sum((X[i] - X[j]) ** 2)))
            elif metric == "manhattan":
                d = float(np.sum(np.abs(X[i] - X[j])))
            else:  # a zero row has similarity 0 with every row (scikit-learn's convention)
                scale = norms[i] * norms[j]
                d = 1.0 - (float(np.sum(X[i] * X[j])) / scale if scale > 0 else 0.0)
            pairs.append((d, j))
        pairs.sort()
        idx[i] = [j for _, j in pairs[:k]]
        dist[i] = [d for d, _ in pairs[:k]]
    return idx, dist


def cases(seed=0):
    """Continuous rows far from the origin with a group of 12 identical rows (more than k + 1)
    and a zero row; a lattice of small integers (many exactly equal distances); rows on a
    line (equal distances both ways)."""
    rng = np.random.default_rng(seed)
    X = (rng.normal(size=(260, 5)) * 3 + 40).astype(np.float32)
    X[30:42] = X[5]
    X[100] = 0.0
    lattice = rng.integers(0, 3, size=(240, 4)).astype(np.float32)
    line = np.repeat(np.arange(60, dtype=np.float32)[:, None], 2, axis=1)
    return {"continuous": X, "lattice": lattice, "line": line}


def check_equal(got, want):
    idx, dist = got
    ref_idx, ref_dist = want
    assert idx.dtype == np.int64 and dist.dtype == np.float32
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_allclose(dist, ref_dist.astype(np.float32), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("metric", ["euclidean", "cosine", "manhattan"])
@pytest.mark.parametrize("blocks", ["one block", "many blocks"])
@pytest.mark.parametrize("case", ["continuous", "lattice", "line"])
def test_brute_force_equals_the_loop(metric, blocks, case, monkeypatch):
    X = cases()[case]
    if blocks == "many blocks":  # a few rows per block, the last one shorter
        monkeypatch.setattr(neighbours, "_BLOCK_BYTES", 8 * 7 * X.shape[0])
    assert search_algorithm(*X.shape, metric) == "brute"
    for k in (1, 5, 13):
        check_equal(nearest_neighbours(X, k=k, metric=metric), loop_neighbours(X, k, metric))


@pytest.mark.parametrize("metric", ["euclidean", "manhattan"])
@pytest.mark.parametrize("case", ["continuous", "lattice", "line"])
def test_kd_tree_equals_the_loop(metric, case, monkeypatch):
    X = cases(1)[case]
    monkeypatch.setattr(neighbours, "BRUTE_MAX_COST", 0.0)  # past the brute-force limit
    assert search_algorithm(*X.shape, metric) == "kd_tree"
    for k in (1, 5, 13):
        check_equal(nearest_neighbours(X, k=k, metric=metric), loop_neighbours(X, k, metric))


def test_every_row_identical_and_k_is_n_minus_one():
    X = np.ones((40, 3), dtype=np.float32)
    for algorithm in (neighbours._brute, neighbours._kd_tree):
        idx, dist = algorithm(X, 39, "euclidean")
        want = np.array([[j for j in range(40) if j != i] for i in range(40)])
        np.testing.assert_array_equal(idx, want)
        assert (dist == 0).all()


def test_which_search_auto_takes():
    # brute force while N^2 (D + 120) <= 1.1e12: 30k x 30, 80k x 50, not 100k x 10
    assert search_algorithm(30_000, 30) == "brute"
    assert search_algorithm(80_000, 50) == "brute"
    assert search_algorithm(100_000, 64) == "nndescent"
    assert search_algorithm(100_000, 5) == "kd_tree"
    assert search_algorithm(1_000_000, 5) == "kd_tree"
    assert search_algorithm(1_000_000, 5, "manhattan") == "kd_tree"
    assert search_algorithm(1_000_000, 5, "cosine") == "nndescent"  # no k-d tree for cosine
    assert search_algorithm(1_000_000, 6) == "nndescent"


def old_exact(X, k, metric, rows=None, progress=None):
    """The search this module ran up to 20,000 rows before: scikit-learn's, then the float64
    distances recomputed and re-sorted."""
    nn = NearestNeighbors(n_neighbors=k, metric=metric, algorithm="auto").fit(X)
    dist, idx = nn.kneighbors()
    return neighbours._refine(X, idx.astype(np.int64), dist, metric)


@pytest.mark.parametrize("d", [5, 24])  # scikit-learn's k-d tree and its brute force
def test_signals_equal_those_of_the_old_exact_search(d, monkeypatch):
    rng = np.random.default_rng(7)
    n = 1_500
    X = rng.normal(size=(n, d)).astype(np.float32)
    X[n // 2:] += 1.5 * np.eye(d, dtype=np.float32)[0]
    # duplicate pairs, far out (no other row has them at its k-th place, where scikit-learn
    # chose among the two as it liked): near-duplicates, conflicting or not
    for a, far in zip((10, 20, 30), (40.0, -40.0, 80.0), strict=True):
        X[a] = X[a + 1] = X[a] + far
    labels = (np.arange(n) >= n // 2).astype(np.int64)
    labels[[10, 20]] = 1 - labels[[11, 21]]
    scores = rng.uniform(size=n)
    flags = scores < 0.1
    new = compute_signals(labels, scores, flags, X)
    monkeypatch.setattr(neighbours, "_exact", old_exact)
    old = compute_signals(labels, scores, flags, X)
    np.testing.assert_array_equal(new.indices, old.indices)
    np.testing.assert_array_equal(new.distances, old.distances)
    assert new.table.equals(old.table)
    assert new.duplicates.equals(old.duplicates)
    assert new.counts()["near_duplicate"] >= 6 and new.duplicates["conflicting"].sum() == 2
