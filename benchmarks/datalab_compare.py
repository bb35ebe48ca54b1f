"""Near-duplicates and outliers: noiselens (``analysis.signals.compute``) against cleanlab's
Datalab.

    python benchmarks/datalab_compare.py                  # digits, then 100,000 generated rows
    python benchmarks/datalab_compare.py --rows 20000     # a smaller timing set

On the same matrix (the standardised features, as ``analysis.model.embedding.prepare_features``
makes them) both tools look for near-duplicates and outliers. Planted into the data:

* duplicates: copies of random rows with a tiny jitter (1e-4 of a feature's spread), so a
  duplicate is a pair (original, copy); a planted copy is *found* when the tool flags it as
  a near-duplicate issue;
* outliers: rows with every feature drawn far outside the data (6 to 9 spreads from the
  median, random signs); recall is measured twice: the share flagged as outlier issues, and
  the share among the ``m`` lowest outlier scores (``m`` = number planted: the ranking).

Printed per data set: recall of both kinds for both tools, rows flagged in all (a tool that
flags everything has recall 1), the seconds of each and their ratio. Datalab is cleanlab's
(AGPL, the ``reference`` extra): benchmarks only, never imported by analysis/ or dashboard/.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from sklearn.datasets import load_digits, make_blobs
from threadpoolctl import threadpool_limits

from analysis.model.embedding import prepare_features
from analysis.signals.compute import compute_signals


def plant(X: np.ndarray, y: np.ndarray, dups: int, outliers: int, seed: int):
    """X and y with ``dups`` jittered copies and ``outliers`` far rows appended.

    Returns
    -------
    X, y, copy_rows, outlier_rows
    """
    rng = np.random.default_rng(seed)
    n, d = X.shape
    spread = X.std(axis=0) + 1e-12
    src = rng.choice(n, dups, replace=False)
    copies = X[src] + rng.normal(scale=1e-4, size=(dups, d)) * spread
    centre = np.median(X, axis=0)
    far = centre + rng.uniform(6, 9, size=(outliers, d)) * rng.choice([-1, 1], (outliers, d)) \
        * spread
    Xp = np.vstack([X, copies, far])
    yp = np.concatenate([y, y[src], rng.integers(0, int(y.max()) + 1, outliers)])
    copy_rows = np.arange(n, n + dups)
    outlier_rows = np.arange(n + dups, n + dups + outliers)
    return Xp, yp, copy_rows, outlier_rows


def ours(F: np.ndarray, y: np.ndarray):
    n = len(y)
    sig = compute_signals(y, np.ones(n), np.zeros(n, bool), F, space="features")
    t = sig.table
    return (t["is_near_duplicate_issue"].to_numpy(), t["is_outlier_issue"].to_numpy(),
            t["outlier_score"].to_numpy())


def datalab(F: np.ndarray, y: np.ndarray):
    from cleanlab import Datalab

    lab = Datalab(data={"label": y}, label_name="label", verbosity=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lab.find_issues(features=F, issue_types={"near_duplicate": {}, "outlier": {}})
    dup = lab.get_issues("near_duplicate")
    out = lab.get_issues("outlier")
    return (dup["is_near_duplicate_issue"].to_numpy(), out["is_outlier_issue"].to_numpy(),
            out["outlier_score"].to_numpy())


def measure(name: str, X, y, dups: int, outliers: int, seed: int = 0) -> dict:
    Xp, yp, copy_rows, outlier_rows = plant(X, y, dups, outliers, seed)
    F = prepare_features(Xp)
    out = {}
    for tool, fn in (("noiselens", ours), ("Datalab", datalab)):
        with threadpool_limits(limits=1, user_api="blas"):
            start = time.perf_counter()
            dup, outl, score = fn(F, yp)
            seconds = time.perf_counter() - start
        lowest = np.argsort(score, kind="stable")[:outliers]
        out[tool] = {
            "dup_recall": float(dup[copy_rows].mean()),
            "dup_flagged": int(dup.sum()),
            "out_recall": float(outl[outlier_rows].mean()),
            "out_rank_recall": float(np.isin(outlier_rows, lowest).mean()),
            "out_flagged": int(outl.sum()),
            "seconds": seconds,
        }
    print(f"\n{name}: {len(yp):,} rows x {F.shape[1]} features, {dups} planted duplicates, "
          f"{outliers} planted outliers")
    print(f"  {'tool':10s} {'dup recall':>10s} {'dup flagged':>11s} {'out recall':>10s} "
          f"{'out top-m':>9s} {'out flagged':>11s} {'seconds':>8s}")
    for tool, r in out.items():
        print(f"  {tool:10s} {r['dup_recall']:10.3f} {r['dup_flagged']:11,d} "
              f"{r['out_recall']:10.3f} {r['out_rank_recall']:9.3f} {r['out_flagged']:11,d} "
              f"{r['seconds']:8.1f}")
    ratio = out["Datalab"]["seconds"] / max(out["noiselens"]["seconds"], 1e-9)
    print(f"  time ratio Datalab / noiselens: {ratio:.2f}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000, help="rows of the timing set")
    parser.add_argument("--features", type=int, default=32)
    args = parser.parse_args(argv)
    X, y = load_digits(return_X_y=True)
    measure("digits", X.astype(float), y, dups=50, outliers=30)
    X, y = make_blobs(args.rows, args.features, centers=10, cluster_std=2.0, random_state=0)
    measure(f"blobs {args.rows:,}", X, y, dups=500, outliers=100)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
