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
from analysis import review
from analysis.review import ReviewDatabaseError, ReviewStore, dataset_key, reconcile


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
                                             "changed": 0, "made_on_other_versions": 0}
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
                              "made_on_other_versions": 5}
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
    assert dataset_key(_load(upload / "team.csv")) == "upload:team.csv"


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
