"""dashboard/why.py without a server: the issue filter against a loop, the report section
(counts, escaping) and the panel's table."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_blobs

import analysis as nl
from analysis.signals import ISSUE_TYPES
from dashboard import why


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("NOISELENS_HOME", str(tmp_path / "ws"))


@pytest.fixture
def result():
    X, y = make_blobs(240, 6, centers=3, cluster_std=1.0, random_state=4)
    X[200:204] = X[0:4]
    y[200:204] = y[0:4]
    y[200:202] = (y[0:2] + 1) % 3  # two conflicting duplicates
    X[230] += 40.0  # an outlier
    names = np.array(["<img src=x onerror=alert(1)>", "=cmd|' /C calc'!A0", "dog"])
    probs = np.full((240, 3), 0.1)
    probs[np.arange(240), y] = 0.8
    ds = nl.from_arrays(X, names[y], pred_probs=probs)
    return nl.analyze(ds)


def test_filter_rows_matches_a_loop(result):
    rows = np.arange(240)[::-1]
    table = result.signals.table
    for types in ([], ["outlier"], ["near_duplicate", "neighbour_disagreement"]):
        expected = [r for r in rows if not types or any(table[f"is_{t}_issue"][r]
                                                        for t in types)]
        assert why.filter_rows(result, rows, types).tolist() == expected
    assert 230 in why.filter_rows(result, rows, ["outlier"])


def test_report_section_counts_and_escapes(result):
    html = why.report_section(result.dataset, result)
    counts = result.signals.counts()
    for t in ISSUE_TYPES:
        assert f"<td>{counts[t]:,}</td>" in html
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "2 near-duplicate pair(s) carry different labels" in html
    from dashboard.report import build_report

    assert html in build_report(result.dataset, result)


def test_panel_table(result):
    frame = why.signal_rows(result.dataset, result, 230)
    assert frame["signal"].tolist() == ["label issue", "near-duplicate", "outlier",
                                        "neighbours disagree"]
    outlier = frame.set_index("signal").loc["outlier"]
    assert outlier["flagged"] and outlier["worse than (own class)"] == 1.0
