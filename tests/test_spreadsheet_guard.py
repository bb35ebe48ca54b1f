"""The formula guard: human-facing CSVs never carry a live spreadsheet formula; the cleaned
split is never guarded (it stays as the input was)."""

from __future__ import annotations

import csv
import re

import numpy as np
import pandas as pd
import pytest

from analysis.export.spreadsheet import FORMULA_STARTS, guard_formulas
from dashboard.cli import main

CLASSES = ['=HYPERLINK("http://127.0.0.1:9","x")', "+1", "-cat", "@SUM(A1)", "\tdog"]
NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def test_guard_formulas_prefixes_text_only():
    frame = pd.DataFrame({"name": ["=1+1", "+a", "-b", "@c", "\td", "\re", "plain", None],
                          "value": [-0.5, 1, 2, 3, 4, 5, 6, 7],
                          "=col": ["-1", "x", "y", "z", "w", "v", "u", "t"]})
    out = guard_formulas(frame)
    assert out["name"].tolist()[:7] == ["'=1+1", "'+a", "'-b", "'@c", "'\td", "'\re", "plain"]
    assert pd.isna(out["name"].iloc[7])  # missing stays missing
    assert out["value"].tolist() == frame["value"].tolist()  # numbers untouched
    assert list(out.columns) == ["name", "value", "'=col"]
    assert out["'=col"].iloc[0] == "'-1"  # text that looks like a number is still text
    assert frame["name"].iloc[0] == "=1+1"  # the input is not changed


@pytest.fixture
def hostile(tmp_path):
    rng = np.random.default_rng(2)
    n, k = 200, len(CLASSES)
    truth = rng.integers(0, k, n)
    given = np.where(rng.random(n) < 0.15, (truth + 1) % k, truth)
    probs = rng.dirichlet(np.ones(k) * 0.3, n) * 0.4
    probs[np.arange(n), truth] += 0.6
    frame = pd.DataFrame({"id": [f"=ID{i}" if i % 2 else f"-{i}" for i in range(n)],
                          "label": [CLASSES[g] for g in given]})
    for c, name in enumerate(CLASSES):
        frame[f"pred_prob_{name}"] = probs[:, c]
    path = tmp_path / "hostile.csv"
    frame.to_csv(path, index=False)
    return path


def _cells(path):
    with open(path, newline="", encoding="utf-8") as f:
        return [cell for row in csv.reader(f) for cell in row]


def test_every_human_facing_csv_is_guarded_and_the_cleaned_split_is_not(hostile, tmp_path,
                                                                       monkeypatch):
    monkeypatch.setenv("NOISELENS_HOME", str(tmp_path / "ws"))
    out = tmp_path / "out"
    assert main(["analyze", str(hostile), "--label-col", "label", "--clean", "suggestions",
                 # every suggestion applied, so the change list carries the hostile names
                 "--min-confidence", "0", "--out", str(out)]) == 0
    human = ["label_issues.csv", "per_class.csv", "noise_matrix.csv", "confident_joint.csv",
             "hostile_changes.csv"]
    for name in human:
        path = next(out.rglob(name))
        cells = _cells(path)
        live = [c for c in cells if c.startswith(FORMULA_STARTS) and not NUMBER.match(c)]
        assert live == [], f"{name}: {live[:5]}"
        # and the hostile names are there, guarded, so a reader still sees them
        assert any(CLASSES[0] in c for c in cells), name
    changes = pd.read_csv(next(out.rglob("hostile_changes.csv")), dtype=str,
                          keep_default_na=False)
    assert len(changes) > 0
    assert set(changes["id"].str[:1]) <= {"'"}  # every id here starts with = or -
    # the cleaned split keeps every untouched cell exactly: ids and labels as in the input
    original = _cells(hostile)
    cleaned = _cells(next(out.rglob("hostile_cleaned.csv")))
    ids_in = [c for c in original if c.startswith(("=ID", "-"))]
    assert ids_in and set(ids_in) <= set(cleaned)
    assert not any(c.startswith("'") for c in cleaned)
