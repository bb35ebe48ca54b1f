"""Annotator quality: each annotator's accuracy and confusion matrix against a consensus, and
the vote weight an accuracy earns.
"""

from __future__ import annotations

import numbers

import numpy as np

from analysis.annotators._ratings import _accuracy, _check_consensus, _check_ratings

#: Accuracies are clipped to [1/K, MAX_ACCURACY] before they become vote weights, so that an
#: annotator who always matches the consensus does not get an infinite weight.
MAX_ACCURACY = 0.99


def annotator_accuracy(ratings, consensus) -> np.ndarray:
    """Share of each annotator's ratings that equal the consensus.

    Parameters
    ----------
    ratings : array-like of shape (N, A)
        Class index per row and annotator, -1 where not rated.
    consensus : array-like of shape (N,)
        Consensus class per row, -1 where there is none (those rows are left out).

    Returns
    -------
    ndarray of shape (A,), float
        Per annotator, over the rows it rated that have a consensus; NaN for an annotator
        with no such row. The consensus usually includes the annotator's own vote, which
        flatters it, the more so the fewer annotators rate a row.
    """
    r, _ = _check_ratings(ratings)
    consensus = _check_consensus(consensus, r.shape[0], None)
    return _accuracy(r, consensus)[0]


def annotator_confusion(ratings, consensus, a: int, num_classes: int | None = None) -> np.ndarray:
    """Confusion counts of one annotator against the consensus.

    Parameters
    ----------
    ratings : array-like of shape (N, A)
        Class index per row and annotator, -1 where not rated.
    consensus : array-like of shape (N,)
        Consensus class per row, -1 where there is none.
    a : int
        The annotator (column of ``ratings``), 0..A-1.
    num_classes : int, optional
        K; default the largest class index + 1 among ratings and consensus.

    Returns
    -------
    ndarray of shape (K, K), int64
        ``[c, k]`` = rows with consensus c that annotator ``a`` rated k (rows the annotator
        did not rate, or without consensus, are not counted).
    """
    r, k = _check_ratings(ratings, num_classes)
    if isinstance(a, bool) or not isinstance(a, numbers.Integral) or not 0 <= a < r.shape[1]:
        raise ValueError(f"a must be an annotator index 0..{r.shape[1] - 1}, got {a!r}.")
    consensus = _check_consensus(consensus, r.shape[0], None if num_classes is None else k)
    if num_classes is None:
        k = max(k, int(consensus.max()) + 1)
    given = r[:, a]
    keep = (given >= 0) & (consensus >= 0)
    flat = consensus[keep] * k + given[keep]
    return np.bincount(flat, minlength=k * k).reshape(k, k)


def accuracy_weight(accuracy, num_classes: int) -> np.ndarray:
    """Vote weight ``log(acc (K-1) / (1 - acc))`` of a voter of accuracy ``acc``.

    The log-likelihood ratio of one vote under the symmetric ("one-coin") annotator model:
    right with probability ``acc``, else any of the K-1 other classes alike. The accuracy is
    first clipped to ``[1/K, MAX_ACCURACY]``, so a voter no better than chance gets weight 0
    (never negative) and a voter who always matches the consensus a finite one; NaN
    accuracies (nothing to estimate from) get weight 0. With K = 1 every weight is 1.
    """
    acc = np.asarray(accuracy, dtype=float)
    if num_classes < 2:
        return np.where(np.isnan(acc), 0.0, 1.0)
    clipped = np.clip(acc, 1.0 / num_classes, MAX_ACCURACY)
    weight = np.log(clipped * (num_classes - 1) / (1.0 - clipped))
    return np.where(np.isnan(acc), 0.0, np.maximum(weight, 0.0))
