"""The cleaned split: review decisions applied to the original rows, with a change list and a
manifest, written atomically.

Every row and column the user did not touch is unchanged and in the original order;
relabelled rows carry the new label; removed rows are dropped, or kept with a flag column.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import platform
import shutil
import time
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import scipy.sparse as sp
import sklearn

from analysis.core._helpers import to_csv
from analysis.data.dataset import Dataset, Origin
from analysis.data.quoting import quoted_cells, quoted_header
from analysis.data.splits import split_column, split_values
from analysis.export.spreadsheet import guard_formulas
from analysis.pipeline import Analysis
from analysis.review.findings import class_intervals
from analysis.review.store import ACTIONS

FORMATS = ("csv", "parquet")
REMOVED_MODES = ("drop", "flag")
FLAG_COLUMN = "noiselens_removed"


#: Without a review, a flagged row is relabelled (or removed) only when the model gives its
#: suggested class at least this out-of-fold probability; the other flagged rows keep their
#: label and stay listed for review (label_issues.csv). Measured by
#: ``benchmarks/unreviewed_default.py`` (docs/benchmarks.md, "Unreviewed default"): on 58
#: cases of known truth the relabel was right for 95.6% of the rows at >= 0.9 against 90.2%
#: for every flagged row, and broke a right label 3.9% of the time against 6.7%. On real data
#: the gap is wider (CIFAR-10: 191 of the 284 flagged rows were labelled right).
UNREVIEWED_MIN_CONFIDENCE = 0.9


def suggested_decisions(result: Analysis, *, max_score: float = 1.0,
                        action: str = "relabel", min_confidence: float = 0.0) -> pd.DataFrame:
    """Decisions that apply the detector without review: every flagged row whose quality
    score is at most ``max_score`` and whose suggested class has an out-of-fold probability
    of at least ``min_confidence`` is relabelled to its suggestion (or removed).

    Returns
    -------
    DataFrame
        Columns ``id``, ``action``, ``new_label``, ``note`` (as :meth:`ReviewStore.decisions`).
    """
    if action not in ("relabel", "remove"):
        raise ValueError(f"action={action!r} must be 'relabel' or 'remove'.")
    rows = result.ranked[result.scores[result.ranked] <= max_score]
    if min_confidence > 0:
        sure = np.asarray(result.pred_probs[rows, result.suggested[rows]]) >= min_confidence
        rows = rows[sure]
    names = np.asarray(result.class_names, dtype=object)
    done = "relabelled" if action == "relabel" else "removed"
    sure_words = (f", the model at least {min_confidence:g} sure of the suggestion"
                  if min_confidence > 0 else "")
    return pd.DataFrame({
        "id": [str(v) for v in np.asarray(result.dataset.ids)[rows]],
        "action": action,
        "new_label": names[result.suggested[rows]] if action == "relabel" else None,
        "note": f"{done} without review: suggested by {detector_name(result)} "
                f"(score <= {max_score:g}{sure_words})",
    })


#: Plain names of the detectors and filters (the dashboard's labels, dashboard/labels.py).
DETECTOR_NAMES = {
    "clean_and_refit": "the combined detector (clean, fit again)",
    "prune_by_noise_rate": "confident learning (prune by noise rate)",
    "prune_by_class": "confident learning (prune by class)",
    "both": "confident learning (both prune methods)",
    "confident_learning": "confident learning (confident joint off-diagonal)",
    "predicted_neq_given": "the prediction differing from the label",
    "low_self_confidence": "the lowest self-confidence",
    "low_normalized_margin": "the lowest normalised margin",
}


def detector_name(result: Analysis) -> str:
    """The plain name of what flagged the rows: the combined detector, or the filter."""
    if result.detector == "clean_and_refit":
        return DETECTOR_NAMES["clean_and_refit"]
    return DETECTOR_NAMES.get(result.filter_by, result.filter_by)


@dataclass(frozen=True)
class Unreviewed:
    """What the default cleaned split did to the flagged rows, nobody having reviewed them.

    Attributes
    ----------
    changed : int
        Flagged rows relabelled (or removed) without review.
    unchanged : int
        Flagged rows left as they are (the model less sure), to review.
    action : str
        ``relabel`` or ``remove``.
    min_confidence : float
    """

    changed: int
    unchanged: int
    action: str
    min_confidence: float

    def line(self) -> str:
        """One plain sentence, e.g. for the report and the CLI."""
        done = "relabelled" if self.action == "relabel" else "removed"
        sure = (f" (the model at least {self.min_confidence:g} sure of the suggestion)"
                if self.min_confidence > 0 else "")
        return (f"{done} without review: {self.changed:,} row{'s' if self.changed != 1 else ''}"
                f"{sure}; flagged for review, label unchanged: {self.unchanged:,} "
                f"row{'s' if self.unchanged != 1 else ''}. No person reviewed these changes")

    def as_dict(self) -> dict:
        key = "relabelled_without_review" if self.action == "relabel" else \
            "removed_without_review"
        return {key: self.changed, "flagged_label_unchanged": self.unchanged,
                "min_confidence": self.min_confidence, "reviewed_by_a_person": False}


def unreviewed_decisions(result: Analysis, *, max_score: float = 1.0, action: str = "relabel",
                         min_confidence: float = UNREVIEWED_MIN_CONFIDENCE
                         ) -> tuple[pd.DataFrame, Unreviewed]:
    """The default cleaning without review: :func:`suggested_decisions` with
    ``min_confidence`` (:data:`UNREVIEWED_MIN_CONFIDENCE`), and what it left unchanged."""
    decisions = suggested_decisions(result, max_score=max_score, action=action,
                                     min_confidence=min_confidence)
    return decisions, Unreviewed(len(decisions), result.num_issues - len(decisions), action,
                                 float(min_confidence))


#: ``DataFrame.attrs`` key of the source format (:class:`analysis.data.dataset.Origin`): the cleaned
#: frame carries it so that :func:`write_table` writes it back the way it was read.
ORIGIN_ATTR = "noiselens_origin"


def _origin_attr(origin) -> dict:
    """An :class:`~analysis.data.dataset.Origin` as JSON-safe values (``to_parquet`` stores
    attrs)."""
    schema = origin.schema
    return {"kind": origin.kind, "delimiter": origin.delimiter,
            "lineterminator": origin.lineterminator, "bom": origin.bom,
            "quoting": origin.quoting,
            "schema": (base64.b64encode(schema.serialize().to_pybytes()).decode("ascii")
                       if schema is not None else None)}


def with_origin(frame: pd.DataFrame, origin) -> pd.DataFrame:
    """``frame`` marked to be written by :func:`write_table` as the source ``origin`` is
    (the multi-label cleaned split, #28); None leaves it unmarked."""
    if origin is not None:
        frame.attrs[ORIGIN_ATTR] = _origin_attr(origin)
    return frame


def _origin_of(frame: pd.DataFrame):
    """The :class:`~analysis.data.dataset.Origin` a cleaned frame carries, or None."""
    attr = frame.attrs.get(ORIGIN_ATTR)
    if not isinstance(attr, dict):
        return None
    schema = None
    if attr.get("schema"):

        schema = pa.ipc.read_schema(pa.py_buffer(base64.b64decode(attr["schema"])))
    return Origin(attr["kind"], delimiter=attr["delimiter"],
                  lineterminator=attr["lineterminator"], bom=attr["bom"], schema=schema,
                  quoting=attr.get("quoting"))


def _label_value(frame: pd.DataFrame, column: str, name: str):
    """A class name as a value of the label column (integers stay integers)."""
    dtype = frame[column].dtype
    kind = dtype.kind
    if pd.api.types.is_bool_dtype(dtype):
        return {"true": True, "false": False}.get(name.lower(), name)
    if kind in "iu":
        return int(name)
    if kind == "f":
        return float(name)
    return name


def _label_values(dataset: Dataset, frame: pd.DataFrame, names: list[str]) -> dict:
    """Each class name as a value of the label column, in the column's own type: the text
    itself in a CSV, else the value a row of that class holds (int 3, True, a category)."""
    if dataset.origin is not None and dataset.origin.kind == "csv":
        return {name: name for name in names}
    column = frame[dataset.label_column]
    labels = np.asarray(dataset.labels)
    values = {}
    for k, name in enumerate(names):
        hit = np.flatnonzero(labels == k)
        values[name] = (column.iloc[int(hit[0])] if hit.size
                        else _label_value(frame, dataset.label_column, name))
    return values


#: pandas copies a shallow copy's data before writing into it (pandas >= 3, or the option).
_COPY_ON_WRITE = int(pd.__version__.split(".")[0]) >= 3 or bool(
    pd.get_option("mode.copy_on_write"))


@dataclass(frozen=True)
class Cleaned:
    """The result of :func:`apply_decisions`."""

    frame: pd.DataFrame
    changes: pd.DataFrame
    labels: np.ndarray  # encoded labels after the decisions, -1 for removed rows
    rows_in: int
    rows_out: int
    relabelled: int
    removed: int
    kept: int


def apply_decisions(dataset: Dataset, decisions: pd.DataFrame, *, removed: str = "drop",
                    scores=None, base_labels=None) -> Cleaned:
    """Apply review decisions to the dataset's original rows.

    Parameters
    ----------
    dataset : Dataset
    decisions : DataFrame
        Columns ``id``, ``action`` (``relabel`` / ``remove`` / ``keep``), ``new_label``
        (class name) and optionally ``note``; ids as strings or values of the id column.
    removed : {"drop", "flag"}
        Drop removed rows, or keep them with a boolean column ``noiselens_removed``.
    scores : array-like of shape (N,), optional
        Label quality scores, copied into the change list.
    base_labels : array-like of shape (N,), optional
        Encoded labels the decisions apply to for :attr:`Cleaned.labels` (e.g. the annotators'
        consensus analysed instead of the label column); default the dataset's labels. The
        written frame always starts from the file's own cells.

    Returns
    -------
    Cleaned
        ``frame`` (original columns and order), ``changes`` (``id``, ``old_label``,
        ``new_label`` or ``"removed"``, ``action``, ``score``, ``note``), and the counts.

    Raises
    ------
    ValueError
        An unknown id or action, a relabel to an unknown class, or a row count that does not
        add up.
    """
    if removed not in REMOVED_MODES:
        raise ValueError(f"removed={removed!r} is not one of: {', '.join(REMOVED_MODES)}.")
    check_flag_column(dataset, removed)
    n = len(dataset.frame)
    rows, actions = _decision_rows(dataset, decisions)
    names = [str(c) for c in dataset.class_names]
    old, new, relabel_rows = _decision_labels(dataset, decisions, rows, actions, names)
    frame = _relabelled_frame(dataset, names, relabel_rows)
    removed_mask = np.zeros(n, dtype=bool)
    removed_mask[rows[actions == "remove"]] = True
    labels_after = _labels_after(dataset, base_labels, names, relabel_rows, removed_mask)
    out = _output_frame(dataset, frame, removed_mask, removed)
    num_removed = int(removed_mask.sum())
    kept_out = len(out) if removed == "drop" else n - num_removed
    if kept_out + num_removed != n:  # pragma: no cover - a guard, never expected
        raise ValueError(f"row count mismatch: {kept_out} kept + {num_removed} removed != {n}.")
    changes = _change_list(dataset, decisions, rows, actions, old, new, scores)
    return Cleaned(
        frame=out,
        changes=changes,
        labels=labels_after,
        rows_in=n,
        rows_out=len(out),
        relabelled=int((actions == "relabel").sum()),
        removed=num_removed,
        kept=int((actions == "keep").sum()),
    )


def _decision_rows(dataset: Dataset, decisions: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The row position and the action of each decision; raise on an unknown id or action."""
    index = dataset.id_index
    ids = decisions["id"].astype(str).to_numpy() if len(decisions) else np.array([], str)
    unknown = [i for i in ids if i not in index]
    if unknown:
        raise ValueError(f"{len(unknown)} decision(s) refer to ids not in {dataset.source}: "
                         f"{', '.join(unknown[:5])}.")
    actions = decisions["action"].to_numpy() if len(decisions) else np.array([], str)
    bad = sorted(set(actions) - set(ACTIONS))
    if bad:
        raise ValueError(f"unknown action(s): {', '.join(map(str, bad))}.")
    rows = np.array([index[i] for i in ids], dtype=np.int64)
    return rows, actions


def _decision_labels(dataset: Dataset, decisions: pd.DataFrame, rows: np.ndarray,
                     actions: np.ndarray, names: list[str]
                     ) -> tuple[list[str], list[str], list[tuple[int, str]]]:
    """Per decision the old and the new label (class name, or ``"removed"``), and the
    ``(row, class name)`` of every relabel; raise on a relabel to an unknown class."""
    old = [names[dataset.labels[r]] for r in rows]
    new: list[str] = []
    relabel_rows = []
    for r, action, label in zip(rows, actions, decisions.get("new_label", [None] * len(rows)),
                                strict=True):
        if action == "relabel":
            if label is None or str(label) not in names:
                raise ValueError(f"row id {dataset.ids[r]}: cannot relabel to {label!r}, not "
                                 "one of the dataset's classes.")
            relabel_rows.append((r, str(label)))
            new.append(str(label))
        elif action == "remove":
            new.append("removed")
        else:
            new.append(old[len(new)])
    return old, new, relabel_rows


def _relabelled_frame(dataset: Dataset, names: list[str],
                      relabel_rows: list[tuple[int, str]]) -> pd.DataFrame:
    """A copy of the dataset's frame with the new labels written into the label column, in
    the column's own type (an integer column takes text only by becoming an object column)."""
    # a lazy copy under pandas' copy-on-write (always on from pandas 3): only the label column
    # is written, the others are shared with the dataset, not copied (470 MB at 1M x 119)
    frame = dataset.frame.copy(deep=not _COPY_ON_WRITE)
    if relabel_rows:
        label_col = dataset.label_column
        as_value = _label_values(dataset, frame, names)
        values = [as_value[lab] for _, lab in relabel_rows]
        positions = [r for r, _ in relabel_rows]
        column = frame[label_col].copy()
        if column.dtype.kind in "iuf" and any(isinstance(v, str) for v in values):
            column = column.astype(object)
        column.iloc[positions] = values
        frame[label_col] = column
    return frame


def _labels_after(dataset: Dataset, base_labels, names: list[str],
                  relabel_rows: list[tuple[int, str]], removed_mask: np.ndarray) -> np.ndarray:
    """The encoded labels after the decisions (from ``base_labels`` or the dataset's labels):
    relabelled rows get their new class, removed rows -1."""
    n = removed_mask.size
    code = {name: k for k, name in enumerate(names)}
    labels_after = np.array(dataset.labels if base_labels is None else base_labels,
                            dtype=np.int64, copy=True)
    if labels_after.shape != (n,):
        raise ValueError(f"base_labels must have shape ({n},), got {labels_after.shape}.")
    for r, lab in relabel_rows:
        labels_after[r] = code[lab]
    labels_after[removed_mask] = -1
    return labels_after


def check_flag_column(dataset: Dataset, removed: str) -> None:
    """Refuse ``removed="flag"`` when the data already has a column named :data:`FLAG_COLUMN`:
    writing the flags would overwrite the user's own cells.

    Raises
    ------
    ValueError
        Naming the column and the way out (drop removed rows, or rename the column).
    """
    if removed == "flag" and FLAG_COLUMN in {str(c) for c in dataset.frame.columns}:
        raise ValueError(
            f"{dataset.source} already has a column named {FLAG_COLUMN!r}: flagging removed "
            f"rows would overwrite its cells. Rename that column, or drop removed rows "
            f"(--removed drop).")


def _output_frame(dataset: Dataset, frame: pd.DataFrame, removed_mask: np.ndarray,
                  removed: str) -> pd.DataFrame:
    """The cleaned frame: removed rows dropped or flagged in :data:`FLAG_COLUMN`, carrying
    the source format (:data:`ORIGIN_ATTR`)."""
    if removed == "flag":
        frame[FLAG_COLUMN] = removed_mask
        out = frame
    else:
        out = frame.loc[~removed_mask] if removed_mask.any() else frame
    if dataset.origin is not None:
        out.attrs[ORIGIN_ATTR] = _origin_attr(dataset.origin)
    return out


def _change_list(dataset: Dataset, decisions: pd.DataFrame, rows: np.ndarray,
                 actions: np.ndarray, old: list[str], new: list[str], scores) -> pd.DataFrame:
    """The change list, one row per decision in row order: ``id``, ``action``, ``old_label``,
    ``new_label``, ``score``, ``note``."""
    notes = (decisions["note"].fillna("").astype(str).to_numpy() if "note" in decisions
             else np.full(len(rows), ""))
    score_values = (np.asarray(scores, dtype=float)[rows] if scores is not None
                    else np.full(len(rows), np.nan))
    changes = pd.DataFrame({
        "id": [dataset.ids[r] for r in rows],
        "action": actions,
        "old_label": old,
        "new_label": new,
        "score": score_values,
        "note": notes,
    })
    return changes.iloc[np.argsort(rows, kind="stable")].reset_index(drop=True)


def class_sizes(dataset: Dataset, cleaned: Cleaned) -> pd.DataFrame:
    """Rows per class before and after the cleaning: ``class``, ``before``, ``after``,
    ``change`` (removed rows count in neither class after)."""
    k = dataset.num_classes
    before = np.bincount(dataset.labels, minlength=k)
    kept = cleaned.labels[cleaned.labels >= 0]
    after = np.bincount(kept, minlength=k)
    return pd.DataFrame({"class": [str(c) for c in dataset.class_names], "before": before,
                         "after": after, "change": after - before})


def default_stem(dataset: Dataset) -> str:
    """File-name stem of the exports: the data file's name, or the sample's name."""
    name = dataset.source.removeprefix("sample '").removesuffix("'")
    return Path(name).stem or "data"


def _atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Write through a temporary file in the same folder, then rename over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.part")
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text(path: Path, text: str) -> None:
    """Write a UTF-8 text file atomically."""
    _atomic_write(Path(path), lambda p: p.write_text(text, encoding="utf-8"))


def write_table(frame: pd.DataFrame, path: Path, fmt: str) -> None:
    """Write a table atomically as CSV or Parquet.

    A cleaned split (``frame.attrs`` holds its :class:`~analysis.data.dataset.Origin`) is written
    the way its source was read: from a CSV, every cell's text as it was (quoted only where
    needed), with the source's delimiter, line ending and byte-order mark; from a Parquet
    file, with the source's schema (column types, nested columns included).
    """
    if fmt not in FORMATS:
        raise ValueError(f"format={fmt!r} is not one of: {', '.join(FORMATS)}.")
    origin = _origin_of(frame)
    if origin is not None:  # written here, not in the file's metadata
        frame = frame.copy(deep=False)
        frame.attrs = {}
    if fmt == "csv" and origin is not None and origin.kind == "csv":
        _atomic_write(path, lambda p: _write_source_csv(frame, p, origin))
    elif fmt == "parquet" and origin is not None and origin.kind == "parquet":
        _atomic_write(path, lambda p: _write_source_parquet(frame, p, origin))
    elif fmt == "csv":
        _atomic_write(path, lambda p: to_csv(frame, p))
    else:
        _atomic_write(path, lambda p: frame.to_parquet(p, index=False))


def _csv_cells(values, quote: np.ndarray):
    """Cells as CSV text, quoted (inner quotes doubled) where ``quote`` says."""

    arr = pa.array(values, type=pa.large_string(), from_pandas=True)
    arr = pc.fill_null(arr, "")
    quote_mark, none = pa.scalar('"', pa.large_string()), pa.scalar("", pa.large_string())
    quoted = pc.binary_join_element_wise(quote_mark, pc.replace_substring(arr, '"', '""'),
                                         quote_mark, none)
    return pc.if_else(pa.array(quote, pa.bool_()), quoted, arr)


def _write_source_csv(frame: pd.DataFrame, path: Path, origin) -> None:
    """The text cells as read, quoted as the source quotes them (:mod:`analysis.data.quoting`:
    only where a cell needs it -- a delimiter, a quote, a line break, a lone carriage return
    too, which Python's csv writer leaves bare -- unless the source quotes more), with the
    source's delimiter, line ending and byte-order mark. Vectorised (Arrow), no Python loop
    per cell."""
    delim, end = origin.delimiter, origin.lineterminator
    quoting = origin.quoting
    single = frame.shape[1] == 1  # a lone empty cell must be quoted, or the row is lost
    names = [str(c) for c in frame.columns]
    header = delim.join(pc.cast(_csv_cells(
        pa.array(names), quoted_header(quoting, names, delim, single)), pa.string()).to_pylist())
    where = {n: i for i, n in enumerate(quoting["columns"])} if quoting else {}
    positions = frame.index.to_numpy()  # the source row of each cleaned row
    columns = []
    for name in frame.columns:
        col = frame[name]
        if not pd.api.types.is_string_dtype(col.dtype):  # the flag column
            col = col.astype(str)
        arr = pc.fill_null(pa.array(col.array, type=pa.large_string(), from_pandas=True), "")
        quote = quoted_cells(quoting, where.get(str(name)), arr, positions, delim, single)
        columns.append(_csv_cells(arr, quote))
    with open(path, "wb") as fh:
        if origin.bom:
            fh.write(b"\xef\xbb\xbf")
        fh.write((header + end).encode("utf-8"))
        if len(frame):
            lines = pc.binary_join_element_wise(
                *columns, pa.scalar(delim, pa.large_string())) if len(columns) > 1 else \
                columns[0]
            step = 1 << 16
            for start in range(0, len(lines), step):
                chunk = lines.slice(start, step).to_pylist()
                fh.write((end.join(chunk) + end).encode("utf-8"))


def _write_source_parquet(frame: pd.DataFrame, path: Path, origin) -> None:
    """The rows with the source file's column types (added columns typed from their values)."""

    schema = origin.schema
    fields = []
    for name in frame.columns:
        i = schema.get_field_index(str(name)) if schema is not None else -1
        fields.append(schema.field(i) if i >= 0 else
                      pa.field(str(name), pa.Array.from_pandas(frame[name]).type))
    table = pa.Table.from_pandas(frame, schema=pa.schema(fields), preserve_index=False)
    pq.write_table(table, path)


def _versions() -> dict[str, str]:


    try:
        own = version("noiselens")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        own = "unknown"
    return {"noiselens": own, "python": platform.python_version(), "numpy": np.__version__,
            "pandas": pd.__version__, "scikit-learn": sklearn.__version__}


def manifest(dataset: Dataset, result: Analysis, cleaned: Cleaned, *, mode: str,
             files: dict[str, str | dict], parameters: dict | None = None,
             review: dict | None = None, unreviewed: Unreviewed | None = None,
             pending: tuple[str, ...] = ()) -> dict:
    """The ``manifest.json`` content: what went in, how, and what came out.

    ``pending``: the files a first set leaves to the next one (``noiselens analyze`` writes
    its first results before the neighbour signals); such a manifest has a ``pending``
    section instead of the ``checks``, which need the signals.

    ``files`` maps each kind (``cleaned``, ``changes``, ``report``...) to its file name, or to
    ``{"name", "rows", "bytes", "sha256"}`` (what :func:`export_split` writes). ``review`` is
    :meth:`analysis.review.store.Carryover.counts` when the decisions came from the review store.
    """
    out = {
        "input": {"source": dataset.source, "fingerprint": dataset.fingerprint,
                  "rows": cleaned.rows_in, "label_column": dataset.label_column,
                  "id_column": dataset.id_column},
        "method": {"filter_by": result.filter_by, "rank_by": result.rank_by,
                   "probabilities": result.probabilities_source, "decisions": mode,
                   **(parameters or {})},
        "counts": _counts(dataset, result, cleaned),
        "files": files,
        "versions": _versions(),
        "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    if review is not None:
        out["review"] = dict(review)
    if unreviewed is not None:  # in plain words: no person reviewed these changes
        out["unreviewed"] = unreviewed.as_dict() | {"summary": unreviewed.line() + "."}
    if pending:  # a first set: the checks come from the signals, computed after it
        out["pending"] = {"files": list(pending), "note": PENDING_NOTE}
        return out
    checks = _checks(result)
    if checks is not None:
        out["checks"] = checks
    return out


#: The manifest's word on a first set (``pending``).
PENDING_NOTE = ("the first results, written as soon as the label detector was done; the "
                "pending files and the checks (from the neighbour signals) come in the next "
                "set, which replaces this one")


def _counts(dataset: Dataset, result: Analysis, cleaned: Cleaned) -> dict:
    """The manifest's ``counts``: rows before and after, what the cleaning did, per class."""
    sizes = class_sizes(dataset, cleaned)
    return {"rows_before": cleaned.rows_in, "rows_after": cleaned.rows_out,
            "relabelled": cleaned.relabelled, "removed": cleaned.removed,
            "kept_as_is_reviewed": cleaned.kept,
            "flagged_by_detector": result.num_issues,
            "per_class_before": dict(zip(sizes["class"], sizes["before"].tolist(), strict=True)),
            "per_class_after": dict(zip(sizes["class"], sizes["after"].tolist(), strict=True))}


def _checks(result: Analysis) -> dict | None:
    """The dataset-level checks of :attr:`Analysis.checks` (issue counts per type, class
    imbalance, classes mostly flagged, leakage across splits), or the reason they failed
    (None for a stand-in without checks)."""
    try:
        return getattr(result, "checks", None)
    except (ValueError, MemoryError) as exc:  # never lose an export over a check
        return {"error": f"the checks could not run: {exc}"}


@dataclass(frozen=True)
class ExportResult:
    """What :func:`export_split` wrote.

    ``files`` are the paths through ``folder`` (stable: ``folder`` always shows one whole
    set); ``set_dir`` is the folder that holds this set; ``leftovers`` what was removed of an
    earlier, interrupted export.
    """

    folder: Path
    files: dict[str, Path]
    cleaned: Cleaned
    manifest: dict
    set_dir: Path | None = None
    leftovers: tuple[str, ...] = ()


class ExportError(OSError):
    """An export could not be written; the message says what was and was not written."""


# the names of what noiselens writes into an export folder (older versions wrote them there
# directly: such a folder is taken over, anything else in a folder is never touched)
_OWN_NAMES = {"label_issues.csv", "per_class.csv", "noise_matrix.csv", "confident_joint.csv",
              "summary.json", "report.html", "manifest.json", "review_changed_rows.csv"}
_OWN_NAMES.add("issues.csv")  # every issue type per row (analysis/signals/compute.py)
_OWN_SUFFIXES = ("_cleaned.csv", "_cleaned.parquet", "_changes.csv", ".part")

# test hook: called as _after_step(k, what) after each step of an export (k = 1, 2, ...)
_after_step: Callable[[int, str], None] | None = None


def sets_folder(folder) -> Path:
    """Where the export sets shown at ``folder`` live: ``.<name>.noiselens`` beside it."""
    folder = Path(folder).absolute()
    return folder.parent / f".{folder.name}.noiselens"


def _fsync(path: Path, directory: bool = False) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if directory else 0))
    except OSError:  # pragma: no cover - e.g. directories on some platforms
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@contextmanager
def _locked(sets: Path):
    """One export at a time per folder (other processes wait)."""
    with open(sets / ".lock", "a+b") as fh:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX
            yield
            return
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _current_set(target: Path, sets: Path) -> Path | None:
    """The set ``target`` links to (``None``: no link into ``sets``)."""
    if not target.is_symlink():
        return None
    resolved = target.resolve()
    return resolved if resolved.parent == sets.resolve() else None


def _describe_target(target: Path, sets: Path) -> str:
    """What is at ``target`` now ('new' / 'set' / 'empty' / 'legacy'), or raise ExportError."""
    if target == Path.cwd() or target in Path.cwd().parents or target.parent == target:
        raise ExportError(f"{target} is the current folder or one of its parents: give the "
                          "export a folder of its own (e.g. --out results). Nothing was written.")
    if target.is_symlink():
        if _current_set(target, sets) is not None or not target.exists():
            return "set"
        raise ExportError(f"{target} is a link to {target.resolve()}, which noiselens did not "
                          "make: choose another folder. Nothing was written.")
    if not target.exists():
        return "new"
    if not target.is_dir():
        raise ExportError(f"{target} is a file, not a folder: choose a folder name (it is "
                          "created). Nothing was written.")
    names = sorted(p.name for p in target.iterdir())
    if not names:
        return "empty"
    foreign = [n for n in names if n not in _OWN_NAMES and not n.endswith(_OWN_SUFFIXES)]
    if foreign:
        raise ExportError(
            f"{target} already holds files noiselens did not write ({', '.join(foreign[:5])}"
            f"{', ...' if len(foreign) > 5 else ''}): choose a new or empty folder, so that "
            "nothing of yours is replaced. Nothing was written.")
    return "legacy"


def check_target(folder) -> None:
    """Raise :class:`ExportError` now when :func:`export_split` could not write to ``folder``
    (an existing file, a folder holding other files, a link elsewhere, a folder that cannot be
    written), so that a long analysis does not run for nothing."""
    target = Path(folder).expanduser().absolute()
    sets = sets_folder(target)
    _describe_target(target, sets)
    # a real probe, not os.access: root passes os.access everywhere, and /proc, a read-only
    # mount or a path under a file only fail when something is actually created there
    _probe_writable(target.parent)
    if sets.is_dir():
        _probe_writable(sets)


def _probe_writable(folder: Path) -> None:
    """Create ``folder`` (and its missing parents), create and delete a probe file in it, then
    remove every folder made: nothing is left behind, whether the check passes or fails.
    Raise :class:`ExportError` naming the folder when any step fails."""
    made: list[Path] = []
    try:
        missing = [p for p in (folder, *folder.parents) if not p.exists()]
        for p in reversed(missing):
            p.mkdir()
            made.append(p)
        probe = folder / f".noiselens-probe-{uuid.uuid4().hex}"
        with open(probe, "xb") as fh:
            fh.write(b"probe")
        probe.unlink()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ExportError(f"cannot create or write {folder} ({reason}): nothing was written; "
                          "choose a folder you can write to.") from None
    finally:
        for p in reversed(made):
            try:
                p.rmdir()
            except OSError:  # pragma: no cover - someone else wrote into it meanwhile
                pass


def _clean_leftovers(target: Path, sets: Path) -> list[str]:
    """Finish or remove what an interrupted export left: temporary folders, ``.part`` files,
    half-made links, sets no longer shown. A sealed set that never got linked (the export was
    killed while swapping) is linked when ``target`` shows nothing."""
    removed = []
    sealed = sorted(p for p in sets.iterdir() if p.is_dir() and p.name.startswith("set-")
                    and (p / "manifest.json").exists())
    if not target.exists() and not target.is_symlink() and sealed:
        link = target.parent / f".{target.name}.link-recover"
        link.unlink(missing_ok=True)
        os.symlink(os.path.relpath(sealed[-1], target.parent), link)
        os.replace(link, target)
    current = _current_set(target, sets)
    for p in sets.iterdir():
        if p.name == ".lock" or (current is not None and p.resolve() == current):
            continue
        try:
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            else:
                p.unlink()
            removed.append(p.name)
        except OSError:  # pragma: no cover - best effort; retried next time
            pass
    for p in target.parent.glob(f".{target.name}.link-*"):
        p.unlink(missing_ok=True)
        removed.append(p.name)
    if current is not None:
        for p in current.glob(".*.part"):
            p.unlink(missing_ok=True)
            removed.append(p.name)
    return removed


def _write_one(path: Path, content) -> int | None:
    """Write one file of a set; returns its row count (tables) or ``None``."""
    if isinstance(content, pd.DataFrame):
        write_table(content, path, "parquet" if path.suffix == ".parquet" else "csv")
        return len(content)
    if isinstance(content, bytes):
        _atomic_write(path, lambda p: p.write_bytes(content))
    else:
        write_text(path, str(content))
    return None


@dataclass
class _ExportProgress:
    """How far an export got: the steps done (each reported to the test hook
    :data:`_after_step`), what is being written now and the files written so far."""

    step: int = 0
    current: str = "?"
    written: list[str] = field(default_factory=list)

    def done(self, what: str) -> None:
        self.step += 1
        if _after_step is not None:
            _after_step(self.step, what)


def export_split(dataset: Dataset, result: Analysis, decisions: pd.DataFrame, folder,
                 *, fmt: str = "csv", removed: str = "drop", mode: str = "reviewed",
                 parameters: dict | None = None, stem: str | None = None,
                 extra_files: dict | None = None, review: dict | None = None,
                 unreviewed: Unreviewed | None = None,
                 pending: tuple[str, ...] = ()) -> ExportResult:
    """Write the cleaned split, its change list, any extra files and ``manifest.json`` as one
    set, shown at ``folder``.

    Files: ``<stem>_cleaned.<csv|parquet>``, ``<stem>_changes.csv``, the ``extra_files``
    (name -> text, bytes, a DataFrame written as CSV, or a function of the :class:`Cleaned`
    returning one of those; e.g. ``{"report.html": ...}``) and ``manifest.json`` last, listing
    each file with its row count, size and SHA-256.

    The set is written into a temporary folder in ``.<folder name>.noiselens/`` beside
    ``folder``, sealed, and then ``folder`` (a symbolic link) is switched to it in one atomic
    rename: ``folder`` always shows either the previous set or the new one, whole. What an
    interrupted export left behind is removed at the next export. ``folder`` may also be new,
    empty, or a folder an older noiselens wrote its files into; any other existing path is
    refused.

    ``mode`` says where the decisions came from (``reviewed`` or ``suggestions``); ``review``
    (:meth:`analysis.review.store.Carryover.counts`) goes into the manifest as its ``review``
    section,
    ``unreviewed`` (:func:`unreviewed_decisions`) as its ``unreviewed`` section. ``pending``
    names files a next set will add (:func:`manifest`).

    Raises
    ------
    ValueError
        The decisions cannot be applied (nothing written).
    ExportError
        The folder cannot take the export, or writing failed: the message says what was and
        was not written.
    """
    if fmt not in FORMATS:
        raise ValueError(f"format={fmt!r} is not one of: {', '.join(FORMATS)}.")
    target = Path(folder).expanduser().absolute()
    cleaned = apply_decisions(dataset, decisions, removed=removed, scores=result.scores)
    contents, kinds = _plan_set(cleaned, stem or default_stem(dataset), fmt, extra_files)
    every = [*contents, "manifest.json"]

    def make_manifest(listing: dict) -> dict:
        return manifest(dataset, result, cleaned, mode=mode, files=listing,
                        parameters={"removed_rows": removed, "format": fmt,
                                    **(parameters or {})}, review=review,
                        unreviewed=unreviewed, pending=pending)

    sets = _make_sets_folder(target)
    progress = _ExportProgress()
    with _locked(sets):
        leftovers = _clean_leftovers(target, sets)
        previous = _current_set(target, sets)
        state = _describe_target(target, sets)  # a recovered link makes it a "set"
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + uuid.uuid4().hex[:8]
        tmp = sets / f"tmp-{stamp}"
        final = sets / f"set-{stamp}"
        try:
            content = _write_set(tmp, final, contents, kinds, make_manifest, progress)
            _switch_link(target, sets, final, state, stamp, progress)
        except Exception as exc:
            if target.is_symlink() and target.resolve() == final.resolve():
                raise  # pragma: no cover - switched: the export is whole
            _discard_set(target, tmp, final, stamp)
            raise _export_failure(exc, target, previous, every, progress) from exc
        _remove_previous_sets(sets, final)
        progress.done("removed the previous set")
    files = {kinds[name]: target / name for name in every}
    return ExportResult(target, files, cleaned, content, set_dir=final,
                        leftovers=tuple(leftovers))


def _plan_set(cleaned: Cleaned, stem: str, fmt: str,
              extra_files: dict | None) -> tuple[dict[str, object], dict[str, str]]:
    """What a set holds: file name -> content (the manifest aside), and file name -> its
    kind (the manifest's key for it); raise on an extra file name that is taken."""
    contents: dict[str, object] = {
        f"{stem}_cleaned.{fmt}": cleaned.frame,
        # the change list is read by people: no text cell may start a spreadsheet formula;
        # the cleaned split is data for the next training run and stays as it was read
        f"{stem}_changes.csv": guard_formulas(cleaned.changes),
    }
    for name, content in (extra_files or {}).items():
        if name in contents or name == "manifest.json" or Path(name).name != name:
            raise ValueError(f"extra file name {name!r} is taken or not a plain file name.")
        contents[name] = content(cleaned) if callable(content) else content
    kinds = {f"{stem}_cleaned.{fmt}": "cleaned", f"{stem}_changes.csv": "changes"}
    kinds.update({name: Path(name).stem for name in extra_files or {}})
    kinds["manifest.json"] = "manifest"
    return contents, kinds


def _make_sets_folder(target: Path) -> Path:
    """The folder of the sets shown at ``target``, created; raise :class:`ExportError` when
    ``target`` cannot take an export or the folder cannot be made (nothing written)."""
    sets = sets_folder(target)
    _describe_target(target, sets)
    try:
        sets.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(f"cannot write beside {target} ({exc.strerror or exc}): nothing was "
                          f"written; choose a folder you can write to.") from None
    return sets


def _write_set(tmp: Path, final: Path, contents: dict[str, object], kinds: dict[str, str],
               make_manifest: Callable[[dict], dict], progress: _ExportProgress) -> dict:
    """Write every file and then ``manifest.json`` into the temporary folder ``tmp``, and
    seal it by renaming it to ``final``; returns the manifest."""
    progress.current = "the temporary folder"
    tmp.mkdir()
    listing = {}
    for name, content in contents.items():
        progress.current = name
        rows = _write_one(tmp / name, content)
        _fsync(tmp / name)
        listing[kinds[name]] = {"name": name, "rows": rows, "bytes": (tmp / name).stat().st_size,
                                "sha256": _sha256(tmp / name)}
        progress.written.append(name)
        progress.done(f"wrote {name}")
    progress.current = "manifest.json"
    content = make_manifest(listing)
    content["set"] = final.name
    write_text(tmp / "manifest.json", json.dumps(content, indent=2))
    _fsync(tmp / "manifest.json")
    progress.written.append("manifest.json")
    progress.done("wrote manifest.json")
    progress.current = "the finished set"
    _fsync(tmp, directory=True)
    os.rename(tmp, final)
    _fsync(final.parent, directory=True)
    progress.done("sealed the set")
    return content


def _switch_link(target: Path, sets: Path, final: Path, state: str, stamp: str,
                 progress: _ExportProgress) -> None:
    """Point ``target`` at the sealed set ``final`` in one atomic rename (an empty folder at
    ``target`` is removed first, an older export's folder moved into ``sets``)."""
    progress.current = f"the link {target}"
    link = target.parent / f".{target.name}.link-{stamp}"
    os.symlink(os.path.relpath(final, target.parent), link)
    progress.done("made the new link")
    if state == "empty":
        os.rmdir(target)
    elif state == "legacy":
        os.rename(target, sets / f"legacy-{stamp}")
    os.replace(link, target)
    _fsync(target.parent, directory=True)
    progress.done("switched the link")


def _discard_set(target: Path, tmp: Path, final: Path, stamp: str) -> None:
    """Remove what a failed export wrote: its temporary or sealed folder and its new link."""
    for p in (tmp, final):
        shutil.rmtree(p, ignore_errors=True)
    for p in target.parent.glob(f".{target.name}.link-{stamp}"):
        p.unlink(missing_ok=True)


def _export_failure(exc: Exception, target: Path, previous: Path | None, every: list[str],
                    progress: _ExportProgress) -> ExportError:
    """The error of a failed export: what it was writing, why it failed, what ``target``
    shows now and what was not written."""
    before = (f"it still shows the previous export ({previous.name})" if previous
              else "it holds what it held before" if target.exists()
              else "it was not created")
    reason = (exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc))
    written = progress.written
    return ExportError(
        f"the export to {target} failed while writing {progress.current}: {reason}. Nothing "
        f"changed in {target}: {before}. Not written: {', '.join(every)}"
        + (f" ({', '.join(written)} had been written to a temporary folder, now "
           "removed)." if written else "."))


def _remove_previous_sets(sets: Path, final: Path) -> None:
    """Remove the sets (and older exports' folders) ``target`` no longer shows."""
    for p in sets.iterdir():
        if p.name.startswith(("set-", "legacy-")) and p.resolve() != final.resolve():
            shutil.rmtree(p, ignore_errors=True)


def _intervals(result: Analysis) -> dict:
    return class_intervals(result).as_dict()


#: Up to this many classes the matrices are written as K x K tables; beyond, in long format.
WIDE_MATRIX_CLASSES = 100


def long_matrix(matrix, names: list[str], value: str) -> pd.DataFrame:
    """The non-zero entries of a (K, K) matrix (dense or ``scipy.sparse``), rows = given
    label, as a table ``given, true, <value>`` sorted by given then true class."""

    coo = sp.coo_array(matrix) if sp.issparse(matrix) else sp.coo_array(np.asarray(matrix))
    order = np.lexsort((coo.col, coo.row))
    keep = order[coo.data[order] != 0]
    labels = np.asarray(names, dtype=object)
    return pd.DataFrame({"given": labels[coo.row[keep]], "true": labels[coo.col[keep]],
                         value: coo.data[keep]})


def result_files(dataset: Dataset, result: Analysis, *, mode: str,
                 review: dict | None = None, signals: bool = True) -> dict[str, object]:
    """The result files of an analysis, for :func:`export_split`'s ``extra_files``.

    Returns
    -------
    dict
        ``label_issues.csv``, ``per_class.csv``, ``noise_matrix.csv`` (P(given | true)),
        ``confident_joint.csv`` as DataFrames (K x K tables up to
        :data:`WIDE_MATRIX_CLASSES` classes, else long format ``given, true, count`` /
        ``p_given_given_true`` with the non-zero entries; formula-guarded: people open them in a
        spreadsheet), ``summary.json`` as a function of the :class:`Cleaned` split (its
        counts go in it) and ``issues.csv`` (every issue type per row, computed when written;
        not with ``signals=False``, a first set written before the neighbour signals).
    """
    names = [str(c) for c in dataset.class_names]
    if len(names) > WIDE_MATRIX_CLASSES:  # long format: the non-zero entries only
        noise = long_matrix(result.estimate.noise_matrix, names, "p_given_given_true")
        cj = long_matrix(result.estimate.confident_joint, names, "count")
    else:
        index, columns = [f"given={n}" for n in names], [f"true={n}" for n in names]
        noise = pd.DataFrame(result.estimate.noise_matrix, index=index, columns=columns)
        noise = noise.reset_index(names="P(given | true)")
        cj = pd.DataFrame(result.estimate.confident_joint, index=index, columns=columns)
        cj = cj.reset_index(names="confident joint")

    def summary(cleaned: Cleaned) -> str:
        counts = _counts(dataset, result, cleaned)  # not the checks: no signals needed
        return json.dumps({
            "source": dataset.source,
            "rows": len(dataset),
            "classes": names,
            "label_health": round(result.health, 3),
            "estimated_wrong_labels": result.estimated_wrong,
            "flagged": result.num_issues,
            "filter_by": result.filter_by,
            "rank_by": result.rank_by,
            "probabilities": result.probabilities_source,
            # how the automatic model was made: every candidate, setting, weight (#26)
            "model": getattr(result, "model", None),
            "label_detector": getattr(result, "detector", "confident_learning"),
            "systematic_pairs": [
                {"given": r.given_name, "true": r.true_name, "count": int(r.count),
                 "p_given_given_true": round(float(r.p_given_given_true), 4)}
                for r in result.pairs().itertuples() if r.verdict == "systematic"
            ],
            "cleaning": counts | {"decisions": mode},
            "review": review,
            "fingerprint": dataset.fingerprint,
            # 95% intervals of the per-class rates and of the wrong labels (#17)
            "intervals": _intervals(result),
        }, indent=2)

    return {
        "label_issues.csv": guard_formulas(result.issues_table()),
        "per_class.csv": guard_formulas(result.per_class),
        "noise_matrix.csv": guard_formulas(noise),
        "confident_joint.csv": guard_formulas(cj),
        "summary.json": summary,
    } | ({"issues.csv": lambda cleaned: _issues_csv(dataset, result)} if signals else {})


def _issues_csv(dataset: Dataset, result: Analysis) -> pd.DataFrame:
    """``issues.csv``: one row per input row, ``id``, then ``is_<type>_issue`` and
    ``<type>_score`` for every issue type (:meth:`analysis.signals.compute.Signals.frame`), the
    near-duplicates' ids, and the split column's value when there is one."""
    col = split_column(dataset)
    splits = split_values(dataset, col) if col is not None else None
    return guard_formulas(result.signals.frame(dataset.ids, splits=splits))
