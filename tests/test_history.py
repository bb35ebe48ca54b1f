"""analysis.review.history: records appended once per version and method, read back, trend and
changes computed from them; a torn line is skipped, not fatal."""

from __future__ import annotations

import numpy as np
import pandas as pd

import analysis as nl
from analysis.review import history


def _dataset(flip: int):
    rng = np.random.default_rng(0)
    n, k = 300, 3
    labels = np.repeat(np.arange(k), n // k)
    probs = np.full((n, k), 0.1)
    probs[np.arange(n), labels] = 0.8
    noisy = labels.copy()
    noisy[:flip] = (noisy[:flip] + 1) % k  # the first rows mislabelled
    frame = pd.DataFrame({"label": [f"c{v}" for v in noisy], "x": rng.normal(size=n)})
    probs_cols = {f"pred_prob_c{j}": probs[:, j] for j in range(k)}
    frame = frame.assign(**probs_cols)
    return nl.from_frame(frame, "label", pred_prob_columns=list(probs_cols))


def test_history_records_versions_and_changes(tmp_path, monkeypatch):
    monkeypatch.setenv("NOISELENS_HOME", str(tmp_path))
    key = "name:test"
    d1 = _dataset(30)
    r1 = nl.analyze(d1)
    h = history.record_analysis(d1, r1, key=key)
    assert len(h.records) == 1 and h.changes() is None
    # the same analysis again adds nothing; another method does
    assert len(history.record_analysis(d1, r1, key=key).records) == 1
    r1b = r1.with_methods(filter_by="confident_learning")
    assert len(history.record_analysis(d1, r1b, key=key).records) == 2
    d2 = _dataset(6)
    r2 = nl.analyze(d2)
    h = history.record_analysis(d2, r2, key=key)
    assert len(h.records) == 3
    f = h.frame()
    assert f["version"].tolist() == [1, 1, 2]
    assert f["estimated_wrong"].tolist() == [r1.estimated_wrong, r1b.estimated_wrong,
                                             r2.estimated_wrong]
    ch = h.changes()
    assert ch["estimated_wrong"] == r2.estimated_wrong - r1b.estimated_wrong
    assert ch["health"] == round(round(r2.health, 3) - round(r1b.health, 3), 3)
    assert ch["rows"] == 0
    # the class that moved most comes first, with its before / now rates
    rates1 = dict(zip(d1.class_names, r1b.per_class["noise_rate"], strict=True))
    rates2 = dict(zip(d2.class_names, r2.per_class["noise_rate"], strict=True))
    top = max(rates1, key=lambda c: abs(rates2[c] - rates1[c]))
    assert ch["classes"][0]["class"] == top
    assert ch["classes"][0]["before"] == round(rates1[top], 5)
    # another dataset's key has its own history; a torn line is skipped
    assert history.read("name:other").records == []
    with open(history.history_path(key), "a", encoding="utf-8") as fh:
        fh.write('{"key": "name:test", "tim')
    h = history.read(key)
    assert len(h.records) == 3 and h.skipped == 1
    d3 = _dataset(12)
    h = history.record_analysis(d3, nl.analyze(d3), key=key)
    assert len(h.records) == 4 and h.skipped == 1  # appended after the torn line, intact
