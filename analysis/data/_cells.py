"""Cells kept as text (internal): labels and ids read from the cells as written, class names
sorted and encoded once, and the numbers parsed from text cells for the model only (the cell
itself is written back unchanged).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analysis.core._helpers import as_text
from analysis.core._validation import describe_rows
from analysis.data._basics import MAX_CATEGORIES, NA_TEXTS, _fail


def _is_text(values: pd.Series) -> bool:
    return values.dtype == object or pd.api.types.is_string_dtype(values)


_NESTED = (list, tuple, dict, set, np.ndarray)


def _is_nested(values: pd.Series) -> bool:
    """The column holds lists, arrays or mappings (e.g. a Parquet list / struct column)."""
    if values.dtype != object:
        return False
    sample = values.dropna().head(20)
    return any(isinstance(v, _NESTED) for v in sample)


def _label_text(values: pd.Series, source: str, column: str,
                missing_label=None) -> tuple[pd.Series, np.ndarray]:
    """Labels as text, and the rows whose label is missing.

    A label is missing when its cell is empty (only spaces), None / NaN in a DataFrame, or
    equal to ``missing_label``; every other text is a class name (``NA``, ``None``, ``01``).
    Values of different types that print the same (int 1 and str "1") are refused.
    """
    if _is_nested(values):
        raise _fail(source, f"column '{column}' holds nested values (lists or records), not "
                            "labels.")
    missing = values.isna().to_numpy()
    if values.dtype == object:
        present = values[~missing]
        kinds = present.map(type)
        if kinds.nunique() > 1:
            both = pd.DataFrame({"text": present.astype(str), "kind": kinds})
            both = both.drop_duplicates()
            clash = both[both["text"].duplicated(keep=False)]
            if len(clash):
                text = clash["text"].iloc[0]
                rows = np.flatnonzero((values.astype(str) == text).to_numpy() & ~missing)
                shown = " and ".join(
                    f"{v!r} ({type(v).__name__})"
                    for v in present[both.loc[clash.index[clash['text'] == text]].index])
                raise _fail(
                    source,
                    f"column '{column}' mixes values that print the same, {shown}, in "
                    f"{describe_rows(rows)}; make the column one type (all text or all "
                    "numbers) so that each class has one name.",
                )
        text = values.astype(str)
    else:
        text = as_text(values)
    text = text.where(~missing, "")
    missing = missing | text.str.strip().eq("").to_numpy()
    if missing_label is not None:
        missing = missing | text.eq(str(missing_label)).to_numpy()
    return text, missing


def _sorted_names(names) -> list[str]:
    """Class names in numeric order when every name is a number, else in text order."""
    names = [str(n) for n in names]
    numbers = pd.to_numeric(pd.Series(names, dtype=object), errors="coerce")
    if len(names) and numbers.notna().all():
        return [n for _, n in sorted(zip(numbers.tolist(), names, strict=True))]
    return sorted(names)


def _encode_labels(
    values: pd.Series, source: str, column: str, class_names: Sequence | None,
    missing_label=None,
) -> tuple[np.ndarray, list[str]]:
    text, missing = _label_text(values, source, column, missing_label)
    if missing.any():
        what = "empty or missing" if missing_label is None else \
            f"empty or missing (or {str(missing_label)!r})"
        raise _fail(
            source,
            f"column '{column}' has {what} labels in "
            f"{describe_rows(np.flatnonzero(missing))}; "
            "fill them in or drop those rows before analysis.",
        )
    if class_names is None:
        names = _sorted_names(pd.unique(text.to_numpy(dtype=object)))
    else:
        names = as_text(pd.Series(list(class_names))).tolist()
        if len(set(names)) != len(names):
            repeated = sorted({x for x in names if names.count(x) > 1})
            raise _fail(source, f"class_names repeats {repeated}: each class must appear once.")
        unknown = ~text.isin(names).to_numpy()
        if unknown.any():
            first = np.flatnonzero(unknown)
            raise _fail(
                source,
                f"column '{column}' holds labels that are not among the given class names "
                f"({text.iloc[first[0]]!r} in {describe_rows(first)}).",
            )
    codes = pd.Categorical(text.to_numpy(dtype=object), categories=names).codes
    return codes.astype(np.int64), names


def _check_ids(ids: pd.Series, source: str, column: str) -> None:
    if _is_nested(ids):
        raise _fail(source, f"id column '{column}' holds nested values (lists or records).")
    empty = ids.isna().to_numpy()
    if _is_text(ids):
        empty = empty | ids.astype(str).str.strip().eq("").to_numpy()
    if empty.any():
        raise _fail(source, f"id column '{column}' is empty in "
                            f"{describe_rows(np.flatnonzero(empty))}.")
    dup = ids.duplicated(keep=False).to_numpy()
    if dup.any():
        rows = np.flatnonzero(dup)
        raise _fail(
            source,
            f"id column '{column}' must be unique; {describe_rows(rows)} share ids "
            f"(e.g. {ids.iloc[rows[0]]!r}).",
        )


def _arrow(values: pd.Series):
    return pa.array(values.array) if hasattr(values.array, "__arrow_array__") else \
        pa.array(values.to_numpy(dtype=object), type=pa.string())


def _numbers(values: pd.Series) -> pd.Series | None:
    """A text column as int64 / float64 numbers (NaN for the ``NA_TEXTS`` cells), or None
    when a cell is not a number. Vectorised (Arrow's parser), no Python loop."""
    arr = _arrow(values)
    arr = pc.if_else(pc.is_in(arr, value_set=pa.array(NA_TEXTS)), None, arr)
    for kind in (pa.int64(), pa.float64()):
        try:
            # a failing cast costs time in proportion to the array: try the first cells first
            pc.cast(arr.slice(0, 1000), kind)
            out = pc.cast(arr, kind)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
        if kind == pa.int64() and out.null_count:
            out = pc.cast(out, pa.float64())
        return pd.Series(out.to_numpy(zero_copy_only=False), index=values.index,
                         name=values.name)
    return None


def _parse_feature(values: pd.Series, source: str, column: str, *,
                   named: bool) -> pd.Series | None:
    """What the model sees of a text feature column: numbers, booleans or categories.

    Returns None when the column is not a feature (free text with many distinct values);
    when ``named`` (the user chose the column) such a column is a categorical feature.
    A column of numbers with a few cells that are not numbers is an error naming them.
    """
    numbers = _numbers(values)
    if numbers is not None:
        return numbers
    distinct = pd.unique(values.to_numpy(dtype=object))
    lower = {str(v).lower() for v in distinct}
    if lower <= {"true", "false"}:
        return values.str.lower().eq("true")
    filled = values[~values.isin(NA_TEXTS)]
    if len(filled):
        head = pd.to_numeric(filled.head(1000).str.strip(), errors="coerce")
        if head.notna().mean() >= 0.95:
            parsed = pd.to_numeric(values.where(~values.isin(NA_TEXTS), None).str.strip(),
                                   errors="coerce")
            bad = parsed.isna().to_numpy() & ~values.isin(NA_TEXTS).to_numpy()
            if not bad.any():
                return parsed.astype(np.float64)
            if bad.mean() <= 0.05:
                rows = np.flatnonzero(bad)
                raise _fail(
                    source,
                    f"column '{column}' holds numbers except in {describe_rows(rows)} "
                    f"({values.iloc[rows[0]]!r}); fix those cells, leave them empty, or "
                    "choose the feature columns yourself (feature_columns=).",
                )
    if named or len(distinct) <= MAX_CATEGORIES:
        return values
    return None


def _number_matrix(frame: pd.DataFrame, columns: Sequence[str], source: str,
                   what: str) -> np.ndarray:
    """Columns of a text frame as a float64 matrix; a cell that is not a number is an error.
    When every column is float32 already (e.g. Parquet probabilities) the matrix is float32:
    the same values in half the memory (1M x 100 probabilities: 400 MB instead of 800)."""
    single = len(columns) > 0 and all(frame[c].dtype == np.float32 for c in columns)
    out = np.empty((len(frame), len(columns)), dtype=np.float32 if single else np.float64)
    # columns are written in blocks of up to 64 MB (one strided column at a time was ~4x
    # slower at 1M rows x 100 columns)
    step = max(1, (64 << 20) // max(out.itemsize * len(frame), 1))
    for start in range(0, len(columns), step):
        block = [_number_column(frame[col], col, source, what, out.dtype)
                 for col in columns[start:start + step]]
        out[:, start:start + len(block)] = np.stack(block).T
    return out


def _number_column(values: pd.Series, col: str, source: str, what: str,
                   dtype: np.dtype) -> np.ndarray:
    """One column of :func:`_number_matrix` as a ``dtype`` vector (NaN for empty cells)."""
    if _is_text(values):
        parsed = _numbers(values)
        if parsed is None:
            loose = pd.to_numeric(values.str.strip(), errors="coerce")
            bad = np.flatnonzero(loose.isna().to_numpy() & ~values.isin(NA_TEXTS))
            if bad.size:
                raise _fail(source, f"{what} column '{col}' is not a number in "
                                    f"{describe_rows(bad)} ({values.iloc[bad[0]]!r}).")
            parsed = loose
        values = parsed
    return values.to_numpy(dtype=dtype, na_value=np.nan)
