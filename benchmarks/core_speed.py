"""Time every confident-learning call against the reference implementation (cleanlab 2.x).

    python benchmarks/core_speed.py                 # N = 1,000,000, K = 100, float32
    python benchmarks/core_speed.py --n 100000      # smaller, quicker
    python benchmarks/core_speed.py --multilabel-only   # only the multi-label rows (#28)

Prints one row per call: noiselens time, cleanlab time, the speed-up, whether the outputs are
identical, and the peak memory the noiselens call added on top of its inputs (from the
process's peak resident set, reset before each call), next to the size of ``pred_probs``.
Each noiselens call is run once to warm up (numba compilation, cached on disk) and timed
as the best of ``--repeat`` runs; cleanlab runs once (it takes seconds).

The multi-label rows (``analysis.core.multilabel`` against cleanlab's
``multilabel_classification``) run on ``--ml-n`` rows x ``--ml-k`` tags (default 100,000 x
50, the scale #28 asks for), float32, about a quarter of the tags given per row.
"""

from __future__ import annotations

import argparse
import platform
import time
import warnings
from pathlib import Path

import numpy as np

import analysis as nl


def make_data(n: int, k: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Labels with 20% uniform noise and float32 softmax probabilities that know the truth."""
    rng = np.random.default_rng(seed)
    true = rng.integers(0, k, n)
    labels = true.copy()
    flip = rng.random(n) < 0.2
    labels[flip] = rng.integers(0, k, int(flip.sum()))
    probs = rng.standard_normal((n, k), dtype=np.float32)
    probs[np.arange(n), true] += 3.0
    np.exp(probs, out=probs)
    probs /= probs.sum(axis=1, keepdims=True)
    return labels, probs


def _rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1])
    return 0


def peak_extra_mib(fn) -> float:
    """Peak resident memory added while ``fn`` runs (Linux: VmHWM after a reset)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return float("nan")
    before = _rss_kib("VmRSS")
    fn()
    return (_rss_kib("VmHWM") - before) / 1024


def best_time(fn, repeat: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def same(a, b) -> bool:
    if isinstance(a, tuple):
        return all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(np.array_equal(np.asarray(a), np.asarray(b)))


def calls(labels, probs):
    """(name, noiselens call, cleanlab call) for every public call."""
    from cleanlab.count import compute_confident_joint, estimate_latent
    from cleanlab.count import num_label_issues as cl_num
    from cleanlab.filter import find_label_issues as cl_find
    from cleanlab.rank import get_label_quality_scores

    def cl_noise():
        cj = compute_confident_joint(labels, probs)
        return (cj, *estimate_latent(cj, labels))

    def nl_noise():
        e = nl.estimate_noise(labels, probs)
        return e.confident_joint, e.prior_true, e.noise_matrix, e.inverse_noise_matrix

    rows = [
        ("confident_joint", lambda: nl.confident_joint(labels, probs),
         lambda: compute_confident_joint(labels, probs)),
        ("estimate_noise", nl_noise, cl_noise),
        ("num_label_issues", lambda: nl.num_label_issues(labels, probs),
         lambda: cl_num(labels, probs)),
    ]
    for method in nl.RANKINGS:
        rows.append((
            f"label_quality_scores[{method}]",
            lambda m=method: nl.label_quality_scores(labels, probs, method=m),
            lambda m=method: get_label_quality_scores(labels, probs, method=m),
        ))
    for filter_by in nl.FILTERS:
        rows.append((
            f"find_label_issues[{filter_by}]",
            lambda f=filter_by: nl.find_label_issues(labels, probs, filter_by=f),
            lambda f=filter_by: cl_find(labels, probs, filter_by=f),
        ))
    for rank_by in nl.RANKINGS:
        rows.append((
            f"find_label_issues[rank_by={rank_by}]",
            lambda r=rank_by: nl.find_label_issues(labels, probs, rank_by=r),
            lambda r=rank_by: cl_find(labels, probs, return_indices_ranked_by=r),
        ))
    return rows


def make_multilabel(n: int, k: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(N, K) 0/1 tags with about a quarter given per row, 10% of cells flipped, and float32
    per-class probabilities from a noisy logit of the true tags."""
    rng = np.random.default_rng(seed)
    truth = rng.random((n, k), dtype=np.float32) < 0.25
    logit = np.where(truth, 1.5, -1.5) + rng.normal(0, 1.2, (n, k)).astype(np.float32)
    probs = (1 / (1 + np.exp(-logit))).astype(np.float32)
    given = (truth ^ (rng.random((n, k), dtype=np.float32) < 0.1)).astype(np.uint8)
    return given, probs


def multilabel_calls(labels, probs):
    """(name, noiselens call, cleanlab call) for the multi-label calls."""
    from cleanlab.count import compute_confident_joint
    from cleanlab.multilabel_classification import dataset as cl_dataset
    from cleanlab.multilabel_classification import filter as cl_filter
    from cleanlab.multilabel_classification import rank as cl_rank

    from analysis.core import multilabel as ml

    tags = ml.matrix_to_tags(labels)
    return [
        ("multilabel confident_joint (K x 2 x 2)",
         lambda: ml.multilabel_confident_joint(labels, probs),
         lambda: compute_confident_joint(tags, probs, multi_label=True)),
        ("find_multilabel_issues",
         lambda: ml.find_multilabel_issues(labels, probs),
         lambda: cl_filter.find_label_issues(tags, probs, n_jobs=1)),
        ("multilabel_quality_scores[ema]",
         lambda: ml.multilabel_quality_scores(labels, probs,
                                              aggregator="exponential_moving_average"),
         lambda: cl_rank.get_label_quality_scores(tags, probs)),
        ("multilabel_quality_scores[softmin]",
         lambda: ml.multilabel_quality_scores(labels, probs, aggregator="softmin"),
         lambda: cl_rank.get_label_quality_scores(
             tags, probs, aggregator_kwargs={"method": "softmin"})),
        ("rank_classes_by_multilabel_quality",
         lambda: ml.rank_classes_by_multilabel_quality(
             labels, ml.find_multilabel_issues(labels, probs, per_class=True))["class"],
         lambda: cl_dataset.rank_classes_by_multilabel_quality(tags, probs)["Class Index"]),
    ]


def close(a, b) -> bool:
    """Identical, or (float scores) equal to 1e-6."""
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype.kind == "f" and a.shape == b.shape:
        return bool(np.allclose(a, b, rtol=0, atol=1e-6))
    return same(a, b)


def run_rows(rows, repeat: int, compare=same) -> float:
    """Print one line per (name, ours, reference); the slowest speed-up."""
    worst = float("inf")
    for name, ours, ref in rows:
        ours()  # warm-up: numba compiles (or loads its disk cache) on first use
        mem = peak_extra_mib(ours)
        t_ours, out_ours = best_time(ours, repeat)
        t0 = time.perf_counter()
        out_ref = ref()
        t_ref = time.perf_counter() - t0
        ratio = t_ref / t_ours
        worst = min(worst, ratio)
        print(f"{name:46} {t_ours:11.3f} {t_ref:10.3f} {ratio:6.1f}x "
              f"{'yes' if compare(out_ours, out_ref) else 'NO':>5} {mem:9.0f}")
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--k", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--ml-n", type=int, default=100_000)
    parser.add_argument("--ml-k", type=int, default=50)
    parser.add_argument("--multilabel-only", action="store_true")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    header = f"{'call':46} {'noiselens s':>11} {'cleanlab s':>10} {'ratio':>7} {'same':>5} " \
             f"{'extra MiB':>9}"
    machine = f"{platform.processor() or platform.machine()}, {__import__('os').cpu_count()} cores"
    if not args.multilabel_only:
        labels, probs = make_data(args.n, args.k)
        size_mib = probs.nbytes / 2**20
        print(f"N={args.n:,} K={args.k} float32, pred_probs {size_mib:.0f} MiB; {machine}")
        print(header)
        print("-" * len(header))
        worst = run_rows(calls(labels, probs), args.repeat)
        print(f"slowest speed-up: {worst:.1f}x; pred_probs itself is {size_mib:.0f} MiB")
        del labels, probs
    tags, probs = make_multilabel(args.ml_n, args.ml_k)
    size_mib = probs.nbytes / 2**20
    print(f"\nmulti-label: N={args.ml_n:,} K={args.ml_k} float32, pred_probs {size_mib:.0f} MiB; "
          f"{machine} ('same': identical, scores to 1e-6)")
    print(header)
    print("-" * len(header))
    worst = run_rows(multilabel_calls(tags, probs), args.repeat, compare=close)
    print(f"slowest speed-up: {worst:.1f}x; pred_probs itself is {size_mib:.0f} MiB")


if __name__ == "__main__":
    main()
