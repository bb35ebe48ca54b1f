"""Datasets: inference, encoding, round trips and a clear message for every bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.data.dataset import DataError, from_arrays, from_frame, from_sample, load_dataset


def frame(n=12):
    rng = np.random.default_rng(0)
    return pd.DataFrame({
        "id": [f"r{i}" for i in range(n)],
        "label": ["cat", "dog", "bird"] * (n // 3),
        "x1": rng.normal(size=n),
        "x2": rng.normal(size=n),
        "colour": ["red", "blue"] * (n // 2),
    })


def test_inference_and_encoding():
    ds = from_frame(frame())
    assert ds.label_column == "label" and ds.id_column == "id"
    assert ds.class_names == ["bird", "cat", "dog"]
    assert ds.labels.tolist()[:3] == [1, 2, 0]
    assert ds.feature_columns == ["x1", "x2", "colour"]
    assert ds.ids.tolist()[:2] == ["r0", "r1"]
    assert len(ds) == 12 and ds.num_classes == 3


def test_csv_and_parquet_round_trip(tmp_path):
    f = frame()
    f.to_csv(tmp_path / "d.csv", index=False)
    f.to_parquet(tmp_path / "d.parquet", index=False)
    a = load_dataset(tmp_path / "d.csv")
    b = load_dataset(tmp_path / "d.parquet")
    assert a.labels.tolist() == b.labels.tolist()
    assert a.fingerprint == b.fingerprint
    assert a.fingerprint == load_dataset(tmp_path / "d.csv").fingerprint


def test_fingerprint_changes_with_one_label():
    f = frame()
    g = f.copy()
    g.loc[5, "label"] = "cat" if g.loc[5, "label"] != "cat" else "dog"
    assert from_frame(f).fingerprint != from_frame(g).fingerprint


def test_pred_prob_columns_and_npy(tmp_path):
    f = frame()
    probs = np.full((12, 3), 1 / 3)
    for i, name in enumerate(["bird", "cat", "dog"]):
        f[f"pred_prob_{name}"] = probs[:, i]
    ds = from_frame(f)
    assert ds.pred_probs.shape == (12, 3)
    assert "pred_prob_cat" not in ds.feature_columns
    np.save(tmp_path / "p.npy", probs)
    f2 = frame()
    f2.to_csv(tmp_path / "d.csv", index=False)
    loaded = load_dataset(tmp_path / "d.csv", pred_probs=tmp_path / "p.npy")
    assert loaded.pred_probs.shape == (12, 3)


@pytest.mark.parametrize(
    ("mutate", "options", "expected"),
    [
        (lambda f: f.drop(columns="label"), {}, "no label column"),
        (lambda f: f, {"label_column": "nope"}, "label column 'nope' not found"),
        (lambda f: f.assign(label=f["label"].where(f.index != 4)), {}, "row 4"),
        (lambda f: f.assign(label=f["label"].where(f.index != 7, " ")), {}, "row 7"),
        (lambda f: f.assign(id=["a"] * 12), {}, "id column 'id' must be unique"),
        (lambda f: f.assign(label="cat"), {}, "single class"),
        (lambda f: f.assign(label=["cat", "dog"] * 5 + ["cat", "emu"]), {}, "'emu'"),
        (lambda f: f, {"class_names": ["cat", "dog"]}, "not among the given class names"),
    ],
)
def test_bad_frames(mutate, options, expected):
    with pytest.raises(DataError, match=expected):
        from_frame(mutate(frame()), source="data.csv", **options)


def test_message_names_the_file():
    with pytest.raises(DataError, match=r"^data\.csv: "):
        from_frame(frame().drop(columns="label"), source="data.csv")


def test_bad_pred_probs():
    f = frame()
    with pytest.raises(DataError, match="one column per class"):
        from_frame(f, pred_probs=np.full((12, 2), 0.5))
    bad = np.full((12, 3), 1 / 3)
    bad[9] = [0.5, 0.5, 0.5]
    with pytest.raises(DataError, match="row 9"):
        from_frame(f, pred_probs=bad)
    with pytest.raises(DataError, match=r"shape \(12"):
        from_frame(f, pred_probs=np.full((11, 3), 1 / 3))


def test_pickles_are_never_opened(tmp_path):
    obj = np.array([{"a": 1}] * 12, dtype=object).reshape(12, 1)
    np.save(tmp_path / "p.npy", obj, allow_pickle=True)
    with pytest.raises(DataError, match="pickle"):
        from_frame(frame(), pred_probs=tmp_path / "p.npy")
    (tmp_path / "p.pkl").write_bytes(b"x")
    with pytest.raises(DataError, match="never opened"):
        from_frame(frame(), pred_probs=tmp_path / "p.pkl")
    with pytest.raises(DataError, match="never opened"):
        load_dataset(tmp_path / "p.pkl")


def test_non_utf8_and_missing_file(tmp_path):
    (tmp_path / "bad.csv").write_bytes(b"label,x\ncat,1\ndog,2\n\xff\xfe,3\n")
    with pytest.raises(DataError, match="not UTF-8"):
        load_dataset(tmp_path / "bad.csv")
    with pytest.raises(DataError, match="file not found"):
        load_dataset(tmp_path / "nope.csv")


def test_images_inside_folder(tmp_path):
    (tmp_path / "img").mkdir()
    for i in range(4):
        (tmp_path / "img" / f"{i}.png").write_bytes(b"png")
    f = pd.DataFrame({"label": ["a", "b"] * 2, "path": [f"img/{i}.png" for i in range(4)]})
    f.to_csv(tmp_path / "d.csv", index=False)
    ds = load_dataset(tmp_path / "d.csv")
    assert ds.image_column == "path" and ds.image_path(1).name == "1.png"
    f.loc[2, "path"] = "../secret.png"
    f.to_csv(tmp_path / "d.csv", index=False)
    with pytest.raises(DataError, match="outside the data folder.*row 2"):
        load_dataset(tmp_path / "d.csv")
    f.loc[2, "path"] = "img/missing.png"
    f.to_csv(tmp_path / "d.csv", index=False)
    with pytest.raises(DataError, match="files missing for row 2"):
        load_dataset(tmp_path / "d.csv")


def test_single_row_class_is_named():
    f = frame().assign(label=["cat", "dog"] * 5 + ["cat", "emu"])
    with pytest.raises(DataError, match="class 'emu'.*row 11"):
        from_frame(f)
    assert from_frame(f, min_class_size=1).num_classes == 3


def test_arrays_and_sample():
    ds = from_arrays(np.eye(4), [0, 1, 0, 1])
    assert ds.labels.tolist() == [0, 1, 0, 1] and len(ds.feature_columns) == 4
    digits = from_sample("digits")
    assert len(digits) == 1797 and digits.image_shape == (8, 8)
    assert digits.true_labels is not None and (digits.true_labels != digits.labels).sum() == 150


def test_read_columns_matches_read_table_without_reading_parquet_rows(tmp_path, monkeypatch):
    from analysis.data.dataset import read_columns, read_table

    frame = pd.DataFrame({"b": [1.0, 2.0, 3.0], "label": ["x", "y", "x"], "a": [3, 2, 1]})
    files = {"range.parquet": frame, "named.parquet": frame.set_index("a"),
             "unnamed.parquet": frame.set_index(pd.Index([10, 20, 5]))}
    for name, f in files.items():
        f.to_parquet(tmp_path / name)
    frame.to_csv(tmp_path / "plain.csv", index=False)
    expected = {n: list(read_table(tmp_path / n).columns) for n in [*files, "plain.csv"]}
    import pyarrow.parquet as pq

    def no_rows(*args, **kwargs):
        raise AssertionError("read the rows")

    monkeypatch.setattr(pq, "read_table", no_rows)
    for name in files:
        assert read_columns(tmp_path / name) == expected[name], name
    monkeypatch.undo()
    assert read_columns(tmp_path / "plain.csv") == expected["plain.csv"]
    (tmp_path / "bad.parquet").write_bytes(b"not parquet")
    with pytest.raises(DataError, match="bad.parquet"):
        read_columns(tmp_path / "bad.parquet")
