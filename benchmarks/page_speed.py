"""Server-side time of a rerun of every dashboard page, after the first analysis.

    python benchmarks/page_speed.py                # digits sample and a 100k-row dataset
    python benchmarks/page_speed.py --rows 20000   # smaller generated dataset
    python benchmarks/page_speed.py --rows 1000000 --classes 100 --embedding-dims 16 \
        --reruns 3                                 # issue 18: only the generated set, + RSS

Runs the app with streamlit's AppTest (no browser: the time is the script's, the part the
server controls). For each data set and page: the first open (which computes the analysis
unless cached) and the median of 5 reruns (what every click costs). The generated data set
has 64 features, 10 classes, 20% noise and its own ``pred_probs`` columns, as a user who
brings model outputs would have; the map uses PCA (UMAP is timed in embedding_speed.py).
``--classes`` and ``--embedding-dims`` change K and the number of feature columns (16-D
embedding columns ``emb_*``); with ``--rows`` above 200,000 the digits sample is skipped, the
Parquet file is written by a child process (its memory is not counted) and the table ends with
the peak RSS of this process (the AppTest "server") and the time of a lasso over every row.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "dashboard" / "app.py")
PAGES = ["overview", "noise_matrix", "embedding_map", "suspects", "review_export", "annotators",
         "evaluate"]


def generated_csv(folder: Path, rows: int, seed: int = 0, *, classes: int = 10,
                  dims: int = 64) -> Path:
    rng = np.random.default_rng(seed)
    k = classes
    true = rng.integers(0, k, rows)
    centres = rng.normal(scale=2.0, size=(k, dims)).astype(np.float32)
    X = centres[true] + rng.standard_normal(size=(rows, dims), dtype=np.float32)
    labels = true.copy()
    flip = rng.random(rows) < 0.2
    labels[flip] = rng.integers(0, k, int(flip.sum()))
    logits = rng.standard_normal(size=(rows, k), dtype=np.float32)
    logits[np.arange(rows), true] += 2.5 if k <= 10 else 5.0
    probs = np.exp(logits)
    probs /= probs.sum(1, keepdims=True)
    names = np.array([f"class_{c}" for c in range(k)], dtype=object)
    prefix = "f" if dims == 64 else "emb_"
    cols = {"id": np.arange(rows), "label": names[labels]}
    cols.update({f"{prefix}{i}": X[:, i] for i in range(dims)})
    cols.update({f"pred_prob_class_{c}": probs[:, c] for c in range(k)})
    frame = pd.DataFrame(cols)
    path = folder / f"generated_{rows}_{k}_{dims}.parquet"
    frame.to_parquet(path)
    return path


def time_pages(argv: list[str], repeats: int = 5) -> list[tuple[str, float, float]]:
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    sys.argv = ["app.py", *argv]
    st.cache_data.clear()
    st.cache_resource.clear()
    out = []
    for page in PAGES:
        at = AppTest.from_file(APP, default_timeout=1800)
        start = time.perf_counter()
        at.run()
        if page != "overview":
            at.switch_page(f"app_pages/{page}.py")
            at.run()
        first = time.perf_counter() - start
        if at.exception:
            raise SystemExit(f"{page}: {at.exception[0].value}")
        reruns = []
        for _ in range(repeats):
            start = time.perf_counter()
            at.run()
            reruns.append(time.perf_counter() - start)
        out.append((page, first, statistics.median(reruns)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--embedding-dims", type=int, default=64)
    parser.add_argument("--reruns", type=int, default=5)
    args = parser.parse_args()
    big = args.rows > 200_000
    os.environ.setdefault("NOISELENS_PROJECTION", "pca")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["NOISELENS_HOME"] = str(Path(tmp) / "home")
        sets = [] if big else [("digits sample (1,797)", [])]
        start = time.perf_counter()
        if big:  # write the file in a child so its memory is not this process's peak
            with ProcessPoolExecutor(1) as pool:
                path = pool.submit(generated_csv, Path(tmp), args.rows, 0,
                                   classes=args.classes, dims=args.embedding_dims).result()
        else:
            path = generated_csv(Path(tmp), args.rows, classes=args.classes,
                                 dims=args.embedding_dims)
        made = time.perf_counter() - start
        name = f"{args.rows:,} x {args.classes} + {args.embedding_dims}-D"
        print(f"# {path.name}: {path.stat().st_size / 2**20:.0f} MiB, written in {made:.0f} s")
        sets.append((name, ["--data", str(path), "--label-col", "label"]))
        target = 1.0 if big else 0.3
        print(f"{'data set':26s} {'page':14s} {'first open s':>12s} {'rerun ms':>9s}  "
              f"target (rerun <= {target:g} s)")
        print("-" * 80)
        for name, argv in sets:
            for page, first, rerun in time_pages(argv, args.reruns):
                ok = "ok" if rerun <= target else "SLOW"
                print(f"{name:26s} {page:14s} {first:12.2f} {1000 * rerun:9.0f}  {ok}",
                      flush=True)
        if big:
            lasso_and_rss(path)


def lasso_and_rss(path: Path) -> None:
    """Time of a lasso test over every row's PCA coordinates, and this process's peak RSS."""
    from dashboard import selection

    rng = np.random.default_rng(0)
    rows = pd.read_parquet(path, columns=["id"]).shape[0]
    coords = rng.normal(size=(rows, 2)).astype(np.float32)
    angles = np.linspace(0, 2 * np.pi, 200, endpoint=False)
    region = [("lasso", np.cos(angles) * (1 + 0.3 * np.sin(5 * angles)),
               np.sin(angles) * (1 + 0.3 * np.sin(5 * angles)))]
    start = time.perf_counter()
    hit = selection.rows_in_regions(coords, region)
    took = time.perf_counter() - start
    print(f"lasso (200 vertices) over {rows:,} rows: {1000 * took:.0f} ms, {hit.size:,} rows")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"peak RSS of this process (the pages' server): {peak:.2f} GiB  target <= 2.5 GiB")


if __name__ == "__main__":
    main()
