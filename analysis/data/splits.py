"""Leakage across splits: near-duplicates that sit in different splits (train / validation /
test), and those whose labels differ.

A dataset carries its split in a column (``split``, ``subset``, ``partition``, ``fold`` or
``set``, or one named by the caller), or comes as several files joined with
:func:`concat_splits`. The pairs come from the near-duplicate search of
:mod:`analysis.signals.compute` (the same threshold), so a pair is seen when one row is among the
other's ``k`` nearest neighbours: in a group of more than ``k + 1`` identical rows some
cross-split pairs may be missing, but every leaking row of such a group shows in one pair.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.core._helpers import to_csv
from analysis.data.dataset import DataError, load_dataset, read_table
from analysis.data.schema import MAX_SPLITS, SPLIT_NAMES


def split_column(dataset, column: str | None = None) -> str | None:
    """The dataset's split column: ``column`` if given (must exist), else the first column
    named as in :data:`SPLIT_NAMES` holding 2 to :data:`MAX_SPLITS` distinct values.

    Raises
    ------
    ValueError
        ``column`` is not a column of the dataset, or has more than :data:`MAX_SPLITS` values.
    """
    columns = [str(c) for c in dataset.frame.columns]
    if column is not None:
        if column not in columns:
            raise ValueError(f"{dataset.source}: split column '{column}' not found; columns are "
                             f"{columns}.")
        count = dataset.frame[column].nunique(dropna=False)
        if count > MAX_SPLITS:
            raise ValueError(f"{dataset.source}: split column '{column}' holds {count} distinct "
                             f"values; a split has at most {MAX_SPLITS}.")
        return column
    lower = {c.lower(): c for c in reversed(columns)}
    for name in SPLIT_NAMES:
        col = lower.get(name)
        if col is not None and col not in (dataset.label_column, dataset.id_column):
            count = dataset.frame[col].nunique(dropna=False)
            if 2 <= count <= MAX_SPLITS:
                return col
    return None


def split_values(dataset, column: str) -> np.ndarray:
    """The split of every row as text (an empty cell is ``""``)."""
    return dataset.frame[column].astype("string").fillna("").to_numpy(dtype=object)


def leakage(pairs: pd.DataFrame, splits) -> pd.DataFrame:
    """The near-duplicate pairs whose rows sit in different splits.

    Parameters
    ----------
    pairs : DataFrame
        From :func:`analysis.model.neighbours.near_duplicates` (``row_a``, ``row_b``, ``distance``,
        ``label_a``, ``label_b``, ``conflicting``).
    splits : array-like of shape (N,)
        The split of every row.

    Returns
    -------
    DataFrame
        The cross-split pairs with ``split_a`` and ``split_b`` added, in the order of
        ``pairs`` (nearest first). ``conflicting`` pairs are the same content with two labels
        across splits: a wrong label, and one the evaluation will count against the model.
    """
    splits = np.asarray(splits, dtype=object)
    a = pairs["row_a"].to_numpy(dtype=np.int64)
    b = pairs["row_b"].to_numpy(dtype=np.int64)
    cross = splits[a] != splits[b]
    out = pairs.loc[cross].reset_index(drop=True).copy()
    out.insert(2, "split_a", splits[a[cross]])
    out.insert(3, "split_b", splits[b[cross]])
    return out


def split_check(dataset, signals, labels=None, column: str | None = None) -> dict | None:
    """The manifest's split check, or None when the dataset has no split column.

    Returns
    -------
    dict or None
        ``column``, ``rows_per_split``, ``leaking_pairs`` (near-duplicates across splits),
        ``conflicting_pairs`` (of those, with different labels), ``leaking_rows`` per split
        and up to 20 ``examples`` (ids, splits, distance, conflicting).
    """
    col = split_column(dataset, column)
    if col is None:
        return None
    splits = split_values(dataset, col)
    leaks = leakage(signals.duplicates, splits)
    ids = np.asarray(dataset.ids)
    rows = np.unique(np.concatenate([leaks["row_a"].to_numpy(), leaks["row_b"].to_numpy()]))
    values, counts = np.unique(splits, return_counts=True)
    leaking = pd.Series(splits[rows]).value_counts()
    return {
        "column": col,
        "rows_per_split": {str(v): int(c) for v, c in zip(values, counts, strict=True)},
        "leaking_pairs": int(len(leaks)),
        "conflicting_pairs": int(leaks["conflicting"].sum()),
        "leaking_rows": {str(k): int(v) for k, v in leaking.items()},
        "examples": [
            {"id_a": str(ids[r.row_a]), "split_a": str(r.split_a), "id_b": str(ids[r.row_b]),
             "split_b": str(r.split_b), "distance": round(float(r.distance), 6),
             "conflicting": bool(r.conflicting)}
            for r in leaks.head(20).itertuples()
        ],
    }


def concat_splits(frames: Mapping[str, pd.DataFrame], column: str = "split") -> pd.DataFrame:
    """Several files as one frame with a split column (the mapping's keys, e.g. file stems).

    Raises
    ------
    ValueError
        Fewer than two frames, their columns differ, or one already has ``column``.
    """
    if len(frames) < 2:
        raise ValueError(f"give at least two splits to join, got {len(frames)}.")
    names = list(frames)
    first = [str(c) for c in frames[names[0]].columns]
    for name in names:
        cols = [str(c) for c in frames[name].columns]
        if column in cols:
            raise ValueError(f"split '{name}' already has a column '{column}': choose another "
                             "name for the split column.")
        if cols != first:
            missing = sorted(set(first) ^ set(cols))
            raise ValueError(f"split '{name}' has other columns than split '{names[0]}' "
                             f"(differing: {missing[:10]}).")
    parts = [frames[name].assign(**{column: name}) for name in names]
    return pd.concat(parts, ignore_index=True)


def load_splits(paths: Sequence, label_column: str | None = None, *, column: str = "split",
                **options):
    """Several files (train, validation, test, ...) as one dataset with a split column.

    Each file is read as :func:`analysis.data.dataset.read_table` reads it, the files are joined by
    :func:`concat_splits` (split = the file's name without its suffix) and the join is loaded
    by :func:`analysis.data.dataset.load_dataset` (same inference, same messages; row numbers in a
    message count rows of the join, in the order of ``paths``). The result's ``source`` is
    ``"train.csv + test.csv"``; its folder is the first file's (the review decisions are kept
    under that name). The cleaned split is one CSV file (Parquet when every input is) with the
    split column.

    Parameters
    ----------
    paths : sequence of path
        Two or more CSV / TSV / Parquet files with the same columns.
    label_column, **options
        As :func:`analysis.data.dataset.load_dataset`.
    column : str, default="split"
        Name of the split column added.

    Returns
    -------
    Dataset

    Raises
    ------
    DataError
        Fewer than two files, two files with the same name, columns that differ, a folder, or
        anything :func:`analysis.data.dataset.load_dataset` rejects in the join.
    """
    import tempfile
    from dataclasses import replace

    files = [Path(p) for p in paths]
    if len(files) < 2:
        raise DataError(f"give at least two files to join as splits, got {len(files)}.")
    names = [f.stem for f in files]
    seen: dict[str, Path] = {}
    for f, name in zip(files, names, strict=True):
        if f.is_dir():
            raise DataError(f"{f.name}: a folder cannot be joined as a split; give files.")
        if name in seen:
            raise DataError(f"{seen[name]} and {f} are both split '{name}': give files with "
                            "different names.")
        seen[name] = f
    frames = {name: read_table(f) for f, name in zip(files, names, strict=True)}
    try:
        joined = concat_splits(frames, column)
    except ValueError as exc:
        raise DataError(f"{' + '.join(f.name for f in files)}: {exc}") from None
    source = " + ".join(f.name for f in files)
    parquet = all(f.suffix.lower() in (".parquet", ".pq") for f in files)
    with tempfile.TemporaryDirectory(prefix="noiselens-splits-") as tmp:
        path = Path(tmp) / ("joined.parquet" if parquet else "joined.csv")
        if parquet:
            joined.to_parquet(path, index=False)
        else:
            to_csv(joined, path)
        try:
            dataset = load_dataset(path, label_column, **options)
        except DataError as exc:
            raise DataError(str(exc).replace(path.name, source, 1)) from None
    return replace(dataset, source=source, base_dir=files[0].resolve().parent)
