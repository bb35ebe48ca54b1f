"""The first and the second `noiselens analyze` after an install (#26): total seconds and the
seconds numba spends compiling (or loading compiled code from its on-disk cache).

Table: make_classification, 30,000 rows x 30 features, 10 classes, 15% uniform label noise;
`noiselens analyze` as a new process, with the automatic model and with --pred-probs
(out-of-fold logistic probabilities in a .npy file). "first" is a fresh install: an empty
numba cache (NUMBA_CACHE_DIR), an empty bytecode cache (PYTHONPYCACHEPREFIX, so every module
is compiled from source as after `pip install`) and an empty workspace (NOISELENS_HOME, no
cached probabilities or neighbours); "second" reruns the same command on those caches. With
--venv DIR the runs use DIR's Python instead (a brand-new virtualenv: `python -m venv DIR &&
DIR/bin/pip install -e .`), else this interpreter.

Compile seconds come from a hook that times numba's ``Dispatcher.compile`` (outermost calls
only: compiling, or loading from the disk cache) and counts the cache misses (compiled) and
loads. --brute prints the timings the brute-force neighbour search's cost model is fitted to
(``analysis.model.neighbours.BRUTE_PAIR_OVERHEAD``).

    PYTHONPATH=. python benchmarks/first_run.py            # ~5 min on 2 cores
    PYTHONPATH=. python benchmarks/first_run.py --venv /tmp/fresh
    PYTHONPATH=. python benchmarks/first_run.py --venv /path/to/main/.venv  # main, compared
    PYTHONPATH=. python benchmarks/first_run.py --brute
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]

#: Run inside the analyze process: times numba's compilation and writes it to $TIMING_FILE.
HOOK = r"""
import atexit, json, os, runpy, sys, time
import numba.core.dispatcher as _d
_orig = _d.Dispatcher.compile
_state = {"seconds": 0.0, "compiled": 0, "calls": 0, "depth": 0}

def _timed(self, sig):
    _state["depth"] += 1
    misses = sum(self._cache_misses.values())
    start = time.perf_counter()
    try:
        return _orig(self, sig)
    finally:
        _state["depth"] -= 1
        if _state["depth"] == 0:
            _state["seconds"] += time.perf_counter() - start
            _state["calls"] += 1
        _state["compiled"] += sum(self._cache_misses.values()) > misses

_d.Dispatcher.compile = _timed

@atexit.register
def _write():
    with open(os.environ["TIMING_FILE"], "w") as fh:
        json.dump({k: v for k, v in _state.items() if k != "depth"}, fh)

sys.argv = ["noiselens"] + sys.argv[1:]
runpy.run_module("dashboard.cli", run_name="__main__")
"""


def make_data(folder: Path, n: int = 30_000) -> tuple[Path, Path]:
    """The table (CSV with a label column) and out-of-fold probabilities (.npy)."""
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_predict

    X, y = make_classification(n, 30, n_informative=15, n_classes=10, n_clusters_per_class=1,
                               random_state=0)
    rng = np.random.default_rng(0)
    noisy = y.copy()
    flip = rng.random(n) < 0.15
    noisy[flip] = (y[flip] + rng.integers(1, 10, flip.sum())) % 10
    frame = pd.DataFrame(X, columns=[f"f{j}" for j in range(30)])
    frame["label"] = noisy
    csv = folder / "table.csv"
    frame.to_csv(csv, index=False)
    probs = cross_val_predict(LogisticRegression(max_iter=300), X, noisy, cv=5,
                              method="predict_proba")
    npy = folder / "pred_probs.npy"
    np.save(npy, probs)
    return csv, npy


def run_analyze(python: str, args: list[str], env: dict, folder: Path) -> dict:
    """One `noiselens analyze` process: wall seconds, numba seconds, compiled count."""
    timing = folder / f"timing-{time.time_ns()}.json"
    start = time.perf_counter()
    proc = subprocess.run([python, "-c", HOOK, "analyze", *args],  # cwd: no checkout
                          env=env | {"TIMING_FILE": str(timing)}, capture_output=True,
                          text=True, cwd=folder)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"analyze failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    found = json.loads(timing.read_text())
    first = next((line for line in proc.stderr.splitlines() if "first results in" in line), "")
    early = float(first.split(" after ")[1].split(" s")[0]) if first else float("nan")
    return {"wall": wall, "numba": found["seconds"], "compiled": found["compiled"],
            "first_results": early}


def first_and_second(python: str, venv: bool) -> list[dict]:
    """Both cases, first and second run each, on fresh caches per case: of the noiselens
    installed in the virtualenv of ``python`` (``venv``; to time another checkout, pass a
    virtualenv where it is installed), else of this checkout."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="noiselens-first-run-") as tmp:
        folder = Path(tmp)
        csv, npy = make_data(folder)
        for case, extra in (("automatic model", []), ("--pred-probs", ["--pred-probs", str(npy)])):
            caches = folder / case.strip("-").replace(" ", "-")
            env = {k: v for k, v in os.environ.items()
                   if not k.startswith("NUMBA_") and k != "PYTHONPATH"}
            if not venv:
                env["PYTHONPATH"] = str(REPO)
            env.update(NUMBA_CACHE_DIR=str(caches / "numba"),
                       PYTHONPYCACHEPREFIX=str(caches / "pycache"),
                       NOISELENS_HOME=str(caches / "home"))
            for run in ("first", "second"):
                args = [str(csv), "--label-col", "label", "--out", str(caches / run), *extra]
                rows.append({"case": case, "run": run} | run_analyze(python, args, env, folder))
                print(f"  {case}, {run} run: {rows[-1]['wall']:.1f} s", file=sys.stderr)
    return rows


def print_table(rows: list[dict], python: str) -> None:
    print(f"noiselens analyze, 30,000 x 30, 10 classes ({python})")
    print(f"{'case':16s} {'run':7s} {'total s':>8s} {'first results s':>16s} "
          f"{'numba s':>8s} {'compiled':>9s}")
    for r in rows:
        print(f"{r['case']:16s} {r['run']:7s} {r['wall']:8.1f} {r['first_results']:16.1f} "
              f"{r['numba']:8.1f} {r['compiled']:9d}")
    for case in dict.fromkeys(r["case"] for r in rows):
        first, second = (r for r in rows if r["case"] == case)
        print(f"{case}: first / second run {first['wall'] / second['wall']:.2f}x; numba "
              f"{first['numba']:.1f} s of the first run ({first['numba'] / first['wall']:.0%})")


def brute_timings() -> None:
    """The brute-force search's seconds on random rows: the fit behind its cost model."""
    from analysis.model import neighbours

    rng = np.random.default_rng(0)
    points = []
    print(f"{'rows':>7s} {'dims':>5s} {'seconds':>8s} {'s per 1e12 units':>17s}")
    for n, d in ((20_000, 4), (20_000, 16), (20_000, 64), (20_000, 256), (40_000, 30)):
        X = rng.normal(size=(n, d)).astype(np.float32)
        best = min(_timed(lambda X=X: neighbours._brute(X, 10, "euclidean")) for _ in range(2))
        points.append((n, d, best))
        unit = best / neighbours.brute_cost(n, d) * 1e12
        print(f"{n:7,d} {d:5d} {best:8.2f} {unit:17.1f}")
    A = np.array([[n * n * d, n * n] for n, d, _ in points], dtype=float)
    (per_dim, per_pair), *_ = np.linalg.lstsq(A, np.array([t for *_, t in points]), rcond=None)
    print(f"fit: {per_dim * 1e12:.1f} s per 1e12 pair-dimensions, overhead "
          f"{per_pair / per_dim:.0f} dimensions per pair (BRUTE_PAIR_OVERHEAD = "
          f"{neighbours.BRUTE_PAIR_OVERHEAD})")


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def make_venv(folder: str) -> str:
    """A brand-new virtualenv at ``folder`` with noiselens installed (editable); one made
    before is reused (the runs' numba, bytecode and workspace caches are fresh either way)."""
    python = str(Path(folder) / "bin" / "python")
    if Path(python).exists():
        return python
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "venv", folder], check=True)
    subprocess.run([python, "-m", "pip", "install", "-q", "-e", str(REPO)], check=True)
    print(f"venv {folder}: created and installed in {time.perf_counter() - start:.0f} s",
          file=sys.stderr)
    return python


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venv", help="create a fresh virtualenv here and run in it")
    parser.add_argument("--brute", action="store_true",
                        help="the brute-force neighbour search's timings instead")
    args = parser.parse_args()
    if args.brute:
        brute_timings()
        return
    python = make_venv(args.venv) if args.venv else sys.executable
    print_table(first_and_second(python, bool(args.venv)), python)


if __name__ == "__main__":
    main()
