"""Reading files (internal): a CSV read as text, every cell as written (its delimiter, line
ending, byte-order mark and quoting kept in :class:`~analysis.data.dataset.Origin`), a Parquet
file with its schema; both checked against the table limits before they are read.
"""

from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from analysis.core.limits import human, table_limit
from analysis.data._basics import DELIMITERS, MAX_FILE_BYTES, DataError, Origin
from analysis.data._roles import _check_column_names
from analysis.data.quoting import detect


def _sniff(p: Path, suffix: str) -> Origin:
    """Delimiter, line ending and byte-order mark of a CSV file, from its first line."""
    with open(p, "rb") as fh:
        head = fh.read(1 << 16)
    bom = head.startswith(b"\xef\xbb\xbf")
    if bom:
        head = head[3:]
    end = head.find(b"\n")
    cr = head.find(b"\r")
    if end < 0 and cr < 0:
        ending = "\n"
    elif end > 0 and head[end - 1:end] == b"\r":
        ending = "\r\n"
    elif cr >= 0 and (end < 0 or cr < end):
        ending = "\r"
    else:
        ending = "\n"
    first = head[: end if end >= 0 else len(head)].rstrip(b"\r").decode("utf-8", "replace")
    if suffix == ".tsv":
        delimiter = "\t"
    else:
        try:
            delimiter = csv.Sniffer().sniff(first, delimiters=DELIMITERS).delimiter
        except csv.Error:
            delimiter = ","
        if delimiter != "," and "," in first:
            # a comma-separated header whose names hold other marks: count outside quotes
            counts = {d: sum(f.count(d) for f in first.split('"')[::2]) for d in DELIMITERS}
            delimiter = max(DELIMITERS, key=lambda d: (counts[d], d == ","))
    return Origin("csv", delimiter=delimiter, lineterminator=ending, bom=bom)


def _not_utf8(p: Path, err_start: int | None = None) -> DataError:
    data = p.read_bytes()
    if err_start is None:
        try:
            data.decode("utf-8")
            err_start = 0
        except UnicodeDecodeError as err:
            err_start = err.start
    line = data[:err_start].count(b"\n") + 1
    return DataError(f"{p.name}: not UTF-8 text (byte {err_start}, line {line}); save the file "
                     "as UTF-8.")


_SEPARATOR_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}


def _ragged_row(p: Path, origin: Origin, width: int) -> str | None:
    """The first data row whose number of cells differs from the header's (for messages)."""
    try:
        with open(p, newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh, delimiter=origin.delimiter)
            next(reader, None)
            for i, row in enumerate(reader):
                if row and len(row) != width:
                    return (f"row {i} (line {reader.line_num}) has {len(row)} cells but the "
                            f"header has {width} ({_SEPARATOR_NAMES[origin.delimiter]}-separated)"
                            + _single_quote_hint(row, origin, width))
    except (csv.Error, UnicodeDecodeError):  # pragma: no cover - reported by the caller
        return None
    return None


def _single_quote_hint(row: list[str], origin: Origin, width: int) -> str:
    """A hint when the row has the header's width once ``'`` is read as the quote character:
    the file quotes its cells with single quotes, which CSV (RFC 4180) does not."""
    line = origin.delimiter.join(row)
    again = next(csv.reader([line], delimiter=origin.delimiter, quotechar="'"), [])
    if "'" in line and len(again) == width:
        return ("; its cells look quoted with single quotes ('), which CSV does not quote with: "
                "save the file with double quotes (\")")
    return ""


def _header_columns(p: Path, delimiter: str, block: int = 1 << 20) -> int:
    """The number of columns the header line names, counted from its bytes (delimiters
    outside double quotes, up to the first line break outside them) a block at a time,
    without parsing it: constant memory, ~0.1 s for a 64 MB line."""
    sep, quote = delimiter.encode(), b'"'
    count, quoted = 1, False
    with open(p, "rb") as fh:
        while True:
            chunk = fh.read(block)
            if not chunk:
                return count
            parts = chunk.split(quote)
            for j, part in enumerate(parts):
                if j:
                    quoted = not quoted
                if quoted:
                    continue
                ends = [e for e in (part.find(b"\n"), part.find(b"\r")) if e >= 0]
                if ends:
                    return count + part[:min(ends)].count(sep)
                count += part.count(sep)


def _check_header_width(p: Path, origin: Origin) -> None:
    """Refuse a header naming more columns than :data:`analysis.core.limits.MAX_TABLE_COLUMNS`
    before it is parsed (a 5,000,000-column header ran pyarrow for 65 s and 2.4 GB)."""
    limit = table_limit("columns")
    count = _header_columns(p, origin.delimiter)
    if count > limit:
        sep = _SEPARATOR_NAMES[origin.delimiter]
        raise DataError(f"{p.name}: the header line names {count:,} columns ({sep}-separated), "
                        f"more than the limit of {limit:,}; nothing was read. Check the "
                        "delimiter and the first line, or raise the limit with "
                        "NOISELENS_MAX_COLUMNS if the columns are meant.")


def _read_csv_text(p: Path, suffix: str) -> tuple[pd.DataFrame, Origin]:
    """Every cell of a CSV file as text, exactly as written; columns named by the header."""
    name = p.name
    origin = _sniff(p, suffix)
    _check_header_width(p, origin)
    try:
        with open(p, newline="", encoding="utf-8-sig") as fh:
            header = next(csv.reader(fh, delimiter=origin.delimiter), None)
    except UnicodeDecodeError as err:
        raise _not_utf8(p, err.start + (3 if origin.bom else 0)) from None
    except csv.Error as err:
        raise DataError(f"{name}: the header line cannot be read as CSV: {err}") from None
    if not header:
        raise DataError(f"{name}: the file is empty (no header line).")
    _check_column_names(header, name)
    if origin.delimiter == ";" and len(header) == 1:  # pragma: no cover - sniffer guard
        raise DataError(f"{name}: semicolon-separated: the header has one column only.")
    try:
        table = pacsv.read_csv(
            p,
            read_options=pacsv.ReadOptions(column_names=header, skip_rows=1,
                                           block_size=1 << 24),
            parse_options=pacsv.ParseOptions(delimiter=origin.delimiter,
                                             newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types={c: pa.string() for c in header}, strings_can_be_null=False,
                quoted_strings_can_be_null=False, null_values=[]),
        )
    except pa.ArrowInvalid as err:
        text = str(err)
        if "UTF8" in text or "utf8" in text.lower():
            raise _not_utf8(p) from None
        if "columns" in text:
            where = _ragged_row(p, origin, len(header)) or (
                "a row has a different number of cells than the header "
                f"({_SEPARATOR_NAMES[origin.delimiter]}-separated)")
            raise DataError(f"{name}: {where}.") from None
        raise DataError(f"{name}: cannot be read as CSV: {text}") from None
    if table.num_rows == 0:
        raise DataError(f"{name}: the file has no rows.")
    frame = table.to_pandas()
    frame.columns = list(header)
    quoting = detect(p, frame, origin.delimiter, origin.lineterminator, origin.bom)
    return frame, (replace(origin, quoting=quoting) if quoting else origin)


def _decoded_bytes(metadata, schema) -> int:
    """An estimate of a Parquet file's size once decoded, from its metadata alone: every
    value's width (8 bytes, a pointer, for strings and other variable-width values) times the
    rows, plus the uncompressed pages (the string bytes). Encodings (dictionary, run-length)
    make the pages of a repeated value tiny, so the pages alone say nothing of the size."""
    width = 0
    for field_ in schema:
        try:
            width += max(1, field_.type.bit_width // 8)
        except ValueError:  # variable width (strings, lists, ...): a pointer per value
            width += 8
        if pa.types.is_dictionary(field_.type):  # pragma: no cover - read as its values
            width += 8
    pages = sum(metadata.row_group(i).total_byte_size for i in range(metadata.num_row_groups))
    return metadata.num_rows * width + pages


def _check_parquet_size(p: Path) -> None:
    """Refuse, from the metadata, a file whose rows or decoded size pass the limits of
    :mod:`analysis.core.limits` (a compression bomb), before anything is read."""
    try:
        meta = pq.ParquetFile(p)
        metadata, schema = meta.metadata, meta.schema_arrow
    except (pa.ArrowException, OSError) as err:
        raise DataError(f"{p.name}: cannot be read as Parquet: {err}") from None
    rows, max_rows = metadata.num_rows, table_limit("rows")
    if rows > max_rows:
        raise DataError(f"{p.name}: the file holds {rows:,} rows (from its metadata), more than "
                        f"the limit of {max_rows:,}; nothing was read. Split the file, or raise "
                        "the limit with NOISELENS_MAX_ROWS if this machine can hold it.")
    decoded, max_decoded = _decoded_bytes(metadata, schema), table_limit("decoded")
    if decoded > max_decoded:
        raise DataError(f"{p.name}: the file ({human(p.stat().st_size)} on disk, {rows:,} rows "
                        f"x {len(schema.names):,} columns) decodes to about {human(decoded)}, "
                        f"more than the limit of {human(max_decoded)}; nothing was read. Split "
                        "the file, or raise the limit with NOISELENS_MAX_DECODED (e.g. 32G).")
    max_columns = table_limit("columns")
    if len(schema.names) > max_columns:
        raise DataError(f"{p.name}: the file has {len(schema.names):,} columns, more than the "
                        f"limit of {max_columns:,}; nothing was read. Raise it with "
                        "NOISELENS_MAX_COLUMNS if the columns are meant.")


def _read_parquet(p: Path) -> tuple[pd.DataFrame, Origin]:
    _check_parquet_size(p)
    try:
        table = pq.read_table(p)
    except (pa.ArrowException, OSError) as err:
        raise DataError(f"{p.name}: cannot be read as Parquet: {err}") from None
    _check_column_names(table.column_names, p.name)
    schema = table.schema
    try:
        # each Arrow column is freed as soon as it is converted: the file is not held twice
        # (a 1M x 119 file peaked ~450 MB higher without it)
        frame = table.to_pandas(split_blocks=True, self_destruct=True)
    except (pa.ArrowException, ValueError, TypeError) as err:
        raise DataError(f"{p.name}: cannot convert the Parquet columns: {err}") from None
    del table
    return frame.reset_index(drop=True), Origin("parquet", schema=schema)


def _read_source(path: str | Path, max_bytes: int = MAX_FILE_BYTES) -> tuple[pd.DataFrame, Origin]:
    p = Path(path)
    name = p.name
    if not p.exists():
        raise DataError(f"{name}: file not found ({p}).")
    size = p.stat().st_size
    if size > max_bytes:
        raise DataError(f"{name}: {size / 2**20:.0f} MiB is larger than the limit of "
                        f"{max_bytes / 2**20:.0f} MiB.")
    suffix = p.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return _read_parquet(p)
    if suffix in (".csv", ".tsv", ".txt"):
        return _read_csv_text(p, suffix)
    raise DataError(f"{name}: unsupported file type '{suffix}'; use CSV, TSV or Parquet "
                    "(pickle files are never opened).")


def read_table(path: str | Path, *, max_bytes: int = MAX_FILE_BYTES) -> pd.DataFrame:
    """Read a CSV / TSV / Parquet file with clear errors (no pickle, size limit, UTF-8).

    A CSV file comes back as text: every column ``str``, each cell as written in the file
    (the delimiter, ``,`` ``;`` tab or ``|``, is detected from the header line).
    """
    return _read_source(path, max_bytes)[0]


def read_source(path: str | Path, *,
                max_bytes: int = MAX_FILE_BYTES) -> tuple[pd.DataFrame, Origin]:
    """:func:`read_table` and the file's :class:`Origin` (how it is written, so that a changed
    copy is written the same way: the multi-label cleaned split, #28)."""
    return _read_source(path, max_bytes)


def read_columns(path: str | Path, *, max_bytes: int = MAX_FILE_BYTES) -> list[str]:
    """The column names :func:`read_table` gives for ``path``, in order.

    A Parquet file's come from its schema alone (its pandas index columns left out, as
    ``read_table`` makes them the index), so a 500 MB file is not read for its names; other
    files are read with :func:`read_table`. Raises :class:`DataError` as ``read_table``.
    """
    p = Path(path)
    if p.suffix.lower() not in (".parquet", ".pq") or not p.is_file():
        return [str(c) for c in read_table(p, max_bytes=max_bytes).columns]
    if p.stat().st_size > max_bytes:
        return [str(c) for c in read_table(p, max_bytes=max_bytes).columns]  # its message
    try:
        schema = pq.read_schema(p)
    except (pa.ArrowException, OSError) as err:
        raise DataError(f"{p.name}: cannot be read as Parquet: {err}") from None
    index = {c for c in (schema.pandas_metadata or {}).get("index_columns", [])
             if isinstance(c, str)}
    names = [str(c) for c in schema.names if c not in index]
    _check_column_names(names, p.name)
    return names
