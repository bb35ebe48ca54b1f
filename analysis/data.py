"""Datasets: loading, schema inference, validation and a content fingerprint.

A :class:`Dataset` holds the user's rows unchanged and in their order, the given labels
encoded once as integers 0..K-1 (class names kept), a stable id per row, and whichever content
it has: numeric feature columns, a text column, an image column (paths) or pixel columns, and
optionally out-of-fold ``pred_probs``, embeddings, annotator columns and audited true labels.
Every bad input raises :class:`DataError` naming the file, the column and the first rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from analysis._validation import check_inputs, describe_rows
from analysis.cache import fingerprint as content_hash

LABEL_NAMES = ("label", "labels", "given_label", "target", "class", "y")
ID_NAMES = ("id", "row_id", "uid", "example_id")
TRUE_LABEL_NAMES = ("true_label", "true_labels", "clean_label", "audited_label")
PROB_PREFIXES = ("pred_prob_", "prob_", "p_")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
#: Files larger than this are refused (the dashboard keeps everything in memory).
MAX_FILE_BYTES = 2 * 1024**3


class DataError(ValueError):
    """A problem with the user's data; the message names file, column and rows."""


@dataclass(frozen=True)
class Dataset:
    """A labelled dataset ready for analysis.

    Attributes
    ----------
    frame : DataFrame
        The rows as loaded, every column, original order.
    source : str
        File name (or "DataFrame" / "arrays") used in messages.
    label_column : str
    labels : ndarray of shape (N,), int64
        Given labels encoded 0..K-1.
    class_names : list of str
        ``class_names[i]`` is the original value of class i.
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

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def features(self) -> pd.DataFrame:
        """The feature columns (a view of ``frame``)."""
        return self.frame[self.feature_columns]

    @cached_property
    def fingerprint(self) -> str:
        """Hash of the content that matters to the analysis: keys every cache."""
        parts = [self.labels, list(self.class_names), np.asarray(self.ids).astype(str)]
        if self.feature_columns:
            parts.append(self.frame[self.feature_columns])
        for col in (self.text_column, self.image_column):
            if col:
                parts.append(self.frame[col].astype(str))
        for arr in (self.pred_probs, self.embeddings):
            parts.append(arr if arr is not None else "none")
        return content_hash(*parts)

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


def _encode_labels(
    values: pd.Series, source: str, column: str, class_names: Sequence | None
) -> tuple[np.ndarray, list[str]]:
    missing = values.isna().to_numpy()
    if values.dtype == object or pd.api.types.is_string_dtype(values):
        missing = missing | values.astype(str).str.strip().eq("").to_numpy()
    if missing.any():
        raise _fail(
            source,
            f"column '{column}' has empty or missing labels in "
            f"{describe_rows(np.flatnonzero(missing))}; "
            "fill them in or drop those rows before analysis.",
        )
    if class_names is None:
        uniques = pd.unique(values)
        try:
            uniques = sorted(uniques)
        except TypeError:
            uniques = sorted(uniques, key=str)
        names = list(uniques)
    else:
        names = list(class_names)
        unknown = ~values.isin(names).to_numpy()
        if unknown.any():
            first = np.flatnonzero(unknown)
            raise _fail(
                source,
                f"column '{column}' holds labels that are not among the given class names "
                f"({values.iloc[first[0]]!r} in {describe_rows(first)}).",
            )
    codes = pd.Categorical(values, categories=names).codes.astype(np.int64)
    return codes, [str(n) for n in names]


def _is_text(values: pd.Series) -> bool:
    return values.dtype == object or pd.api.types.is_string_dtype(values)


def _as_text(values: pd.Series) -> pd.Series:
    """Values as the strings class names are stored as (3.0 -> "3" for integral floats)."""
    if pd.api.types.is_float_dtype(values):
        whole = values.dropna()
        if (whole == whole.round()).all():
            return values.astype("Int64").astype(str)
    return values.astype(str)


def _check_ids(ids: pd.Series, source: str, column: str) -> None:
    if ids.isna().any():
        raise _fail(source, f"id column '{column}' is empty in "
                            f"{describe_rows(np.flatnonzero(ids.isna().to_numpy()))}.")
    dup = ids.duplicated(keep=False).to_numpy()
    if dup.any():
        rows = np.flatnonzero(dup)
        raise _fail(
            source,
            f"id column '{column}' must be unique; {describe_rows(rows)} share ids "
            f"(e.g. {ids.iloc[rows[0]]!r}).",
        )


def _load_npy(path, source: str, what: str, n: int) -> np.ndarray:
    if isinstance(path, np.ndarray):
        arr = path
        name = what
    else:
        p = Path(path)
        name = p.name
        if p.suffix.lower() in (".pkl", ".pickle", ".joblib"):
            raise _fail(name, f"{what} must be a .npy or .csv file; pickle files are never opened.")
        if not p.exists():
            raise _fail(name, f"{what} file not found ({p}).")
        if p.suffix.lower() == ".csv":
            arr = pd.read_csv(p).to_numpy()
        else:
            try:
                arr = np.load(p, allow_pickle=False)
            except ValueError as err:
                raise _fail(name, f"{what} holds Python objects (a pickle); save it as a "
                                  f"numeric array with numpy.save. ({err})") from None
    if arr.ndim != 2 or arr.shape[0] != n:
        raise _fail(name, f"{what} must have shape ({n}, ...): one row per data row; got "
                          f"{arr.shape}.")
    if arr.dtype.kind not in "fiu":
        raise _fail(name, f"{what} must be numeric, got dtype {arr.dtype}.")
    return arr


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
        probability, annotator or true-label column, plus string columns with at most 20
        distinct values (categorical).
    text_column, image_column : str, optional
        Default: a string column of long texts / of image file names.
    image_shape : (height, width), optional
        The feature columns are pixels of images of this shape.
    pred_probs : array-like of shape (N, K) or path to ``.npy``, optional
        Out-of-fold predicted probabilities, columns in class order.
    pred_prob_columns : sequence of str, optional
        Columns of ``frame`` holding the probabilities, one per class in class order. Default:
        ``pred_prob_<class>`` / ``prob_<class>`` / ``p_<class>`` for every class, if present.
    embeddings : array-like of shape (N, D) or path to ``.npy``, optional
    annotator_columns : sequence of str, optional
        Default: columns whose name starts with ``annotator``.
    true_label_column : str, optional
        Known true labels (audited subset: empty where unknown). Default: ``true_label``.
    class_names : sequence, optional
        All classes in order; default: the sorted distinct given labels.
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
    if not isinstance(frame, pd.DataFrame):
        raise _fail(source, f"expected a pandas DataFrame, got {type(frame).__name__}.")
    if len(frame) == 0:
        raise _fail(source, "the file has no rows.")
    frame = frame.reset_index(drop=True)
    columns = [str(c) for c in frame.columns]
    frame.columns = columns
    dup_cols = pd.Index(columns)[pd.Index(columns).duplicated()].tolist()
    if dup_cols:
        raise _fail(source, f"column names must be unique; repeated: {dup_cols}.")

    def need(col, what):
        if col is not None and col not in columns:
            raise _fail(source, f"{what} column '{col}' not found; columns are {columns}.")
        return col

    label_column = need(label_column, "label") or _find(columns, LABEL_NAMES)
    if label_column is None:
        raise _fail(source, "no label column: name it with label_column= (or --label-col); "
                            f"columns are {columns}.")
    labels, names = _encode_labels(frame[label_column], source, label_column, class_names)
    k = len(names)
    if k < 2:
        raise _fail(source, f"column '{label_column}' holds a single class ({names[0]!r}): "
                            "label noise needs at least 2 classes.")
    counts = np.bincount(labels, minlength=k)
    small = [i for i in range(k) if 0 < counts[i] < min_class_size]
    if small:
        rows = np.flatnonzero(np.isin(labels, small))
        raise _fail(
            source,
            f"class {names[small[0]]!r} of column '{label_column}' has only {counts[small[0]]} "
            f"row(s) ({describe_rows(rows)}); a class needs at least {min_class_size} rows to "
            "estimate its noise. Fix or remove those rows, or pass min_class_size=1.",
        )

    id_column = need(id_column, "id")
    if id_column is None:
        id_column = _find(columns, ID_NAMES)
    if id_column is not None:
        _check_ids(frame[id_column], source, id_column)
        ids = frame[id_column].to_numpy()
    else:
        ids = np.arange(len(frame))

    true_label_column = need(true_label_column, "true label") or _find(columns, TRUE_LABEL_NAMES)
    true_labels = None
    if true_label_column is not None:
        tl = frame[true_label_column]
        known = tl.notna().to_numpy()
        as_text = _as_text(tl)
        index = {name: i for i, name in enumerate(names)}
        codes = as_text.map(index)
        unknown = known & codes.isna().to_numpy()
        if unknown.any():
            rows = np.flatnonzero(unknown)
            raise _fail(
                source,
                f"true-label column '{true_label_column}' holds classes not among the given "
                f"labels ({tl.iloc[rows[0]]!r} in {describe_rows(rows)}).",
            )
        true_labels = np.full(len(frame), -1, dtype=np.int64)
        true_labels[known] = codes[known].astype(np.int64).to_numpy()

    if annotator_columns is None:
        annotator_columns = [c for c in columns if c.lower().startswith("annotator")]
    for col in annotator_columns:
        need(col, "annotator")

    if pred_prob_columns is None:
        for prefix in PROB_PREFIXES:
            cand = [f"{prefix}{n}" for n in names]
            if all(c in columns for c in cand):
                pred_prob_columns = cand
                break
    if pred_prob_columns is not None:
        if pred_probs is not None:
            raise _fail(source, "give pred_probs either as columns or as a file, not both.")
        for col in pred_prob_columns:
            need(col, "pred_probs")
        if len(pred_prob_columns) != k:
            raise _fail(source, f"{len(pred_prob_columns)} pred_probs columns for {k} classes.")
        pred_probs = frame[list(pred_prob_columns)].to_numpy(dtype=np.float64)
    if pred_probs is not None:
        arr = _load_npy(pred_probs, source, "pred_probs", len(frame))
        if arr.shape[1] != k:
            raise _fail(source, f"pred_probs has {arr.shape[1]} columns but column "
                                f"'{label_column}' has {k} classes {names}: one column per class.")
        try:
            _, pred_probs = check_inputs(labels, arr, require_two_classes=False)
        except ValueError as err:
            raise _fail(source, str(err)) from None
    if embeddings is not None:
        embeddings = _load_npy(embeddings, source, "embeddings", len(frame))
        if not np.isfinite(embeddings).all():
            rows = np.flatnonzero(~np.isfinite(embeddings).all(axis=1))
            raise _fail(source, f"embeddings contain NaN or infinity in {describe_rows(rows)}.")

    reserved = {label_column, id_column, true_label_column, *annotator_columns,
                *(pred_prob_columns or [])}
    base = Path(base_dir) if base_dir is not None else None
    if image_column is None and base is not None:
        image_column = next((c for c in columns if c not in reserved
                             and _is_text(frame[c]) and _is_image_column(frame[c])), None)
    need(image_column, "image")
    if image_column is not None:
        if base is None:
            raise _fail(source, "an image column needs the data file's folder (base_dir).")
        _check_images(frame, image_column, base, source)
        reserved.add(image_column)
    if text_column is None:
        text_column = next(
            (c for c in columns if c not in reserved and _is_text(frame[c])
             and frame[c].astype(str).str.len().mean() > 30),
            None,
        )
    need(text_column, "text")
    if text_column is not None:
        reserved.add(text_column)
    if feature_columns is None:
        feature_columns = []
        for c in columns:
            if c in reserved:
                continue
            s = frame[c]
            if pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
                feature_columns.append(c)
            elif s.nunique(dropna=True) <= 20:
                feature_columns.append(c)
    else:
        for c in feature_columns:
            need(c, "feature")
    feature_columns = list(feature_columns)
    if image_shape is not None and int(np.prod(image_shape)) != len(feature_columns):
        raise _fail(source, f"image_shape {tuple(image_shape)} needs {int(np.prod(image_shape))} "
                            f"pixel columns, found {len(feature_columns)} feature columns.")
    return Dataset(
        frame=frame,
        source=source,
        label_column=label_column,
        labels=labels,
        class_names=names,
        ids=ids,
        id_column=id_column,
        feature_columns=feature_columns,
        text_column=text_column,
        image_column=image_column,
        image_shape=tuple(image_shape) if image_shape is not None else None,
        pred_probs=pred_probs,
        embeddings=embeddings,
        annotator_columns=list(annotator_columns),
        true_labels=true_labels,
        base_dir=base,
    )


def read_table(path: str | Path, *, max_bytes: int = MAX_FILE_BYTES) -> pd.DataFrame:
    """Read a CSV / TSV / Parquet file with clear errors (no pickle, size limit, UTF-8)."""
    p = Path(path)
    name = p.name
    if not p.exists():
        raise DataError(f"{name}: file not found ({p}).")
    size = p.stat().st_size
    if size > max_bytes:
        raise DataError(f"{name}: {size / 2**20:.0f} MiB is larger than the limit of "
                        f"{max_bytes / 2**20:.0f} MiB.")
    suffix = p.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(p)
        if suffix in (".csv", ".tsv", ".txt"):
            return pd.read_csv(p, sep="\t" if suffix == ".tsv" else ",", encoding="utf-8")
    except UnicodeDecodeError as err:
        line = p.read_bytes()[: err.start].count(b"\n") + 1
        raise DataError(f"{name}: not UTF-8 text (byte {err.start}, line {line}); save the file "
                        "as UTF-8.") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, OSError, ValueError) as err:
        raise DataError(f"{name}: cannot be read as {suffix[1:].upper()}: {err}") from None
    raise DataError(f"{name}: unsupported file type '{suffix}'; use CSV, TSV or Parquet "
                    "(pickle files are never opened).")


def load_dataset(path: str | Path, label_column: str | None = None, **options) -> Dataset:
    """Load a CSV / TSV / Parquet file as a :class:`Dataset`.

    ``options`` are those of :func:`from_frame`; image paths are resolved relative to the
    file's folder, and ``pred_probs`` / ``embeddings`` may be paths to ``.npy`` files (opened
    with ``allow_pickle=False``).
    """
    p = Path(path)
    frame = read_table(p)
    return from_frame(frame, label_column, source=p.name, base_dir=p.resolve().parent, **options)


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
    """A bundled sample (see :mod:`analysis.samples`) as a :class:`Dataset`."""
    from analysis import samples

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
