"""What every module of the loader shares (internal; users import :mod:`analysis.data.dataset`):
the column names that carry a meaning, the file limits, :class:`DataError` and how a message
names its file, and :class:`Origin` (how the source file is written).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

LABEL_NAMES = ("label", "labels", "given_label", "target", "class", "y")


ID_NAMES = ("id", "row_id", "uid", "example_id")


TRUE_LABEL_NAMES = ("true_label", "true_labels", "clean_label", "audited_label")


#: A true-label cell holding one of these (and no class of that name) says "the given label is
#: wrong, the right class is unknown": counted as wrong in precision, never used as a class
#: (CIFAR-10's audit: 36 of its 54 validated errors have no agreed class).
WRONG_UNKNOWN_TOKENS = ("?", "unknown")


#: The code of such a cell in ``Dataset.true_labels`` (-1: not audited).
WRONG_CLASS_UNKNOWN = -2


PROB_PREFIXES = ("pred_prob_", "prob_", "p_")


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")


#: Files larger than this are refused (the dashboard keeps everything in memory).
MAX_FILE_BYTES = 2 * 1024**3


#: Cells that count as "no value" in a numeric feature column (for the model only; the
#: cell itself is written back unchanged). Labels never use this list.
NA_TEXTS = ("", "NA", "N/A", "n/a", "NaN", "nan", "-NaN", "-nan", "NULL", "null", "None",
            "<NA>", "#N/A", "#NA", "-1.#IND", "-1.#QNAN", "1.#IND", "1.#QNAN")


#: Delimiters recognised in a CSV header line.
DELIMITERS = ",;\t|"


#: A string column with at most this many distinct values is a categorical feature.
MAX_CATEGORIES = 20


class DataError(ValueError):
    """A problem with the user's data; the message names file, column and rows."""


@dataclass(frozen=True)
class Origin:
    """How the source file is written, so that the cleaned split is written the same way.

    Attributes
    ----------
    kind : {"csv", "parquet"}
    delimiter, lineterminator : str
        Of a CSV file (``lineterminator`` is the first line's ending).
    bom : bool
        The CSV file starts with a UTF-8 byte-order mark.
    schema : pyarrow.Schema or None
        Of a Parquet file.
    quoting : dict or None
        Of a CSV file that quotes more cells than need it (``csv.QUOTE_ALL``,
        ``QUOTE_NONNUMERIC``): which, as :func:`analysis.data.quoting.detect` found them; None
        when only the cells that need quotes are quoted.
    """

    kind: str
    delimiter: str = ","
    lineterminator: str = "\n"
    bom: bool = False
    schema: object = None
    quoting: dict | None = field(default=None, hash=False)


def _find(columns: Sequence[str], candidates: Sequence[str]) -> str | None:
    lower = {c.lower(): c for c in columns}
    for name in candidates:
        if name in lower:
            return lower[name]
    return None


def _fail(source: str, message: str) -> DataError:
    return DataError(f"{source}: {message}")
