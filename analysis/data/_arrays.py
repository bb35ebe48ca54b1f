"""Arrays from files (internal): out-of-fold probabilities and embeddings from ``.npy`` (the
header checked before anything is loaded) or a probability CSV, one row per dataset row.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.core.npy import NpyError, npy_header
from analysis.data._basics import DataError, _fail
from analysis.data._cells import _number_matrix


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
