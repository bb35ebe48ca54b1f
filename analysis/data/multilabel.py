"""Multi-label tags from a table, and back (#28).

Two forms are read, and written back in the form they came in:

* **delimited**: one label column whose cells are class names joined by a separator (``|``
  by default, any non-empty text): ``person|dog``. Spaces around each name are dropped;
  an empty (or blank) cell is a valid row with no tags; a name given twice in one cell counts
  once (and is noted);
* **0/1 columns**: one column per class (a list of columns, or every column sharing a
  prefix, the class name being the rest), each cell 0 or 1 (``0.0`` / ``1.0`` and booleans
  too).

Per-class probabilities come from ``pred_prob_<class>`` columns: each class's own probability
in [0, 1] (rows need not sum to 1). Bad input raises :class:`~analysis.data.dataset.DataError`
naming the source, the column and the rows. A row with every tag is valid, and noted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis.core._validation import describe_rows
from analysis.data import samples
from analysis.data.dataset import NA_TEXTS, DataError

#: The default separator of a delimited label cell (the most common in tag exports).
DEFAULT_SEPARATOR = "|"
#: Prefix of a class's probability column.
PROB_PREFIX = "pred_prob_"
#: Cells of a 0/1 column read as 0 and as 1 (after stripping spaces, case ignored).
_ZERO_TEXTS = ("0", "0.0", "false")
_ONE_TEXTS = ("1", "1.0", "true")
#: Values this far outside [0, 1] are rounding, clipped (as the multi-class probabilities).
_PROB_TOLERANCE = 1e-3
#: The bundled samples' id, given-label and true-label columns.
_ID, _LABEL, _TRUE = samples.ID_COLUMN, samples.LABEL_COLUMN, samples.TRUE_LABEL_COLUMN


@dataclass(frozen=True)
class MultilabelTags:
    """Tags read from a table.

    Attributes
    ----------
    labels : ndarray of shape (N, K), uint8
        1 where the row has the class's tag.
    class_names : list of str
        The K classes, in column order of ``labels``.
    form : {"delimited", "columns"}
        How the tags were written: one delimited cell, or one 0/1 column per class.
    column : str or None
        The delimited label column.
    separator : str or None
        The delimited cell's separator.
    columns : list of str or None
        The 0/1 columns, one per class (in ``class_names`` order).
    notes : list of str
        Facts worth saying that are not errors (rows with every tag, repeated tags, ...).
    """

    labels: np.ndarray
    class_names: list[str]
    form: str
    column: str | None = None
    separator: str | None = None
    columns: list[str] | None = None
    notes: list[str] = field(default_factory=list)


def _fail(source: str, message: str) -> DataError:
    return DataError(f"{source}: {message}")


def _cells(values: pd.Series) -> list[str]:
    """The cells as text, a missing value as ``""``."""
    return ["" if v is None or (np.ndim(v) == 0 and pd.isna(v)) else str(v)
            for v in values.tolist()]


def _split(cells: list[str], separator: str, source: str, column: str):
    """Per row the stripped tag names; rows with a repeated tag."""
    rows, repeated, empty_piece = [], [], []
    for i, cell in enumerate(cells):
        if not cell.strip():
            rows.append([])
            continue
        names = [name.strip() for name in cell.split(separator)]
        if any(not name for name in names):
            empty_piece.append(i)
        unique = list(dict.fromkeys(names))
        if len(unique) < len(names):
            repeated.append(i)
        rows.append(unique)
    if empty_piece:
        first = empty_piece[0]
        raise _fail(source, f"column '{column}' has an empty tag (two separators "
                            f"{separator!r} in a row, or one at an end) in "
                            f"{describe_rows(np.array(empty_piece))} ({cells[first]!r}).")
    return rows, repeated


def _check_names(class_names: Sequence[str], separator: str, source: str) -> list[str]:
    names = [str(c) for c in class_names]
    with_sep = [c for c in names if separator in c]
    if with_sep:
        raise _fail(source, f"class name {with_sep[0]!r} contains the tag separator "
                            f"{separator!r}: choose another separator (--label-sep) or rename "
                            "the class.")
    stripped = [c for c in names if c != c.strip() or not c]
    if stripped:
        raise _fail(source, f"class name {stripped[0]!r} is empty or starts or ends with a "
                            "space: tags are read with spaces around them dropped.")
    if len(set(names)) < len(names):
        twice = next(c for c in names if names.count(c) > 1)
        raise _fail(source, f"class name {twice!r} is given twice.")
    return names


def _notes(labels: np.ndarray, names: list[str], what: str) -> list[str]:
    notes = []
    n, k = labels.shape
    per_row = labels.sum(axis=1)
    every = np.flatnonzero(per_row == k)
    if every.size:
        notes.append(f"{describe_rows(every)} {'has' if every.size == 1 else 'have'} every one "
                     f"of the {k} tags (valid: each tag is checked on its own).")
    none = int((per_row == 0).sum())
    if none:
        notes.append(f"{none} of {n} rows have no tag (valid in {what}).")
    counts = labels.sum(axis=0)
    for c in np.flatnonzero(counts == 0):
        notes.append(f"no row has tag {names[c]!r}: only missing '{names[c]}' tags can be found.")
    for c in np.flatnonzero(counts == n):
        notes.append(f"every row has tag {names[c]!r}: only extra '{names[c]}' tags can be found.")
    return notes


def parse_delimited(frame: pd.DataFrame, column: str, *, separator: str = DEFAULT_SEPARATOR,
                    class_names: Sequence[str] | None = None,
                    source: str = "data") -> MultilabelTags:
    """Tags from one label column of delimited class names.

    Parameters
    ----------
    frame : DataFrame
        The table (a CSV read as text, or typed Parquet: each cell is read as text).
    column : str
        The label column.
    separator : str, default="|"
        The text between two tags of a cell.
    class_names : sequence of str, optional
        The classes, in this order; every tag must be one of them. Without them, the classes
        are the tags seen, sorted.
    source : str
        Names the file in messages.

    Returns
    -------
    MultilabelTags

    Raises
    ------
    DataError
        A missing column, an empty separator, an empty tag between separators, a tag not in
        ``class_names``, a class name holding the separator, fewer than 2 classes.
    """
    if not separator:
        raise _fail(source, "the tag separator is empty: give one, e.g. '|'.")
    if column not in frame.columns:
        raise _fail(source, f"no label column '{column}' (columns: {list(frame.columns)}).")
    cells = _cells(frame[column])
    rows, repeated = _split(cells, separator, source, column)
    seen = sorted({name for row in rows for name in row})
    if class_names is None:
        names = seen
    else:
        names = _check_names(class_names, separator, source)
        unknown = [name for name in seen if name not in set(names)]
        if unknown:
            bad = np.array([i for i, row in enumerate(rows) if unknown[0] in row])
            raise _fail(source, f"column '{column}' has tag {unknown[0]!r}, which is not one of "
                                f"the class names {names}, in {describe_rows(bad)}"
                                + (f" ({len(unknown) - 1} more unknown tags)."
                                   if len(unknown) > 1 else "."))
    if len(names) < 2:
        raise _fail(source, f"column '{column}' has {len(names)} class(es) {names}: multi-label "
                            "needs at least 2 (one tag present or absent is a binary label).")
    index = {name: j for j, name in enumerate(names)}
    labels = np.zeros((len(rows), len(names)), dtype=np.uint8)
    for i, row in enumerate(rows):
        labels[i, [index[name] for name in row]] = 1
    notes = _notes(labels, names, "a delimited label column")
    if repeated:
        verb = "repeats" if len(repeated) == 1 else "repeat"
        notes.append(f"{describe_rows(np.array(repeated))} {verb} a tag in one cell: counted "
                     "once.")
    return MultilabelTags(labels=labels, class_names=names, form="delimited", column=column,
                          separator=separator, notes=notes)


def _zero_one(values: pd.Series, column: str, source: str) -> np.ndarray:
    """A 0/1 column as uint8; 2, text or an empty cell is an error naming the rows."""
    if values.dtype == bool:
        return values.to_numpy().astype(np.uint8)
    if pd.api.types.is_numeric_dtype(values):
        arr = values.to_numpy(dtype=np.float64, na_value=np.nan)
        bad = np.flatnonzero((arr != 0) & (arr != 1))
        if bad.size:
            raise _fail(source, f"0/1 column '{column}' holds {values.iloc[bad[0]].item()!r} in "
                                f"{describe_rows(bad)}: each cell must be 0 or 1.")
        return arr.astype(np.uint8)
    text = pd.Series(_cells(values)).str.strip().str.lower()
    one = text.isin(_ONE_TEXTS).to_numpy()
    bad = np.flatnonzero(~(one | text.isin(_ZERO_TEXTS).to_numpy()))
    if bad.size:
        cell = values.iloc[bad[0]]
        what = "is empty" if text.iloc[bad[0]] in ("", *map(str.lower, NA_TEXTS)) else \
            f"holds {cell!r}"
        raise _fail(source, f"0/1 column '{column}' {what} in {describe_rows(bad)}: each cell "
                            "must be 0 or 1.")
    return one.astype(np.uint8)


def parse_columns(frame: pd.DataFrame, columns: Sequence[str] | None = None, *,
                  prefix: str | None = None, source: str = "data") -> MultilabelTags:
    """Tags from one 0/1 column per class.

    Parameters
    ----------
    frame : DataFrame
        The table.
    columns : sequence of str, optional
        The 0/1 columns; the class names are the column names.
    prefix : str, optional
        Instead of ``columns``: every column whose name starts with ``prefix`` (not the
        ``pred_prob_`` columns); the class name is the rest of the column name.
    source : str
        Names the file in messages.

    Returns
    -------
    MultilabelTags

    Raises
    ------
    DataError
        Neither or both of ``columns`` and ``prefix``, a missing column, a cell that is not 0
        or 1, fewer than 2 classes.
    """
    if (columns is None) == (prefix is None):
        raise _fail(source, "give the 0/1 label columns either as a list or as a shared prefix.")
    if prefix is not None:
        columns = [str(c) for c in frame.columns if str(c).startswith(prefix)
                   and len(str(c)) > len(prefix) and not str(c).startswith(PROB_PREFIX)]
        names = [c[len(prefix):] for c in columns]
    else:
        columns = [str(c) for c in columns]
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise _fail(source, f"no 0/1 label column '{missing[0]}' "
                                f"(columns: {list(frame.columns)}).")
        names = list(columns)
    if len(columns) < 2:
        found = f"columns {columns}" if columns else "no column"
        raise _fail(source, f"{found} for the tags: multi-label needs at least 2 classes "
                            + (f"(prefix {prefix!r})." if prefix is not None else "."))
    if len(set(names)) < len(names):
        raise _fail(source, f"0/1 label columns name a class twice: {names}.")
    labels = np.column_stack([_zero_one(frame[c], c, source) for c in columns])
    return MultilabelTags(labels=labels, class_names=names, form="columns", columns=columns,
                          notes=_notes(labels, names, "0/1 label columns"))


def probability_columns(frame: pd.DataFrame, class_names: Sequence[str], *,
                        prefix: str = PROB_PREFIX, source: str = "data") -> list[str] | None:
    """The ``<prefix><class>`` column of every class, or None when there are none.

    Raises :class:`DataError` when some classes have one and others do not.
    """
    wanted = [f"{prefix}{name}" for name in class_names]
    present = [c for c in wanted if c in frame.columns]
    if not present:
        return None
    if len(present) < len(wanted):
        missing = [c for c in wanted if c not in frame.columns]
        raise _fail(source, f"probability columns for {len(present)} of {len(wanted)} classes: "
                            f"missing {missing[:5]}" + (" ..." if len(missing) > 5 else "")
                            + " (one per class, or none).")
    return wanted


def parse_probabilities(frame: pd.DataFrame, class_names: Sequence[str], *,
                        prefix: str = PROB_PREFIX,
                        source: str = "data") -> np.ndarray | None:
    """(N, K) per-class probabilities from the ``pred_prob_<class>`` columns, or None.

    Each cell must be a number in [0, 1] (within 1e-3, clipped); rows need not sum to 1.
    Raises :class:`DataError` naming the column and rows of a bad cell.
    """
    columns = probability_columns(frame, class_names, prefix=prefix, source=source)
    if columns is None:
        return None
    out = np.empty((len(frame), len(columns)), dtype=np.float64)
    for j, col in enumerate(columns):
        values = frame[col]
        if pd.api.types.is_numeric_dtype(values) and values.dtype != bool:
            arr = values.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            arr = pd.to_numeric(pd.Series(_cells(values)).str.strip(),
                                errors="coerce").to_numpy(dtype=np.float64)
        bad = np.flatnonzero(~np.isfinite(arr))
        if bad.size:
            raise _fail(source, f"probability column '{col}' is not a number in "
                                f"{describe_rows(bad)} ({values.iloc[bad[0]]!r}).")
        bad = np.flatnonzero((arr < -_PROB_TOLERANCE) | (arr > 1 + _PROB_TOLERANCE))
        if bad.size:
            raise _fail(source, f"probability column '{col}' is outside 0..1 in "
                                f"{describe_rows(bad)} ({values.iloc[bad[0]]!r}).")
        out[:, j] = np.clip(arr, 0.0, 1.0)
    return out


# --------------------------------------------------------------------------- writing back


def _joined(old_cell: str, old: np.ndarray, new: np.ndarray, names: list[str],
            separator: str) -> str:
    """The new cell: the kept tags in the cell's own order, then the added ones in class
    order, joined by the bare separator (spaces around the old separators are not kept)."""
    kept = [name.strip() for name in old_cell.split(separator) if name.strip()] \
        if old_cell.strip() else []
    kept = [name for name in dict.fromkeys(kept) if new[names.index(name)]]
    added = [names[j] for j in np.flatnonzero(new & ~old)]
    return separator.join(kept + added)


def _column_text(values: pd.Series, bit: int) -> object:
    """How the column writes ``bit``: the first cell holding it, as written; else 0 / 1 in
    the column's own type."""
    if values.dtype == bool:
        return bool(bit)
    if pd.api.types.is_numeric_dtype(values):
        return values.dtype.type(bit)
    wanted = _ONE_TEXTS if bit else _ZERO_TEXTS
    for cell in _cells(values):
        if cell.strip().lower() in wanted:
            return cell
    return str(bit)


def write_tags(frame: pd.DataFrame, tags: MultilabelTags, new_labels) -> pd.DataFrame:
    """A copy of ``frame`` with the tags of the changed rows rewritten in the input's form.

    Rows whose tags did not change keep every cell as it was. A delimited cell keeps its
    remaining tags in their order, added tags follow in class order, an empty set is an empty
    cell; a 0/1 cell is written as that column already writes 0 and 1.
    """
    new = np.asarray(new_labels, dtype=np.uint8)
    if new.shape != tags.labels.shape:
        raise ValueError(f"new tags have shape {new.shape}, the dataset {tags.labels.shape}.")
    out = frame.copy()
    rows = np.flatnonzero((new != tags.labels).any(axis=1))
    if tags.form == "delimited":
        col = out.columns.get_loc(tags.column)
        cells = _cells(frame[tags.column])
        for i in rows:
            out.iat[i, col] = _joined(cells[i], tags.labels[i].astype(bool),
                                      new[i].astype(bool), tags.class_names, tags.separator)
        return out
    for j, column in enumerate(tags.columns):
        changed = rows[new[rows, j] != tags.labels[rows, j]]
        if changed.size:
            col = out.columns.get_loc(column)
            for bit in (0, 1):
                these = changed[new[changed, j] == bit]
                if these.size:
                    value = _column_text(frame[column], bit)
                    for i in these:
                        out.iat[i, col] = value
    return out


def tag_changes(old_labels, new_labels, class_names: Sequence[str]) -> list[dict]:
    """Per changed row: ``{"row", "added", "removed"}`` (class names, in class order)."""
    old = np.asarray(old_labels, dtype=bool)
    new = np.asarray(new_labels, dtype=bool)
    names = list(class_names)
    return [{"row": int(i), "added": [names[j] for j in np.flatnonzero(new[i] & ~old[i])],
             "removed": [names[j] for j in np.flatnonzero(old[i] & ~new[i])]}
            for i in np.flatnonzero((old != new).any(axis=1))]


# --------------------------------------------------------------------------- multi-label (#28)


@dataclass(frozen=True, eq=False)
class MultilabelSample:
    """A bundled multi-label sample: tags per row in a delimited cell, with their truth.

    Attributes
    ----------
    name, frame, card, id_column, feature_columns, image_shape
        As in :class:`analysis.data.samples.Sample`.
    label_column, true_label_column : str
        The given tags and the tags before noise, class names joined by ``separator`` (an
        empty cell: no tag).
    separator : str
        The tag separator.
    class_names : list of str
        The tags, in the order of the matrices' columns.
    labels, true_labels : ndarray of shape (N, K), uint8
        The given and the true tags as 0/1 matrices.
    """

    name: str
    frame: pd.DataFrame
    label_column: str
    true_label_column: str
    separator: str
    class_names: list[str]
    labels: np.ndarray
    true_labels: np.ndarray
    feature_columns: list[str]
    image_shape: tuple[int, int] | None
    card: str
    id_column: str = _ID


@dataclass(frozen=True)
class _MultilabelSpec:
    rows: int
    class_names: tuple[str, ...]
    separator: str
    num_features: int
    image_shape: tuple[int, int] | None = None


_MULTILABEL_SPECS: dict[str, _MultilabelSpec] = {
    "digits_tags": _MultilabelSpec(1797, ("even", "prime", "loop", "large"), "|", 64,
                                   image_shape=(8, 8)),
}


def multilabel_sample_names() -> list[str]:
    """Names of the bundled multi-label samples (not among
    :func:`analysis.data.samples.names`: their label cells hold several tags, which only the
    multi-label analysis reads)."""
    return list(_MULTILABEL_SPECS)


def load_multilabel_sample(name: str) -> MultilabelSample:
    """Load a bundled multi-label sample (no network, no regeneration).

    Raises ``ValueError`` for an unknown name (listing the valid ones), a missing file, or a
    file whose columns, rows or tags are not the sample's.
    """
    if name not in _MULTILABEL_SPECS:
        raise ValueError(f"unknown multi-label sample {name!r}; valid names: "
                         f"{', '.join(_MULTILABEL_SPECS)}.")
    spec = _MULTILABEL_SPECS[name]
    csv_path, card_path = samples.SAMPLES_DIR / f"{name}.csv", samples.SAMPLES_DIR / f"{name}.md"
    for path in (csv_path, card_path):
        if not path.is_file():
            raise ValueError(f"sample file {path} is missing; in a source checkout regenerate "
                             "the samples with `python sample_datasets/build_samples.py`, else "
                             "reinstall noiselens.")
    frame = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
    features = [c for c in frame.columns if c not in (_ID, _LABEL, _TRUE)]
    if frame.shape[0] != spec.rows or len(features) != spec.num_features:
        raise ValueError(f"{csv_path}: expected {spec.rows} rows and {spec.num_features} "
                         f"feature columns, found {frame.shape[0]} and {len(features)}.")
    names = list(spec.class_names)
    given = parse_delimited(frame, _LABEL, separator=spec.separator, class_names=names,
                            source=str(csv_path))
    truth = parse_delimited(frame, _TRUE, separator=spec.separator,
                            class_names=names, source=str(csv_path))
    frame = frame.astype({_ID: "int64", **{c: "int64" for c in features}})
    return MultilabelSample(
        name=name, frame=frame, label_column=_LABEL, true_label_column=_TRUE,
        separator=spec.separator, class_names=names, labels=given.labels,
        true_labels=truth.labels, feature_columns=features, image_shape=spec.image_shape,
        card=card_path.read_text(encoding="utf-8"),
    )


__all__ = ["DEFAULT_SEPARATOR", "PROB_PREFIX", "MultilabelTags", "parse_columns",
           "parse_delimited", "parse_probabilities", "probability_columns", "tag_changes",
           "write_tags", "MultilabelSample", "load_multilabel_sample",
           "multilabel_sample_names"]
