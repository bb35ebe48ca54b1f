"""The embedding map past 50k rows in a real browser: a lasso on the density map selects every
row inside the polygon (by coordinates, on the server), not only the drawn points."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_browser import (  # noqa: F401 - fixtures
    CHROMIUM,
    PLOT,
    browser,
    home,
    lasso,
    open_page,
    running_dashboard,
    screenshot,
    shots,
    wait_idle,
)

pytest.importorskip("playwright.sync_api", reason="playwright (the 'test' extra) is not installed")
from playwright.sync_api import expect  # noqa: E402

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).is_file(), reason=f"no Chromium at {CHROMIUM}")

ROWS = 60_000


@pytest.fixture(scope="module")
def dense_url(home):  # noqa: F811 - the fixture
    rng = np.random.default_rng(0)
    k, dims = 5, 8
    true = rng.integers(0, k, ROWS)
    X = rng.normal(scale=3.0, size=(k, dims))[true] + rng.normal(size=(ROWS, dims))
    labels = np.where(rng.random(ROWS) < 0.1, rng.integers(0, k, ROWS), true)
    logits = rng.normal(size=(ROWS, k))
    logits[np.arange(ROWS), true] += 3.0
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    cols = {"id": np.arange(ROWS), "label": np.array(list("abcde"), dtype=object)[labels]}
    cols.update({f"f{i}": X[:, i] for i in range(dims)})
    cols.update({f"pred_prob_{c}": probs[:, i] for i, c in enumerate("abcde")})
    path = home / "dense.parquet"
    pd.DataFrame(cols).to_parquet(path)
    with running_dashboard(home, "--data", str(path), "--label-col", "label") as url:
        yield url


def test_lasso_on_the_density_map_selects_every_row_inside(browser, dense_url, shots):  # noqa: F811
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, base_url=dense_url)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    open_page(page, "/embedding_map", "Embedding map", timeout=120_000)
    chart = page.get_by_test_id("stPlotlyChart").first
    expect(page.get_by_text(re.compile("grey image is the density of all"))).to_be_visible()
    kinds = page.evaluate("s => document.querySelector(s)._fullData.map(t => t.type)", PLOT)
    assert kinds[0] == "heatmap" and set(kinds[1:]) == {"scattergl"}
    drawn = page.evaluate(
        "s => document.querySelector(s)._fullData.slice(1)"
        ".filter(t => t.name !== 'flagged (outlined)').reduce((n, t) => n + t.x.length, 0)",
        PLOT)
    assert drawn < ROWS // 5

    lasso(page, chart, 0.25)
    heading = page.get_by_role("heading", name=re.compile(r"^[\d,]+ selected examples"))
    try:
        expect(heading).to_be_visible(timeout=30_000)
    except AssertionError:
        screenshot(page, shots, "embedding_map_dense_lasso_failed")
        raise
    wait_idle(page)
    screenshot(page, shots, "embedding_map_dense_lasso")
    n = int(re.match(r"[\d,]+", heading.inner_text()).group().replace(",", ""))
    # plotly's own count of drawn points inside, against the page's count of all rows inside
    marked = page.evaluate(
        """s => { const rows = new Set();
            for (const t of document.querySelector(s)._fullData)
                for (const p of (t.selectedpoints || [])) rows.add(t.customdata[p][0]);
            return rows.size; }""", PLOT)
    assert 0 < marked < n < ROWS
    assert n > 3 * marked, "the selection should hold the undrawn rows inside too"
    context.close()
    assert not errors, f"uncaught JavaScript errors: {errors}"
