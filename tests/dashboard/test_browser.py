"""The dashboard in a real browser: started the way a user starts it, every page opened by URL,
the noise matrix clicked, the embedding map lassoed, the suspects walked.

Needs Playwright for Python and a Chromium at ``/usr/bin/chromium`` (``NOISELENS_CHROMIUM``
overrides the path); skipped with a reason otherwise. Playwright never downloads a browser here.
Full-page screenshots go to ``tests/dashboard/screenshots/`` (git-ignored) or to
``$NOISELENS_SCREENSHOTS``.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("NOISELENS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
]
VIEWPORT = {"width": 1400, "height": 1000}
SERVER_START_TIMEOUT = 90  # s, until /_stcore/health answers "ok"
FIRST_PAGE_TIMEOUT = 120_000  # ms: the first page computes out-of-fold probabilities
PAGE_TIMEOUT = 60_000  # ms: later pages read the cached analysis
SETTLE = 400  # ms: let plotly finish drawing after the script run ended

pytest.importorskip("playwright.sync_api", reason="playwright (the 'test' extra) is not installed")
from playwright.sync_api import Page, expect, sync_playwright  # noqa: E402

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).is_file(),
    reason=f"no Chromium at {CHROMIUM} (apt-get install chromium, or set NOISELENS_CHROMIUM)",
)

APP = '[data-testid="stApp"]'
APP_IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'


# -- fixtures ------------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)
    except ProcessLookupError:
        pass


@pytest.fixture(scope="module")
def dashboard_url(tmp_path_factory):
    """``noiselens dashboard`` on a free port, on the bundled digits sample; its base URL."""
    home = tmp_path_factory.mktemp("noiselens_home")
    log_path = home / "dashboard.log"
    port = _free_port()
    env = {**os.environ, "NOISELENS_HOME": str(home), "NOISELENS_PROJECTION": "pca",
           "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "analysis.cli", "dashboard", f"--server.port={port}",
           "--server.headless=true"]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, cwd=home, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while True:
            if proc.poll() is not None:
                pytest.fail(f"the dashboard exited with code {proc.returncode}:\n"
                            f"{log_path.read_text(errors='replace')[-3000:]}")
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.read().decode().strip() == "ok":
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the dashboard did not answer /_stcore/health within "
                            f"{SERVER_START_TIMEOUT} s:\n"
                            f"{log_path.read_text(errors='replace')[-3000:]}")
            time.sleep(0.3)
        yield url
    finally:
        _stop(proc)
    server_log = log_path.read_text(errors="replace")
    assert "Traceback" not in server_log, f"the dashboard logged an error:\n{server_log[-3000:]}"


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, dashboard_url):
    """A fresh browser session (a fresh Streamlit session); fails on uncaught page errors."""
    context = browser.new_context(viewport=VIEWPORT, base_url=dashboard_url)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    yield pg
    context.close()
    assert not errors, f"uncaught JavaScript errors: {errors}"


@pytest.fixture(scope="module")
def shots() -> Path:
    folder = Path(os.environ.get("NOISELENS_SCREENSHOTS") or REPO / "tests/dashboard/screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


# -- helpers -------------------------------------------------------------------------------------
def wait_idle(page: Page, timeout: float = PAGE_TIMEOUT) -> None:
    """Wait until the script run is over and nothing shows as still running."""
    page.wait_for_selector(APP_IDLE, timeout=timeout)
    expect(page.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=timeout)
    expect(page.get_by_test_id("stSpinner")).to_have_count(0, timeout=timeout)
    page.wait_for_timeout(SETTLE)


def open_page(page: Page, path: str, title: str, timeout: float = PAGE_TIMEOUT) -> None:
    page.goto(path)
    page.wait_for_selector(APP, timeout=timeout)
    wait_idle(page, timeout)
    expect(page.get_by_role("heading", name=title, exact=True).first).to_be_visible()
    assert_no_error(page)


def assert_no_error(page: Page) -> None:
    for testid in ("stException", "stAlertContentError"):
        found = page.get_by_test_id(testid)
        assert found.count() == 0, f"{page.url}: {testid}: {found.first.inner_text()[:2000]}"


def query(page: Page) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlparse(page.url).query).items()}


def wait_for_query(page: Page, name: str, predicate=None, timeout: float = PAGE_TIMEOUT) -> str:
    """Wait until the URL has query parameter ``name`` (satisfying ``predicate``)."""
    deadline = time.monotonic() + timeout / 1000
    while time.monotonic() < deadline:
        value = query(page).get(name)
        if value is not None and (predicate is None or predicate(value)):
            return value
        page.wait_for_timeout(100)
    raise AssertionError(f"URL {page.url} never got the query parameter {name!r} wanted")


def screenshot(page: Page, folder: Path, name: str) -> None:
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def plot_area(chart) -> dict:
    """Bounding box (page pixels) of the plotting area of a plotly chart."""
    box = chart.locator(".nsewdrag").first.bounding_box()
    assert box is not None, "the plotly chart has no plotting area"
    return box


# -- the pages -----------------------------------------------------------------------------------
def test_overview(page, shots):
    open_page(page, "/overview", "Label health", timeout=FIRST_PAGE_TIMEOUT)
    rows = page.get_by_test_id("stMetric").filter(
        has=page.get_by_test_id("stMetricLabel").get_by_text("Rows", exact=True))
    expect(rows.get_by_test_id("stMetricValue")).to_have_text("1,797")
    expect(page.get_by_test_id("stPlotlyChart")).to_have_count(2)
    expect(page.get_by_text("Most confused class pairs")).to_be_visible()
    screenshot(page, shots, "overview")


def _biggest_off_diagonal_cell(page: Page) -> tuple[int, int, int, int]:
    """(given, true, count, point index) of the off-diagonal matrix cell with the most rows,
    read from the drawn figure's data."""
    data = page.evaluate("""() => {
        const gd = document.querySelector('[data-testid="stPlotlyChart"] .js-plotly-plot');
        const t = gd._fullData[0];  // typed arrays decoded, unlike gd.data
        return {custom: Array.from(t.customdata, r => Array.from(r)), text: Array.from(t.text)};
    }""")
    best = None
    for index, (custom, text) in enumerate(zip(data["custom"], data["text"], strict=True)):
        given, true, count = (int(v) for v in custom)
        if given != true and text and (best is None or count > best[2]):
            best = (given, true, count, index)
    assert best is not None, "the noise matrix shows no off-diagonal count"
    return best


def test_noise_matrix_click_a_cell(page, shots):
    open_page(page, "/noise_matrix", "Noise matrix")
    chart = page.get_by_test_id("stPlotlyChart").first
    points = chart.locator(".scatterlayer .trace").first.locator("path.point")
    expect(points.first).to_be_attached()
    assert points.count() == 100, f"expected 10 x 10 cells, got {points.count()}"
    expect(page.get_by_text("Click a cell of the matrix")).to_be_visible()
    screenshot(page, shots, "noise_matrix")

    given, true, count, index = _biggest_off_diagonal_cell(page)
    assert count > 0
    box = points.nth(index).bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)

    cell = wait_for_query(page, "cell")
    assert cell == f"{given}-{true}", f"clicked cell {given}-{true}, URL says {cell}"
    heading = page.get_by_role("heading", name=re.compile(r"^Given '"))
    expect(heading).to_be_visible()
    wait_idle(page)
    expect(heading).to_have_text(re.compile(rf"^Given '{given}', estimated true '{true}'"))
    table = page.get_by_test_id("stDataFrame").first
    expect(table).to_be_visible()
    h_box, t_box = heading.bounding_box(), table.bounding_box()
    assert t_box["y"] > h_box["y"], "the example table should come below its heading"
    # the clicked cell is outlined: a second trace (the selection box) appears
    expect(chart.locator(".scatterlayer .trace")).to_have_count(2)
    assert_no_error(page)
    screenshot(page, shots, "noise_matrix_cell")


def test_noise_matrix_deep_link(page, shots):
    open_page(page, "/noise_matrix?cell=7-1", "Noise matrix")
    expect(page.get_by_role("heading", name="Given '7', estimated true '1'")).to_be_visible()
    expect(page.get_by_test_id("stDataFrame").first).to_be_visible()
    assert query(page).get("cell") == "7-1"
    screenshot(page, shots, "noise_matrix_deep_link")


def test_embedding_map_lasso(page, shots):
    open_page(page, "/embedding_map", "Embedding map")
    chart = page.get_by_test_id("stPlotlyChart").first
    expect(chart.locator(".gl-container canvas").first).to_be_attached()
    screenshot(page, shots, "embedding_map")

    box = plot_area(chart)
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    w, h = box["width"] * 0.18, box["height"] * 0.18
    polygon = [(cx - w, cy - h), (cx + w, cy - h), (cx + w, cy + h), (cx - w, cy + h),
               (cx - w, cy - h + 2)]
    page.mouse.move(cx - w, cy - h)
    page.mouse.down()
    for x, y in polygon[1:]:
        page.mouse.move(x, y, steps=8)
    page.mouse.up()

    heading = page.get_by_role("heading", name=re.compile(r"^[\d,]+ selected examples"))
    expect(heading).to_be_visible(timeout=PAGE_TIMEOUT)
    wait_idle(page)
    n = int(re.match(r"([\d,]+)", heading.inner_text()).group(1).replace(",", ""))
    assert n > 0
    expect(page.get_by_test_id("stDataFrame").first).to_be_visible()
    assert_no_error(page)
    screenshot(page, shots, "embedding_map_lasso")


def test_suspects_walk(page, shots):
    open_page(page, "/suspects", "Suspects")
    expect(page.get_by_test_id("stDataFrame").first).to_be_visible()
    expect(page.get_by_role("heading", name=re.compile(r"^Example id"))).to_be_visible()
    first = wait_for_query(page, "id")
    screenshot(page, shots, "suspects")

    page.get_by_role("button", name=re.compile("Next")).click()
    second = wait_for_query(page, "id", lambda v: v != first)
    wait_idle(page)
    expect(page.get_by_text(re.compile(r"^Example 2 of "))).to_be_visible()
    expect(page.get_by_role("heading", name=re.compile(rf"^Example id {second}\b"))
           ).to_be_visible()
    assert_no_error(page)

    page.keyboard.press("ArrowLeft")  # the keyboard shortcut walks back
    wait_for_query(page, "id", lambda v: v == first)
    wait_idle(page)
    expect(page.get_by_text(re.compile(r"^Example 1 of "))).to_be_visible()
    page.get_by_role("button", name=re.compile("Next")).click()
    wait_for_query(page, "id", lambda v: v == second)
    wait_idle(page)
    assert_no_error(page)
    screenshot(page, shots, "suspects_next")
