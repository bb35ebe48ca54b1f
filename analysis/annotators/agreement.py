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
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.core._helpers import as_text
from analysis.core._validation import check_inputs, describe_rows

#: The value of a missing rating.
MISSING = -1
#: Accuracies are clipped to [1/K, MAX_ACCURACY] before they become vote weights, so that an
#: annotator who always matches the consensus does not get an infinite weight.
MAX_ACCURACY = 0.99
#: Relative tolerance under which two weighted vote totals count as tied.
TIE_RTOL = 1e-10


# --------------------------------------------------------------------------- validation


def _column_label(j: int, column_names: Sequence | None) -> str:
    if column_names is None:
        return f"column {j}"
    return f"column {column_names[j]!r}"


def _fail_at(
    bad: np.ndarray, values: np.ndarray, message: str, column_names: Sequence | None
) -> ValueError:
    """A ValueError naming the first column with a bad entry and its bad rows."""
    j = int(np.flatnonzero(bad.any(axis=0))[0])
    rows = np.flatnonzero(bad[:, j])
    value = values[rows[0], j].item()
    return ValueError(
        f"{message}; {_column_label(j, column_names)} is wrong in {describe_rows(rows)} "
        f"(first: {value!r})."
    )


def _to_numeric(ratings, name: str) -> tuple[np.ndarray, list | None]:
    """``ratings`` as a numeric ndarray (NaN where missing) and its column names, if any."""
    hint = (
        f"{name} must hold integer class indices (-1 or empty where not rated); encode class "
        "names first with analysis.annotators.agreement.encode_ratings(frame, columns)"
    )
    if isinstance(ratings, pd.DataFrame):
        try:
            return ratings.to_numpy(dtype=float, na_value=np.nan), list(ratings.columns)
        except (TypeError, ValueError):
            raise ValueError(f"{hint}.") from None
    arr = np.asarray(ratings)
    if arr.dtype == object and arr.ndim == 2:
        try:
            arr = pd.DataFrame(arr).to_numpy(dtype=float, na_value=np.nan)
        except (TypeError, ValueError):
            raise ValueError(f"{hint}.") from None
    elif arr.dtype.kind not in "biuf" and arr.ndim == 2:
        raise ValueError(f"{hint}; got dtype {arr.dtype}.")
    return arr, None


def _check_num_classes(num_classes) -> int | None:
    if num_classes is None:
        return None
    if isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral):
        raise ValueError(f"num_classes must be a positive integer, got {num_classes!r}.")
    if num_classes < 1:
        raise ValueError(f"num_classes must be a positive integer, got {num_classes}.")
    return int(num_classes)


def _check_ratings(
    ratings, num_classes=None, *, name: str = "ratings", column_names: Sequence | None = None
) -> tuple[np.ndarray, int]:
    """Validate ratings; return them as a C-contiguous int64 (N, A) array and K.

    K is ``num_classes`` when given, else the largest class index + 1 (at least 1).
    """
    arr, frame_columns = _to_numeric(ratings, name)
    column_names = frame_columns if column_names is None else column_names
    if arr.ndim != 2:
        raise ValueError(
            f"{name} must be 2-D (rows x annotators, -1 where not rated), got shape {arr.shape}."
        )
    n, a = arr.shape
    if a < 2:
        raise ValueError(
            f"{name} has {a} annotator column(s): agreement needs at least 2 annotators."
        )
    if n == 0:
        raise ValueError(f"{name} has no rows: there is nothing to analyse.")
    k = _check_num_classes(num_classes)
    if arr.dtype.kind == "f":
        missing = np.isnan(arr)
        bad = ~missing & ~(np.isfinite(arr) & (arr == np.round(arr)))
        if bad.any():
            raise _fail_at(bad, arr, f"{name} must hold whole class indices", column_names)
        arr = np.where(missing, MISSING, arr)
    arr = np.ascontiguousarray(arr, dtype=np.int64)
    what = f"{name} must hold class indices 0..K-1, or -1 where the annotator did not rate the row"
    low = arr < MISSING
    if low.any():
        raise _fail_at(low, arr, what, column_names)
    if k is None:
        k = max(int(arr.max()) + 1, 1)
    else:
        high = arr >= k
        if high.any():
            raise _fail_at(high, arr, f"{what} (num_classes is {k})", column_names)
    return arr, k


def _check_consensus(consensus, n: int, k: int | None) -> np.ndarray:
    arr = np.asarray(consensus)
    if arr.ndim != 1 or arr.size != n:
        raise ValueError(
            f"consensus must be 1-D with one label per row of ratings ({n}), got shape "
            f"{arr.shape}."
        )
    if arr.dtype.kind == "f":
        bad = ~(np.isfinite(arr) & (arr == np.round(arr)))
        if bad.any():
            rows = np.flatnonzero(bad)
            raise ValueError(
                f"consensus must hold class indices (-1: none); {describe_rows(rows)} hold "
                f"{arr[rows[0]].item()!r}."
            )
    elif arr.dtype.kind not in "biu":
        raise ValueError(f"consensus must hold integer class indices, got dtype {arr.dtype}.")
    arr = arr.astype(np.int64, copy=False)
    bad = (arr < MISSING) | ((arr >= k) if k is not None else False)
    if np.any(bad):
        rows = np.flatnonzero(bad)
        top = "K-1" if k is None else str(k - 1)
        raise ValueError(
            f"consensus must hold class indices 0..{top}, or -1 where there is none; "
            f"{describe_rows(rows)} hold {arr[rows[0]]}."
        )
    return arr


def _as_vector(values, name: str) -> np.ndarray:
    if isinstance(values, pd.Series):
        try:
            return values.to_numpy(dtype=float, na_value=np.nan)
        except (TypeError, ValueError):
            raise ValueError(
                f"{name} must hold integer class indices (-1 or empty where not rated); encode "
                "class names first with analysis.annotators.agreement.encode_ratings."
            ) from None
    return np.asarray(values)


# --------------------------------------------------------------------------- encoding


def _missing(values: pd.Series) -> np.ndarray:
    missing = values.isna().to_numpy()
    if values.dtype == object or pd.api.types.is_string_dtype(values):
        missing = missing | values.astype(str).str.strip().eq("").to_numpy()
    return missing


def encode_ratings(
    frame: pd.DataFrame,
    columns: Sequence[str] | None = None,
    class_names: Sequence | None = None,
) -> tuple[np.ndarray, list[str]]:
    """Encode annotator columns holding class names into a ratings array.

    Parameters
    ----------
    frame : DataFrame
        One row per example.
    columns : sequence of str, optional
        The annotator columns, one per annotator (default: every column of ``frame``).
        Missing ratings are NaN, None, ``pd.NA`` or empty (blank) strings.
    class_names : sequence, optional
        All classes, in the order of their indices. Values are compared as text (an integral
        float 3.0 reads as "3"). Default: the sorted distinct values found in the columns
        (numbers in numeric order, anything else in text order).

    Returns
    -------
    ratings : ndarray of shape (N, A), int64
        Class index per row and annotator, -1 where not rated.
    class_names : list of str
        ``class_names[k]`` is the name of class index k.

    Raises
    ------
    ValueError
        When a column is not in ``frame``, fewer than 2 columns are given, ``class_names``
        repeats a name, or a column holds a value that is not among ``class_names`` (the
        message names the column, the value and its first rows).
    """
    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"frame must be a pandas DataFrame, got {type(frame).__name__}.")
    columns = list(frame.columns) if columns is None else list(columns)
    absent = [c for c in columns if c not in frame.columns]
    if absent:
        raise ValueError(
            f"annotator columns {absent} are not in the table (its columns: "
            f"{list(frame.columns)[:10]})."
        )
    if len(columns) < 2:
        raise ValueError(
            f"{len(columns)} annotator column(s) given: agreement needs at least 2 annotators."
        )
    missing = {c: _missing(frame[c]) for c in columns}
    texts = {c: as_text(frame[c]).where(~missing[c], None) for c in columns}
    if class_names is None:
        found: dict[str, object] = {}  # text -> first value found with that text
        for c in columns:
            present = ~missing[c]
            distinct = pd.DataFrame(
                {"text": texts[c][present], "value": frame[c][present].astype(object)}
            ).drop_duplicates("text")
            for text, value in zip(distinct["text"], distinct["value"], strict=True):
                found.setdefault(text, value)
        try:
            names = [t for _, t in sorted((v, t) for t, v in found.items())]
        except TypeError:
            names = sorted(found)
    else:
        names = as_text(pd.Series(list(class_names))).tolist()
        if len(set(names)) != len(names):
            repeated = sorted({x for x in names if names.count(x) > 1})
            raise ValueError(f"class_names repeats {repeated}: each class must appear once.")
    ratings = np.full((len(frame), len(columns)), MISSING, dtype=np.int64)
    for j, column in enumerate(columns):
        codes = pd.Categorical(texts[column], categories=names).codes.astype(np.int64)
        unknown = (codes < 0) & ~missing[column]
        if unknown.any():
            rows = np.flatnonzero(unknown)
            raise ValueError(
                f"column {column!r} holds values that are not among the class names in "
                f"{describe_rows(rows)} (first: {frame[column].iloc[rows[0]]!r}); class "
                f"names: {names[:20]}."
            )
        ratings[:, j] = codes
    return ratings, [str(x) for x in names]


# --------------------------------------------------------------------------- counts


def _counts(ratings: np.ndarray, k: int) -> np.ndarray:
    """(N, K) int64: how many annotators gave each row each class (validated ratings)."""
    n = ratings.shape[0]
    rated = ratings >= 0
    rows = np.broadcast_to(np.arange(n)[:, None], ratings.shape)[rated]
    return np.bincount(rows * k + ratings[rated], minlength=n * k).reshape(n, k)


def rating_counts(ratings, num_classes: int | None = None) -> np.ndarray:
    """How many annotators gave each row each class.

    Parameters
    ----------
    ratings : array-like of shape (N, A)
        Class index per row and annotator, -1 where not rated.
    num_classes : int, optional
        K; default the largest class index + 1.

    Returns
    -------
    ndarray of shape (N, K), int64
        ``counts[i, k]`` = number of annotators who gave row i class k.
    """
    r, k = _check_ratings(ratings, num_classes)
    return _counts(r, k)


# --------------------------------------------------------------------------- agreement


def _kappa(agree, shared, chance):
    """Cohen's kappa from counts: agreeing rows, shared rows, and sum_k n_a(k) * n_b(k).

    ``(p_o - p_e) / (1 - p_e)`` with ``p_o = agree / shared`` and ``p_e = chance / shared**2``,
    computed as ``(agree * shared - chance) / (shared**2 - chance)``; NaN where fewer than 2
    rows are shared or the expected agreement is 1.
    """
    num = agree * shared - chance
    den = shared * shared - chance
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.asarray(num, dtype=float) / np.asarray(den, dtype=float)
    return np.where((shared < 2) | (den == 0), np.nan, out)


def cohen_kappa(a, b, num_classes: int | None = None) -> float:
    """Cohen's kappa of two annotators on the rows both of them rated.

    Parameters
    ----------
    a, b : array-like of shape (N,)
        The two annotators' class indices per row, -1 where not rated.
    num_classes : int, optional
        K, only used to check the values; default the largest class index + 1.

    Returns
    -------
    float
        ``(p_o - p_e) / (1 - p_e)``: ``p_o`` the share of shared rows where they agree,
        ``p_e = sum_k p_a(k) p_b(k)`` from each annotator's class shares on those rows
        (Cohen 1960). Equal to ``sklearn.metrics.cohen_kappa_score(a[both], b[both])``.
        NaN when fewer than 2 rows are rated by both, or when the expected agreement is 1
        (both gave every shared row the same single class: kappa is 0/0, undefined).
    """
    a = _as_vector(a, "a")
    b = _as_vector(b, "b")
    for name, values in (("a", a), ("b", b)):
        if values.ndim != 1:
            raise ValueError(f"{name} must be 1-D (one rating per row), got shape {values.shape}.")
    if a.shape != b.shape:
        raise ValueError(f"a has {a.size} rows but b has {b.size}: they must rate the same rows.")
    pair, k = _check_ratings(np.column_stack([a, b]), num_classes, column_names=["a", "b"])
    x, y = pair[:, 0], pair[:, 1]
    both = (x >= 0) & (y >= 0)
    x, y = x[both], y[both]
    shared = int(x.size)
    agree = int(np.count_nonzero(x == y))
    chance = int(np.bincount(x, minlength=k) @ np.bincount(y, minlength=k))
    return float(_kappa(agree, shared, chance))


def pairwise_kappa(ratings, num_classes: int | None = None) -> np.ndarray:
    """Cohen's kappa of every pair of annotators, each pair on the rows both rated.

    Parameters
    ----------
    ratings : array-like of shape (N, A)
        Class index per row and annotator, -1 where not rated.
    num_classes : int, optional
        K; default the largest class index + 1.

    Returns
    -------
    ndarray of shape (A, A), float
        Symmetric; ``[a, b]`` equals ``cohen_kappa(ratings[:, a], ratings[:, b])``; the
        diagonal is 1; NaN where the pair's kappa is undefined (see :func:`cohen_kappa`).

    Notes
    -----
    Computed for all pairs at once from A x A count tables (matrix products over the rows,
    exact in float64 for counts below 2**53): shared rows ``M^T M``, agreements
    ``sum_k X_k^T X_k`` and chance terms ``sum_k T_k * T_k^T`` with ``T_k = X_k^T M``, where
    ``M`` marks rated entries and ``X_k`` entries rated k.
    """
    r, k = _check_ratings(ratings, num_classes)
    rated = (r >= 0).astype(float)
    shared = rated.T @ rated
    agree = np.zeros_like(shared)
    chance = np.zeros_like(shared)
    for c in range(k):
        x = (r == c).astype(float)
        agree += x.T @ x
        t = x.T @ rated  # [a, b]: rows a rated c and b rated
        chance += t * t.T
    kappa = _kappa(agree, shared, chance)
    np.fill_diagonal(kappa, 1.0)
    return kappa


def fleiss_kappa(ratings, num_classes: int | None = None) -> float:
    """Fleiss' kappa of any number of annotators, who need not rate every row.

    Parameters
    ----------
    ratings : array-like of shape (N, A)
        Class index per row and annotator, -1 where not rated.
    num_classes : int, optional
        K; default the largest class index + 1.

    Returns
    -------
    float
        ``(P_bar - P_e) / (1 - P_e)``; NaN when no row has 2 ratings or when P_e is 1 (every
        rating is the same class: undefined).

    Notes
    -----
    With ``n_ik`` the annotators giving row i class k and ``m_i = sum_k n_ik``, over the rows
    with ``m_i >= 2`` (the others hold no pair to agree on and are ignored):

    * ``P_i = sum_k n_ik (n_ik - 1) / (m_i (m_i - 1))``, the share of agreeing pairs of
      ratings of row i, and ``P_bar`` their mean (each row counts once);
    * ``p_k = sum_i n_ik / sum_i m_i``, the share of all ratings that are k, and
      ``P_e = sum_k p_k**2``.

    When every row has the same number of ratings this is exactly Fleiss (1971), "Measuring
    nominal scale agreement among many raters", Psychological Bulletin 76(5). With a varying
    number it is the usual generalisation that keeps both definitions per row (not the
    variant of Fleiss, Levin & Paik that weighs rows by their number of ratings);
    :func:`krippendorff_alpha` is the coefficient designed for missing ratings.
    """
    r, k = _check_ratings(ratings, num_classes)
    counts = _counts(r, k)
    m = counts.sum(axis=1)
    pairable = m >= 2
    if not pairable.any():
        return float("nan")
    counts, m = counts[pairable], m[pairable]
    p_i = ((counts * (counts - 1)).sum(axis=1)) / (m * (m - 1))
    p_bar = float(p_i.mean())
    per_class = counts.sum(axis=0)
    total = int(m.sum())
    chance = int(per_class @ per_class)
    if chance == total * total:
        return float("nan")
    p_e = chance / (total * total)
    return (p_bar - p_e) / (1.0 - p_e)


def coincidence_matrix(ratings, num_classes: int | None = None) -> np.ndarray:
    """Krippendorff's coincidence matrix of nominal ratings.

    Parameters
    ----------
    ratings : array-like of shape (N, A)
        Class index per row (unit) and annotator (observer), -1 where not rated.
    num_classes : int, optional
        K; default the largest class index + 1.

    Returns
    -------
    ndarray of shape (K, K), float
        ``o[c, k] = sum_u (n_uc n_uk - [c == k] n_uc) / (m_u - 1)`` over the rows u with
        ``m_u >= 2`` ratings: the number of ordered pairs of ratings (c, k) within a row, each
        row contributing ``m_u`` pairable values. Symmetric; its total is the number of
        pairable ratings ``n`` and its row sums the per-class counts ``n_c``.
    """
    r, k = _check_ratings(ratings, num_classes)
    return _coincidences(_counts(r, k))[0]


def _coincidences(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    m = counts.sum(axis=1)
    pairable = m >= 2
    counts = counts[pairable]
    weighted = counts / (m[pairable] - 1)[:, None]
    o = weighted.T @ counts
    o[np.diag_indices_from(o)] -= weighted.sum(axis=0)
    return o, counts.sum(axis=0)


def krippendorff_alpha(ratings, num_classes: int | None = None) -> float:
    """Krippendorff's alpha for nominal data, missing ratings allowed.

    Parameters
    ----------
    ratings : array-like of shape (N, A)
        Class index per row (unit) and annotator (observer), -1 where not rated.
    num_classes : int, optional
        K; default the largest class index + 1.

    Returns
    -------
    float
        ``1 - D_o / D_e`` computed from the coincidence matrix ``o`` (see
        :func:`coincidence_matrix`) as in Krippendorff (2011), "Computing Krippendorff's
        Alpha-Reliability", section C (nominal data, any number of observers, missing data)::

            alpha = ((n - 1) sum_c o_cc - sum_c n_c (n_c - 1))
                    / (n (n - 1) - sum_c n_c (n_c - 1))

        Rows with fewer than 2 ratings are not pairable and are ignored. NaN when there are
        no pairable rows or every pairable rating is the same class (``D_e = 0``).
    """
    r, k = _check_ratings(ratings, num_classes)
    o, n_c = _coincidences(_counts(r, k))
    n = int(n_c.sum())
    same = int((n_c * (n_c - 1)).sum())
    den = n * (n - 1) - same
    if n == 0 or den == 0:
        return float("nan")
    return float(((n - 1) * np.trace(o) - same) / den)


# --------------------------------------------------------------------------- consensus


def _vote(scores: np.ndarray, tie_break: np.ndarray | None, rtol: float = 0.0) -> np.ndarray:
    """Arg-max class per row; ties by ``tie_break`` (higher first), then the lowest class.

    Rows whose scores are all 0 get -1.
    """
    top = scores.max(axis=1)
    if tie_break is None and rtol == 0:
        labels = scores.argmax(axis=1)
    else:
        tied = scores >= (top - rtol * np.abs(top))[:, None]
        if tie_break is None:
            labels = tied.argmax(axis=1)
        else:
            labels = np.where(tied, tie_break, -np.inf).argmax(axis=1)
    return np.where(top > 0, labels, MISSING).astype(np.int64)


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


def _accuracy(r: np.ndarray, consensus: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per annotator: share of rated rows (with a consensus) equal to it, and how many."""
    valid = (r >= 0) & (consensus >= 0)[:, None]
    scored = valid.sum(axis=0)
    correct = ((r == consensus[:, None]) & valid).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(scored > 0, correct / scored, np.nan), scored


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


# --------------------------------------------------------------------------- summary


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
