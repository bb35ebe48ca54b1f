"""Out-of-fold predicted probabilities: every row predicted by a model that never saw it.

Confident learning needs ``pred_probs`` of shape (N, K) that were *not* produced by a model
trained on the same rows: a model scores its own training rows too well, which hides their
label errors. :func:`out_of_fold_probabilities` splits the rows into stratified folds, trains
on all folds but one and predicts the held-out fold, so that every row is predicted exactly
once by a model that never saw it.

Features
--------
``X`` is a numeric 2-D array (NaN allowed), a SciPy sparse matrix, or a pandas DataFrame
whose numeric columns are imputed (median, plus a missing-value indicator) and standardised,
and whose other columns (strings, categories, booleans) are one-hot encoded. ``text`` (one
string per row) is turned into TF-IDF features instead. All of this is fitted inside each
training fold only.

The automatic model
-------------------
``model="auto"`` does not guess: it measures. Each candidate of :data:`AUTO_CANDIDATES` is
cross-validated on the same folds; every setting of a candidate's own hyper-parameter (the
kNN's ``k``, the logistic regression's ``C``, ...) is calibrated by a single temperature
(``p ** (1 / T)``, renormalised) and the setting with the lowest calibrated out-of-fold
log-loss on the given labels is kept; the candidates are then averaged with the weights that
minimise the out-of-fold log-loss of the average (a convex mixture, fitted by EM). A
candidate that does not help gets a weight near zero. The log-loss on the *given* (noisy)
labels is the right yardstick: it is minimised by the model closest to
P(given label | x), which is what confident learning compares each label against. Those few
numbers (one setting, one temperature and one weight per candidate) are fitted on the same
out-of-fold predictions they score; with thousands of rows and three candidates the optimism
this adds is negligible. :func:`choose_model` returns the details.

Tabular candidates: a distance-weighted k-nearest-neighbours vote on the standardised
features (``k`` from 5 to 80), a multinomial logistic regression (``C`` from 0.01 to 1) and
extremely randomised trees (100 trees, at least 5 rows per leaf). Text candidates: TF-IDF of
words and word pairs with a logistic regression or a complement naive Bayes.
``benchmarks/detection_quality.py`` measures the choice against a plain
logistic-regression pipeline. On 2 cores the whole automatic pipeline takes about 3 s for the
1,797 digits and 10 s for 10,000 rows x 64 features; BLAS is held to one thread while it runs
(its matrices are small, and extra threads only fight over a busy machine), the trees use
every core.

Rare classes
------------
The number of folds is ``cv``, lowered to the size of the smallest class when that class has
at least 2 rows, so that every fold holds every class. A class with a *single* row cannot be
learnt without that row: the row is still predicted (by a model that never saw its class, so
its own class gets a probability of 0 and confident learning will flag it), and a
``UserWarning`` names the class. Classes with no row at all (``num_classes`` larger than the
labels) get a column of zeros.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from scipy import sparse
from scipy.optimize import minimize_scalar
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import ExtraTreesClassifier, HistGradientBoostingClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.naive_bayes import ComplementNB
from sklearn.neighbors import NearestNeighbors
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler
from threadpoolctl import threadpool_limits

from analysis.core import limits
from analysis.core._helpers import Progress
from analysis.core._validation import check_labels, describe_rows

#: Candidates ``model="auto"`` tries, by kind of input. Each name is also a valid ``model``.
AUTO_CANDIDATES: dict[str, tuple[str, ...]] = {
    "tabular": ("knn", "logistic", "extra_trees", "hist_gb"),
    "text": ("tfidf_logistic", "tfidf_complement_nb"),
}

#: Hyper-parameter values each candidate tries (chosen by out-of-fold log-loss).
CANDIDATE_SETTINGS: dict[str, tuple[float, ...]] = {
    "knn": (5, 10, 20, 40, 80),
    "logistic": (0.01, 0.1, 1.0),
    "extra_trees": (5,),  # min_samples_leaf
    "hist_gb": (0.1,),  # learning_rate
    "tfidf_logistic": (1.0, 10.0, 100.0),
    "tfidf_complement_nb": (0.1, 1.0),  # alpha
}
_SETTING_NAMES = {
    "knn": "k",
    "logistic": "C",
    "extra_trees": "min_samples_leaf",
    "hist_gb": "learning_rate",
    "tfidf_logistic": "C",
    "tfidf_complement_nb": "alpha",
}

#: OpenMP threads of the gradient-boosted trees. One: with the other core busy, two threads
#: spin-waiting on each other took 302 s to fit the digits where one took 14.5 s (and
#: 190 s against 15 s on 10,000 rows x 30; scikit-learn 1.9, a loaded 2-core machine).
HIST_GB_THREADS = 1
#: Early stopping at every size, not only from 10,000 rows (scikit-learn's "auto"): on noisy
#: labels the full 100 iterations learn the noise. 5-fold, cleanlab's generator at 20%, seed
#: 11, one thread: digits log-loss 1.031 in 3.0 s against 1.593 in 11.0 s; wine 1.185
#: against 2.268; breast cancer 0.583 against 0.781.
HIST_GB_EARLY_STOP = True
#: Early stopping holds out a stratified tenth: only when every class has this many training
#: rows (else scikit-learn's "auto", off below 10,000 rows).
HIST_GB_EARLY_STOP_CLASS_ROWS = 10
#: Probabilities are floored at this value where a logarithm is taken (log-loss, temperature).
PROB_FLOOR = 1e-6
#: Most distinct values a categorical column is one-hot encoded into (rarer ones are pooled).
MAX_CATEGORIES = 50
_EXTRA_TREES = 100
_MISSING = "<missing>"


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class CandidateResult:
    """How one candidate of the automatic model did.

    Attributes
    ----------
    name : str
        Candidate name, e.g. ``"knn"``.
    setting : dict
        The hyper-parameter value chosen, e.g. ``{"k": 20}``.
    log_loss : float
        Out-of-fold log-loss on the given labels with that setting, before calibration.
    temperature : float
        Temperature T of the calibration ``p ** (1 / T)`` (renormalised); 1 = unchanged.
    calibrated_log_loss : float
        Out-of-fold log-loss after calibration.
    weight : float
        Weight of the candidate in the final average (weights sum to 1).
    seconds : float
        Time spent training and predicting this candidate over all folds.
    """

    name: str
    setting: dict
    log_loss: float
    temperature: float
    calibrated_log_loss: float
    weight: float
    seconds: float


@dataclass(frozen=True)
class ModelChoice:
    """The automatic model's out-of-fold probabilities and how they were made.

    Attributes
    ----------
    pred_probs : ndarray of shape (N, K), float32
        Out-of-fold predicted probabilities, rows summing to 1.
    candidates : tuple of CandidateResult
        One entry per candidate tried, in the order tried.
    log_loss : float
        Out-of-fold log-loss of ``pred_probs`` on the given labels.
    n_splits : int
        Number of folds actually used (see the module notes on rare classes).
    notes : tuple of str
        What was adapted to the data (fewer folds, single-row classes), for people.
    """

    pred_probs: np.ndarray
    candidates: tuple[CandidateResult, ...]
    log_loss: float
    n_splits: int
    notes: tuple[str, ...] = field(default=())
    #: How the candidates were chosen (:func:`plan_candidates`), for people.
    plan: tuple[str, ...] = field(default=())

    @property
    def weights(self) -> dict[str, float]:
        """Weight of each candidate, by name."""
        return {c.name: c.weight for c in self.candidates}

    @property
    def chosen(self) -> dict:
        """``{candidate: setting}`` of the candidates that carry weight (at least 0.01): what
        a refit fits again (``choose_model(settings=...)``)."""
        kept = {c.name: next(iter(c.setting.values())) for c in self.candidates
                if c.weight >= 0.01}
        return kept or {c.name: next(iter(c.setting.values())) for c in self.candidates[:1]}

    def summary(self) -> list[str]:
        """Every decision of the automatic model, one line each, for people."""
        lines = [self.describe()]
        for c in self.candidates:
            setting = ", ".join(f"{k}={v:g}" for k, v in c.setting.items())
            lines.append(f"{c.name} ({setting}): log-loss {c.log_loss:.3f}, calibrated "
                         f"{c.calibrated_log_loss:.3f} (T={c.temperature:.2f}), weight "
                         f"{c.weight:.2f}, {_duration(c.seconds)}")
        return lines + list(self.plan) + list(self.notes)

    def describe(self) -> str:
        """One line for people, e.g. ``"0.62 extra_trees + 0.38 knn (k=20); log-loss 1.02"``."""
        parts = []
        for c in sorted(self.candidates, key=lambda c: -c.weight):
            if c.weight < 0.005:
                continue
            setting = ", ".join(f"{k}={v:g}" for k, v in c.setting.items())
            tuned = f" ({setting})" if setting and len(CANDIDATE_SETTINGS[c.name]) > 1 else ""
            parts.append(f"{c.weight:.2f} {c.name}{tuned}")
        loss = f"out-of-fold log-loss {self.log_loss:.3f} ({self.n_splits} folds)"
        return f"{' + '.join(parts)}; {loss}"


def training_arrays(kind: str = "tabular", candidates=None) -> int:
    """How many (N, K) float64 arrays the automatic out-of-fold training holds at once: the
    raw and the calibrated probabilities of every setting of every candidate
    (:data:`CANDIDATE_SETTINGS`), the mixture and the result."""
    names = AUTO_CANDIDATES[kind] if candidates is None else candidates
    return 2 * sum(len(CANDIDATE_SETTINGS[name]) for name in names) + 2



# --------------------------------------------------------------------------- validation


def _check_cv(cv) -> int:
    if isinstance(cv, bool) or not isinstance(cv, int | np.integer) or cv < 2:
        raise ValueError(f"cv must be an integer number of folds >= 2, got {cv!r}.")
    return int(cv)


def _check_random_state(random_state) -> int | None:
    if random_state is None:
        return None
    if isinstance(random_state, bool) or not isinstance(random_state, int | np.integer):
        raise ValueError(f"random_state must be an integer or None, got {random_state!r}.")
    return int(random_state)


def _check_labels(labels, n_rows: int, num_classes, source: str = "X") -> tuple[np.ndarray, int]:
    y = check_labels(labels)
    if y.size != n_rows:
        raise ValueError(
            f"labels has {y.size} rows but {source} has {n_rows}: they must be the same rows."
        )
    bad = np.flatnonzero(y < 0)
    if bad.size:
        raise ValueError(
            f"labels must be class indices 0..K-1; {describe_rows(bad)} hold {y[bad[0]]}."
        )
    if num_classes is None:
        k = int(y.max()) + 1
    else:
        if isinstance(num_classes, bool) or not isinstance(num_classes, int | np.integer):
            raise ValueError(f"num_classes must be an integer >= 2, got {num_classes!r}.")
        k = int(num_classes)
        bad = np.flatnonzero(y >= k)
        if bad.size:
            raise ValueError(
                f"labels must be class indices 0..{k - 1} (num_classes={k}); "
                f"{describe_rows(bad)} hold {y[bad[0]]}."
            )
    present = np.count_nonzero(np.bincount(y, minlength=k))
    if k < 2 or present < 2:
        raise ValueError(
            f"labels hold {present} class(es): predicting probabilities needs at least 2 "
            "classes with rows."
        )
    return y, k


def make_folds(
    labels: np.ndarray, cv: int = 5, random_state: int | None = 0
) -> tuple[list[tuple[np.ndarray, np.ndarray]], tuple[str, ...]]:
    """Stratified, shuffled folds that every row is held out of exactly once.

    Parameters
    ----------
    labels : ndarray of shape (N,), int
        Given labels.
    cv : int
        Folds wanted; lowered to the smallest class count when that is >= 2.
    random_state : int or None
        Seed of the shuffle.

    Returns
    -------
    folds : list of (train, test) index arrays
        Each row appears in exactly one ``test``.
    notes : tuple of str
        What was changed and why (fewer folds, single-row classes).
    """
    counts = np.bincount(labels)
    present = counts[counts > 0]
    several = present[present >= 2]
    if several.size == 0:
        raise ValueError(
            "every class has a single row: no model can be trained on some rows and "
            "checked on others."
        )
    n_splits = int(min(cv, several.min()))
    notes = []
    if n_splits < cv:
        smallest = int(np.flatnonzero(counts == several.min())[0])
        notes.append(
            f"{n_splits} folds instead of {cv}: class {smallest} has only {several.min()} rows."
        )
    singles = np.flatnonzero(counts == 1)
    if singles.size:
        rows = np.flatnonzero(np.isin(labels, singles))
        names = ", ".join(str(c) for c in singles[:10])
        notes.append(
            f"class(es) {names} have a single row ({describe_rows(rows)}): no model can learn "
            "such a class without its row, so that row gets probability 0 for its own class."
        )
    splitter = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=random_state)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
        folds = list(splitter.split(np.zeros((labels.size, 1)), labels))
    return folds, tuple(notes)


# --------------------------------------------------------------------------- features


def _rows(data, idx: np.ndarray):
    if isinstance(data, pd.DataFrame):
        return data.iloc[idx]
    if isinstance(data, list):
        return [data[i] for i in idx]
    return data[idx]


def _clean_frame(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[str], list[str]]:
    """Numeric columns as float64 (inf -> NaN), others as strings; columns renamed c0, c1..."""
    cols, numeric, categorical = {}, [], []
    for i, (_, col) in enumerate(frame.items()):
        name = f"c{i}"
        if pd.api.types.is_bool_dtype(col.dtype):
            cols[name] = col.astype(object).where(col.notna(), _MISSING).astype(str)
            categorical.append(name)
        elif pd.api.types.is_numeric_dtype(col.dtype):
            values = np.array(col.to_numpy(dtype=np.float64, na_value=np.nan), copy=True)
            values[~np.isfinite(values)] = np.nan
            cols[name] = values
            numeric.append(name)
        elif pd.api.types.is_datetime64_any_dtype(col.dtype):
            if getattr(col.dtype, "tz", None) is not None:
                col = col.dt.tz_convert("UTC").dt.tz_localize(None)
            values = col.to_numpy(dtype="datetime64[ns]").astype(np.int64).astype(np.float64)
            values[col.isna().to_numpy()] = np.nan
            cols[name] = values
            numeric.append(name)
        elif pd.api.types.is_timedelta64_dtype(col.dtype):
            cols[name] = col.dt.total_seconds().to_numpy(dtype=np.float64, na_value=np.nan)
            numeric.append(name)
        else:
            text = col.astype(object)
            cols[name] = text.where(text.notna(), _MISSING).astype(str).to_numpy(dtype=object)
            categorical.append(name)
    return pd.DataFrame(cols, index=range(len(frame))), numeric, categorical


def _numeric_steps() -> list:
    return [
        ("impute", SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)),
        ("scale", StandardScaler()),
    ]


@dataclass
class _Features:
    """Rows to slice and the unfitted transformers that turn them into model inputs.

    Two views of the same rows: ``"standard"`` (imputed, standardised, one-hot or TF-IDF:
    what the kNN, the linear models and the randomised trees take) and ``"trees"`` (for the
    gradient-boosted trees: numbers as they are, NaN kept, since the trees learn where a
    missing value goes; categories as ordinal codes that they split natively). ``trees`` is
    ``False`` where the rows have no such view (sparse matrices, text).
    """

    data: object
    transformer: object
    kind: str  # "tabular" or "text"
    trees: bool = False
    tree_transformer: object = None
    #: Which columns of the trees' view are categorical codes.
    categorical: np.ndarray | None = None

    def fold(self, train: np.ndarray, test: np.ndarray, view: str = "standard"):
        """Fit the view's transformer on the training rows; return (train, test) inputs."""
        transformer = self.tree_transformer if view == "trees" else self.transformer
        if transformer is None:
            return _rows(self.data, train), _rows(self.data, test)
        transformer = clone(transformer)
        try:
            x_train = transformer.fit_transform(_rows(self.data, train))
        except ValueError as err:
            if "empty vocabulary" in str(err):
                raise ValueError(
                    "text holds no words in a training fold (every string empty or stop "
                    "words only): TF-IDF features cannot be built."
                ) from None
            raise
        return x_train, transformer.transform(_rows(self.data, test))


def _tree_view(numeric: list[str], categorical: list[str]) -> tuple[ColumnTransformer, np.ndarray]:
    """The gradient-boosted trees' transformer of a cleaned frame, and its categorical mask."""
    encoder = OrdinalEncoder(
        handle_unknown="use_encoded_value", unknown_value=np.nan,
        max_categories=MAX_CATEGORIES, dtype=np.float64,
    )
    parts = [("numeric", "passthrough", numeric)] if numeric else []
    if categorical:
        parts.append(("categorical", encoder, categorical))
    mask = np.array([False] * len(numeric) + [True] * len(categorical))
    return ColumnTransformer(parts, sparse_threshold=0.0), mask


def _tabular_features(X) -> _Features:
    if isinstance(X, pd.Series):
        X = X.to_frame()
    if isinstance(X, pd.DataFrame):
        if X.shape[1] == 0:
            raise ValueError("X has no columns: there are no features to learn from.")
        frame, numeric, categorical = _clean_frame(X)
        parts = []
        if numeric:
            parts.append(("numeric", Pipeline(_numeric_steps()), numeric))
        if categorical:
            encoder = OneHotEncoder(
                handle_unknown="ignore", max_categories=MAX_CATEGORIES, sparse_output=False
            )
            parts.append(("categorical", encoder, categorical))
        trees, mask = _tree_view(numeric, categorical)
        return _Features(frame, ColumnTransformer(parts), "tabular", True, trees, mask)
    if sparse.issparse(X):
        if X.ndim != 2:
            raise ValueError(f"X must be 2-D (rows x features), got shape {X.shape}.")
        if X.shape[1] == 0:
            raise ValueError("X has no columns: there are no features to learn from.")
        data = sparse.csr_matrix(X, dtype=np.float64)
        if not np.all(np.isfinite(data.data)):
            raise ValueError("a sparse X must hold finite values (no NaN or infinity).")
        return _Features(data, StandardScaler(with_mean=False), "tabular")
    arr = np.asarray(X)
    if arr.ndim != 2:
        hint = " (for a single feature use X.reshape(-1, 1))" if arr.ndim == 1 else ""
        raise ValueError(f"X must be 2-D (rows x features), got shape {arr.shape}{hint}.")
    if arr.shape[1] == 0:
        raise ValueError("X has no columns: there are no features to learn from.")
    if arr.dtype.kind not in "biuf":
        return _tabular_features(pd.DataFrame(arr))
    data = arr.astype(np.float64)
    data[~np.isfinite(data)] = np.nan
    mask = np.zeros(data.shape[1], dtype=bool)
    return _Features(data, Pipeline(_numeric_steps()), "tabular", True, None, mask)


def _text_features(text) -> _Features:
    if isinstance(text, str | bytes) or not isinstance(text, Sequence | np.ndarray | pd.Series):
        raise ValueError("text must be a sequence of strings, one per row.")
    docs = ["" if t is None or (isinstance(t, float) and np.isnan(t)) else str(t) for t in text]
    vectorizer = TfidfVectorizer(
        sublinear_tf=True, ngram_range=(1, 2), strip_accents="unicode", dtype=np.float32
    )
    return _Features(docs, vectorizer, "text")


def _features(X, text) -> _Features:
    if text is not None:
        if X is not None:
            raise ValueError(
                "pass either X (features) or text (one string per row), not both."
            )
        return _text_features(text)
    if X is None:
        raise ValueError("X is missing: pass a 2-D feature array or DataFrame, or text=.")
    return _tabular_features(X)


def fold_features(X=None, text=None) -> _Features:
    """The feature preparation of :func:`out_of_fold_probabilities`, for other models of the
    same rows (the multi-label one, :mod:`analysis.model.multilabel`): ``kind`` is
    ``"tabular"`` or ``"text"`` and ``fold(train, test)`` fits the imputation, scaling and
    one-hot encoding (TF-IDF for ``text``) on the training rows and returns (train, test)
    model inputs. Raises ``ValueError`` as :func:`out_of_fold_probabilities` does."""
    return _features(X, text)


def _num_rows(X, text) -> int:
    if text is not None and X is None:
        return len(text)
    return X.shape[0] if hasattr(X, "shape") and len(X.shape) >= 1 else len(X)


# --------------------------------------------------------------------------- candidates


def _into_columns(proba: np.ndarray, classes: np.ndarray, k: int) -> np.ndarray:
    """Estimator probabilities (n, len(classes)) spread into K columns, rows renormalised."""
    out = np.zeros((proba.shape[0], k))
    out[:, np.asarray(classes, dtype=np.int64)] = proba
    sums = out.sum(axis=1, keepdims=True)
    bad = sums[:, 0] <= 0
    out[bad] = 1.0 / k
    sums[bad] = 1.0
    return out / sums


# Every candidate: (x_train (n, F), y_train (n,), x_test (m, F), K, settings, seed) ->
# {setting: probabilities of shape (m, K)}, one entry per hyper-parameter value tried.


def _knn(x_train, y_train, x_test, k_classes, settings, random_state):
    """Distance-weighted vote of the k nearest training rows, for every k at once."""
    n_test = x_test.shape[0]
    k_max = int(min(max(settings), y_train.size))
    dist, idx = NearestNeighbors(n_neighbors=k_max).fit(x_train).kneighbors(x_test)
    weight = 1.0 / np.maximum(dist, 1e-12)
    # flat (row, class) cell of every neighbour, for one bincount per setting
    cells = np.arange(n_test)[:, None] * k_classes + y_train[idx]
    prior = np.bincount(y_train, minlength=k_classes) / y_train.size
    out = {}
    for k in settings:
        kk = int(min(k, k_max))
        w = weight[:, :kk]
        # distance weights scaled to sum to kk, plus one pseudo-neighbour spread over the
        # training prior: no class gets an exact 0 unless it has no training row
        w = w * (kk / w.sum(axis=1, keepdims=True))
        votes = np.bincount(cells[:, :kk].ravel(), w.ravel(), minlength=n_test * k_classes)
        out[k] = (votes.reshape(n_test, k_classes) + prior) / (kk + 1.0)
    return out


def _logistic(x_train, y_train, x_test, k_classes, settings, random_state):
    """Multinomial logistic regression, C from small to large (warm-started)."""
    model = LogisticRegression(max_iter=1000, warm_start=True)
    out = {}
    for c in sorted(settings):
        model.set_params(C=c).fit(x_train, y_train)
        out[c] = _into_columns(model.predict_proba(x_test), model.classes_, k_classes)
    return out


def _extra_trees(x_train, y_train, x_test, k_classes, settings, random_state):
    """Extremely randomised trees; the settings are minimum leaf sizes."""
    out = {}
    for leaf in settings:
        model = ExtraTreesClassifier(
            n_estimators=_EXTRA_TREES,
            min_samples_leaf=int(leaf),
            max_features="sqrt",
            n_jobs=-1,
            random_state=random_state,
        ).fit(x_train, y_train)
        out[leaf] = _into_columns(model.predict_proba(x_test), model.classes_, k_classes)
    return out


def _hist_gb(x_train, y_train, x_test, k_classes, settings, random_state, categorical=None):
    """Gradient-boosted trees on feature histograms; the settings are learning rates.

    scikit-learn's defaults otherwise (at most 100 iterations of trees with 31 leaves), with
    early stopping on a tenth of the training rows at every size (:data:`HIST_GB_EARLY_STOP`),
    the categorical columns split natively and NaN sent down the side that fits best.
    """
    out = {}
    mask = categorical if categorical is not None and categorical.any() else None
    # the validation share is stratified: every class needs rows enough to be in it
    counts = np.bincount(y_train)
    stop = HIST_GB_EARLY_STOP and counts[counts > 0].min() >= HIST_GB_EARLY_STOP_CLASS_ROWS
    with threadpool_limits(limits=HIST_GB_THREADS, user_api="openmp"):
        for rate in settings:
            model = HistGradientBoostingClassifier(
                learning_rate=float(rate), categorical_features=mask,
                early_stopping=True if stop else "auto", random_state=random_state,
            ).fit(x_train, y_train)
            out[rate] = _into_columns(model.predict_proba(x_test), model.classes_, k_classes)
    return out


def _complement_nb(x_train, y_train, x_test, k_classes, settings, random_state):
    """Complement naive Bayes (non-negative features such as TF-IDF); settings are alphas."""
    out = {}
    for alpha in settings:
        model = ComplementNB(alpha=alpha).fit(x_train, y_train)
        out[alpha] = _into_columns(model.predict_proba(x_test), model.classes_, k_classes)
    return out


_CANDIDATES = {
    "knn": _knn,
    "logistic": _logistic,
    "extra_trees": _extra_trees,
    "hist_gb": _hist_gb,
    "tfidf_logistic": _logistic,
    "tfidf_complement_nb": _complement_nb,
}


def _one_class(y_train: np.ndarray, n_test: int, k: int) -> np.ndarray:
    out = np.zeros((n_test, k))
    out[:, y_train[0]] = 1.0
    return out


# --------------------------------------------------------------------------- combining


def _self_confidence(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    return np.maximum(probs[np.arange(labels.size), labels], PROB_FLOOR)


def log_loss(labels: np.ndarray, probs: np.ndarray) -> float:
    """Mean negative log-probability of the given labels (probabilities floored at 1e-6).

    Parameters
    ----------
    labels : ndarray of shape (N,), int
    probs : ndarray of shape (N, K)

    Returns
    -------
    float
    """
    return float(-np.mean(np.log(_self_confidence(probs, labels))))


def _power(log_probs: np.ndarray, inverse_temperature: float) -> np.ndarray:
    """Row-wise softmax of ``log_probs * inverse_temperature`` (-inf entries stay 0)."""
    z = log_probs * inverse_temperature
    z -= z.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    return z / z.sum(axis=1, keepdims=True)


def calibrate_temperature(labels: np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, float]:
    """Rescale probabilities as ``p ** (1 / T)`` (renormalised) with T minimising log-loss.

    Exact zeros (a class the fold's model never saw) stay zero.

    Parameters
    ----------
    labels : ndarray of shape (N,), int
    probs : ndarray of shape (N, K)

    Returns
    -------
    calibrated : ndarray of shape (N, K)
    temperature : float
        In [exp(-3), exp(3)]; below 1 sharpens, above 1 softens.
    """
    log_probs = np.log(np.maximum(probs, PROB_FLOOR))
    log_probs[probs <= 0] = -np.inf

    def loss(log_beta: float) -> float:
        return log_loss(labels, _power(log_probs, float(np.exp(log_beta))))

    best = minimize_scalar(loss, bounds=(-3.0, 3.0), method="bounded", options={"xatol": 1e-4})
    beta = float(np.exp(best.x))
    if loss(0.0) <= best.fun:
        beta = 1.0
    return _power(log_probs, beta), 1.0 / beta


def mixture_weights(labels: np.ndarray, probs: Sequence[np.ndarray], *, iterations: int = 500,
                    tol: float = 1e-9) -> np.ndarray:
    """Convex weights of several probability models maximising the likelihood of ``labels``.

    The EM algorithm for the weights of a mixture whose components are fixed: each step
    moves every weight to its mean responsibility; the likelihood never decreases.

    Parameters
    ----------
    labels : ndarray of shape (N,), int
    probs : sequence of M ndarrays of shape (N, K)
    iterations, tol : int, float
        Stop after this many steps or when the log-loss improves by less than ``tol``.

    Returns
    -------
    ndarray of shape (M,)
        Non-negative weights summing to 1.
    """
    lik = np.stack([_self_confidence(p, labels) for p in probs], axis=1)
    weights = np.full(lik.shape[1], 1.0 / lik.shape[1])
    previous = np.inf
    for _ in range(iterations):
        mixed = lik @ weights
        loss = -float(np.mean(np.log(mixed)))
        if previous - loss < tol:
            break
        previous = loss
        weights = weights * (lik / mixed[:, None]).mean(axis=0)
        weights /= weights.sum()
    # EM creeps slowly towards an optimum on the boundary: never end worse than the best
    # single model
    singles = -np.mean(np.log(lik), axis=0)
    if singles.min() < -np.mean(np.log(lik @ weights)):
        weights = np.eye(lik.shape[1])[np.argmin(singles)]
    return weights


# --------------------------------------------------------------------------- main API


def _report(progress: Progress | None, fraction: float, message: str) -> None:
    if progress is not None:
        progress(float(min(max(fraction, 0.0), 1.0)), message)


def _duration(seconds: float) -> str:
    """``42 s``, ``3 min 05 s``, ``1 h 02 min``."""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


class _Clock:
    """Elapsed time and the time left, from the steps done so far (each step: one candidate
    model on one fold)."""

    def __init__(self, steps: int):
        self.steps = max(1, steps)
        self.start = time.perf_counter()

    def eta(self, done: int) -> str:
        elapsed = time.perf_counter() - self.start
        if done <= 0:
            return f"{_duration(elapsed)} elapsed; time left known after the first step"
        left = elapsed / done * (self.steps - done)
        return f"{_duration(elapsed)} elapsed, about {_duration(left)} left"


def _candidate_names(kind: str, candidates) -> tuple[str, ...]:
    if candidates is None:
        return AUTO_CANDIDATES[kind]
    names = (candidates,) if isinstance(candidates, str) else tuple(candidates)
    valid = AUTO_CANDIDATES[kind]
    wrong = [n for n in names if n not in valid]
    if wrong or not names:
        raise ValueError(
            f"unknown {kind} candidate(s) {wrong or names}; for {kind} input the candidates "
            f"are: {', '.join(valid)}."
        )
    return names


def _prepare(X, labels, cv, random_state, text, num_classes):
    cv = _check_cv(cv)
    random_state = _check_random_state(random_state)
    features = _features(X, text)
    source = "text" if text is not None else "X"
    y, k = _check_labels(labels, _num_rows(X, text), num_classes, source)
    folds, notes = make_folds(y, cv, random_state)
    for note in notes:
        if "single row" in note:
            warnings.warn(note, UserWarning, stacklevel=3)
    return features, y, k, folds, notes, random_state


def _finish(probs: np.ndarray) -> np.ndarray:
    probs = probs / probs.sum(axis=1, keepdims=True)
    return np.ascontiguousarray(probs, dtype=np.float32)


#: The gradient-boosted trees build one tree per class at every iteration: above this many
#: classes their cost (minutes per fold at 20,000 rows) is not worth a candidate.
HIST_GB_MAX_CLASSES = 100
#: Above this many rows the automatic model keeps the candidates whose cost grows about
#: linearly with the rows (logistic regression, gradient-boosted trees): the kNN's search
#: and the full-depth randomised trees (a forest of ~N/5 leaves per tree, ~1.6 GB of leaf
#: probabilities at 1M rows x 10 classes) grow faster.
LARGE_TABLE_ROWS = 200_000
#: Above this many rows the automatic model cross-validates on (at most) this many folds:
#: each fold's model still learns from two thirds of the rows, and the fits cost about half
#: (3 fits on 2/3 of the rows against 5 on 4/5). Measured on make_classification 30,000 x 30,
#: 10 classes, 15% noise (benchmarks/detector_by_size.py's table, seed 11): F1 0.666 against
#: 0.679 with 5 folds, in 27 s of CPU against 48 s (the cleanlab + HistGB recipe: 0.633).
FEWER_FOLDS_ROWS = 20_000
LARGE_TABLE_FOLDS = 3


def plan_candidates(
    n_rows: int, n_classes: int, kind: str = "tabular", *, trees: bool = True
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Which candidates the automatic model tries on a table of this size, and why.

    Parameters
    ----------
    n_rows, n_classes : int
        Rows and classes of the labels.
    kind : {"tabular", "text"}
    trees : bool
        Whether the rows have the gradient-boosted trees' view (dense features).

    Returns
    -------
    names : tuple of str
        The candidates, a subset of ``AUTO_CANDIDATES[kind]`` in its order.
    notes : tuple of str
        One sentence per candidate left out, for people (``ModelChoice.plan``).
    """
    names, notes = list(AUTO_CANDIDATES[kind]), []
    if kind == "tabular" and n_rows > LARGE_TABLE_ROWS:
        for name in ("knn", "extra_trees"):
            names.remove(name)
        notes.append(f"knn and extra_trees left out: {n_rows:,} rows (more than "
                     f"{LARGE_TABLE_ROWS:,}); their cost grows faster than the rows.")
    if "hist_gb" in names and not trees:
        names.remove("hist_gb")
        notes.append("hist_gb left out: its trees need dense features (these are sparse).")
    if "hist_gb" in names and n_classes > HIST_GB_MAX_CLASSES:
        names.remove("hist_gb")
        notes.append(f"hist_gb left out: {n_classes} classes (more than "
                     f"{HIST_GB_MAX_CLASSES}) make one tree each per iteration.")
    return tuple(names), tuple(notes)


def _hist_gb_folds(features, y, k, folds, settings, seed):
    """The gradient-boosted trees on every fold, folds side by side on the cores (each fit on
    one OpenMP thread, :data:`HIST_GB_THREADS`): yields (fold, probabilities, seconds) in
    fold order as they finish."""

    def one(train, test):
        start = time.perf_counter()
        x_train, x_test = features.fold(train, test, "trees")
        if np.unique(y[train]).size < 2:
            probs = dict.fromkeys(settings, _one_class(y[train], test.size, k))
        else:
            probs = _hist_gb(x_train, y[train], x_test, k, settings, seed, features.categorical)
        return probs, time.perf_counter() - start

    jobs = max(1, min(len(folds), os.cpu_count() or 1))
    runs = Parallel(n_jobs=jobs, prefer="threads", return_as="generator")(
        delayed(one)(train, test) for train, test in folds)
    for f, (probs, seconds) in enumerate(runs):
        yield f, probs, seconds


def _fit_folds(features, y, k, folds, plan: dict, seed, progress) -> tuple[dict, dict]:
    """Every candidate of ``plan`` ({name: settings}) on every fold: the raw out-of-fold
    probabilities {name: {setting: (N, K)}} and the seconds each candidate took."""
    names = tuple(plan)
    raw = {name: {s: np.zeros((y.size, k)) for s in plan[name]} for name in names}
    seconds = dict.fromkeys(names, 0.0)
    steps, done = len(folds) * len(names) + 1, 0
    _report(progress, 0.0, f"{len(folds)} folds x {len(names)} candidates on {y.size:,} rows")
    clock = _Clock(steps - 1)
    with threadpool_limits(limits=1, user_api="blas"), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.filterwarnings("ignore", message="Found unknown categories")
        if "hist_gb" in plan:
            _report(progress, 0.0, f"training hist_gb on {len(folds)} folds side by side")
            for f, probs, spent in _hist_gb_folds(features, y, k, folds, plan["hist_gb"], seed):
                for s, p in probs.items():
                    raw["hist_gb"][s][folds[f][1]] = p
                seconds["hist_gb"] += spent
                done += 1
                _report(progress, done / steps, f"fold {f + 1}/{len(folds)}: hist_gb done "
                        f"({clock.eta(done)})")
        others = [name for name in names if name != "hist_gb"]
        for f, (train, test) in enumerate(folds):
            if not others:
                break
            x_train, x_test = features.fold(train, test)
            y_train = y[train]
            for c, name in enumerate(others):
                _report(progress, done / steps,
                        f"fold {f + 1}/{len(folds)}, candidate {c + 1}/{len(others)}: training "
                        f"{name} on {train.size:,} rows ({clock.eta(done)})")
                start = time.perf_counter()
                if np.unique(y_train).size < 2:
                    probs = dict.fromkeys(raw[name], _one_class(y_train, test.size, k))
                else:
                    probs = _CANDIDATES[name](x_train, y_train, x_test, k, plan[name], seed)
                for s, p in probs.items():
                    raw[name][s][test] = p
                seconds[name] += time.perf_counter() - start
                done += 1
                _report(progress, done / steps,
                        f"fold {f + 1}/{len(folds)}, candidate {c + 1}/{len(others)}: {name} "
                        f"done in {_duration(time.perf_counter() - start)} "
                        f"({clock.eta(done)})")
    return raw, seconds


def _combine(y: np.ndarray, raw: dict, seconds: dict) -> tuple[np.ndarray, tuple]:
    """Calibrate every setting, keep each candidate's best, weigh the candidates (EM)."""
    calibrated, partial = [], []
    for name, tried_raw in raw.items():
        # every setting is calibrated, then the setting with the lowest calibrated log-loss
        # wins: it is judged as it will be used
        tried = {}
        for s, p in tried_raw.items():
            probs, temperature = calibrate_temperature(y, p)
            tried[s] = (log_loss(y, probs), log_loss(y, p), temperature, probs)
        setting = min(tried, key=lambda s: (tried[s][0], s))
        cal_loss, loss, temperature, probs = tried[setting]
        calibrated.append(probs)
        partial.append((name, setting, loss, temperature, cal_loss))
    weights = mixture_weights(y, calibrated)
    final = _finish(sum(w * p for w, p in zip(weights, calibrated, strict=True)))
    results = tuple(
        CandidateResult(
            name=name,
            setting={_SETTING_NAMES[name]: setting},
            log_loss=loss,
            temperature=temperature,
            calibrated_log_loss=cal_loss,
            weight=float(w),
            seconds=seconds[name],
        )
        for (name, setting, loss, temperature, cal_loss), w in zip(partial, weights, strict=True)
    )
    return final, results


def _settings_plan(settings: dict, kind: str) -> dict:
    valid = AUTO_CANDIDATES[kind]
    wrong = [n for n in settings if n not in valid]
    if wrong or not settings:
        raise ValueError(f"settings must map {kind} candidates ({', '.join(valid)}) to one "
                         f"setting each; got {settings!r}.")
    return {name: (value,) for name, value in settings.items()}


def choose_model(
    X=None,
    labels=None,
    *,
    cv: int = 5,
    random_state: int | None = 0,
    progress: Progress | None = None,
    text=None,
    num_classes: int | None = None,
    candidates: Sequence[str] | str | None = None,
    settings: dict | None = None,
) -> ModelChoice:
    """Cross-validate the automatic candidates, calibrate and combine them.

    Parameters
    ----------
    X : array-like of shape (N, F), DataFrame or sparse matrix, optional
        Features (see the module notes). Leave out when ``text`` is given.
    labels : array-like of shape (N,)
        Given labels, integers 0..K-1.
    cv : int, default=5
        Number of folds (fewer when a class is smaller, see the module notes).
    random_state : int or None, default=0
        Seed of the folds and of the randomised models; the same seed gives the same output.
    progress : callable(fraction, message), optional
        Called after every candidate on every fold, and once at the end with 1.0.
    text : sequence of str of length N, optional
        Text per row, instead of ``X``.
    num_classes : int, optional
        K; by default one more than the largest label.
    candidates : str or sequence of str, optional
        Subset of ``AUTO_CANDIDATES["tabular"]`` (or ``["text"]``) to try; by default
        :func:`plan_candidates` chooses by the table's size.
    settings : dict, optional
        ``{candidate: setting}``: fit only these candidates, each at this one setting (no
        search), then calibrate and weigh them again — how a refit reuses a first choice
        (:attr:`ModelChoice.chosen`). Overrides ``candidates``.

    Returns
    -------
    ModelChoice
        ``pred_probs`` of shape (N, K) float32, each candidate's setting, log-loss,
        temperature and weight, and the plan's notes.
    """
    features, y, k, folds, notes, seed = _prepare(X, labels, cv, random_state, text, num_classes)
    if settings is not None:
        plan, planned = _settings_plan(settings, features.kind), ("settings reused",)
    elif candidates is not None:
        names = _candidate_names(features.kind, candidates)
        plan, planned = {n: CANDIDATE_SETTINGS[n] for n in names}, ("candidates given",)
    else:
        names, planned = plan_candidates(y.size, k, features.kind, trees=features.trees)
        plan = {n: CANDIDATE_SETTINGS[n] for n in names}
        if y.size > FEWER_FOLDS_ROWS and len(folds) > LARGE_TABLE_FOLDS:
            folds, notes = make_folds(y, LARGE_TABLE_FOLDS, seed)
            planned += (f"{len(folds)} folds instead of {cv}: {y.size:,} rows (more than "
                        f"{FEWER_FOLDS_ROWS:,}); each fold's model still learns from "
                        f"{1 - 1 / len(folds):.0%} of them.",)
    if "hist_gb" in plan and not features.trees:
        raise ValueError("hist_gb needs dense features; these are sparse or text.")
    # memory estimated before the work starts (#13): refused with the numbers
    limits.check_training(y.size, k, 2 * sum(len(v) for v in plan.values()) + 2,
                          f"out-of-fold training of {len(plan)} candidates")
    raw, seconds = _fit_folds(features, y, k, folds, plan, seed, progress)
    final, results = _combine(y, raw, seconds)
    _report(progress, 1.0, "combined")
    return ModelChoice(final, results, log_loss(y, final), len(folds), notes, planned)


def _check_model(model) -> None:
    if not (hasattr(model, "fit") and hasattr(model, "get_params")):
        raise ValueError(
            f"model must be 'auto', a candidate name or a scikit-learn classifier; got {model!r}."
        )
    if not hasattr(model, "predict_proba"):
        raise ValueError(
            f"model {type(model).__name__} has no predict_proba: use a classifier that "
            "predicts probabilities (e.g. SVC(probability=True), or wrap it in "
            "sklearn.calibration.CalibratedClassifierCV)."
        )


def out_of_fold_probabilities(
    X=None,
    labels=None,
    *,
    model="auto",
    cv: int = 5,
    random_state: int | None = 0,
    progress: Progress | None = None,
    text=None,
    num_classes: int | None = None,
    preprocess: bool = True,
) -> np.ndarray:
    """Predicted probabilities for every row from a model that never saw that row.

    Parameters
    ----------
    X : array-like of shape (N, F), DataFrame or sparse matrix, optional
        Features: numeric (NaN allowed, imputed), or a DataFrame whose non-numeric columns
        are one-hot encoded. Leave out when ``text`` is given.
    labels : array-like of shape (N,)
        Given labels, integers 0..K-1.
    model : "auto", a candidate name or a scikit-learn classifier, default="auto"
        ``"auto"``: the calibrated mixture of :data:`AUTO_CANDIDATES` (see
        :func:`choose_model`). A name from :data:`AUTO_CANDIDATES`: that candidate alone
        (its setting and temperature still chosen). A classifier with ``predict_proba``:
        cloned and fitted on every training fold.
    cv : int, default=5
        Number of stratified folds (lowered to the smallest class count when that is >= 2).
    random_state : int or None, default=0
        Seed of the fold shuffle and of the models; same inputs and seed, same output.
    progress : callable(fraction, message), optional
        Called as the work advances: after every fold (every candidate on every fold for
        ``"auto"``) with the fraction done in [0, 1]. An exception it raises stops the work.
    text : sequence of str of length N, optional
        One text per row, used instead of ``X`` (TF-IDF features).
    num_classes : int, optional
        K; by default one more than the largest label. Classes without rows get a column of
        zeros.
    preprocess : bool, default=True
        Give a user ``model`` the imputed, standardised, one-hot (or TF-IDF) features fitted
        on each training fold; with False it gets the rows of ``X`` (or ``text``) as passed.

    Returns
    -------
    ndarray of shape (N, K), float32
        Rows summing to 1; row i comes from the model of the fold that held row i out.

    Raises
    ------
    ValueError
        Lengths differ, X not 2-D or without columns, labels not integers 0..K-1, fewer than
        two classes, every class a single row, bad ``cv``, a model without ``predict_proba``.

    Warns
    -----
    UserWarning
        When a class has a single row (that row's own class gets probability 0).
    """
    if isinstance(model, str):
        if model == "auto":
            return choose_model(
                X, labels, cv=cv, random_state=random_state, progress=progress, text=text,
                num_classes=num_classes,
            ).pred_probs
        every = sorted({n for names in AUTO_CANDIDATES.values() for n in names})
        if model not in every:
            raise ValueError(f"model={model!r} is not 'auto' nor one of: {', '.join(every)}.")
        return choose_model(
            X, labels, cv=cv, random_state=random_state, progress=progress, text=text,
            num_classes=num_classes, candidates=(model,),
        ).pred_probs
    _check_model(model)
    features, y, k, folds, _, _ = _prepare(X, labels, cv, random_state, text, num_classes)
    if not preprocess:
        features = _Features(features.data if X is None else X, None, features.kind)
    out = np.zeros((y.size, k))
    _report(progress, 0.0, f"{len(folds)} folds on {y.size:,} rows")
    clock = _Clock(len(folds))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Found unknown categories")
        for f, (train, test) in enumerate(folds):
            x_train, x_test = features.fold(train, test)
            y_train = y[train]
            _report(progress, f / len(folds), f"fold {f + 1}/{len(folds)}: training on "
                    f"{train.size:,} rows ({clock.eta(f)})")
            if np.unique(y_train).size < 2:
                out[test] = _one_class(y_train, test.size, k)
            else:
                fitted = clone(model).fit(x_train, y_train)
                out[test] = _into_columns(fitted.predict_proba(x_test), fitted.classes_, k)
            _report(progress, (f + 1) / len(folds),
                    f"fold {f + 1}/{len(folds)} done ({clock.eta(f + 1)})")
    return _finish(out)
