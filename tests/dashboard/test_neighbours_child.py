"""The neighbour search of the background signals job runs in a child process (its numba loops
would hold the server's GIL) and leaves the graph in the on-disk cache that
``Analysis.signals`` reads: the same neighbours, no second search in the server."""

from __future__ import annotations

import numpy as np
import pytest

import analysis as nl
import analysis.model.neighbours as neighbours
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


def test_one_search_per_data_set_at_a_time(tmp_path, monkeypatch):
    """Jobs of several views of one data set (e.g. two filters) start one child, not one each:
    the others wait for it and find it done."""
    import threading
    import time

    monkeypatch.setenv("NOISELENS_HOME", str(tmp_path))
    monkeypatch.setattr(compute, "_CHILD_DONE", set())
    monkeypatch.setattr(compute, "_CHILD_SEARCHES", {})
    calls = []

    def fake_search(result, progress):
        calls.append(result.filter_by)
        time.sleep(0.3)
        return True

    monkeypatch.setattr(compute, "_search_in_child", fake_search)
    rng = np.random.default_rng(1)
    X = rng.normal(size=(100, 3)).astype(np.float32)
    base = nl.analyze(nl.from_arrays(X, rng.integers(0, 3, 100),
                                     pred_probs=rng.dirichlet(np.ones(3), 100)))
    views = [base.with_methods(filter_by=f) for f in nl.FILTERS[:4]]
    answers = []
    threads = [threading.Thread(target=lambda r=r: answers.append(
        compute.neighbours_in_child(r, lambda f, m: None))) for r in views]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert answers == [True] * 4 and len(calls) == 1
    other = nl.analyze(nl.from_arrays(X[::-1].copy(), rng.integers(0, 3, 100),
                                      pred_probs=rng.dirichlet(np.ones(3), 100)))
    assert compute.neighbours_in_child(other, lambda f, m: None) and len(calls) == 2


_PARENT = """
import sys
import numpy as np
import analysis as nl
from dashboard import compute

rng = np.random.default_rng(0)
n = 200_000
X = rng.normal(size=(n, 16)).astype(np.float32)
result = nl.analyze(nl.from_arrays(X, rng.integers(0, 3, n),
                                   pred_probs=rng.dirichlet(np.ones(3), n)))
said = []


def progress(fraction, message):
    if not said:
        said.append(message)
        print("searching", flush=True)


compute.neighbours_in_child(result, progress)
"""


def test_a_server_killed_mid_search_leaves_no_child_and_no_folder(tmp_path):
    """kill -9 of the server while its child searches: the child notices within seconds,
    removes its temporary copy of the space and exits (no orphan holding GBs at 1M rows)."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    root = Path(compute.__file__).resolve().parents[1]
    env = {**os.environ, "NOISELENS_HOME": str(tmp_path), "PYTHONPATH": str(root)}
    parent = subprocess.Popen([sys.executable, "-c", _PARENT], env=env,
                              stdout=subprocess.PIPE, text=True)
    assert parent.stdout.readline().strip() == "searching"
    folders = list((tmp_path / "cache").glob(".neighbours-*"))
    assert len(folders) == 1

    def children() -> list[int]:
        found = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if str(folders[0]).encode() in cmd:
                found.append(int(pid))
        return found

    assert children(), "the search did not run in a child process"
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 60
    while (children() or folders[0].exists()) and time.monotonic() < deadline:
        time.sleep(0.5)
    left = children()
    for pid in left:  # do not leave it running if the test fails
        os.kill(pid, signal.SIGKILL)
    assert not left, "the child outlived the server"
    assert not folders[0].exists(), "the temporary copy of the space was left behind"


def test_a_projection_runs_in_a_child_and_fills_the_cache(tmp_path, monkeypatch):
    """From PROJECTION_IN_CHILD_ROWS rows a UMAP / t-SNE job runs its projection in a child
    process; the server's thread then reads it from the disk cache (it never computes it)
    and gets what an in-process projection gives. t-SNE here: no numba to compile."""
    import time

    import streamlit as st

    rng = np.random.default_rng(5)
    X = rng.normal(size=(300, 5)).astype(np.float32)
    labels = rng.integers(0, 3, 300)
    monkeypatch.setenv("NOISELENS_HOME", str(tmp_path / "reference"))
    dataset = nl.from_arrays(X, labels, pred_probs=rng.dirichlet(np.ones(3), 300))
    st.cache_resource.clear()
    reference = nl.project(compute.features_for(dataset), "tsne", cache_key=dataset.fingerprint)

    monkeypatch.setenv("NOISELENS_HOME", str(tmp_path / "home"))  # an empty cache
    monkeypatch.setattr(compute, "PROJECTION_IN_CHILD_ROWS", 100)
    st.cache_resource.clear()
    children = []
    real = compute._in_child

    def in_child(*args):
        children.append((args[1], real(*args)))
        return children[-1][1]

    def computed_here(*args, **kwargs):
        raise AssertionError("the server computed the projection itself")

    monkeypatch.setattr(compute, "_in_child", in_child)
    import sklearn.manifold

    monkeypatch.setattr(sklearn.manifold, "TSNE", computed_here)  # not in the child
    assert compute.projection_for(dataset, "tsne") is None  # started in the background
    job = compute.projection_job(dataset, "tsne")
    deadline = time.monotonic() + 120
    while not job.done and time.monotonic() < deadline:
        time.sleep(0.2)
    assert job.error is None
    assert children == [({"kind": "projection", "method": "tsne", "key": dataset.fingerprint},
                         True)]
    got = compute.projection_for(dataset, "tsne")
    np.testing.assert_allclose(got, reference, rtol=1e-5, atol=1e-5)
    assert not list((tmp_path / "home" / "cache").glob(".projection-*"))
    # a restarted server finds it on disk: no second child
    st.cache_resource.clear()
    compute.projection_for(dataset, "tsne")
    job = compute.projection_job(dataset, "tsne")
    while job is not None and not job.done and time.monotonic() < deadline:
        time.sleep(0.1)
    np.testing.assert_array_equal(compute.projection_for(dataset, "tsne"), got)
    assert len(children) == 1
    st.cache_resource.clear()


def test_the_signals_job_prepares_the_row_table_and_the_pca_map(tmp_path, monkeypatch):
    """What the map and Suspects start from is made by the background job after the
    Overview: the analysis' row table and the PCA projection of the map."""
    import time

    import streamlit as st

    monkeypatch.setenv("NOISELENS_HOME", str(tmp_path))
    st.cache_resource.clear()
    rng = np.random.default_rng(2)
    X = rng.normal(size=(400, 4)).astype(np.float32)
    dataset = nl.from_arrays(X, rng.integers(0, 3, 400), pred_probs=rng.dirichlet(np.ones(3), 400))
    result = compute.analysis_for(dataset, "prune_by_noise_rate", "self_confidence")
    job = compute.signals_job(result)
    deadline = time.monotonic() + 60
    while not job.done and time.monotonic() < deadline:
        time.sleep(0.1)
    assert job.error is None
    assert "_table" in result.__dict__
    made = compute.cache().entry(dataset).projections["pca"]
    np.testing.assert_array_equal(
        made, nl.project(compute.features_for(dataset), "pca", cache_key=dataset.fingerprint))
    assert compute.projection_for(dataset, "pca") is made
    st.cache_resource.clear()
