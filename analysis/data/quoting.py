"""How a CSV file quotes its cells, so that the cleaned split quotes them the same way.

A CSV file is read as text, every cell as written (analysis.data.dataset), but the reader drops the
quotes: a file written with every string quoted (``csv.QUOTE_NONNUMERIC``) or every cell
quoted (``csv.QUOTE_ALL``) would come back quoted only where a cell needs it. :func:`detect`
finds which cells were quoted, in one vectorised pass over the file's bytes, and sums it up
per column as a rule (``minimal``: only where needed, ``all``, ``nonnumeric``: every cell that
is not a number) and the rows that break the rule; :func:`quoted_cells` gives the cells to
quote when writing, so that an untouched line is written back byte for byte and a changed cell
is quoted like its neighbours.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

#: bytes read per step of the scan: the position arrays of one step stay a few tens of MB
CHUNK_BYTES = 1 << 24

RULES = ("minimal", "all", "nonnumeric")

#: a cell Python's csv.QUOTE_NONNUMERIC (and pandas) writes unquoted: an int or float's text
NUMERIC = r"^[+-]?((\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?|nan|inf|infinity)$"

_QUOTE = ord('"')
_CR = ord("\r")


def _needs_quotes(arr, delimiter: str, quote_empty: bool):
    """Cells that must be quoted whatever the style: a delimiter, a quote or a line break."""

    needs = pc.match_substring_regex(arr, f"[{delimiter}\"\r\n]")
    if quote_empty:
        needs = pc.or_(needs, pc.equal(arr, ""))
    return needs


def _expected(arr, rule: str, delimiter: str, quote_empty: bool) -> np.ndarray:
    """The cells ``rule`` quotes, as a bool array."""

    needs = _needs_quotes(arr, delimiter, quote_empty)
    if rule == "all":
        return np.ones(len(arr), dtype=bool)
    if rule == "nonnumeric":
        numeric = pc.match_substring_regex(arr, NUMERIC, ignore_case=True)
        needs = pc.or_(needs, pc.invert(numeric))
    return np.asarray(needs.to_numpy(zero_copy_only=False), dtype=bool)


def _scan(path: Path, delimiter: str, lineterminator: str, bom: bool):
    """The quoted cell starts and the records of a CSV file, from its bytes.

    The k-th quote character of the file opens a quoted section when k is even; a byte is
    outside quotes when the number of quotes before it is even. A cell is quoted when its
    first byte is such an opening quote (right after the file start, an outside delimiter or
    an outside record separator).

    Returns ``(starts, starts_delims, ends, ends_delims, cr_before, size)``: the positions of
    the quoted cell starts and the number of outside delimiters before each; the positions of
    the outside record separators, the outside delimiters before each and whether a carriage
    return precedes it; the size of the content (after the byte-order mark).
    """
    delim = ord(delimiter)
    sep = _CR if lineterminator == "\r" else ord("\n")
    starts, starts_d, ends, ends_d, cr = [], [], [], [], []
    quotes = delims = 0
    prev = sep  # the file start acts as a record separator
    base = 0
    with open(path, "rb") as fh:
        if bom:
            fh.read(3)
        while True:
            data = fh.read(CHUNK_BYTES)
            if not data:
                break
            b = np.frombuffer(data, dtype=np.uint8)
            isq = b == _QUOTE
            qpos = np.flatnonzero(isq)
            # 1 inside quotes (an odd number of quotes so far); uint8 wraps at 256, even
            inside = (np.cumsum(isq, dtype=np.uint8) + np.uint8(quotes & 1)) & np.uint8(1)
            outside = inside == 0
            dout = np.flatnonzero((b == delim) & outside)
            rout = np.flatnonzero((b == sep) & outside)
            del inside, outside, isq
            opening = qpos[((quotes + np.arange(len(qpos))) & 1) == 0]
            before = np.where(opening > 0, b[np.maximum(opening - 1, 0)], prev)
            opening = opening[(before == delim) | (before == sep)]
            starts.append(opening + base)
            starts_d.append(delims + np.searchsorted(dout, opening))
            ends.append(rout + base)
            ends_d.append(delims + np.searchsorted(dout, rout))
            cr.append(np.where(rout > 0, b[np.maximum(rout - 1, 0)], prev) == _CR)
            quotes += len(qpos)
            delims += len(dout)
            prev = int(b[-1])
            base += len(b)
    return (np.concatenate(starts or [np.zeros(0, np.int64)]),
            np.concatenate(starts_d or [np.zeros(0, np.int64)]),
            np.concatenate(ends or [np.zeros(0, np.int64)]),
            np.concatenate(ends_d or [np.zeros(0, np.int64)]),
            np.concatenate(cr or [np.zeros(0, bool)]), base, delims)


def _quoted_matrix(path: Path, delimiter: str, lineterminator: str, bom: bool,
                   rows: int, width: int) -> np.ndarray | None:
    """``(rows + 1, width)`` bools: the header's and each row's quoted cells; None when the
    file's records cannot be lined up with the rows read (then the style is not kept)."""
    starts, starts_d, ends, ends_d, cr, size, total_delims = _scan(path, delimiter,
                                                                   lineterminator, bom)
    if len(ends) == 0 or ends[-1] != size - 1:  # a last line without a line ending
        ends = np.append(ends, size)
        ends_d = np.append(ends_d, total_delims)
        cr = np.append(cr, False)
    begins = np.concatenate([[0], ends[:-1] + 1])
    begin_d = np.concatenate([[0], ends_d[:-1]])
    length = ends - begins
    empty = (length == 0) | ((length == 1) & cr)  # blank lines: the reader skips them
    if int((~empty).sum()) != rows + 1:
        return None
    cells = ends_d - begin_d + 1
    if np.any(cells[~empty] != width):
        return None
    record = np.searchsorted(ends, starts, side="left")
    row = np.cumsum(~empty)[record] - 1  # 0 = the header
    col = starts_d - begin_d[record]
    quoted = np.zeros((rows + 1, width), dtype=bool)
    ok = ~empty[record] & (col >= 0) & (col < width)
    quoted[row[ok], col[ok]] = True
    return quoted


def detect(path, frame, delimiter: str, lineterminator: str, bom: bool) -> dict | None:
    """How the CSV file at ``path`` (read into ``frame``, every cell text) quotes its cells.

    Returns
    -------
    dict or None
        None when the file quotes only where a cell needs it (the writer's default) or when
        its lines cannot be lined up with the rows; else ``columns`` (the names), ``header``
        (per column, whether its name is quoted), ``rules`` (per column, one of
        :data:`RULES`) and ``flips`` (per column, the row positions where the file breaks
        the rule), all JSON-safe.
    """

    width = frame.shape[1]
    quoted = _quoted_matrix(Path(path), delimiter, lineterminator, bom, len(frame), width)
    if quoted is None:
        return None
    single = width == 1
    header = [str(c) for c in frame.columns]
    header_needs = _expected(pa.array(header, pa.large_string()), "minimal", delimiter, single)
    rules, flips = [], []
    for i, name in enumerate(frame.columns):
        arr = pa.array(frame[name].array, type=pa.large_string(), from_pandas=True)
        arr = arr.fill_null("")
        got = quoted[1:, i]
        needs = _expected(arr, "minimal", delimiter, single)
        if np.array_equal(got, needs):  # the common cases first, one pass each
            best = ("minimal", np.zeros(0, np.int64))
        elif got.all():
            best = ("all", np.zeros(0, np.int64))
        else:
            best = None
            for rule in RULES:
                wrong = np.flatnonzero(_expected(arr, rule, delimiter, single) != got)
                if best is None or len(wrong) < len(best[1]):
                    best = (rule, wrong)
        rules.append(best[0])
        flips.append(best[1].tolist())
    if (all(r == "minimal" for r in rules) and not any(flips)
            and np.array_equal(quoted[0], header_needs)):
        return None
    return {"columns": header, "header": quoted[0].tolist(), "rules": rules, "flips": flips}


def quoted_cells(quoting: dict | None, column_index: int | None, arr, positions: np.ndarray,
                 delimiter: str, quote_empty: bool) -> np.ndarray:
    """Which cells of one output column to quote.

    Parameters
    ----------
    quoting : dict or None
        :func:`detect`'s answer for the source file.
    column_index : int or None
        The column's position in the source file (None: a column the export adds; it is
        quoted when the source quotes every cell of every column).
    arr : pyarrow string array
        The cells to write.
    positions : ndarray of int
        The source row of each cell (the cleaned frame's index).
    """
    needs = _expected(arr, "minimal", delimiter, quote_empty)
    if quoting is None:
        return needs
    if column_index is None:
        return needs | all(r == "all" for r in quoting["rules"])
    expected = _expected(arr, quoting["rules"][column_index], delimiter, quote_empty)
    flips = quoting["flips"][column_index]
    if flips:
        expected = expected ^ np.isin(positions, np.asarray(flips, dtype=np.int64))
    return needs | expected


def quoted_header(quoting: dict | None, names: list[str], delimiter: str,
                  quote_empty: bool) -> np.ndarray:
    """Which header cells to quote: as in the source; an added column's name quoted when
    every name of the source is."""

    needs = _expected(pa.array(names, pa.large_string()), "minimal", delimiter, quote_empty)
    if quoting is None:
        return needs
    where = {n: i for i, n in enumerate(quoting["columns"])}
    every = all(quoting["header"])
    given = np.array([quoting["header"][where[n]] if n in where else every for n in names],
                     dtype=bool)
    return needs | given
