"""The stored form of a loaded dataset (analysis/data/store.py, issue #18).

A dataset opened from its stored form must be the dataset ``load_dataset`` builds from the
file: every field, the fingerprint (recomputed here, not trusted), and the cleaned split the
export writes, byte for byte. A changed file is loaded afresh; a damaged entry is a miss.
"""

from __future__ import annotations

import json
import os
from dataclasses import fields
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from analysis.data import store as dataset_store
from analysis.data.dataset import Dataset, load_dataset
from analysis.export.split import apply_decisions, write_table


@pytest.fixture(autouse=True)
def _store(tmp_path, monkeypatch):
    monkeypatch.setenv("NOISELENS_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(dataset_store, "MIN_BYTES", 0)  # the test files are small
    monkeypatch.setattr(dataset_store, "MIN_FREE_BYTES", 0)


def _rows(n: int = 60, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    names = np.array(["cat", "dog", "=1+1 <b>"])
    labels = names[rng.integers(0, 3, n)]
    probs = rng.dirichlet(np.ones(3), n)
    frame = pd.DataFrame({"id": [f"r{i:03d}" for i in range(n)], "label": labels,
                          "text": [f"row {i}, \"quoted\"\r\nline" for i in range(n)],
                          "true_label": labels})
    for k in range(3):
        frame[f"pred_prob_{names[k]}"] = probs[:, k]
    frame["annotator_a"] = labels
    return frame


def _entries() -> list[Path]:
    root = dataset_store.folder()
    return [p for p in root.iterdir() if (p / "meta.json").is_file()] if root.is_dir() else []


def _same(a: Dataset, b: Dataset) -> None:
    """Every field equal, checked here without the module's own comparison."""
    for f in fields(Dataset):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, pd.DataFrame):
            pd.testing.assert_frame_equal(x, y, check_exact=True)
        elif isinstance(x, np.ndarray):
            assert x.dtype == y.dtype and x.shape == y.shape, f.name
            np.testing.assert_array_equal(x, y, err_msg=f.name)
        elif f.name == "origin" and x is not None:
            assert (x.kind, x.delimiter, x.lineterminator, x.bom) == \
                (y.kind, y.delimiter, y.lineterminator, y.bom)
            assert (x.schema is None and y.schema is None) or x.schema.equals(
                y.schema, check_metadata=True)
        else:
            assert x == y, f.name


def _recomputed_fingerprint(d: Dataset) -> str:
    d.__dict__.pop("fingerprint", None)
    return d.fingerprint


@pytest.mark.parametrize("kind", ["csv_semicolon_crlf_bom", "parquet"])
def test_stored_dataset_equals_a_fresh_load(tmp_path, kind):
    frame = _rows()
    if kind == "parquet":
        path = tmp_path / "data.parquet"
        table = pa.Table.from_pandas(frame, preserve_index=False)
        pq.write_table(table.replace_schema_metadata({b"owner": b"me"}), path)
    else:
        path = tmp_path / "data.csv"
        path.write_bytes(b"\xef\xbb\xbf" + frame.to_csv(
            index=False, sep=";", lineterminator="\r\n").encode())
    fresh = load_dataset(path, "label")
    first = dataset_store.load(path, "label", background=False)
    _same(fresh, first)
    assert len(_entries()) == 1
    again = dataset_store.load(path, "label")
    assert again is not first
    _same(fresh, again)
    assert again.fingerprint == fresh.fingerprint
    assert _recomputed_fingerprint(again) == fresh.fingerprint

    # the cleaned split written from the stored dataset is the same file, byte for byte
    decisions = pd.DataFrame({"id": ["r001", "r007", "r010"],
                              "action": ["relabel", "remove", "keep"],
                              "new_label": ["dog", "", ""]})
    fmt = "parquet" if kind == "parquet" else "csv"
    outs = []
    for i, ds in enumerate((fresh, again)):
        out = tmp_path / f"clean{i}.{fmt}"
        write_table(apply_decisions(ds, decisions).frame, out, fmt)
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]


def test_npy_options_are_part_of_the_key(tmp_path):
    frame = _rows().drop(columns=[c for c in _rows().columns if c.startswith("pred_prob")])
    path = tmp_path / "data.csv"
    frame.to_csv(path, index=False)
    probs = tmp_path / "probs.npy"
    rng = np.random.default_rng(1)
    np.save(probs, rng.dirichlet(np.ones(3), len(frame)))
    a = dataset_store.load(path, "label", pred_probs=str(probs), background=False)
    np.save(probs, rng.dirichlet(np.ones(3), len(frame)))  # the probabilities change
    os.utime(probs, ns=(1, 1))  # and their mtime differs for sure
    b = dataset_store.load(path, "label", pred_probs=str(probs), background=False)
    np.testing.assert_array_equal(b.pred_probs, np.load(probs))
    assert not np.array_equal(a.pred_probs, b.pred_probs)
    assert len(_entries()) == 2


def test_a_changed_file_is_loaded_afresh(tmp_path):
    path = tmp_path / "data.csv"
    frame = _rows()
    frame.to_csv(path, index=False)
    dataset_store.load(path, "label", background=False)
    frame.loc[5, "label"] = "dog" if frame.loc[5, "label"] != "dog" else "cat"
    frame.to_csv(path, index=False)  # same size, new content
    os.utime(path, ns=(10**9, 10**9))  # a modification time that surely differs
    changed = dataset_store.load(path, "label", background=False)
    _same(load_dataset(path, "label"), changed)
    assert changed.frame.loc[5, "label"] == frame.loc[5, "label"]


def _edit_in_place_keeping_the_stamp(path: Path, frame: pd.DataFrame) -> None:
    """Change one label to another of the same length, same size, modification time put back."""
    st = path.stat()
    frame.loc[5, "label"] = "dog" if frame.loc[5, "label"] != "dog" else "cat"
    with open(path, "r+b") as fh:  # in place: same inode
        fh.write(frame.to_csv(index=False).encode())
    assert path.stat().st_size == st.st_size
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def test_an_edit_in_place_with_the_same_size_and_mtime_is_loaded_afresh(tmp_path):
    path = tmp_path / "data.csv"
    frame = _rows()
    frame.to_csv(path, index=False)
    dataset_store.load(path, "label", background=False)
    _edit_in_place_keeping_the_stamp(path, frame)
    again = dataset_store.load(path, "label", background=False)
    assert again.frame.loc[5, "label"] == frame.loc[5, "label"]
    _same(load_dataset(path, "label"), again)


def test_a_hit_is_served_only_while_the_files_hash_the_same(tmp_path, monkeypatch):
    """Where the stamp cannot see an edit (here: a stamp of path and size alone), the
    stored SHA-256 of the file does: the stale entry is dropped, the file read afresh."""
    monkeypatch.setattr(dataset_store, "_stamp", lambda p: [str(p.resolve()), p.stat().st_size])
    path = tmp_path / "data.csv"
    frame = _rows()
    frame.to_csv(path, index=False)
    first = dataset_store.load(path, "label", background=False)
    assert len(_entries()) == 1
    hit = dataset_store.load(path, "label", background=False)  # unchanged: served stored
    assert hit.frame.loc[5, "label"] == first.frame.loc[5, "label"]
    _edit_in_place_keeping_the_stamp(path, frame)
    again = dataset_store.load(path, "label", background=False)
    assert again.frame.loc[5, "label"] == frame.loc[5, "label"] != first.frame.loc[5, "label"]
    _same(load_dataset(path, "label"), again)
    meta = json.loads((_entries()[0] / "meta.json").read_text())
    assert meta["sources"] == {str(path.resolve()): dataset_store._digest(path)}


def test_a_damaged_entry_is_a_miss_and_is_replaced(tmp_path):
    path = tmp_path / "data.csv"
    _rows().to_csv(path, index=False)
    dataset_store.load(path, "label", background=False)
    (entry,) = _entries()
    (entry / "labels.npy").write_bytes(b"not an array")
    again = dataset_store.load(path, "label", background=False)  # a miss: loaded and stored
    _same(load_dataset(path, "label"), again)
    (entry,) = _entries()
    meta = json.loads((entry / "meta.json").read_text())
    meta["format"] = "something else"
    (entry / "meta.json").write_text(json.dumps(meta))
    _same(load_dataset(path, "label"), dataset_store.load(path, "label", background=False))


def test_nested_parquet_columns_round_trip(tmp_path):
    path = tmp_path / "nested.parquet"
    frame = _rows(30)
    frame["tags"] = [[1, 2]] * 29 + [None]
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path)
    dataset_store.load(path, "label", background=False)
    assert len(_entries()) == 1
    _same(load_dataset(path, "label"), dataset_store.load(path, "label"))


@pytest.mark.parametrize("damage", ["labels", "text cell"])
def test_what_does_not_read_back_equal_is_not_kept(tmp_path, monkeypatch, damage):
    path = tmp_path / "data.csv"
    _rows().to_csv(path, index=False)
    real = dataset_store._write_entry

    def off_by_one(dataset, entry):  # a stored form that is not the dataset
        meta = real(dataset, entry)
        if damage == "labels":
            np.save(entry / "labels.npy", (dataset.labels + 1) % 3)
        else:
            frame = dataset.frame.copy()
            frame.loc[7, "text"] = "another text"
            table = pa.Table.from_pandas(frame, preserve_index=False)
            with pa.OSFile(str(entry / "frame.arrow"), "wb") as sink, \
                    pa.ipc.new_file(sink, table.schema) as writer:
                writer.write_table(table)
        return meta

    monkeypatch.setattr(dataset_store, "_write_entry", off_by_one)
    fresh = dataset_store.load(path, "label", background=False)
    _same(load_dataset(path, "label"), fresh)
    assert _entries() == []
    assert not any(dataset_store.folder().iterdir())  # no temporary folder left either


def test_small_files_and_in_memory_options_are_not_stored(tmp_path, monkeypatch):
    path = tmp_path / "data.csv"
    _rows().to_csv(path, index=False)
    monkeypatch.setattr(dataset_store, "MIN_BYTES", path.stat().st_size + 1)
    dataset_store.load(path, "label", background=False)
    assert _entries() == []
    monkeypatch.setattr(dataset_store, "MIN_BYTES", 0)
    assert dataset_store.key_of(path, "label", {"pred_probs": np.ones((60, 3))}) is None


def test_at_most_max_entries_are_kept(tmp_path, monkeypatch):
    monkeypatch.setattr(dataset_store, "MAX_ENTRIES", 2)
    keys = []
    for i in range(3):
        path = tmp_path / f"d{i}.csv"
        _rows(seed=i).to_csv(path, index=False)
        dataset_store.load(path, "label", background=False)
        keys.append(dataset_store.key_of(path, "label", {}))
        meta = dataset_store.folder() / keys[-1] / "meta.json"
        os.utime(meta, (1000 + i, 1000 + i))  # opened in this order, long ago
    assert {p.name for p in _entries()} == set(keys[1:])


def test_errors_of_the_file_are_raised_unchanged(tmp_path):
    path = tmp_path / "data.csv"
    _rows().to_csv(path, index=False)
    with pytest.raises(Exception) as stored:
        dataset_store.load(path, "no_such_column")
    with pytest.raises(Exception) as fresh:
        load_dataset(path, "no_such_column")
    assert str(stored.value) == str(fresh.value) and type(stored.value) is type(fresh.value)


def test_storing_can_be_turned_off(tmp_path, monkeypatch):
    monkeypatch.setattr(dataset_store, "MAX_ENTRIES", 0)
    path = tmp_path / "data.csv"
    _rows().to_csv(path, index=False)
    _same(load_dataset(path, "label"), dataset_store.load(path, "label", background=False))
    assert _entries() == []


def test_a_damaged_frame_file_is_a_miss_not_a_crash(tmp_path):
    """String offsets pointing far past their data (a crafted or torn file) would crash the
    process inside pyarrow's conversion; the stored form is validated and dropped instead."""
    path = tmp_path / "data.csv"
    _rows().to_csv(path, index=False)
    dataset_store.load(path, "label", background=False)
    (entry,) = _entries()
    table = pa.table({"id": pa.array(["x" * 7, "y" * 11], type=pa.large_string())})
    with pa.OSFile(str(entry / "frame.arrow"), "wb") as sink, \
            pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    raw = (entry / "frame.arrow").read_bytes()  # now point the offsets far past the data
    offsets = np.array([0, 7, 18], dtype=np.int64).tobytes()
    assert raw.count(offsets) == 1
    raw = raw.replace(offsets, np.array([0, 10**12, 2 * 10**12], dtype=np.int64).tobytes())
    (entry / "frame.arrow").write_bytes(raw)
    again = dataset_store.load(path, "label", background=False)
    _same(load_dataset(path, "label"), again)


def test_datasets_of_image_files_are_not_stored(tmp_path):
    """Their pixels come from other files, which the key does not describe."""
    from PIL import Image

    rng = np.random.default_rng(0)
    rows = []
    for i in range(12):
        Image.fromarray(rng.integers(0, 255, (8, 8), dtype=np.uint8)).save(tmp_path / f"{i}.png")
        rows.append({"image": f"{i}.png", "label": "ab"[i % 2]})
    path = tmp_path / "images.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    loaded = dataset_store.load(path, "label", background=False)
    assert loaded.embeddings_from == "pixels"
    assert _entries() == []


def test_a_hit_survives_its_entry_going_meanwhile(tmp_path, monkeypatch):
    path = tmp_path / "data.csv"
    _rows().to_csv(path, index=False)
    dataset_store.load(path, "label", background=False)

    def gone(*args, **kwargs):  # evicted by another server between reading and touching it
        raise FileNotFoundError(args[0])

    monkeypatch.setattr(dataset_store.os, "utime", gone)
    _same(load_dataset(path, "label"), dataset_store.load(path, "label"))


def test_another_loader_or_library_version_is_another_key(tmp_path, monkeypatch):
    path = tmp_path / "data.csv"
    _rows().to_csv(path, index=False)
    before = dataset_store.key_of(path, "label", {})
    monkeypatch.setattr(dataset_store, "_code_version", lambda: "an edited data.py")
    assert dataset_store.key_of(path, "label", {}) != before
