"""Several annotators per row: how much they agree, how good each is, and a consensus label.

Ratings are an int array of shape (N, A): ``ratings[i, a]`` is the class index 0..K-1 that
annotator ``a`` gave row ``i``, or -1 where annotator ``a`` did not rate row ``i``. A table of
annotator columns holding class names (empty where not rated) is encoded once with
:func:`encode_ratings`.

Agreement (nominal categories; chance-corrected, 1 = perfect, 0 = chance level):

* :func:`cohen_kappa` / :func:`pairwise_kappa`: Cohen (1960), two annotators on the rows both
  rated; equal to ``sklearn.metrics.cohen_kappa_score`` on those rows;
* :func:`fleiss_kappa`: Fleiss (1971), any annotators, generalised to rows rated by a varying
  number of annotators (see its notes);
* :func:`krippendorff_alpha`: Krippendorff's alpha for nominal data from the coincidence matrix
  (Krippendorff 2011, "Computing Krippendorff's Alpha-Reliability"), missing ratings allowed.

Consensus: :func:`majority_vote`, and :func:`weighted_vote` which weighs each annotator (and
optionally a model's out-of-fold probabilities) by its estimated accuracy. Per annotator:
:func:`annotator_accuracy` and :func:`annotator_confusion` against a consensus.
:func:`agreement_summary` gathers the headline numbers for the dashboard.

Everything is vectorised over rows: per-row class counts come from one ``bincount`` of
``row * K + class``; nothing builds an N x N matrix (pairwise tables are A x A or K x K).

The statistics live in the modules of this package, by job: :mod:`~analysis.annotators.encoding`
(the ratings table), :mod:`~analysis.annotators.kappa` (Cohen, Fleiss),
:mod:`~analysis.annotators.alpha` (Krippendorff), :mod:`~analysis.annotators.quality` (annotator
quality), :mod:`~analysis.annotators.consensus` (majority and weighted consensus). Every public
name stays importable from here; this module adds :func:`agreement_summary`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.annotators._ratings import MISSING, _accuracy, _check_ratings, _counts, _vote
from analysis.annotators.alpha import coincidence_matrix, krippendorff_alpha
from analysis.annotators.consensus import TIE_RTOL, Consensus, majority_vote, weighted_vote
from analysis.annotators.encoding import encode_ratings, rating_counts
from analysis.annotators.kappa import cohen_kappa, fleiss_kappa, pairwise_kappa
from analysis.annotators.quality import (
    MAX_ACCURACY,
    accuracy_weight,
    annotator_accuracy,
    annotator_confusion,
)

__all__ = [
    "AgreementSummary",
    "Consensus",
    "MAX_ACCURACY",
    "MISSING",
    "TIE_RTOL",
    "accuracy_weight",
    "agreement_summary",
    "annotator_accuracy",
    "annotator_confusion",
    "cohen_kappa",
    "coincidence_matrix",
    "encode_ratings",
    "fleiss_kappa",
    "krippendorff_alpha",
    "majority_vote",
    "pairwise_kappa",
    "rating_counts",
    "weighted_vote",
]


@dataclass(frozen=True, eq=False)
class AgreementSummary:
    """Headline agreement numbers of a set of ratings (see :func:`agreement_summary`).

    Attributes
    ----------
    num_rows, num_annotators, num_classes : int
    class_names : list of str
    ratings_per_row : float
        Mean number of ratings per row.
    unanimous_share : float
        Share of the rows with at least 2 ratings where all ratings agree (NaN: none).
    fleiss_kappa, krippendorff_alpha : float
        See :func:`fleiss_kappa` and :func:`krippendorff_alpha`.
    mean_pairwise_kappa : float
        Mean Cohen's kappa over the pairs of annotators where it is defined.
    pairwise_kappa : ndarray of shape (A, A)
    annotators : DataFrame
        One row per annotator: ``annotator`` (name), ``ratings`` (rows rated), ``accuracy``
        (share equal to the majority vote), ``mean_kappa`` (mean kappa with the others),
        ``weight`` and ``weighted_accuracy`` (from :func:`weighted_vote`).
    """

    num_rows: int
    num_annotators: int
    num_classes: int
    class_names: list[str]
    ratings_per_row: float
    unanimous_share: float
    fleiss_kappa: float
    krippendorff_alpha: float
    mean_pairwise_kappa: float
    pairwise_kappa: np.ndarray
    annotators: pd.DataFrame


def agreement_summary(
    ratings,
    class_names: Sequence[str] | None = None,
    *,
    annotator_names: Sequence[str] | None = None,
) -> AgreementSummary:
    """Agreement headline numbers and a per-annotator table, for the dashboard.

    Parameters
    ----------
    ratings : array-like of shape (N, A)
        Class index per row and annotator, -1 where not rated.
    class_names : sequence of str, optional
        Names of classes 0..K-1 (K = its length); default "0".."K-1".
    annotator_names : sequence of str, optional
        One name per column; default the DataFrame's columns, else "annotator 1".."A".

    Returns
    -------
    AgreementSummary
    """
    num_classes = None if class_names is None else len(class_names)
    if num_classes == 0:
        raise ValueError("class_names is empty: give the names of classes 0..K-1.")
    r, k = _check_ratings(ratings, num_classes)
    n, a = r.shape
    if annotator_names is None:
        if isinstance(ratings, pd.DataFrame):
            annotator_names = [str(c) for c in ratings.columns]
        else:
            annotator_names = [f"annotator {j + 1}" for j in range(a)]
    elif len(annotator_names) != a:
        raise ValueError(f"annotator_names has {len(annotator_names)} names for {a} columns.")
    names = [str(c) for c in (range(k) if class_names is None else class_names)]
    counts = _counts(r, k)
    m = counts.sum(axis=1)
    pairable = m >= 2
    unanimous = (counts.max(axis=1) == m)[pairable]
    kappa = pairwise_kappa(r, k)
    off = kappa[~np.eye(a, dtype=bool)].reshape(a, a - 1)
    defined = ~np.isnan(off)
    num_defined = defined.sum(axis=1)
    total = np.where(defined, off, 0.0).sum(axis=1)
    mean_kappa = np.where(num_defined > 0, total / np.maximum(num_defined, 1), np.nan)
    majority = _vote(counts, None)
    consensus = weighted_vote(r, k)
    table = pd.DataFrame(
        {
            "annotator": list(annotator_names),
            "ratings": (r >= 0).sum(axis=0),
            "accuracy": _accuracy(r, majority)[0],
            "mean_kappa": mean_kappa,
            "weight": consensus.annotator_weights,
            "weighted_accuracy": consensus.annotator_accuracy,
        }
    )
    upper = kappa[np.triu_indices(a, 1)]
    finite = ~np.isnan(upper)
    nan = float("nan")
    return AgreementSummary(
        num_rows=n,
        num_annotators=a,
        num_classes=k,
        class_names=names,
        ratings_per_row=float(m.mean()),
        unanimous_share=float(unanimous.mean()) if unanimous.size else nan,
        fleiss_kappa=fleiss_kappa(r, k),
        krippendorff_alpha=krippendorff_alpha(r, k),
        mean_pairwise_kappa=float(upper[~np.isnan(upper)].mean()) if finite.any() else nan,
        pairwise_kappa=kappa,
        annotators=table,
    )
