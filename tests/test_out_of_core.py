"""Out of core: the core on a ``.npy`` path, a zarr array and an in-memory array read in row
chunks gives exactly the in-memory results (issue #18), on the random and edge cases of the
core tests (ties, missing classes, one row per class, fewer rows than classes), with chunks
small enough that every class and every tie spans several of them; the chunked route reads at
most ``chunk_rows`` rows at a time; bad inputs get the in-memory messages with global rows.
"""

from __future__ import annotations

import numpy as np
import pytest
import reference_cl as ref
from core_cases import edge_cases, noisy_dataset, random_cases

import analysis as nl
from analysis.core import _kernels, chunked, selection
from analysis.core.confident import confident_thresholds, noise_estimate_from
from analysis.core.evidence import Evidence
from analysis.core.issues import FILTERS, RANKINGS, _prune_counts, issues_mask_from, scores_from

zarr = pytest.importorskip("zarr")

CASES = {c.id: c for c in random_cases()[:10] + edge_cases()}


def _big_tied_case():
    """3,000 rows, 6 classes, probabilities quantised to 1/10: exact ties at the boundary of
    the prune_by_noise_rate selection that span many chunks."""
    labels, probs = noisy_dataset(21, 3000, 6, quantum=10, noise=0.3, dtype=np.float32)
    return labels, probs


def _sources(tmp_path, probs, chunk_rows):
    """The chunked ways of giving ``probs``: .npy path, zarr array, zarr path, chunked ndarray."""
    path = tmp_path / "p.npy"
    np.save(path, probs)
    store = tmp_path / "p.zarr"
    z = zarr.open_array(str(store), mode="w", shape=probs.shape, dtype=probs.dtype,
                        chunks=(max(1, chunk_rows // 2), probs.shape[1]))
    z[:] = probs
    return {
        "npy": (str(path), chunk_rows),
        "zarr-array": (zarr.open_array(str(store), mode="r"), chunk_rows),
        "zarr-path": (store, chunk_rows),
        "ndarray": (probs, chunk_rows),
    }


def _assert_same_everything(labels, probs, source, chunk_rows, options=None):
    """Every filter, score, ranking and estimate from one chunked evidence (the public
    functions are these same calls on a fresh evidence) equals the in-memory one."""
    options = options or {}
    mem = Evidence(labels, probs)
    ev = chunked.chunked_evidence(labels, source, chunk_rows=chunk_rows)
    for filter_by in FILTERS:
        opts = options if filter_by in ("prune_by_noise_rate", "prune_by_class", "both") else {}
        want = issues_mask_from(mem, filter_by, **opts)
        got = issues_mask_from(ev, filter_by, **opts)
        assert got.dtype == want.dtype and np.array_equal(got, want), filter_by
    for method in RANKINGS:
        want = scores_from(mem, method)
        got = scores_from(ev, method)
        assert got.dtype == want.dtype and np.array_equal(got, want), method
    for converge in (False, True):
        want = noise_estimate_from(mem, converge=converge)
        got = noise_estimate_from(ev, converge=converge)
        for name in want.__dataclass_fields__:
            assert np.array_equal(getattr(got, name), getattr(want, name)), name
    assert np.array_equal(ev.raw_confident_joint, mem.raw_confident_joint)
    assert np.array_equal(ev.guess, mem.guess)


def _assert_public_functions_agree(labels, probs, source, chunk_rows):
    for filter_by in ("prune_by_noise_rate", "both", "low_normalized_margin"):
        want = nl.find_label_issues(labels, probs, filter_by=filter_by, rank_by="normalized_margin")
        got = nl.find_label_issues(labels, source, filter_by=filter_by,
                                   rank_by="normalized_margin", chunk_rows=chunk_rows)
        assert np.array_equal(got, want), filter_by
    want = nl.label_quality_scores(labels, probs, method="confidence_weighted_entropy")
    got = nl.label_quality_scores(labels, source, method="confidence_weighted_entropy",
                                  chunk_rows=chunk_rows)
    assert np.array_equal(got, want)
    want, got = nl.estimate_noise(labels, probs), nl.estimate_noise(labels, source,
                                                                     chunk_rows=chunk_rows)
    for name in want.__dataclass_fields__:
        assert np.array_equal(getattr(got, name), getattr(want, name)), name
    assert np.array_equal(nl.confident_joint(labels, source, chunk_rows=chunk_rows),
                          nl.confident_joint(labels, probs))
    assert np.array_equal(confident_thresholds(
        labels, source, chunk_rows=chunk_rows), Evidence(labels, probs).thresholds)


@pytest.mark.parametrize("case_id", sorted(CASES))
def test_chunked_equals_in_memory_on_the_core_cases(tmp_path, case_id):
    case = CASES[case_id]
    # four or five chunks: every class of the bigger cases is spread over several
    chunk_rows = max(1, -(-len(case.labels) // 4) - 1)
    path = tmp_path / "p.npy"
    np.save(path, case.pred_probs)
    _assert_same_everything(case.labels, case.pred_probs, str(path), chunk_rows, case.options)


def test_every_source_equals_in_memory_on_ties_across_chunks(tmp_path):
    labels, probs = _big_tied_case()
    # the case has what it is meant to test: tied boundaries in the in-memory selection
    ev = Evidence(labels, probs)
    counts = _prune_counts(ev, 1, 1.0, None)
    tied = _kernels.prune_by_margin(probs, *ev.groups, ev.label_counts,
                                    np.ascontiguousarray(counts),
                                    np.zeros(ev.k, bool), np.zeros(ev.n, bool))
    assert tied.sum() >= 3
    for name, (source, rows) in _sources(tmp_path, probs, 200).items():
        want = nl.find_label_issues(labels, probs)
        got = nl.find_label_issues(labels, source, chunk_rows=rows)
        assert np.array_equal(got, want), name
    _assert_same_everything(labels, probs, str(tmp_path / "p.npy"), 500)
    _assert_public_functions_agree(labels, probs, str(tmp_path / "p.npy"), 500)


def test_chunked_equals_the_slow_reference(tmp_path):
    """Not only equal to the fast in-memory code: equal to the loop from the definitions."""
    labels, probs = noisy_dataset(5, 400, 5, quantum=20)
    path = tmp_path / "p.npy"
    np.save(path, probs)
    for filter_by in ("prune_by_noise_rate", "both", "confident_learning"):
        got = nl.find_label_issues(labels, str(path), filter_by=filter_by, chunk_rows=33)
        assert np.array_equal(got, np.asarray(ref.find_label_issues(labels, probs, filter_by)))
    got = nl.estimate_noise(labels, str(path), chunk_rows=33)
    assert np.array_equal(got.confident_joint, ref.confident_joint(labels, probs))


def _merge(parts, want):
    want = np.asarray(want)
    acc = parts[0]
    for part in parts[1:]:
        acc = selection.combine_candidates(acc, part, want)
    return selection.select_candidates(acc, want)


def test_merge_keeps_the_smallest_and_reports_ties():
    # two chunks of one pair (want 2): values 0.1 | 0.3 in one, 0.2 | 0.4 in the other
    parts = [
        (np.array([0, 0]), np.array([0.1, 0.3]), np.array([0, 1]), np.array([np.inf])),
        (np.array([0, 0]), np.array([0.2, 0.4]), np.array([2, 3]), np.array([0.5])),
    ]
    rows, tied = _merge(parts, [2])
    assert sorted(rows) == [0, 2] and tied.size == 0
    # the same in the other order
    rows, tied = _merge(parts[::-1], [2])
    assert sorted(rows) == [0, 2] and tied.size == 0
    # a value left out in its chunk equals the merged boundary: tied
    parts[1] = (np.array([0, 0]), np.array([0.2, 0.3]), np.array([2, 3]), np.array([0.2]))
    rows, tied = _merge(parts, [2])
    assert list(tied) == [0] and rows.size == 0
    # two chunks' kept values tie at the merged boundary: tied, whatever the order
    parts = [(np.array([0]), np.array([0.1]), np.array([0]), np.array([np.inf])),
             (np.array([0]), np.array([0.1]), np.array([1]), np.array([np.inf]))]
    assert list(_merge(parts, [1])[1]) == [0] and list(_merge(parts[::-1], [1])[1]) == [0]
    # two pairs, the second untouched by the tie of the first
    parts = [(np.array([0, 1]), np.array([0.1, 0.7]), np.array([0, 5]), np.full(2, np.inf)),
             (np.array([0, 1]), np.array([0.1, 0.9]), np.array([1, 6]), np.full(2, np.inf))]
    rows, tied = _merge(parts, [1, 1])
    assert list(tied) == [0] and list(rows) == [5]


class _Recording:
    """An array-like that records every row slice read from it."""

    def __init__(self, array):
        self.array, self.shape, self.dtype, self.reads = array, array.shape, array.dtype, []

    def __getitem__(self, key):
        self.reads.append(key.stop - key.start)
        return self.array[key]


def test_reads_at_most_chunk_rows_at_a_time():
    labels, probs = noisy_dataset(3, 1000, 4)
    rec = _Recording(probs)
    ev = chunked.ChunkedEvidence(labels, chunked.RowSource(rec, chunk_rows=128))
    mask = issues_mask_from(ev, "prune_by_noise_rate")
    assert np.array_equal(mask, nl.find_label_issues(labels, probs))
    assert max(rec.reads) == 128
    # three passes (facts, guess, candidates), each reading every row once
    assert sum(rec.reads) == 3 * 1000 and len(rec.reads) == 3 * 8


def test_default_chunk_is_about_64_mib():
    assert chunked.default_chunk_rows(100, 8) == 64 * 2**20 // 800
    assert chunked.default_chunk_rows(10**8, 8) == 1


@pytest.mark.parametrize(
    ("row", "value", "words"),
    [
        (1234, np.nan, "row 1234 contain NaN or infinity"),
        (1500, -0.5, "row 1500 hold a negative probability"),
        (3, 1.5, "above 1"),
    ],
)
def test_bad_rows_are_named_by_their_global_index(tmp_path, row, value, words):
    labels, probs = noisy_dataset(4, 2000, 3)
    probs = probs.copy()
    probs[row, 0] = value
    path = tmp_path / "bad.npy"
    np.save(path, probs)
    with pytest.raises(ValueError) as in_memory:
        nl.find_label_issues(labels, probs)
    with pytest.raises(ValueError) as chunked_err:
        nl.find_label_issues(labels, str(path), chunk_rows=100)
    assert str(chunked_err.value) == str(in_memory.value)
    assert words in str(chunked_err.value)


def test_rows_that_do_not_sum_to_one_over_several_chunks(tmp_path):
    labels, probs = noisy_dataset(4, 500, 3)
    probs = probs.copy()
    probs[[10, 250, 499]] *= 1.005
    path = tmp_path / "p.npy"
    np.save(path, probs)
    with pytest.raises(ValueError) as err:
        nl.estimate_noise(labels, str(path), chunk_rows=50)
    assert "rows 10, 250, 499 do not" in str(err.value)
    with pytest.raises(ValueError) as in_memory:
        nl.estimate_noise(labels, probs)
    assert str(err.value) == str(in_memory.value)


def test_unreadable_sources_are_named(tmp_path):
    labels = np.array([0, 1, 0])
    with pytest.raises(ValueError, match="not found"):
        nl.find_label_issues(labels, str(tmp_path / "missing.npy"))
    pickled = tmp_path / "p.pkl"
    pickled.write_bytes(b"\x80\x04")
    with pytest.raises(ValueError, match="pickle files are never opened"):
        nl.find_label_issues(labels, pickled)
    obj = tmp_path / "obj.npy"
    np.save(obj, np.array([[object()]], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match=r"obj\.npy.*pickles are never opened"):
        nl.find_label_issues(labels, str(obj))
    npz = tmp_path / "p.npz.npy"
    np.savez(tmp_path / "p.npz", a=np.eye(3))
    npz.write_bytes((tmp_path / "p.npz").read_bytes())
    with pytest.raises(ValueError, match="npz archive"):
        nl.find_label_issues(labels, str(npz))
    truncated = tmp_path / "t.npy"
    np.save(truncated, np.full((100, 3), 1 / 3))
    truncated.write_bytes(truncated.read_bytes()[:-50])
    with pytest.raises(ValueError, match=r"t\.npy"):
        nl.find_label_issues(np.zeros(100, int), str(truncated))
    with pytest.raises(ValueError, match="labels has 3 rows but pred_probs has 100"):
        np.save(truncated, np.full((100, 3), 1 / 3))
        nl.find_label_issues(labels, str(truncated))
    with pytest.raises(ValueError, match=r"\.npy file or a zarr array"):
        nl.find_label_issues(labels, str(tmp_path / "p.csv"))


def test_progress_reports_every_chunk(tmp_path):
    labels, probs = noisy_dataset(4, 1000, 3)
    path = tmp_path / "p.npy"
    np.save(path, probs)
    seen = []
    nl.find_label_issues(labels, str(path), chunk_rows=100,
                         progress=lambda f, m: seen.append((f, m)))
    assert [m for f, m in seen if f == 1.0][:3] == [
        "checking rows: chunk 10/10 (1,000 rows x 3 classes)",
        "confident joint: chunk 10/10 (1,000 rows x 3 classes)",
        "prune by noise rate: chunk 10/10 (1,000 rows x 3 classes)",
    ]
    assert len(seen) == 3 * 11


def _cli_files(tmp_path, n=600, k=4):
    import pandas as pd

    labels, probs = noisy_dataset(31, n, k, quantum=20, dtype=np.float32)
    path = tmp_path / "data.csv"
    pd.DataFrame({"uid": [f"r{i}" for i in range(n)], "x": np.arange(n) % 7,
                  "label": [f"c{v}" for v in labels]}).to_csv(path, index=False)
    # columns in the order of the sorted class names c0..c3
    npy = tmp_path / "probs.npy"
    np.save(npy, probs)
    return path, npy


def test_cli_chunk_rows_flags_what_the_in_memory_core_flags(tmp_path, monkeypatch):
    import pandas as pd

    from dashboard.cli import main

    monkeypatch.setenv("NOISELENS_HOME", str(tmp_path / "ws"))
    path, npy = _cli_files(tmp_path)
    common = ["analyze", str(path), "--label-col", "label", "--id-col", "uid",
              "--pred-probs", str(npy), "--clean", "none"]
    assert main([*common, "--chunk-rows", "0", "--out", str(tmp_path / "c0")]) == 2
    assert main([*common, "--chunk-rows", "50", "--out", str(tmp_path / "chunked")]) == 0
    labels = pd.read_csv(path)["label"].str[1:].astype(int).to_numpy()
    want = nl.find_label_issues(labels, np.load(npy), rank_by="self_confidence")
    table = pd.read_csv(tmp_path / "chunked" / "label_issues.csv")
    assert table["id"].tolist() == [f"r{i}" for i in want]
    joint = pd.read_csv(tmp_path / "chunked" / "confident_joint.csv", index_col=0)
    assert np.array_equal(joint.to_numpy(), nl.estimate_noise(labels, np.load(npy))
                          .confident_joint)


def test_cli_refuses_what_does_not_fit_with_the_numbers(tmp_path, monkeypatch, capsys):
    from dashboard.cli import main

    monkeypatch.setenv("NOISELENS_HOME", str(tmp_path / "ws"))
    monkeypatch.setenv("NOISELENS_MEMORY_LIMIT", "10K")
    path, npy = _cli_files(tmp_path)
    code = main(["analyze", str(path), "--label-col", "label", "--pred-probs", str(npy),
                 "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2
    assert "the analysis of 600 rows x 4 classes needs about" in err
    assert "but 10.0 KB is available; nothing was started" in err
    assert not (tmp_path / "o").exists()
