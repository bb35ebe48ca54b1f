"""Leakage across splits: planted cross-split duplicates (agreeing and conflicting) are listed,
same-split duplicates are not; checked against a loop over every pair."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_blobs

import analysis as nl
from analysis.data.splits import concat_splits, leakage, split_check, split_column


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("NOISELENS_HOME", str(tmp_path / "ws"))


def split_frame():
    X, y = make_blobs(300, 5, centers=3, cluster_std=1.0, random_state=2)
    split = np.array(["train"] * 200 + ["validation"] * 50 + ["test"] * 50, dtype=object)
    # rows 200..203 (validation) copy train rows 0..3; 204, 205 conflict in label
    X[200:206] = X[0:6]
    y[200:206] = y[0:6]
    y[204:206] = (y[204:206] + 1) % 3
    X[10] = X[11]  # a duplicate inside train: not leakage
    y[10] = y[11]
    frame = pd.DataFrame(X, columns=[f"f{j}" for j in range(5)])
    frame["label"] = y
    frame["Split"] = split
    return frame


def test_planted_leaks_found_and_match_a_loop():
    frame = split_frame()
    ds = nl.from_frame(frame, "label")
    assert split_column(ds) == "Split"
    result = nl.analyze(ds, detector="confident_learning")
    sig = result.signals
    splits = frame["Split"].to_numpy(dtype=object)
    leaks = leakage(sig.duplicates, splits)
    got = {(int(a), int(b)) for a, b in zip(leaks["row_a"], leaks["row_b"], strict=True)}
    # the loop: every pair within the threshold, in different splits
    from analysis.model.embedding import prepare_features

    F = prepare_features(ds.features).astype(np.float64)
    expected = set()
    for i in range(300):
        for j in range(i + 1, 300):
            if splits[i] != splits[j] and np.linalg.norm(F[i] - F[j]) <= sig.duplicate_threshold:
                expected.add((i, j))
    assert got == expected == {(r, 200 + r) for r in range(6)}
    assert set(leaks.loc[leaks["conflicting"], "row_a"]) == {4, 5}
    check = split_check(ds, sig)
    assert check["leaking_pairs"] == 6 and check["conflicting_pairs"] == 2
    assert check["rows_per_split"] == {"test": 50, "train": 200, "validation": 50}
    assert check["leaking_rows"] == {"train": 6, "validation": 6}
    assert result.checks["splits"]["leaking_pairs"] == 6


def test_manifest_and_issues_csv_keep_the_split(tmp_path):
    frame = split_frame()
    ds = nl.from_frame(frame, "label")
    result = nl.analyze(ds, detector="confident_learning")
    from analysis.export.split import export_split, result_files

    out = export_split(ds, result, pd.DataFrame(columns=["id", "action", "new_label", "note"]),
                       tmp_path / "out", extra_files=result_files(ds, result, mode="none"),
                       mode="none")
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["checks"]["splits"]["conflicting_pairs"] == 2
    issues = pd.read_csv(out.files["issues"])
    assert issues["split"].tolist() == frame["Split"].tolist()
    cleaned = pd.read_csv(out.files["cleaned"])
    assert cleaned["Split"].tolist() == frame["Split"].tolist()


def test_no_split_column_and_bad_input():
    frame = split_frame().drop(columns="Split")
    ds = nl.from_frame(frame, "label")
    assert split_column(ds) is None
    with pytest.raises(ValueError, match="split column 'part' not found"):
        split_column(ds, "part")
    with pytest.raises(ValueError, match="at most 20"):
        split_column(ds, "f0")
    a, b = frame.iloc[:10], frame.iloc[10:20]
    joined = concat_splits({"train": a, "test": b})
    assert joined["split"].tolist() == ["train"] * 10 + ["test"] * 10
    with pytest.raises(ValueError, match="other columns"):
        concat_splits({"train": a, "test": b.drop(columns="f0")})
    with pytest.raises(ValueError, match="at least two"):
        concat_splits({"train": a})


def test_a_split_column_is_never_a_model_feature(tmp_path):
    # numeric split / fold columns would otherwise be inferred as features (they are numbers)
    X, y = make_blobs(60, 3, centers=2, random_state=0)
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    frame["label"] = y
    frame["fold"] = np.arange(60) % 5
    frame["SET"] = np.where(np.arange(60) < 40, 0, 1)
    frame["subset_size"] = np.arange(60) % 7  # not a split name: still a feature
    expected = ["a", "b", "c", "subset_size"]
    assert nl.from_frame(frame, "label").feature_columns == expected
    path = tmp_path / "data.csv"  # the text path of a CSV file too
    frame.to_csv(path, index=False)
    assert nl.load_dataset(path, "label").feature_columns == expected
    # named explicitly, it is a feature; a split-named column with many values is data
    named = nl.from_frame(frame, "label", feature_columns=["a", "fold"])
    assert named.feature_columns == ["a", "fold"]
    frame["set"] = frame.pop("SET") * 0 + np.arange(60)  # 60 distinct values
    assert "set" in nl.from_frame(frame, "label").feature_columns


def test_cli_joins_files_as_splits_and_lists_the_leaks(tmp_path, capsys):
    from dashboard.cli import main

    frame = split_frame()
    parts = {"train": frame.iloc[:200], "validation": frame.iloc[200:250],
             "test": frame.iloc[250:]}
    paths = []
    for name, part in parts.items():
        paths.append(str(tmp_path / f"{name}.csv"))
        part.drop(columns="Split").to_csv(paths[-1], index=False)
    out = tmp_path / "out"
    assert main(["analyze", *paths, "--label-col", "label", "--detector", "confident_learning",
                 "--out", str(out)]) == 0
    err = capsys.readouterr().err
    # the same planted leaks as with the column: rows 0..5 of train in validation, 2 conflict
    assert "6 near-duplicate pair(s) across splits (leakage), 2 with different labels" in err
    assert "4 (train) ~ 204 (validation), distance 0, labels differ" in err  # ids: join rows
    manifest = json.loads((out / "manifest.json").read_text())
    check = manifest["checks"]["splits"]
    assert check["column"] == "split" and check["leaking_pairs"] == 6
    assert check["rows_per_split"] == {"test": 50, "train": 200, "validation": 50}
    assert manifest["checks"]["label_detector"] == "confident_learning"
    cleaned = next(out.glob("*cleaned*"))
    assert pd.read_csv(cleaned)["split"].tolist() == frame["Split"].str.lower().tolist()
    # the split is not a feature; bad input is named, never a traceback
    (tmp_path / "odd.csv").write_text("x,label\n1,a\n2,b\n")
    assert main(["analyze", paths[0], str(tmp_path / "odd.csv"), "--out", str(out)]) == 2
    assert "other columns" in capsys.readouterr().err
    assert main(["analyze", paths[0], paths[0], "--out", str(out)]) == 2
    assert "both split 'train'" in capsys.readouterr().err


def test_csv_splits_with_carriage_returns_in_text_keep_every_row(tmp_path):
    # the joined splits pass through a temporary CSV: a quoted "\r" in a cell must not split
    # the row there
    from analysis.data.splits import load_splits

    (tmp_path / "train.csv").write_bytes(
        b'id,text,label,f\nt0,"one\rtwo",a,1\nt1,plain,b,2\nt2,"x\r",a,3\nt3,y,b,4\n')
    (tmp_path / "test.csv").write_bytes(b'id,text,label,f\ns0,"p\rq",a,1\ns1,z,b,2\n')
    ds = load_splits([tmp_path / "train.csv", tmp_path / "test.csv"], "label")
    assert len(ds) == 6
    assert ds.frame["text"].tolist() == ["one\rtwo", "plain", "x\r", "y", "p\rq", "z"]
    assert ds.frame["split"].tolist() == ["train"] * 4 + ["test"] * 2
