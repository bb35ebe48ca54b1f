"""Why flagged in a real browser: the Overview's issue summary, the Suspects' issue-type
filter (its count equals the package's) and the "Why flagged" panel (its sentences equal
:func:`analysis.signals.compute.why_sentences` for the row in the URL)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from test_browser import (  # noqa: F401 - fixtures
    CHROMIUM,
    browser,
    dashboard_url,
    digits,
    home,
    open_page,
    page,
    screenshot,
    shots,
    wait_idle,
)

pytest.importorskip("playwright.sync_api", reason="playwright (the 'test' extra) is not installed")
from playwright.sync_api import expect  # noqa: E402

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).is_file(), reason=f"no Chromium at {CHROMIUM}")


def test_overview_issue_summary(page, shots, digits):  # noqa: F811 - fixtures
    open_page(page, "/", "Label health")
    expect(page.get_by_role("heading", name="Issues by type")).to_be_visible()
    counts = digits.signals.counts()
    metric = page.get_by_test_id("stMetric").filter(has_text="Outlier")
    expect(metric).to_contain_text(f"{counts['outlier']:,}")
    expect(page.get_by_test_id("stMetric").filter(has_text="Neighbours disagree")) \
        .to_contain_text(f"{counts['neighbour_disagreement']:,}")
    screenshot(page, shots, "why_overview")


def test_suspects_issue_filter_and_why_panel(page, shots, digits):  # noqa: F811
    from analysis.signals.compute import why_sentences
    from dashboard import why

    open_page(page, "/suspects", "Suspects")
    panel = page.locator("[class*='st-key-why-panel']")
    expect(panel).to_contain_text("Why flagged")
    row = int(np.flatnonzero(np.asarray(digits.dataset.ids).astype(str)
                             == re.search(r"id=([^&]+)", page.url).group(1))[0])
    for sentence in why_sentences(digits.signals, row, labels=digits.labels,
                                  class_names=digits.class_names, ids=digits.dataset.ids,
                                  pred_probs=digits.pred_probs,
                                  detector=why.detector_name(digits))[1:]:
        expect(panel).to_contain_text(sentence)
    screenshot(page, shots, "why_panel")

    page.get_by_test_id("stMultiSelect").filter(has_text="Issue type").locator("input").click()
    page.get_by_role("option", name="outlier", exact=True).click()
    page.keyboard.press("Escape")
    wait_idle(page)
    flagged = digits.is_issue & digits.signals.table["is_outlier_issue"].to_numpy()
    expect(page.get_by_text(re.compile(r"examples match"))).to_contain_text(
        f"{int(flagged.sum()):,} examples match")
    screenshot(page, shots, "why_filter")


def test_combined_detector_from_the_sidebar_choice(page, shots, digits):  # noqa: F811
    import analysis as nl

    open_page(page, "/?filter=clean_and_refit", "Label health")
    expect(page.get_by_text(re.compile(r"Label issues by"))).to_contain_text(
        "Combined (clean, fit again)", timeout=180_000)
    combined = nl.analyze(digits.dataset, detector="clean_and_refit")  # the server's cache
    expect(page.get_by_test_id("stMetric").filter(has_text="Label issue")) \
        .to_contain_text(f"{combined.num_issues:,}")
    expect(page.get_by_test_id("stSidebar")).to_contain_text("fitted again on the cleaned labels")
    screenshot(page, shots, "why_combined_detector")
