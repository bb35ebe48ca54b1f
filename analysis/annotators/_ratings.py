"""The ratings array shared by the agreement modules: its checks, per-row class counts, the
arg-max vote with its tie rules and each annotator's accuracy against a consensus (internal:
the package's modules import it; users import :mod:`analysis.annotators.agreement`).

Ratings are an int array of shape (N, A): ``ratings[i, a]`` is the class index 0..K-1 that
annotator ``a`` gave row ``i``, or :data:`MISSING` (-1) where annotator ``a`` did not rate
row ``i``.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np
import pandas as pd

from analysis.core._validation import describe_rows

#: The value of a missing rating.
MISSING = -1


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


def _counts(ratings: np.ndarray, k: int) -> np.ndarray:
    """(N, K) int64: how many annotators gave each row each class (validated ratings)."""
    n = ratings.shape[0]
    rated = ratings >= 0
    rows = np.broadcast_to(np.arange(n)[:, None], ratings.shape)[rated]
    return np.bincount(rows * k + ratings[rated], minlength=n * k).reshape(n, k)


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


def _accuracy(r: np.ndarray, consensus: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per annotator: share of rated rows (with a consensus) equal to it, and how many."""
    valid = (r >= 0) & (consensus >= 0)[:, None]
    scored = valid.sum(axis=0)
    correct = ((r == consensus[:, None]) & valid).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(scored > 0, correct / scored, np.nan), scored
