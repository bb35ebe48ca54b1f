"""Limits instead of blow-ups: memory is estimated before the work starts, and what does not
fit is refused with the numbers (issue #13).

The available memory is ``MemAvailable`` of ``/proc/meminfo`` (what the kernel could give
without swapping), or the ``NOISELENS_MEMORY_LIMIT`` environment variable (bytes, or with a
suffix: ``8G``, ``500M``), which wins. Where neither is known nothing is refused.
"""

from __future__ import annotations

import os

#: Bytes per row of the per-row vectors of the core (labels, self-confidence, arg-max,
#: largest other probability, label wins, guess, group order, masks, scores): an upper bound.
ROW_BYTES = 96
#: Dense (K, K) float64/int64 matrices alive at once in the dense estimate (confident joint
#: copies, calibration, joint, both noise matrices and their temporaries, prune counts).
DENSE_MATRICES = 10

#: Rows a table file may hold (``NOISELENS_MAX_ROWS`` raises it). The whole table is held in
#: memory (the dashboard's frame, the cleaned split) and the core keeps ``ROW_BYTES`` per row
#: beside it: 100M rows are ~10 GB of per-row vectors alone before one cell is read. Checked
#: from a Parquet file's metadata before it is read: a 2.5 MB file of 200,000,000 rows of one
#: repeated value decoded past 16 GB (issue #25, a compression bomb).
MAX_TABLE_ROWS = 100_000_000
#: Decoded (in-memory) size a Parquet file may reach (``NOISELENS_MAX_DECODED`` raises it):
#: 4x the 2 GiB file-size limit (``analysis.data.dataset.MAX_FILE_BYTES``), about what a CSV at that
#: limit takes once read as text. Estimated from the metadata (rows x the width of each
#: column's values, plus the uncompressed pages), never by reading the data.
MAX_DECODED_BYTES = 8 * 1024**3
#: Columns a table file's header may name (``NOISELENS_MAX_COLUMNS`` raises it). Counted from
#: the first line before a CSV is parsed: a 5,000,000-column header ran pyarrow for 65 s and
#: 2.4 GB to end in a block-size message (issue #25). The widest real tables (pixel columns
#: of 224 x 224 x 3 images) have ~150,000.
MAX_TABLE_COLUMNS = 200_000


class MemoryLimitError(ValueError):
    """The work would need more memory than is available; the message gives the numbers."""


def human(n: float) -> str:
    """``1.5 GB`` style (powers of 1024)."""
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if abs(n) < 1024 or unit == "TB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"  # pragma: no cover


def _parse_size(text: str) -> int:
    text = text.strip().upper().removesuffix("B")
    scale = {"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}.get(text[-1:], 1)
    number = text[:-1] if text[-1:] in "KMGT" else text
    return int(float(number) * scale)


def table_limit(name: str) -> int:
    """A table limit: ``"rows"`` (:data:`MAX_TABLE_ROWS`), ``"decoded"``
    (:data:`MAX_DECODED_BYTES`) or ``"columns"`` (:data:`MAX_TABLE_COLUMNS`), or its
    ``NOISELENS_MAX_ROWS`` / ``NOISELENS_MAX_DECODED`` / ``NOISELENS_MAX_COLUMNS`` override."""
    env, default = {"rows": ("NOISELENS_MAX_ROWS", MAX_TABLE_ROWS),
                    "decoded": ("NOISELENS_MAX_DECODED", MAX_DECODED_BYTES),
                    "columns": ("NOISELENS_MAX_COLUMNS", MAX_TABLE_COLUMNS)}[name]
    text = os.environ.get(env)
    if not text:
        return default
    text = text.replace(",", "").replace("_", "")
    try:
        return _parse_size(text) if name == "decoded" else int(text)
    except ValueError:
        example = "16G, 500M or 123456789" if name == "decoded" else "200000000"
        raise ValueError(f"{env}={text!r} is not a number (e.g. {example}).") from None


def available_bytes() -> int | None:
    """Memory the work may use: ``NOISELENS_MEMORY_LIMIT`` if set, else ``MemAvailable``."""
    env = os.environ.get("NOISELENS_MEMORY_LIMIT")
    if env:
        try:
            return _parse_size(env)
        except ValueError:
            raise ValueError(f"NOISELENS_MEMORY_LIMIT={env!r} is not a size (e.g. 8G, 500M, "
                             "123456789).") from None
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def check_fits(need: int, what: str, parts: dict[str, int] | None = None,
               hint: str = "") -> None:
    """Raise :class:`MemoryLimitError` when ``need`` bytes exceed the available memory."""
    have = available_bytes()
    if have is None or need <= have:
        return
    detail = ""
    if parts:
        detail = " (" + ", ".join(f"{k} {human(v)}" for k, v in parts.items() if v) + ")"
    raise MemoryLimitError(
        f"{what} needs about {human(need)} of memory{detail} but {human(have)} is available; "
        "nothing was started." + (f" {hint}" if hint else "")
    )


def core_bytes(n: int, k: int, *, sparse: bool, threads: int = 1,
               input_bytes: int = 0) -> dict[str, int]:
    """Estimated allocations of the confident-learning core on N rows and K classes beyond
    the probabilities themselves (plus ``input_bytes`` when they must be copied)."""
    parts = {"per-row vectors": ROW_BYTES * n}
    if input_bytes:
        parts["a float copy of pred_probs"] = input_bytes
    if sparse:
        # at most N + K non-zero entries per sparse matrix, ~20 bytes each, a few matrices
        parts["sparse matrices"] = 6 * 20 * (n + k)
    else:
        parts[f"{DENSE_MATRICES + threads} dense {k:,} x {k:,} matrices"] = (
            (DENSE_MATRICES + threads) * 8 * k * k
        )
    return parts


def check_core(n: int, k: int, *, sparse: bool, threads: int = 1, input_bytes: int = 0,
               what: str = "the confident-learning core") -> None:
    """Refuse the core before it starts when its estimate does not fit."""
    parts = core_bytes(n, k, sparse=sparse, threads=threads, input_bytes=input_bytes)
    check_fits(sum(parts.values()), f"{what} on {n:,} rows x {k:,} classes", parts,
               "Give pred_probs as a .npy path (read in chunks), or set "
               "NOISELENS_MEMORY_LIMIT if the estimate is wrong for this machine.")


def check_dense_matrices(k: int, per_entry: int, what: str) -> None:
    """Refuse an option that needs dense (K, K) matrices (``per_entry`` bytes per entry in
    all) when they do not fit."""
    need = per_entry * k * k
    check_fits(need, f"{what} with {k:,} classes (dense {k:,} x {k:,} matrices)",
               hint="Use the defaults: they keep the matrices sparse.")


def probabilities_bytes(n: int, k: int, arrays: int) -> dict[str, int]:
    """Estimated memory of out-of-fold training: ``arrays`` (N, K) float64 probability arrays
    (:func:`analysis.model.probabilities.training_arrays`) and the per-row vectors."""
    return {
        f"{arrays} x (N, K) float64 probabilities": arrays * 8 * n * k,
        "per-row vectors": ROW_BYTES * n,
    }


def check_training(n: int, k: int, arrays: int, what: str) -> None:
    """Refuse out-of-fold training whose probabilities would not fit, before it starts."""
    parts = probabilities_bytes(n, k, arrays)
    check_fits(sum(parts.values()), f"{what} on {n:,} rows x {k:,} classes", parts,
               "Give out-of-fold pred_probs instead (--pred-probs FILE.npy), fewer candidates, "
               "or set NOISELENS_MEMORY_LIMIT if the estimate is wrong for this machine.")


def num_threads() -> int:
    import numba

    return int(numba.get_num_threads())


__all__ = ["MAX_DECODED_BYTES", "MAX_TABLE_COLUMNS", "MAX_TABLE_ROWS", "MemoryLimitError",
           "available_bytes", "check_core", "check_dense_matrices", "check_fits",
           "check_training", "core_bytes", "human", "table_limit"]
