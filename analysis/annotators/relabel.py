"""Which rows to label next: an ActiveLab-like score (Goh & Mueller, 2023).

ActiveLab ("Active learning with re-labeling by multiple annotators") asks, for every row,
how sure the current consensus is, from the definitions of the paper (and of CROWDLAB, Goh,
Tkachenko & Mueller 2022, whose weights it uses):

- the consensus ``ŷ`` of each row comes from the annotators' labels and the model
  (:func:`analysis.annotators.agreement.weighted_vote`);
- ``A``, the baseline: the accuracy of always answering the most common consensus class;
- each annotator's quality ``s_j``: the share of the *other* annotators on its rows (rows with
  two or more labels) who gave the same label, and weight ``w_j = 1 - (1 - s_j) / (1 - A)``;
- the model's quality ``s_M``: its accuracy against the consensus on the labelled rows, and
  weight ``w_M = (1 - (1 - s_M) / (1 - A)) * sqrt(mean labels per labelled row)``: the model,
  which learnt from all the labels, counts for more the more labels the rows have;
- the score of a labelled row: ``(w_M p_M(ŷ) + Σ_j w_j 1[y_j = ŷ]) / (w_M + Σ_j w_j)`` over
  the annotators who labelled it: low when the model doubts the consensus, when the
  annotators disagree, or when few (or weak) annotators said it;
- the score of an unlabelled row: ``(w_M p_M(ŷ) + w̄ / K) / (w_M + w̄)`` with ``ŷ`` the
  model's class and ``w̄`` the mean annotator weight: as if one average annotator had given
  it no information.

The rows with the lowest score gain most from one more label.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from analysis.annotators.agreement import weighted_vote

#: Smallest weight of a voter: a weight at or below 0 (no better than the baseline) would
#: drop the voter, or make the score undefined when all are there; the paper clips it to a
#: small positive number.
MIN_WEIGHT = 1e-3


def _weight(quality, baseline: float) -> np.ndarray:
    """CROWDLAB's weight ``1 - (1 - s) / (1 - A)``, clipped to :data:`MIN_WEIGHT`."""
    room = max(1.0 - baseline, 1e-12)
    return np.maximum(1.0 - (1.0 - np.asarray(quality, dtype=float)) / room, MIN_WEIGHT)


def _annotator_quality(r: np.ndarray, k: int) -> np.ndarray:
    """Per annotator: the mean share of the other annotators of its rows (rows with 2+
    labels) who agree with it; NaN for an annotator with no such row."""
    rated = r >= 0
    counts = np.zeros((r.shape[0], k))
    for j in range(r.shape[1]):
        np.add.at(counts, (np.flatnonzero(rated[:, j]), r[rated[:, j], j]), 1.0)
    per_row = rated.sum(axis=1)
    quality = np.full(r.shape[1], np.nan)
    for j in range(r.shape[1]):
        rows = np.flatnonzero(rated[:, j] & (per_row >= 2))
        if rows.size:
            same = counts[rows, r[rows, j]] - 1.0  # the others with the same label
            quality[j] = float(np.mean(same / (per_row[rows] - 1.0)))
    return quality


def relabel_scores(pred_probs, ratings) -> np.ndarray:
    """The ActiveLab-like score of every row: low = most needs another label.

    Parameters
    ----------
    pred_probs : array-like of shape (N, K)
        Out-of-fold probabilities of the model (trained on the current consensus).
    ratings : array-like of shape (N, A)
        Class index per row and annotator, -1 where not labelled (rows nobody labelled are
        scored as unlabelled).

    Returns
    -------
    ndarray of shape (N,), in [0, 1].
    """
    probs = np.asarray(pred_probs, dtype=float)
    r = np.asarray(ratings, dtype=np.int64)
    n, k = probs.shape
    if r.ndim != 2 or r.shape[0] != n:
        raise ValueError(f"ratings must have shape (N, A) with N = {n}, got {r.shape}.")
    if r.shape[1] < 2:  # the consensus needs two columns: an empty one changes nothing
        r = np.hstack([r, np.full((n, 2 - r.shape[1]), -1)])
    rated = r >= 0
    labelled = rated.any(axis=1)
    consensus = weighted_vote(r, k, pred_probs=probs).labels
    if labelled.any():
        baseline = float(np.bincount(consensus[labelled], minlength=k).max() / labelled.sum())
        model_quality = float(np.mean(probs[labelled].argmax(axis=1) == consensus[labelled]))
        mean_labels = float(rated[labelled].sum(axis=1).mean())
    else:
        baseline, model_quality, mean_labels = 1.0 / k, 1.0, 1.0
    quality = _annotator_quality(r, k)
    fallback = np.nanmean(quality) if np.isfinite(quality).any() else model_quality
    w = _weight(np.where(np.isnan(quality), fallback, quality), baseline)
    w_model = float(_weight(model_quality, baseline)) * np.sqrt(mean_labels)
    p_consensus = probs[np.arange(n), np.maximum(consensus, 0)]
    agree = np.where(rated, (r == consensus[:, None]) * w[None, :], 0.0).sum(axis=1)
    weight = np.where(rated, w[None, :], 0.0).sum(axis=1)
    score = (w_model * p_consensus + agree) / (w_model + np.maximum(weight, 1e-300))
    mean_w = float(w.mean())
    unlabelled = (w_model * probs.max(axis=1) + mean_w / k) / (w_model + mean_w)
    return np.where(labelled, score, unlabelled)


def ratings_from(labels, verdicts: pd.DataFrame, ids: Sequence,
                 class_names: Sequence[str]) -> np.ndarray:
    """The (N, 1 + A) ratings of a dataset: its given labels (column 0), then each
    annotator's newest verdict (``verdicts``: ``id``, ``label``, ``annotator``, oldest first,
    as :meth:`analysis.review.store.ReviewStore.verdicts` gives them)."""
    labels = np.asarray(labels, dtype=np.int64)
    annotators = sorted(set(verdicts["annotator"])) if len(verdicts) else []
    r = np.full((len(labels), 1 + len(annotators)), -1, dtype=np.int64)
    r[:, 0] = labels
    index = {str(v): i for i, v in enumerate(ids)}
    code = {str(c): j for j, c in enumerate(class_names)}
    col = {a: 1 + j for j, a in enumerate(annotators)}
    for row_id, label, annotator in zip(verdicts["id"], verdicts["label"],
                                        verdicts["annotator"], strict=True):
        if str(row_id) in index and str(label) in code:
            r[index[str(row_id)], col[annotator]] = code[str(label)]  # newest wins
    return r


def relabel_order(pred_probs, labels, verdicts: pd.DataFrame, ids: Sequence,
                  class_names: Sequence[str]) -> np.ndarray:
    """Every row, the one that most needs another label first (lowest
    :func:`relabel_scores`; ties in row order)."""
    scores = relabel_scores(pred_probs, ratings_from(labels, verdicts, ids, class_names))
    return np.argsort(scores, kind="stable")
