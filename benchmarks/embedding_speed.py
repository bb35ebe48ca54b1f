"""Speed and memory of projections and neighbours: digits and a generated 100k x 64 dataset.

    python benchmarks/embedding_speed.py                 # the table (about 5-10 minutes)
    python benchmarks/embedding_speed.py --rows 20000    # a smaller generated dataset
    python benchmarks/embedding_speed.py --exact         # also exact k-NN on the big data (slow)

Every scenario runs in its own process, so "cold" includes what a fresh app process pays
(numba compilation of umap-learn / pynndescent on their first call), "new process" rows show a
restart reading the on-disk cache, and the peak RSS (``getrusage``) belongs to that scenario
alone. Each scenario gets a fresh ``NOISELENS_HOME`` unless it is meant to read another's cache.
Timings cover the call only (not interpreter start, imports or data generation).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MARK = "BENCH "


# ---------------------------------------------------------------------------- worker side


def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _emit(**row) -> None:
    print(MARK + json.dumps(row), flush=True)


def _timed(step: str, fn):
    start = time.perf_counter()
    result = fn()
    _emit(step=step, seconds=time.perf_counter() - start)
    return result


def _data(name: str, rows: int):
    import numpy as np

    from analysis.model.embedding import prepare_features

    if name == "digits":
        from sklearn.datasets import load_digits

        X, y = load_digits(return_X_y=True)
    else:
        from sklearn.datasets import make_classification

        X, y = make_classification(
            n_samples=rows,
            n_features=64,
            n_informative=16,
            n_redundant=16,
            n_classes=10,
            n_clusters_per_class=2,
            class_sep=2.0,
            random_state=0,
        )
    X = prepare_features(X)
    suspects = np.zeros(len(X), dtype=bool)
    suspects[np.random.default_rng(0).choice(len(X), len(X) // 50, replace=False)] = True
    return X, y, suspects


def worker(scenario: str, rows: int) -> None:
    import numpy as np

    from analysis.core import cache
    from analysis.model.embedding import project
    from analysis.model.neighbours import (
        near_duplicates,
        nearest_neighbours,
        neighbour_agreement,
        outlier_score,
    )

    name = "digits" if scenario.startswith("digits") else "big"
    X, y, suspects = _data(name, rows)
    key = f"bench-{name}-{len(X)}"
    _emit(rss_setup=_rss_mb())

    def umap():
        return project(X, "umap", cache_key=key, sample_keep=suspects, strata=y)

    if scenario.endswith("-umap"):
        _timed("UMAP, cold (fresh cache, first UMAP of the process: numba compiles)", umap)
        if name == "digits":
            os.environ["NOISELENS_HOME"] += "-second"
            _timed("UMAP, cold cache, numba already compiled", umap)
        _timed("UMAP, cached (same process)", umap)
    elif scenario.endswith("-cached"):
        _timed("UMAP, cached (new process)", umap)
    elif scenario.endswith("-pca"):
        _timed("PCA", lambda: project(X, "pca"))
    elif scenario.endswith("-knn"):

        def knn():
            return nearest_neighbours(X, k=10, cache_key=key)

        method = "exact" if len(X) <= 20_000 else "approximate (pynndescent)"
        first = " (first call of the process: numba compiles)" if "approx" in method else ""
        idx, dist = _timed(f"kNN k=10, {method}{first}", knn)
        if "approx" in method:
            cache.clear_cache("neighbours")
            _timed(f"kNN k=10, {method}, compiled", knn)
        _timed("kNN k=10, cached (same process)", knn)

        def evidence():
            neighbour_agreement(y, idx)
            outlier_score(dist)
            return near_duplicates(idx, dist, y)

        pairs = _timed("agreement + near-duplicates + outlier score", evidence)
        _emit(
            note=f"{len(pairs)} near-duplicate pairs, {int(pairs['conflicting'].sum())} conflicting"
        )
        if "approx" in method:
            rng = np.random.default_rng(1)
            rows_q = rng.choice(len(X), 1000, replace=False)
            Xq = X.astype(np.float64)
            sq = (Xq**2).sum(1)
            hits = 0
            for lo in range(0, rows_q.size, 100):
                q = rows_q[lo : lo + 100]
                d2 = sq[q, None] - 2 * Xq[q] @ Xq.T + sq[None, :]
                d2[np.arange(q.size), q] = np.inf
                exact = np.argpartition(d2, 10, axis=1)[:, :10]
                hits += sum(len(set(a) & set(b)) for a, b in zip(exact, idx[q], strict=True))
            _emit(note=f"approximate kNN recall@10 vs exact on 1,000 rows: {hits / 10_000:.3f}")
    elif scenario.endswith("-exact"):
        _timed(
            "kNN k=10, exact (scikit-learn brute force)",
            lambda: nearest_neighbours(X, k=10, method="exact"),
        )
    _emit(peak_rss=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


# ---------------------------------------------------------------------------- driver side


def run(scenario: str, rows: int, home: Path) -> list[dict]:
    env = {**os.environ, "NOISELENS_HOME": str(home), "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run(
        [sys.executable, __file__, "--worker", scenario, "--rows", str(rows)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    if proc.returncode:
        sys.exit(f"scenario {scenario} failed:\n{proc.stdout}\n{proc.stderr}")
    return [
        json.loads(line[len(MARK) :]) for line in proc.stdout.splitlines() if line.startswith(MARK)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="rows of the generated data")
    parser.add_argument("--exact", action="store_true", help="also exact kNN on the big data")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.rows)
        return

    big = f"generated {args.rows // 1000}k x 64"
    plan = [
        ("digits 1,797 x 64", "digits-umap", "digits"),
        ("digits 1,797 x 64", "digits-cached", "digits"),
        ("digits 1,797 x 64", "digits-pca", "scratch-1"),
        ("digits 1,797 x 64", "digits-knn", "scratch-2"),
        (big, "big-umap", "big"),
        (big, "big-cached", "big"),
        (big, "big-pca", "scratch-3"),
        (big, "big-knn", "scratch-4"),
    ]
    if args.exact:
        plan.append((big, "big-exact", "scratch-5"))
    print(
        f"# embedding_speed: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start"
    )
    table, notes = [], []
    with tempfile.TemporaryDirectory(prefix="noiselens-bench-") as tmp:
        for data, scenario, home in plan:
            print(f"  running {scenario} ...", file=sys.stderr, flush=True)
            results = run(scenario, args.rows, Path(tmp) / home)
            setup = next(r["rss_setup"] for r in results if "rss_setup" in r)
            peak = next(r["peak_rss"] for r in results if "peak_rss" in r)
            for r in results:
                if "step" in r:
                    table.append((data, r["step"], r["seconds"], setup, peak))
                elif "note" in r:
                    notes.append(f"{data}: {r['note']}")
    print()
    print("| data | step | seconds | RSS after setup (MB) | peak RSS of the process (MB) |")
    print("|---|---|---:|---:|---:|")
    for data, step, seconds, setup, peak in table:
        print(f"| {data} | {step} | {seconds:.3f} | {setup:.0f} | {peak:.0f} |")
    print()
    for note in notes:
        print(f"- {note}")
    print(f"- load average {os.getloadavg()[0]:.1f} at the end ({os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
