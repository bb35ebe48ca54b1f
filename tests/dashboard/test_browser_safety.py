"""Server safety in a real browser, on a hostile dataset, started as a user starts it.

``noiselens dashboard --data hostile.csv`` on a file whose class names, ids, text cells, a
column name and the file name hold Markdown images, CSS ``url()``, ``<img>``, ``<script>``,
spreadsheet formulas, Streamlit directives, a right-to-left override and a very long name:

1. the listening sockets are loopback only;
2. every request of every page, and of the exported ``report.html``, goes to the app's own
   origin (no image, style or font from elsewhere);
3. the hostile names are shown as literal text;
4. SIGTERM to the launcher leaves no process and frees the port.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_browser import (
    APP,
    CHROMIUM,
    CHROMIUM_ARGS,
    REPO,
    VIEWPORT,
    _free_port,
    assert_no_error,
    screenshot,
    wait_for_health,
    wait_idle,
)

pytest.importorskip("playwright.sync_api", reason="playwright (the 'test' extra) is not installed")
from playwright.sync_api import sync_playwright  # noqa: E402

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).is_file(), reason=f"no Chromium at {CHROMIUM}")

TRAP = "http://127.0.0.1:9"  # nothing listens there; a request to it is the failure we look for
CLASSES = [
    f"![b]({TRAP}/x.png)",
    f'<span style="fill:url({TRAP}/f)">s</span>',
    "<img src=x onerror=alert(1)>",
    '=HYPERLINK("http://127.0.0.1:9","x")',
    "\u202eevil override",
]
TEXTS = [f"<script>alert(1)</script> see {TRAP}/t.png ![t]({TRAP}/t.png)",
         ":red[red] **bold** :material/label: \u202eevil override", "x" * 400]
PAGES = [("/", "Label health"), ("/noise_matrix?cell=0-1", "Noise matrix"),
         ("/embedding_map", "Embedding map"), ("/suspects", "Suspects"),
         ("/review_export", "Review & export"), ("/annotators", "Annotators"),
         ("/evaluate", "Evaluate")]


def hostile_csv(folder: Path) -> Path:
    rng = np.random.default_rng(3)
    n = 240
    truth = rng.integers(0, len(CLASSES), n)
    X = rng.normal(size=(n, 3)) + truth[:, None] * 1.5
    given = truth.copy()
    flip = rng.random(n) < 0.12
    given[flip] = (truth[flip] + 1) % len(CLASSES)
    frame = pd.DataFrame({
        "id": [f"<b>{i}</b>" if i % 3 else f"=1+{i}" for i in range(n)],
        "label": [CLASSES[g] for g in given],
        "![col](http://127.0.0.1:9/c.png)": X[:, 0],
        "f1": X[:, 1], "f2": X[:, 2],
        "note": [TEXTS[i % len(TEXTS)] for i in range(n)],
    })
    path = folder / "hostile_<b>![f](x).csv"
    frame.to_csv(path, index=False)
    return path


def listening_addresses(port: int) -> list[str]:
    """Local addresses of the LISTEN sockets on ``port`` (from /proc/net/tcp and tcp6)."""
    found = []
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, _, state = line.split()[1:4]
            address, hex_port = local.split(":")
            if state != "0A" or int(hex_port, 16) != port:
                continue
            raw = bytes.fromhex(address)
            # the kernel prints each 32-bit word in host (little-endian) order
            raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
            found.append(socket.inet_ntop(socket.AF_INET if width == 8 else socket.AF_INET6,
                                          raw))
    return found


def _plain(text: str) -> str:
    return text.replace("\u2060", "")


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc/net")
def test_hostile_dataset_stays_text_and_the_server_stays_local(tmp_path):
    data = hostile_csv(tmp_path)
    exports = tmp_path / "exports"
    port = _free_port()
    env = {**os.environ, "NOISELENS_HOME": str(tmp_path / "ws"), "NOISELENS_PROJECTION": "pca",
           "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH"))
                                         if p),
           "PYTHONUNBUFFERED": "1"}
    log_path = tmp_path / "dashboard.log"
    cmd = [sys.executable, "-m", "dashboard.cli", "dashboard", "--data", str(data),
           "--label-col", "label", "--export-dir", str(exports), f"--server.port={port}"]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://localhost:{port}"
    try:
        wait_for_health(proc, base, log_path)

        # (1) loopback only
        addresses = listening_addresses(port)
        assert addresses, f"nothing listens on port {port}"
        assert all(a in ("127.0.0.1", "::1") for a in addresses), addresses

        shots = Path(os.environ.get("NOISELENS_SCREENSHOTS")
                     or REPO / "tests/dashboard/screenshots")
        shots.mkdir(parents=True, exist_ok=True)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                        args=CHROMIUM_ARGS)
            context = browser.new_context(viewport=VIEWPORT, base_url=base)
            page = context.new_page()
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            seen_text = ""
            for path, title in PAGES:
                page.goto(path)
                page.wait_for_selector(APP, timeout=120_000)
                wait_idle(page, 120_000)
                assert_no_error(page)
                assert page.get_by_role("heading", name=title).count() >= 1, path
                seen_text += _plain(page.inner_text('[data-testid="stMain"]'))
                seen_text += _plain(" ".join(page.locator(".main-svg text").all_text_contents()))
                name = "safety_" + (path.strip("/").split("?")[0] or "overview")
                screenshot(page, shots, name)
            # export the detector's suggestions, then open the report the export wrote
            page.goto("/review_export")
            wait_idle(page, 120_000)
            page.get_by_text("the detector's suggestions, without review").click()
            wait_idle(page)
            page.get_by_role("button", name="Export", exact=True).click()
            wait_idle(page)
            assert_no_error(page)
            reports = list(exports.rglob("report.html"))
            assert reports, f"no report.html under {exports}"
            report = browser.new_context(viewport=VIEWPORT).new_page()
            report_requests: list[str] = []
            report.on("request", lambda r: report_requests.append(r.url))
            report.goto(reports[0].as_uri())
            report.wait_for_selector("svg.chart")
            report.wait_for_timeout(500)
            report_text = _plain(report.inner_text("body")) + _plain(
                " ".join(report.locator("svg.chart text").all_text_contents()))
            report.screenshot(path=str(shots / "safety_report.png"), full_page=True)
            browser.close()

        # (2) nothing leaves the app's origin
        own = (base, f"http://127.0.0.1:{port}", "data:", "blob:")
        assert [u for u in requests if not u.startswith(own)] == []
        assert [u for u in report_requests if not u.startswith(("file:", "data:"))] == []
        assert not errors, errors
        # (3) the names are shown as the literal text they are
        for name in CLASSES:
            name = name.replace("\u202e", "[U+202E]")  # the override is shown, not obeyed
            assert name in seen_text, name
            assert name in report_text, name
        assert re.search(r"Example id (<b>\d+</b>|=1\+\d+)", seen_text)  # an id, literally
        # the hostile CSV's ids and labels reach the cleaned split unguarded and unchanged
        cleaned = next(exports.rglob("*_cleaned.csv"))
        assert "=1+3" in cleaned.read_text(encoding="utf-8")
    finally:
        # (4) SIGTERM to the launcher (as a service manager sends it) ends everything
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            pytest.fail("the dashboard did not stop on SIGTERM")
    assert proc.returncode is not None
    with pytest.raises(ProcessLookupError):
        os.killpg(proc.pid, 0)  # no process of its session is left
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0, "the port is still held"
    assert "Traceback" not in log_path.read_text(errors="replace"), log_path.read_text()
