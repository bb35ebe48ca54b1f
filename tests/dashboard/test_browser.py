"""The dashboard in a real browser: started the way a user starts it (``noiselens dashboard``),
every page opened by URL, the noise matrix clicked, the embedding map lassoed, the suspects
walked with the button and the keyboard.

Needs Playwright for Python and a Chromium at ``/usr/bin/chromium`` (``NOISELENS_CHROMIUM``
overrides the path); skipped with the reason otherwise. No browser is ever downloaded.
Full-page screenshots go to ``tests/dashboard/screenshots/`` (git-ignored) or to
``$NOISELENS_SCREENSHOTS``.
"""

from __future__ import annotations

import contextlib
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

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("NOISELENS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
VIEWPORT = {"width": 1400, "height": 1000}
SERVER_START_TIMEOUT = 90  # s until /_stcore/health answers "ok"
FIRST_PAGE_TIMEOUT = 120_000  # ms: the first page computes the out-of-fold probabilities
PAGE_TIMEOUT = 60_000  # ms: later pages read the analysis cached in the server process
SETTLE = 400  # ms for plotly to finish drawing once the script run is over

pytest.importorskip("playwright.sync_api", reason="playwright (the 'test' extra) is not installed")
from playwright.sync_api import Locator, Page, expect, sync_playwright  # noqa: E402

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).is_file(),
    reason=f"no Chromium at {CHROMIUM} (apt-get install chromium, or set NOISELENS_CHROMIUM)",
)

APP = '[data-testid="stApp"]'
APP_IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
PLOT = '[data-testid="stPlotlyChart"] .js-plotly-plot'

# App bugs only a browser shows, found by this test and fixed: when one of these symptoms comes
# back (checked, not assumed), the test fails with the diagnosis.
OVERVIEW_URL_BUG = (
    "regression: /overview shows Streamlit's 'Page not found' dialog over the Overview. "
    "The Overview page is the default page (default=True), which Streamlit serves only at '/' "
    "and ignores its url_path='overview'"
)
CLICKMODE_BUG = (
    "regression: clicking a noise-matrix cell selects nothing. plotly clickmode is {mode!r}: "
    "figures.noise_matrix_figure sets dragmode='select', and Streamlit 1.67 then forces "
    "clickmode='event' (it keeps 'event+select' only when dragmode is not select/lasso)"
)
CUSTOMDATA_BUG = (
    "regression: plotly selected {n} point(s) but the page shows no selection. The figure's "
    "customdata is a numeric numpy array, which plotly sends as a typed array; Streamlit's "
    "selection event then gives each point's customdata as a dict {{'0': .., '1': ..}}, which "
    "dashboard.selection._custom wraps in a list, so int(custom[0]) fails and every point is "
    "skipped"
)
STALE_NAV_BUG = (
    "regression: on Suspects the Previous/Next buttons are drawn before the click moves the "
    "position, so after Next from example 1 the page shows example 2 with Previous still "
    "disabled (the ← key does nothing) until another rerun; at the last example Next stays "
    "enabled one step (a no-op click)"
)
OUTLINE_BUG = (
    "regression: after a click the examples of the cell are listed but the cell is not "
    "outlined: the figure is drawn before the click is read and there is no rerun, so the "
    "outline shows one rerun late (and on the previously chosen cell after a second click)"
)


# -- fixtures ------------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(proc: subprocess.Popen) -> None:
    """End the dashboard's process group (the CLI and the Streamlit server it started)."""
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


def wait_for_health(proc: subprocess.Popen, url: str, log_path: Path) -> None:
    """Wait until the server at ``url`` answers ``/_stcore/health``; fail with its log's tail
    when it exits or does not answer in time."""

    def tail() -> str:
        return log_path.read_text(errors="replace")[-3000:]

    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while True:
        if proc.poll() is not None:
            pytest.fail(f"the dashboard exited with code {proc.returncode}:\n{tail()}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.read().decode().strip() == "ok":
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"no answer from /_stcore/health in {SERVER_START_TIMEOUT} s:\n{tail()}")
        time.sleep(0.3)


@contextlib.contextmanager
def running_dashboard(home: Path, *args: str):
    """``noiselens dashboard [args]`` on a free port with workspace ``home``; yields its base
    URL."""
    log_path = home / f"dashboard-{time.monotonic_ns()}.log"
    port = _free_port()
    # the checkout this test lives in comes first, installed or not
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)
    env = {**os.environ, "NOISELENS_HOME": str(home), "NOISELENS_PROJECTION": "pca",
           "PYTHONPATH": path, "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "dashboard.cli", "dashboard", *args, f"--server.port={port}",
           "--server.headless=true"]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, cwd=home, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)

    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_health(proc, url, log_path)
        yield url
    finally:
        _stop(proc)
    assert "Traceback" not in log_path.read_text(errors="replace"), (
        f"the dashboard logged an exception:\n{log_path.read_text(errors='replace')[-3000:]}")


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("noiselens_home")


@pytest.fixture(scope="module")
def digits(home):
    """The analysis the dashboard shows by default, from the package (the server's cache)."""
    import analysis as nl

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NOISELENS_HOME", str(home))
        return nl.analyze(nl.from_sample("digits"), detector="confident_learning")


@pytest.fixture(scope="module")
def dashboard_url(home):
    with running_dashboard(home) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    expect.set_options(timeout=30_000)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, dashboard_url):
    """A fresh browser context, hence a fresh Streamlit session; fails on uncaught JS errors."""
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
    for stale in folder.glob("*_failed.png"):  # written only when an interaction fails
        stale.unlink()
    return folder


# -- helpers -------------------------------------------------------------------------------------
def wait_idle(page: Page, timeout: float = PAGE_TIMEOUT) -> None:
    """Wait until the script run is over and nothing shows as still running."""
    page.wait_for_selector(APP_IDLE, timeout=timeout)
    expect(page.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=timeout)
    expect(page.get_by_test_id("stSpinner")).to_have_count(0, timeout=timeout)
    page.wait_for_timeout(SETTLE)


def open_page(page: Page, path: str, title: str, timeout: float = PAGE_TIMEOUT) -> None:
    """Open ``path``, wait for its script run, check its title and that nothing failed."""
    page.goto(path)
    page.wait_for_selector(APP, timeout=timeout)
    wait_idle(page, timeout)
    expect(page.get_by_role("heading", name=title, exact=True)).to_be_visible()
    assert_no_error(page)


def not_found(page: Page) -> Locator:
    """Streamlit's "Page not found" dialog (shown over the main page for an unknown URL)."""
    return page.get_by_role("dialog").filter(has_text="Page not found")


def assert_no_error(page: Page) -> None:
    for testid in ("stException", "stAlertContentError"):
        found = page.get_by_test_id(testid)
        assert found.count() == 0, f"{page.url}: {testid}: {found.first.inner_text()[:2000]}"
    assert not_found(page).count() == 0, f"{page.url}: Streamlit says 'Page not found'"


def query(page: Page) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlparse(page.url).query).items()}


def wait_for_query(page: Page, name: str, predicate=None, timeout: float = PAGE_TIMEOUT) -> str:
    """Wait until the URL has the query parameter ``name`` (satisfying ``predicate``)."""
    deadline = time.monotonic() + timeout / 1000
    while time.monotonic() < deadline:
        value = query(page).get(name)
        if value is not None and (predicate is None or predicate(value)):
            return value
        page.wait_for_timeout(100)
    raise AssertionError(f"the URL {page.url} never got the wanted query parameter {name!r}")


def screenshot(page: Page, folder: Path, name: str) -> None:
    """The whole page. Streamlit scrolls inside its main area, so a plain full-page shot would
    stop at the viewport: grow the viewport to the content for the shot, then restore it."""
    height = page.evaluate(
        """() => Math.max(...['stMain', 'stSidebarContent'].map(
            id => document.querySelector(`[data-testid="${id}"]`)?.scrollHeight || 0))""")
    size = page.viewport_size
    grow = height > size["height"]
    if grow:
        page.set_viewport_size({"width": size["width"], "height": min(int(height) + 40, 8000)})
        page.wait_for_timeout(2 * SETTLE)  # plotly redraws on resize
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)
    if grow:
        page.set_viewport_size(size)
        page.wait_for_timeout(SETTLE)


def plot_area(chart: Locator) -> dict:
    """Bounding box (page pixels) of the plotting area of a plotly chart."""
    box = chart.locator(".nsewdrag").first.bounding_box()
    assert box is not None, "the plotly chart has no plotting area"
    return box


def plotly_selected(page: Page, chart_index: int = 0) -> int:
    """How many points plotly itself marks as selected in a chart (all traces)."""
    return page.evaluate(
        """([selector, i]) => document.querySelectorAll(selector)[i].data.reduce(
            (n, t) => n + (t.selectedpoints ? t.selectedpoints.length : 0), 0)""",
        [PLOT, chart_index])


def plotly_selected_rows(page: Page, chart_index: int = 0) -> list[int]:
    """Dataset rows (``customdata[0]``) of the points plotly itself marks as selected in a
    chart, every trace, each row once (the outline trace repeats the flagged rows)."""
    return page.evaluate(
        """([selector, i]) => {
            const rows = new Set();
            for (const t of document.querySelectorAll(selector)[i]._fullData) {
                for (const p of (t.selectedpoints || [])) rows.add(Number(t.customdata[p][0]));
            }
            return Array.from(rows);
        }""", [PLOT, chart_index])


def grid_columns(table: Locator, *names: str) -> list[tuple[str, ...]]:
    """The cells of columns ``names`` in the rows of a ``st.dataframe`` that the grid has drawn
    (its accessible table holds the rows in view), top first."""
    grid = table.locator('table[role="grid"]')
    expect(grid.locator("tbody tr").first).to_be_attached()
    headers = [h.inner_text().strip() for h in grid.locator("thead th").all()]
    columns = [grid.locator("thead th").nth(headers.index(n)).get_attribute("aria-colindex")
               for n in names]
    return [tuple(row.locator(f'td[aria-colindex="{c}"]').inner_text().strip() for c in columns)
            for row in grid.locator("tbody tr").all()]


def center(box: dict) -> tuple[float, float]:
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def lasso(page: Page, chart: Locator, share: float) -> None:
    """Draw a lasso around the middle of the chart's plotting area, ``share`` of its width
    and height on each side of the centre, as a user drags the mouse."""
    box = plot_area(chart)
    cx, cy = center(box)
    w, h = box["width"] * share, box["height"] * share
    page.mouse.move(cx - w, cy - h)
    page.mouse.down()
    for x, y in ((cx + w, cy - h), (cx + w, cy + h), (cx - w, cy + h), (cx - w, cy - h + 2)):
        page.mouse.move(x, y, steps=8)
    page.mouse.up()


# -- the pages -----------------------------------------------------------------------------------
def test_overview(page, shots):
    """The default page lives at the root URL (the sidebar links it there)."""
    open_page(page, "/", "Label health", timeout=FIRST_PAGE_TIMEOUT)
    expect(page.get_by_test_id("stSidebarNav").get_by_role("link", name="Overview")
           ).to_have_attribute("href", re.compile(r"/$"))
    rows = page.get_by_test_id("stMetric").filter(
        has=page.get_by_test_id("stMetricLabel").get_by_text("Rows", exact=True))
    expect(rows.get_by_test_id("stMetricValue")).to_have_text("1,797")
    expect(page.locator(PLOT)).to_have_count(2)
    expect(page.get_by_role("heading", name="Most confused class pairs")).to_be_visible()
    screenshot(page, shots, "overview")


def test_overview_by_its_url_path(page, shots):
    """``/overview`` (the page's declared url_path) opens the Overview too."""
    page.goto("/overview")
    wait_idle(page)
    expect(page.get_by_role("heading", name="Label health", exact=True)).to_be_visible()
    if not_found(page).count():
        screenshot(page, shots, "overview_url_failed")
        pytest.fail(OVERVIEW_URL_BUG)
    assert_no_error(page)


def _biggest_off_diagonal_cell(page: Page) -> tuple[int, int, int, int]:
    """(given, true, count, point index) of the off-diagonal cell with the largest count
    printed on the drawn matrix."""
    data = page.evaluate(
        """selector => {
            const t = document.querySelector(selector)._fullData[0];  // typed arrays decoded
            return {custom: Array.from(t.customdata, r => Array.from(r)),
                    text: Array.from(t.text)};
        }""", PLOT)
    best = None
    for index, (custom, text) in enumerate(zip(data["custom"], data["text"], strict=True)):
        given, true, count = (int(v) for v in custom[:3])
        # true == 10: the "no confident class" column, not a class
        if given != true and true < 10 and text and (best is None or count > best[2]):
            best = (given, true, count, index)
    assert best is not None, "the noise matrix shows no off-diagonal count"
    return best


def test_noise_matrix_click_a_cell(page, shots):
    open_page(page, "/noise_matrix", "Noise matrix")
    chart = page.get_by_test_id("stPlotlyChart").first
    cells = chart.locator(".scatterlayer .trace").first.locator("path.point")
    expect(cells).to_have_count(110)  # 10 x 10 classes and the "no confident class" column
    expect(page.get_by_text("Click a cell of the matrix")).to_be_visible()
    assert "cell" not in query(page)
    screenshot(page, shots, "noise_matrix")

    given, true, count, index = _biggest_off_diagonal_cell(page)
    assert count > 0
    clickmode = page.evaluate("s => document.querySelector(s)._fullLayout.clickmode", PLOT)
    page.mouse.click(*center(cells.nth(index).bounding_box()))

    try:
        cell = wait_for_query(page, "cell", timeout=20_000 if "select" in clickmode else 4_000)
    except AssertionError:
        screenshot(page, shots, "noise_matrix_click_failed")
        if "select" not in clickmode:
            pytest.fail(CLICKMODE_BUG.format(mode=clickmode))
        if selected := plotly_selected(page):
            pytest.fail(CUSTOMDATA_BUG.format(n=selected))
        raise
    assert cell == f"{given}-{true}", f"clicked the cell {given}-{true}, the URL says {cell}"
    heading = page.get_by_role("heading", name=re.compile(r"^Given '"))
    expect(heading).to_have_text(re.compile(rf"^Given '{given}', estimated true '{true}'"))
    wait_idle(page)
    table = page.get_by_test_id("stDataFrame").first
    expect(table).to_be_visible()
    assert table.bounding_box()["y"] > heading.bounding_box()["y"], "table above its heading"
    assert_no_error(page)
    screenshot(page, shots, "noise_matrix_cell")
    outline = chart.locator(".scatterlayer .trace")  # the chosen cell gets a second trace
    try:
        expect(outline).to_have_count(2, timeout=5_000)
    except AssertionError:
        pytest.fail(OUTLINE_BUG)


def test_noise_matrix_deep_link(page, shots):
    """A URL with ``cell=`` reopens the finding (7 given for a true 1 is in the digits sample)."""
    open_page(page, "/noise_matrix?cell=7-1", "Noise matrix")
    expect(page.get_by_role("heading", name="Given '7', estimated true '1'")).to_be_visible()
    expect(page.get_by_test_id("stDataFrame").first).to_be_visible()
    chart = page.get_by_test_id("stPlotlyChart").first
    expect(chart.locator(".scatterlayer .trace")).to_have_count(2)  # the cell is outlined
    assert query(page).get("cell") == "7-1"
    screenshot(page, shots, "noise_matrix_deep_link")


def test_embedding_map_lasso(page, shots, digits):
    open_page(page, "/embedding_map", "Embedding map")
    chart = page.get_by_test_id("stPlotlyChart").first
    expect(chart.locator(".gl-container canvas").first).to_be_attached()
    expect(page.get_by_text("WebGL is not supported")).to_have_count(0)
    dragmode = page.evaluate("s => document.querySelector(s)._fullLayout.dragmode", PLOT)
    if dragmode != "lasso":  # not the figure's default: pick the tool like a user would
        chart.hover()
        chart.get_by_role("button", name="Lasso Select").click()
    screenshot(page, shots, "embedding_map")

    lasso(page, chart, 0.18)  # around the middle of the plotting area

    heading = page.get_by_role("heading", name=re.compile(r"^[\d,]+ selected examples"))
    try:
        expect(heading).to_be_visible(timeout=20_000)
    except AssertionError:
        screenshot(page, shots, "embedding_map_lasso_failed")
        if selected := plotly_selected(page):
            pytest.fail(CUSTOMDATA_BUG.format(n=selected))
        raise
    wait_idle(page)
    n = int(re.match(r"[\d,]+", heading.inner_text()).group().replace(",", ""))
    assert 0 < n < 1797
    table = page.get_by_test_id("stDataFrame").first
    expect(table).to_be_visible()
    assert_no_error(page)
    screenshot(page, shots, "embedding_map_lasso")

    # what the page states about the lassoed points, against the package: plotly's own
    # selection, counted with the analysis' flags; the bulk action offers that many
    rows = np.array(plotly_selected_rows(page), dtype=np.int64)
    flagged = int(digits.is_issue[rows].sum())
    assert 0 < flagged < len(rows), "the lasso should catch flagged and unflagged rows"
    expect(heading).to_have_text(f"{len(rows):,} selected examples · {flagged:,} flagged")
    expect(page.get_by_role("button", name=f"Accept these {flagged:,} suggestions…")
           ).to_be_visible()
    # the table lists them most suspect first: the rows in view are the lowest scores
    position = {str(v): r for r, v in enumerate(digits.dataset.ids)}
    shown = [position[i] for (i,) in grid_columns(table, "id")]
    assert len(shown) >= 5 and set(shown) <= set(rows.tolist())
    lowest = np.sort(digits.scores[rows], kind="stable")[:len(shown)]
    np.testing.assert_array_equal(digits.scores[shown], lowest,
                                  err_msg="the selection is not listed lowest score first")


def test_suspects_walk(page, shots):
    open_page(page, "/suspects", "Suspects")
    expect(page.get_by_test_id("stDataFrame").first).to_be_visible()
    expect(page.get_by_role("heading", name=re.compile(r"^Example id "))).to_be_visible()
    expect(page.get_by_text(re.compile(r"^Example 1 of [\d,]+"))).to_be_visible()
    first = wait_for_query(page, "id")
    expect(page.get_by_role("heading", name=re.compile(rf"^Example id {first}\b"))
           ).to_be_visible()
    screenshot(page, shots, "suspects")

    page.get_by_role("button", name="Next").click()
    second = wait_for_query(page, "id", lambda v: v != first)
    wait_idle(page)
    expect(page.get_by_text(re.compile(r"^Example 2 of "))).to_be_visible()
    expect(page.get_by_role("heading", name=re.compile(rf"^Example id {second}\b"))
           ).to_be_visible()
    assert_no_error(page)
    screenshot(page, shots, "suspects_next")

    page.keyboard.press("ArrowRight")  # the keyboard shortcuts walk the list too
    third = wait_for_query(page, "id", lambda v: v not in (first, second))
    wait_idle(page)
    expect(page.get_by_text(re.compile(r"^Example 3 of "))).to_be_visible()
    page.keyboard.press("ArrowLeft")
    wait_for_query(page, "id", lambda v: v == second)
    wait_idle(page)
    expect(page.get_by_text(re.compile(r"^Example 2 of "))).to_be_visible()
    expect(page.get_by_role("heading", name=re.compile(rf"^Example id {second}\b"))
           ).to_be_visible()
    assert third != second
    assert_no_error(page)


def test_suspects_buttons_follow_the_position(page):
    """After Next from the first example, Previous (and its ← key) must work at once."""
    open_page(page, "/suspects", "Suspects")
    first = wait_for_query(page, "id")
    previous = page.get_by_role("button", name="Previous")
    expect(previous).to_be_disabled()
    page.get_by_role("button", name="Next").click()
    wait_for_query(page, "id", lambda v: v != first)
    wait_idle(page)
    expect(page.get_by_text(re.compile(r"^Example 2 of "))).to_be_visible()
    if previous.is_disabled():
        pytest.fail(STALE_NAV_BUG)
    page.keyboard.press("ArrowLeft")
    wait_for_query(page, "id", lambda v: v == first)
    wait_idle(page)
    expect(page.get_by_text(re.compile(r"^Example 1 of "))).to_be_visible()
    expect(previous).to_be_disabled()


@pytest.mark.parametrize("path, title", [
    ("/review_export", "Review & export"),
    ("/annotators?sample=digits_annotators", "Annotators"),
    ("/evaluate", "Evaluate"),
    ("/evaluate?sample=wine", "Evaluate"),
    ("/evaluate?sample=breast_cancer", "Evaluate"),
    ("/evaluate?sample=digits_annotators", "Evaluate"),
])
def test_other_pages(page, shots, path, title):
    open_page(page, path, title)
    screenshot(page, shots, path.strip("/").replace("?sample=", "_"))


def _decide_first_suspect(page: Page) -> str:
    open_page(page, "/suspects", "Suspects")
    row_id = wait_for_query(page, "id")
    page.get_by_role("button", name=re.compile(r"^Relabel to \S+")).first.click()
    # deciding moves on to the next suspect
    wait_for_query(page, "id", lambda v: v != row_id)
    wait_idle(page)
    return row_id


def test_decision_survives_refresh_and_restart(browser, home, page, shots):
    row_id = _decide_first_suspect(page)
    page.reload()
    wait_idle(page)
    open_page(page, f"/suspects?id={row_id}", "Suspects")
    expect(page.get_by_text(re.compile(r"Decision: relabel →"))).to_be_visible()
    # a second server on the same workspace (a restart) shows the same decision
    with running_dashboard(home) as url:
        context = browser.new_context(viewport=VIEWPORT, base_url=url)
        other = context.new_page()
        try:
            open_page(other, f"/suspects?id={row_id}", "Suspects")
            expect(other.get_by_text(re.compile(r"Decision: relabel →"))).to_be_visible()
            open_page(other, "/review_export", "Review & export")
            expect(other.get_by_test_id("stMetricValue").first).to_have_text("1")
            screenshot(other, shots, "review_after_restart")
        finally:
            context.close()


def test_report_opens_offline(browser, tmp_path, shots, monkeypatch):
    import analysis as nl
    from dashboard.report import build_report

    monkeypatch.setenv("NOISELENS_HOME", str(tmp_path / "ws"))
    result = nl.analyze(nl.from_sample("wine"), model="logistic", detector="confident_learning")
    report = tmp_path / "report.html"
    report.write_text(build_report(result.dataset, result), encoding="utf-8")
    context = browser.new_context(viewport=VIEWPORT, offline=True)
    pg = context.new_page()
    requests: list[str] = []
    pg.on("request", lambda r: requests.append(r.url))
    try:
        pg.goto(report.as_uri())
        expect(pg.locator("svg.chart")).to_have_count(1)  # the per-class bars (#17)
        expect(pg.locator("table.heat")).to_have_count(1)
        pg.wait_for_timeout(SETTLE)
        pg.screenshot(path=str(shots / "report.png"), full_page=True)
    finally:
        context.close()
    assert [u for u in requests if not u.startswith(("file:", "data:"))] == []


def test_upload_a_csv_with_annotators_and_export(page, shots, home, team_csv):
    import pandas as pd

    path, frame = team_csv
    n = len(frame)

    open_page(page, "/", "Label health")
    page.get_by_text("Upload a file", exact=True).click()
    wait_idle(page)
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').first.set_input_files(str(path))
    expect(page.get_by_test_id("stMetricValue").first).to_have_text(str(n), timeout=PAGE_TIMEOUT)
    wait_idle(page)
    assert_no_error(page)
    page.get_by_role("link", name="Annotators").click()
    wait_idle(page)
    expect(page.get_by_role("heading", name="Annotators", exact=True)).to_be_visible()
    expect(page.get_by_test_id("stMetricValue").first).to_have_text("3")
    assert_no_error(page)
    screenshot(page, shots, "annotators_upload")
    page.get_by_role("link", name="Review & export").click()
    wait_idle(page)
    page.get_by_text("the detector's suggestions, without review").click()
    wait_idle(page)
    # the folder is the workspace's exports/<stem>: chosen at launch, never typed into the page
    folder = home / "exports" / "team_upload"
    assert page.get_by_label("Write the files to this folder").count() == 0
    page.get_by_role("button", name="Export").click()
    wait_idle(page)
    expect(page.get_by_text("Exported:")).to_be_visible()
    assert_no_error(page)
    cleaned = pd.read_csv(folder / "team_upload_cleaned.csv")
    assert len(cleaned) == n and list(cleaned.columns) == list(frame.columns)
    assert (folder / "manifest.json").exists() and (folder / "report.html").exists()
