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

The jobs live in modules of this package; every name stays importable from here:
:mod:`~analysis.data._files` (reading files), :mod:`~analysis.data._roles` (schema inference),
:mod:`~analysis.data._cells` (cells kept as text, numbers from text),
:mod:`~analysis.data._arrays` (arrays from files), :mod:`~analysis.data._images` (images),
:mod:`~analysis.data.class_order` (class order), :mod:`~analysis.data._basics` (names, limits,
errors). This module holds the :class:`Dataset` and the functions that build one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.core.cache import fingerprint as content_hash
from analysis.data import samples
from analysis.data._basics import (
    DELIMITERS,
    ID_NAMES,
    IMAGE_SUFFIXES,
    LABEL_NAMES,
    MAX_CATEGORIES,
    MAX_FILE_BYTES,
    NA_TEXTS,
    PROB_PREFIXES,
    TRUE_LABEL_NAMES,
    WRONG_CLASS_UNKNOWN,
    WRONG_UNKNOWN_TOKENS,
    DataError,
    Origin,
    _fail,
    _find,
)
from analysis.data._cells import _is_nested
from analysis.data._files import (  # noqa: F401 (the two private names: tests import them here)
    _decoded_bytes,
    _header_columns,
    _read_source,
    read_columns,
    read_source,
    read_table,
)
from analysis.data._images import FOLDER_PIXELS, image_pixels
from analysis.data._roles import (
    _check_column_names,
    _content_roles,
    _embeddings_of,
    _id_role,
    _label_role,
    _labels_of,
    _probabilities_role,
    _Roles,
    _Table,
    _true_label_role,
)
from analysis.data.class_order import (
    CLASS_ORDER_MARGIN,
    ClassOrder,
    check_class_order,
    read_class_names,
)

__all__ = [
    "CLASS_ORDER_MARGIN",
    "ClassOrder",
    "DELIMITERS",
    "DataError",
    "Dataset",
    "FOLDER_PIXELS",
    "ID_NAMES",
    "IMAGE_SUFFIXES",
    "LABEL_NAMES",
    "MAX_CATEGORIES",
    "MAX_FILE_BYTES",
    "NA_TEXTS",
    "Origin",
    "PROB_PREFIXES",
    "TRUE_LABEL_NAMES",
    "WRONG_CLASS_UNKNOWN",
    "WRONG_UNKNOWN_TOKENS",
    "check_class_order",
    "from_arrays",
    "from_frame",
    "from_sample",
    "image_pixels",
    "load_dataset",
    "load_image_folder",
    "read_class_names",
    "read_columns",
    "read_source",
    "read_table",
]


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
        dataset = replace(dataset, embeddings_from="pixels", notes=notes)
    return dataset
