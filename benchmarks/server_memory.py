"""Server memory while a user opens datasets one after another.

The dashboard's process cache (dashboard/compute.py) holds at most ``MAX_DATASETS`` datasets
with what is derived from them; this opens five (the bundled samples and two generated files
of 100k rows with their own probabilities), each with the seven filters, and prints the
resident memory after each, then after opening the first again.

    python benchmarks/server_memory.py
"""

from __future__ import annotations

import gc
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def generated(folder: Path, seed: int, n: int = 100_000, k: int = 20) -> Path:
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, k, n)
    probs = rng.dirichlet(np.full(k, 0.2), n).astype(np.float32) * 0.5
    probs[np.arange(n), truth] += 0.5
    given = np.where(rng.random(n) < 0.1, rng.integers(0, k, n), truth)
    frame = pd.DataFrame({"id": np.arange(n), "label": [f"c{g}" for g in given]})
    for c in range(k):
        frame[f"pred_prob_c{c}"] = probs[:, c]
    path = folder / f"generated_{seed}.csv"
    frame.to_csv(path, index=False)
    return path


def main() -> None:
    import streamlit as st

    from analysis.core.issues import FILTERS
    from dashboard import compute

    os.environ.setdefault("NOISELENS_HOME", tempfile.mkdtemp(prefix="noiselens-mem-"))
    folder = Path(tempfile.mkdtemp(prefix="noiselens-data-"))
    sources = [compute.Source("sample", name) for name in
               ("digits", "wine", "breast_cancer")]
    sources += [compute.Source("file", str(generated(folder, s)), label_column="label")
                for s in (1, 2)]
    print(f"MAX_DATASETS={compute.MAX_DATASETS}, MAX_VARIANTS={compute.MAX_VARIANTS}; "
          f"start RSS {rss_mib():.0f} MiB")
    print(f"{'opened':34s} {'rows':>8s} {'held':>5s} {'RSS MiB':>8s} {'s':>6s}")
    for source in [*sources, sources[0]]:
        t = time.perf_counter()
        dataset = compute.load(source)
        for f in FILTERS:
            compute.analysis_for(dataset, f, "self_confidence")
        gc.collect()
        print(f"{source.title[:34]:34s} {len(dataset):8,d} {len(compute.cache().entries):5d} "
              f"{rss_mib():8.0f} {time.perf_counter() - t:6.1f}")
    st.cache_resource.clear()


if __name__ == "__main__":
    main()
