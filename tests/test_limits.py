"""Limits instead of blow-ups (issue #13): the memory of the core and of an analysis is
estimated before the work starts and what does not fit is refused with the numbers;
out-of-fold training reports each fold and candidate with the time left."""

from __future__ import annotations

import numpy as np
import pytest
from core_cases import noisy_dataset

import analysis as nl
from analysis.core import limits, sparse
from analysis.model.probabilities import _duration, choose_model, training_arrays
from analysis.pipeline import check_analysis


def test_sizes_and_the_environment_override(monkeypatch):
    assert limits._parse_size("8G") == 8 * 2**30
    assert limits._parse_size("500m") == 500 * 2**20
    assert limits._parse_size("1.5GB") == int(1.5 * 2**30)
    assert limits._parse_size("12345") == 12345
    monkeypatch.setenv("NOISELENS_MEMORY_LIMIT", "2G")
    assert limits.available_bytes() == 2 * 2**30
    monkeypatch.setenv("NOISELENS_MEMORY_LIMIT", "lots")
    with pytest.raises(ValueError, match="NOISELENS_MEMORY_LIMIT='lots' is not a size"):
        limits.available_bytes()
    monkeypatch.delenv("NOISELENS_MEMORY_LIMIT")
    assert limits.available_bytes() is None or limits.available_bytes() > 0
    assert limits.human(1536) == "1.5 KB" and limits.human(3 * 2**30) == "3.0 GB"


def test_core_estimate_counts_the_dense_matrices():
    # 10,000 classes dense: (10 + threads) matrices of 800 MB; sparse: a few MB
    dense = limits.core_bytes(20_000, 10_000, sparse=False, threads=4)
    assert dense["14 dense 10,000 x 10,000 matrices"] == 14 * 8 * 10_000**2
    small = limits.core_bytes(20_000, 10_000, sparse=True)
    assert sum(small.values()) < 50 * 2**20
    assert small["per-row vectors"] == limits.ROW_BYTES * 20_000


def test_the_core_is_refused_before_it_starts(monkeypatch):
    labels, probs = noisy_dataset(1, 2000, 50)
    monkeypatch.setattr(sparse, "SPARSE_MIN_CLASSES", 10**9)
    parts = limits.core_bytes(2000, 50, sparse=False, threads=limits.num_threads())
    need = sum(parts.values())
    monkeypatch.setenv("NOISELENS_MEMORY_LIMIT", str(need - 1))
    with pytest.raises(limits.MemoryLimitError) as err:
        nl.find_label_issues(labels, probs)
    message = str(err.value)
    assert message.startswith(f"the confident-learning core on 2,000 rows x 50 classes needs "
                              f"about {limits.human(need)} of memory (per-row vectors ")
    assert f"but {limits.human(need - 1)} is available; nothing was started." in message
    monkeypatch.setenv("NOISELENS_MEMORY_LIMIT", str(need))
    assert nl.find_label_issues(labels, probs).shape == (2000,)


def test_many_classes_fit_where_dense_would_not(monkeypatch):
    """The 10,000-class case of issue #13 at a tenth of its size: with a budget that 100
    dense 1,000 x 1,000 matrices would break, the sparse core runs."""
    rng = np.random.default_rng(0)
    n, k = 4000, 1000
    labels = rng.integers(0, k, n)
    probs = rng.dirichlet(np.full(k, 0.05), size=n).astype(np.float32)
    dense = sum(limits.core_bytes(n, k, sparse=False, threads=limits.num_threads()).values())
    monkeypatch.setenv("NOISELENS_MEMORY_LIMIT", str(dense // 2))
    est = nl.estimate_noise(labels, probs)  # sparse: fits
    assert sparse.is_sparse(est.confident_joint)
    monkeypatch.setattr(sparse, "SPARSE_MIN_CLASSES", 10**9)
    with pytest.raises(limits.MemoryLimitError, match="1,000 classes needs about"):
        nl.estimate_noise(labels, probs)


def test_chunked_core_is_refused_with_the_numbers(tmp_path, monkeypatch):
    labels, probs = noisy_dataset(1, 500, 4)
    np.save(tmp_path / "p.npy", probs)
    monkeypatch.setenv("NOISELENS_MEMORY_LIMIT", "1K")
    with pytest.raises(limits.MemoryLimitError, match="500 rows x 4 classes needs about"):
        nl.find_label_issues(labels, str(tmp_path / "p.npy"))


def test_analysis_estimate_includes_out_of_fold_training(monkeypatch):
    monkeypatch.setenv("NOISELENS_MEMORY_LIMIT", "1G")
    check_analysis(2_000_000, 10, has_probs=True)  # 2M x 10 given: fits
    with pytest.raises(limits.MemoryLimitError) as err:
        check_analysis(2_000_000, 100, has_probs=False)
    # 10 settings of 4 candidates, raw and calibrated, the mixture and the result: 22 arrays
    assert training_arrays("tabular") == 22
    assert "(22 x (N, K) float64 probabilities 32.8 GB, per-row vectors 183.1 MB" in str(err.value)
    assert "but 1.0 GB is available; nothing was started." in str(err.value)


def test_training_is_refused_before_it_starts(monkeypatch):
    """The blow-up of issue #13: 10,000 classes in a small CSV, trained out of fold."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 2))
    y = np.arange(40) % 20
    monkeypatch.setenv("NOISELENS_MEMORY_LIMIT", "100K")
    with pytest.raises(limits.MemoryLimitError) as err:
        choose_model(X, y, cv=2, num_classes=10_000)
    assert str(err.value).startswith("out-of-fold training of 3 candidates on 40 rows x 10,000 "
                                     "classes needs about 61.0 MB of memory (20 x (N, K) "
                                     "float64 probabilities 61.0 MB")


def test_durations_read_well():
    assert [_duration(s) for s in (0.4, 42, 185, 3725)] == ["0 s", "42 s", "3 min 05 s",
                                                             "1 h 02 min"]


def test_training_reports_every_fold_and_candidate_with_the_time_left():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 3))
    y = (X[:, 0] > 0).astype(int)
    calls = []
    choose_model(X, y, cv=3, candidates=("logistic", "knn"),
                 progress=lambda f, m: calls.append((f, m)))
    messages = [m for _, m in calls]
    assert messages[0] == "3 folds x 2 candidates on 120 rows"
    assert messages[1].startswith("fold 1/3, candidate 1/2: training logistic on 80 rows (")
    assert "time left known after the first step" in messages[1]
    assert messages[2].startswith("fold 1/3, candidate 1/2: logistic done in ")
    assert "left)" in messages[2]
    assert messages[3].startswith("fold 1/3, candidate 2/2: training knn on 80 rows (")
    assert sum("training" in m for m in messages) == 6
    assert sum(" done in " in m for m in messages) == 6
    fractions = [f for f, _ in calls]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
