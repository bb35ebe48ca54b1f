"""Suspects reruns while the neighbour signals are computed in the background: thread vs child.

    python benchmarks/rerun_during_signals.py              # 100,000 rows (page_speed's set)
    python benchmarks/rerun_during_signals.py --rows 50000

Above 20,000 rows the Why-flagged signals (a kNN search with pynndescent) are computed in the
background while the pages stay usable. pynndescent's numba loops hold the GIL, so in a
thread they stall every rerun; ``dashboard.compute`` runs the search in a child process from
``NOISELENS_NEIGHBOURS_IN_CHILD_ROWS`` rows. For each setting, in a fresh process and
workspace: the Suspects page is opened, rerun until the signals are ready, then 7 times more;
the table shows the median and the longest rerun meanwhile, and the median after.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_CHILD = """
import statistics, sys, time
from streamlit.testing.v1 import AppTest
data, app = sys.argv[1], sys.argv[2]
sys.argv = ["app.py", "--data", data, "--label-col", "label"]
at = AppTest.from_file(app, default_timeout=900)
at.run()
at.switch_page("app_pages/suspects.py")
at.run()
from dashboard import compute
def busy():
    return any(not j.done for e in compute.cache().entries.values() for j in e.jobs.values())
during, start = [], time.perf_counter()
while busy() or not during:
    s = time.perf_counter()
    at.run()
    during.append(time.perf_counter() - s)
took = time.perf_counter() - start
after = []
for _ in range(7):
    s = time.perf_counter()
    at.run()
    after.append(time.perf_counter() - s)
print(f"RESULT {took:.0f} {len(during)} {1000 * statistics.median(during):.0f} "
      f"{1000 * max(during):.0f} {1000 * statistics.median(after):.0f}")
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from page_speed import generated_csv

    with tempfile.TemporaryDirectory(prefix="noiselens-signals-") as tmp:
        path = generated_csv(Path(tmp), args.rows)
        print(f"{args.rows:,} rows, 64 features, its own probabilities; Suspects page reruns")
        print(f"{'search in':10s} {'signals s':>9s} {'reruns':>7s} {'median ms':>9s} "
              f"{'max ms':>7s} {'after ms':>8s}")
        for name, threshold in (("thread", args.rows + 1), ("child", 0)):
            env = {**os.environ, "NOISELENS_HOME": str(Path(tmp) / name),
                   "NOISELENS_PROJECTION": "pca", "PYTHONPATH": str(ROOT),
                   "NOISELENS_NEIGHBOURS_IN_CHILD_ROWS": str(threshold)}
            proc = subprocess.run([sys.executable, "-c", _CHILD, str(path),
                                   str(ROOT / "dashboard" / "app.py")], env=env, cwd=ROOT,
                                  capture_output=True, text=True)
            line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
            if not line:
                raise SystemExit(proc.stderr[-3000:])
            took, n, median, worst, after = line[-1].split()[1:]
            print(f"{name:10s} {took:>9s} {n:>7s} {median:>9s} {worst:>7s} {after:>8s}",
                  flush=True)


if __name__ == "__main__":
    main()
