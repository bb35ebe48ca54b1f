"""The cleaned split: review decisions applied to the original rows, with a change list and a
manifest, written atomically.

Every row and column the user did not touch is unchanged and in the original order;
relabelled rows carry the new label; removed rows are dropped, or kept with a flag column.
"""

from __future__ import annotations

import base64
import json
import os
import platform
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.data import Dataset
from analysis.pipeline import Analysis
from analysis.review import ACTIONS

FORMATS = ("csv", "parquet")
REMOVED_MODES = ("drop", "flag")
FLAG_COLUMN = "noiselens_removed"


def suggested_decisions(result: Analysis, *, max_score: float = 1.0,
                        action: str = "relabel") -> pd.DataFrame:
    """Decisions that apply the detector without review: every flagged row whose quality
    score is at most ``max_score`` is relabelled to its suggestion (or removed).

    Returns
    -------
    DataFrame
        Columns ``id``, ``action``, ``new_label``, ``note`` (as :meth:`ReviewStore.decisions`).
    """
    if action not in ("relabel", "remove"):
        raise ValueError(f"action={action!r} must be 'relabel' or 'remove'.")
    rows = result.ranked[result.scores[result.ranked] <= max_score]
    names = np.asarray(result.class_names, dtype=object)
    return pd.DataFrame({
        "id": [str(v) for v in np.asarray(result.dataset.ids)[rows]],
        "action": action,
        "new_label": names[result.suggested[rows]] if action == "relabel" else None,
        "note": f"suggested by {result.filter_by} (score <= {max_score:g})",
    })


#: ``DataFrame.attrs`` key of the source format (:class:`analysis.data.Origin`): the cleaned
#: frame carries it so that :func:`write_table` writes it back the way it was read.
ORIGIN_ATTR = "noiselens_origin"


def _origin_attr(origin) -> dict:
    """An :class:`~analysis.data.Origin` as JSON-safe values (``to_parquet`` stores attrs)."""
    schema = origin.schema
    return {"kind": origin.kind, "delimiter": origin.delimiter,
            "lineterminator": origin.lineterminator, "bom": origin.bom,
            "schema": (base64.b64encode(schema.serialize().to_pybytes()).decode("ascii")
                       if schema is not None else None)}


def _origin_of(frame: pd.DataFrame):
    """The :class:`~analysis.data.Origin` a cleaned frame carries, or None."""
    from analysis.data import Origin

    attr = frame.attrs.get(ORIGIN_ATTR)
    if not isinstance(attr, dict):
        return None
    schema = None
    if attr.get("schema"):
        import pyarrow as pa

        schema = pa.ipc.read_schema(pa.py_buffer(base64.b64decode(attr["schema"])))
    return Origin(attr["kind"], delimiter=attr["delimiter"],
                  lineterminator=attr["lineterminator"], bom=attr["bom"], schema=schema)


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
                    scores=None) -> Cleaned:
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
    frame = dataset.frame.copy()
    n = len(frame)
    index = {str(v): r for r, v in enumerate(dataset.ids)}
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
    names = [str(c) for c in dataset.class_names]
    notes = (decisions["note"].fillna("").astype(str).to_numpy() if "note" in decisions
             else np.full(len(ids), ""))
    label_col = dataset.label_column
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
    if relabel_rows:
        as_value = _label_values(dataset, frame, names)
        values = [as_value[lab] for _, lab in relabel_rows]
        positions = [r for r, _ in relabel_rows]
        column = frame[label_col].copy()
        if column.dtype.kind in "iuf" and any(isinstance(v, str) for v in values):
            column = column.astype(object)
        column.iloc[positions] = values
        frame[label_col] = column
    removed_mask = np.zeros(n, dtype=bool)
    removed_mask[rows[actions == "remove"]] = True
    code = {name: k for k, name in enumerate(names)}
    labels_after = np.array(dataset.labels, dtype=np.int64, copy=True)
    for r, lab in relabel_rows:
        labels_after[r] = code[lab]
    labels_after[removed_mask] = -1
    if removed == "flag":
        frame[FLAG_COLUMN] = removed_mask
        out = frame
    else:
        out = frame.loc[~removed_mask]
    if dataset.origin is not None:
        out.attrs[ORIGIN_ATTR] = _origin_attr(dataset.origin)
    num_removed = int(removed_mask.sum())
    kept_out = len(out) if removed == "drop" else n - num_removed
    if kept_out + num_removed != n:  # pragma: no cover - a guard, never expected
        raise ValueError(f"row count mismatch: {kept_out} kept + {num_removed} removed != {n}.")
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
    changes = changes.iloc[np.argsort(rows, kind="stable")].reset_index(drop=True)
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

    A cleaned split (``frame.attrs`` holds its :class:`~analysis.data.Origin`) is written the
    way its source was read: from a CSV, every cell's text as it was (quoted only where
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
        _atomic_write(path, lambda p: frame.to_csv(p, index=False))
    else:
        _atomic_write(path, lambda p: frame.to_parquet(p, index=False))


def _write_source_csv(frame: pd.DataFrame, path: Path, origin) -> None:
    """The text cells as read, with csv quoting only where a cell needs it."""
    import csv

    frame.to_csv(path, index=False, sep=origin.delimiter, lineterminator=origin.lineterminator,
                 quoting=csv.QUOTE_MINIMAL, quotechar='"', doublequote=True,
                 encoding="utf-8-sig" if origin.bom else "utf-8")


def _write_source_parquet(frame: pd.DataFrame, path: Path, origin) -> None:
    """The rows with the source file's column types (added columns typed from their values)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = origin.schema
    fields = []
    for name in frame.columns:
        i = schema.get_field_index(str(name)) if schema is not None else -1
        fields.append(schema.field(i) if i >= 0 else
                      pa.field(str(name), pa.Array.from_pandas(frame[name]).type))
    table = pa.Table.from_pandas(frame, schema=pa.schema(fields), preserve_index=False)
    pq.write_table(table, path)


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    import sklearn

    try:
        own = version("noiselens")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        own = "unknown"
    return {"noiselens": own, "python": platform.python_version(), "numpy": np.__version__,
            "pandas": pd.__version__, "scikit-learn": sklearn.__version__}


def manifest(dataset: Dataset, result: Analysis, cleaned: Cleaned, *, mode: str,
             files: dict[str, str], parameters: dict | None = None) -> dict:
    """The ``manifest.json`` content: what went in, how, and what came out."""
    sizes = class_sizes(dataset, cleaned)
    label_col = dataset.label_column
    return {
        "input": {"source": dataset.source, "fingerprint": dataset.fingerprint,
                  "rows": cleaned.rows_in, "label_column": label_col,
                  "id_column": dataset.id_column},
        "method": {"filter_by": result.filter_by, "rank_by": result.rank_by,
                   "probabilities": result.probabilities_source, "decisions": mode,
                   **(parameters or {})},
        "counts": {"rows_before": cleaned.rows_in, "rows_after": cleaned.rows_out,
                   "relabelled": cleaned.relabelled, "removed": cleaned.removed,
                   "kept_as_is_reviewed": cleaned.kept,
                   "flagged_by_detector": result.num_issues,
                   "per_class_before": dict(zip(sizes["class"], sizes["before"].tolist(),
                                                strict=True)),
                   "per_class_after": dict(zip(sizes["class"], sizes["after"].tolist(),
                                               strict=True))},
        "files": files,
        "versions": _versions(),
        "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


@dataclass(frozen=True)
class ExportResult:
    folder: Path
    files: dict[str, Path]
    cleaned: Cleaned
    manifest: dict


def export_split(dataset: Dataset, result: Analysis, decisions: pd.DataFrame, folder,
                 *, fmt: str = "csv", removed: str = "drop", mode: str = "reviewed",
                 parameters: dict | None = None, stem: str | None = None) -> ExportResult:
    """Write the cleaned split, its change list and ``manifest.json`` into ``folder``.

    Files: ``<stem>_cleaned.<csv|parquet>``, ``<stem>_changes.csv``, ``manifest.json``; each
    written to a temporary name and renamed, so an interrupted export leaves no half file.
    ``mode`` says where the decisions came from (``reviewed`` or ``suggestions``).
    """
    if fmt not in FORMATS:
        raise ValueError(f"format={fmt!r} is not one of: {', '.join(FORMATS)}.")
    folder = Path(folder)
    cleaned = apply_decisions(dataset, decisions, removed=removed, scores=result.scores)
    stem = stem or default_stem(dataset)
    files = {
        "cleaned": folder / f"{stem}_cleaned.{fmt}",
        "changes": folder / f"{stem}_changes.csv",
        "manifest": folder / "manifest.json",
    }
    write_table(cleaned.frame, files["cleaned"], fmt)
    write_table(cleaned.changes, files["changes"], "csv")
    content = manifest(dataset, result, cleaned, mode=mode,
                       files={k: p.name for k, p in files.items()},
                       parameters={"removed_rows": removed, "format": fmt,
                                   **(parameters or {})})
    write_text(files["manifest"], json.dumps(content, indent=2))
    return ExportResult(folder, files, cleaned, content)
