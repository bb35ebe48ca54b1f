"""Formula guard for the CSV files people open in a spreadsheet.

A text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read by
Excel, LibreOffice and Google Sheets as a formula (CSV injection): a class name
``=HYPERLINK("http://host","x")`` becomes a live link when a manager opens ``per_class.csv``.
The human-facing files (``label_issues.csv``, ``per_class.csv``, the matrices, the change
list) therefore get a leading ``'`` on such text cells, which spreadsheets show as text and hide.
Numbers are untouched (``-0.5`` stays a number). The cleaned split is data for the next
training run and is never guarded: it stays byte-faithful to the input.
"""

from __future__ import annotations

import pandas as pd

#: First characters that make a spreadsheet read a cell as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def guard_text(value):
    """``value`` with a leading ``'`` when it is text that a spreadsheet would run."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def guard_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells (and column names) cannot start a formula.

    Parameters
    ----------
    frame : DataFrame

    Returns
    -------
    DataFrame
        Same shape and order; only ``str`` cells starting with one of
        :data:`FORMULA_STARTS` change, to ``"'" + cell``. Numeric columns are returned as they
        are.
    """
    out = frame.copy()
    for column in out.columns:
        values = out[column]
        if values.dtype == object or pd.api.types.is_string_dtype(values):
            out[column] = pd.Series([guard_text(v) for v in values], index=values.index,
                                    dtype=values.dtype, name=values.name)
    out.columns = [guard_text(c) if isinstance(c, str) else c for c in out.columns]
    if isinstance(out.index, pd.Index) and out.index.dtype == object:
        out.index = out.index.map(guard_text)
    return out
