"""Page reruns of two commits side by side, interleaved on the same data (one run, ratios).

    python benchmarks/page_speed_compare.py --base e87db56               # digits sample
    python benchmarks/page_speed_compare.py --base e87db56 --rows 100000 # + a generated set
    python benchmarks/page_speed_compare.py --base e87db56 --rounds 5 --head HEAD

``--base`` and ``--head`` (default: the working tree) are checked out in temporary git
worktrees; every round runs each page of both, one commit after the other (the order
alternates), each in a fresh child process with its own workspace (kept over the rounds, so
the analysis is computed once per commit and every round after the first is warm). A page's
figure is the median of 7 reruns with streamlit's AppTest (the server's script time, as
``page_speed.py``); the table shows the median over the rounds and the ratio head / base.
Interleaving makes the comparison fair on a busy machine: both commits meet the same load.

Streamlit "magic" is switched off in both (``runner.magicEnabled``): AppTest
compiles the page again on every run, with magic's pass over the syntax tree, which the real
server does once per page (its script cache); left on, the longer pages pay a cost no user
sees. The reruns are timed once the background jobs of the page's first open are done (the
neighbour signals above 20,000 rows; ``--no-settle`` times them meanwhile, and
``rerun_during_signals.py`` measures that state on its own).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGES = ["overview", "noise_matrix", "embedding_map", "suspects", "review_export", "annotators",
         "evaluate"]

_CHILD = """
import json, os, statistics, sys, time
from streamlit import config
from streamlit.testing.v1 import AppTest
config.set_option("runner.magicEnabled", False)  # AppTest reads no STREAMLIT_* variables
app = os.path.join(os.environ["TREE"], "dashboard", "app.py")
sys.argv = ["app.py", *json.loads(sys.argv[1])]


def settle():
    # wait for the background jobs (neighbour signals, projections) of the process cache
    if not os.environ.get("SETTLE"):
        return
    try:
        from dashboard import compute
    except ImportError:  # an older commit: no background jobs
        return
    while any(not j.done for e in compute.cache().entries.values() for j in e.jobs.values()):
        time.sleep(0.2)


out = {}
for page in json.loads(os.environ["PAGES"]):
    at = AppTest.from_file(app, default_timeout=1800)
    at.run()
    if page != "overview":
        at.switch_page(f"app_pages/{page}.py")
        at.run()
    if at.exception:
        raise SystemExit(f"{page}: {at.exception[0].value}")
    settle()
    at.run()
    times = []
    for _ in range(7):
        start = time.perf_counter()
        at.run()
        times.append(time.perf_counter() - start)
    out[page] = statistics.median(times)
print("RESULT " + json.dumps(out))
"""


def _worktree(rev: str, folder: Path) -> Path:
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(folder), rev],
                   check=True, capture_output=True)
    return folder


def _time(tree: Path, home: Path, argv: list[str], settle: bool) -> dict[str, float]:
    env = {**os.environ, "TREE": str(tree), "PYTHONPATH": str(tree), "NOISELENS_HOME": str(home),
           "NOISELENS_PROJECTION": "pca", "PAGES": json.dumps(PAGES),
           "STREAMLIT_RUNNER_MAGIC_ENABLED": "false", "SETTLE": "1" if settle else ""}
    proc = subprocess.run([sys.executable, "-c", _CHILD, json.dumps(argv)], cwd=tree, env=env,
                          capture_output=True, text=True)
    line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
    if not line:
        raise SystemExit(f"{tree}: {proc.stderr[-3000:]}")
    return json.loads(line[-1][len("RESULT "):])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="the commit to compare against")
    parser.add_argument("--head", help="the commit to measure (default: the working tree)")
    parser.add_argument("--rows", type=int, default=0,
                        help="also a generated data set of this many rows (page_speed.py's)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-settle", action="store_true",
                        help="time the reruns while background jobs (the neighbour signals "
                             "above 20,000 rows) may still run, instead of after them")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from page_speed import generated_csv

    with tempfile.TemporaryDirectory(prefix="noiselens-compare-") as tmp:
        tmp = Path(tmp)
        trees = {"base": _worktree(args.base, tmp / "base")}
        trees["head"] = _worktree(args.head, tmp / "head") if args.head else ROOT
        sets = [("digits sample (1,797)", [])]
        if args.rows:
            path = generated_csv(tmp, args.rows)
            sets.append((f"generated {args.rows:,}", ["--data", str(path), "--label-col",
                                                      "label"]))
        try:
            for name, argv in sets:
                runs = {t: [] for t in trees}
                for r in range(args.rounds):
                    order = list(trees) if r % 2 == 0 else list(reversed(trees))
                    for t in order:
                        runs[t].append(_time(trees[t], tmp / f"home-{t}-{len(argv)}", argv,
                                             not args.no_settle))
                    print(f"# {name}: round {r + 1} of {args.rounds} done", file=sys.stderr,
                          flush=True)
                print(f"\n{name}: rerun ms, median over {args.rounds} rounds of the median "
                      f"of 7 reruns; base {args.base}, head {args.head or 'working tree'}")
                print(f"{'page':15s} {'base ms':>8s} {'head ms':>8s} {'head/base':>9s}")
                for page in PAGES:
                    b = statistics.median(x[page] for x in runs["base"])
                    h = statistics.median(x[page] for x in runs["head"])
                    print(f"{page:15s} {1000 * b:8.0f} {1000 * h:8.0f} {h / b:9.2f}",
                          flush=True)
        finally:
            for t in ("base", "head"):
                if trees[t] != ROOT:
                    subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force",
                                    str(trees[t])], capture_output=True)


if __name__ == "__main__":
    main()
