"""A table of annotator columns holding class names (empty where not rated) encoded once into
the ratings array, and the per-row class counts of a ratings array.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from analysis.annotators._ratings import MISSING, _check_ratings, _counts
from analysis.core._helpers import as_text
from analysis.core._validation import describe_rows


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
