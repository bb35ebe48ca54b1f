"""Column names that carry a meaning in schema inference: a split column (where a row is
used, train / test) is never a model feature. Imports nothing of ``analysis``."""

from __future__ import annotations

import pandas as pd

#: Column names taken for the split (case-insensitive), in this order.
SPLIT_NAMES = ("split", "subset", "partition", "fold", "set")
#: A split column has at most this many distinct values.
MAX_SPLITS = 20


def split_like_columns(frame: pd.DataFrame) -> list[str]:
    """Columns named as a split (:data:`SPLIT_NAMES`, case-insensitive) with at most
    :data:`MAX_SPLITS` distinct values: where a row is used (train / test), not what it is,
    so never a model feature unless named as one (:func:`analysis.data.dataset.from_frame`)."""
    return [str(c) for c in frame.columns if str(c).lower() in SPLIT_NAMES
            and frame[c].nunique(dropna=False) <= MAX_SPLITS]

