"""The Suspects page's row filters as a pure function, against an obvious loop."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import analysis as nl
from dashboard.selection import suspect_rows


@pytest.fixture(scope="module")
def result():
    rng = np.random.default_rng(4)
    n, k = 400, 4
    truth = rng.integers(0, k, n)
    probs = rng.dirichlet(np.ones(k), n) * 0.5
    probs[np.arange(n), truth] += 0.5
    probs = np.round(probs, 2)  # ties in the scores
    probs /= probs.sum(axis=1, keepdims=True)
    given = np.where(rng.random(n) < 0.2, rng.integers(0, k, n), truth)
    return nl.analyze(nl.from_arrays(rng.normal(size=(n, 2)), given, pred_probs=probs))


def _slow(result, classes, cell, threshold, only_flagged, within):
    pool = list(within) if within is not None else range(len(result.labels))
    kept = []
    for r in pool:
        if only_flagged and not result.is_issue[r]:
            continue
        if classes and result.labels[r] not in classes:
            continue
        if cell is not None and (result.labels[r], result.estimated_true[r]) != cell:
            continue
        if result.scores[r] > threshold + 1e-12:
            continue
        kept.append(r)
    return kept


@pytest.mark.parametrize("classes, cell, threshold, only_flagged, within", itertools.product(
    [(), (1,), (0, 3)], [None, (1, 2)], [1.0, 0.3], [True, False], [None, "map"]))
def test_suspect_rows_equal_the_definition(result, classes, cell, threshold, only_flagged,
                                           within):
    if within == "map":
        within = np.random.default_rng(0).choice(len(result.labels), 120, replace=False)
    got = suspect_rows(result, classes=classes, cell=cell, threshold=threshold,
                       only_flagged=only_flagged, within=within)
    want = _slow(result, classes, cell, threshold, only_flagged, within)
    assert sorted(got.tolist()) == sorted(want)
    assert np.all(np.diff(result.scores[got]) >= 0)  # lowest quality first
    if within is None and only_flagged:
        # the page lists the flagged rows in exactly the ranking's order, ties included
        order = {r: t for t, r in enumerate(result.ranked)}
        assert [order[r] for r in got] == sorted(order[r] for r in got)
