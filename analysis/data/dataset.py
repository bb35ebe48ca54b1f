"""Datasets: loading, schema inference, validation and a content fingerprint.

A :class:`Dataset` holds the user's rows unchanged and in their order, the given labels
encoded once as integers 0..K-1 (class names kept), a stable id per row, and whichever content
it has: numeric feature columns, a text column, an image column (paths) or pixel columns, and
optionally out-of-fold ``pred_probs``, embeddings, annotator columns and audited true labels.
Every bad input raises :class:`DataError` naming the file, the column and the first rows.

A CSV file is read as text, every cell as it is written (``00027`` stays ``00027``, ``TRUE``
stays ``TRUE``, an empty cell stays empty): that text frame is what the cleaned split writes
back. Feature columns are parsed into numbers for the model only (:attr:`Dataset.features`).
Labels are text: only an empty cell (or the ``missing_label`` text) is a missing label, and
``01`` and ``1`` are two classes. A Parquet file keeps its schema (:class:`Origin`).
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.core._helpers import as_text
from analysis.core._validation import check_inputs, describe_rows
from analysis.core.cache import fingerprint as content_hash
from analysis.core.npy import NpyError, npy_header
from analysis.data.schema import split_like_columns

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


@dataclass(frozen=True)
class Dataset:
    """A labelled dataset ready for analysis.

    Attributes
    ----------
    frame : DataFrame
        The rows as loaded, every column, original order. Read from a CSV file every column
        is text, each cell exactly as written in the file.
    source : str
        File name (or "DataFrame" / "arrays") used in messages.
    label_column : str
    labels : ndarray of shape (N,), int64
        Given labels encoded 0..K-1.
    class_names : list of str
        ``class_names[i]`` is the text of class i.
    ids : ndarray of shape (N,)
        Stable row ids: the id column, else the row number in the source.
    id_column : str or None
    feature_columns : list of str
        Columns used as model features (numeric, bool or low-cardinality categorical).
    text_column, image_column : str or None
    image_shape : tuple of int or None
        ``(height, width)`` when ``feature_columns`` are the pixels of an image.
    pred_probs : ndarray of shape (N, K) or None
    embeddings : ndarray of shape (N, D) or None
    annotator_columns : list of str
    true_labels : ndarray of shape (N,) or None
        Audited / known true labels encoded like ``labels`` (-1 where unknown).
    base_dir : Path or None
        Folder relative to which image paths are resolved.
    origin : Origin or None
        The file format read (None for an in-memory frame).
    feature_frame : DataFrame or None
        The parsed feature columns when ``frame`` is text (see :attr:`features`).
    embeddings_from : str
        ``"given"``, or ``"pixels"`` when the embeddings are the images' reduced pixels
        (:func:`load_image_folder`, an image column with nothing else to learn from).
    notes : list of str
        What the loading set aside and the user should be told (the CLI prints them as
        warnings, the dashboard shows them): e.g. an image too large to decode, skipped.
    """

    frame: pd.DataFrame
    source: str
    label_column: str
    labels: np.ndarray
    class_names: list[str]
    ids: np.ndarray
    id_column: str | None = None
    feature_columns: list[str] = field(default_factory=list)
    text_column: str | None = None
    image_column: str | None = None
    image_shape: tuple[int, int] | None = None
    pred_probs: np.ndarray | None = None
    embeddings: np.ndarray | None = None
    annotator_columns: list[str] = field(default_factory=list)
    true_labels: np.ndarray | None = None
    base_dir: Path | None = None
    origin: Origin | None = field(default=None, compare=False)
    feature_frame: pd.DataFrame | None = field(default=None, repr=False, compare=False)
    embeddings_from: str = field(default="given", compare=False)
    notes: list[str] = field(default_factory=list, compare=False)

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def features(self) -> pd.DataFrame:
        """The feature columns as the model sees them: numbers (int64 / float64, NaN where a
        cell is empty or ``NA``), booleans, or text for categorical columns."""
        if self.feature_frame is not None:
            return self.feature_frame
        return self.frame[self.feature_columns]

    @cached_property
    def fingerprint(self) -> str:
        """Hash of the content that matters to the analysis: keys every cache."""
        parts = [self.labels, list(self.class_names), np.asarray(self.ids).astype(str)]
        if self.feature_columns:
            parts.append(self.features)
        for col in (self.text_column, self.image_column):
            if col:
                parts.append(self.frame[col].astype(str))
        for arr in (self.pred_probs, self.embeddings):
            parts.append(arr if arr is not None else "none")
        # what Evaluate and Annotators read: two files that differ only there are two datasets
        parts.append(self.true_labels if self.true_labels is not None else "no truth")
        parts.append(["annotators", *self.annotator_columns])
        for col in self.annotator_columns:
            parts.append(self.frame[col].astype(str))
        return content_hash(*parts)

    @cached_property
    def id_text(self) -> np.ndarray:
        """(N,) the row ids as text (object array): how ids are stored in decisions, URLs and
        the change list. Computed once."""
        return np.asarray(self.ids).astype(str).astype(object)

    @cached_property
    def id_index(self) -> dict[str, int]:
        """Id text -> row position (built once; treat it as read-only)."""
        return {v: r for r, v in enumerate(self.id_text)}

    def row_of(self, row_id) -> int | None:
        """Row position of the example whose id prints as ``row_id``, or ``None``."""
        return self.id_index.get(str(row_id))

    @cached_property
    def class_order(self) -> ClassOrder | None:
        """How well the columns of ``pred_probs`` fit the classes in their assumed order
        (:func:`check_class_order`); ``None`` without ``pred_probs``."""
        if self.pred_probs is None:
            return None
        return check_class_order(self.labels, self.pred_probs, self.class_names)

    def image_path(self, row: int) -> Path:
        """Absolute path of row ``row``'s image (validated to lie inside ``base_dir``)."""
        if self.image_column is None or self.base_dir is None:
            raise DataError(f"{self.source}: this dataset has no image column.")
        return self.base_dir / str(self.frame[self.image_column].iloc[row])


def _find(columns: Sequence[str], candidates: Sequence[str]) -> str | None:
    lower = {c.lower(): c for c in columns}
    for name in candidates:
        if name in lower:
            return lower[name]
    return None


def _fail(source: str, message: str) -> DataError:
    return DataError(f"{source}: {message}")


# --------------------------------------------------------------------------- cell text


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


# --------------------------------------------------------------------------- numbers from text


def _arrow(values: pd.Series):
    import pyarrow as pa

    return pa.array(values.array) if hasattr(values.array, "__arrow_array__") else \
        pa.array(values.to_numpy(dtype=object), type=pa.string())


def _numbers(values: pd.Series) -> pd.Series | None:
    """A text column as int64 / float64 numbers (NaN for the ``NA_TEXTS`` cells), or None
    when a cell is not a number. Vectorised (Arrow's parser), no Python loop."""
    import pyarrow as pa
    import pyarrow.compute as pc

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


# --------------------------------------------------------------------------- arrays from files


def _read_npy(p: Path, what: str, n: int) -> np.ndarray:
    """Open a .npy file after checking its header against the file size (nothing is
    allocated for a header that claims more data than the file holds)."""
    name = p.name
    try:
        shape, dtype = npy_header(p, what)
    except NpyError as err:
        raise DataError(str(err)) from None
    if len(shape) != 2 or shape[0] != n:
        raise _fail(name, f"{what} must have shape ({n}, ...): one row per data row; got "
                          f"{tuple(shape)}.")
    if dtype.kind not in "fiu":
        raise _fail(name, f"{what} must be numeric, got dtype {dtype}.")
    return np.load(p, allow_pickle=False)


def _read_prob_csv(p: Path, what: str) -> np.ndarray:
    """A CSV of numbers, with or without a header row (a first row of numbers is data)."""
    name = p.name
    try:
        with open(p, newline="", encoding="utf-8-sig") as fh:
            first = next(csv.reader(fh), [])
        numbers = pd.to_numeric(pd.Series(first, dtype=object).str.strip(), errors="coerce")
        header = None if len(first) and numbers.notna().all() else 0
        frame = pd.read_csv(p, header=header, dtype=str, keep_default_na=False,
                            na_filter=False, encoding="utf-8-sig")
    except UnicodeDecodeError as err:
        raise _fail(name, f"{what} is not UTF-8 text (byte {err.start}).") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, OSError) as err:
        raise _fail(name, f"{what} cannot be read as CSV: {err}") from None
    frame.columns = [str(c) for c in frame.columns]
    return _number_matrix(frame, list(frame.columns), name, what)


def _load_npy(path, source: str, what: str, n: int) -> np.ndarray:
    if isinstance(path, (np.ndarray, list, tuple, pd.DataFrame)):
        arr = np.asarray(path)
        name = what
    else:
        p = Path(path)
        name = p.name
        if p.suffix.lower() in (".pkl", ".pickle", ".joblib"):
            raise _fail(name, f"{what} must be a .npy or .csv file; pickle files are never opened.")
        if not p.is_file():
            raise _fail(name, f"{what} file not found ({p}).")
        if p.suffix.lower() in (".csv", ".txt", ".tsv"):
            arr = _read_prob_csv(p, what)
            if arr.shape[0] != n:
                raise _fail(name, f"{what} has {arr.shape[0]} rows but the data has {n}: one "
                                  "row per data row, in the same order.")
        else:
            arr = _read_npy(p, what, n)
    if arr.ndim != 2 or arr.shape[0] != n:
        raise _fail(name, f"{what} must have shape ({n}, ...): one row per data row; got "
                          f"{arr.shape}.")
    if arr.dtype.kind not in "fiu":
        raise _fail(name, f"{what} must be numeric, got dtype {arr.dtype}.")
    return arr


# --------------------------------------------------------------------------- images


def _is_image_column(values: pd.Series) -> bool:
    sample = values.dropna().astype(str).head(50)
    return len(sample) > 0 and sample.str.lower().str.endswith(IMAGE_SUFFIXES).all()


def _check_images(frame: pd.DataFrame, column: str, base_dir: Path, source: str) -> None:
    base = base_dir.resolve()
    paths = frame[column].astype(str)
    outside, missing = [], []
    for i, rel in enumerate(paths):
        full = (base / rel).resolve()
        if not full.is_relative_to(base):
            outside.append(i)
        elif not full.is_file():
            missing.append(i)
    if outside:
        raise _fail(source, f"image column '{column}' points outside the data folder {base} in "
                            f"{describe_rows(outside)} ({paths.iloc[outside[0]]!r}).")
    if missing:
        raise _fail(source, f"image column '{column}': files missing for "
                            f"{describe_rows(missing)} (first: {paths.iloc[missing[0]]!r}, "
                            f"looked in {base}).")


def from_frame(
    frame: pd.DataFrame,
    label_column: str | None = None,
    *,
    id_column: str | None = None,
    feature_columns: Sequence[str] | None = None,
    text_column: str | None = None,
    image_column: str | None = None,
    image_shape: tuple[int, int] | None = None,
    pred_probs=None,
    pred_prob_columns: Sequence[str] | None = None,
    embeddings=None,
    annotator_columns: Sequence[str] | None = None,
    true_label_column: str | None = None,
    class_names: Sequence | None = None,
    missing_label: str | None = None,
    min_class_size: int = 2,
    source: str = "DataFrame",
    base_dir: str | Path | None = None,
) -> Dataset:
    """Build a :class:`Dataset` from a DataFrame, inferring what is not given.

    Parameters
    ----------
    frame : DataFrame
        One row per example.
    label_column : str, optional
        Given labels (strings or integers). Default: the first of ``label``, ``labels``,
        ``given_label``, ``target``, ``class``, ``y`` present.
    id_column : str, optional
        Unique row ids. Default: ``id`` / ``row_id`` / ``uid`` / ``example_id`` if present and
        unique, else the row number.
    feature_columns : sequence of str, optional
        Model features. Default: every numeric or boolean column that is not a label, id,
        probability, annotator, true-label or split column (``split``, ``fold``, ... see
        :func:`analysis.data.schema.split_like_columns`), plus string columns with at most 20
        distinct values (categorical). Nested columns (lists, records) are never features.
    text_column, image_column : str, optional
        Default: a string column of long texts / of image file names.
    image_shape : (height, width), optional
        The feature columns are pixels of images of this shape.
    pred_probs : array-like of shape (N, K) or path to ``.npy`` / ``.csv``, optional
        Out-of-fold predicted probabilities, columns in class order.
    pred_prob_columns : sequence of str, optional
        Columns of ``frame`` holding the probabilities, one per class in class order. Default:
        ``pred_prob_<class>`` / ``prob_<class>`` / ``p_<class>`` for every class, if present.
    embeddings : array-like of shape (N, D) or path to ``.npy`` / ``.csv``, optional
    annotator_columns : sequence of str, optional
        Default: columns whose name starts with ``annotator``.
    true_label_column : str, optional
        Known true labels (audited subset: empty where unknown). Default: ``true_label``.
    class_names : sequence, optional
        All classes in order; default: the distinct given labels, in numeric order when all
        are numbers, else in text order.
    missing_label : str, optional
        A label text that means "no label" (e.g. ``"NA"``), reported like an empty cell.
        By default only an empty cell is a missing label: ``NA``, ``None``, ``null`` are
        class names like any other.
    min_class_size : int, default=2
        A class given to fewer rows is an error (its noise cannot be estimated).
    source : str
        Name used in messages.
    base_dir : path, optional
        Folder of the data file: image paths are relative to it.

    Returns
    -------
    Dataset

    Raises
    ------
    DataError
        With the file, column and rows at fault.
    """
    return _build(frame, label_column, id_column=id_column, feature_columns=feature_columns,
                  text_column=text_column, image_column=image_column, image_shape=image_shape,
                  pred_probs=pred_probs, pred_prob_columns=pred_prob_columns,
                  embeddings=embeddings, annotator_columns=annotator_columns,
                  true_label_column=true_label_column, class_names=class_names,
                  missing_label=missing_label, min_class_size=min_class_size, source=source,
                  base_dir=base_dir, origin=None)


@dataclass
class _Table:
    """The frame being built into a :class:`Dataset`: its columns, where it came from, and the
    column checks every role shares."""

    frame: pd.DataFrame
    source: str
    text_frame: bool  # a CSV read as text: every column holds str

    @property
    def columns(self) -> list[str]:
        return list(self.frame.columns)

    def need(self, col: str | None, what: str) -> str | None:
        """``col`` if it is a column of plain values (None passes through), else an error."""
        if col is not None and col not in self.frame.columns:
            raise _fail(self.source, f"{what} column '{col}' not found; columns are "
                                     f"{self.columns}.")
        if col is not None and _is_nested(self.frame[col]):
            raise _fail(self.source, f"{what} column '{col}' holds nested values (lists or "
                                     "records); choose a column of plain values.")
        return col


@dataclass
class _Roles:
    """Which column plays which part (one value, filled role by role)."""

    label: str
    id: str | None = None
    true_label: str | None = None
    annotators: list[str] = field(default_factory=list)
    pred_probs: list[str] | None = None
    image: str | None = None
    text: str | None = None
    features: list[str] = field(default_factory=list)

    def reserved(self) -> set[str]:
        return {c for c in (self.label, self.id, self.true_label, self.image, self.text)
                if c is not None} | set(self.annotators) | set(self.pred_probs or [])


def _build(frame, label_column, *, id_column, feature_columns, text_column, image_column,
           image_shape, pred_probs, pred_prob_columns, embeddings, annotator_columns,
           true_label_column, class_names, missing_label, min_class_size, source, base_dir,
           origin: Origin | None) -> Dataset:
    """:func:`from_frame`; with a CSV ``origin`` the frame is text, every column ``str``.

    The roles are inferred (or checked) one after another — label, id, true label,
    annotators, probabilities, then the content (image, text, features) among the columns
    left — each with its own validation."""
    if not isinstance(frame, pd.DataFrame):
        raise _fail(source, f"expected a pandas DataFrame, got {type(frame).__name__}.")
    if len(frame) == 0:
        raise _fail(source, "the file has no rows.")
    frame = frame.reset_index(drop=True)
    columns = [str(c) for c in frame.columns]
    _check_column_names(columns, source)
    frame.columns = columns
    table = _Table(frame, source, origin is not None and origin.kind == "csv")

    label = table.need(label_column, "label") or _find(columns, LABEL_NAMES)
    roles = _Roles(label=_label_role(table, label))
    labels, names = _labels_of(table, roles.label, class_names, missing_label, min_class_size)
    roles.id, ids = _id_role(table, id_column)
    roles.true_label, true_labels = _true_label_role(table, true_label_column, names,
                                                     missing_label)
    if annotator_columns is None:
        annotator_columns = [c for c in columns if c.lower().startswith("annotator")
                             and not _is_nested(frame[c])]
    roles.annotators = [table.need(c, "annotator") for c in annotator_columns]
    roles.pred_probs, pred_probs = _probabilities_role(table, pred_prob_columns, pred_probs,
                                                       labels, names, roles.label)
    embeddings = _embeddings_of(table, embeddings)
    base = Path(base_dir) if base_dir is not None else None
    feature_frame = _content_roles(table, roles, feature_columns, text_column, image_column,
                                   base)
    if image_shape is not None and int(np.prod(image_shape)) != len(roles.features):
        raise _fail(source, f"image_shape {tuple(image_shape)} needs {int(np.prod(image_shape))} "
                            f"pixel columns, found {len(roles.features)} feature columns.")
    return Dataset(
        frame=frame,
        source=source,
        label_column=roles.label,
        labels=labels,
        class_names=names,
        ids=ids,
        id_column=roles.id,
        feature_columns=roles.features,
        text_column=roles.text,
        image_column=roles.image,
        image_shape=tuple(image_shape) if image_shape is not None else None,
        pred_probs=pred_probs,
        embeddings=embeddings,
        annotator_columns=roles.annotators,
        true_labels=true_labels,
        base_dir=base,
        origin=origin,
        feature_frame=feature_frame,
    )


def _label_role(table: _Table, label: str | None) -> str:
    if label is None:
        raise _fail(table.source, "no label column: name it with label_column= (or "
                                  f"--label-col); columns are {table.columns}.")
    return label


def _labels_of(table: _Table, column: str, class_names, missing_label,
               min_class_size: int) -> tuple[np.ndarray, list[str]]:
    """The encoded labels and class names; at least 2 classes of ``min_class_size`` rows."""
    source = table.source
    labels, names = _encode_labels(table.frame[column], source, column, class_names,
                                   missing_label)
    k = len(names)
    if k < 2:
        raise _fail(source, f"column '{column}' holds a single class ({names[0]!r}): "
                            "label noise needs at least 2 classes.")
    counts = np.bincount(labels, minlength=k)
    small = [i for i in range(k) if 0 < counts[i] < min_class_size]
    if small:
        rows = np.flatnonzero(np.isin(labels, small))
        fewest = int(counts[small].min())
        # several classes: say how many, so that the rows listed are not read as one class's
        few = ", ".join(f"{names[i]!r}: {counts[i]}" for i in small[:3])
        which = (f"class {names[small[0]]!r} of column '{column}' has only {counts[small[0]]} "
                 f"row(s) ({describe_rows(rows)})" if len(small) == 1 else
                 f"{len(small):,} classes of column '{column}' have fewer than "
                 f"{min_class_size} rows ({few}{', ...' if len(small) > 3 else ''}; "
                 f"{describe_rows(rows)})")
        raise _fail(
            source,
            f"{which}; a class needs at least {min_class_size} rows to "
            "estimate its noise. Fix or remove those rows, or accept classes this small with "
            f"--min-class-size {fewest} (min_class_size={fewest} in Python; their noise "
            "estimate then rests on that few rows).",
        )
    return labels, names


def _id_role(table: _Table, id_column: str | None) -> tuple[str | None, np.ndarray]:
    """The id column (given, else a conventional name) and the ids, else row numbers."""
    id_column = table.need(id_column, "id") or _find(table.columns, ID_NAMES)
    if id_column is None:
        return None, np.arange(len(table.frame))
    _check_ids(table.frame[id_column], table.source, id_column)
    return id_column, table.frame[id_column].to_numpy(dtype=object if table.text_frame else None)


def _true_label_role(table: _Table, column: str | None, names: list[str],
                     missing_label) -> tuple[str | None, np.ndarray | None]:
    """The audited true labels encoded like the labels (-1 where unknown)."""
    column = table.need(column, "true label") or _find(table.columns, TRUE_LABEL_NAMES)
    if column is None:
        return None, None
    source, frame = table.source, table.frame
    as_text, unknown_cell = _label_text(frame[column], source, column, missing_label)
    known = ~unknown_cell
    codes = as_text.map({name: i for i, name in enumerate(names)})
    tokens = [t for t in WRONG_UNKNOWN_TOKENS if t not in names]
    wrong_unknown = known & as_text.str.strip().str.lower().isin(tokens).to_numpy()
    codes = codes.mask(wrong_unknown, WRONG_CLASS_UNKNOWN)
    unknown = known & codes.isna().to_numpy()
    if unknown.any():
        rows = np.flatnonzero(unknown)
        raise _fail(
            source,
            f"true-label column '{column}' holds classes not among the given labels "
            f"({frame[column].iloc[rows[0]]!r} in {describe_rows(rows)}).",
        )
    true_labels = np.full(len(frame), -1, dtype=np.int64)
    true_labels[known] = codes[known].astype(np.int64).to_numpy()
    return column, true_labels


def _probabilities_role(table: _Table, columns, pred_probs, labels, names,
                        label_column: str) -> tuple[list[str] | None, np.ndarray | None]:
    """``pred_prob_<class>`` columns (given or found) or a file / array, checked."""
    source, k = table.source, len(names)
    extra: list[str] = []
    if columns is None:
        columns, extra = _found_probability_columns(table, names, label_column,
                                                    pred_probs is not None)
    if columns is not None:
        if pred_probs is not None:
            raise _fail(source, "give pred_probs either as columns or as a file, not both.")
        columns = [table.need(c, "pred_probs") for c in columns]
        if len(columns) != k:
            raise _fail(source, f"{len(columns)} pred_probs columns for {k} classes.")
        pred_probs = _number_matrix(table.frame, columns, source, "pred_probs")
        if extra:  # prob_x / p_x beside complete columns: named if the rows do not add up
            try:
                check_inputs(labels, pred_probs, require_two_classes=False)
            except ValueError:
                raise _extra_columns_error(source, extra, names, label_column) from None
    if pred_probs is None:
        return columns, None
    arr = _load_npy(pred_probs, source, "pred_probs", len(table.frame))
    if arr.shape[1] != k:
        raise _fail(source, f"pred_probs has {arr.shape[1]} columns but column "
                            f"'{label_column}' has {k} classes {names}: one column per class.")
    try:
        _, pred_probs = check_inputs(labels, arr, require_two_classes=False)
    except ValueError as err:
        raise _fail(source, str(err)) from None
    return columns, pred_probs


def _found_probability_columns(table: _Table, names: list[str], label: str,
                               have_file: bool) -> tuple[list[str] | None, list[str]]:
    """The ``<prefix><class>`` columns of every class (the first prefix of
    :data:`PROB_PREFIXES` that has them all) and the columns of that prefix no class is named
    by; :class:`DataError` when probability columns cover only some classes.

    ``pred_prob_<x>`` is unambiguous: any such column makes the others required, and one for
    a class no row has is refused (issue #25: the columns were silently taken as model
    features, or the rows "summed to 0.9"). ``prob_`` / ``p_`` are common feature names, so
    they count as probability columns once one of them names a class."""
    source, columns = table.source, table.columns
    for prefix in PROB_PREFIXES:
        prefixed = [c for c in columns if c.startswith(prefix)]
        have = {c[len(prefix):] for c in prefixed}
        missing = [n for n in names if n not in have]
        extra = [c for c in prefixed if c[len(prefix):] not in set(names)]
        strict = prefix == PROB_PREFIXES[0]
        if not prefixed or (not strict and len(missing) == len(names)):
            continue
        if missing:
            if have_file and not strict:
                continue
            shown = ", ".join(repr(n) for n in missing[:10])
            more = f" (and {len(missing) - 10} more)" if len(missing) > 10 else ""
            near = ", ".join(repr(c) for c in extra[:5])
            raise _fail(
                source,
                f"{len(prefixed)} {prefix}<class> column(s) but no {prefix}<class> column for "
                f"{len(missing)} of the {len(names)} classes of column "
                f"'{label}': {shown}{more}"
                + (f"; columns that name no class: {near}" if near else "")
                + ". Each class needs its probability column, named exactly as the label "
                "(spaces and line breaks count); fix the labels or the column names, or name "
                "the columns with pred_prob_columns=.")
        if strict and extra:
            raise _extra_columns_error(source, extra, names, label)
        if have_file:
            raise _fail(source, "give pred_probs either as columns or as a file, not both.")
        return [f"{prefix}{n}" for n in names], extra
    return None, []


def _extra_columns_error(source: str, extra: list[str], names: list[str],
                         label: str | None) -> DataError:
    first = extra[0]
    prefix = next(p for p in PROB_PREFIXES if first.startswith(p))
    cls = first[len(prefix):]
    shown = ", ".join(repr(c) for c in extra[:10])
    more = f" (and {len(extra) - 10} more)" if len(extra) > 10 else ""
    return _fail(
        source,
        f"probability column(s) {shown}{more} for class(es) no row of column '{label}' is "
        f"labelled with (no row is labelled {cls!r}); the classes are "
        f"{', '.join(repr(n) for n in names)}. If the model has classes no row is given, "
        f"name every class in the model's order with classes= (--class-names FILE), e.g. "
        f"{names + [cls]!r}; else drop the column.")


def _embeddings_of(table: _Table, embeddings) -> np.ndarray | None:
    if embeddings is None:
        return None
    embeddings = _load_npy(embeddings, table.source, "embeddings", len(table.frame))
    if not np.isfinite(embeddings).all():
        rows = np.flatnonzero(~np.isfinite(embeddings).all(axis=1))
        raise _fail(table.source, f"embeddings contain NaN or infinity in "
                                  f"{describe_rows(rows)}.")
    return embeddings


def _content_roles(table: _Table, roles: _Roles, feature_columns, text_column, image_column,
                   base: Path | None) -> pd.DataFrame | None:
    """Image, text and feature columns among the columns no other role holds; fills
    ``roles`` and returns the parsed feature frame of a text (CSV) frame."""
    frame, source, columns = table.frame, table.source, table.columns
    reserved = roles.reserved() | {c for c in columns if _is_nested(frame[c])}
    if feature_columns is None:  # a split column (analysis/data/schema.py) is never a feature
        reserved |= set(split_like_columns(frame)) - {roles.label, roles.id}
    parsed = _parsed_features(table, reserved, feature_columns)

    def textual(c: str) -> bool:
        if table.text_frame:
            p = parsed.get(c)
            return p is None or _is_text(p)
        return _is_text(frame[c])

    if image_column is None and base is not None:
        image_column = next((c for c in columns if c not in reserved
                             and textual(c) and _is_image_column(frame[c])), None)
    roles.image = table.need(image_column, "image")
    if roles.image is not None:
        if base is None:
            raise _fail(source, "an image column needs the data file's folder (base_dir).")
        _check_images(frame, roles.image, base, source)
        reserved.add(roles.image)
    if text_column is None:
        text_column = next((c for c in columns if c not in reserved and textual(c)
                            and frame[c].astype(str).str.len().mean() > 30), None)
    roles.text = table.need(text_column, "text")
    if roles.text is not None:
        reserved.add(roles.text)
    if feature_columns is None:
        feature_columns = [c for c in columns if c not in reserved
                           and _inferred_feature(table, c, parsed)]
    else:
        for c in feature_columns:
            table.need(c, "feature")
    roles.features = list(feature_columns)
    if not table.text_frame:
        return None
    if not roles.features:
        return pd.DataFrame(index=frame.index)
    return pd.DataFrame({c: parsed[c] if parsed.get(c) is not None else frame[c]
                         for c in roles.features}, index=frame.index)[roles.features]


def _parsed_features(table: _Table, reserved: set[str], feature_columns) -> dict:
    """A text frame: which candidate feature columns are numbers (parsed once, for the model
    only); ``{}`` for a typed frame."""
    if not table.text_frame:
        return {}
    wanted = set(feature_columns) if feature_columns is not None else None
    return {c: _parse_feature(table.frame[c], table.source, c,
                              named=wanted is not None and c in wanted)
            for c in table.columns
            if c not in reserved and (wanted is None or c in wanted)}


def _inferred_feature(table: _Table, column: str, parsed: dict) -> bool:
    """Whether an unnamed column is a model feature: numbers or booleans, or text with at
    most :data:`MAX_CATEGORIES` values (categorical)."""
    if table.text_frame:
        return parsed.get(column) is not None
    s = table.frame[column]
    if pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
        return True
    return s.nunique(dropna=True) <= MAX_CATEGORIES


def _check_column_names(columns: Sequence[str], source: str) -> None:
    seen: dict[str, int] = {}
    for c in columns:
        seen[c] = seen.get(c, 0) + 1
    repeated = [c for c, n in seen.items() if n > 1]
    if repeated:
        shown = ", ".join(f"'{c}' ({seen[c]} times)" for c in repeated)
        raise _fail(source, f"column names must be unique; repeated: {shown}. Rename the "
                            "columns so each name appears once.")


# --------------------------------------------------------------------------- files


def _sniff(p: Path, suffix: str) -> Origin:
    """Delimiter, line ending and byte-order mark of a CSV file, from its first line."""
    with open(p, "rb") as fh:
        head = fh.read(1 << 16)
    bom = head.startswith(b"\xef\xbb\xbf")
    if bom:
        head = head[3:]
    end = head.find(b"\n")
    cr = head.find(b"\r")
    if end < 0 and cr < 0:
        ending = "\n"
    elif end > 0 and head[end - 1:end] == b"\r":
        ending = "\r\n"
    elif cr >= 0 and (end < 0 or cr < end):
        ending = "\r"
    else:
        ending = "\n"
    first = head[: end if end >= 0 else len(head)].rstrip(b"\r").decode("utf-8", "replace")
    if suffix == ".tsv":
        delimiter = "\t"
    else:
        try:
            delimiter = csv.Sniffer().sniff(first, delimiters=DELIMITERS).delimiter
        except csv.Error:
            delimiter = ","
        if delimiter != "," and "," in first:
            # a comma-separated header whose names hold other marks: count outside quotes
            counts = {d: sum(f.count(d) for f in first.split('"')[::2]) for d in DELIMITERS}
            delimiter = max(DELIMITERS, key=lambda d: (counts[d], d == ","))
    return Origin("csv", delimiter=delimiter, lineterminator=ending, bom=bom)


def _not_utf8(p: Path, err_start: int | None = None) -> DataError:
    data = p.read_bytes()
    if err_start is None:
        try:
            data.decode("utf-8")
            err_start = 0
        except UnicodeDecodeError as err:
            err_start = err.start
    line = data[:err_start].count(b"\n") + 1
    return DataError(f"{p.name}: not UTF-8 text (byte {err_start}, line {line}); save the file "
                     "as UTF-8.")


_SEPARATOR_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}


def _ragged_row(p: Path, origin: Origin, width: int) -> str | None:
    """The first data row whose number of cells differs from the header's (for messages)."""
    try:
        with open(p, newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh, delimiter=origin.delimiter)
            next(reader, None)
            for i, row in enumerate(reader):
                if row and len(row) != width:
                    return (f"row {i} (line {reader.line_num}) has {len(row)} cells but the "
                            f"header has {width} ({_SEPARATOR_NAMES[origin.delimiter]}-separated)"
                            + _single_quote_hint(row, origin, width))
    except (csv.Error, UnicodeDecodeError):  # pragma: no cover - reported by the caller
        return None
    return None


def _single_quote_hint(row: list[str], origin: Origin, width: int) -> str:
    """A hint when the row has the header's width once ``'`` is read as the quote character:
    the file quotes its cells with single quotes, which CSV (RFC 4180) does not."""
    line = origin.delimiter.join(row)
    again = next(csv.reader([line], delimiter=origin.delimiter, quotechar="'"), [])
    if "'" in line and len(again) == width:
        return ("; its cells look quoted with single quotes ('), which CSV does not quote with: "
                "save the file with double quotes (\")")
    return ""


def _header_columns(p: Path, delimiter: str, block: int = 1 << 20) -> int:
    """The number of columns the header line names, counted from its bytes (delimiters
    outside double quotes, up to the first line break outside them) a block at a time,
    without parsing it: constant memory, ~0.1 s for a 64 MB line."""
    sep, quote = delimiter.encode(), b'"'
    count, quoted = 1, False
    with open(p, "rb") as fh:
        while True:
            chunk = fh.read(block)
            if not chunk:
                return count
            parts = chunk.split(quote)
            for j, part in enumerate(parts):
                if j:
                    quoted = not quoted
                if quoted:
                    continue
                ends = [e for e in (part.find(b"\n"), part.find(b"\r")) if e >= 0]
                if ends:
                    return count + part[:min(ends)].count(sep)
                count += part.count(sep)


def _check_header_width(p: Path, origin: Origin) -> None:
    """Refuse a header naming more columns than :data:`analysis.core.limits.MAX_TABLE_COLUMNS`
    before it is parsed (a 5,000,000-column header ran pyarrow for 65 s and 2.4 GB)."""
    from analysis.core.limits import table_limit

    limit = table_limit("columns")
    count = _header_columns(p, origin.delimiter)
    if count > limit:
        sep = _SEPARATOR_NAMES[origin.delimiter]
        raise DataError(f"{p.name}: the header line names {count:,} columns ({sep}-separated), "
                        f"more than the limit of {limit:,}; nothing was read. Check the "
                        "delimiter and the first line, or raise the limit with "
                        "NOISELENS_MAX_COLUMNS if the columns are meant.")


def _read_csv_text(p: Path, suffix: str) -> tuple[pd.DataFrame, Origin]:
    """Every cell of a CSV file as text, exactly as written; columns named by the header."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    name = p.name
    origin = _sniff(p, suffix)
    _check_header_width(p, origin)
    try:
        with open(p, newline="", encoding="utf-8-sig") as fh:
            header = next(csv.reader(fh, delimiter=origin.delimiter), None)
    except UnicodeDecodeError as err:
        raise _not_utf8(p, err.start + (3 if origin.bom else 0)) from None
    except csv.Error as err:
        raise DataError(f"{name}: the header line cannot be read as CSV: {err}") from None
    if not header:
        raise DataError(f"{name}: the file is empty (no header line).")
    _check_column_names(header, name)
    if origin.delimiter == ";" and len(header) == 1:  # pragma: no cover - sniffer guard
        raise DataError(f"{name}: semicolon-separated: the header has one column only.")
    try:
        table = pacsv.read_csv(
            p,
            read_options=pacsv.ReadOptions(column_names=header, skip_rows=1,
                                           block_size=1 << 24),
            parse_options=pacsv.ParseOptions(delimiter=origin.delimiter,
                                             newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types={c: pa.string() for c in header}, strings_can_be_null=False,
                quoted_strings_can_be_null=False, null_values=[]),
        )
    except pa.ArrowInvalid as err:
        text = str(err)
        if "UTF8" in text or "utf8" in text.lower():
            raise _not_utf8(p) from None
        if "columns" in text:
            where = _ragged_row(p, origin, len(header)) or (
                "a row has a different number of cells than the header "
                f"({_SEPARATOR_NAMES[origin.delimiter]}-separated)")
            raise DataError(f"{name}: {where}.") from None
        raise DataError(f"{name}: cannot be read as CSV: {text}") from None
    if table.num_rows == 0:
        raise DataError(f"{name}: the file has no rows.")
    frame = table.to_pandas()
    frame.columns = list(header)
    from dataclasses import replace

    from analysis.data.quoting import detect

    quoting = detect(p, frame, origin.delimiter, origin.lineterminator, origin.bom)
    return frame, (replace(origin, quoting=quoting) if quoting else origin)


def _decoded_bytes(metadata, schema) -> int:
    """An estimate of a Parquet file's size once decoded, from its metadata alone: every
    value's width (8 bytes, a pointer, for strings and other variable-width values) times the
    rows, plus the uncompressed pages (the string bytes). Encodings (dictionary, run-length)
    make the pages of a repeated value tiny, so the pages alone say nothing of the size."""
    import pyarrow as pa

    width = 0
    for field_ in schema:
        try:
            width += max(1, field_.type.bit_width // 8)
        except ValueError:  # variable width (strings, lists, ...): a pointer per value
            width += 8
        if pa.types.is_dictionary(field_.type):  # pragma: no cover - read as its values
            width += 8
    pages = sum(metadata.row_group(i).total_byte_size for i in range(metadata.num_row_groups))
    return metadata.num_rows * width + pages


def _check_parquet_size(p: Path) -> None:
    """Refuse, from the metadata, a file whose rows or decoded size pass the limits of
    :mod:`analysis.core.limits` (a compression bomb), before anything is read."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from analysis.core.limits import human, table_limit

    try:
        meta = pq.ParquetFile(p)
        metadata, schema = meta.metadata, meta.schema_arrow
    except (pa.ArrowException, OSError) as err:
        raise DataError(f"{p.name}: cannot be read as Parquet: {err}") from None
    rows, max_rows = metadata.num_rows, table_limit("rows")
    if rows > max_rows:
        raise DataError(f"{p.name}: the file holds {rows:,} rows (from its metadata), more than "
                        f"the limit of {max_rows:,}; nothing was read. Split the file, or raise "
                        "the limit with NOISELENS_MAX_ROWS if this machine can hold it.")
    decoded, max_decoded = _decoded_bytes(metadata, schema), table_limit("decoded")
    if decoded > max_decoded:
        raise DataError(f"{p.name}: the file ({human(p.stat().st_size)} on disk, {rows:,} rows "
                        f"x {len(schema.names):,} columns) decodes to about {human(decoded)}, "
                        f"more than the limit of {human(max_decoded)}; nothing was read. Split "
                        "the file, or raise the limit with NOISELENS_MAX_DECODED (e.g. 32G).")
    max_columns = table_limit("columns")
    if len(schema.names) > max_columns:
        raise DataError(f"{p.name}: the file has {len(schema.names):,} columns, more than the "
                        f"limit of {max_columns:,}; nothing was read. Raise it with "
                        "NOISELENS_MAX_COLUMNS if the columns are meant.")


def _read_parquet(p: Path) -> tuple[pd.DataFrame, Origin]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    _check_parquet_size(p)
    try:
        table = pq.read_table(p)
    except (pa.ArrowException, OSError) as err:
        raise DataError(f"{p.name}: cannot be read as Parquet: {err}") from None
    _check_column_names(table.column_names, p.name)
    schema = table.schema
    try:
        # each Arrow column is freed as soon as it is converted: the file is not held twice
        # (a 1M x 119 file peaked ~450 MB higher without it)
        frame = table.to_pandas(split_blocks=True, self_destruct=True)
    except (pa.ArrowException, ValueError, TypeError) as err:
        raise DataError(f"{p.name}: cannot convert the Parquet columns: {err}") from None
    del table
    return frame.reset_index(drop=True), Origin("parquet", schema=schema)


def _read_source(path: str | Path, max_bytes: int = MAX_FILE_BYTES) -> tuple[pd.DataFrame, Origin]:
    p = Path(path)
    name = p.name
    if not p.exists():
        raise DataError(f"{name}: file not found ({p}).")
    size = p.stat().st_size
    if size > max_bytes:
        raise DataError(f"{name}: {size / 2**20:.0f} MiB is larger than the limit of "
                        f"{max_bytes / 2**20:.0f} MiB.")
    suffix = p.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return _read_parquet(p)
    if suffix in (".csv", ".tsv", ".txt"):
        return _read_csv_text(p, suffix)
    raise DataError(f"{name}: unsupported file type '{suffix}'; use CSV, TSV or Parquet "
                    "(pickle files are never opened).")


def read_table(path: str | Path, *, max_bytes: int = MAX_FILE_BYTES) -> pd.DataFrame:
    """Read a CSV / TSV / Parquet file with clear errors (no pickle, size limit, UTF-8).

    A CSV file comes back as text: every column ``str``, each cell as written in the file
    (the delimiter, ``,`` ``;`` tab or ``|``, is detected from the header line).
    """
    return _read_source(path, max_bytes)[0]


def read_columns(path: str | Path, *, max_bytes: int = MAX_FILE_BYTES) -> list[str]:
    """The column names :func:`read_table` gives for ``path``, in order.

    A Parquet file's come from its schema alone (its pandas index columns left out, as
    ``read_table`` makes them the index), so a 500 MB file is not read for its names; other
    files are read with :func:`read_table`. Raises :class:`DataError` as ``read_table``.
    """
    p = Path(path)
    if p.suffix.lower() not in (".parquet", ".pq") or not p.is_file():
        return [str(c) for c in read_table(p, max_bytes=max_bytes).columns]
    import pyarrow as pa
    import pyarrow.parquet as pq

    if p.stat().st_size > max_bytes:
        return [str(c) for c in read_table(p, max_bytes=max_bytes).columns]  # its message
    try:
        schema = pq.read_schema(p)
    except (pa.ArrowException, OSError) as err:
        raise DataError(f"{p.name}: cannot be read as Parquet: {err}") from None
    index = {c for c in (schema.pandas_metadata or {}).get("index_columns", [])
             if isinstance(c, str)}
    names = [str(c) for c in schema.names if c not in index]
    _check_column_names(names, p.name)
    return names


def load_dataset(path: str | Path, label_column: str | None = None, **options) -> Dataset:
    """Load a CSV / TSV / Parquet file as a :class:`Dataset`.

    ``options`` are those of :func:`from_frame` (e.g. ``missing_label="NA"``); image paths
    are resolved relative to the file's folder, and ``pred_probs`` / ``embeddings`` may be
    paths to ``.npy`` files (opened with ``allow_pickle=False``, the header checked against
    the file size first) or ``.csv`` files (with or without a header row).

    ``classes=`` (a list, or the path of a text file with one name per line) gives the class
    names in the order of the model's probability columns; by default the classes are the
    distinct labels sorted (numerically when all are numbers), and :attr:`Dataset.class_order`
    says when another column order fits the labels clearly better.

    A folder (one sub-folder per class, images inside) is read by :func:`load_image_folder`.
    A file with an image-path column but nothing else to learn from (no features, text,
    embeddings or ``pred_probs``) gets the images' pixels as embeddings, as a folder does.
    """
    if "classes" in options:
        if options.get("class_names") is not None:
            raise TypeError("give classes= or class_names=, not both")
        classes = options.pop("classes")
        options["class_names"] = (read_class_names(classes) if isinstance(classes, (str, Path))
                                  else classes)
    if isinstance(path, pd.DataFrame):
        # A frame already in memory: the same inference as a file, without an Origin to write
        # back (from_frame is the documented entry point; this saves a user the TypeError).
        return from_frame(path, label_column, **options)
    if not isinstance(path, (str, Path)):
        raise TypeError(f"load_dataset() takes the path of a CSV / TSV / Parquet file or an "
                        f"image folder (or a pandas DataFrame), not {type(path).__name__}; for "
                        f"arrays use analysis.from_arrays.")
    p = Path(path)
    if p.is_dir():
        allowed = {"class_names", "pred_probs", "embeddings", "min_class_size"}
        extra = {k for k, v in options.items() if v is not None} - allowed
        if extra:
            raise TypeError(f"an image folder takes only {sorted(allowed)}, not {sorted(extra)}")
        return load_image_folder(p, **{k: v for k, v in options.items() if k in allowed})
    frame, origin = _read_source(p)
    defaults = dict(id_column=None, feature_columns=None, text_column=None, image_column=None,
                    image_shape=None, pred_probs=None, pred_prob_columns=None, embeddings=None,
                    annotator_columns=None, true_label_column=None, class_names=None,
                    missing_label=None, min_class_size=2)
    unknown = set(options) - set(defaults)
    if unknown:
        raise TypeError(f"load_dataset() got unexpected option(s): {sorted(unknown)}")
    dataset = _build(frame, label_column, source=p.name, base_dir=p.resolve().parent,
                     origin=origin, **{**defaults, **options})
    if (dataset.image_column and not dataset.feature_columns and dataset.text_column is None
            and dataset.embeddings is None and dataset.pred_probs is None):
        from dataclasses import replace

        paths = [dataset.image_path(r) for r in range(len(dataset))]
        skipped: list[tuple[int, str]] = []
        try:
            pixels = image_pixels(paths, source=p.name, skipped=skipped)
        except DataError:  # not images after all: analysis says what it needs
            return dataset
        notes = []
        if skipped:
            # the row stays (it is the user's row, written back by the export); with no
            # pixels to learn from it gets the mean of the readable images: no class's look
            gone = [i for i, _ in skipped]
            keep = np.setdiff1d(np.arange(len(paths)), gone)
            if keep.size == 0:
                raise DataError(f"{p.name}: every image of column '{dataset.image_column}' is "
                                "too large to decode.")
            pixels[gone] = pixels[keep].mean(axis=0)
            notes = [f"{p.name}: {m} Its row is kept with the mean of the other images' "
                     "pixels." for _, m in skipped]
        dataset = replace(dataset, embeddings=pixels, embeddings_from="pixels", notes=notes)
    return dataset


def from_arrays(
    X, labels, *, class_names: Sequence | None = None, pred_probs=None, embeddings=None,
    ids=None, min_class_size: int = 2,
) -> Dataset:
    """Build a :class:`Dataset` from a feature matrix and labels.

    Parameters
    ----------
    X : array-like of shape (N, D)
    labels : array-like of shape (N,)
        Class names or integers.
    """
    X = np.asarray(X)
    labels = np.asarray(labels)
    if X.ndim != 2:
        raise DataError(f"arrays: X must be 2-D (rows x features), got shape {X.shape}.")
    if labels.ndim != 1 or len(labels) != len(X):
        raise DataError(f"arrays: labels must be 1-D with one value per row of X "
                        f"({len(X)}); got shape {labels.shape}.")
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
    frame.insert(0, "label", labels)
    if ids is not None:
        frame.insert(0, "id", np.asarray(ids))
    return from_frame(
        frame, "label", id_column="id" if ids is not None else None,
        feature_columns=list(frame.columns[-X.shape[1]:]), class_names=class_names,
        pred_probs=pred_probs, embeddings=embeddings, annotator_columns=[],
        true_label_column=None if "true_label" not in frame else "true_label",
        min_class_size=min_class_size, source="arrays",
    )


def from_sample(name: str) -> Dataset:
    """A bundled sample (see :mod:`analysis.data.samples`) as a :class:`Dataset`."""
    from analysis.data import samples

    s = samples.load(name)
    return from_frame(
        s.frame,
        s.label_column,
        id_column=s.id_column,
        feature_columns=s.feature_columns,
        image_shape=s.image_shape,
        annotator_columns=s.annotator_columns,
        true_label_column=s.true_label_column,
        source=f"sample '{name}'",
        text_column=None,
    )


# --------------------------------------------------------------------------- class order

#: Another column order must beat the assumed one by at least this much agreement (argmax of
#: ``pred_probs`` = given label) before :attr:`ClassOrder.suspicious` is set.
CLASS_ORDER_MARGIN = 0.10


@dataclass(frozen=True)
class ClassOrder:
    """How the probability columns fit the classes (see :func:`check_class_order`).

    Attributes
    ----------
    assumed : float
        Share of rows whose most probable column is their given label, columns taken in
        the dataset's class order.
    best : float
        The same share under the best one-to-one matching of columns to classes.
    mapping : ndarray of shape (K,), int64
        ``mapping[c]`` is the column that best matches class ``c``.
    class_names : list of str
    """

    assumed: float
    best: float
    mapping: np.ndarray
    class_names: list[str]

    @property
    def suspicious(self) -> bool:
        """Another order fits clearly better (by :data:`CLASS_ORDER_MARGIN` or more)."""
        return self.best - self.assumed >= CLASS_ORDER_MARGIN

    def message(self, source: str = "pred_probs") -> str:
        """A plain-language warning naming both agreements and a few moved classes, and the
        order assumed: the class names sorted (the default), or as given (``--class-names``,
        ``classes=``) when they are not in sorted order."""
        moved = [c for c in range(len(self.mapping)) if self.mapping[c] != c]
        shown = ", ".join(f"{self.class_names[c]!r} fits column {int(self.mapping[c])}"
                          for c in moved[:3])
        # names not in the default (sorted) order can only have been given in that order
        given = list(self.class_names) != _sorted_names(list(self.class_names))
        order = "class names in the order given" if given else "class names sorted"
        advice = ("Check that the class names given (--class-names FILE, or classes= in "
                  "Python) are in the model's column order; the analysis below assumes the "
                  "order given." if given else
                  "If the model used another order, give the class names in the model's "
                  "column order (--class-names FILE, or classes= in Python); the analysis "
                  "below assumes the sorted order.")
        return (
            f"{source}: the probability columns may not be in the order of the classes. In "
            f"the assumed order ({order}: {', '.join(map(repr, self.class_names[:3]))}"
            f"{', …' if len(self.class_names) > 3 else ''}) the most probable column equals "
            f"the given label for {self.assumed:.1%} of the rows; matched column by column "
            f"it would be {self.best:.1%} ({shown}{', …' if len(moved) > 3 else ''}). "
            + advice
        )


def check_class_order(labels, pred_probs, class_names: Sequence[str]) -> ClassOrder:
    """Compare the argmax of ``pred_probs`` with the labels under the assumed column order and
    under the best-matching permutation of the columns.

    The best permutation maximises the number of rows whose most probable column is mapped
    to their given label (an assignment problem on the K x K table of label vs argmax
    counts, solved exactly with :func:`scipy.optimize.linear_sum_assignment`).

    Parameters
    ----------
    labels : ndarray of shape (N,), int
    pred_probs : ndarray of shape (N, K)
    class_names : sequence of str

    Returns
    -------
    ClassOrder
    """
    from scipy.optimize import linear_sum_assignment

    labels = np.asarray(labels, dtype=np.int64)
    k = pred_probs.shape[1]
    top = np.asarray(pred_probs).argmax(axis=1)
    table = np.bincount(labels * k + top, minlength=k * k).reshape(k, k)
    rows, cols = linear_sum_assignment(table, maximize=True)
    mapping = np.empty(k, dtype=np.int64)
    mapping[rows] = cols
    n = max(len(labels), 1)
    assumed = float(np.trace(table)) / n
    best = float(table[rows, cols].sum()) / n
    if best <= assumed:  # ties: the assumed order is a best one
        mapping, best = np.arange(k, dtype=np.int64), assumed
    return ClassOrder(assumed, best, mapping, [str(c) for c in class_names])


def read_class_names(path: str | Path) -> list[str]:
    """Class names from a text file, one per line in the model's column order (empty lines
    and surrounding spaces ignored; a ``.json`` file may hold a list)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(f"{p.name}: cannot read the class names ({err}).") from None
    if p.suffix.lower() == ".json":
        import json

        try:
            names = json.loads(text)
        except ValueError as err:
            raise DataError(f"{p.name}: not valid JSON ({err}).") from None
        if not isinstance(names, list) or not all(isinstance(n, (str, int)) for n in names):
            raise DataError(f"{p.name}: expected a JSON list of class names.")
        return [str(n) for n in names]
    names = [line.strip() for line in text.splitlines() if line.strip()]
    if not names:
        raise DataError(f"{p.name}: no class names (one per line, in column order).")
    return names


# --------------------------------------------------------------------------- image folders

#: Images of a folder dataset are reduced to this many pixels a side (RGB) to learn from.
FOLDER_PIXELS = 16


def image_pixels(paths: Sequence[Path], size: int = FOLDER_PIXELS, *,
                 source: str = "images", progress=None,
                 skipped: list[tuple[int, str]] | None = None) -> np.ndarray:
    """Each image as ``size`` x ``size`` RGB pixels in [0, 1], one row per image:
    (N, 3 * size * size) float32. An unreadable file raises :class:`DataError` naming it.

    An image whose declared size passes Pillow's decompression-bomb limit
    (``PIL.Image.MAX_IMAGE_PIXELS``, 89 M pixels; a 30000 x 30000 PNG is a few KB on disk
    and 2.7 GB decoded) is never decoded: with a ``skipped`` list its row and a message are
    appended there and its pixels are left at 0 (the caller decides what the row becomes);
    without one it raises :class:`DataError` naming the file."""
    from PIL import Image, UnidentifiedImageError

    out = np.empty((len(paths), 3 * size * size), dtype=np.float32)
    for i, path in enumerate(paths):
        try:
            with Image.open(path) as im:
                small = im.convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
        except Image.DecompressionBombError as err:
            # row as describe_rows counts (from 0: the row id of a file without an id column)
            message = f"image {path} (row {i}) is too large to decode: {err}"
            if skipped is None:
                raise DataError(f"{source}: {message}") from None
            skipped.append((i, f"{message} It was skipped."))
            out[i] = 0.0
            continue
        except (OSError, UnidentifiedImageError, ValueError) as err:
            raise DataError(f"{source}: cannot read image {path} (row {i}): {err}") from None
        out[i] = np.asarray(small, dtype=np.float32).reshape(-1) / 255.0
        if progress is not None and i % 500 == 0:
            progress(i / max(len(paths), 1), f"reading images {i:,} / {len(paths):,}")
    return out


def load_image_folder(path: str | Path, *, class_names: Sequence | None = None,
                      pred_probs=None, embeddings=None, min_class_size: int = 2,
                      pixels: int = FOLDER_PIXELS) -> Dataset:
    """A folder with one sub-folder per class, images inside, as a :class:`Dataset`.

    The label is the sub-folder's name, the id the image's path relative to ``path`` (with
    ``/``), rows in sorted path order. Without ``pred_probs`` or ``embeddings`` the images,
    reduced to ``pixels`` x ``pixels`` RGB, are the embeddings the model learns from and the
    map is drawn in.

    Raises
    ------
    DataError
        No class sub-folder, an image outside the sub-folders, an unreadable image.
    """
    root = Path(path)
    name = root.name or str(root)
    if not root.is_dir():
        raise DataError(f"{name}: not a folder ({root}).")
    files = sorted(p for p in root.rglob("*")
                   if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
                   and not any(part.startswith(".") for part in p.relative_to(root).parts))
    loose = [p for p in files if len(p.relative_to(root).parts) < 2]
    if loose:
        raise DataError(f"{name}: images must sit in one sub-folder per class; "
                        f"{len(loose)} image(s) lie directly in the folder (first: "
                        f"{loose[0].name}).")
    if not files:
        raise DataError(f"{name}: no images ({', '.join(IMAGE_SUFFIXES)}) in sub-folders of "
                        f"{root}; expected one sub-folder per class.")
    from_pixels = pred_probs is None and embeddings is None
    notes: list[str] = []
    if from_pixels:
        skipped: list[tuple[int, str]] = []
        embeddings = image_pixels(files, pixels, source=name, skipped=skipped)
        if skipped:  # a decompression bomb is left out of the data set; the rest goes on
            gone = {i for i, _ in skipped}
            notes = [f"{name}: {m.replace(f' (row {i})', '')} It is not part of the "
                     "data set." for i, m in skipped]
            files = [p for i, p in enumerate(files) if i not in gone]
            embeddings = np.delete(embeddings, sorted(gone), axis=0)
            if not files:
                raise DataError(f"{name}: every image is too large to decode: "
                                + " ".join(notes))
    rel = [p.relative_to(root).as_posix() for p in files]
    frame = pd.DataFrame({
        "id": rel,
        "label": [p.relative_to(root).parts[0] for p in files],
        "image": rel,
    })
    dataset = from_frame(frame, "label", id_column="id", image_column="image",
                      feature_columns=[], text_column=None, annotator_columns=[],
                      class_names=class_names, pred_probs=pred_probs, embeddings=embeddings,
                      min_class_size=min_class_size, source=name, base_dir=root.resolve())
    if from_pixels:
        from dataclasses import replace

        dataset = replace(dataset, embeddings_from="pixels", notes=notes)
    return dataset
