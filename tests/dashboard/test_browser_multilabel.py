"""The multi-label pages (#28) in a real browser: ``noiselens dashboard --sample digits_tags``,
Overview, Suspects and Export opened by URL, their numbers the package's, screenshots of
each."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_browser import (  # noqa: F401 - fixtures
    CHROMIUM,
    FIRST_PAGE_TIMEOUT,
    browser,
    home,
    open_page,
    page,
    running_dashboard,
    screenshot,
    shots,
    wait_idle,
)

pytest.importorskip("playwright.sync_api", reason="playwright (the 'test' extra) is not installed")
from playwright.sync_api import expect  # noqa: E402

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).is_file(), reason=f"no Chromium at {CHROMIUM}")


#: Height of a row of Streamlit's data grid (and of its header), in CSS pixels.
ROW_HEIGHT = 35


@pytest.fixture(scope="module")
def dashboard_url(home):  # noqa: F811 - the multi-label launch for this module's pages
    with running_dashboard(home, "--sample", "digits_tags") as url:
        yield url


@pytest.fixture(scope="module")
def tags_result():
    from analysis.multilabel_pipeline import analyze_multilabel
    from dashboard.ml_compute import MultilabelSource
    from dashboard.session import launch_options

    kwargs = MultilabelSource.from_options(launch_options(["--sample", "digits_tags"]),
                                           "prune_by_noise_rate").inputs()
    return analyze_multilabel(kwargs.pop("data"), **kwargs)


def test_multilabel_pages(page, shots, home, tags_result):  # noqa: F811 - fixtures
    open_page(page, "/", "Tag health", timeout=FIRST_PAGE_TIMEOUT)
    h = tags_result.health
    expect(page.get_by_test_id("stMetric").filter(has_text="Flagged rows")) \
        .to_contain_text(f"{h['flagged_rows']:,}")
    expect(page.get_by_test_id("stSidebarNav")).to_contain_text("Suspects")
    expect(page.get_by_test_id("stSidebarNav")).not_to_contain_text("Noise matrix")
    expect(page.locator('[data-testid="stPlotlyChart"] .js-plotly-plot')).to_have_count(1)
    screenshot(page, shots, "ml_overview")

    table = tags_result.issue_table()
    row = table.iloc[3]
    open_page(page, f"/suspects?id={row['id']}", "Suspects")
    expect(page.get_by_role("heading", name=f"Row {row['id']}")).to_be_visible()
    from analysis.core.multilabel import tag_issue_sentences, tag_issue_table

    cells = tag_issue_table(tags_result.labels, tags_result.pred_probs,
                            tags_result.estimate.issues)
    for sentence in tag_issue_sentences(cells, tags_result.class_names, int(row["row"])):
        expect(page.get_by_text(sentence, exact=True)).to_be_visible()
    expect(page.get_by_test_id("stImage")).to_have_count(1)
    screenshot(page, shots, "ml_suspects")

    # a click on a row's checkbox in the table opens that row
    grid = page.get_by_test_id("stDataFrame").first
    box = grid.bounding_box()
    page.mouse.click(box["x"] + 15, box["y"] + ROW_HEIGHT * 1.5 + ROW_HEIGHT)  # the 2nd row
    wait_idle(page)
    second = table.iloc[1]["id"]
    expect(page.get_by_role("heading", name=f"Row {second}")).to_be_visible()
    assert f"id={second}" in page.url
    # the grid's selection can rerun the script once more after the heading shows (seen 2 in
    # 7 runs: the Next click landed during that rerun and was lost): let it settle first
    page.wait_for_timeout(1500)
    wait_idle(page)
    expect(page.get_by_role("button", name="Next")).to_be_enabled()
    page.get_by_role("button", name="Next").click()
    wait_idle(page)
    expect(page.get_by_role("heading", name=f"Row {table.iloc[2]['id']}")).to_be_visible()
    screenshot(page, shots, "ml_suspects_clicked")

    # the review: accept the suggestion; the table says so, the export offers the review
    page.get_by_role("button", name="Accept the suggestion").click()
    wait_idle(page)
    third = table.iloc[2]
    expect(page.get_by_text("Decision: tags: " + ", ".join(third["suggested_tags"]))) \
        .to_be_visible()
    screenshot(page, shots, "ml_suspects_reviewed")

    open_page(page, "/export", "Export")
    expect(page.get_by_text("the review (1 decisions)")).to_be_visible()
    page.get_by_text("the suggested tags of every flagged row").click()
    wait_idle(page)
    page.get_by_role("button", name="Export").first.click()
    wait_idle(page)
    expect(page.get_by_test_id("stAlertContentSuccess")).to_contain_text("digits_tags_cleaned")
    assert (home / "exports" / "digits_tags_multilabel" / "tag_changes.csv").is_file()
    expect(page.get_by_test_id("stDownloadButton")).to_have_count(6)
    screenshot(page, shots, "ml_export")
