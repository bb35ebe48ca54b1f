"""Past one machine: the core on a ``dask.array.Array`` run by a ``dask.distributed``
``LocalCluster`` of two worker processes gives exactly NumPy's results (issue #18), and what
comes back to the client is per-row vectors and candidates, never the ``(N, K)`` array."""

from __future__ import annotations

import numpy as np
import pytest
from core_cases import edge_cases, noisy_dataset

import analysis as nl
from analysis.core import _kernels, chunked, selection
from analysis.core.confident import noise_estimate_from
from analysis.core.evidence import Evidence
from analysis.core.issues import FILTERS, RANKINGS, _prune_counts, issues_mask_from, scores_from

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("dask.distributed")
zarr = pytest.importorskip("zarr")


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as c:
        yield c


@pytest.fixture
def returned(monkeypatch):
    """Bytes of every array the passes bring back to the client, per pass."""
    sizes = []

    def walk(obj) -> int:
        if isinstance(obj, np.ndarray):
            return obj.nbytes
        if isinstance(obj, (tuple, list)):
            return sum(walk(o) for o in obj)
        return 0

    for name in ("map", "map_reduce", "map_finish"):
        original = getattr(chunked.DaskSource, name)

        def spy(self, *args, _original=original, **kwargs):
            out = _original(self, *args, **kwargs)
            sizes.append(walk(out))
            return out

        monkeypatch.setattr(chunked.DaskSource, name, spy)
    return sizes


def _same(labels, probs, array):
    mem = Evidence(labels, probs)
    ev = chunked.chunked_evidence(labels, array)
    assert isinstance(ev.source, chunked.DaskSource)
    for filter_by in FILTERS:
        assert np.array_equal(issues_mask_from(ev, filter_by), issues_mask_from(mem, filter_by))
    for method in RANKINGS:
        assert np.array_equal(scores_from(ev, method), scores_from(mem, method))
    want, got = noise_estimate_from(mem), noise_estimate_from(ev)
    for name in want.__dataclass_fields__:
        assert np.array_equal(getattr(got, name), getattr(want, name)), name
    # the raw counts and the per-row guesses, not only what the filters make of them: a
    # threshold compared without its - EPS changes these before any flag (#25)
    assert np.array_equal(ev.thresholds, mem.thresholds)
    assert np.array_equal(ev.raw_confident_joint, mem.raw_confident_joint)
    assert np.array_equal(ev.guess, mem.guess)


CASES = {c.id: c for c in edge_cases()
         if c.id in ("ties-q20-f32", "absent-class-float64", "one-row-class-float32",
                     "never-predicted", "k300-float32", "at-threshold-float64",
                     "at-threshold-float32")}


def test_dask_equals_numpy_on_random_data_with_ties(client, returned):
    labels, probs = noisy_dataset(21, 6000, 16, quantum=12, noise=0.3, dtype=np.float32)
    # the case has tied boundaries in the prune_by_noise_rate selection
    ev = Evidence(labels, probs)
    tied = _kernels.prune_by_margin(probs, *ev.groups, ev.label_counts,
                                    np.ascontiguousarray(_prune_counts(ev, 1, 1.0, None)),
                                    np.zeros(ev.k, bool), np.zeros(ev.n, bool))
    assert tied.sum() >= 3
    # columns in two chunks too: the source regroups whole rows per task
    array = da.from_array(probs, chunks=(700, 5))
    _same(labels, probs, array)
    # nothing the size of the (N, K) array came back in any pass (tied margins included)
    assert len(returned) >= 5 and max(returned) < probs.nbytes / 2
    # the public functions take it as they are
    assert np.array_equal(nl.find_label_issues(labels, array, rank_by="self_confidence"),
                          nl.find_label_issues(labels, probs, rank_by="self_confidence"))


@pytest.mark.parametrize("case_id", sorted(CASES))
def test_dask_equals_numpy_on_edge_cases(client, case_id):
    case = CASES[case_id]
    rows = max(1, len(case.labels) // 3)
    _same(case.labels, case.pred_probs, da.from_array(case.pred_probs, chunks=(rows, -1)))


def test_dask_reads_zarr_on_shared_storage(client, tmp_path):
    labels, probs = noisy_dataset(3, 3000, 5, dtype=np.float32)
    store = str(tmp_path / "p.zarr")
    z = zarr.open_array(store, mode="w", shape=probs.shape, chunks=(500, 5), dtype=probs.dtype)
    z[:] = probs
    array = da.from_zarr(store)
    assert np.array_equal(nl.find_label_issues(labels, array), nl.find_label_issues(labels, probs))
    est = nl.estimate_noise(labels, array)
    assert np.array_equal(est.confident_joint, nl.estimate_noise(labels, probs).confident_joint)


def test_dask_bad_rows_are_named_by_their_global_index(client):
    labels, probs = noisy_dataset(4, 1000, 3)
    probs = probs.copy()
    probs[777, 1] = np.nan
    with pytest.raises(ValueError, match="row 777 contain NaN"):
        nl.find_label_issues(labels, da.from_array(probs, chunks=(100, 3)))


def test_cli_dask_runs_the_core_on_the_cluster(client, tmp_path, monkeypatch, capsys):
    import pandas as pd

    from dashboard.cli import main

    monkeypatch.setenv("NOISELENS_HOME", str(tmp_path / "ws"))
    labels, probs = noisy_dataset(31, 600, 4, quantum=20, dtype=np.float32)
    path = tmp_path / "data.csv"
    pd.DataFrame({"uid": [f"r{i}" for i in range(600)], "x": np.arange(600) % 7,
                  "label": [f"c{v}" for v in labels]}).to_csv(path, index=False)
    np.save(tmp_path / "probs.npy", probs)
    code = main(["analyze", str(path), "--label-col", "label", "--id-col", "uid",
                 "--pred-probs", str(tmp_path / "probs.npy"), "--clean", "none",
                 "--dask", client.scheduler.address, "--chunk-rows", "100",
                 "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 0, err
    assert f"dask: {client.scheduler.address}, 2 worker(s)" in err
    assert "prune by noise rate: chunk 6/6" in err
    want = nl.find_label_issues(labels, probs, rank_by="self_confidence")
    table = pd.read_csv(tmp_path / "out" / "label_issues.csv")
    assert table["id"].tolist() == [f"r{i}" for i in want]
    # an unreachable scheduler is a message, not a traceback
    import dask

    with dask.config.set({"distributed.comm.timeouts.connect": "2s"}):
        code = main(["analyze", str(path), "--label-col", "label", "--pred-probs",
                     str(tmp_path / "probs.npy"), "--dask", "tcp://127.0.0.1:9",
                     "--out", str(tmp_path / "o2")])
    assert code == 2
    assert "--dask tcp://127.0.0.1:9: cannot reach the scheduler" in capsys.readouterr().err


def test_the_merge_of_two_workers_keeps_both_sides_lost_candidates():
    """#25: the Dask path merges the per-chunk candidates pairwise on the workers
    (selection.combine_candidates); a merge that dropped one side's ``lost`` (a tied value
    that side left out) passed this module. Both orders, both sides carrying the tie."""
    inf = np.inf
    want = np.array([1, 2])
    # pair 0: side a kept 0.1 and left out another 0.1 (a tie at its boundary)
    # pair 1: side b kept 0.2, 0.4 and left out another 0.4
    a = (np.array([0, 1]), np.array([0.1, 0.3]), np.array([1, 2]), np.array([0.1, inf]))
    b = (np.array([0, 1, 1]), np.array([0.5, 0.2, 0.4]), np.array([3, 4, 5]),
         np.array([inf, 0.4]))
    for left, right in ((a, b), (b, a)):
        merged = selection.combine_candidates(left, right, want)
        # from the definition: per pair the smallest left out of everything seen
        assert merged[3].tolist() == [0.1, 0.4]  # pair 0: a's tie; pair 1: 0.4 spilled
        rows, tied = selection.select_candidates(merged, want)
        assert tied.tolist() == [0]  # pair 0's boundary is tied: decided by the sort
        assert sorted(rows.tolist()) == [2, 4]  # pair 1: 0.3 (a) and 0.2 (b)
    # pair 1 tied on b's side: b left out a 0.4 and the merge keeps b's 0.2 and 0.4
    a2 = (np.array([0, 1]), np.array([0.1, 0.9]), np.array([1, 2]), np.array([inf, inf]))
    for left, right in ((a2, b), (b, a2)):
        merged = selection.combine_candidates(left, right, want)
        assert merged[3].tolist() == [0.5, 0.4]
        assert selection.select_candidates(merged, want)[1].tolist() == [1]
