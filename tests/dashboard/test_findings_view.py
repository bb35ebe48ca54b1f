"""The findings in the app (#17): the slice selector, the Noise by slice page naming the
sloppy vendor first, the Overview's interval / review line / history, and the figures."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

import analysis as nl
from analysis.review import findings

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")


@pytest.fixture(autouse=True)
def _env(tmp_path, app_env):
    app_env(tmp_path)


def _open(page: str | None, **params) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    if page is not None:
        at.switch_page(f"app_pages/{page}.py")
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def test_slice_page_names_the_sloppy_vendor_and_lists_its_suspects():
    at = _open("slices", sample="digits_vendors")
    result = nl.analyze(nl.from_sample("digits_vendors"), detector="confident_learning")
    table = findings.slice_noise(result, findings.slice_values(result.dataset, "vendor"),
                                 column="vendor").table
    text = " ".join(m.value for m in at.markdown)
    assert "**Crowdwork Co** has the noisiest labels" in text
    first = table.iloc[0]
    assert f"{100 * first['noise_rate']:.1f}% estimated wrong" in text
    shown = at.dataframe[0].value
    assert shown["vendor"].tolist() == table["slice"].tolist()
    # the drill-down: the flagged rows of the first slice, most likely wrong first
    suspects = at.dataframe[1].value
    values = findings.slice_values(result.dataset, "vendor")
    order = findings.review_order(result, None)
    expected = result.dataset.ids[order[values[order] == "Crowdwork Co"]]
    assert suspects["id"].astype(str).tolist() == [str(i) for i in expected[:500]]
    # another slice from the selector
    at.selectbox(key="slice_value").select("DataTaggers").run()
    suspects = at.dataframe[1].value
    assert len(suspects) == int(np.sum(result.is_issue & (values == "DataTaggers")))


def test_overview_shows_the_interval_the_review_line_and_history():
    at = _open(None, sample="digits_vendors")
    result = nl.analyze(nl.from_sample("digits_vendors"), detector="confident_learning")
    ci = findings.class_intervals(result)
    captions = " ".join(c.value for c in at.caption)
    assert f"95% interval {ci.wrong.low:,.0f}–{ci.wrong.high:,.0f}" in captions
    text = " ".join(m.value for m in at.markdown)
    assert "Crowdwork Co" in text and "has the noisiest labels" in text
    # a verdict: the review line appears with the package's numbers
    from dashboard import compute
    ds = compute.load(compute.Source("sample", "digits_vendors"))
    store = compute.review_store(ds)
    rows = result.ranked[:3]
    store.decide(ds.ids[rows[0]], "relabel", ds.class_names[result.suggested[rows[0]]])
    store.decide(ds.ids[rows[1]], "keep")
    at.run()
    line = findings.errors_remaining(result, store.decisions()).line()
    assert line.startswith("Reviewed 2 of ")
    shown = [re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", i.value).replace("\u2060", "")
             for i in at.info]
    assert any(line in i for i in shown), shown


def test_no_slice_column_means_a_hint_not_an_error():
    at = _open("slices", sample="wine")
    assert any("no column to slice by" in i.value for i in at.info)


def test_slice_figure_escapes_and_orders():
    t = findings.slice_noise(*_hostile()).table
    from dashboard.findings_view import slice_figure
    fig = slice_figure(t, "<b>vendor</b>")
    bar = fig.data[0]
    assert list(bar.y)[::-1] == [s.replace("<", "&lt;").replace(">", "&gt;") for s in t["slice"]]
    assert "<b>" not in fig.layout.title.text


def _hostile():
    rng = np.random.default_rng(0)
    n, k = 200, 2
    y = rng.integers(0, k, n)
    probs = np.full((n, k), 0.2)
    probs[np.arange(n), y] = 0.8
    ds = nl.from_arrays(rng.normal(size=(n, 2)), y, pred_probs=probs)
    values = np.where(np.arange(n) % 2, "<script>x</script>", "plain")
    return nl.analyze(ds), values
