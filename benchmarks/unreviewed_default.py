"""Which flagged rows may the default cleaned split relabel when nobody reviewed them?

    python benchmarks/unreviewed_default.py                     # samples + 3 sklearn sets
    python benchmarks/unreviewed_default.py --seeds 1 --datasets digits --rates 0.2

``noiselens analyze --clean auto`` (no review of the dataset) and the Review page's
"suggestions without review" turn the detector's suggestions into decisions. A relabel is
right when the suggested class is the row's true class; a relabel of a row whose given label
was right *breaks* a correct label. This script measures, on data of known truth, the
precision of the automatic relabel among the flagged rows under candidate rules:

* ``all flagged``: every flagged row relabelled (the old default);
* ``p >= t``: only rows whose suggested class has an out-of-fold probability of at least t;
* ``both``: only rows flagged by both detectors (confident learning on the first fit, and
  the combined detector after the refits);
* ``both & p >= t``: both conditions;
* ``joint agrees``: the confident joint counts the row for the suggested class (its
  probability of that class reaches the class's threshold), with or without ``p >= 0.9``.

Rows a rule does not relabel keep their label and get a flag column instead.

Data of known truth, nothing downloaded: the bundled samples (``analysis.from_sample``, their
injected noise and its truth), and scikit-learn's digits, wine and breast cancer with noise
from ``analysis.data.noise`` (uniform, pair flips) and from cleanlab's generator (sparse noise
matrix, half its off-diagonal rates zero), at several rates and seeds. Every case runs the
default detector (``analyze(detector="auto")``: the combined detector, with its first pass
kept for ``both``), BLAS on one thread.

Printed per rule, pooled over all cases: rows relabelled (share of the flagged rows), their
precision (suggestion = truth), the share of them whose label was right before (broken), the
worst case's precision, and the net labels fixed (right after - right before) per 100 flagged
rows. A second table gives the precision by noise rate.
"""

from __future__ import annotations

import argparse
import time
import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.datasets import load_breast_cancer, load_digits, load_wine
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

import analysis
from analysis.data import noise

SKLEARN = {"digits": load_digits, "wine": load_wine, "breast_cancer": load_breast_cancer}
SAMPLES = ("digits", "wine", "breast_cancer", "digits_vendors")
KINDS = ("uniform", "pair", "cleanlab")
RATES = (0.1, 0.2, 0.4)
THRESHOLDS = (0.5, 0.7, 0.8, 0.9, 0.95)


@dataclass
class Case:
    name: str
    rate: float
    labels: np.ndarray
    truth: np.ndarray
    probs: np.ndarray  # the combined detector's final probabilities
    flagged: np.ndarray
    first: np.ndarray  # confident learning's flags on the first fit
    suggested: np.ndarray
    guess: np.ndarray  # the class each row counts for in the final confident joint (-1: none)


def inject(y: np.ndarray, kind: str, rate: float, seed: int) -> np.ndarray:
    """Noisy labels of a kind at a rate, seeded."""
    k = int(y.max()) + 1
    if kind == "uniform":
        return noise.uniform_noise(y, rate, random_state=seed).labels
    if kind == "pair":
        cycle = np.random.default_rng(seed).permutation(k)
        pairs = {(int(cycle[i]), int(cycle[(i + 1) % k])): rate for i in range(k)}
        return noise.pair_flips(y, pairs, random_state=seed).labels
    from cleanlab.benchmarking.noise_generation import (
        generate_noise_matrix_from_trace,
        generate_noisy_labels,
    )

    py = np.bincount(y, minlength=k) / y.size
    matrix = generate_noise_matrix_from_trace(k, k * (1 - rate), py=py, valid_noise_matrix=True,
                                              frac_zero_noise_rates=0.5, seed=seed)
    np.random.seed(seed)  # noqa: NPY002 - cleanlab's generator uses the global generator
    return np.asarray(generate_noisy_labels(y, matrix))


def run_case(name: str, rate: float, dataset, truth: np.ndarray, seed: int) -> Case:
    with threadpool_limits(limits=1, user_api="blas"), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        first = analysis.analyze(dataset, detector="confident_learning", random_state=seed,
                                 use_cache=False)
        final = first.relearned(random_state=seed, use_cache=False)
        return Case(name, rate, np.asarray(final.labels), truth, final.pred_probs,
                    np.asarray(final.is_issue), np.asarray(first.is_issue),
                    np.asarray(final.suggested), np.asarray(final.estimated_true))


def rules() -> dict[str, callable]:
    out = {"all flagged": lambda c, p: c.flagged}
    for t in THRESHOLDS:
        out[f"p >= {t:g}"] = lambda c, p, t=t: c.flagged & (p >= t)
    out["joint agrees"] = lambda c, p: c.flagged & (c.guess == c.suggested)
    out["joint & p >= 0.9"] = lambda c, p: c.flagged & (c.guess == c.suggested) & (p >= 0.9)
    out["both"] = lambda c, p: c.flagged & c.first
    for t in THRESHOLDS:
        out[f"both & p >= {t:g}"] = lambda c, p, t=t: c.flagged & c.first & (p >= t)
    return out


def cases(args) -> list[Case]:
    out = []
    start = time.perf_counter()
    for seed in range(1, args.seeds + 1):
        if not args.no_samples and seed == 1:  # the samples' noise is fixed: one run each
            for name in SAMPLES:
                ds = analysis.from_sample(name)
                out.append(run_case(f"sample {name}", float(np.mean(ds.true_labels != ds.labels)),
                                    ds, np.asarray(ds.true_labels), seed))
                print(f"  {out[-1].name:28s} {time.perf_counter() - start:6.0f} s", flush=True)
        for name in args.datasets.split(","):
            X, y = SKLEARN[name](return_X_y=True)
            for kind in args.kinds.split(","):
                for rate in (float(r) for r in args.rates.split(",")):
                    noisy = inject(y, kind, rate, seed)
                    ds = analysis.from_arrays(X, noisy)
                    out.append(run_case(f"{name} {kind} {rate:.0%} s{seed}", rate, ds, y, seed))
                    print(f"  {out[-1].name:28s} {time.perf_counter() - start:6.0f} s",
                          flush=True)
    return out


def table(all_cases: list[Case], title: str) -> None:
    flagged_total = sum(int(c.flagged.sum()) for c in all_cases)
    print(f"\n{title}: {len(all_cases)} cases, {flagged_total:,} flagged rows in all\n")
    head = (f"{'rule':18s} {'relabelled':>10s} {'of flagged':>10s} {'precision':>9s} "
            f"{'broken':>7s} {'worst case':>10s} {'net fixed /100 flagged':>22s}  worst case")
    print(head)
    print("-" * len(head))
    for name, rule in rules().items():
        n = right = broken = 0
        worst, worst_case = 1.0, "-"
        for c in all_cases:
            p = c.probs[np.arange(c.labels.size), c.suggested]
            rows = rule(c, p)
            hit = int((rows & (c.suggested == c.truth)).sum())
            bad = int((rows & (c.labels == c.truth)).sum())
            n, right, broken = n + int(rows.sum()), right + hit, broken + bad
            if rows.sum() >= 5 and hit / rows.sum() < worst:  # of 1 or 2 rows says nothing
                worst, worst_case = hit / rows.sum(), c.name
        prec = right / n if n else float("nan")
        print(f"{name:18s} {n:10,d} {n / flagged_total:10.1%} {prec:9.1%} "
              f"{broken / max(n, 1):7.1%} {worst:10.1%} "
              f"{100 * (right - broken) / flagged_total:22.1f}  {worst_case}")


def by_rate(all_cases: list[Case], rates: list[float]) -> None:
    print("\nPrecision of the relabel by noise rate (sklearn sets; rows relabelled in brackets)")
    chosen = ["all flagged", "p >= 0.9", "both", "both & p >= 0.9", "both & p >= 0.95"]
    print(f"{'rule':18s} " + " ".join(f"{f'@{r:.0%}':>16s}" for r in rates))
    for name in chosen:
        rule = rules()[name]
        cells = []
        for r in rates:
            n = right = 0
            for c in all_cases:
                if c.name.startswith("sample") or c.rate != r:
                    continue
                p = c.probs[np.arange(c.labels.size), c.suggested]
                rows = rule(c, p)
                n += int(rows.sum())
                right += int((rows & (c.suggested == c.truth)).sum())
            cells.append(f"{right / max(n, 1):7.1%} ({n:5,d})")
        print(f"{name:18s} " + " ".join(f"{x:>16s}" for x in cells))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default=",".join(SKLEARN))
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--rates", default=",".join(str(r) for r in RATES))
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--no-samples", action="store_true")
    args = parser.parse_args(argv)
    all_cases = cases(args)
    samples = [c for c in all_cases if c.name.startswith("sample")]
    if samples:
        table(samples, "The bundled samples")
    table(all_cases, "All cases")
    by_rate(all_cases, [float(r) for r in args.rates.split(",")])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
