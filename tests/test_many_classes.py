"""Many classes (issues #13, #18): from ``SPARSE_MIN_CLASSES`` classes on, the confident joint,
the noise estimate and the prune counts are sparse, with the numbers of the dense computation
bit for bit; no (K, K) dense array is allocated; the result files go to long format."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from core_cases import edge_cases, noisy_dataset, random_cases

import analysis as nl
from analysis.core import chunked, sparse
from analysis.core.confident import noise_estimate_from
from analysis.core.evidence import Evidence
from analysis.core.issues import FILTERS, issues_mask_from
from analysis.export.split import long_matrix

CASES = {c.id: c for c in random_cases()[:10] + edge_cases()}


def _dense(matrix):
    return matrix.toarray() if sparse.is_sparse(matrix) else np.asarray(matrix)


def _compare(dense_ev, sparse_ev, options, monkeypatch):
    """Everything from the sparse evidence equals the dense evidence's."""
    monkeypatch.setattr(sparse, "SPARSE_MIN_CLASSES", 10**9)
    assert not dense_ev.sparse
    want = noise_estimate_from(dense_ev)
    want_raw, want_guess = dense_ev.raw_confident_joint, dense_ev.guess
    masks = {f: issues_mask_from(dense_ev, f, **(options if "prune" in f or f == "both"
                                                   else {})) for f in FILTERS}
    monkeypatch.setattr(sparse, "SPARSE_MIN_CLASSES", 2)
    assert sparse_ev.sparse
    got = noise_estimate_from(sparse_ev)
    assert sparse.is_sparse(got.confident_joint) and sparse.is_sparse(got.noise_matrix)
    for name in want.__dataclass_fields__:
        assert np.array_equal(_dense(getattr(got, name)), _dense(getattr(want, name))), name
    for f, mask in masks.items():
        opts = options if "prune" in f or f == "both" else {}
        assert np.array_equal(issues_mask_from(sparse_ev, f, **opts), mask), f
    # the raw counts and the per-row guesses of both paths (#25)
    assert np.array_equal(_dense(sparse_ev.raw_confident_joint), _dense(want_raw))
    assert np.array_equal(sparse_ev.guess, want_guess)


@pytest.mark.parametrize("case_id", sorted(CASES))
def test_sparse_equals_dense_on_the_core_cases(case_id, monkeypatch):
    case = CASES[case_id]
    _compare(Evidence(case.labels, case.pred_probs), Evidence(case.labels, case.pred_probs),
             case.options, monkeypatch)


def test_sparse_and_chunked_together(tmp_path, monkeypatch):
    labels, probs = noisy_dataset(41, 2000, 40, quantum=10, noise=0.3, dtype=np.float32)
    path = tmp_path / "p.npy"
    np.save(path, probs)
    monkeypatch.setattr(sparse, "SPARSE_MIN_CLASSES", 2)
    ev = chunked.chunked_evidence(labels, str(path), chunk_rows=300)
    _compare(Evidence(labels, probs), ev, {}, monkeypatch)


def _many(n, k, seed=0):
    rng = np.random.default_rng(seed)
    true = rng.integers(0, k, n)
    given = true.copy()
    flip = rng.random(n) < 0.1
    given[flip] = rng.integers(0, k, int(flip.sum()))
    logits = rng.standard_normal((n, k), dtype=np.float32)
    logits[np.arange(n), true] += 8 * rng.random(n, dtype=np.float32)
    logits -= logits.max(axis=1, keepdims=True)
    probs = np.exp(logits)
    probs /= probs.sum(axis=1, keepdims=True)
    return given, probs


def test_three_thousand_classes_without_a_dense_matrix(monkeypatch):
    n, k = 6000, 3000
    labels, probs = _many(n, k)
    assert k >= sparse.SPARSE_MIN_CLASSES
    tracemalloc.start()
    ev = Evidence(labels, probs)
    got = noise_estimate_from(ev)
    mask = issues_mask_from(ev, "prune_by_noise_rate")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    # one dense (K, K) float64 matrix is 72 MB: the whole sparse path stays below it
    assert peak < 8 * k * k, f"peak {peak / 2**20:.0f} MB"
    assert got.confident_joint.nnz <= n + k
    # the same numbers as the dense computation
    monkeypatch.setattr(sparse, "SPARSE_MIN_CLASSES", 10**9)
    dense_ev = Evidence(labels, probs)
    want = noise_estimate_from(dense_ev)
    for name in ("confident_joint", "noise_matrix", "inverse_noise_matrix", "prior_true"):
        assert np.array_equal(_dense(getattr(got, name)), _dense(getattr(want, name))), name
    assert np.array_equal(mask, issues_mask_from(dense_ev, "prune_by_noise_rate"))


def test_converge_densifies_only_when_it_fits(monkeypatch):
    labels, probs = noisy_dataset(3, 300, 12)
    monkeypatch.setattr(sparse, "SPARSE_MIN_CLASSES", 2)
    est = nl.estimate_noise(labels, probs, converge=True)
    monkeypatch.setattr(sparse, "SPARSE_MIN_CLASSES", 10**9)
    want = nl.estimate_noise(labels, probs, converge=True)
    assert np.array_equal(est.noise_matrix, want.noise_matrix)
    monkeypatch.setattr(sparse, "SPARSE_MIN_CLASSES", 2)
    ev = Evidence(labels, probs)
    ev.confident_joint  # noqa: B018
    monkeypatch.setenv("NOISELENS_MEMORY_LIMIT", "100")
    with pytest.raises(ValueError, match=r"converge=True\) with 12 classes .* needs about"):
        noise_estimate_from(ev, converge=True)


def test_long_format_lists_the_non_zero_entries():
    dense = np.array([[5, 0, 1], [0, 7, 0], [2, 0, 3]])
    names = ["a", "=b", "c"]
    for matrix in (dense, sparse.sp.csr_array(dense)):
        table = long_matrix(matrix, names, "count")
        assert table.to_dict("list") == {"given": ["a", "a", "=b", "c", "c"],
                                         "true": ["a", "c", "=b", "a", "c"],
                                         "count": [5, 1, 7, 2, 3]}


def test_result_files_of_many_classes_are_long(tmp_path, monkeypatch):
    from analysis.export.split import WIDE_MATRIX_CLASSES, result_files

    monkeypatch.setenv("NOISELENS_HOME", str(tmp_path))
    k = WIDE_MATRIX_CLASSES + 20
    labels, probs = _many(3 * k, k, seed=2)
    labels[:k] = np.arange(k)  # every class given
    dataset = nl.from_arrays(np.zeros((3 * k, 1)), labels, pred_probs=probs, min_class_size=1)
    result = nl.analyze(dataset)
    files = result_files(dataset, result, mode="none")
    cj = files["confident_joint.csv"]
    assert list(cj.columns) == ["given", "true", "count"]
    assert cj["count"].sum() == 3 * k and (cj["count"] > 0).all()
    dense = _dense(result.estimate.confident_joint)
    assert len(cj) == np.count_nonzero(dense)
    noise = files["noise_matrix.csv"]
    assert list(noise.columns) == ["given", "true", "p_given_given_true"]
    assert len(noise) == np.count_nonzero(_dense(result.estimate.noise_matrix))


def test_pairs_and_health_of_many_classes_equal_dense(tmp_path, monkeypatch):
    monkeypatch.setenv("NOISELENS_HOME", str(tmp_path))
    k = 60
    labels, probs = _many(8 * k, k, seed=3)
    labels[:k] = np.arange(k)
    dataset = nl.from_arrays(np.zeros((8 * k, 1)), labels, pred_probs=probs, min_class_size=1)
    monkeypatch.setattr(sparse, "SPARSE_MIN_CLASSES", 10**9)
    dense = nl.analyze(dataset)
    want = (dense.pairs(), dense.health, dense.estimated_wrong, dense.per_class)
    monkeypatch.setattr(sparse, "SPARSE_MIN_CLASSES", 2)
    result = nl.analyze(dataset)
    assert sparse.is_sparse(result.estimate.confident_joint)
    got = (result.pairs(), result.health, result.estimated_wrong, result.per_class)
    assert len(want[0]) > 10
    assert got[0].equals(want[0]) and got[1:3] == want[1:3] and got[3].equals(want[3])
    with pytest.raises(ValueError, match="min_count must be at least 1 with 60 classes"):
        result.pairs(min_count=0)
