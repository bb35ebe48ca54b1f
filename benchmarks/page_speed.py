"""Server-side time of a rerun of every dashboard page, after the first analysis.

    python benchmarks/page_speed.py                # digits sample and a 100k-row dataset
    python benchmarks/page_speed.py --rows 20000   # smaller generated dataset

Runs the app with streamlit's AppTest (no browser: the time is the script's, the part the
server controls). For each data set and page: the first open (which computes the analysis
unless cached) and the median of 5 reruns (what every click costs). The generated data set
has 64 features, 10 classes, 20% noise and its own ``pred_probs`` columns, as a user who
brings model outputs would have; the map uses PCA (UMAP is timed in embedding_speed.py).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "dashboard" / "app.py")
PAGES = ["overview", "noise_matrix", "embedding_map", "suspects", "review_export", "annotators",
         "evaluate"]


def generated_csv(folder: Path, rows: int, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    k = 10
    true = rng.integers(0, k, rows)
    centres = rng.normal(scale=2.0, size=(k, 64))
    X = (centres[true] + rng.normal(size=(rows, 64))).astype(np.float32)
    labels = true.copy()
    flip = rng.random(rows) < 0.2
    labels[flip] = rng.integers(0, k, int(flip.sum()))
    logits = rng.normal(size=(rows, k)).astype(np.float32)
    logits[np.arange(rows), true] += 2.5
    probs = np.exp(logits)
    probs /= probs.sum(1, keepdims=True)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(64)])
    frame.insert(0, "id", np.arange(rows))
    frame.insert(1, "label", [f"class_{c}" for c in labels])
    for c in range(k):
        frame[f"pred_prob_class_{c}"] = probs[:, c]
    path = folder / f"generated_{rows}.parquet"
    frame.to_parquet(path)
    return path


def time_pages(argv: list[str]) -> list[tuple[str, float, float]]:
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
        for _ in range(5):
            start = time.perf_counter()
            at.run()
            reruns.append(time.perf_counter() - start)
        out.append((page, first, statistics.median(reruns)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    os.environ.setdefault("NOISELENS_PROJECTION", "pca")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["NOISELENS_HOME"] = str(Path(tmp) / "home")
        sets = [("digits sample (1,797)", [])]
        path = generated_csv(Path(tmp), args.rows)
        sets.append((f"generated ({args.rows:,} x 64)", ["--data", str(path),
                                                         "--label-col", "label"]))
        print(f"{'data set':26s} {'page':14s} {'first open s':>12s} {'rerun ms':>9s}  target")
        print("-" * 72)
        for name, argv in sets:
            for page, first, rerun in time_pages(argv):
                ok = "ok" if rerun <= 0.3 else "SLOW"
                print(f"{name:26s} {page:14s} {first:12.2f} {1000 * rerun:9.0f}  {ok}")


if __name__ == "__main__":
    main()
