"""What a person waits for in the browser, page by page (issue 30).

    python benchmarks/browser_pages.py                  # 100k and 1M rows x 100 classes, 3 runs
    python benchmarks/browser_pages.py --rows 100000 --runs 5
    python benchmarks/browser_pages.py --data FILE.parquet --label-col label

For each size: a Parquet file of probabilities for 100 classes and 16 embedding columns
(``benchmarks/page_speed.generated_csv``), opened with the real launcher
(``noiselens dashboard --data FILE --label-col label``) in a fresh workspace, and headless
Chromium (Debian's, as the browser tests). Each run times, from the action until the script is
idle and no spinner shows:

- **first page**: ``page.goto("/")`` of a new browser session;
- **first visit** of every other page by a click on its sidebar link, in sidebar order, then
  **second visit** of each the same way (the session's caches warm);
- **fresh URL**: every page's URL opened in a new browser session (a deep link a colleague
  opens), the server's dataset store warm.

For a first visit it also gives **feedback**: the time until the new page shows anything of
its own (its title, a spinner or a progress bar), the 0.3 s the issue allows for a page that
needs longer than 1 s. The table gives the median of the runs (each run a fresh workspace and
a fresh server) and the server's memory: the peak of the resident set of the server's process
tree, sampled every 0.2 s, with two browser sessions open at the end of a run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "benchmarks"), str(ROOT / "tests" / "dashboard")]

from page_speed import generated_csv  # noqa: E402
from test_browser import CHROMIUM, running_dashboard  # noqa: E402

#: The pages in sidebar order, with their URL path (dashboard/app.py).
PAGES = (("Overview", "home"), ("Noise matrix", "noise_matrix"),
         ("Embedding map", "embedding_map"), ("Suspects", "suspects"),
         ("Noise by slice", "slices"), ("Review & export", "review_export"),
         ("Annotators", "annotators"), ("Evaluate", "evaluate"))
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
BUSY = '[data-testid="stSpinner"], [data-testid="stStatusWidget"] [data-testid="stSpinner"]'
FEEDBACK = ('[data-testid="stMain"] h1, [data-testid="stSpinner"], '
            '[data-testid="stProgress"]')
TIMEOUT_MS = 900_000


def _settled(page) -> None:
    """Until the script is idle and no spinner is left (checked twice, 0.1 s apart: a rerun
    can start right after the first run ends)."""
    for _ in range(2):
        page.wait_for_selector(IDLE, timeout=TIMEOUT_MS)
        page.wait_for_function(f"() => !document.querySelector('{BUSY}')",
                               timeout=TIMEOUT_MS)
        time.sleep(0.1)


def _visit(page, title: str) -> tuple[float, float]:
    """Click a sidebar link; (seconds until the new page shows something of its own,
    seconds until settled)."""
    nav = page.locator('[data-testid="stSidebarNav"]')
    start = time.perf_counter()
    nav.get_by_text(title, exact=True).click()
    page.wait_for_function(
        "(t) => { const h = document.querySelector('[data-testid=\"stMain\"] h1');"
        f" return (h && h.innerText.includes(t)) || document.querySelector('{FEEDBACK}'); }}",
        arg=title.split(" &")[0], timeout=TIMEOUT_MS)
    feedback = time.perf_counter() - start
    _settled(page)
    return feedback, time.perf_counter() - start


class _Memory:
    """Peak resident memory of the server's process tree (the process listening on the
    port, its children), sampled every 0.2 s."""

    def __init__(self, port: str):
        self.port, self.peak, self._stop = port, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _pids(self) -> list[int]:
        found = []
        for p in Path("/proc").iterdir():
            if not p.name.isdigit():
                continue
            try:
                cmd = (p / "cmdline").read_bytes()
            except OSError:
                continue
            if f"--server.port={self.port}".encode() in cmd:
                found.append(int(p.name))
        children = []
        for pid in found:
            try:
                children += [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children")
                             .read_text().split()]
            except OSError:
                pass
        return found + children

    def _run(self) -> None:
        while not self._stop.is_set():
            total = 0
            for pid in self._pids():
                try:
                    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                        if line.startswith("VmRSS:"):
                            total += int(line.split()[1]) * 1024
                except OSError:
                    pass
            self.peak = max(self.peak, total / 2**30)
            self._stop.wait(0.2)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak


def one_run(browser, data: Path, label: str) -> dict:
    """The times of one fresh server, in seconds, by (measure, page)."""
    out: dict = {}
    with tempfile.TemporaryDirectory(prefix="noiselens-pages-") as home, \
            running_dashboard(Path(home), "--data", str(data), "--label-col", label) as url:
        memory = _Memory(url.rsplit(":", 1)[1])
        context = browser.new_context(viewport={"width": 1400, "height": 1000}, base_url=url)
        page = context.new_page()
        start = time.perf_counter()
        page.goto("/")
        _settled(page)
        out[("first page", "Overview")] = time.perf_counter() - start
        for visit in ("first visit", "second visit"):
            for title, _ in (*PAGES[1:], PAGES[0]):
                feedback, done = _visit(page, title)
                out[(visit, title)] = done
                if visit == "first visit":
                    out[("feedback", title)] = feedback
        for title, path in PAGES:
            fresh = browser.new_context(viewport={"width": 1400, "height": 1000},
                                        base_url=url)
            other = fresh.new_page()
            start = time.perf_counter()
            other.goto(f"/{path}")
            _settled(other)
            out[("fresh URL", title)] = time.perf_counter() - start
            fresh.close()
        out[("memory GiB", "server")] = memory.stop()
        context.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--classes", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--data", type=Path, help="a file of your own instead")
    parser.add_argument("--label-col", default="label")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="noiselens-data-") as folder, \
            sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        sizes = [None] if args.data else args.rows
        for rows in sizes:
            data = args.data or generated_csv(Path(folder), rows, classes=args.classes, dims=16)
            runs = [one_run(browser, data, args.label_col) for _ in range(args.runs)]
            name = data.name if args.data else f"{rows:,} rows x {args.classes} classes"
            print(f"\n{name}: median of {args.runs} run(s), seconds (memory: GiB)")
            measures = ("first page", "feedback", "first visit", "second visit", "fresh URL")
            print(f"{'page':<18}" + "".join(f"{m:>14}" for m in measures))
            for title, _ in PAGES:
                cells = []
                for m in measures:
                    values = [r[(m, title)] for r in runs if (m, title) in r]
                    cells.append(f"{statistics.median(values):14.2f}" if values else f"{'':>14}")
                print(f"{title:<18}" + "".join(cells))
            peak = max(r[("memory GiB", "server")] for r in runs)
            worst_click = max(statistics.median([r[("first visit", t)] for r in runs])
                              for t, _ in PAGES[1:])
            worst_url = max(statistics.median([r[("fresh URL", t)] for r in runs])
                            for t, _ in PAGES)
            print(f"server memory peak {peak:.2f} GiB · slowest first visit {worst_click:.2f} s"
                  f" (goal 1 s, or feedback within 0.3 s and done within 2 s) · slowest fresh "
                  f"URL {worst_url:.2f} s (goal 2 s)")
        browser.close()


if __name__ == "__main__":
    main()
