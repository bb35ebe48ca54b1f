"""The labelling-tool controls of the Review page in a real browser (#29): the tasks download
is a zip of Label Studio tasks, and an uploaded CSV-form export becomes decisions."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from test_browser import (  # noqa: F401 - fixtures
    CHROMIUM,
    PAGE_TIMEOUT,
    assert_no_error,
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


def test_send_tasks_and_import_verdicts(page, shots, digits, home, tmp_path):  # noqa: F811
    from analysis.export.tasks import task_files
    from analysis.review.findings import review_order
    from analysis.review.store import ReviewStore

    open_page(page, "/review_export", "Review & export")
    expect(page.get_by_role("heading", name="Labelling tools")).to_be_visible()
    with page.expect_download(timeout=PAGE_TIMEOUT) as info:
        page.get_by_role("button", name="task(s)").click()
    archive = zipfile.ZipFile(io.BytesIO(Path(info.value.path()).read_bytes()))
    assert sorted(archive.namelist()) == ["config.xml", "tasks.json"]
    tasks = json.loads(archive.read("tasks.json"))
    ids = [t["data"]["noiselens_id"] for t in tasks]
    queue = review_order(digits, None)
    assert ids == [str(digits.dataset.ids[r]) for r in queue[:len(ids)]]

    rows = queue[:2]
    form = pd.read_csv(io.BytesIO(task_files(digits.dataset, rows, digits.suggested,
                                             digits.scores, "csv")["tasks.csv"]), dtype=str)
    form["verdict"] = [digits.class_names[digits.suggested[r]] for r in rows]
    form["annotator"] = "ann"
    export = tmp_path / "verdicts.csv"
    form.to_csv(export, index=False)
    uploader = page.get_by_test_id("stFileUploader").filter(has_text="Verdicts")
    uploader.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(export))
    wait_idle(page)
    page.get_by_role("button", name="Import the verdicts").click()
    wait_idle(page)
    expect(page.get_by_text("2 new verdict(s) of 2 read")).to_be_visible()
    expect(page.get_by_test_id("stMetric").filter(has_text="Relabelled")).to_contain_text("2")
    assert_no_error(page)
    screenshot(page, shots, "review_verdicts")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NOISELENS_HOME", str(home))
        got = ReviewStore(digits.dataset).decisions()
    assert sorted(got["id"]) == sorted(str(digits.dataset.ids[r]) for r in rows)
