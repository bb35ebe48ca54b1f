"""Out-of-fold per-class probabilities for multi-label rows (#28), when none are given.

Every row is predicted by models that never saw it: the rows are split into ``cv`` shuffled
folds (plain K-fold with a fixed seed: a stratified split of 2^K tag sets is not defined for
rare sets, and each class's binary problem is balanced enough across random folds once a
class has a few dozen rows). On every training fold each candidate is fitted:

* ``logistic``: one logistic regression per class (one-vs-rest, ``C`` = 1) on the features
  :func:`analysis.model.probabilities.fold_features` prepares (imputed, standardised,
  one-hot; TF-IDF for text);
* ``random_forest``: one multi-output random forest for all classes at once (100 trees, at
  least 5 rows per leaf, each tree grown on a bootstrap sample of at most 5,000 rows),
  tabular features only.

Above 1,000,000 rows x classes ``"auto"`` leaves the forest out (minutes of fitting; it
lost to the logistic regressions there). The candidate with the lowest mean binary log-loss
on the given tags (over every row and class, probabilities floored at 1e-6) is kept, as the
multi-class automatic model measures its candidates (:mod:`analysis.model.probabilities`):
the log-loss on the given labels is minimised by the model closest to P(given tag | x),
which is what confident learning compares each tag against. A class a training fold has on
no row (or on every row) gets that fold's constant, 0 or 1.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold
from threadpoolctl import threadpool_limits

from analysis.core._helpers import Progress
from analysis.core.multilabel import check_multilabel
from analysis.model.probabilities import PROB_FLOOR, fold_features

#: Candidates ``model="auto"`` tries, by kind of input (each name is also a ``model``).
ML_CANDIDATES: dict[str, tuple[str, ...]] = {
    "tabular": ("logistic", "random_forest"),
    "text": ("logistic",),  # a forest on a sparse TF-IDF matrix is slow and no better
}
#: Inverse regularisation of the per-class logistic regressions (scikit-learn's default).
_LOGISTIC_C = 1.0
#: Trees of the forest, and its smallest leaf (smoother probabilities than 1-row leaves).
_FOREST_TREES = 100
_FOREST_LEAF = 5
#: Rows each tree is grown on, at most: a multi-output forest's splits cost time in rows x
#: classes; at 30,000 training rows x 50 classes full bootstraps took 140 s per fold on 2
#: cores, 5,000-row ones 20-60 s, and its log-loss there (0.291) is far behind the logistic
#: regressions' (0.250) either way (benchmarks/multilabel_quality.py, large).
_FOREST_MAX_ROWS = 5000
#: ``model="auto"`` leaves the forest out above this many rows x classes: there its fits take
#: minutes (37,500 x 50: about 5 minutes on 2 cores) and the logistic regressions won anyway.
_AUTO_FOREST_MAX_CELLS = 1_000_000


@dataclass(frozen=True)
class MultilabelModelChoice:
    """The out-of-fold probabilities and how they were chosen.

    Attributes
    ----------
    pred_probs : ndarray of shape (N, K), float32
        Per-class probabilities of the chosen candidate.
    chosen : str
        The candidate kept.
    log_loss : dict of str to float
        Mean binary log-loss of every candidate tried (lower is better).
    folds : int
        Folds used.
    notes : tuple of str
        What was left out and why.
    """

    pred_probs: np.ndarray
    chosen: str
    log_loss: dict[str, float]
    folds: int
    notes: tuple[str, ...] = ()

    def describe(self) -> str:
        losses = ", ".join(f"{name} {loss:.4f}" for name, loss in self.log_loss.items())
        return (f"{self.chosen} (mean binary log-loss of the candidates on the given tags, "
                f"{self.folds}-fold out-of-fold: {losses})")


def mean_binary_log_loss(labels: np.ndarray, probs: np.ndarray) -> float:
    """Mean over rows and classes of ``-log p`` (tagged) / ``-log (1 - p)`` (not tagged),
    each probability floored at :data:`PROB_FLOOR`."""
    y = np.asarray(labels, dtype=bool)
    p = np.where(y, probs, 1 - np.asarray(probs, dtype=np.float64))
    return float(-np.log(np.clip(p, PROB_FLOOR, 1.0)).mean())


def _constant_or_none(y: np.ndarray) -> float | None:
    """The value of a training column that holds one value only, else None."""
    if y.min() == y.max():
        return float(y[0])
    return None


def _logistic(x_train, y_train: np.ndarray, x_test, random_state) -> np.ndarray:
    out = np.zeros((x_test.shape[0], y_train.shape[1]))
    for c in range(y_train.shape[1]):
        constant = _constant_or_none(y_train[:, c])
        if constant is not None:
            out[:, c] = constant
            continue
        model = LogisticRegression(C=_LOGISTIC_C, max_iter=1000, random_state=random_state)
        model.fit(x_train, y_train[:, c])
        out[:, c] = model.predict_proba(x_test)[:, 1]
    return out


def _random_forest(x_train, y_train: np.ndarray, x_test, random_state) -> np.ndarray:
    rows = x_train.shape[0]
    model = RandomForestClassifier(n_estimators=_FOREST_TREES, min_samples_leaf=_FOREST_LEAF,
                                   max_samples=_FOREST_MAX_ROWS if rows > _FOREST_MAX_ROWS
                                   else None, n_jobs=-1, random_state=random_state)
    model.fit(x_train, y_train)
    out = np.zeros((x_test.shape[0], y_train.shape[1]))
    for c, (classes, proba) in enumerate(zip(model.classes_, model.predict_proba(x_test),
                                             strict=True)):
        ones = np.flatnonzero(classes == 1)
        out[:, c] = proba[:, ones[0]] if ones.size else 0.0
    return out


_FITS = {"logistic": _logistic, "random_forest": _random_forest}


def multilabel_folds(n: int, cv: int = 5, random_state: int | None = 0):
    """Shuffled K-fold (train, test) index pairs; every row is held out exactly once."""
    if n < 2:
        raise ValueError(f"{n} row(s): out-of-fold probabilities need at least 2 rows.")
    splits = min(int(cv), n)
    if splits < 2:
        raise ValueError(f"cv must be at least 2, got {cv}.")
    return list(KFold(n_splits=splits, shuffle=True, random_state=random_state)
                .split(np.zeros((n, 1))))


def choose_multilabel_model(X=None, labels=None, *, model: str = "auto", cv: int = 5,
                            random_state: int | None = 0, text=None,
                            progress: Progress | None = None) -> MultilabelModelChoice:
    """Out-of-fold per-class probabilities from the candidate of lowest log-loss.

    Parameters
    ----------
    X : array-like of shape (N, F) or DataFrame, optional
        Features (as :func:`analysis.model.probabilities.out_of_fold_probabilities` takes
        them). Leave out when ``text`` is given.
    labels : array-like of shape (N, K)
        Given 0/1 tags.
    model : {"auto", "logistic", "random_forest"}, default="auto"
        ``"auto"``: every candidate of :data:`ML_CANDIDATES` for the input, the lowest mean
        binary log-loss kept; a name: that candidate alone.
    cv : int, default=5
        Folds.
    random_state : int or None, default=0
        Seed of the folds and the models.
    text : sequence of str, optional
        One text per row instead of ``X``.
    progress : callable(fraction, message), optional
        Called after every candidate's fold.

    Returns
    -------
    MultilabelModelChoice
    """
    y, _ = check_multilabel(labels)
    features = fold_features(X, text)
    names = ML_CANDIDATES[features.kind]
    if model != "auto":
        if model not in _FITS:
            raise ValueError(f"model={model!r} is not 'auto' nor one of: {', '.join(_FITS)}.")
        if model not in names:
            raise ValueError(f"model={model!r} does not take {features.kind} input.")
        names = (model,)
    notes: tuple[str, ...] = ()
    if model == "auto" and "random_forest" in names and y.size > _AUTO_FOREST_MAX_CELLS:
        names = tuple(n for n in names if n != "random_forest")
        notes = (f"the random forest was not tried: {y.shape[0]:,} rows x {y.shape[1]} classes "
                 f"is over {_AUTO_FOREST_MAX_CELLS:,} (minutes of fitting); "
                 "model='random_forest' asks for it.",)
    folds = multilabel_folds(y.shape[0], cv, random_state)
    results: dict[str, np.ndarray] = {name: np.zeros(y.shape) for name in names}
    done, steps = 0, len(folds) * len(names)
    with threadpool_limits(limits=1, user_api="blas"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for f, (train, test) in enumerate(folds):
            x_train, x_test = features.fold(train, test)
            for name in names:
                results[name][test] = _FITS[name](x_train, y[train], x_test, random_state)
                done += 1
                if progress is not None:
                    progress(done / steps, f"{name}: fold {f + 1} of {len(folds)}")
    losses = {name: mean_binary_log_loss(y, probs) for name, probs in results.items()}
    chosen = min(losses, key=losses.get)
    probs = np.clip(results[chosen], 0.0, 1.0).astype(np.float32)
    return MultilabelModelChoice(pred_probs=probs, chosen=chosen, log_loss=losses,
                                 folds=len(folds), notes=notes)


def multilabel_out_of_fold_probabilities(X=None, labels=None, **kwargs) -> np.ndarray:
    """The ``pred_probs`` of :func:`choose_multilabel_model` (same arguments)."""
    return choose_multilabel_model(X, labels, **kwargs).pred_probs


__all__ = ["ML_CANDIDATES", "MultilabelModelChoice", "choose_multilabel_model",
           "mean_binary_log_loss", "multilabel_folds", "multilabel_out_of_fold_probabilities"]
