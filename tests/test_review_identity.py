"""Review decisions belong to the dataset, not to one version of its bytes: they carry over
when the file changes, gone and changed rows are reported, old databases are migrated, and a
damaged database is named and left untouched."""

from __future__ import annotations

import os
import sqlite3
import time

import pandas as pd
import pytest

import analysis as nl
from analysis.export.split import apply_decisions
from analysis.review import store as review
from analysis.review.store import ReviewDatabaseError, ReviewStore, dataset_key, reconcile


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    monkeypatch.setenv("NOISELENS_HOME", str(tmp_path / "ws"))
    monkeypatch.delenv(review.REVIEWS_ENV_VAR, raising=False)


def _frame(n=12):
    return pd.DataFrame({"uid": [f"r{i}" for i in range(n)],
                         "x": [float(i) for i in range(n)],
                         "label": ["cat", "dog", "bird"] * (n // 3),
                         "note": [f"n{i}" for i in range(n)]})


def _load(path):
    return nl.load_dataset(path, "label", id_column="uid")


def test_decisions_carry_over_when_the_file_changes(tmp_path):
    path = tmp_path / "data.csv"
    _frame().to_csv(path, index=False)
    db = tmp_path / "r.sqlite"
    ds = _load(path)
    store = ReviewStore(ds, db)
    store.decide("r1", "relabel", "cat", note="ears")
    store.decide_many(["r2", "r3", "r4"], "remove")
    store.decide("r5", "keep")
    assert reconcile(store, ds).counts() == {"decisions": 5, "carried": 5, "gone": 0,
                                             "changed": 0, "made_on_other_versions": 0,
                                             "moved_with_their_row": 0, "set_aside": 0}
    # edit the file: a label cell (r1), a deleted row (r2), a feature cell (r3)
    frame = pd.read_csv(path)
    frame.loc[frame["uid"] == "r1", "label"] = "bird"
    frame.loc[frame["uid"] == "r3", "x"] = 99.5
    frame = frame.loc[frame["uid"] != "r2"]
    frame.to_csv(path, index=False)
    ds2 = _load(path)
    assert ds2.fingerprint != ds.fingerprint and dataset_key(ds2) == dataset_key(ds)
    store2 = ReviewStore(ds2, db)
    # the decisions are still there (r2's is kept but not applicable)
    assert store2.get("r1") == {"action": "relabel", "new_label": "cat", "note": "ears"}
    assert list(store2.decisions()["id"]) == ["r1", "r3", "r4", "r5"]
    assert store2.counts() == {"relabel": 1, "remove": 2, "keep": 1}
    carry = reconcile(store2, ds2)
    assert carry.counts() == {"decisions": 5, "carried": 4, "gone": 1, "changed": 2,
                              "made_on_other_versions": 5,
                              "moved_with_their_row": 0, "set_aside": 0}
    assert list(carry.gone["id"]) == ["r2"]
    changed = carry.changed.set_index("id")
    assert changed.loc["r1", "what"] == "label"
    assert (changed.loc["r1", "label_then"], changed.loc["r1", "label_now"]) == ("dog", "bird")
    assert changed.loc["r3", "what"] == "other cells"
    assert list(carry.applicable["id"]) == ["r1", "r3", "r4", "r5"]
    table = carry.table()
    assert list(table["id"]) == ["r2", "r1", "r3"]
    assert list(table["status"]) == ["gone", "changed", "changed"]
    assert "1 concerns a row no longer in the file" in carry.message()
    # a new decision on the new version is made on it; r1 decided again is no longer changed
    store2.decide("r1", "relabel", "dog")
    carry = reconcile(store2, ds2)
    assert list(carry.changed["id"]) == ["r3"] and carry.other_versions == 4
    # undo gives back the old decision, with the row as it was then
    store2.undo()
    assert list(reconcile(store2, ds2).changed["id"]) == ["r1", "r3"]


def test_a_copy_elsewhere_is_another_dataset_unless_named_alike(tmp_path):
    db = tmp_path / "r.sqlite"
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    _frame().to_csv(tmp_path / "a" / "data.csv", index=False)
    _frame().to_csv(tmp_path / "b" / "data.csv", index=False)
    a, b = _load(tmp_path / "a" / "data.csv"), _load(tmp_path / "b" / "data.csv")
    assert dataset_key(a) == f"file:{(tmp_path / 'a' / 'data.csv').resolve()}"
    ReviewStore(a, db).decide("r1", "remove")
    assert ReviewStore(b, db).decisions().empty
    ReviewStore(a, db, identity="pets").decide("r2", "remove")
    assert list(ReviewStore(b, db, identity="pets").decisions()["id"]) == ["r2"]
    assert dataset_key(nl.from_sample("wine")) == "sample:wine"
    frame_ds = nl.from_frame(_frame(), "label", id_column="uid")
    assert dataset_key(frame_ds) == frame_ds.fingerprint  # no lasting identity
    upload = tmp_path / "ws" / "uploads" / "abc123"
    upload.mkdir(parents=True)
    _frame().to_csv(upload / "team.csv", index=False)
    team = _load(upload / "team.csv")
    assert dataset_key(team) == f"upload:team.csv@{team.fingerprint[:16]}"  # its content


def test_a_store_opened_by_fingerprint_means_that_version_of_the_dataset(tmp_path):
    path = tmp_path / "data.csv"
    _frame().to_csv(path, index=False)
    db = tmp_path / "r.sqlite"
    ds = _load(path)
    # decisions made by fingerprint before the dataset was ever opened are adopted by it
    ReviewStore(ds.fingerprint, db).decide("r1", "remove")
    store = ReviewStore(ds, db)
    assert store.get("r1")["action"] == "remove"
    assert reconcile(store, ds).counts()["changed"] == 0  # sealed with the row as it is
    # and a store opened by fingerprint afterwards sees the dataset's decisions
    ReviewStore(ds.fingerprint, db).decide("r2", "keep")
    assert set(ReviewStore(ds, db).decisions()["id"]) == {"r1", "r2"}
    assert ReviewStore(ds.fingerprint, db).key == dataset_key(ds)


_SCHEMA1 = """
CREATE TABLE decisions (fingerprint TEXT NOT NULL, row_id TEXT NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('relabel', 'remove', 'keep')), new_label TEXT,
    note TEXT NOT NULL DEFAULT '', decided_at REAL NOT NULL, PRIMARY KEY (fingerprint, row_id));
CREATE TABLE history (seq INTEGER PRIMARY KEY AUTOINCREMENT, fingerprint TEXT NOT NULL,
    batch INTEGER NOT NULL, row_id TEXT NOT NULL, old_action TEXT, old_label TEXT,
    old_note TEXT, old_decided_at REAL);
CREATE INDEX history_by_dataset ON history (fingerprint, batch);
"""


def test_a_schema_1_database_is_migrated_without_losing_a_decision(tmp_path):
    path = tmp_path / "data.csv"
    _frame().to_csv(path, index=False)
    ds = _load(path)
    db = tmp_path / "r.sqlite"
    con = sqlite3.connect(db)
    con.executescript(_SCHEMA1)
    now = time.time()
    con.executemany("INSERT INTO decisions VALUES (?, ?, ?, ?, ?, ?)", [
        (ds.fingerprint, "r1", "relabel", "cat", "ears", now - 2),
        (ds.fingerprint, "r2", "remove", None, "", now - 1),
        ("other-version", "r3", "keep", None, "", now),
    ])
    con.executemany("INSERT INTO history (fingerprint, batch, row_id, old_action, old_label, "
                    "old_note, old_decided_at) VALUES (?, ?, ?, ?, ?, ?, ?)", [
                        (ds.fingerprint, 1, "r1", None, None, None, None),
                        (ds.fingerprint, 2, "r2", None, None, None, None),
                        ("other-version", 1, "r3", None, None, None, None)])
    con.commit()
    con.close()
    store = ReviewStore(ds, db)
    assert (tmp_path / "r.sqlite.schema1-backup").exists()
    d = store.decisions()
    assert list(d["id"]) == ["r1", "r2"] and list(d["note"]) == ["ears", ""]
    # the other version's decision waits for the dataset with that fingerprint
    assert ReviewStore("other-version", db).get("r3")["action"] == "keep"
    # the migrated history undoes as before
    assert store.undo() == 1 and store.get("r2") is None
    assert store.undo() == 1 and store.decisions().empty
    # opening again changes nothing
    assert ReviewStore(ds, db).decisions().empty


def test_a_damaged_database_is_named_and_left_untouched(tmp_path):
    bad = tmp_path / "garbage.sqlite"
    bad.write_bytes(b"not a database at all " * 100)
    before = bad.read_bytes()
    with pytest.raises(ReviewDatabaseError) as err:
        ReviewStore("fp", bad)
    message = str(err.value)
    assert str(bad) in message and "--reviews" in message and "untouched" in message
    assert bad.read_bytes() == before
    assert err.value.fresh.parent == tmp_path and not err.value.fresh.exists()
    # truncated
    good = tmp_path / "good.sqlite"
    store = ReviewStore("fp", good)
    store.decide_many([str(i) for i in range(3000)], "keep", note="x" * 100)
    del store
    data = good.read_bytes()
    truncated = tmp_path / "truncated.sqlite"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(ReviewDatabaseError, match="truncated.sqlite"):
        ReviewStore("fp", truncated).decisions()
    assert truncated.read_bytes() == data[: len(data) // 2]
    # an empty file noiselens did not just create
    empty = tmp_path / "empty.sqlite"
    empty.write_bytes(b"")
    old = time.time() - 60
    os.utime(empty, (old, old))
    with pytest.raises(ReviewDatabaseError, match="an empty file"):
        ReviewStore("fp", empty)
    assert empty.stat().st_size == 0
    # a new file is fine, and so is reopening it
    ReviewStore("fp", tmp_path / "new.sqlite").decide("1", "keep")
    assert ReviewStore("fp", tmp_path / "new.sqlite").get("1")["action"] == "keep"


def test_the_reviews_path_can_be_moved_by_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(review.REVIEWS_ENV_VAR, str(tmp_path / "elsewhere.sqlite"))
    assert review.default_path() == tmp_path / "elsewhere.sqlite"
    ReviewStore("fp").decide("1", "keep")
    assert (tmp_path / "elsewhere.sqlite").exists()


# -- a file without an id column: decisions follow their row's content (#25) -------------------
def _positional(n=12):
    return _frame(n).drop(columns=["uid"])


def _load_positional(path):
    ds = nl.load_dataset(path, "label")
    assert ds.id_column is None  # ids are row numbers
    return ds


def _decide_ten(path, db):
    ds = _load_positional(path)
    store = ReviewStore(ds, db)
    for row in range(10):
        store.decide(str(row), "relabel" if row % 2 else "remove",
                     "bird" if row % 2 else None, note=f"on {ds.frame.loc[row, 'note']}")
    return ds


def _applied_to(ds, carry) -> dict[str, str]:
    """note cell of the row each applicable decision lands on -> the decision's note."""
    index = ds.id_index
    return {ds.frame.loc[index[i], "note"]: n for i, n in
            zip(carry.applicable["id"], carry.applicable["note"], strict=True)}


def test_a_row_inserted_at_the_top_moves_no_decision_onto_another_row(tmp_path):
    path, db = tmp_path / "data.csv", tmp_path / "r.sqlite"
    _positional().to_csv(path, index=False)
    _decide_ten(path, db)
    new_row = pd.DataFrame({"x": [-1.0], "label": ["cat"], "note": ["inserted"]})
    pd.concat([new_row, _positional()], ignore_index=True).to_csv(path, index=False)
    ds2 = _load_positional(path)
    store = ReviewStore(ds2, db)
    carry = reconcile(store, ds2)
    # every decision lands on the row it was made on (row i is now at position i + 1)
    assert _applied_to(ds2, carry) == {f"n{i}": f"on n{i}" for i in range(10)}
    assert sorted(carry.applicable["id"], key=int) == [str(i + 1) for i in range(10)]
    assert (carry.moved, carry.set_aside, len(carry.gone)) == (10, 0, 0)
    assert "10 decision(s) followed their row" in carry.message()
    cleaned = apply_decisions(ds2, carry.applicable)
    assert "inserted" in set(cleaned.frame["note"])  # the new row is untouched
    assert set(cleaned.frame["note"]) == {"inserted", "n1", "n3", "n5", "n7", "n9", "n10",
                                          "n11"}
    assert set(cleaned.frame.loc[cleaned.frame["label"] == "bird", "note"]) >= {
        "n1", "n3", "n5", "n7", "n9"}
    # a decision made now on the new version stays where it is made; the file put back:
    # the decisions follow the rows back
    store.decide("0", "keep")
    _positional().to_csv(path, index=False)
    ds3 = _load_positional(path)
    carry = reconcile(ReviewStore(ds3, db), ds3)
    assert _applied_to(ds3, carry) == {f"n{i}": f"on n{i}" for i in range(10)}
    assert carry.moved == 10 and list(carry.gone["id"]) == ["0@" + ds2.fingerprint[:12]]


def test_a_changed_or_ambiguous_row_without_id_is_set_aside_not_applied(tmp_path):
    path, db = tmp_path / "data.csv", tmp_path / "r.sqlite"
    frame = _positional()
    frame.loc[7, ["x", "note"]] = frame.loc[8, ["x", "note"]].to_numpy()  # rows 7 and 8 alike
    frame.to_csv(path, index=False)
    ds = _load_positional(path)
    store = ReviewStore(ds, db)
    store.decide_many(["2", "5", "7"], "remove")
    # a row inserted at the top, and row 5's cells edited
    changed = frame.copy()
    changed.loc[5, "x"] = 55.5
    top = pd.DataFrame({"x": [-1.0], "label": ["cat"], "note": ["inserted"]})
    pd.concat([top, changed], ignore_index=True).to_csv(path, index=False)
    ds2 = _load_positional(path)
    carry = reconcile(ReviewStore(ds2, db), ds2)
    fp = ds.fingerprint[:12]
    assert list(carry.applicable["id"]) == ["3"]  # row 2, now at 3
    assert sorted(carry.gone["id"]) == [f"5@{fp}", f"7@{fp}"]  # edited; two rows alike
    assert (carry.moved, carry.set_aside) == (1, 2)
    table = carry.table().set_index("id")
    assert table.loc[f"5@{fp}", "what"].startswith("no id column")
    # nothing is applied to the rows now at positions 5 and 7
    cleaned = apply_decisions(ds2, carry.applicable)
    assert len(cleaned.frame) == len(ds2) - 1 and "n2" not in set(cleaned.frame["note"])


def test_a_renamed_file_keeps_its_review_and_a_copy_does_not_take_it(tmp_path):
    db = tmp_path / "r.sqlite"
    old, new = tmp_path / "data.csv", tmp_path / "renamed.csv"
    _frame().to_csv(old, index=False)
    ReviewStore(_load(old), db).decide_many(["r1", "r2"], "remove")
    old.rename(new)
    store = ReviewStore(_load(new), db)
    assert list(store.decisions()["id"]) == ["r1", "r2"]
    assert store.key == f"file:{old.resolve()}"
    # the alias lasts: the renamed file edited afterwards still has its review
    frame = _frame()
    frame.loc[0, "x"] = 0.5
    frame.to_csv(new, index=False)
    assert list(ReviewStore(_load(new), db).decisions()["id"]) == ["r1", "r2"]
    # a copy beside a file that is still there is a dataset of its own
    copy = tmp_path / "copy.csv"
    copy.write_bytes(new.read_bytes())
    assert ReviewStore(_load(copy), db).decisions().empty


def test_two_uploads_of_one_name_are_two_datasets(tmp_path):
    db = tmp_path / "r.sqlite"
    uploads = tmp_path / "ws" / "uploads"
    first, second = uploads / "aaa" / "data.csv", uploads / "bbb" / "data.csv"
    first.parent.mkdir(parents=True)
    second.parent.mkdir(parents=True)
    _frame().to_csv(first, index=False)
    other = _frame()
    other["x"] += 1
    other.to_csv(second, index=False)
    ReviewStore(_load(first), db).decide("r1", "remove")
    assert ReviewStore(_load(second), db).decisions().empty
    # the same bytes uploaded again: the same review
    again = uploads / "ccc" / "data.csv"
    again.parent.mkdir()
    again.write_bytes(first.read_bytes())
    assert list(ReviewStore(_load(again), db).decisions()["id"]) == ["r1"]


def test_a_review_kept_under_an_uploads_name_alone_is_adopted_by_its_content(tmp_path):
    """Databases of an older noiselens keyed an upload by its name alone."""
    db = tmp_path / "r.sqlite"
    path = tmp_path / "ws" / "uploads" / "aaa" / "data.csv"
    path.parent.mkdir(parents=True)
    _frame().to_csv(path, index=False)
    ds = _load(path)
    legacy = ReviewStore("upload:data.csv", db)
    legacy.decide("r3", "keep")
    with sqlite3.connect(db) as con:
        con.execute("INSERT INTO datasets VALUES ('upload:data.csv', ?, 0)", (ds.fingerprint,))
    assert ReviewStore(ds, db).get("r3")["action"] == "keep"


def test_undo_takes_back_only_this_sessions_own_change(tmp_path):
    path, db = tmp_path / "data.csv", tmp_path / "r.sqlite"
    _frame().to_csv(path, index=False)
    shared = ReviewStore(_load(path), db)
    a, b = shared.with_session("browser-a"), shared.with_session("browser-b")
    a.decide("r1", "remove")
    b.decide("r2", "keep")  # after a's decision
    assert a.undo() == 1
    assert a.get("r1") is None and b.get("r2")["action"] == "keep"
    assert not a.can_undo() and a.undo() == 0 and b.get("r2")["action"] == "keep"
    # a row a decided and b decided again afterwards keeps b's decision when a undoes
    a.decide_many(["r3", "r4"], "remove")
    b.decide("r3", "relabel", "cat")
    assert a.undo() == 1
    assert a.get("r4") is None and b.get("r3")["action"] == "relabel"
    # b's own undo gives back what r3 held before b's change: a's removal is gone with a's
    # undo only where a's change still stood; b restores a's decision it replaced
    assert b.undo() == 1 and b.get("r3")["action"] == "remove"
    assert b.undo() == 1 and b.get("r2") is None
    assert not ReviewStore(_load(path), db).can_undo()  # a new session has nothing to undo
