"""dashboard/why.py without a server: the issue filter against a loop, the report section
(counts, escaping) and the panel's table."""

from __future__ import annotations

import os

import numpy as np
import pytest
from sklearn.datasets import make_blobs

import analysis as nl
from analysis.signals.compute import ISSUE_TYPES
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


def rendered(markdown: str) -> str:
    """Markdown as read: backslash escapes of dataset text resolved."""
    import re

    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", markdown).replace("\u2060", "")


def test_overview_issue_summary_and_the_combined_detector(monkeypatch, app_env):
    """AppTest: the Overview's issue counts and worst classes are the package's; choosing the
    combined detector in the sidebar flags its rows, says so, and its fits are cached on disk
    (the package, called after, fits nothing)."""
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    from analysis import pipeline
    from analysis.signals.compute import ISSUE_NAMES, class_summary

    app_env(os.environ["NOISELENS_HOME"])
    app = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")
    at = AppTest.from_file(app, default_timeout=240)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    ds = nl.from_sample("digits")
    base = nl.analyze(ds, detector="confident_learning")
    metrics = {m.label: m.value for m in at.metric}
    for t, count in base.signals.counts().items():
        assert metrics[ISSUE_NAMES[t].capitalize()] == f"{count:,}"
    assert any("Label issues by **Prune by noise rate (default)**" in rendered(c.value)
               for c in at.caption)
    worst = next(df.value for df in at.dataframe if "any issue" in df.value)
    expected = class_summary(base.labels, ds.class_names, base.signals).head(5)
    assert worst["class"].tolist() == expected["class_name"].tolist()
    np.testing.assert_allclose(worst["any issue"], expected["any_share"])

    at.sidebar.selectbox(key="filter_by").set_value("clean_and_refit")
    at.run()
    assert not at.exception, [e.value for e in at.exception]

    def no_fit(*args, **kwargs):
        raise AssertionError("fitted again: the combined detector's fits are not cached")

    monkeypatch.setattr(pipeline, "out_of_fold_probabilities", no_fit)
    combined = nl.analyze(ds, detector="clean_and_refit")  # every fit read from the cache
    assert combined.detector == "clean_and_refit"
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Label issue"] == f"{combined.num_issues:,}" != f"{base.num_issues:,}"
    assert metrics["Flagged for review"] == f"{combined.num_issues:,}"
    assert any("Label issues by **Combined (clean, fit again)**"
               in rendered(c.value) for c in at.caption)
    assert at.query_params["filter"] == "clean_and_refit"


def test_large_datasets_compute_the_signals_in_the_background(monkeypatch, app_env):
    """Above SYNC_MAX_ROWS the Overview does not wait for the neighbour search: it says the
    signals are being computed and shows them once the background job is done."""
    import time
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    from analysis.signals.compute import ISSUE_NAMES

    app_env(os.environ["NOISELENS_HOME"])
    monkeypatch.setattr(why, "SYNC_MAX_ROWS", 100)  # digits' 1,797 rows count as large
    app = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")
    at = AppTest.from_file(app, default_timeout=240)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    label = ISSUE_NAMES["near_duplicate"].capitalize()
    waiting = [c.value for c in at.caption if "computed in the background" in c.value]
    # the first run returns at once (the neighbour search has just started in a thread)
    assert waiting and label not in {m.label for m in at.metric}
    from dashboard import compute

    entry = compute.cache().entry(nl.from_sample("digits"))
    jobs = [j for k, j in entry.jobs.items() if k[0] == "signals"]
    assert jobs
    deadline = time.monotonic() + 120
    while not all(j.done for j in jobs) and time.monotonic() < deadline:
        time.sleep(0.2)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert label in {m.label for m in at.metric}
