"""Neighbourhood evidence: k-NN, label agreement, near-duplicates, outlier score, cache."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_blobs

from analysis.model import neighbours
from analysis.model.neighbours import (
    default_duplicate_threshold,
    near_duplicates,
    nearest_neighbours,
    neighbour_agreement,
    outlier_score,
)


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("NOISELENS_HOME", str(tmp_path / "ws"))
    return tmp_path / "ws"


def three_blobs(n=600, d=10, seed=0):
    centers = np.array([[0.0] * d, [50.0] * d, [-50.0] + [50.0] * (d - 1)])
    X, y = make_blobs(n, d, centers=centers, cluster_std=1.0, random_state=seed)
    return X.astype(np.float32), y


def brute(X, k):
    """Reference: full distance matrix (small data only)."""
    X = X.astype(np.float64)
    D = np.sqrt(((X[:, None, :] - X[None, :, :]) ** 2).sum(-1))
    np.fill_diagonal(D, np.inf)
    idx = np.argsort(D, axis=1, kind="stable")[:, :k]
    return idx, np.take_along_axis(D, idx, axis=1)


# ------------------------------------------------------------------------- nearest_neighbours


@pytest.mark.parametrize("d", [3, 40])  # k-d tree and brute force inside scikit-learn
def test_known_clusters_give_known_neighbours(d):
    X, y = three_blobs(d=d)
    idx, dist = nearest_neighbours(X, k=10)
    assert idx.shape == dist.shape == (600, 10)
    assert idx.dtype == np.int64 and dist.dtype == np.float32
    assert (y[idx] == y[:, None]).all()  # every neighbour from the row's own blob
    assert not (idx == np.arange(600)[:, None]).any()  # never the row itself
    assert (np.diff(dist, axis=1) >= 0).all()
    ref_idx, ref_dist = brute(X, 10)
    np.testing.assert_allclose(dist, ref_dist, rtol=1e-6)
    assert np.mean(idx == ref_idx) > 0.999  # equal up to exact ties
    assert (neighbour_agreement(y, idx) == 1).all()


def test_duplicates_never_list_the_row_itself_and_are_at_distance_zero():
    X, _ = three_blobs(60, 20)
    X = np.concatenate([X, X, X])  # every row three times
    idx, dist = nearest_neighbours(X, k=4)
    rows = np.arange(180)
    assert not (idx == rows[:, None]).any()
    assert (dist[:, :2] == 0).all() and (dist[:, 2:] > 0).all()
    assert set(map(tuple, np.sort(idx[:, :2] % 60, axis=1))) == {(r, r) for r in range(60)}
    assert ((idx[:, :2] % 60) == (rows % 60)[:, None]).all()


def test_cosine_and_manhattan():
    centers = 50.0 * np.eye(5)[:3]  # three directions: apart in angle and in distance
    X, y = make_blobs(150, 5, centers=centers, cluster_std=1.0, random_state=0)
    for metric in ("cosine", "manhattan"):
        idx, dist = nearest_neighbours(X, k=5, metric=metric)
        assert (y[idx] == y[:, None]).all() and (dist >= 0).all()
    _, dist = nearest_neighbours(X, k=3, metric="manhattan")
    row0 = np.abs(X[0].astype(np.float32).astype(np.float64) - X.astype(np.float32)).sum(1)
    row0[0] = np.inf
    np.testing.assert_allclose(dist[0], np.sort(row0)[:3], rtol=1e-6)


@pytest.mark.parametrize(
    ("X", "kwargs", "message"),
    [
        (np.ones((5, 2)), {"k": 5}, r"k must be an integer from 1 to N - 1 = 4"),
        (np.ones((5, 2)), {"k": 0}, "k must be"),
        (np.ones((5, 2)), {"k": 2.5}, "k must be"),
        (np.ones((1, 2)), {}, "1 row"),
        (np.arange(6.0), {}, "must be 2-D"),
        (np.array([[0.0, 1], [np.nan, 2], [1, 1]]), {"k": 1}, "row 1 contain NaN"),
        (np.ones((5, 2)), {"k": 2, "metric": "hamming"}, "metric='hamming' is not one of"),
        (np.ones((5, 2)), {"k": 2, "method": "fast"}, "method='fast' is not one of"),
    ],
)
def test_bad_input(X, kwargs, message):
    with pytest.raises(ValueError, match=message):
        nearest_neighbours(X, **kwargs)


def test_neighbours_are_cached(monkeypatch, home):
    X, _ = three_blobs(300, 5)
    idx, dist = nearest_neighbours(X, k=7, cache_key="blobs")

    def must_not_run(*args, **kwargs):
        raise AssertionError("recomputed despite the cache")

    monkeypatch.setattr(neighbours, "_exact", must_not_run)
    idx2, dist2 = nearest_neighbours(X, k=7, cache_key="blobs")
    assert idx2.tobytes() == idx.tobytes() and dist2.tobytes() == dist.tobytes()
    assert idx2.dtype == np.int64 and dist2.dtype == np.float32
    with pytest.raises(AssertionError, match="recomputed"):
        nearest_neighbours(X, k=8, cache_key="blobs")  # other k: a miss


def test_approximate_search_matches_exact():
    # The one pynndescent test: its first call in a process compiles numba (~50 s).
    X, y = three_blobs(2500, 16, seed=3)
    X[100] = X[7]  # an exact duplicate pair
    y[100] = y[7]
    exact_idx, exact_dist = nearest_neighbours(X, k=10, method="exact")
    idx, dist = nearest_neighbours(X, k=10, exact_max_rows=1000)  # auto -> approximate
    assert idx.shape == (2500, 10) and idx.dtype == np.int64 and dist.dtype == np.float32
    assert not (idx == np.arange(2500)[:, None]).any()
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(idx, exact_idx, strict=True)])
    assert recall > 0.95
    assert (y[idx] == y[:, None]).all()
    assert idx[7, 0] == 100 and idx[100, 0] == 7 and dist[7, 0] == dist[100, 0] == 0
    np.testing.assert_allclose(dist.mean(), exact_dist.mean(), rtol=1e-3)


# ----------------------------------------------------------------------- neighbour_agreement


def test_agreement_on_a_hand_made_example():
    labels = np.array([0, 0, 1, 1, 2])
    indices = np.array([[1, 2, 3], [0, 4, 2], [3, 1, 0], [2, 4, 0], [3, 2, 1]])
    expected = [1 / 3, 1 / 3, 1 / 3, 1 / 3, 0.0]
    np.testing.assert_array_equal(neighbour_agreement(labels, indices), expected)
    strings = np.array(["a", "a", "b", "b", "c"])
    np.testing.assert_array_equal(neighbour_agreement(strings, indices), expected)
    assert neighbour_agreement([0, 0, 0], [[1], [2], [0]]).tolist() == [1.0, 1.0, 1.0]


def test_agreement_bad_input():
    with pytest.raises(ValueError, match="one value per row"):
        neighbour_agreement([0, 1], [[1], [0], [1]])
    with pytest.raises(ValueError, match="row numbers 0..2"):
        neighbour_agreement([0, 1, 1], [[1], [3], [0]])
    with pytest.raises(ValueError, match="2-D"):
        neighbour_agreement([0, 1, 1], [1, 2, 0])


# --------------------------------------------------------------------------- near_duplicates


def test_duplicated_rows_with_different_labels_are_conflicting():
    X, y = three_blobs(300, 8)
    labels = y.copy()
    X[10] = X[20]  # same blob, same label: a duplicate, not a conflict
    labels[10] = labels[20]
    X[30] = X[40]
    labels[30] = (labels[40] + 1) % 3  # same point, another label: a conflict
    X[50] = X[60] + 1e-4  # near-duplicate, other label
    labels[50] = (labels[60] + 1) % 3
    idx, dist = nearest_neighbours(X, k=5)
    pairs = near_duplicates(idx, dist, labels)
    assert list(pairs.columns) == [
        "row_a",
        "row_b",
        "distance",
        "label_a",
        "label_b",
        "conflicting",
    ]
    assert pairs[["row_a", "row_b"]].values.tolist() == [[10, 20], [30, 40], [50, 60]]
    assert pairs["conflicting"].tolist() == [False, True, True]
    assert pairs["distance"].tolist()[:2] == [0.0, 0.0] and 0 < pairs["distance"].iloc[2] < 1e-3
    assert pairs["label_a"].tolist() == labels[[10, 30, 50]].tolist()
    assert pairs["label_b"].tolist() == labels[[20, 40, 60]].tolist()

    exact_only = near_duplicates(idx, dist, labels, threshold=0)
    assert exact_only[["row_a", "row_b"]].values.tolist() == [[10, 20], [30, 40]]


def test_each_pair_once_and_groups_of_duplicates():
    X = np.random.default_rng(0).normal(size=(50, 6))
    X[[1, 2, 3]] = X[0]  # a group of four identical rows
    labels = np.zeros(50, dtype=int)
    labels[3] = 1
    idx, dist = nearest_neighbours(X, k=3)
    pairs = near_duplicates(idx, dist, labels, threshold=0)
    expected = [[0, 1], [0, 2], [0, 3], [1, 2], [1, 3], [2, 3]]
    assert pairs[["row_a", "row_b"]].values.tolist() == expected
    assert pairs["conflicting"].tolist() == [False, False, True, False, True, True]
    assert (pairs["row_a"] < pairs["row_b"]).all()


def test_no_duplicates_gives_an_empty_frame_with_the_columns():
    X, y = three_blobs(200, 8)
    idx, dist = nearest_neighbours(X, k=5)
    pairs = near_duplicates(idx, dist, y)
    assert pairs.empty and list(pairs.columns)[-1] == "conflicting"
    assert pairs["row_a"].dtype == np.int64 and pairs["conflicting"].dtype == bool


def test_default_threshold():
    dist = np.array([[1.0, 2.0], [2.0, 3.0], [3.0, 3.5], [0.0, 1.0]], dtype=np.float32)
    assert default_duplicate_threshold(dist) == pytest.approx(0.13 * 1.5)
    mostly_dups = np.array([[0.0, 1.0], [0.0, 1.0], [0.0, 2.0], [5.0, 6.0]])
    assert default_duplicate_threshold(mostly_dups) == 0.0


def test_near_duplicates_bad_input():
    idx = np.array([[1], [0], [1]])
    dist = np.array([[0.0], [0.0], [1.0]])
    with pytest.raises(ValueError, match="threshold must be a finite distance >= 0"):
        near_duplicates(idx, dist, [0, 1, 1], threshold=-1)
    with pytest.raises(ValueError, match="distances has shape"):
        near_duplicates(idx, dist[:2], [0, 1, 1])
    with pytest.raises(ValueError, match="distances must be finite"):
        near_duplicates(idx, np.array([[0.0], [np.nan], [1]]), [0, 1, 1])


# ----------------------------------------------------------------------------- outlier_score


def test_outlier_score_ranks_isolated_rows_highest():
    X, _ = three_blobs(300, 4)
    X[5] = 400.0  # far from everything
    _, dist = nearest_neighbours(X, k=10)
    score = outlier_score(dist)
    assert score.shape == (300,) and score.min() == 0.0 and score.max() == 1.0
    assert score.argmax() == 5
    assert outlier_score(np.array([[1.0, 3.0], [2.0, 2.0], [0.5, 0.5]])).tolist() == [0.75, 0.75, 0]
    assert outlier_score(np.array([[1.0], [1.0], [1.0]])).tolist() == [0.5, 0.5, 0.5]


def test_most_common_other_label_against_a_loop():
    """Per row the most common neighbour label other than its own, ties to the lowest class
    (few classes, so ties and all-agreeing rows are common)."""
    from analysis.signals.disagreement import most_common_other_label as _most_common_other

    rng = np.random.default_rng(3)
    for n, k, classes in ((500, 10, 3), (300, 5, 2), (200, 1, 4), (100, 7, 7)):
        labels = rng.integers(0, classes, n)
        neighbour_labels = rng.integers(0, classes, (n, k))
        got_label, got_count = _most_common_other(neighbour_labels, labels)
        for i in range(n):
            others = [c for c in neighbour_labels[i] if c != labels[i]]
            if not others:
                assert (got_label[i], got_count[i]) == (-1, 0)
                continue
            top = max(others.count(c) for c in others)
            assert got_count[i] == top
            assert got_label[i] == min(c for c in others if others.count(c) == top)
