"""Schema inference (internal): which column plays which part — label, id, true label,
annotators, probabilities, then the content (image, text, features) — each role inferred or
checked with its own message.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.core._validation import check_inputs, describe_rows
from analysis.data._arrays import _load_npy
from analysis.data._basics import (
    ID_NAMES,
    MAX_CATEGORIES,
    PROB_PREFIXES,
    TRUE_LABEL_NAMES,
    WRONG_CLASS_UNKNOWN,
    WRONG_UNKNOWN_TOKENS,
    DataError,
    _fail,
    _find,
)
from analysis.data._cells import (
    _check_ids,
    _encode_labels,
    _is_nested,
    _is_text,
    _label_text,
    _number_matrix,
    _parse_feature,
)
from analysis.data._images import _check_images, _is_image_column
from analysis.data.schema import split_like_columns


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
