"""A million rows in a real browser (issue 18): 1,000,000 rows x 100 classes with their
probabilities, a 16-D embedding and an audited 5% with a true label, in one Parquet file. Every
page opens without an error, the tables send one page of rows, the map draws density, and
Evaluate measures against the audited rows; after a restart the first page opens from the
stored form of the dataset. The screenshots are in ``tests/dashboard/screenshots/million_*.png``.
About 1.5-3 minutes, most of it the first page.
"""

from __future__ import annotations

import multiprocessing
import re
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_browser import (  # noqa: F401 - fixtures
    CHROMIUM,
    PLOT,
    browser,
    home,
    open_page,
    running_dashboard,
    screenshot,
    shots,
)

pytest.importorskip("playwright.sync_api", reason="playwright (the 'test' extra) is not installed")
from playwright.sync_api import expect  # noqa: E402

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).is_file(), reason=f"no Chromium at {CHROMIUM}")

ROWS, CLASSES, DIMS = 1_000_000, 100, 16


def write_million(path: str) -> str:
    """The data set of ``benchmarks/page_speed.py --rows 1000000 --classes 100
    --embedding-dims 16 --truth-share 0.05``, written by a child process (its memory is not
    the test's)."""
    rng = np.random.default_rng(0)
    true = rng.integers(0, CLASSES, ROWS)
    centres = rng.normal(scale=2.0, size=(CLASSES, DIMS)).astype(np.float32)
    X = centres[true] + rng.standard_normal(size=(ROWS, DIMS), dtype=np.float32)
    labels = np.where(rng.random(ROWS) < 0.2, rng.integers(0, CLASSES, ROWS), true)
    logits = rng.standard_normal(size=(ROWS, CLASSES), dtype=np.float32)
    logits[np.arange(ROWS), true] += 5.0
    probs = np.exp(logits)
    probs /= probs.sum(1, keepdims=True)
    names = np.array([f"class_{c}" for c in range(CLASSES)], dtype=object)
    cols = {"id": np.arange(ROWS), "label": names[labels]}
    cols.update({f"emb_{i}": X[:, i] for i in range(DIMS)})
    cols.update({f"pred_prob_class_{c}": probs[:, c] for c in range(CLASSES)})
    cols["true_label"] = np.where(rng.random(ROWS) < 0.05, names[true], None)
    pd.DataFrame(cols).to_parquet(path)
    return path


@pytest.fixture(scope="module")
def million_file(home):  # noqa: F811 - the fixture
    path = home / "million.parquet"
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        pool.submit(write_million, str(path)).result()
    return path


# (url path, title, text that shows the page did its work at this size)
PAGES = [
    ("/", "Label health", re.compile(r"^1,000,000$")),
    ("/noise_matrix", "Noise matrix", None),
    ("/embedding_map", "Embedding map", re.compile("grey image is the density of all")),
    ("/suspects", "Suspects", re.compile(r"rows 1–200 of [\d,]+")),
    ("/slices", "Noise by slice", None),
    ("/review_export", "Review & export", re.compile(r"1,000,000 rows in")),
    ("/annotators", "Annotators", None),
    ("/evaluate", "Evaluate", re.compile(r"True labels are known for [\d,]+ of 1,000,000 rows")),
]


def test_every_page_opens_on_a_million_rows(browser, million_file, home, shots):  # noqa: F811
    with running_dashboard(home, "--data", str(million_file), "--label-col", "label") as url:
        _every_page(browser, url, shots)
        stored = _wait_for_stored_form(home)
    # a restart: the dataset comes back from its stored form (analysis/data/store.py)
    opened_before = stored.stat().st_mtime_ns
    with running_dashboard(home, "--data", str(million_file), "--label-col", "label") as url:
        context = browser.new_context(viewport={"width": 1400, "height": 1000}, base_url=url)
        page = context.new_page()
        start = time.perf_counter()
        open_page(page, "/", "Label health", timeout=60_000)
        expect(page.get_by_text(re.compile(r"^1,000,000$")).first).to_be_visible()
        print(f"first page after a restart (browser, incl. drawing): "
              f"{time.perf_counter() - start:.1f} s")
        screenshot(page, shots, "million_overview_restarted")
        context.close()
    assert stored.stat().st_mtime_ns > opened_before, "the stored form was not opened"


def _wait_for_stored_form(workspace: Path, timeout: float = 120.0) -> Path:
    """The stored form's ``meta.json`` once the server has written it (in the background)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = list((workspace / "cache" / "datasets").glob("*/meta.json"))
        if found:
            return found[0]
        time.sleep(1)
    raise AssertionError(f"no stored form of the dataset in {workspace / 'cache' / 'datasets'}")


def _every_page(browser, million_url, shots):  # noqa: F811
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, base_url=million_url)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    took = {}
    for path, title, sign in PAGES:
        start = time.perf_counter()
        try:
            open_page(page, path, title, timeout=150_000 if path == "/" else 60_000)
            if sign is not None:
                expect(page.get_by_text(sign).first).to_be_visible()
        except AssertionError:
            screenshot(page, shots, f"million_{path.strip('/') or 'overview'}_failed")
            raise
        took[title] = time.perf_counter() - start
        screenshot(page, shots, f"million_{path.strip('/') or 'overview'}")
        if title == "Suspects":  # one page of the ranking is in the browser, not 1M rows
            rows = page.get_by_test_id("stDataFrame").first.get_attribute("aria-rowcount")
            assert rows is None or int(rows) <= 201, rows
        if title == "Embedding map":
            kinds = page.evaluate("s => document.querySelector(s)._fullData.map(t => t.type)",
                                  PLOT)
            assert kinds[0] == "heatmap", kinds
    print("seconds per page (browser, incl. drawing):",
          ", ".join(f"{t} {s:.1f}" for t, s in took.items()))
    context.close()
    assert not errors, f"uncaught JavaScript errors: {errors}"
