"""Suspects reruns while UMAP runs in the background: in a thread vs in a child process.

    python benchmarks/rerun_during_projection.py               # 200,000 rows x 16, 10 classes
    python benchmarks/rerun_during_projection.py --rows 50000

umap's numba layout loops hold the GIL, so while UMAP ran in a thread of the server every
page's rerun waited for it; ``dashboard.compute`` runs UMAP and t-SNE in a child process from
``NOISELENS_PROJECTION_IN_CHILD_ROWS`` rows. For each setting, in a fresh process and
workspace (page_speed's generated set): the Overview is opened and its background neighbour
signals finish, the Embedding map is opened (UMAP starts), then Suspects is rerun every 0.2 s
until UMAP is done, and 5 times more. The table: UMAP's time, the median and longest rerun
meanwhile, the median after.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

def _script(rows: int, folder: str) -> str:
    return f"""
import statistics, sys, time
from pathlib import Path
sys.path.insert(0, {str(ROOT / "benchmarks")!r})
from page_speed import generated_csv
data = generated_csv(Path({folder!r}), {rows}, dims=16, classes=10)
from streamlit.testing.v1 import AppTest
sys.argv = ["app.py", "--data", str(data), "--label-col", "label"]
at = AppTest.from_file({str(ROOT / "dashboard" / "app.py")!r}, default_timeout=900)
at.run()
from dashboard import compute
def busy():
    return any(not j.done for e in compute.cache().entries.values() for j in e.jobs.values())
while busy():
    time.sleep(1)
at.switch_page("app_pages/embedding_map.py"); at.run()
at.switch_page("app_pages/suspects.py"); at.run()
during, start = [], time.perf_counter()
while busy():
    s = time.perf_counter(); at.run(); during.append(time.perf_counter() - s)
    time.sleep(0.2)
took = time.perf_counter() - start
after = []
for _ in range(5):
    s = time.perf_counter(); at.run(); after.append(time.perf_counter() - s)
print(took, statistics.median(during), max(during), len(during), statistics.median(after))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    args = parser.parse_args()
    print(f"{'UMAP runs in':14s} {'UMAP s':>7s} {'median ms':>10s} {'longest ms':>11s} "
          f"{'reruns':>7s} {'after ms':>9s}   ({args.rows:,} rows x 16, Suspects reruns)")
    for name, threshold in (("a thread", str(10**12)), ("a child", "0")):
        with tempfile.TemporaryDirectory() as tmp:
            env = {**os.environ, "NOISELENS_HOME": str(Path(tmp) / "home"),
                   "NOISELENS_PROJECTION": "umap",
                   "NOISELENS_PROJECTION_IN_CHILD_ROWS": threshold,
                   "PYTHONPATH": str(ROOT)}
            out = subprocess.run([sys.executable, "-c", _script(args.rows, tmp)], env=env,
                                 capture_output=True, text=True, check=True, cwd=ROOT)
            took, median, longest, count, after = out.stdout.split()[-5:]
            print(f"{name:14s} {float(took):7.0f} {1000 * float(median):10.0f} "
                  f"{1000 * float(longest):11.0f} {int(count):7d} {1000 * float(after):9.0f}",
                  flush=True)


if __name__ == "__main__":
    main()
