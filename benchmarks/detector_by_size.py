"""Confident learning alone against the combined detector, by table size (``AUTO_REFIT_MAX_ROWS``).

    python benchmarks/detector_by_size.py                       # digits, 10k, 30k; seed 11
    python benchmarks/detector_by_size.py --tables digits,3000,10000 --seeds 11,12

On the same out-of-fold probabilities of the automatic model: F1 and the number flagged by
confident learning alone, by the combined detector (``Analysis.relearned``, its count from the
refit's filter), and by the combined detector's ranking with two other counts (the first
fit's and the refit's noise estimates); beside them the cleanlab + HistGB recipe
(``cross_val_predict`` + ``find_label_issues``, one OpenMP thread). Tables: the digits under
cleanlab's generator (20% dense) and make_classification (30 features, 15 informative, 10
classes, 2 clusters each; 15% dense) at the given rows.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from detection_quality import cleanlab_noise  # noqa: E402

import analysis  # noqa: E402
from analysis.pipeline import relative_confidence_flags  # noqa: E402


def f1(flagged: np.ndarray, truth: np.ndarray) -> float:
    tp = int((flagged & truth).sum())
    if tp == 0:
        return 0.0
    precision, recall = tp / flagged.sum(), tp / truth.sum()
    return 2 * precision * recall / (precision + recall)


def table(spec: str):
    from sklearn.datasets import load_digits, make_classification

    if spec == "digits":
        X, y = load_digits(return_X_y=True)
        return X, y, 0.2
    X, y = make_classification(int(spec), 30, n_informative=15, n_classes=10,
                               n_clusters_per_class=2, random_state=0)
    return X, y, 0.15


def recipe(X, s) -> np.ndarray:
    from cleanlab.filter import find_label_issues
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import cross_val_predict
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, "openmp"):
        probs = cross_val_predict(HistGradientBoostingClassifier(), X, s, cv=5,
                                  method="predict_proba")
    return find_label_issues(s, probs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tables", default="digits,10000,30000")
    parser.add_argument("--seeds", default="11")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    print(f"{'table':8s} {'seed':>4s} {'wrong':>6s} | {'CL alone':>14s} | {'combined':>14s} | "
          f"{'first estimate':>14s} | {'refit estimate':>14s} | {'cleanlab+HistGB':>15s} | "
          "seconds CL / combined")
    for spec in args.tables.split(","):
        X, y, rate = table(spec)
        for seed in (int(s) for s in args.seeds.split(",")):
            s = cleanlab_noise(y, rate, 0.0, seed)
            truth = s != y
            start = time.perf_counter()
            first = analysis.analyze(analysis.from_arrays(X, s), random_state=seed,
                                     use_cache=False, detector="confident_learning")
            alone = first.is_issue
            t_first = time.perf_counter() - start
            start = time.perf_counter()
            combined = first.relearned(random_state=seed, use_cache=False)
            flags = combined.is_issue
            t_refit = time.perf_counter() - start
            counts = (int(first.estimated_wrong), int(combined.estimated_wrong))
            other = [relative_confidence_flags(combined.evidence, c) for c in counts]
            theirs = recipe(X, s)
            cells = [(alone, alone.sum()), (flags, flags.sum())] + [
                (o, c) for o, c in zip(other, counts, strict=True)] + [(theirs, theirs.sum())]
            print(f"{spec:8s} {seed:4d} {int(truth.sum()):6d} | " + " | ".join(
                f"{f1(m, truth):.3f} ({int(n):6d})" for m, n in cells)
                + f" | {t_first:.0f} / {t_first + t_refit:.0f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
