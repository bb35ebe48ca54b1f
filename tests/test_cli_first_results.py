"""`noiselens analyze` writes its first results (label_issues.csv, summary.json, the tables,
the cleaned split) as soon as the label detector is done, before the neighbour signals and
the report; when the signals fail, those first results stay and the message says so."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import analysis.pipeline as pipeline
from dashboard.cli import main

FIRST = {"label_issues.csv", "per_class.csv", "noise_matrix.csv", "confident_joint.csv",
         "summary.json", "findings.json", "mine_cleaned.csv", "mine_changes.csv",
         "manifest.json"}


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    monkeypatch.setenv("NOISELENS_HOME", str(tmp_path / "ws"))


def _csv(tmp_path, n=150):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 3))
    y = np.where(X[:, 0] > 0, "cat", "dog").astype(object)
    y[:8] = np.where(y[:8] == "cat", "dog", "cat")
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    frame["animal"] = y
    path = tmp_path / "mine.csv"
    frame.to_csv(path, index=False)
    return path


def test_first_results_are_written_before_the_signals(tmp_path, monkeypatch, capsys):
    path, out = _csv(tmp_path), tmp_path / "out"
    seen = {}
    real = pipeline.compute_signals

    def signals_after_the_first_set(*args, **kwargs):
        seen["files"] = {p.name for p in out.iterdir()}
        seen["manifest"] = json.loads((out / "manifest.json").read_text())
        seen["summary"] = json.loads((out / "summary.json").read_text())
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "compute_signals", signals_after_the_first_set)
    assert main(["analyze", str(path), "--label-col", "animal", "--out", str(out)]) == 0
    assert seen["files"] == FIRST  # no issues.csv, no report.html yet
    assert seen["manifest"]["pending"]["files"] == ["issues.csv", "report.html"]
    assert "checks" not in seen["manifest"]
    # then the whole set replaced it: the same summary, the checks, every file
    assert {p.name for p in out.iterdir()} == FIRST | {"issues.csv", "report.html"}
    assert json.loads((out / "summary.json").read_text()) == seen["summary"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert "pending" not in manifest and "counts" in manifest["checks"]
    err = capsys.readouterr().err
    assert f"first results in {out}/ after " in err
    assert "next: the neighbour signals (150 rows x 3 dimensions of the features, exact, " \
           "brute force, about 1 s), then issues.csv and report.html" in err
    assert err.index("first results in") < err.index("neighbour signals done in")


def test_failing_signals_leave_the_first_results_and_say_so(tmp_path, monkeypatch, capsys):
    path, out = _csv(tmp_path), tmp_path / "out"

    def broken(*args, **kwargs):
        raise ValueError("the space has shape (3, 2): it needs one row per label (150 rows).")

    monkeypatch.setattr(pipeline, "compute_signals", broken)
    assert main(["analyze", str(path), "--label-col", "animal", "--out", str(out)]) == 2
    assert {p.name for p in out.iterdir()} == FIRST
    issues = pd.read_csv(out / "label_issues.csv")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["flagged"] == len(issues) > 0
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1] == (
        "noiselens: error: the neighbour signals could not be computed: the space has shape "
        "(3, 2): it needs one row per label (150 rows). The first results stay in "
        f"{out}/ (label_issues.csv, summary.json, the cleaned split; manifest.json lists "
        "them); issues.csv and report.html were not written.")
