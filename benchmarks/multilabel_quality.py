"""Multi-label label-error detection (#28): our ranking and flagged set against cleanlab 2.9's.

The set-up of Thyagarajan et al. 2023 ("Identifying Incorrect Annotations in Multi-Label
Classification Data"; cleanlab/multilabel-error-detection-benchmarks), rebuilt here:

* data from ``sklearn.datasets.make_multilabel_classification`` (document length 500,
  unlabelled rows allowed, features scaled to unit length): **small** 6,000 rows x 3 features
  x 4 classes, 2 tags on average; **large** 37,500 rows x 20 features x 50 classes, 5 tags;
* per-class 2x2 label noise: class k keeps a tag with probability ``t_k`` on average over its
  two true values, ``1 - t_k ~ Gamma(shape 2, scale 0.01)`` (about 2% flips), the flip budget
  ``2 (1 - t_k)`` split at random between a missing tag (true 1 given 0) and an extra one
  (true 0 given 1), each rate at most 0.5; at most 3 tags of a row are flipped;
* 5-fold out-of-fold per-class probabilities (``analysis.model.multilabel``): logistic
  regression per class, or a multi-output random forest;
* a row is truly wrong when any of its given tags differs from the true ones.

Reported per data set and model, averaged over seeds: AUROC and AUPRC of each row ranking
(lower quality = more likely wrong) — ours (``multilabel_quality_scores``: its default, the
softmin, and the moving average) and cleanlab's ``rank.get_label_quality_scores`` (its
default, the moving average, and the softmin) on the same probabilities — and precision /
recall / F1 of the flagged rows (ours ``find_multilabel_issues``, cleanlab's
``filter.find_label_issues``). Ours and cleanlab's are equal aggregator for aggregator, by
construction (tests/test_multilabel.py); the table shows it on these data too.

    python benchmarks/multilabel_quality.py                       # 3 seeds, both sizes
    python benchmarks/multilabel_quality.py --seeds 5 --large-seeds 2
    python benchmarks/multilabel_quality.py --seeds 1 --sizes small
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from sklearn.datasets import make_multilabel_classification
from sklearn.metrics import average_precision_score, roc_auc_score

from analysis.core import multilabel as ml
from analysis.model.multilabel import choose_multilabel_model

SIZES = {
    "small": {"n_samples": 6000, "n_features": 3, "n_classes": 4, "n_labels": 2},
    "large": {"n_samples": 37500, "n_features": 20, "n_classes": 50, "n_labels": 5},
}
#: The paper's document length and Gamma(2, 0.01) noise (its params.yaml).
LENGTH = 500
GAMMA_SHAPE, GAMMA_SCALE = 2.0, 0.01
MAX_FLIPS_PER_ROW = 3
RANKINGS = ("ours: default (softmin)", "ours: moving average", "cleanlab: default (moving "
            "average)", "cleanlab: softmin")


def noisy_dataset(size: str, seed: int):
    """(X, true tags, given tags) of one seeded data set."""
    X, truth = make_multilabel_classification(**SIZES[size], length=LENGTH,
                                              allow_unlabeled=True, random_state=seed)
    X = X / np.clip(np.linalg.norm(X, axis=1, keepdims=True), 1e-12, None)
    rng = np.random.default_rng(seed)
    k = truth.shape[1]
    budget = 2 * rng.gamma(GAMMA_SHAPE, GAMMA_SCALE, size=k)  # 2 (1 - t_k)
    share = rng.uniform(size=k)
    missing = np.minimum(budget * share, 0.5)  # P(given 0 | true 1)
    extra = np.minimum(budget * (1 - share), 0.5)  # P(given 1 | true 0)
    given = truth.copy()
    flips = np.zeros(truth.shape[0], dtype=np.int64)
    for c in range(k):
        rate = np.where(truth[:, c] == 1, missing[c], extra[c])
        flip = (rng.random(truth.shape[0]) < rate) & (flips < MAX_FLIPS_PER_ROW)
        given[flip, c] = 1 - given[flip, c]
        flips += flip
    return X, truth.astype(np.uint8), given.astype(np.uint8)


def rankings(given, probs) -> dict[str, np.ndarray]:
    from cleanlab.multilabel_classification import rank as cl_rank

    tags = ml.matrix_to_tags(given)
    return {
        RANKINGS[0]: ml.multilabel_quality_scores(given, probs),
        RANKINGS[1]: ml.multilabel_quality_scores(given, probs,
                                                  aggregator="exponential_moving_average"),
        RANKINGS[2]: cl_rank.get_label_quality_scores(tags, probs),
        RANKINGS[3]: cl_rank.get_label_quality_scores(
            tags, probs, aggregator_kwargs={"method": "softmin"}),
    }


def prf(flagged: np.ndarray, wrong: np.ndarray) -> tuple[float, float, float]:
    tp = float((flagged & wrong).sum())
    precision = tp / max(flagged.sum(), 1)
    recall = tp / max(wrong.sum(), 1)
    f1 = 2 * precision * recall / max(precision + recall, 1e-12)
    return precision, recall, f1


def one_run(size: str, model: str, seed: int) -> dict:
    from cleanlab.multilabel_classification import filter as cl_filter

    X, truth, given = noisy_dataset(size, seed)
    wrong = (truth != given).any(axis=1)
    t0 = time.perf_counter()
    probs = choose_multilabel_model(X, given, model=model, cv=5, random_state=seed).pred_probs
    fit = time.perf_counter() - t0
    out = {"wrong": wrong.mean(), "fit_s": fit}
    for name, score in rankings(given, probs).items():
        out[f"auroc {name}"] = roc_auc_score(wrong, -score)
        out[f"auprc {name}"] = average_precision_score(wrong, -score)
    ours = ml.find_multilabel_issues(given, probs)
    theirs = cl_filter.find_label_issues(ml.matrix_to_tags(given), probs, n_jobs=1)
    out["same flagged"] = float(np.array_equal(ours, theirs))
    for who, mask in (("ours", ours), ("cleanlab", theirs)):
        p, r, f = prf(mask, wrong)
        out[f"precision {who}"], out[f"recall {who}"], out[f"f1 {who}"] = p, r, f
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--large-seeds", type=int, default=None,
                        help="seeds of the large data set (default: --seeds)")
    parser.add_argument("--sizes", default="small,large")
    parser.add_argument("--models", default="logistic,random_forest")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    rows = []
    for size in args.sizes.split(","):
        seeds = args.large_seeds if size == "large" and args.large_seeds else args.seeds
        for model in args.models.split(","):
            runs = [one_run(size, model, seed) for seed in range(seeds)]
            mean = {key: float(np.mean([r[key] for r in runs])) for key in runs[0]}
            rows.append((size, model, seeds, mean))
            print(f"{size} {model}: {seeds} seed(s), {mean['fit_s']:.0f} s per fit", flush=True)
    print("\nmeans over the seeds; AUROC / AUPRC of the row ranking; flagged set precision / "
          "recall / F1\n")
    print("| data | model | seeds | wrong rows | " + " | ".join(RANKINGS)
          + " | flagged ours P / R / F1 | flagged cleanlab P / R / F1 | same flagged |")
    print("|" + " --- |" * (len(RANKINGS) + 7))
    for size, model, seeds, m in rows:
        ranks = " | ".join(f"{m['auroc ' + n]:.3f} / {m['auprc ' + n]:.3f}" for n in RANKINGS)
        flags = " | ".join(f"{m['precision ' + w]:.3f} / {m['recall ' + w]:.3f} / "
                           f"{m['f1 ' + w]:.3f}" for w in ("ours", "cleanlab"))
        print(f"| {size} | {model} | {seeds} | {m['wrong']:.3f} | {ranks} | {flags} | "
              f"{m['same flagged']:.0%} |")


if __name__ == "__main__":
    main()
