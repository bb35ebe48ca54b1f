"""How well does the whole pipeline find label errors of known truth?

    python benchmarks/detection_quality.py              # 4 data sets x 3 kinds x 3 rates x 2 seeds
    python benchmarks/detection_quality.py --seeds 1 --datasets digits
    python benchmarks/detection_quality.py --no-timing  # skip the 10,000 x 64 timing row
    python benchmarks/detection_quality.py --cleanlab-noise  # CL alone vs the combined detector
    python benchmarks/detection_quality.py --cleanlab-noise --first-seed 3  # fresh seeds 3-4

Noise of known truth (``analysis.data.noise``, seeded) is injected into real feature sets shipped
inside scikit-learn (digits, wine, breast cancer, iris; nothing is downloaded):

* ``uniform``: a share of the rows, each relabelled to another class chosen uniformly;
* ``sparse``: class-conditional noise from a random noise matrix with the given trace
  (``K * (1 - rate)``) and half of its off-diagonal cells exactly zero;
* ``pair``: systematic flips ``a -> b``: the classes in a random cycle, every class flipped to
  the next one at the rate (the "pair-flip" noise of the noisy-label literature).

Each noisy label set goes through two pipelines, on the same stratified folds:

* ``auto``: ``out_of_fold_probabilities(X, labels)`` (the automatic, calibrated mixture of
  kNN, logistic regression and extra trees) -> ``find_label_issues`` (default filter);
* ``plain``: ``LogisticRegressionCV`` on standardised features, out-of-fold through
  ``cross_val_predict`` -> the same ``find_label_issues``.

Printed: precision, recall and F1 of the flagged rows against the flipped rows, the wall
time of each pipeline, the mean F1 per data set and per noise rate, a timing row on a
generated 10,000 x 64 set with 10 classes, and whether the targets are met. BLAS is limited to
one thread in both pipelines (small matrices gain nothing from more and oversubscribe a busy
machine); the extra trees use the cores through joblib.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.datasets import (
    load_breast_cancer,
    load_digits,
    load_iris,
    load_wine,
    make_classification,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegressionCV
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

import analysis
from analysis.data import noise
from analysis.model.probabilities import choose_model

DATASETS = {
    "digits": load_digits,
    "wine": load_wine,
    "breast_cancer": load_breast_cancer,
    "iris": load_iris,
}
KINDS = ("uniform", "sparse", "pair")
RATES = (0.1, 0.2, 0.4)
#: Targets of the issue: mean F1 on digits at these rates, and seconds for 10,000 x 64.
TARGET_F1, TARGET_RATES, TARGET_SECONDS = 0.90, (0.2, 0.4), 30.0


def inject(labels: np.ndarray, kind: str, rate: float, seed: int) -> noise.NoisyLabels:
    """Noisy labels of a kind at a rate, seeded.

    Parameters
    ----------
    labels : ndarray of shape (N,)
        True labels 0..K-1.
    kind : {"uniform", "sparse", "pair"}
    rate : float
        Share of flipped rows (for ``sparse`` and ``pair`` the per-class rate).
    seed : int

    Returns
    -------
    NoisyLabels
    """
    k = int(labels.max()) + 1
    if kind == "uniform":
        return noise.uniform_noise(labels, rate, random_state=seed)
    if kind == "sparse":
        matrix = noise.generate_noise_matrix(
            k, trace=k * (1.0 - rate), sparsity=0.5, random_state=seed
        )
        return noise.noise_from_matrix(labels, matrix, random_state=seed)
    if kind == "pair":
        cycle = np.random.default_rng(seed).permutation(k)
        pairs = {(int(cycle[i]), int(cycle[(i + 1) % k])): rate for i in range(k)}
        return noise.pair_flips(labels, pairs, random_state=seed)
    raise ValueError(f"unknown noise kind {kind!r}")


def scores(flagged: np.ndarray, truth: np.ndarray) -> tuple[float, float, float]:
    """Precision, recall and F1 of a boolean mask against the truth (0 when undefined)."""
    hits = int(np.count_nonzero(flagged & truth))
    precision = hits / max(int(flagged.sum()), 1)
    recall = hits / max(int(truth.sum()), 1)
    f1 = 2 * precision * recall / (precision + recall) if hits else 0.0
    return precision, recall, f1


def auto_pipeline(X: np.ndarray, labels: np.ndarray, seed: int) -> tuple[np.ndarray, str]:
    """Flagged rows (N,) bool from the automatic model, and a line describing the model."""
    choice = choose_model(X, labels, random_state=seed)
    return analysis.find_label_issues(labels, choice.pred_probs), choice.describe()


def plain_pipeline(X: np.ndarray, labels: np.ndarray, seed: int) -> np.ndarray:
    """Flagged rows (N,) bool from out-of-fold LogisticRegressionCV on standardised features."""
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)
    # C chosen among LogisticRegressionCV's 10 defaults by inner 5-fold log-loss (the default
    # scoring from scikit-learn 1.11 on; accuracy before)
    model = make_pipeline(
        StandardScaler(), LogisticRegressionCV(scoring="neg_log_loss", max_iter=1000)
    )
    with threadpool_limits(limits=1, user_api="blas"), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", FutureWarning)  # 1.9's notes on changing defaults
        probs = cross_val_predict(model, X, labels, cv=folds, method="predict_proba")
    return analysis.find_label_issues(labels, probs)


@dataclass
class Row:
    dataset: str
    kind: str
    rate: float
    seed: int
    flipped: int
    auto: tuple[float, float, float]
    plain: tuple[float, float, float]
    auto_s: float
    plain_s: float
    model: str


def timed(fn, *args):
    start = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - start


def run_one(name: str, X, y, kind: str, rate: float, seed: int) -> Row:
    noisy = inject(y, kind, rate, seed)
    (flag_auto, model), t_auto = timed(auto_pipeline, X, noisy.labels, seed)
    flag_plain, t_plain = timed(plain_pipeline, X, noisy.labels, seed)
    return Row(
        name, kind, rate, seed, noisy.num_flipped,
        scores(flag_auto, noisy.is_flipped), scores(flag_plain, noisy.is_flipped),
        t_auto, t_plain, model,
    )


def fmt(prf: tuple[float, float, float]) -> str:
    return " ".join(f"{v:5.3f}" for v in prf)


def print_rows(rows: list[Row], verbose: bool) -> None:
    head = (
        f"{'data set':14s} {'kind':8s} {'rate':>4s} {'seed':>4s} {'flips':>5s} | "
        f"{'auto P    R     F1':18s} | {'plain P   R     F1':18s} | {'auto s':>6s} {'plain s':>7s}"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        print(
            f"{r.dataset:14s} {r.kind:8s} {r.rate:4.1f} {r.seed:4d} {r.flipped:5d} | "
            f"{fmt(r.auto)} | {fmt(r.plain)} | {r.auto_s:6.1f} {r.plain_s:7.1f}"
        )
        if verbose:
            print(f"{'':14s} model: {r.model}")


def mean_f1(rows: list[Row], which: str) -> float:
    return float(np.mean([getattr(r, which)[2] for r in rows]))


def print_summary(rows: list[Row]) -> dict[str, tuple[float, float]]:
    print("\nMean F1 per data set (all kinds, rates and seeds)")
    print(f"{'data set':14s} {'auto':>6s} {'plain':>6s} {'gain':>6s}   " + "  ".join(
        f"{'@' + format(rate, '.0%'):>13s}" for rate in RATES))
    per_set = {}
    for name in dict.fromkeys(r.dataset for r in rows):
        mine = [r for r in rows if r.dataset == name]
        auto, plain = mean_f1(mine, "auto"), mean_f1(mine, "plain")
        per_set[name] = (auto, plain)
        by_rate = []
        for rate in RATES:
            at = [r for r in mine if r.rate == rate]
            by_rate.append(
                f"{mean_f1(at, 'auto'):.3f}/{mean_f1(at, 'plain'):.3f}" if at else f"{'-':>11s}"
            )
        print(f"{name:14s} {auto:6.3f} {plain:6.3f} {auto - plain:+6.3f}   " + "  ".join(
            f"{b:>13s}" for b in by_rate))
    print("(per rate: auto/plain)")
    print("\nMean F1 per noise kind (all data sets)")
    for kind in dict.fromkeys(r.kind for r in rows):
        mine = [r for r in rows if r.kind == kind]
        print(f"  {kind:8s} auto {mean_f1(mine, 'auto'):.3f}   plain {mean_f1(mine, 'plain'):.3f}")
    return per_set


def timing_row(n: int, features: int, classes: int) -> tuple[float, float, float, float]:
    """Seconds and F1 of both pipelines on a generated (n, features) set, 20% uniform noise."""
    X, y = make_classification(
        n_samples=n, n_features=features, n_informative=features // 2,
        n_redundant=features // 8, n_classes=classes, n_clusters_per_class=2,
        class_sep=2.0, random_state=0,
    )
    noisy = noise.uniform_noise(y, 0.2, random_state=0)
    (flag_auto, _), t_auto = timed(auto_pipeline, X, noisy.labels, 0)
    flag_plain, t_plain = timed(plain_pipeline, X, noisy.labels, 0)
    return (
        t_auto, t_plain,
        scores(flag_auto, noisy.is_flipped)[2], scores(flag_plain, noisy.is_flipped)[2],
    )


#: ``--cleanlab-noise``: cleanlab's generator, (kind, rate, share of zero noise rates).
CLEANLAB_CASES = (("dense", 0.2, 0.0), ("sparse", 0.2, 0.5), ("sparse", 0.4, 0.5))
#: ``--cleanlab-noise`` target: mean F1 on digits of the combined detector.
TARGET_COMBINED_F1 = 0.92


def cleanlab_noise(labels: np.ndarray, rate: float, frac_zero: float, seed: int) -> np.ndarray:
    """Noisy labels from cleanlab's own generator (``cleanlab.benchmarking.noise_generation``):
    a valid noise matrix with trace ``K * (1 - rate)`` and ``frac_zero`` of its off-diagonal
    rates zero, the true class prior as ``py``; seeded."""
    from cleanlab.benchmarking.noise_generation import (
        generate_noise_matrix_from_trace,
        generate_noisy_labels,
    )

    k = int(labels.max()) + 1
    py = np.bincount(labels, minlength=k) / labels.size
    matrix = generate_noise_matrix_from_trace(k, k * (1 - rate), py=py, valid_noise_matrix=True,
                                              frac_zero_noise_rates=frac_zero, seed=seed)
    np.random.seed(seed)  # noqa: NPY002 - generate_noisy_labels uses the global generator
    return np.asarray(generate_noisy_labels(labels, matrix))


def combined_rows(names: list[str], seeds: int, max_rounds: int = 3, first_seed: int = 1) -> int:
    """Confident learning alone vs the combined detector (``Analysis.relearned``: clean with
    the flags' suggestions, fit the model again out-of-fold with
    :data:`analysis.pipeline.REFIT_CV` folds, flag as many rows as confident learning does
    on the new probabilities, lowest self-confidence relative to their class first
    (:func:`analysis.pipeline.relative_confidence_flags`); round r+1 cleans the given labels
    with round r's flags) on cleanlab's noise. Prints F1
    and average precision of the ranking after 1..``max_rounds`` refits and the seconds of
    each fit; the verdicts are for the app's :data:`analysis.pipeline.REFIT_ROUNDS`."""
    from sklearn.metrics import average_precision_score

    from analysis.pipeline import REFIT_ROUNDS

    heads = " | ".join(f"{f'refit x{r} F1':>12s} {'AP':>5s}" for r in range(1, max_rounds + 1))
    print(f"{'data set':14s} {'noise':11s} {'seed':>4s} {'flips':>5s} | {'CL F1':>6s} "
          f"{'AP':>5s} | {heads} | seconds per fit")
    results = []
    for name in names:
        X, y = DATASETS[name](return_X_y=True)
        for kind, rate, frac in CLEANLAB_CASES:
            for seed in range(first_seed, first_seed + seeds):
                noisy = cleanlab_noise(y, rate, frac, seed)
                truth = noisy != y
                ds = analysis.from_arrays(X, noisy)
                times = []
                with threadpool_limits(limits=1, user_api="blas"):
                    start = time.perf_counter()
                    fits = [analysis.analyze(ds, random_state=seed, use_cache=False,
                                             detector="confident_learning")]
                    _ = fits[0].is_issue
                    times.append(time.perf_counter() - start)
                    for _r in range(max_rounds):  # one more round = refit from the last flags
                        start = time.perf_counter()
                        fits.append(fits[-1].relearned(rounds=1, random_state=seed,
                                                       use_cache=False))
                        _ = fits[-1].is_issue
                        times.append(time.perf_counter() - start)
                f1 = [scores(a.is_issue, truth)[2] for a in fits]
                ap = [average_precision_score(truth, -a.scores) for a in fits]
                results.append((name, f1, ap, np.cumsum(times)))
                cells = " | ".join(f"{f:12.3f} {a:5.3f}" for f, a in zip(f1[1:], ap[1:],
                                                                         strict=True))
                print(f"{name:14s} {kind + f' {rate:.0%}':11s} {seed:4d} {int(truth.sum()):5d} | "
                      f"{f1[0]:6.3f} {ap[0]:5.3f} | {cells} | "
                      + " ".join(f"{t:.1f}" for t in times), flush=True)
    print("\nMean per data set: F1 / average precision, CL alone then after 1, 2, ... refits")
    verdicts = []
    for name in names:
        mine = [r for r in results if r[0] == name]
        f1 = np.mean([r[1] for r in mine], axis=0)
        ap = np.mean([r[2] for r in mine], axis=0)
        seconds = np.mean([r[3] for r in mine], axis=0)
        print(f"  {name:14s} " + "   ".join(f"{'CL' if i == 0 else f'x{i}'} {f:.4f}/{a:.3f}"
                                            for i, (f, a) in enumerate(zip(f1, ap, strict=True))))
        chosen = min(REFIT_ROUNDS, max_rounds)
        print(f"  {'':14s} seconds per noisy set: CL alone {seconds[0]:.1f}, combined "
              f"(x{chosen}) {seconds[chosen]:.1f} ({seconds[chosen] / seconds[0]:.1f}x)")
        verdicts.append((f1[chosen] >= f1[0] and ap[chosen] >= ap[0],
                         f"{name}: combined (x{chosen}) F1 {f1[chosen]:.3f} >= CL alone "
                         f"{f1[0]:.3f} and AP {ap[chosen]:.3f} >= {ap[0]:.3f}"))
        if name == "digits":
            verdicts.append((f1[chosen] >= TARGET_COMBINED_F1,
                             f"digits: combined (x{chosen}) mean F1 {f1[chosen]:.4f} "
                             f"(target >= {TARGET_COMBINED_F1})"))
    print("\nTargets")
    for ok, text in verdicts:
        print(f"  [{'met' if ok else 'NOT MET'}] {text}")
    return 0 if all(ok for ok, _ in verdicts) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--seeds", type=int, default=2, help="seeds per configuration")
    parser.add_argument("--no-timing", action="store_true", help="skip the 10,000 x 64 row")
    parser.add_argument("--verbose", action="store_true", help="print each chosen model")
    parser.add_argument("--cleanlab-noise", action="store_true",
                        help="confident learning alone vs the combined detector on cleanlab's "
                        "noise generator (digits, wine, breast cancer; needs the reference "
                        "extra)")
    parser.add_argument("--max-rounds", type=int, default=3,
                        help="--cleanlab-noise: refit rounds to report (default 3)")
    parser.add_argument("--first-seed", type=int, default=1,
                        help="--cleanlab-noise: first seed (default 1; the targets are for "
                        "seeds 1-2, later seeds check that a choice was not fitted to them)")
    args = parser.parse_args(argv)
    if args.cleanlab_noise:
        names = [n for n in args.datasets.split(",") if n != "iris"]
        return combined_rows(names, args.seeds, args.max_rounds, args.first_seed)

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"python {platform.python_version()}, {os.cpu_count()} cores, load average {load:.1f} "
        f"at start; filter: find_label_issues default (prune_by_noise_rate)\n"
    )
    rows = []
    for name in args.datasets.split(","):
        X, y = DATASETS[name](return_X_y=True)
        for kind in args.kinds.split(","):
            for rate in RATES:
                for seed in range(1, args.seeds + 1):
                    rows.append(run_one(name, X, y, kind, rate, seed))
    print_rows(rows, args.verbose)
    per_set = print_summary(rows)

    verdicts = []
    digits = [r for r in rows if r.dataset == "digits" and r.rate in TARGET_RATES]
    if digits:
        f1 = mean_f1(digits, "auto")
        verdicts.append((f1 >= TARGET_F1, f"mean F1 on digits at 20% and 40%: {f1:.3f} "
                                          f"(target >= {TARGET_F1})"))
    worse = [n for n, (a, p) in per_set.items() if a <= p]
    verdicts.append((not worse, "auto beats plain on every data set" + (
        f" -- not on {', '.join(worse)}" if worse else "")))
    if not args.no_timing:
        t_auto, t_plain, f_auto, f_plain = timing_row(10_000, 64, 10)
        print(
            f"\nTiming, 10,000 x 64, 10 classes, 20% uniform noise: auto {t_auto:.1f} s "
            f"(F1 {f_auto:.3f}), plain {t_plain:.1f} s (F1 {f_plain:.3f})"
        )
        verdicts.append((t_auto <= TARGET_SECONDS, f"10,000 x 64 in {t_auto:.1f} s "
                                                   f"(target <= {TARGET_SECONDS:.0f} s)"))
    print("\nTargets")
    for ok, text in verdicts:
        print(f"  [{'met' if ok else 'NOT MET'}] {text}")
    return 0 if all(ok for ok, _ in verdicts) else 1


if __name__ == "__main__":
    raise SystemExit(main())
