"""The neighbour search of the background signals job runs in a child process (its numba loops
would hold the server's GIL) and leaves the graph in the on-disk cache that
``Analysis.signals`` reads: the same neighbours, no second search in the server."""

from __future__ import annotations

import numpy as np
import pytest

import analysis as nl
import analysis.neighbours as neighbours
from dashboard import compute


def test_child_search_fills_the_cache_the_analysis_reads(tmp_path, monkeypatch):
    monkeypatch.setenv("NOISELENS_HOME", str(tmp_path / "home"))
    rng = np.random.default_rng(3)
    n, k = 1_500, 4
    X = rng.normal(size=(n, 6)).astype(np.float32)
    labels = rng.integers(0, k, n)
    probs = rng.dirichlet(np.ones(k), n)
    reference = nl.analyze(nl.from_arrays(X, labels, pred_probs=probs)).signals  # in-process

    monkeypatch.setenv("NOISELENS_HOME", str(tmp_path / "other"))  # an empty cache
    result = nl.analyze(nl.from_arrays(X, labels, pred_probs=probs))
    messages = []
    assert compute.neighbours_in_child(result, lambda f, m: messages.append(m))

    def searched_again(*args, **kwargs):
        raise AssertionError("the server searched the neighbours itself")

    monkeypatch.setattr(neighbours, "_approximate", searched_again)
    monkeypatch.setattr(neighbours, "_exact", searched_again)
    got = result.signals
    np.testing.assert_array_equal(got.indices, reference.indices)
    np.testing.assert_array_equal(got.distances, reference.distances)
    assert got.table.equals(reference.table)
    # the temporary copy of the space is gone
    assert not list((tmp_path / "other" / "cache").glob(".neighbours-*"))


def test_child_failure_is_reported_not_raised(tmp_path, monkeypatch):
    monkeypatch.setenv("NOISELENS_HOME", str(tmp_path))
    monkeypatch.setattr(compute, "_CHILD", "raise SystemExit(3)")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3)).astype(np.float32)
    result = nl.analyze(nl.from_arrays(X, rng.integers(0, 3, 200),
                                       pred_probs=rng.dirichlet(np.ones(3), 200)))
    assert compute.neighbours_in_child(result, lambda f, m: None) is False
    assert result.signals.table.shape[0] == 200  # the thread's own search still works


if __name__ == "__main__":  # pragma: no cover
    pytest.main([__file__, "-q"])
