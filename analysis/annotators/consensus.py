"""A consensus label per row: :func:`majority_vote`, and :func:`weighted_vote` which weighs each
annotator (and optionally a model's out-of-fold probabilities) by its estimated accuracy.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

from analysis.annotators._ratings import _accuracy, _check_ratings, _counts, _vote
from analysis.annotators.quality import accuracy_weight
from analysis.core._validation import check_inputs, describe_rows

#: Relative tolerance under which two weighted vote totals count as tied.
TIE_RTOL = 1e-10


def _share(scores: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``scores[i, labels[i]] / scores[i].sum()``; NaN where the label is -1."""
    n = scores.shape[0]
    total = scores.sum(axis=1)
    won = scores[np.arange(n), np.maximum(labels, 0)]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(labels >= 0, won / total, np.nan)


def _check_tie_break(tie_break, n: int, k: int, name: str = "tie_break") -> np.ndarray:
    arr = np.asarray(tie_break, dtype=float)
    if arr.shape == (k,):
        arr = np.broadcast_to(arr, (n, k))
    if arr.shape != (n, k):
        raise ValueError(
            f"{name} must have shape (N, K) = ({n}, {k}) or (K,) = ({k},), got {arr.shape}."
        )
    bad = ~np.isfinite(arr).all(axis=1)
    if bad.any():
        raise ValueError(f"{name} must be finite; {describe_rows(np.flatnonzero(bad))} are not.")
    return arr


def majority_vote(
    ratings, num_classes: int | None = None, *, tie_break=None
) -> tuple[np.ndarray, np.ndarray]:
    """The most frequent class among each row's ratings, and the share of ratings that agree.

    Parameters
    ----------
    ratings : array-like of shape (N, A)
        Class index per row and annotator, -1 where not rated.
    num_classes : int, optional
        K; default the largest class index + 1.
    tie_break : array-like of shape (N, K) or (K,), optional
        Among the classes tied for the most ratings, the one with the highest ``tie_break``
        wins (e.g. out-of-fold model probabilities, or a class priority). Remaining ties, and
        all ties when not given, go to the lowest class index.

    Returns
    -------
    labels : ndarray of shape (N,), int64
        Consensus class; -1 for rows nobody rated.
    agreement : ndarray of shape (N,), float
        Share of the row's ratings equal to the consensus, in (0, 1]; NaN for rows nobody
        rated.
    """
    r, k = _check_ratings(ratings, num_classes)
    counts = _counts(r, k)
    if tie_break is not None:
        tie_break = _check_tie_break(tie_break, r.shape[0], k)
    labels = _vote(counts, tie_break)
    return labels, _share(counts, labels)


@dataclass(frozen=True, eq=False)
class Consensus:
    """Result of :func:`weighted_vote`.

    Attributes
    ----------
    labels : ndarray of shape (N,), int64
        Consensus class per row; -1 where nobody rated the row and no model probabilities
        were given.
    quality : ndarray of shape (N,), float
        Consensus quality in [0, 1]: the winning class's share of the row's weighted votes
        (1 = every voter with a say agrees). NaN where the label is -1. A row with a single
        vote has quality 1: read it with ``num_ratings``.
    num_ratings : ndarray of shape (N,), int64
        Annotator ratings per row (the model is not counted).
    annotator_weights : ndarray of shape (A,)
        Vote weight of each annotator in the final vote (0: no better than chance, or no
        rated row).
    annotator_accuracy : ndarray of shape (A,)
        Share of each annotator's ratings equal to the final consensus (NaN: no rated row).
    model_weight : float or None
        Vote weight of the model (None when no ``pred_probs`` were given).
    model_accuracy : float or None
        Share of rows rated by an annotator where the model's arg-max equals the consensus.
    iterations : int
        Votes taken after the initial majority vote.
    converged : bool
        True when the last vote reproduced the consensus the weights were estimated from.
    """

    labels: np.ndarray
    quality: np.ndarray
    num_ratings: np.ndarray
    annotator_weights: np.ndarray
    annotator_accuracy: np.ndarray
    model_weight: float | None
    model_accuracy: float | None
    iterations: int
    converged: bool


def _model_accuracy(model_vote: np.ndarray, labels: np.ndarray, has_rating: np.ndarray) -> float:
    """Share of the rows annotators rated where the model's class is the consensus."""
    scored = has_rating & (labels >= 0)
    if not scored.any():
        return float("nan")
    return float(np.mean(model_vote[scored] == labels[scored]))


def weighted_vote(
    ratings,
    num_classes: int | None = None,
    *,
    pred_probs=None,
    model_weight: float | None = None,
    iterations: int = 10,
) -> Consensus:
    """Consensus where each annotator's vote is weighted by its estimated accuracy.

    A weighted majority vote in the spirit of Dawid & Skene (1979), with one accuracy per
    annotator instead of a full confusion matrix ("one-coin" model):

    1. start from the majority vote (ties by ``pred_probs`` if given, then lowest class);
    2. estimate each annotator's accuracy against the current consensus
       (:func:`annotator_accuracy`) and turn it into the weight :func:`accuracy_weight`;
    3. vote again: each row's class scores are the summed weights of the annotators who gave
       it that class; the best score wins (ties as in 1);
    4. repeat 2-3 until the consensus no longer changes, at most ``iterations`` times.

    Rows whose voters all have weight 0 fall back to the unweighted vote.

    Parameters
    ----------
    ratings : array-like of shape (N, A)
        Class index per row and annotator, -1 where not rated.
    num_classes : int, optional
        K; default the largest class index + 1 (or the columns of ``pred_probs``).
    pred_probs : array-like of shape (N, K), optional
        Out-of-fold predicted probabilities. The model then votes like one more annotator on
        every row, for its arg-max class, with the weight of its accuracy against the
        consensus on the rows annotators rated (or ``model_weight``); rows nobody rated get
        the model's class. Its probabilities also break ties.
    model_weight : float, optional
        Fixed vote weight (>= 0) of the model instead of the estimated one.
    iterations : int, default=10
        Most re-votes after the initial majority vote.

    Returns
    -------
    Consensus
        ``labels``, ``quality``, per-annotator ``annotator_weights`` and
        ``annotator_accuracy`` and the model's weight and accuracy. Deterministic: the same
        inputs give the same result.
    """
    r, k = _check_ratings(ratings, num_classes)
    probs, k = _check_model_inputs(r.shape[0], k, num_classes, pred_probs, model_weight)
    _check_iterations(iterations)
    votes = _Votes.of(r, k, probs)
    labels = _vote(votes.counts, probs)
    if votes.model_vote is not None:
        labels = np.where(votes.has_rating, labels, votes.model_vote)
    converged = False
    done = 0
    while not converged and done < iterations:
        new, scores, weights, mw = _revote(r, k, votes, labels, probs, model_weight)
        done += 1
        converged = bool(np.array_equal(new, labels))
        labels = new
    model_acc = None
    if votes.model_vote is not None:
        model_acc = _model_accuracy(votes.model_vote, labels, votes.has_rating)
    return Consensus(
        labels=labels,
        quality=_share(scores, labels),
        num_ratings=votes.num_ratings.astype(np.int64),
        annotator_weights=weights,
        annotator_accuracy=_accuracy(r, labels)[0],
        model_weight=None if votes.model_vote is None else mw,
        model_accuracy=model_acc,
        iterations=done,
        converged=converged,
    )


def _check_model_inputs(n: int, k: int, num_classes: int | None, pred_probs,
                        model_weight: float | None) -> tuple[np.ndarray | None, int]:
    """The checked ``pred_probs`` (None without them) and K, widened to their columns when
    ``num_classes`` is not given; raise on a wrong shape or ``model_weight``."""
    probs = None
    if pred_probs is not None:
        shape = np.shape(pred_probs)
        if len(shape) != 2 or shape[0] != n:
            raise ValueError(
                f"pred_probs must have shape (N, K) with N = {n} rows like ratings, got {shape}."
            )
        if num_classes is None and shape[1] >= k:
            k = shape[1]
        elif shape[1] != k:
            raise ValueError(
                f"pred_probs has {shape[1]} columns but the ratings have {k} classes."
            )
        probs = check_inputs(np.zeros(n, dtype=np.int64), pred_probs, require_two_classes=False)[1]
    if model_weight is not None:
        if probs is None:
            raise ValueError("model_weight needs pred_probs: there is no model to weigh.")
        if not np.isfinite(model_weight) or model_weight < 0:
            raise ValueError(f"model_weight must be a finite number >= 0, got {model_weight}.")
    return probs, k


def _check_iterations(iterations) -> None:
    """Raise unless ``iterations`` is an integer >= 1."""
    if isinstance(iterations, bool) or not isinstance(iterations, numbers.Integral):
        raise ValueError(f"iterations must be an integer >= 1, got {iterations!r}.")
    if iterations < 1:
        raise ValueError(f"iterations must be an integer >= 1, got {iterations}.")


@dataclass(frozen=True, eq=False)
class _Votes:
    """The ratings as votes: ``flat`` (row * K + class) and ``cols`` (annotator) of every
    rating, the unweighted ``counts`` (N, K), ratings per row, and the ``fallback`` scores
    (everyone weight 1, the model too) with the model's arg-max class ``model_vote``."""

    flat: np.ndarray
    cols: np.ndarray
    counts: np.ndarray
    num_ratings: np.ndarray
    has_rating: np.ndarray
    fallback: np.ndarray
    model_vote: np.ndarray | None

    @classmethod
    def of(cls, r: np.ndarray, k: int, probs: np.ndarray | None) -> _Votes:
        n, num_annotators = r.shape
        rated = r >= 0
        cols = np.broadcast_to(np.arange(num_annotators), r.shape)[rated]
        rows = np.broadcast_to(np.arange(n)[:, None], r.shape)[rated]
        flat = rows * k + r[rated]
        counts = np.bincount(flat, minlength=n * k).reshape(n, k).astype(float)
        num_ratings = rated.sum(axis=1)
        fallback = counts.copy()  # everyone weight 1
        model_vote = None
        if probs is not None:
            model_vote = probs.argmax(axis=1)
            fallback[np.arange(n), model_vote] += 1.0
        return cls(flat, cols, counts, num_ratings, num_ratings > 0, fallback, model_vote)


def _revote(r: np.ndarray, k: int, votes: _Votes, labels: np.ndarray,
            probs: np.ndarray | None, model_weight: float | None):
    """One re-vote against the consensus ``labels``: the new labels, the class scores, the
    annotators' weights and the model's weight (None without a model)."""
    n = r.shape[0]
    weights = accuracy_weight(_accuracy(r, labels)[0], k)
    scores = np.bincount(votes.flat, weights=weights[votes.cols], minlength=n * k).reshape(n, k)
    mw = None
    if votes.model_vote is not None:
        mw = model_weight
        if mw is None:
            mw = accuracy_weight(_model_accuracy(votes.model_vote, labels, votes.has_rating), k)
        mw = float(mw)
        scores[np.arange(n), votes.model_vote] += mw
    silent = scores.sum(axis=1) <= 0
    scores[silent] = votes.fallback[silent]
    return _vote(scores, probs, TIE_RTOL), scores, weights, mw
