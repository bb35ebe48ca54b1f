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
