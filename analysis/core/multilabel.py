"""Multi-label confident learning: rows with several tags, or none (#28).

Each class k is its own binary problem, one-vs-rest: the given labels ``y[:, k]`` (1 = the
row has tag k) and the probabilities ``[1 - p_k, p_k]``. Everything the multi-class core
defines (:mod:`analysis.core.confident`: thresholds, the calibrated confident joint, the
noise matrices; :mod:`analysis.core.issues`: the filters) is applied to each binary problem,
as in Thyagarajan, Snorrason, Northcutt & Mueller, "Identifying Incorrect Annotations in
Multi-Label Classification Data" (2023), and its reference implementation (cleanlab 2.x,
``multilabel_classification``), so that numbers can be compared one to one:

* the confident joint is ``(K, 2, 2)``: ``cj[k, i, j]`` counts rows whose given tag-k value
  is i and whose confidently estimated true value is j (0 = absent, 1 = present);
* per class, the two noise rates: **tag missing** ``P(given 0 | true 1)`` and **tag extra**
  ``P(given 1 | true 0)`` (the binary noise matrix's off-diagonal entries);
* a (row, class) is an issue when class k's binary filter flags the row; a row is an issue
  when any of its classes is;
* the quality of (row, class) is the binary self-confidence (``p_k`` if tagged, else
  ``1 - p_k``); a row's quality aggregates its K scores: the softmin (weights
  ``softmax((1 - s) / 0.1)``, the default here, measured better) or the exponential moving
  average of the scores sorted from largest to smallest with forgetting factor 0.8 (the
  smallest weighs most; the reference implementation's default);
* the suggested tag set flips every flagged (row, class).

Memory: a few (N, K) arrays and, per class, one (N, 2) problem at a time: nothing N x N or
N x K x K (100,000 rows x 50 tags run in seconds, ``benchmarks/core_speed.py``).
Labels are an (N, K) 0/1 matrix; probabilities an (N, K) array in [0, 1], rows need not sum
to 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analysis.core._helpers import check_choice
from analysis.core._validation import describe_rows, float_dtype
from analysis.core.confident import noise_estimate_from
from analysis.core.evidence import Evidence
from analysis.core.issues import issues_mask_from

#: The per-class binary filters: each flags rows of one binary problem by its confident
#: joint (the multi-class core's filters; the reference's multi-label defaults to the first).
ML_FILTERS = ("prune_by_noise_rate", "prune_by_class", "both", "confident_learning",
              "predicted_neq_given")
#: Row-score aggregators of the K per-class scores.
AGGREGATORS = ("exponential_moving_average", "softmin")
#: Forgetting factor of the moving average: the reference implementation's default, chosen
#: in the paper's benchmark (the smallest score weighs 0.8, the next 0.16, ...).
EMA_ALPHA = 0.8
#: Temperature of the softmin: the reference's default (the paper's best aggregator).
SOFTMIN_TEMPERATURE = 0.1
#: The row score's default aggregator: the softmin, measured better than the moving average
#: (the reference implementation's default) in every set-up of
#: benchmarks/multilabel_quality.py (AUPRC 0.851 vs 0.817 on large x logistic regression,
#: 0.774 vs 0.492 on small x random forest; AUROC equal within 0.002 or higher), as in the
#: paper. ``aggregator="exponential_moving_average"`` gives the reference's default scores.
DEFAULT_AGGREGATOR = "softmin"
#: Smallest temperature used (a 0 temperature would divide by zero).
_MIN_TEMPERATURE = 1e-30
#: Values this far outside [0, 1] are rounding, not errors (as the multi-class core).
_PROB_TOLERANCE = 1e-3


# --------------------------------------------------------------------------------------------
# inputs


def tags_to_matrix(tags, num_classes: int) -> np.ndarray:
    """An (N, K) uint8 0/1 matrix from per-row lists of class indices (``[[0, 2], [], [1]]``).

    Raises ``ValueError`` naming the first row that holds an index outside 0..K-1.
    """
    out = np.zeros((len(tags), num_classes), dtype=np.uint8)
    for i, row in enumerate(tags):
        idx = np.asarray(list(row), dtype=np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= num_classes):
            raise ValueError(f"row {i} holds class index {idx[(idx < 0) | (idx >= num_classes)][0]}"
                             f", outside 0..{num_classes - 1}.")
        out[i, idx] = 1
    return out


def matrix_to_tags(labels) -> list[list[int]]:
    """Per-row lists of class indices (ascending) from an (N, K) 0/1 matrix."""
    labels = np.asarray(labels)
    return [np.flatnonzero(row).tolist() for row in labels]


def check_multilabel(labels, pred_probs=None) -> tuple[np.ndarray, np.ndarray | None]:
    """Validate an (N, K) 0/1 ``labels`` matrix and (N, K) per-class ``pred_probs``.

    Returns uint8 labels and float32/float64 probabilities (other dtypes become float64),
    values within 1e-3 outside [0, 1] clipped. Raises ``ValueError`` naming the rows.
    """
    y = np.asarray(labels)
    if y.ndim != 2:
        raise ValueError(f"multi-label labels must be 2-D (rows x classes) 0/1, got shape "
                         f"{y.shape}.")
    if y.shape[0] == 0:
        raise ValueError("labels is empty: there is nothing to analyse.")
    if y.shape[1] < 2:
        raise ValueError(f"multi-label labels have {y.shape[1]} class(es): multi-label needs at "
                         "least 2 classes (one 0/1 column is a binary label column).")
    if y.dtype != bool:
        if y.dtype.kind not in "iuf":
            raise ValueError(f"multi-label labels must be 0/1, got dtype {y.dtype}.")
        bad = np.flatnonzero(((y != 0) & (y != 1)).any(axis=1))
        if bad.size:
            col = int(np.flatnonzero((y[bad[0]] != 0) & (y[bad[0]] != 1))[0])
            raise ValueError(f"multi-label labels must be 0/1; {describe_rows(bad)} hold other "
                             f"values (row {bad[0]}, class {col}: {y[bad[0], col].item()!r}).")
    y = y.astype(np.uint8, copy=False)
    if pred_probs is None:
        return y, None
    probs = np.asarray(pred_probs)
    if probs.shape != y.shape:
        raise ValueError(f"pred_probs has shape {probs.shape} but labels {y.shape}: one "
                         "probability per row and class.")
    probs = probs.astype(float_dtype(probs.dtype), copy=False)
    bad = np.flatnonzero((~np.isfinite(probs) | (probs < -_PROB_TOLERANCE)
                          | (probs > 1 + _PROB_TOLERANCE)).any(axis=1))
    if bad.size:
        raise ValueError(f"pred_probs must be probabilities in [0, 1]; {describe_rows(bad)} "
                         "hold values outside.")
    if probs.min() < 0 or probs.max() > 1:
        probs = np.clip(probs, 0, 1)
    return y, np.ascontiguousarray(probs)


def binary_problem(labels: np.ndarray, pred_probs: np.ndarray, k: int):
    """Class ``k``'s one-vs-rest problem: int64 labels ``y[:, k]`` and (N, 2) probabilities
    ``[1 - p_k, p_k]`` in the probabilities' dtype."""
    p = pred_probs[:, k]
    return labels[:, k].astype(np.int64), np.column_stack((1 - p, p))


# --------------------------------------------------------------------------------------------
# the per-class pass


@dataclass(frozen=True)
class MultilabelEstimate:
    """What one-vs-rest confident learning estimates about a multi-label dataset.

    Attributes
    ----------
    confident_joint : ndarray of shape (K, 2, 2), int64
        ``cj[k, i, j]``: rows with given tag-k value i, estimated true value j (calibrated).
    thresholds : ndarray of shape (K, 2)
        Per class, the binary thresholds (of "tag absent", of "tag present").
    tag_missing : ndarray of shape (K,)
        P(given 0 | true 1): the rate at which a true tag is left out.
    tag_extra : ndarray of shape (K,)
        P(given 1 | true 0): the rate at which a wrong tag is given.
    issues : ndarray of shape (N, K), bool
        Per (row, class): class k's binary filter flags the row.
    label_counts : ndarray of shape (K,)
        Rows given each tag.
    filter_by : str
        The binary filter used.
    """

    confident_joint: np.ndarray
    thresholds: np.ndarray
    tag_missing: np.ndarray
    tag_extra: np.ndarray
    issues: np.ndarray
    label_counts: np.ndarray
    filter_by: str

    @property
    def num_rows(self) -> int:
        return int(self.issues.shape[0])

    @property
    def num_classes(self) -> int:
        return int(self.issues.shape[1])

    @property
    def is_issue(self) -> np.ndarray:
        """(N,) bool: rows with at least one flagged class."""
        return self.issues.any(axis=1)


def estimate_multilabel(labels, pred_probs, *, filter_by: str = "prune_by_noise_rate",
                        min_examples_per_class: int = 1) -> MultilabelEstimate:
    """Run confident learning on every class's binary problem, one class at a time.

    Parameters
    ----------
    labels : array-like of shape (N, K)
        0/1 (or bool) tags given per row and class.
    pred_probs : array-like of shape (N, K)
        Out-of-fold probability of each class, in [0, 1]; rows need not sum to 1.
    filter_by : str, default="prune_by_noise_rate"
        The binary filter (one of :data:`ML_FILTERS`, see
        :func:`analysis.core.issues.find_label_issues`).
    min_examples_per_class : int, default=1
        As in :func:`analysis.core.issues.find_label_issues`, per binary problem.

    Returns
    -------
    MultilabelEstimate
    """
    check_choice(filter_by, ML_FILTERS, "filter_by")
    y, probs = check_multilabel(labels, pred_probs)
    n, k = y.shape
    cj = np.zeros((k, 2, 2), dtype=np.int64)
    thresholds = np.zeros((k, 2), dtype=np.float64)
    missing = np.zeros(k, dtype=np.float64)
    extra = np.zeros(k, dtype=np.float64)
    issues = np.zeros((n, k), dtype=bool)
    for c in range(k):
        ev = Evidence(*binary_problem(y, probs, c), require_two_classes=False)
        estimate = noise_estimate_from(ev)
        cj[c] = estimate.confident_joint
        thresholds[c] = ev.thresholds
        missing[c] = estimate.noise_matrix[0, 1]  # P(given 0 | true 1)
        extra[c] = estimate.noise_matrix[1, 0]  # P(given 1 | true 0)
        issues[:, c] = issues_mask_from(ev, filter_by,
                                        min_examples_per_class=min_examples_per_class)
    return MultilabelEstimate(confident_joint=cj, thresholds=thresholds, tag_missing=missing,
                              tag_extra=extra, issues=issues,
                              label_counts=y.sum(axis=0, dtype=np.int64), filter_by=filter_by)


def multilabel_confident_joint(labels, pred_probs) -> np.ndarray:
    """The (K, 2, 2) calibrated one-vs-rest confident joint (see :class:`MultilabelEstimate`)."""
    return estimate_multilabel(labels, pred_probs).confident_joint


def find_multilabel_issues(labels, pred_probs, *, filter_by: str = "prune_by_noise_rate",
                           per_class: bool = False,
                           min_examples_per_class: int = 1) -> np.ndarray:
    """Rows (or (row, class) cells) whose tags look wrong.

    Parameters
    ----------
    labels, pred_probs, filter_by, min_examples_per_class
        As in :func:`estimate_multilabel`.
    per_class : bool, default=False
        Return the (N, K) mask of flagged (row, class) cells instead of the (N,) row mask.

    Returns
    -------
    ndarray of bool, shape (N,) or (N, K)
    """
    est = estimate_multilabel(labels, pred_probs, filter_by=filter_by,
                              min_examples_per_class=min_examples_per_class)
    return est.issues if per_class else est.is_issue


# --------------------------------------------------------------------------------------------
# scores


def per_class_quality_scores(labels, pred_probs) -> np.ndarray:
    """(N, K) quality of each (row, class): ``p_k`` where tagged, else ``1 - p_k`` (the binary
    self-confidence), in the probabilities' dtype."""
    y, probs = check_multilabel(labels, pred_probs)
    return np.where(y == 1, probs, 1 - probs)


def exponential_moving_average(scores: np.ndarray, alpha: float = EMA_ALPHA) -> np.ndarray:
    """Per row: the scores sorted from largest to smallest, ``ema = s_1``, then
    ``ema = alpha * s_t + (1 - alpha) * ema`` for t = 2..K (float64)."""
    if not 0 <= alpha <= 1:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}.")
    ordered = np.sort(np.asarray(scores, dtype=np.float64), axis=1)  # ascending
    ema = ordered[:, -1].copy()
    for t in range(ordered.shape[1] - 2, -1, -1):
        ema = alpha * ordered[:, t] + (1 - alpha) * ema
    return ema


def softmin(scores: np.ndarray, temperature: float = SOFTMIN_TEMPERATURE) -> np.ndarray:
    """Per row: ``sum_k s_k w_k`` with ``w = softmax((1 - s) / temperature)`` (float64)."""
    s = np.asarray(scores, dtype=np.float64)
    x = (1 - s) / max(temperature, _MIN_TEMPERATURE)
    x -= x.max(axis=1, keepdims=True)
    w = np.exp(x)
    w /= w.sum(axis=1, keepdims=True)
    return np.einsum("ij,ij->i", s, w)


def multilabel_quality_scores(labels, pred_probs, *,
                              aggregator: str = DEFAULT_AGGREGATOR,
                              alpha: float = EMA_ALPHA,
                              temperature: float = SOFTMIN_TEMPERATURE) -> np.ndarray:
    """Label quality per row, in [0, 1], lower = more likely wrong.

    Parameters
    ----------
    labels, pred_probs
        As in :func:`estimate_multilabel`.
    aggregator : {"softmin", "exponential_moving_average"}, default="softmin"
        How the K per-class scores (:func:`per_class_quality_scores`) become one
        (:data:`DEFAULT_AGGREGATOR` says why the softmin; the moving average is the reference
        implementation's default).
    alpha : float, default=0.8
        Forgetting factor of the moving average.
    temperature : float, default=0.1
        Temperature of the softmin.

    Returns
    -------
    ndarray of shape (N,), float64
    """
    check_choice(aggregator, AGGREGATORS, "aggregator")
    scores = per_class_quality_scores(labels, pred_probs)
    if aggregator == "softmin":
        return softmin(scores, temperature)
    return exponential_moving_average(scores, alpha)


# --------------------------------------------------------------------------------------------
# suggestions, per-row tags, classes, health


def suggested_tags(labels, issues) -> np.ndarray:
    """(N, K) uint8: the given tags with every flagged (row, class) flipped."""
    y, _ = check_multilabel(labels)
    return y ^ np.asarray(issues, dtype=np.uint8)


def tag_issue_table(labels, pred_probs, issues) -> dict[str, np.ndarray]:
    """Every flagged (row, class), as columns: ``row``, ``class``, ``missing`` (True: the tag
    is not given and looks missing; False: it is given and looks extra) and ``probability``
    (of the suggestion: ``p_k`` for a missing tag, ``1 - p_k`` for an extra one). Sorted by
    row, then probability (largest first), then class."""
    y, probs = check_multilabel(labels, pred_probs)
    rows, cols = np.nonzero(np.asarray(issues, dtype=bool))
    missing = y[rows, cols] == 0
    p = probs[rows, cols].astype(np.float64)
    prob = np.where(missing, p, 1 - p)
    order = np.lexsort((cols, -prob, rows))
    return {"row": rows[order].astype(np.int64), "class": cols[order].astype(np.int64),
            "missing": missing[order], "probability": prob[order]}


def tag_issue_sentences(table: dict[str, np.ndarray], class_names, row: int) -> list[str]:
    """The flagged tags of one row in words, most probable first: ``'dog' looks missing:
    0.93`` / ``'cat' looks extra: 0.88`` (the probability of the suggestion), from a
    :func:`tag_issue_table`. Class names are quoted as given: escape them for Markdown or
    HTML where they are shown."""
    at = np.flatnonzero(table["row"] == row)
    return [f"'{class_names[int(table['class'][i])]}' looks "
            f"{'missing' if table['missing'][i] else 'extra'}: {table['probability'][i]:.2f}"
            for i in at]


def _descending(values: np.ndarray) -> np.ndarray:
    """Indices sorting ``values`` largest first as pandas' ``sort_values(ascending=False)``
    does: numpy's default argsort of the reversed array, mapped back and reversed."""
    back = np.arange(values.size)[::-1]
    return back[np.argsort(values[::-1])][::-1]


def common_multilabel_issues(labels, issues) -> dict[str, np.ndarray]:
    """Per class, the two kinds of issue and how common each is, most common first.

    Columns: ``class``, ``in_given`` / ``in_suggested`` (True / False: the tag is given and
    looks extra; False / True: it looks missing), ``count`` (flagged rows of that kind) and
    ``probability`` (count / N). Entries are listed per class (extra, then missing) and
    sorted as the reference implementation sorts them (pandas, descending: the reversed
    list's numpy default ``argsort``, reversed), so tied entries come out in the reference's
    order; that sort is not stable on every CPU (see
    :func:`analysis.core.issues.rank_flagged`).
    """
    y, _ = check_multilabel(labels)
    issues = np.asarray(issues, dtype=bool)
    n, k = y.shape
    extra = (issues & (y == 1)).sum(axis=0)
    missing = (issues & (y == 0)).sum(axis=0)
    counts = np.column_stack((extra, missing)).ravel().astype(np.int64)
    prob = counts / n
    order = _descending(prob)
    in_given = np.tile([True, False], k)
    return {"class": np.repeat(np.arange(k), 2)[order], "in_given": in_given[order],
            "in_suggested": ~in_given[order], "count": counts[order],
            "probability": prob[order]}


def rank_classes_by_multilabel_quality(labels, issues) -> dict[str, np.ndarray]:
    """Classes, worst first, as columns: ``class``, ``label_issues`` (rows given the tag that
    look extra), ``inverse_label_issues`` (rows without it where it looks missing),
    ``label_noise`` / ``inverse_label_noise`` (those counts / N) and ``label_quality_score``
    (1 - label_noise). Sorted by score, as the reference sorts: numpy's default ``argsort``
    of the classes taken in the order they first appear in :func:`common_multilabel_issues`."""
    common = common_multilabel_issues(labels, issues)
    n = np.asarray(labels).shape[0]
    k = common["class"].size // 2
    extra = np.zeros(k, dtype=np.int64)
    missing = np.zeros(k, dtype=np.int64)
    given = common["in_given"]
    extra[common["class"][given]] = common["count"][given]
    missing[common["class"][~given]] = common["count"][~given]
    first = np.full(k, 2 * k)
    np.minimum.at(first, common["class"], np.arange(2 * k))
    appearance = np.argsort(first, kind="stable")
    score = 1 - extra / n
    order = appearance[np.argsort(score[appearance])]
    return {"class": order.astype(np.int64), "label_issues": extra[order],
            "inverse_label_issues": missing[order], "label_noise": extra[order] / n,
            "inverse_label_noise": missing[order] / n, "label_quality_score": score[order]}


def multilabel_health(labels, pred_probs, estimate: MultilabelEstimate | None = None) -> dict:
    """A health summary: ``health_score`` (share of rows with no flagged tag, as the
    reference's ``overall_multilabel_health_score``), ``rows``, ``flagged_rows``,
    ``tags_given``, ``tags_missing`` / ``tags_extra`` (flagged cells of each kind), the
    per-class noise rates ``tag_missing_rate`` / ``tag_extra_rate``, ``classes``
    (:func:`rank_classes_by_multilabel_quality`) and ``common_issues``
    (:func:`common_multilabel_issues`)."""
    y, probs = check_multilabel(labels, pred_probs)
    est = estimate if estimate is not None else estimate_multilabel(y, probs)
    flagged = int(est.is_issue.sum())
    cells_missing = int((est.issues & (y == 0)).sum())
    return {
        "health_score": 1.0 - flagged / y.shape[0],
        "rows": int(y.shape[0]),
        "flagged_rows": flagged,
        "tags_given": int(y.sum(dtype=np.int64)),
        "tags_missing": cells_missing,
        "tags_extra": int(est.issues.sum()) - cells_missing,
        "rows_without_tags": int((y.sum(axis=1) == 0).sum()),
        "tag_missing_rate": est.tag_missing,
        "tag_extra_rate": est.tag_extra,
        "classes": rank_classes_by_multilabel_quality(y, est.issues),
        "common_issues": common_multilabel_issues(y, est.issues),
    }


__all__ = ["AGGREGATORS", "DEFAULT_AGGREGATOR", "EMA_ALPHA", "ML_FILTERS",
           "SOFTMIN_TEMPERATURE", "MultilabelEstimate",
           "binary_problem", "check_multilabel", "common_multilabel_issues",
           "estimate_multilabel", "exponential_moving_average", "find_multilabel_issues",
           "matrix_to_tags", "multilabel_confident_joint", "multilabel_health",
           "multilabel_quality_scores", "per_class_quality_scores",
           "rank_classes_by_multilabel_quality", "softmin", "suggested_tags",
           "tag_issue_sentences", "tag_issue_table",
           "tags_to_matrix"]
