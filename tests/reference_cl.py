"""A slow, obvious reference for confident learning, written from the definitions.

Northcutt, Jiang & Chuang, "Confident Learning: Estimating Uncertainty in Dataset Labels"
(JAIR 2021), section 3, with the conventions that docs/architecture.md fixes (Conventions,
Public API: those of the paper's reference implementation). Everything here loops over rows
and classes; it never calls ``analysis`` and is meant for small inputs only.

Floating point is kept deliberately where it decides a discrete outcome:

* probabilities stay in the input dtype (float32 stays float32): thresholds are numpy means of
  the class's self-confidences in row order, the "given label still wins" test adds 1e-6 in
  the input dtype, margins are differences in the input dtype;
* the total of the calibrated confident joint is summed in column-major order (numpy's sum of
  the true-label-major layout the reference implementation builds), since that total decides
  rounding ties of the calibration;
* ``p log p`` of the entropy score is taken in the input dtype and each row summed with numpy's
  (pairwise) summation, as the reference implementation's row sums are;
* wherever equal values must be ordered, ``np.argsort`` is applied to the same array the
  reference implementation sorts (``-margin``, not ``margin``), so ties break the same way.
"""

from __future__ import annotations

import math

import numpy as np

EPS = 1e-6  # tolerance of threshold comparisons and of the "given label wins" test
ABSENT_THRESHOLD = 2  # threshold of a class no row is given: no probability reaches it
MIN_THRESHOLD = 2e-6  # thresholds are clipped below at this
TINY = 1e-100  # divisions by a count clip the count at this
CLIP = 1e-6  # clipping of self-confidence and of the entropy ratio in the entropy score

FILTERS = (
    "prune_by_noise_rate",
    "prune_by_class",
    "both",
    "confident_learning",
    "predicted_neq_given",
    "low_self_confidence",
    "low_normalized_margin",
)
RANKINGS = ("self_confidence", "normalized_margin", "confidence_weighted_entropy")


# --------------------------------------------------------------------------------------------
# inputs and small helpers


def as_arrays(labels, pred_probs):
    labels = [int(v) for v in np.asarray(labels).ravel()]
    probs = np.asarray(pred_probs)
    if probs.dtype not in (np.float32, np.float64):
        probs = probs.astype(np.float64)
    return labels, probs


def first_argmax(values) -> int:
    """Index of the first largest value."""
    best = 0
    for j in range(1, len(values)):
        if values[j] > values[best]:
            best = j
    return best


def rows_given(labels, k) -> list[int]:
    """Indices (ascending) of the rows given class ``k``."""
    return [i for i, lab in enumerate(labels) if lab == k]


def label_counts(labels, num_classes) -> list[int]:
    counts = [0] * num_classes
    for lab in labels:
        counts[lab] += 1
    return counts


# --------------------------------------------------------------------------------------------
# thresholds, per-row guesses and the confident joint


def thresholds(labels, pred_probs) -> np.ndarray:
    """Per class j: mean p(j | x) over the rows given j (2 if none), clipped below at 2e-6."""
    labels, probs = as_arrays(labels, pred_probs)
    means = []
    for k in range(probs.shape[1]):
        own = np.array([probs[i, k] for i in rows_given(labels, k)], dtype=probs.dtype)
        means.append(np.mean(own) if own.size else ABSENT_THRESHOLD)
    # a numpy array from the list: float32 means stay float32 unless an absent class's 2
    # is among them (as in the reference implementation)
    return np.clip(np.array(means), MIN_THRESHOLD, None)


def guesses(labels, pred_probs) -> list[int]:
    """Per row: the estimated true class, or -1 when no class reaches its threshold.

    A class is confident for a row when ``p >= threshold - 1e-6``. One confident class: that
    class. Several: the arg-max of the row over all classes.
    """
    labels, probs = as_arrays(labels, pred_probs)
    cut = thresholds(labels, probs) - EPS
    out = []
    for i in range(probs.shape[0]):
        confident = [j for j in range(probs.shape[1]) if probs[i, j] >= cut[j]]
        if not confident:
            out.append(-1)
        elif len(confident) == 1:
            out.append(confident[0])
        else:
            out.append(first_argmax(probs[i]))
    return out


def raw_confident_joint(labels, pred_probs) -> np.ndarray:
    """``cj[i, j]``: rows given i whose guess is j; every diagonal entry at least 1."""
    labels, probs = as_arrays(labels, pred_probs)
    k = probs.shape[1]
    cj = np.zeros((k, k), dtype=np.int64)
    for lab, guess in zip(labels, guesses(labels, probs), strict=True):
        if guess >= 0:
            cj[lab, guess] += 1
    for c in range(k):
        cj[c, c] = max(cj[c, c], 1)
    return cj


def round_keeping_total(values) -> np.ndarray:
    """Round each value; while the integers' total differs from the rounded total of the
    values, move by one the entries whose rounding lost (or gained) the most."""
    values = np.asarray(values, dtype=float)
    ints = np.round(values)
    target = np.round(np.sum(values))
    while abs(target - np.sum(ints)) > EPS:
        gap = target - np.sum(ints)
        step = 1 if gap > 0 else -1
        order = np.argsort(values - ints)  # ascending remainder
        if step > 0:
            order = order[::-1]  # largest remainder first
        for idx in order[: min(int(abs(gap)), len(values))]:
            ints[idx] += step
    return ints.astype(int)


def round_rows(matrix) -> np.ndarray:
    return np.array([round_keeping_total(row) for row in np.asarray(matrix)], dtype=int)


def calibrate(cj, counts) -> np.ndarray:
    """Scale row i of ``cj`` to ``counts[i]`` and the whole matrix to N, round per row."""
    cj = np.asarray(cj).tolist()  # python ints: plain, exact arithmetic
    counts = [int(c) for c in counts]
    k = len(counts)
    n = sum(counts)
    scaled = []
    for i in range(k):
        row_total = max(float(sum(cj[i])), TINY)
        scaled.append([float(cj[i][j]) / row_total * float(counts[i]) for j in range(k)])
    column_major = np.array([scaled[i][j] for j in range(k) for i in range(k)])
    total = max(float(np.sum(column_major)), TINY)
    return round_rows([[v / total * n for v in row] for row in scaled])


def confident_joint(labels, pred_probs, *, calibrate_counts: bool = True) -> np.ndarray:
    labels, probs = as_arrays(labels, pred_probs)
    cj = raw_confident_joint(labels, probs)
    if not calibrate_counts:
        return cj
    return calibrate(cj, label_counts(labels, probs.shape[1]))


# --------------------------------------------------------------------------------------------
# noise matrices


def _clip_noise_rates(matrix) -> np.ndarray:
    """Off-diagonal rates clipped to [0, 0.9999], diagonal kept, columns rescaled to sum 1."""
    m = np.asarray(matrix).tolist()
    k = len(m)
    clipped = [
        [m[i][j] if i == j else min(max(m[i][j], 0.0), 0.9999) for j in range(k)] for i in range(k)
    ]
    column_totals = [max(sum(clipped[i][j] for i in range(k)), TINY) for j in range(k)]
    return np.array([[clipped[i][j] / column_totals[j] for j in range(k)] for i in range(k)])


def noise_estimate(labels, pred_probs) -> dict:
    """Confident joint, joint, P(given | true), P(true | given), true prior, noise rates."""
    labels, probs = as_arrays(labels, pred_probs)
    k = probs.shape[1]
    n = len(labels)
    counts = label_counts(labels, k)
    cj = confident_joint(labels, probs)
    c = cj.tolist()  # python ints
    total = max(float(sum(sum(row) for row in c)), TINY)
    joint = np.array([[c[i][j] / total for j in range(k)] for i in range(k)])
    given_totals = [float(sum(c[i])) for i in range(k)]
    true_totals = [float(sum(c[i][j] for i in range(k))) for j in range(k)]
    # noise[i, j] = P(given = i | true = j); inverse[i, j] = P(true = i | given = j)
    noise = np.array([[c[i][j] / max(true_totals[j], TINY) for j in range(k)] for i in range(k)])
    inverse = np.array([[c[j][i] / max(given_totals[j], TINY) for j in range(k)] for i in range(k)])
    # prior of the true labels: P(true = j | given = j) / P(given = j | true = j) * P(given = j)
    prior = [inverse[j, j] / max(noise[j, j], TINY) * (counts[j] / float(n)) for j in range(k)]
    prior = [min(max(v, CLIP), 1.0) for v in prior]
    prior_total = sum(prior)
    prior = np.array([v / prior_total for v in prior])
    inverse = _clip_noise_rates(inverse)
    return {
        "confident_joint": cj,
        "joint": joint,
        "noise_matrix": _clip_noise_rates(noise),
        "inverse_noise_matrix": inverse,
        "prior_true": prior,
        "noise_rate": np.array([1.0 - inverse[j, j] for j in range(k)]),
        "num_issues": num_label_issues(labels, probs),
        "label_counts": np.array(counts),
    }


# --------------------------------------------------------------------------------------------
# scores


def given_label_wins(labels, pred_probs) -> list[bool]:
    """Per row: is the given label the row's arg-max once 1e-6 (input dtype) is added to it?"""
    labels, probs = as_arrays(labels, pred_probs)
    eps = probs.dtype.type(EPS)
    out = []
    for i, lab in enumerate(labels):
        bumped = probs[i].copy()
        bumped[lab] = probs[i, lab] + eps
        out.append(first_argmax(bumped) == lab)
    return out


def scores(labels, pred_probs, method: str = "self_confidence") -> np.ndarray:
    """Label quality per row, low = probably wrong (input dtype kept where the method does)."""
    if method not in RANKINGS:
        raise ValueError(method)
    labels, probs = as_arrays(labels, pred_probs)
    dtype = probs.dtype.type
    n, k = probs.shape
    self_conf = [probs[i, lab] for i, lab in enumerate(labels)]
    if method == "self_confidence":
        return np.array(self_conf, dtype=probs.dtype)
    if method == "normalized_margin":
        out = []
        for i, lab in enumerate(labels):
            max_other = max(probs[i, j] for j in range(k) if j != lab)
            out.append((self_conf[i] - max_other + dtype(1)) / dtype(2))
        return np.array(out, dtype=probs.dtype)
    # confidence-weighted entropy: log(1 + e/p) / (e/p), e = entropy / log K
    ratios = []
    for i in range(n):
        # p log p of each entry in the input dtype (0 log 0 = 0), summed with numpy's
        # summation in that dtype
        terms = np.array(
            [p * dtype(math.log(float(p))) if p > 0 else dtype(0) for p in probs[i]],
            dtype=probs.dtype,
        )
        entropy = np.float64(-np.sum(terms)) / np.log(k)
        p = max(self_conf[i], dtype(CLIP))
        ratios.append(entropy / p)
    ratios = np.array(ratios, dtype=np.float64)
    return np.log(ratios + 1) / np.clip(ratios, CLIP, None)


# --------------------------------------------------------------------------------------------
# how many, and which rows


def off_diagonal_rows(labels, pred_probs) -> list[bool]:
    """Rows counted off the diagonal of the confident joint (guess != given)."""
    labels, probs = as_arrays(labels, pred_probs)
    return [g >= 0 and g != lab for g, lab in zip(guesses(labels, probs), labels, strict=True)]


def num_label_issues(labels, pred_probs, estimation_method: str = "off_diagonal") -> int:
    labels, probs = as_arrays(labels, pred_probs)
    if estimation_method == "off_diagonal":
        off = off_diagonal_rows(labels, probs)
        wins = given_label_wins(labels, probs)
        return sum(1 for o, w in zip(off, wins, strict=True) if o and not w)
    if estimation_method == "off_diagonal_calibrated":
        cj = confident_joint(labels, probs)
        total = float(np.sum(cj))
        trace = sum(cj[c, c] / total for c in range(cj.shape[0]))
        return int(np.rint((1.0 - trace) * len(labels)))
    raise ValueError(estimation_method)


def prune_counts(
    labels, pred_probs, *, min_examples: int = 1, frac_noise: float = 1.0, num_to_remove=None
) -> np.ndarray:
    """How many rows to prune: ``counts[j, k]`` for true class j and given class k.

    From the calibrated confident joint (transposed): per given class k, raise the diagonal to
    ``min_examples`` taking the difference evenly from the non-zero entries of the column,
    scale the noise counts by ``frac_noise`` (the diagonal takes up what they lose), truncate
    to integers. With ``num_to_remove`` the counts are rescaled as the reference
    implementation does (row j of the off-diagonal then sums to ``num_to_remove[j]``).
    """
    labels, probs = as_arrays(labels, pred_probs)
    k = probs.shape[1]
    cj = confident_joint(labels, probs).tolist()
    base = [[float(cj[g][t]) for g in range(k)] for t in range(k)]  # base[true][given]
    counts = np.zeros((k, k), dtype=np.int64)
    for g in range(k):
        diagonal = base[g][g]
        kept = max(diagonal, min_examples)
        nonzero = sum(1 for t in range(k) if base[t][g] != 0)
        per_entry = max(nonzero - 1.0, 1.0)
        column = []
        for t in range(k):
            value = base[t][g] - (kept - diagonal) / per_entry
            column.append(0.0 if value < 0 else value)
        column[g] = kept
        scaled = [column[t] * frac_noise if t != g else column[t] for t in range(k)]
        lost = np.sum(np.array([column[t] - scaled[t] for t in range(k)]))
        scaled[g] = column[g] + lost
        for t in range(k):
            counts[t, g] = int(scaled[t])  # truncation, as a cast to int
    if num_to_remove is None:
        return counts
    num_to_remove = [int(v) for v in num_to_remove]
    given = label_counts(labels, k)
    share = np.zeros((k, k))
    for t in range(k):
        for g in range(k):
            # divides column g by the total of row g, as the reference implementation does
            share[t, g] = counts[t, g] / np.sum(counts[g])
    out = np.zeros((k, k), dtype=np.int64)
    for t in range(k):
        noise_share = np.sum(share[t]) - share[t, t]
        if noise_share == 0:
            # no estimated noise out of true class t: the rescaling is 0/0 there; in the
            # reference implementation that NaN becomes a negative count when cast to int,
            # that is: nothing to prune (only the diagonal is a count)
            out[t, t] = given[t] - num_to_remove[t]
            continue
        target = [share[t, g] * num_to_remove[t] / noise_share for g in range(k)]
        target[t] = given[t] - num_to_remove[t]
        out[t] = round_keeping_total(target)
    return out


def _prune(labels, probs, filter_by, counts, min_examples) -> list[bool]:
    n, k = probs.shape
    by_class = [False] * n
    by_rate = [False] * n
    for g in range(k):
        rows = rows_given(labels, g)
        if len(rows) <= min_examples or len(rows) < 2:
            continue
        own = np.array([probs[i, g] for i in rows], dtype=probs.dtype)
        # the n_g - counts[g, g] rows least confident in their given class
        num = len(rows) - int(counts[g, g])
        if num >= 1:
            for pos in np.argsort(own)[:num]:
                by_class[rows[pos]] = True
        # for every other class t: the counts[t, g] rows with the largest p(t) - p(g)
        for t in range(k):
            num = int(counts[t, g])
            if t == g or num <= 0:
                continue
            margin = np.array([probs[i, t] - probs[i, g] for i in rows], dtype=probs.dtype)
            for pos in np.argsort(-margin)[:num]:
                by_rate[rows[pos]] = True
    if filter_by == "prune_by_class":
        return by_class
    if filter_by == "prune_by_noise_rate":
        return by_rate
    return [a and b for a, b in zip(by_class, by_rate, strict=True)]


def find_label_issues(
    labels,
    pred_probs,
    filter_by: str = "prune_by_noise_rate",
    *,
    frac_noise: float = 1.0,
    num_to_remove_per_class=None,
    min_examples_per_class: int = 1,
) -> np.ndarray:
    """Boolean mask of the rows flagged by ``filter_by``."""
    if filter_by not in FILTERS:
        raise ValueError(filter_by)
    labels, probs = as_arrays(labels, pred_probs)
    n = len(labels)
    if filter_by in ("low_self_confidence", "low_normalized_margin"):
        quality = scores(labels, probs, filter_by[len("low_") :])
        mask = np.zeros(n, dtype=bool)
        mask[np.argsort(quality)[: num_label_issues(labels, probs)]] = True
        return mask
    if filter_by in ("prune_by_noise_rate", "prune_by_class", "both"):
        counts = prune_counts(
            labels,
            probs,
            min_examples=min_examples_per_class,
            frac_noise=frac_noise,
            num_to_remove=num_to_remove_per_class,
        )
        flagged = _prune(labels, probs, filter_by, counts, min_examples_per_class)
    elif filter_by == "confident_learning":
        flagged = off_diagonal_rows(labels, probs)
    else:  # predicted_neq_given
        flagged = [first_argmax(probs[i]) != lab for i, lab in enumerate(labels)]
    wins = given_label_wins(labels, probs)
    return np.array([f and not w for f, w in zip(flagged, wins, strict=True)], dtype=bool)


def rank(mask, quality) -> np.ndarray:
    """Indices of the flagged rows, lowest quality first (ties as ``np.argsort`` orders the
    flagged rows' scores, taken in row order)."""
    flagged = np.array([i for i in range(len(mask)) if mask[i]], dtype=np.int64)
    return flagged[np.argsort(quality[flagged])]


def ranked_issues(labels, pred_probs, filter_by: str, rank_by: str, **kwargs) -> np.ndarray:
    """Indices of the flagged rows, lowest ``rank_by`` score first."""
    mask = find_label_issues(labels, pred_probs, filter_by, **kwargs)
    return rank(mask, scores(labels, pred_probs, rank_by))
