"""Findings people act on: intervals, noise by slice, errors remaining, a review order.

Every estimate here states its model:

* **Intervals of the noise estimate** (:func:`class_intervals`, :func:`slice_noise`): a
  bootstrap over rows with the model's probabilities and the per-class thresholds held fixed.
  Each row falls into one of three cells per given class — counted for its given class,
  counted for another class, not counted — so resampling N rows with replacement is exactly a
  multinomial draw over those 3K cells (no loop over rows). The estimate of a class is the
  confident-learning one: its rows times the share of its counted rows counted for another
  class. The interval is the 2.5–97.5 percentile of the resamples: it covers the sampling
  variation of the rows, not a bias of the model.
* **Errors remaining** (:func:`errors_remaining`): each verdict is evidence (relabel / remove:
  the flag was right; keep: a false alarm). The probability that a row's label is wrong is
  modelled as ``logit P = a + logit(1 - p_given)`` (``p_given``: the model's probability of
  the given label): the verdicts rescale the model's odds of a wrong label by one factor
  ``exp(a)``. Flagged and unflagged rows have a shift each, both with the prior
  ``a ~ N(a0, 1)``, ``a0`` the shift at which the rescaled model expects the
  confident-learning estimate of wrong labels in all rows; the posterior is computed on a
  grid. Verdicts on flagged rows say nothing about the unflagged ones: their part stays the
  model's until someone spot-checks unflagged rows. Because the model conditions on
  ``p_given``, reviewing in rank order (not a random sample) does not bias it. The number of
  wrong labels left in the rows nobody reviewed is the posterior predictive (a mixture of
  the normal approximations of the Poisson-binomial count). The precision of the flags
  reviewed so far has a Jeffreys interval (Beta(hits + 1/2, misses + 1/2)).
* **Review order** (:func:`review_order`): unreviewed flagged rows by their estimated
  probability of being wrong — the calibrated probability above, times the odds that the
  verdicts on the same confusion (given → suggested) showed against their expectation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.special import expit, logit
from scipy.stats import beta, norm

#: Bootstrap resamples of the interval functions.
RESAMPLES = 2000
#: Coverage of every interval.
LEVEL = 0.95
#: A column with at most this many distinct values (and at least two) can be sliced by.
MAX_SLICES = 50
#: Prior strength (pseudo-verdicts) of a confusion's adjustment in :func:`review_order`.
PAIR_PRIOR = 3.0

INTERVAL_METHOD = (
    "bootstrap over rows (2,000 resamples; the model's probabilities and class thresholds "
    "held fixed), 2.5-97.5 percentiles"
)
REMAINING_METHOD = (
    "the verdicts rescale the model's odds that a label is wrong, 1 - p(given label), by one "
    "factor exp(a), prior a ~ N(a0, 1) centred on the confident-learning estimate (flagged and "
    "unflagged rows each their own a); wrong labels left in the unreviewed rows from its "
    "posterior predictive"
)


@dataclass(frozen=True)
class Interval:
    """An estimate with its 95% interval.

    Attributes
    ----------
    estimate, low, high : float
    method : str
        How the interval was obtained, in words.
    """

    estimate: float
    low: float
    high: float
    method: str = ""

    def as_dict(self, digits: int = 4) -> dict:
        return {"estimate": round(float(self.estimate), digits),
                "low": round(float(self.low), digits), "high": round(float(self.high), digits)}


# --------------------------------------------------------------------------- cells


def _cells(labels: np.ndarray, guess: np.ndarray, k: int) -> np.ndarray:
    """(K, 3) counts per given class: counted for itself, counted for another, not counted."""
    kind = np.where(guess < 0, 2, np.where(guess == labels, 0, 1))
    return np.bincount(labels * 3 + kind, minlength=3 * k).reshape(k, 3)


def _rates(cells: np.ndarray, floor: bool, fallback: np.ndarray | None = None) -> np.ndarray:
    """Share of counted rows counted for another class, per class (last axis: the 3 cells).

    ``floor``: the diagonal counts at least 1 (the confident joint's rule). Else a class with
    no counted row takes ``fallback``.
    """
    diag, off = cells[..., 0].astype(float), cells[..., 1].astype(float)
    if floor:
        return off / (np.maximum(diag, 1.0) + off)
    counted = diag + off
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = off / counted
    return np.where(counted > 0, rate, fallback if fallback is not None else 0.0)


def _bootstrap_cells(cells: np.ndarray, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """(B, K, 3) resampled cell counts: a row bootstrap of the rows the cells count."""
    n = int(cells.sum())
    if n == 0:
        return np.zeros((resamples, *cells.shape), dtype=np.int64)
    draws = rng.multinomial(n, cells.ravel() / n, size=resamples)
    return draws.reshape(resamples, *cells.shape)


def _percentiles(values: np.ndarray, level: float = LEVEL) -> tuple[np.ndarray, np.ndarray]:
    tail = 100 * (1 - level) / 2
    return np.percentile(values, tail, axis=0), np.percentile(values, 100 - tail, axis=0)


def _around(point, low, high):
    """The interval widened to hold the point (percentiles of a discrete statistic may not)."""
    return np.minimum(low, point), np.maximum(high, point)


# --------------------------------------------------------------------------- per class


@dataclass(frozen=True)
class ClassIntervals:
    """Per-class noise rates and the number of wrong labels, with 95% intervals.

    Attributes
    ----------
    table : DataFrame
        One row per class: ``class``, ``name``, ``given``, ``noise_rate``, ``noise_low``,
        ``noise_high`` (P(true != class | given = class)), ``wrong``, ``wrong_low``,
        ``wrong_high`` (estimated wrong labels among the rows given the class).
    wrong : Interval
        Estimated wrong labels in the whole dataset.
    method : str
    """

    table: pd.DataFrame
    wrong: Interval
    method: str = INTERVAL_METHOD

    def as_dict(self) -> dict:
        return {
            "method": self.method,
            "estimated_wrong_labels": self.wrong.as_dict(1),
            "per_class": [
                {"class": str(r.name), "noise_rate": round(float(r.noise_rate), 4),
                 "low": round(float(r.noise_low), 4), "high": round(float(r.noise_high), 4),
                 "wrong": round(float(r.wrong), 1), "wrong_low": round(float(r.wrong_low), 1),
                 "wrong_high": round(float(r.wrong_high), 1)}
                for r in self.table.itertuples()
            ],
        }


def class_intervals(result, *, resamples: int = RESAMPLES,
                    random_state: int | None = 0) -> ClassIntervals:
    """Per-class noise rates and the estimated number of wrong labels with 95% intervals.

    Parameters
    ----------
    result : analysis.pipeline.Analysis
    resamples : int, default=2000
    random_state : int or None, default=0

    Returns
    -------
    ClassIntervals
        Point estimates are the analysis's own (``result.per_class["noise_rate"]``,
        ``result.estimated_wrong``); the intervals come from the bootstrap described in the
        module docstring.
    """
    k = len(result.class_names)
    cells = _cells(np.asarray(result.labels), np.asarray(result.estimated_true), k)
    boot = _bootstrap_cells(cells, resamples, np.random.default_rng(random_state))
    rates = _rates(boot, floor=True)                       # (B, K)
    wrong_class = boot.sum(axis=2) * rates                 # (B, K)
    rate_lo, rate_hi = _percentiles(rates)
    w_lo, w_hi = _percentiles(wrong_class)
    t_lo, t_hi = _percentiles(wrong_class.sum(axis=1))
    per_class = result.per_class
    point_rate = per_class["noise_rate"].to_numpy(dtype=float)
    given = cells.sum(axis=1)
    point_wrong = given * _rates(cells, floor=True)
    rate_lo, rate_hi = _around(point_rate, rate_lo, rate_hi)
    w_lo, w_hi = _around(point_wrong, w_lo, w_hi)
    total = float(result.estimated_wrong)
    t_lo, t_hi = _around(total, t_lo, t_hi)
    table = pd.DataFrame({
        "class": np.arange(k), "name": [str(c) for c in result.class_names], "given": given,
        "noise_rate": point_rate, "noise_low": rate_lo, "noise_high": rate_hi,
        "wrong": point_wrong, "wrong_low": w_lo, "wrong_high": w_hi,
    })
    return ClassIntervals(table, Interval(total, float(t_lo), float(t_hi), INTERVAL_METHOD))


# --------------------------------------------------------------------------- slices


def slice_columns(dataset, max_slices: int = MAX_SLICES) -> list[str]:
    """Columns of the dataset a user would slice by: text (not numeric) columns with 2 to
    ``max_slices`` distinct values that are not the label, id, true label, annotator,
    probability, text or image column. Any column can still be named explicitly."""
    reserved = {dataset.label_column, dataset.id_column, dataset.text_column,
                dataset.image_column, *dataset.annotator_columns, "true_label"}
    out = []
    for c in dataset.frame.columns:
        if c in reserved or str(c).startswith("pred_prob"):
            continue
        values = dataset.frame[c]
        if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
            continue
        # the first rows already too varied: not a slice (the cheap test first, since a CSV's
        # every column is text and a million rows are many)
        if values.iloc[:5000].dropna().astype(str).nunique() > max_slices:
            continue
        distinct = pd.Series(pd.unique(values.dropna().astype(str)), dtype=object)
        if not 2 <= len(distinct) <= max_slices:
            continue
        if pd.to_numeric(distinct, errors="coerce").notna().all():
            continue  # numbers written as text (a CSV is read as text): a feature
        out.append(str(c))
    return out


def slice_values(dataset, column: str) -> np.ndarray:
    """The slice of every row as text (an empty cell is the slice ``"(empty)"``).

    Raises
    ------
    ValueError
        The column does not exist (the message lists the columns).
    """
    if column not in dataset.frame.columns:
        raise ValueError(
            f"{dataset.source}: no column {column!r} to slice by; columns: "
            f"{', '.join(map(str, dataset.frame.columns[:30]))}."
        )
    values = dataset.frame[column]
    text = values.astype(object).where(values.notna(), "(empty)").astype(str)
    return text.to_numpy(dtype=object)


@dataclass(frozen=True)
class Slices:
    """Noise by slice of one column.

    Attributes
    ----------
    column : str
    table : DataFrame
        One row per slice, noisiest first: ``slice``, ``rows``, ``wrong`` (estimated wrong
        labels), ``noise_rate``, ``low``, ``high`` (95% interval of the rate), ``flagged``,
        ``share_of_wrong`` (its part of all estimated wrong labels), ``top_pairs`` (a list of
        ``(given name, true name, estimated rows)``, most first).
    method : str
    """

    column: str
    table: pd.DataFrame
    method: str = INTERVAL_METHOD

    def rows_of(self, values: np.ndarray, name: str) -> np.ndarray:
        return np.flatnonzero(values == name)

    def as_dict(self) -> dict:
        return {"column": self.column, "method": self.method, "slices": [
            {"slice": r.slice, "rows": int(r.rows), "wrong": round(float(r.wrong), 1),
             "noise_rate": round(float(r.noise_rate), 4), "low": round(float(r.low), 4),
             "high": round(float(r.high), 4), "flagged": int(r.flagged),
             "top_pairs": [{"given": g, "true": t, "rows": round(float(c), 1)}
                           for g, t, c in r.top_pairs]}
            for r in self.table.itertuples()]}


def slice_noise(result, values: Sequence, *, column: str = "slice", top: int = 3,
                resamples: int = RESAMPLES, random_state: int | None = 0) -> Slices:
    """The estimated noise rate of each slice with a 95% interval, and what it confuses.

    Within a slice, each given class's rows count as wrong in the share of its counted rows
    counted for another class (the confident joint restricted to the slice and calibrated to
    the slice's class sizes); a class with no counted row in the slice takes the dataset's
    rate. The interval resamples the rows within each slice (see the module docstring).

    Parameters
    ----------
    result : analysis.pipeline.Analysis
    values : sequence of shape (N,)
        The slice of each row (e.g. :func:`slice_values`).
    column : str
        Its name, for the table and messages.
    top : int, default=3
        Confused pairs kept per slice.

    Returns
    -------
    Slices
    """
    labels = np.asarray(result.labels)
    guess = np.asarray(result.estimated_true)
    values = np.asarray(values, dtype=object).astype(str)
    if values.shape != labels.shape:
        raise ValueError(f"column {column!r}: {values.size} slice values for {labels.size} rows.")
    k = len(result.class_names)
    names = [str(c) for c in result.class_names]
    global_rate = _rates(_cells(labels, guess, k), floor=True)
    slices, codes = np.unique(values, return_inverse=True)
    rng = np.random.default_rng(random_state)
    flagged = np.bincount(codes, weights=np.asarray(result.is_issue, float),
                          minlength=slices.size)
    # confused (given, guess) pairs per slice, counted rows only, from one bincount
    counted_off = (guess >= 0) & (guess != labels)
    pair_counts = np.bincount(
        (codes[counted_off] * k + labels[counted_off]) * k + guess[counted_off],
        minlength=slices.size * k * k).reshape(slices.size, k, k)
    records = []
    for s, name in enumerate(slices):
        rows = codes == s
        cells = _cells(labels[rows], guess[rows], k)
        rate_c = _rates(cells, floor=False, fallback=global_rate)
        n_c = cells.sum(axis=1)
        wrong = float(n_c @ rate_c)
        boot = _bootstrap_cells(cells, resamples, rng)
        wrong_b = (boot.sum(axis=2) * _rates(boot, floor=False, fallback=global_rate)).sum(1)
        lo, hi = _percentiles(wrong_b / max(int(rows.sum()), 1))
        rate = wrong / max(int(rows.sum()), 1)
        lo, hi = _around(rate, lo, hi)
        counted = cells[:, 0] + cells[:, 1]
        scale = np.where(counted > 0, n_c / np.maximum(counted, 1), 0.0)
        est = pair_counts[s] * scale[:, None]
        order = np.argsort(-est, axis=None, kind="stable")[:top]
        pairs = [(names[i // k], names[i % k], float(est.ravel()[i]))
                 for i in order if est.ravel()[i] > 0]
        records.append({"slice": str(name), "rows": int(rows.sum()), "wrong": wrong,
                        "noise_rate": rate, "low": float(lo), "high": float(hi),
                        "flagged": int(flagged[s]), "top_pairs": pairs})
    table = pd.DataFrame(records, columns=["slice", "rows", "wrong", "noise_rate", "low", "high",
                                           "flagged", "top_pairs"])
    total = table["wrong"].sum()
    table["share_of_wrong"] = table["wrong"] / total if total > 0 else 0.0
    table = table.sort_values(["noise_rate", "rows"], ascending=[False, False], kind="stable")
    return Slices(column, table.reset_index(drop=True))


# --------------------------------------------------------------------------- verdicts

#: Actions that say the flag was right (the given label was wrong).
WRONG_ACTIONS = ("relabel", "remove")


def verdicts(result, decisions: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Reviewed rows and their verdict from a review's decisions.

    Parameters
    ----------
    result : analysis.pipeline.Analysis
    decisions : DataFrame
        With columns ``id`` and ``action`` (as :meth:`analysis.review.store.ReviewStore.decisions`).

    Returns
    -------
    reviewed : ndarray of shape (N,), bool
    wrong : ndarray of shape (N,), bool
        True where the decision was relabel or remove (the label was wrong).
    """
    n = len(result.labels)
    reviewed = np.zeros(n, dtype=bool)
    wrong = np.zeros(n, dtype=bool)
    if decisions is None or len(decisions) == 0:
        return reviewed, wrong
    index = pd.Index(np.asarray(result.dataset.ids).astype(str))
    pos = index.get_indexer(decisions["id"].astype(str))
    ok = pos >= 0
    pos = pos[ok]
    actions = decisions["action"].to_numpy()[ok]
    reviewed[pos] = True
    wrong[pos] = np.isin(actions, WRONG_ACTIONS)
    return reviewed, wrong


def model_wrong_probability(result) -> np.ndarray:
    """(N,) the model's probability that each given label is wrong: 1 - p(given label)."""
    labels = np.asarray(result.labels)
    probs = result.pred_probs
    return 1.0 - np.asarray(probs[np.arange(labels.size), labels], dtype=np.float64)


_A_GRID = np.linspace(-4.0, 4.0, 321)
#: Prior standard deviation of the calibration's shift ``a`` (log odds ratio).
PRIOR_SD_A = 1.0
_CLIP = 1e-4
_BINS = np.linspace(logit(_CLIP), logit(1 - _CLIP), 401)
_MIDS = (_BINS[:-1] + _BINS[1:]) / 2


def _histogram(ell: np.ndarray) -> np.ndarray:
    return np.histogram(ell, bins=_BINS)[0].astype(float)


def _logits(p_wrong: np.ndarray) -> np.ndarray:
    return logit(np.clip(np.asarray(p_wrong, dtype=np.float64), _CLIP, 1 - _CLIP))


def prior_shift(p_wrong, total: float | None) -> float:
    """The shift ``a`` at which the rescaled model expects ``total`` wrong labels in all rows
    (0 when ``total`` is None): the prior's centre."""
    if total is None:
        return 0.0
    expected = expit(_A_GRID[:, None] + _MIDS) @ _histogram(_logits(p_wrong))
    return float(np.interp(total, expected, _A_GRID))  # expected rises with a


def _posterior(ell: np.ndarray, reviewed: np.ndarray, wrong: np.ndarray, centre: float = 0.0):
    """Grid posterior of the calibration shift ``a``: P(wrong) per grid point and logit bin,
    and the normalised weights."""
    a = _A_GRID[:, None]
    hits = _histogram(ell[reviewed & wrong])
    misses = _histogram(ell[reviewed & ~wrong])
    z = a + _MIDS  # (A, bins)
    loglik = (hits * -np.logaddexp(0, -z) + misses * -np.logaddexp(0, z)).sum(-1)
    logw = norm.logpdf(_A_GRID, centre, PRIOR_SD_A) + loglik
    w = np.exp(logw - logw.max())
    return expit(z), w / w.sum()


def _predictive(counts: np.ndarray, p: np.ndarray, w, level: float = LEVEL) -> Interval:
    """Posterior predictive of the number of wrong labels among rows with the given
    histogram of logits (``p``: P(wrong) per grid point and bin): a mixture over the grid of
    normal approximations of the Poisson-binomial count."""
    mu = (p * counts).sum(-1)
    var = (p * (1 - p) * counts).sum(-1)
    return _mixture_interval(mu, var, w, counts.sum(), level)


def _mixture_interval(mu, var, w, total, level: float = LEVEL) -> Interval:
    """Mean and central interval of a mixture of normals (weights ``w``) of a count in
    0..total."""
    mean = float((w * mu).sum())
    if total == 0:
        return Interval(0.0, 0.0, 0.0, REMAINING_METHOD)
    sd = np.sqrt(var + 0.25)  # + continuity: a count's normal approximation
    keep = w > w.max() * 1e-6
    mu_k, sd_k, w_k = mu[keep], sd[keep], w[keep] / w[keep].sum()
    lo_x = max(0.0, float((mu_k - 7 * sd_k).min()))
    hi_x = min(float(total), float((mu_k + 7 * sd_k).max()))
    xs = np.linspace(lo_x, hi_x, 601)
    cdf = norm.cdf((xs[None, :] - mu_k[:, None]) / sd_k[:, None]).T @ w_k
    tail = (1 - level) / 2
    low = xs[min(np.searchsorted(cdf, tail), xs.size - 1)]
    high = xs[min(np.searchsorted(cdf, 1 - tail), xs.size - 1)]
    return Interval(mean, float(np.floor(low)), float(np.ceil(high)), REMAINING_METHOD)


def _sum_predictive(parts, level: float = LEVEL, draws: int = 1000) -> Interval:
    """Predictive of the sum of two strata's counts (independent shifts): a mixture over
    ``draws`` pairs of shifts drawn from the two posteriors (a fixed seed: deterministic)."""
    rng = np.random.default_rng(0)
    mu = np.zeros(draws)
    var = np.zeros(draws)
    for counts, p, w in parts:
        pick = rng.choice(w.size, size=draws, p=w)
        mu += (p * counts).sum(-1)[pick]
        var += (p * (1 - p) * counts).sum(-1)[pick]
    total = sum(c.sum() for c, _, _ in parts)
    return _mixture_interval(mu, var, np.full(draws, 1.0 / draws), total, level)


@dataclass(frozen=True)
class Remaining:
    """What the review so far says about the wrong labels still in the data.

    Attributes
    ----------
    flagged, reviewed_flagged : int
        Rows flagged; flagged rows with a verdict.
    confirmed, false_alarms : int
        Verdicts on flagged rows: relabel / remove (the flag was right), keep (it was not).
    reviewed : int
        Rows with a verdict (flagged or not).
    precision : Interval or None
        Share of the reviewed flags that were real errors (Jeffreys interval); None before
        the first verdict on a flagged row.
    remaining, remaining_flagged, remaining_unflagged : Interval
        Wrong labels estimated in the unreviewed rows: all, flagged, not flagged.
    method : str
    """

    flagged: int
    reviewed_flagged: int
    confirmed: int
    false_alarms: int
    reviewed: int
    precision: Interval | None
    remaining: Interval
    remaining_flagged: Interval
    remaining_unflagged: Interval
    method: str = field(default=REMAINING_METHOD)

    def line(self) -> str:
        """One sentence, e.g. "Reviewed 120 of 284 flagged · 87% were real errors (80–92%) ·
        about 40 wrong labels likely remain (30–52)"."""
        r = self.remaining
        parts = [f"Reviewed {self.reviewed_flagged:,} of {self.flagged:,} flagged"]
        if self.precision is not None:
            p = self.precision
            parts.append(f"{p.estimate:.0%} were real errors ({100 * p.low:.0f}–{p.high:.0%})")
        parts.append(f"about {r.estimate:,.0f} wrong labels likely remain "
                     f"({r.low:,.0f}–{r.high:,.0f})")
        return " · ".join(parts)

    def as_dict(self) -> dict:
        return {
            "flagged": self.flagged, "reviewed_flagged": self.reviewed_flagged,
            "confirmed": self.confirmed, "false_alarms": self.false_alarms,
            "reviewed": self.reviewed,
            "precision": None if self.precision is None else self.precision.as_dict(),
            "remaining": self.remaining.as_dict(1),
            "remaining_flagged": self.remaining_flagged.as_dict(1),
            "remaining_unflagged": self.remaining_unflagged.as_dict(1),
            "method": self.method,
        }


def remaining_from(p_wrong, flagged, reviewed, wrong, *, prior_total: float | None = None,
                   level: float = LEVEL) -> Remaining:
    """:func:`errors_remaining` on plain arrays.

    Parameters
    ----------
    p_wrong : array of shape (N,)
        The model's probability that each label is wrong (1 - p(given label)).
    flagged, reviewed, wrong : bool arrays of shape (N,)
        Flagged rows, rows with a verdict, and the verdict (True: the label was wrong).
    prior_total : float, optional
        Wrong labels expected in all rows before any verdict (e.g. the confident-learning
        estimate): centres the prior of the shift there (see :func:`prior_shift`); by
        default the model's probabilities are taken as calibrated (shift 0).
    """
    ell = _logits(p_wrong)
    flagged = np.asarray(flagged, dtype=bool)
    reviewed = np.asarray(reviewed, dtype=bool)
    wrong = np.asarray(wrong, dtype=bool) & reviewed
    centre = prior_shift(p_wrong, prior_total)
    open_rows = ~reviewed
    parts = []
    for stratum in (flagged, ~flagged):
        p, w = _posterior(ell[stratum], reviewed[stratum], wrong[stratum], centre)
        parts.append((_histogram(ell[open_rows & stratum]), p, w))
    rem_f = _predictive(*parts[0], level)
    rem_u = _predictive(*parts[1], level)
    rem = _sum_predictive(parts, level)
    rf = reviewed & flagged
    hits = int((rf & wrong).sum())
    misses = int(rf.sum()) - hits
    precision = None
    if hits + misses:
        lo, hi = beta.ppf([(1 - level) / 2, (1 + level) / 2], hits + 0.5, misses + 0.5)
        precision = Interval(hits / (hits + misses), float(lo), float(hi),
                             "Jeffreys interval, Beta(hits + 1/2, false alarms + 1/2)")
    return Remaining(int(flagged.sum()), int(rf.sum()), hits, misses, int(reviewed.sum()),
                     precision, rem, rem_f, rem_u)


def errors_remaining(result, decisions: pd.DataFrame | None, *,
                     level: float = LEVEL) -> Remaining:
    """Precision of the flags so far and the wrong labels likely left, from the verdicts.

    Parameters
    ----------
    result : analysis.pipeline.Analysis
    decisions : DataFrame or None
        The review's decisions (columns ``id``, ``action``).
    level : float, default=0.95

    Returns
    -------
    Remaining
        See the module docstring for the model; before any verdict the rescaled model
        expects the confident-learning estimate of wrong labels (``result.estimated_wrong``).
    """
    reviewed, wrong = verdicts(result, decisions)
    return remaining_from(model_wrong_probability(result), result.is_issue, reviewed, wrong,
                          prior_total=result.estimated_wrong, level=level)


def wrong_probability_from(p_wrong, flagged, pairs, reviewed, wrong, *,
                           prior_total: float | None = None) -> np.ndarray:
    """(N,) estimated probability that each label is wrong, given the verdicts so far.

    The calibrated probability (posterior mean of the flagged or the unflagged rows'
    calibration at the row's ``p_wrong``) times the odds the verdicts on the row's confusion
    showed: ``(hits + c) / (expected hits + c)`` over the reviewed rows of the same ``pairs``
    code, ``c`` = :data:`PAIR_PRIOR`; capped at 1. Reviewed rows get their verdict (1 or 0).
    """
    ell = _logits(p_wrong)
    flagged = np.asarray(flagged, dtype=bool)
    reviewed = np.asarray(reviewed, dtype=bool)
    wrong = np.asarray(wrong, dtype=bool) & reviewed
    centre = prior_shift(p_wrong, prior_total)
    calibrated = np.empty(ell.size)
    for stratum in (flagged, ~flagged):
        p, w = _posterior(ell[stratum], reviewed[stratum], wrong[stratum], centre)
        # the curve is increasing in the logit: interpolating keeps the model's order
        calibrated[stratum] = np.interp(ell[stratum], _MIDS, w @ p)
    pairs = np.asarray(pairs)
    codes, inverse = np.unique(pairs, return_inverse=True)
    hits = np.bincount(inverse, weights=(reviewed & wrong).astype(float), minlength=codes.size)
    expected = np.bincount(inverse, weights=np.where(reviewed, calibrated, 0.0),
                           minlength=codes.size)
    factor = (hits + PAIR_PRIOR) / (expected + PAIR_PRIOR)
    out = np.minimum(calibrated * factor[inverse], 1.0)
    return np.where(reviewed, wrong.astype(float), out)


def review_order(result, decisions: pd.DataFrame | None) -> np.ndarray:
    """The unreviewed flagged rows, most likely wrong first (see
    :func:`wrong_probability_from`): the order that finds the most errors per decision.

    Returns
    -------
    ndarray of int
        Row indices.
    """
    reviewed, wrong = verdicts(result, decisions)
    k = len(result.class_names)
    pairs = np.asarray(result.labels) * k + np.asarray(result.suggested)
    prob = wrong_probability_from(model_wrong_probability(result), result.is_issue, pairs,
                                  reviewed, wrong, prior_total=result.estimated_wrong)
    rows = np.flatnonzero(np.asarray(result.is_issue) & ~reviewed)
    return rows[np.argsort(-prob[rows], kind="stable")]
