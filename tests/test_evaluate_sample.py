"""The retrain check's stratified sample (analysis.review.evaluate.stratified_sample, max_rows)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from analysis.review.evaluate import retrain_check, stratified_sample


def slow_shares(strata, size):
    """Largest-remainder allocation, exact fractions, one stratum at a time."""
    values = sorted(set(strata.tolist()))
    n = len(strata)
    exact = {v: Fraction(size * strata.tolist().count(v), n) for v in values}
    share = {v: int(exact[v]) for v in values}
    left = size - sum(share.values())
    by_rest = sorted(values, key=lambda v: -(exact[v] - share[v]))  # stable: smaller first
    for v in by_rest[:left]:
        share[v] += 1
    return share


@pytest.mark.parametrize("seed,size", [(0, 100), (1, 777), (2, 1), (3, 1999)])
def test_stratified_sample_gives_each_stratum_its_share(seed, size):
    rng = np.random.default_rng(seed)
    strata = rng.choice([-1, 0, 1, 2, 5], size=2000, p=[0.4, 0.3, 0.2, 0.07, 0.03])
    got = stratified_sample(strata, size, random_state=seed)
    assert got.size == size and np.unique(got).size == size
    assert np.all(np.diff(got) > 0) and got.min() >= 0 and got.max() < strata.size
    want = slow_shares(strata, size)
    assert {v: int(np.count_nonzero(strata[got] == v)) for v in want} == want
    assert np.array_equal(got, stratified_sample(strata, size, random_state=seed))
    if size > 10:
        assert not np.array_equal(got, stratified_sample(strata, size, random_state=seed + 9))


def test_stratified_sample_keeps_every_row_when_small():
    assert stratified_sample(np.array([3, 1, 3]), 5).tolist() == [0, 1, 2]


def test_retrain_check_runs_on_the_stated_sample():
    rng = np.random.default_rng(0)
    n, k = 3000, 3
    truth = rng.integers(0, k, n)
    X = rng.normal(size=(n, 4)) + truth[:, None]
    labels = np.where(rng.random(n) < 0.2, rng.integers(0, k, n), truth)
    truth_known = np.where(rng.random(n) < 0.5, truth, -1)
    res = retrain_check(X, labels, truth, truth_known, n_boot=50, max_rows=1200,
                        random_state=4)
    assert (res.sample_rows, res.total_rows) == (1200, n)
    use = stratified_sample(truth_known, 1200, random_state=4)
    same = retrain_check(X[use], labels[use], truth[use], truth_known[use], n_boot=50,
                         max_rows=None, random_state=4)
    assert (res.original, res.cleaned, res.gain, res.test_rows) == (
        same.original, same.cleaned, same.gain, same.test_rows)
    full = retrain_check(X, labels, truth, truth_known, n_boot=50, max_rows=None)
    assert (full.sample_rows, full.total_rows) == (n, n)
    assert full.test_rows > res.test_rows
