"""Does the detection find the real errors, and does cleaning pay?

With known true labels (the bundled samples, or a user's audited subset) this module measures
each filter against the truth, draws the precision-recall curve of each ranking score, and
runs the retrain check: a model trained on the original labels vs on the cleaned split,
scored on held-out rows whose true labels are known, with bootstrap confidence intervals.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from analysis.core.evidence import Evidence
from analysis.core.issues import FILTERS, RANKINGS, issues_mask_from, scores_from
from analysis.data.dataset import WRONG_CLASS_UNKNOWN
from analysis.pipeline import Analysis


def audited(truth) -> np.ndarray:
    """(N,) bool: rows whose audit is known: a true class, or "wrong, class unknown"
    (:data:`analysis.data.dataset.WRONG_CLASS_UNKNOWN`)."""
    truth = np.asarray(truth)
    return (truth >= 0) | (truth == WRONG_CLASS_UNKNOWN)


def _has_truth(truth) -> bool:
    return truth is not None and bool(audited(truth).any())


def _known(result: Analysis) -> tuple[np.ndarray, np.ndarray]:
    """Audited rows, and those whose given label is wrong ("wrong, class unknown" counts as
    wrong: it is never a class)."""
    truth = result.dataset.true_labels
    if not _has_truth(truth):
        raise ValueError(f"{result.dataset.source}: no true labels are known, so detection "
                         "cannot be measured (add a true-label column for an audited subset).")
    truth = np.asarray(truth)
    known = audited(truth)
    return known, known & (truth != result.labels)


@dataclass(frozen=True)
class TruthCheck:
    """The current flags against the known true labels (rows with known truth only)."""

    known: int
    wrong: int
    flagged: int
    hits: int

    @property
    def precision(self) -> float:
        return self.hits / self.flagged if self.flagged else float("nan")

    @property
    def recall(self) -> float:
        return self.hits / self.wrong if self.wrong else float("nan")


def truth_check(result: Analysis) -> TruthCheck | None:
    """How many known-wrong labels the current filter flags; ``None`` without known truth."""
    if not _has_truth(result.dataset.true_labels):
        return None
    known, wrong = _known(result)
    flagged = result.is_issue & known
    return TruthCheck(int(known.sum()), int(wrong.sum()), int(flagged.sum()),
                      int((flagged & wrong).sum()))


def _prf(flagged: np.ndarray, wrong: np.ndarray) -> tuple[int, int, float, float, float]:
    tp = int(np.count_nonzero(flagged & wrong))
    n_flag = int(np.count_nonzero(flagged))
    n_wrong = int(np.count_nonzero(wrong))
    precision = tp / n_flag if n_flag else float("nan")
    recall = tp / n_wrong if n_wrong else float("nan")
    f1 = 2 * tp / (n_flag + n_wrong) if n_flag + n_wrong else float("nan")
    return tp, n_flag, precision, recall, f1


def detection_table(result: Analysis, filters=FILTERS) -> pd.DataFrame:
    """Precision, recall and F1 of each filter against the known true labels.

    Only rows whose true label is known count. Returns one row per filter: ``filter``,
    ``flagged``, ``true_errors`` (flagged and truly wrong), ``precision``, ``recall``, ``f1``,
    and ``suggestion_right`` (share of the truly wrong flagged rows whose suggested label is
    the true one, as :attr:`analysis.pipeline.Analysis.suggested` of that filter).

    Notes
    -----
    Built for a million rows: the current filter's flags are ``result.is_issue``, ``both`` is
    the rows both ``prune_by_noise_rate`` and ``prune_by_class`` flag (the same counts, so the
    same rows) when those are in the table, and suggestions are computed for the truly wrong
    flagged rows only. For the combined detector (``result.detector == "clean_and_refit"``)
    the current filter's row is the detector's own flags (the filter's count, chosen by
    relative confidence: :func:`analysis.pipeline.relative_confidence_flags`) and the other
    rows are the plain filters on the same probabilities.
    """
    known, wrong = _known(result)
    truth = np.asarray(result.dataset.true_labels)
    ev = result.evidence
    masks: dict[str, np.ndarray] = {}

    def flags(name: str) -> np.ndarray:
        if name not in masks:
            if name == result.filter_by and ("is_issue" in result.__dict__
                                             or result.detector != "confident_learning"):
                masks[name] = result.is_issue  # the combined detector's flags are its own
            elif (name == "both" and result.detector == "confident_learning"
                  and {"prune_by_noise_rate", "prune_by_class"} <= set(filters)):
                masks[name] = flags("prune_by_noise_rate") & flags("prune_by_class")
            else:
                masks[name] = issues_mask_from(ev, name)
        return masks[name]

    rows = []
    for name in filters:
        mask = flags(name) & known
        tp, n_flag, p, r, f = _prf(mask, wrong)
        hits = np.flatnonzero(mask & wrong)
        fixed = suggested_at(result.pred_probs, result.labels, hits)
        right = float(np.mean(fixed == truth[hits])) if hits.size else float("nan")
        rows.append({"filter": name, "flagged": n_flag, "true_errors": tp, "precision": p,
                     "recall": r, "f1": f, "suggestion_right": right})
    return pd.DataFrame(rows)


def suggested_at(pred_probs: np.ndarray, labels: np.ndarray, rows) -> np.ndarray:
    """:attr:`analysis.pipeline.Analysis.suggested` of flagged ``rows`` only: the most probable
    class, or the most probable other class where that is the given label (first maximum on
    ties, as ``argmax``)."""
    rows = np.asarray(rows, dtype=np.int64)
    probs = np.array(pred_probs[rows], dtype=np.float64)
    best = np.argmax(probs, axis=1)
    same = np.flatnonzero(best == np.asarray(labels)[rows])
    if same.size:
        probs[same, np.asarray(labels)[rows[same]]] = -np.inf
        best[same] = np.argmax(probs[same], axis=1)
    return best


def precision_recall(scores, wrong) -> pd.DataFrame:
    """Precision and recall of flagging the k lowest-scored rows, for every k.

    Parameters
    ----------
    scores : array-like of shape (M,)
        Label quality scores (low = likely wrong).
    wrong : array-like of shape (M,), bool
        Whether each row's given label is truly wrong.

    Returns
    -------
    DataFrame
        ``k`` (1..M), ``threshold`` (score of the k-th row), ``precision``, ``recall``;
        ties in the score are broken by row order.
    """
    scores = np.asarray(scores, dtype=float)
    wrong = np.asarray(wrong, dtype=bool)
    if scores.shape != wrong.shape or scores.ndim != 1:
        raise ValueError("scores and wrong must be 1-D of the same length.")
    order = np.argsort(scores, kind="stable")
    hits = np.cumsum(wrong[order])
    k = np.arange(1, scores.size + 1)
    total = max(int(wrong.sum()), 1)
    return pd.DataFrame({"k": k, "threshold": scores[order], "precision": hits / k,
                         "recall": hits / total})


def average_precision(scores, wrong) -> float:
    """Mean of the precision at each truly wrong row, rows ranked by score (lowest first)."""
    curve = precision_recall(scores, wrong)
    wrong = np.asarray(wrong, dtype=bool)
    if not wrong.any():
        return float("nan")
    hit = wrong[np.argsort(np.asarray(scores, dtype=float), kind="stable")]
    return float(curve["precision"].to_numpy()[hit].mean())


def known_scores(result: Analysis) -> dict[str, np.ndarray]:
    """Every ranking score of the rows with known truth (in row order), computed on those
    rows only: the scores are per row, so they equal ``scores_from(evidence, m)[known]``."""
    known, _ = _known(result)
    if known.all():
        ev = result.evidence
    else:
        ev = Evidence(result.labels[known], result.pred_probs[known], require_two_classes=False)
    return {m: scores_from(ev, m) for m in RANKINGS}


def thin_curve(curve: pd.DataFrame, max_points: int) -> pd.DataFrame:
    """At most ``max_points`` rows of a :func:`precision_recall` curve for drawing: evenly
    spaced in ``k``, the first and the last row always kept (the row index is kept)."""
    n = len(curve)
    if n <= max_points:
        return curve
    take = np.unique(np.linspace(0, n - 1, max(int(max_points), 2)).round().astype(np.int64))
    return curve.iloc[take]


def ranking_curves(result: Analysis, *, max_points: int | None = None
                   ) -> dict[str, pd.DataFrame]:
    """:func:`precision_recall` of every ranking score on the rows with known truth; with
    ``max_points`` each curve thinned to that many points (:func:`thin_curve`) for a figure."""
    known, wrong = _known(result)
    curves = {m: precision_recall(sc, wrong[known]) for m, sc in known_scores(result).items()}
    if max_points is not None:
        curves = {m: thin_curve(c, max_points) for m, c in curves.items()}
    return curves


@dataclass(frozen=True)
class RetrainResult:
    """Accuracy on held-out rows with known true labels, trained on each version of the labels.

    ``original`` / ``cleaned``: (accuracy, low, high) with a percentile bootstrap interval;
    ``gain``: the paired bootstrap of cleaned - original.
    """

    original: tuple[float, float, float]
    cleaned: tuple[float, float, float]
    gain: tuple[float, float, float]
    test_rows: int
    train_rows_original: int
    train_rows_cleaned: int
    confidence: float
    model: str
    #: Rows the check used (a stratified sample when the data set had more than ``max_rows``)
    #: and rows in the data set.
    sample_rows: int = 0
    total_rows: int = 0


def stratified_sample(strata, size: int, *, random_state: int = 0) -> np.ndarray:
    """``size`` row positions drawn without replacement, each stratum (value of ``strata``)
    getting its share: ``floor(size * n_s / N)`` rows, the rows left over going to the strata
    with the largest remainders (ties: the smaller stratum value). Sorted; every row when
    ``size >= N``.
    """
    strata = np.asarray(strata).reshape(-1)
    n = strata.size
    if size >= n:
        return np.arange(n, dtype=np.int64)
    values, inverse, counts = np.unique(strata, return_inverse=True, return_counts=True)
    exact = size * counts / n
    share = np.floor(exact).astype(np.int64)
    left = size - int(share.sum())
    if left:
        share[np.argsort(-(exact - share), kind="stable")[:left]] += 1
    rng = np.random.default_rng(random_state)
    order = rng.permutation(n)
    order = order[np.argsort(inverse[order], kind="stable")]  # shuffled within each stratum
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.arange(n) - np.repeat(starts, counts)
    take = order[rank < np.repeat(share, counts)]
    return np.sort(take).astype(np.int64)


def retrain_check(
    X: np.ndarray,
    labels,
    cleaned_labels,
    true_labels,
    *,
    test_size: float = 0.3,
    model=None,
    n_boot: int = 1000,
    confidence: float = 0.95,
    random_state: int = 0,
    max_rows: int | None = 50_000,
) -> RetrainResult:
    """Train on the original labels and on the cleaned labels; test both on clean held-out rows.

    With more than ``max_rows`` rows the check runs on a stratified sample of ``max_rows``
    rows (:func:`stratified_sample`, strata: the known true class, unknown truth as one more
    stratum; seeded by ``random_state``); ``sample_rows`` in the result says how many.

    Parameters
    ----------
    X : array-like of shape (N, F)
        Numeric features (e.g. :func:`analysis.model.embedding.prepare_features`).
    labels : array-like of shape (N,)
        Given labels.
    cleaned_labels : array-like of shape (N,)
        Labels after cleaning; -1 marks a removed row.
    true_labels : array-like of shape (N,)
        Known true labels, -1 where unknown. The test rows are drawn (stratified) from the
        rows with a known true label and are scored against it.
    test_size : float
        Share of the rows with known truth held out for testing.
    model : scikit-learn classifier, optional
        Default: logistic regression (lbfgs, C=1, 1000 iterations) on standardised features.
    n_boot : int
        Bootstrap resamples of the test rows (paired between the two models).
    max_rows : int or None
        At most this many rows are used (``None``: all).

    Returns
    -------
    RetrainResult
    """
    total = len(X)
    X, labels, cleaned, truth = _retrain_rows(X, labels, cleaned_labels, true_labels,
                                              test_size=test_size, max_rows=max_rows,
                                              random_state=random_state)
    test = _held_out_rows(truth, test_size, random_state)
    train = np.setdiff1d(np.arange(len(X)), test)
    base = model if model is not None else make_pipeline(
        StandardScaler(), LogisticRegression(max_iter=1000))
    keep = train[cleaned[train] >= 0]
    fit_a = clone(base).fit(X[train], labels[train])
    fit_b = clone(base).fit(X[keep], cleaned[keep])
    right_a = fit_a.predict(X[test]) == truth[test]
    right_b = fit_b.predict(X[test]) == truth[test]
    original, cleaned_acc, gain = _paired_bootstrap(right_a, right_b, n_boot=n_boot,
                                                    confidence=confidence,
                                                    random_state=random_state)
    return RetrainResult(
        original=original,
        cleaned=cleaned_acc,
        gain=gain,
        test_rows=int(test.size),
        train_rows_original=int(train.size),
        train_rows_cleaned=int(keep.size),
        confidence=confidence,
        model=type(base).__name__ if model is not None else
        "standardised features + logistic regression",
        sample_rows=int(len(X)),
        total_rows=int(total),
    )


def _retrain_rows(X, labels, cleaned_labels, true_labels, *, test_size: float,
                  max_rows: int | None, random_state: int) -> tuple[np.ndarray, ...]:
    """The checked inputs of :func:`retrain_check`, on a stratified sample past ``max_rows``:
    ``(X as float64, labels, cleaned, truth)``."""
    X = np.asarray(X)  # float64 after sampling: a copy of the sample only
    labels = np.asarray(labels)
    cleaned = np.asarray(cleaned_labels)
    truth = np.asarray(true_labels)
    if not (len(X) == labels.size == cleaned.size == truth.size):
        raise ValueError("X, labels, cleaned_labels and true_labels must have one entry per row.")
    if not 0 < test_size < 1:
        raise ValueError(f"test_size must be in (0, 1), got {test_size}.")
    if max_rows is not None and len(X) > max_rows:
        use = stratified_sample(np.where(truth >= 0, truth, -1), max_rows,
                                random_state=random_state)
        X, labels, cleaned, truth = X[use], labels[use], cleaned[use], truth[use]
    return np.asarray(X, dtype=np.float64), labels, cleaned, truth


def _held_out_rows(truth: np.ndarray, test_size: float, random_state: int) -> np.ndarray:
    """The test rows of the retrain check: drawn from the rows of known truth, stratified by
    it when every class there has two rows."""
    known = np.flatnonzero(truth >= 0)
    if known.size < 10:
        raise ValueError(f"the retrain check needs known true labels for at least 10 rows, got "
                         f"{known.size}.")
    counts = np.bincount(truth[known])
    stratify = truth[known] if counts[counts > 0].min() >= 2 else None
    _, test = train_test_split(known, test_size=test_size, random_state=random_state,
                               stratify=stratify)
    return test


def _paired_bootstrap(right_a: np.ndarray, right_b: np.ndarray, *, n_boot: int,
                      confidence: float, random_state: int) -> tuple[tuple[float, ...], ...]:
    """Accuracy of both models and their gain, each ``(point, low, high)``: the same bootstrap
    resamples of the test rows for both (paired)."""
    rng = np.random.default_rng(random_state)
    boots = rng.integers(0, right_a.size, size=(n_boot, right_a.size))
    acc_a = right_a[boots].mean(axis=1)
    acc_b = right_b[boots].mean(axis=1)
    lo, hi = (1 - confidence) / 2 * 100, (1 + confidence) / 2 * 100

    def summary(point, samples):
        return float(point), float(np.percentile(samples, lo)), float(np.percentile(samples, hi))

    return (summary(right_a.mean(), acc_a), summary(right_b.mean(), acc_b),
            summary(right_b.mean() - right_a.mean(), acc_b - acc_a))


#: An audit counts as chosen by the detector when flagged rows were audited at least this many
#: times as often as unflagged rows.
AUDIT_BIAS_RATIO = 3.0
#: Fewer audited unflagged rows than this and recall is not estimated.
MIN_AUDITED_UNFLAGGED = 30


@dataclass(frozen=True)
class AuditDesign:
    """Which rows the audit (the known true labels) covers, and what it allows to say.

    Attributes
    ----------
    flagged, unflagged : int
        Rows flagged / not flagged by the current filter (whole dataset).
    audited_flagged, audited_unflagged : int
        Of those, rows with a known true label.
    wrong_flagged, wrong_unflagged : int
        Audited rows whose given label is wrong, flagged / not flagged.
    """

    flagged: int
    unflagged: int
    audited_flagged: int
    audited_unflagged: int
    wrong_flagged: int
    wrong_unflagged: int

    @property
    def coverage_flagged(self) -> float:
        """Share of the flagged rows that were audited."""
        return self.audited_flagged / self.flagged if self.flagged else float("nan")

    @property
    def coverage_unflagged(self) -> float:
        """Share of the unflagged rows that were audited."""
        return self.audited_unflagged / self.unflagged if self.unflagged else float("nan")

    @property
    def follows_the_detector(self) -> bool:
        """The audit checked flagged rows far more often than the others
        (:data:`AUDIT_BIAS_RATIO`): precision and recall over audited rows are biased."""
        cf, cu = self.coverage_flagged, self.coverage_unflagged
        if not self.audited_flagged or not np.isfinite(cf):
            return False
        return not np.isfinite(cu) or cu == 0 or cf >= AUDIT_BIAS_RATIO * cu

    @property
    def precision(self) -> float:
        """Share of truly wrong labels among the audited flagged rows (the filter's precision
        when those are a fair sample of the flagged rows)."""
        return (self.wrong_flagged / self.audited_flagged if self.audited_flagged
                else float("nan"))

    @property
    def recall(self) -> float:
        """Estimated recall over the whole dataset: wrong rates of audited flagged and audited
        unflagged rows, each scaled to its group's size. NaN when fewer than
        :data:`MIN_AUDITED_UNFLAGGED` unflagged rows were audited (the audit does not allow
        an estimate)."""
        if self.audited_unflagged < MIN_AUDITED_UNFLAGGED or not self.audited_flagged:
            return float("nan")
        found = self.precision * self.flagged
        missed = self.wrong_unflagged / self.audited_unflagged * self.unflagged
        return found / (found + missed) if found + missed > 0 else float("nan")


def audit_design(result: Analysis) -> AuditDesign | None:
    """How the known true labels are spread over flagged and unflagged rows (``None``
    without known truth). See :class:`AuditDesign`."""
    if not _has_truth(result.dataset.true_labels):
        return None
    known, wrong = _known(result)
    flag = np.asarray(result.is_issue, dtype=bool)
    return AuditDesign(
        flagged=int(flag.sum()), unflagged=int((~flag).sum()),
        audited_flagged=int((flag & known).sum()), audited_unflagged=int((~flag & known).sum()),
        wrong_flagged=int((flag & wrong).sum()), wrong_unflagged=int((~flag & wrong).sum()),
    )


#: Said once, wherever the audit follows the detector (:attr:`AuditDesign.follows_the_detector`).
AUDIT_BIAS_NOTE = ("An audit of flagged rows only cannot measure recall: the wrong labels "
                   "nobody flagged are the ones it never looks at. Audit a random sample of "
                   "the unflagged rows too.")


def audit_line(design: AuditDesign) -> str:
    """The one sentence on precision and recall against the known true labels, shown the
    same way on the Overview, on Evaluate and in the report (plain text, no markup).

    Precision is over the audited flagged rows; recall is :attr:`AuditDesign.recall`, each
    group's wrong-label rate scaled to its size (with every row audited, the plain recall),
    or "cannot be estimated" when fewer than :data:`MIN_AUDITED_UNFLAGGED` unflagged rows
    were audited.
    """
    known = design.audited_flagged + design.audited_unflagged
    wrong = design.wrong_flagged + design.wrong_unflagged
    p = design.precision
    prec = (f"precision {p:.0%} ({design.wrong_flagged:,} of the {design.audited_flagged:,} "
            "audited flagged rows are truly wrong)" if np.isfinite(p)
            else "precision cannot be measured (no flagged row was audited)")
    r = design.recall
    rec = (f"recall {r:.0%} (the wrong-label rates of the audited flagged and unflagged rows, "
           "each scaled to its group's size)" if np.isfinite(r) else
           f"recall cannot be estimated: only {design.audited_unflagged:,} unflagged "
           f"row{'s' if design.audited_unflagged != 1 else ''} were audited (at least "
           f"{MIN_AUDITED_UNFLAGGED} are needed, chosen at random)")
    line = (f"Checked against the known true labels of {known:,} rows ({design.audited_flagged:,}"
            f" of the {design.flagged:,} flagged, {design.audited_unflagged:,} of the "
            f"{design.unflagged:,} others; {wrong:,} labels truly wrong): {prec}; {rec}.")
    if design.follows_the_detector:
        line += " " + AUDIT_BIAS_NOTE
    return line
