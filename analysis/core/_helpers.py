"""Small pieces several ``analysis`` modules share (internal: not part of the public API)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

#: A progress callback: ``progress(fraction in [0, 1], message)``.
Progress = Callable[[float, str], Any]


def no_progress(fraction: float, message: str) -> None:
    """The progress callback that reports nothing."""


def as_text(values: pd.Series) -> pd.Series:
    """Values as the strings class names are stored as (3.0 -> "3" for integral floats)."""
    if pd.api.types.is_float_dtype(values):
        whole = values.dropna()
        if (whole == whole.round()).all():
            return values.astype("Int64").astype(str)
    return values.astype(str)


def check_choice(value, choices, name: str) -> None:
    """Raise a ValueError naming the parameter when ``value`` is not one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name}={value!r} is not one of: {', '.join(map(str, choices))}.")


def to_csv(frame: pd.DataFrame, path) -> None:
    """``frame.to_csv(path, index=False)`` that a CSV reader reads back row for row.

    pandas quotes a field for the characters of its line ending only, so with ``"\\n"`` a
    lone carriage return inside a text cell is written bare and splits the row when read.
    When any header or text cell holds one, the file is written with RFC 4180's ``"\\r\\n"``
    line ending, which makes the writer quote every field holding ``"\\r"`` or ``"\\n"``.
    """
    def has_cr(values) -> bool:
        return bool(pd.Series(values, dtype=object).map(
            lambda v: isinstance(v, str) and "\r" in v).any())

    text = [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]
    cr = has_cr(list(map(str, frame.columns))) or any(has_cr(frame[c]) for c in text)
    frame.to_csv(path, index=False, lineterminator="\r\n" if cr else "\n")
