"""Review decisions survive reopening and concurrent writers; exports round-trip."""

from __future__ import annotations

import dataclasses
import json
import threading

import numpy as np
import pandas as pd
import pytest

import analysis as nl
from analysis.export.split import FLAG_COLUMN, apply_decisions, export_split, suggested_decisions
from analysis.review.store import ReviewStore


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    monkeypatch.setenv("NOISELENS_HOME", str(tmp_path / "ws"))


def test_decisions_are_written_at_once_and_read_back_by_a_new_store(tmp_path):
    store = ReviewStore("fp1", tmp_path / "r.sqlite", class_names=["cat", "dog"])
    store.decide(3, "relabel", "dog", note="ears")
    store.decide("7", "remove")
    store.decide(9, "keep")
    again = ReviewStore("fp1", tmp_path / "r.sqlite")
    d = again.decisions()
    assert list(d["id"]) == ["3", "7", "9"]
    assert list(d["action"]) == ["relabel", "remove", "keep"]
    assert d.loc[0, "new_label"] == "dog" and d.loc[0, "note"] == "ears"
    assert again.get(3) == {"action": "relabel", "new_label": "dog", "note": "ears"}
    assert again.counts() == {"relabel": 1, "remove": 1, "keep": 1}
    # another dataset sees nothing
    assert ReviewStore("fp2", tmp_path / "r.sqlite").decisions().empty
    # replacing a decision keeps one row per id
    again.decide(3, "keep")
    assert len(store.decisions()) == 3 and store.get(3)["action"] == "keep"


def test_undo_restores_the_previous_state_step_by_step(tmp_path):
    """Each undo gives back the whole earlier decision (action, new label, note) of every row
    of the step, single or bulk, several steps deep."""
    store = ReviewStore("fp", tmp_path / "r.sqlite", class_names=["a", "b", "c"])

    def state():
        return {i: store.get(i) for i in (1, 2, 3, 4)}

    history = [state()]  # the state before each step, oldest first
    steps = [
        lambda: store.decide(1, "remove", note="blurry"),
        lambda: store.decide(1, "relabel", "b", note="looks like b"),
        lambda: store.decide_many([2, 3], "relabel", ["c", "a"], note="bulk: cell 2-3"),
        lambda: store.decide(4, "keep", note="checked"),
        lambda: store.decide_many([1, 2, 3, 4], "keep"),  # overwrites every row
        lambda: store.decide_many([1, 3], "relabel", ["c", "c"], note="bulk again"),
        lambda: store.clear([1, 2]),
    ]
    for step in steps:
        step()
        history.append(state())
    assert history[3] == {
        1: {"action": "relabel", "new_label": "b", "note": "looks like b"},
        2: {"action": "relabel", "new_label": "c", "note": "bulk: cell 2-3"},
        3: {"action": "relabel", "new_label": "a", "note": "bulk: cell 2-3"},
        4: None,
    }
    assert history[-1][1] is None and history[-1][2] is None
    sizes = [1, 1, 2, 1, 4, 2, 2]
    for back in range(len(steps), 0, -1):
        assert store.undo() == sizes[back - 1]
        assert state() == history[back - 1], f"after undoing step {back}"
        # what the store holds after the undo can be exported: every relabel has its label
        d = store.decisions().set_index("id")
        for i, want in history[back - 1].items():
            if want is None:
                assert str(i) not in d.index
            else:
                got = [None if pd.isna(v) else v
                       for v in d.loc[str(i), ["action", "new_label", "note"]]]
                assert got == [want["action"], want["new_label"], want["note"]]
    assert store.undo() == 0 and not store.can_undo()
    assert store.decisions().empty


def test_an_undone_relabel_exports_with_its_label_and_note(tmp_path):
    ds = _dataset(tmp_path)
    store = ReviewStore(ds.fingerprint, tmp_path / "r.sqlite", class_names=ds.class_names)
    store.decide("r1", "relabel", "cat", note="pointy ears")
    store.decide_many(["r2", "r3"], "relabel", ["dog", "cat"], note="bulk")
    store.decide_many(["r1", "r2", "r3"], "remove", note="oops")
    assert store.undo() == 3
    out = apply_decisions(ds, store.decisions())
    assert (out.relabelled, out.removed, out.rows_out) == (3, 0, 8)
    assert list(out.frame["label"].iloc[1:4]) == ["cat", "dog", "cat"]
    changes = out.changes.set_index("id")
    assert changes.loc["r1", "note"] == "pointy ears" and changes.loc["r2", "note"] == "bulk"


def test_bad_decisions_are_refused(tmp_path):
    store = ReviewStore("fp", tmp_path / "r.sqlite", class_names=["a", "b"])
    with pytest.raises(ValueError, match="action='fix' is not one of"):
        store.decide(1, "fix")
    with pytest.raises(ValueError, match="needs the new label"):
        store.decide(1, "relabel")
    with pytest.raises(ValueError, match="cannot relabel to 'z'"):
        store.decide(1, "relabel", "z")
    with pytest.raises(ValueError, match="2 row ids but 1 new labels"):
        store.decide_many([1, 2], "relabel", ["a"])
    assert store.decisions().empty


def test_two_writers_at_once_lose_nothing(tmp_path):
    path = tmp_path / "r.sqlite"
    errors = []

    def writer(offset):
        try:
            store = ReviewStore("fp", path)
            for i in range(60):
                store.decide(offset + i, "remove" if i % 2 else "keep")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(o,)) for o in (0, 1000)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    d = ReviewStore("fp", path).decisions()
    assert sorted(d["id"].astype(int)) == list(range(60)) + list(range(1000, 1060))


def _dataset(tmp_path):
    frame = pd.DataFrame({
        "uid": [f"r{i}" for i in range(8)],
        "x": np.arange(8.0),
        "label": ["cat", "dog"] * 4,
        "note": list("abcdefgh"),
    })
    return nl.from_frame(frame, "label", id_column="uid", feature_columns=["x"])


def test_apply_decisions_relabels_removes_and_keeps_everything_else(tmp_path):
    ds = _dataset(tmp_path)
    decisions = pd.DataFrame({"id": ["r1", "r4", "r6"], "action": ["relabel", "remove", "keep"],
                              "new_label": ["cat", None, None], "note": ["", "blurry", ""]})
    out = apply_decisions(ds, decisions)
    assert list(out.frame["uid"]) == ["r0", "r1", "r2", "r3", "r5", "r6", "r7"]
    assert list(out.frame["label"]) == ["cat", "cat", "cat", "dog", "dog", "cat", "dog"]
    assert list(out.frame.columns) == ["uid", "x", "label", "note"]
    assert (out.rows_in, out.rows_out, out.relabelled, out.removed, out.kept) == (8, 7, 1, 1, 1)
    assert out.changes.to_dict("list")["new_label"] == ["cat", "removed", "cat"]
    assert out.changes.to_dict("list")["old_label"] == ["dog", "cat", "cat"]
    flagged = apply_decisions(ds, decisions, removed="flag")
    assert len(flagged.frame) == 8
    assert list(flagged.frame[FLAG_COLUMN]) == [False] * 4 + [True] + [False] * 3
    assert ds.frame.loc[1, "label"] == "dog"  # the dataset itself is untouched


def test_apply_decisions_rejects_unknown_ids_and_classes(tmp_path):
    ds = _dataset(tmp_path)
    with pytest.raises(ValueError, match="ids not in DataFrame: zz"):
        apply_decisions(ds, pd.DataFrame({"id": ["zz"], "action": ["remove"],
                                          "new_label": [None]}))
    with pytest.raises(ValueError, match="row id r1: cannot relabel to 'cow'"):
        apply_decisions(ds, pd.DataFrame({"id": ["r1"], "action": ["relabel"],
                                          "new_label": ["cow"]}))


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_export_round_trips_ids_order_columns_and_counts(tmp_path, fmt):
    ds = nl.from_sample("wine")
    result = nl.analyze(ds, model="logistic")
    decisions = suggested_decisions(result)
    decisions.loc[decisions.index[:3], "action"] = "remove"
    out = export_split(ds, result, decisions, tmp_path / "out", fmt=fmt, mode="suggestions")
    back = (pd.read_csv if fmt == "csv" else pd.read_parquet)(out.files["cleaned"])
    removed = set(decisions["id"].iloc[:3])
    expected = ds.frame.loc[~ds.frame["id"].astype(str).isin(removed)]
    assert list(back.columns) == list(ds.frame.columns)
    assert list(back["id"]) == list(expected["id"])
    relabel = decisions.iloc[3:]
    new = dict(zip(relabel["id"], relabel["new_label"], strict=True))
    for _, row in back.iterrows():
        want = new.get(str(row["id"]))
        original = ds.frame.loc[ds.frame["id"] == row["id"], ds.label_column].iloc[0]
        assert str(row[ds.label_column]) == (want if want is not None else str(original))
    manifest = json.loads(out.files["manifest"].read_text())
    assert manifest["input"]["fingerprint"] == ds.fingerprint
    assert manifest["counts"]["rows_before"] == len(ds.frame)
    assert manifest["counts"]["rows_after"] == len(back) == len(ds.frame) - 3
    assert manifest["counts"]["removed"] == 3
    assert manifest["counts"]["relabelled"] == len(relabel)
    assert sum(manifest["counts"]["per_class_after"].values()) == len(back)
    changes = pd.read_csv(out.files["changes"])
    assert len(changes) == len(decisions)
    assert not list(tmp_path.glob("out/*.part"))


def test_interrupted_export_leaves_no_half_file(tmp_path, monkeypatch):
    ds = _dataset(tmp_path)
    result = nl.analyze(dataclasses.replace(ds, pred_probs=np.full((8, 2), 0.5)))
    target = tmp_path / "out"

    def boom(self, path, *a, **k):
        path = str(path)
        with open(path, "w") as fh:
            fh.write("half")
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_csv", boom)
    with pytest.raises(OSError, match="disk full"):
        export_split(ds, result, pd.DataFrame(columns=["id", "action", "new_label"]), target)
    assert list(target.glob("*")) == []


def test_class_sizes_and_labels_after_by_definition(tmp_path):
    from analysis.export.split import class_sizes, default_stem

    ds = _dataset(tmp_path)
    decisions = pd.DataFrame({"id": ["r1", "r3", "r4"], "action": ["relabel", "relabel",
                                                                   "remove"],
                              "new_label": ["cat", "cat", None]})
    out = apply_decisions(ds, decisions)
    # r0..r7 given cat, dog, ...; r1 and r3 become cat, r4 (a cat) is removed
    assert list(out.labels) == [0, 0, 0, 0, -1, 1, 0, 1]
    sizes = class_sizes(ds, out)
    assert sizes.to_dict("list") == {"class": ["cat", "dog"], "before": [4, 4],
                                     "after": [5, 2], "change": [1, -2]}
    assert default_stem(ds) == "DataFrame"
    assert default_stem(nl.from_sample("wine")) == "wine"


def test_truth_check_counts_rows_with_known_truth_only(tmp_path):
    from analysis.review.evaluate import truth_check

    result = nl.analyze(nl.from_sample("wine"), model="logistic")
    truth = result.dataset.true_labels
    check = truth_check(result)
    known = truth >= 0
    wrong = known & (truth != result.labels)
    assert check.known == known.sum() and check.wrong == wrong.sum()
    assert check.flagged == (result.is_issue & known).sum()
    assert check.hits == (result.is_issue & wrong).sum()
    assert check.precision == check.hits / check.flagged
    no_truth = dataclasses.replace(_dataset(tmp_path), pred_probs=np.full((8, 2), 0.5))
    assert truth_check(nl.analyze(no_truth)) is None


@pytest.mark.parametrize("removed", ["drop", "flag"])
@pytest.mark.parametrize("actions", [["relabel", "keep"], ["keep", "keep"], ["remove", "keep"]])
def test_apply_decisions_never_writes_into_the_dataset(tmp_path, removed, actions):
    """The cleaned frame shares the untouched columns with the dataset (no 470 MB copy at 1M
    rows): writing into the cleaned frame, or the decisions themselves, leave it as it was."""
    ds = _dataset(tmp_path)
    before = ds.frame.copy(deep=True)
    decisions = pd.DataFrame({"id": ["r1", "r2"], "action": actions,
                              "new_label": ["cat" if actions[0] == "relabel" else None, None]})
    out = apply_decisions(ds, decisions, removed=removed)
    out.frame.iloc[0, 0] = "changed"
    out.frame["x"] = -1.0
    out.frame.loc[out.frame.index[0], "note"] = "changed"
    pd.testing.assert_frame_equal(ds.frame, before)
    assert FLAG_COLUMN not in ds.frame
