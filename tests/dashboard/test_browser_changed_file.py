"""Decisions outlive a changed file, in the browser: decide on three suspects, edit the file
(one decided row relabelled in the file, one deleted), reopen — the Review & export page says
how many decisions carried over, which rows are gone and which changed, and lists them."""

from __future__ import annotations

import re

import pytest
from test_browser import (
    CHROMIUM,
    VIEWPORT,
    assert_no_error,
    browser,  # noqa: F401  (fixture)
    expect,
    grid_columns,
    open_page,
    running_dashboard,
    screenshot,
    shots,  # noqa: F401  (fixture)
    wait_for_query,
    wait_idle,
)

pytestmark = pytest.mark.skipif(not __import__("pathlib").Path(CHROMIUM).is_file(),
                                reason=f"no Chromium at {CHROMIUM}")


def test_decisions_carry_over_to_an_edited_file(browser, tmp_path, shots):  # noqa: F811
    import analysis as nl

    frame = nl.from_sample("wine").frame
    path = tmp_path / "wine_audit.csv"
    frame.to_csv(path, index=False)
    home = tmp_path / "ws"
    home.mkdir()
    with running_dashboard(home, "--data", str(path), "--label-col", "label") as url:
        context = browser.new_context(viewport=VIEWPORT, base_url=url)
        page = context.new_page()
        try:
            open_page(page, "/suspects", "Suspects", timeout=120_000)
            decided = []
            for button in ("Keep label", "Remove", "Keep label"):
                row_id = wait_for_query(page, "id")
                decided.append(row_id)
                page.get_by_role("button", name=button).first.click()
                wait_for_query(page, "id", lambda v, r=row_id: v != r)
                wait_idle(page)
            assert len(set(decided)) == 3

            # the file changes: the first decided row gets another label, the second is deleted
            ids = frame["id"].astype(str)
            edited = frame.copy()
            first = ids == decided[0]
            other = sorted(set(frame["label"].astype(str)) - {str(frame.loc[first,
                                                                          "label"].iloc[0])})[0]
            edited["label"] = edited["label"].astype(str)
            edited.loc[first, "label"] = other
            edited = edited.loc[ids != decided[1]]
            edited.to_csv(path, index=False)

            open_page(page, "/review_export", "Review & export", timeout=120_000)
            assert_no_error(page)
            warning = page.get_by_text(re.compile(r"review decision\(s\) apply to this version"))
            expect(warning).to_be_visible()
            text = warning.inner_text()
            assert re.search(r"\b2 of 3 review decision\(s\) apply", text), text
            assert re.search(r"\b1 concerns a row no longer in the file", text), text
            assert re.search(r"\b1 concerns a row changed since the decision", text), text
            table = page.get_by_test_id("stDataFrame").first
            listed = dict(grid_columns(table, "id", "status"))
            assert listed == {decided[1]: "gone", decided[0]: "changed"}
            screenshot(page, shots, "review_changed_file")
        finally:
            context.close()
