"""Class-level findings: per-class table, confused class pairs and one label-health score."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from analysis.core import sparse
from analysis.core.confident import NoiseEstimate

#: P(given = i | true = j) above which a confusion is called systematic.
SYSTEMATIC_THRESHOLD = 0.10


def _names(class_names: Sequence[str] | None, k: int) -> list[str]:
    if class_names is None:
        return [str(i) for i in range(k)]
    if len(class_names) != k:
        raise ValueError(f"class_names has {len(class_names)} names for {k} classes.")
    return [str(c) for c in class_names]


def per_class_table(
    estimate: NoiseEstimate,
    labels,
    issues_mask,
    quality_scores,
    class_names: Sequence[str] | None = None,
) -> pd.DataFrame:
    """One row per class: how many rows carry it, how noisy it is, how many issues it holds.

    Parameters
    ----------
    estimate : NoiseEstimate
    labels : array-like of shape (N,)
        Given labels.
    issues_mask : array-like of shape (N,), bool
        Rows flagged as label issues.
    quality_scores : array-like of shape (N,)
        Label quality score per row.
    class_names : sequence of str, optional

    Returns
    -------
    DataFrame
        Columns ``class``, ``name``, ``given`` (rows given the class), ``estimated_true``
        (rows estimated to truly be it), ``noise_rate`` (P(true != class | given = class)),
        ``issues`` (flagged rows given the class), ``mean_quality``; sorted by class.
    """
    labels = np.asarray(labels)
    k = estimate.num_classes
    mask = np.asarray(issues_mask, dtype=bool)
    scores = np.asarray(quality_scores, dtype=float)
    if not (labels.shape == mask.shape == scores.shape == (estimate.num_rows,)):
        raise ValueError("labels, issues_mask and quality_scores must each have one value per row.")
    given = estimate.label_counts
    score_sum = np.bincount(labels, weights=scores, minlength=k)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_quality = np.where(given > 0, score_sum / np.maximum(given, 1), np.nan)
    return pd.DataFrame(
        {
            "class": np.arange(k),
            "name": _names(class_names, k),
            "given": given,
            "estimated_true": estimate.confident_joint.sum(axis=0),
            "noise_rate": estimate.noise_rate,
            "issues": np.bincount(labels[mask], minlength=k),
            "mean_quality": mean_quality,
        }
    )


def confused_pairs(
    estimate: NoiseEstimate,
    class_names: Sequence[str] | None = None,
    *,
    threshold: float = SYSTEMATIC_THRESHOLD,
    min_count: int = 1,
) -> pd.DataFrame:
    """Off-diagonal cells of the confident joint, most confused first, with a verdict.

    Parameters
    ----------
    estimate : NoiseEstimate
    class_names : sequence of str, optional
    threshold : float, default=0.10
        A pair (given i, true j) is ``systematic`` when P(given = i | true = j) exceeds it:
        the annotators confuse j for i, so the labelling guideline needs fixing. Below it the
        pair is ``isolated``: a few wrong rows to fix one by one.
    min_count : int, default=1
        Pairs with fewer estimated rows are left out.

    Returns
    -------
    DataFrame
        Columns ``given``, ``true``, ``given_name``, ``true_name``, ``count`` (estimated rows
        given i that are truly j), ``p_given_given_true`` (P(given = i | true = j)),
        ``share_of_given`` (P(true = j | given = i)), ``verdict``; sorted by count, then rate.
    """
    if not 0 < threshold < 1:
        raise ValueError(f"threshold must be in (0, 1), got {threshold}.")
    k = estimate.num_classes
    names = _names(class_names, k)
    if sparse.is_sparse(estimate.confident_joint):  # many classes: the non-zero cells only
        given, true = sparse.cells_at_least(estimate.confident_joint, min_count)
    else:
        given, true = np.nonzero(
            ~np.eye(k, dtype=bool) & (estimate.confident_joint >= min_count)
        )
    rate = np.asarray(estimate.noise_matrix[given, true]).ravel()
    frame = pd.DataFrame(
        {
            "given": given,
            "true": true,
            "given_name": [names[i] for i in given],
            "true_name": [names[j] for j in true],
            "count": np.asarray(estimate.confident_joint[given, true]).ravel(),
            "p_given_given_true": rate,
            "share_of_given": np.asarray(estimate.inverse_noise_matrix[true, given]).ravel(),
            "verdict": np.where(rate > threshold, "systematic", "isolated"),
        }
    )
    return frame.sort_values(
        ["count", "p_given_given_true"], ascending=False, kind="stable"
    ).reset_index(drop=True)


def describe_pair(row: pd.Series) -> str:
    """A sentence a stakeholder understands, for one row of :func:`confused_pairs`."""
    pct = f"{100 * row['p_given_given_true']:.0f}%"
    if row["verdict"] == "systematic":
        return (
            f"About {pct} of the items that are really '{row['true_name']}' are labelled "
            f"'{row['given_name']}' (~{int(row['count'])} rows): a systematic confusion — "
            "clarify the labelling guideline for these two classes."
        )
    return (
        f"~{int(row['count'])} items labelled '{row['given_name']}' look like "
        f"'{row['true_name']}' ({pct} of that class): isolated mistakes — review these rows."
    )


def label_health(estimate: NoiseEstimate) -> float:
    """Label-health score in [0, 100]: the estimated percentage of correct labels,
    ``100 * trace(joint)``."""
    return float(100.0 * estimate.joint.trace())  # ndarray or scipy.sparse
