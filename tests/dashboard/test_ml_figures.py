"""The multi-label figures (#28) without a server: the bars are the per-class rates, the error
bars their Jeffreys intervals, class names escaped."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.core.multilabel import estimate_multilabel
from analysis.multilabel_pipeline import per_class_table
from dashboard.ml_figures import row_probability_bars, tag_rate_bars

NAMES = ["<b>bold</b>", "*x*", "100%{x}", "plain"]


def _per_class() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    n, k = 400, len(NAMES)
    truth = rng.random((n, k)) < 0.35
    probs = np.clip(truth * 0.75 + rng.random((n, k)) * 0.25, 0.01, 0.99)
    given = truth.copy()
    flip = rng.random((n, k)) < np.array([0.02, 0.1, 0.05, 0.0])
    given[flip] = ~given[flip]
    labels = given.astype(np.uint8)
    return per_class_table(labels, estimate_multilabel(labels, probs), NAMES)


def test_tag_rate_bars_are_the_rates_with_their_intervals():
    table = _per_class()
    fig = tag_rate_bars(table)
    assert [t.name for t in fig.data] == ["tag missing", "tag extra"]
    order = np.argsort((table["missing_rate"] + table["extra_rate"]).to_numpy(), kind="stable")
    by_hand = table.iloc[order]
    for trace, column in zip(fig.data, ("missing_rate", "extra_rate"), strict=True):
        np.testing.assert_allclose(trace.x, by_hand[column] * 100)
        np.testing.assert_allclose(trace.error_x.array,
                                   (by_hand[f"{column}_high"] - by_hand[column]) * 100)
        np.testing.assert_allclose(trace.error_x.arrayminus,
                                   (by_hand[column] - by_hand[f"{column}_low"]) * 100)
        assert trace.error_x.symmetric is False
        # the lower end is never below 0, the upper never above 100%
        assert np.all(trace.x - trace.error_x.arrayminus >= -1e-9)
        assert np.all(trace.x + trace.error_x.array <= 100 + 1e-9)
    # every name escaped: no tag, no emphasis markup parsed, no template field
    y = list(fig.data[0].y)
    assert "&lt;b&gt;bold&lt;/b&gt;" in y and "100&#37;{x}" in y and "*x*" in y
    assert not any("<b>" in v or "%{" in v for v in y)
    assert "<b>" not in str(fig.layout.yaxis.ticktext)


def test_tag_rate_bars_limit_and_undefined_rates():
    table = _per_class()
    table.loc[3, ["missing_rate", "missing_rate_low", "missing_rate_high"]] = np.nan
    fig = tag_rate_bars(table, limit=2)
    assert len(fig.data[0].y) == 2
    assert "the 2 noisiest of 4 classes" in fig.layout.xaxis.title.text
    fig = tag_rate_bars(table)  # a class without the rate: no error bar, no crash
    assert np.isfinite(fig.data[0].error_x.array).all()


def test_row_probability_bars():
    frame = pd.DataFrame({"tag": NAMES, "given": [True, False, True, False],
                          "suggested": [True, True, False, False],
                          "probability": [0.9, 0.8, 0.1, 0.05], "flagged": [False, True, True,
                                                                              False]})
    fig = row_probability_bars(frame)
    np.testing.assert_allclose(fig.data[0].x, [90, 80, 10, 5])
    assert list(fig.data[0].customdata) == ["given", "not given", "given", "not given"]
    assert "&lt;b&gt;bold&lt;/b&gt;" in list(fig.data[0].y)
