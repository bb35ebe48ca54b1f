"""A slow, obvious reference for multi-label confident learning, written from the definitions.

Thyagarajan, Snorrason, Northcutt & Mueller, "Identifying Incorrect Annotations in Multi-Label
Classification Data" (2023): every class is a binary problem (given labels: has the tag or
not; probabilities ``[1 - p, p]``) on which confident learning runs as in the multi-class
case (here ``tests/reference_cl.py``, the independent multi-class reference); a row's quality
aggregates its per-class self-confidences. Everything loops over rows and classes; it never
calls ``analysis``.
"""

from __future__ import annotations

import math

import numpy as np
import reference_cl as ref


def binary(labels, pred_probs, k):
    """Class k's problem: labels as python ints, probabilities ``[1 - p, p]`` in the input
    dtype (``1 - p`` computed in that dtype, as the reference implementation does)."""
    probs = np.asarray(pred_probs)
    column = probs[:, k]
    two = np.empty((probs.shape[0], 2), dtype=probs.dtype)
    for i in range(probs.shape[0]):
        two[i, 0] = probs.dtype.type(1) - column[i]
        two[i, 1] = column[i]
    return [int(v) for v in np.asarray(labels)[:, k]], two


def confident_joint(labels, pred_probs) -> np.ndarray:
    k = np.asarray(labels).shape[1]
    return np.array([ref.confident_joint(*binary(labels, pred_probs, c)) for c in range(k)])


def noise_rates(labels, pred_probs) -> tuple[np.ndarray, np.ndarray]:
    """(tag missing = P(given 0 | true 1), tag extra = P(given 1 | true 0)) per class."""
    missing, extra = [], []
    for c in range(np.asarray(labels).shape[1]):
        noise = ref.noise_estimate(*binary(labels, pred_probs, c))["noise_matrix"]
        missing.append(noise[0, 1])
        extra.append(noise[1, 0])
    return np.array(missing), np.array(extra)


def issues_per_class(labels, pred_probs, filter_by="prune_by_noise_rate") -> np.ndarray:
    k = np.asarray(labels).shape[1]
    cols = [ref.find_label_issues(*binary(labels, pred_probs, c), filter_by) for c in range(k)]
    return np.array(cols).T


def find_issues(labels, pred_probs, filter_by="prune_by_noise_rate") -> np.ndarray:
    per = issues_per_class(labels, pred_probs, filter_by)
    return np.array([any(row) for row in per], dtype=bool)


def class_scores(labels, pred_probs) -> np.ndarray:
    """Self-confidence of each (row, class): p if the row has the tag, else 1 - p."""
    labels = np.asarray(labels)
    probs = np.asarray(pred_probs)
    one = probs.dtype.type(1)
    out = np.zeros(labels.shape)
    for i in range(labels.shape[0]):
        for c in range(labels.shape[1]):
            out[i, c] = probs[i, c] if labels[i, c] == 1 else one - probs[i, c]
    return out


def ema(scores_row, alpha=0.8) -> float:
    ordered = sorted((float(v) for v in scores_row), reverse=True)
    value = ordered[0]
    for s in ordered[1:]:
        value = alpha * s + (1 - alpha) * value
    return value


def softmin(scores_row, temperature=0.1) -> float:
    xs = [(1 - float(v)) / temperature for v in scores_row]
    top = max(xs)
    weights = [math.exp(x - top) for x in xs]
    total = sum(weights)
    return sum(float(v) * w / total for v, w in zip(scores_row, weights, strict=True))


def quality_scores(labels, pred_probs, aggregator="exponential_moving_average") -> np.ndarray:
    per = class_scores(labels, pred_probs)
    agg = ema if aggregator == "exponential_moving_average" else softmin
    return np.array([agg(row) for row in per])


def common_issues(labels, issues) -> list[tuple[int, bool, int, float]]:
    """(class, in given, count, probability), most probable first. Listed per class (extra,
    then missing), then ordered as the reference implementation's pandas sort does (the
    reversed list's ``np.argsort``, reversed), so ties come out in its order."""
    labels = np.asarray(labels)
    n, k = labels.shape
    entries = []
    for c in range(k):
        extra = sum(1 for i in range(n) if issues[i][c] and labels[i, c] == 1)
        missing = sum(1 for i in range(n) if issues[i][c] and labels[i, c] == 0)
        entries.append((c, True, extra, extra / n))
        entries.append((c, False, missing, missing / n))
    reversed_probs = np.array([e[3] for e in entries[::-1]])
    order = [len(entries) - 1 - int(j) for j in np.argsort(reversed_probs)][::-1]
    return [entries[j] for j in order]


def rank_classes(labels, issues) -> list[tuple[int, int, int, float]]:
    """(class, extra count, missing count, quality score = 1 - extra / N), lowest score
    first: ``np.argsort`` of the scores of the classes in the order they first appear among
    the common issues (as the reference implementation's pandas sort)."""
    n = np.asarray(labels).shape[0]
    common = common_issues(labels, issues)
    seen = []
    for c, *_ in common:
        if c not in seen:
            seen.append(c)
    extra = {c: cnt for c, given, cnt, _ in common if given}
    missing = {c: cnt for c, given, cnt, _ in common if not given}
    rows = [(c, extra[c], missing[c], 1 - extra[c] / n) for c in seen]
    return [rows[int(j)] for j in np.argsort(np.array([r[3] for r in rows]))]
