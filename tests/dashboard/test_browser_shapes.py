"""Every page on every kind of dataset a user brings, in a real browser (issue #14).

One server (``noiselens dashboard --data <folder of PNGs>``) serves the image folder; the other
shapes are files kept in the server's workspace as uploads and opened through the URL
(``?upload=<hash>/<name>``, what a refresh or a shared link does after an upload): the digits
sample reduced to its probabilities, a text file (reloaded at the end: the upload survives a
refresh), 20 classes, 1,000 classes with a ``.npy`` whose columns are not in the sorted order
of the class names (Overview and Noise matrix only; every page runs in AppTest). Each page:
no exception or error box, and one assertion on its content.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import shapes
from test_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    FIRST_PAGE_TIMEOUT,
    VIEWPORT,
    assert_no_error,
    open_page,
    running_dashboard,
    screenshot,
    wait_idle,
)

pytest.importorskip("playwright.sync_api", reason="playwright (the 'test' extra) is not installed")
from playwright.sync_api import expect, sync_playwright  # noqa: E402

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).is_file(),
    reason=f"no Chromium at {CHROMIUM} (apt-get install chromium, or set NOISELENS_CHROMIUM)")

REPO = Path(__file__).resolve().parents[2]
# (url path, link in the sidebar, page heading)
PAGES = [("", "Overview", "Label health"), ("noise_matrix", "Noise matrix", "Noise matrix"),
         ("embedding_map", "Embedding map", "Embedding map"),
         ("suspects", "Suspects", "Suspects"),
         ("review_export", "Review & export", "Review & export"),
         ("annotators", "Annotators", "Annotators"), ("evaluate", "Evaluate", "Evaluate")]


def _keep_as_upload(home: Path, path: Path) -> str:
    """Put ``path`` in the workspace's uploads as the upload widget would; its URL ref."""
    from dashboard import session

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NOISELENS_HOME", str(home))
        return session.upload_ref(session.save_upload(path.read_bytes(), path.name))


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    home = tmp_path_factory.mktemp("shapes_home")
    data = tmp_path_factory.mktemp("shapes_data")
    folder = shapes.digits_image_folder(data, limit=360)
    probs = shapes.digits_probabilities_only(data)
    text = shapes.text_csv(data)
    k20, _, _ = shapes.many_classes(data, 20, 1200, columns=True)
    k1000, npy, _ = shapes.many_classes(data, 1000, 5000)
    cases = {
        "folder": ("", 360, "pixels"),
        "probs": (f"upload={_keep_as_upload(home, probs)}", 1797, "predicted probabilities"),
        "text": (f"upload={_keep_as_upload(home, text)}", 240, "TF-IDF"),
        "k20": (f"upload={_keep_as_upload(home, k20)}", 1200, "predicted probabilities"),
        "k1000": (f"upload={_keep_as_upload(home, k1000)}"
                  f"&upload_pred_probs={_keep_as_upload(home, npy)}", 5000,
                  "predicted probabilities"),
    }
    with running_dashboard(home, "--data", str(folder)) as url:
        yield url, cases


@pytest.fixture(scope="module")
def browser():
    expect.set_options(timeout=30_000)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


def _content(page, path: str, shape: str, rows: int, space: str) -> None:
    """One assertion per page on what it shows for this shape."""
    body = page.locator('[data-testid="stMain"]')
    if path == "":
        expect(page.get_by_test_id("stMetricValue").first).to_have_text(f"{rows:,}")
    elif path == "noise_matrix":
        expect(body).to_contain_text("no confident class")
        assert page.locator('[data-testid="stPlotlyChart"]').count() >= 1
    elif path == "embedding_map":
        expect(body).to_contain_text(space)
    elif path == "suspects":
        expect(body).to_contain_text("Example ")
        expect(body).to_contain_text("nearest neighbours")
    elif path == "review_export":
        expect(body).to_contain_text("decision")
    elif path == "annotators":
        expect(body).to_contain_text("no annotator columns")
    elif path == "evaluate":
        expect(body).to_contain_text("needs known true labels")


@pytest.mark.parametrize("shape", ["folder", "probs", "text", "k20", "k1000"])
def test_every_page_on_every_shape(browser, served, shape):
    url, cases = served
    query, rows, space = cases[shape]
    context = browser.new_context(viewport=VIEWPORT, base_url=url)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    shots = Path(os.environ.get("NOISELENS_SCREENSHOTS") or REPO / "tests/dashboard/screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    try:
        # the first page by URL, the others by the sidebar's links, as a user moves (one
        # session: the upload named in the URL must stay open from page to page)
        open_page(page, f"/?{query}" if query else "/", "Label health",
                  timeout=FIRST_PAGE_TIMEOUT)
        # 1,000 classes: Overview and the matrix here, every page in AppTest (CI time)
        pages = PAGES[:2] if shape == "k1000" else PAGES
        for path, link, title in pages:
            if path:
                page.get_by_test_id("stSidebarNav").get_by_text(link, exact=True).click()
                wait_idle(page)
                expect(page.get_by_role("heading", name=title, exact=True)).to_be_visible()
            assert_no_error(page)
            _content(page, path, shape, rows, space)
            if shape == "k1000" and not path:  # .npy columns c0, c1, c2 … vs sorted names
                expect(page.locator('[data-testid="stMain"]')).to_contain_text(
                    "may not be in the order of the classes")
            if os.environ.get("NOISELENS_SCREENSHOTS") and path in ("", "noise_matrix",
                                                                    "suspects"):
                screenshot(page, shots, f"shape_{shape}_{path or 'overview'}")
        if shape == "text":
            # the URL names the upload: a reload (a new session) reopens the same file
            page.reload()
            wait_idle(page)
            expect(page.get_by_role("heading", name="Evaluate", exact=True)).to_be_visible()
            assert "topics.csv" in page.url
            expect(page.locator('[data-testid="stSidebar"]')).to_contain_text(
                f" · {rows:,} rows · 3 classes")
    finally:
        context.close()
    assert not errors, f"uncaught JavaScript errors: {errors}"
