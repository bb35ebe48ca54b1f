"""The confident-learning core over row chunks: out of core (``.npy``, zarr) and on Dask.

``find_label_issues``, ``estimate_noise``, ``label_quality_scores``, ``confident_joint`` and
``confident_thresholds`` accept, instead of an in-memory ``(N, K)`` array, the path of a
``.npy`` file (memory-mapped, never read whole), a zarr array (or the path of one), or a
``dask.array.Array``; an in-memory array with ``chunk_rows`` set takes the same route. The
outputs are identical to the in-memory call: every row-wise quantity comes from the same
compiled kernels (:mod:`analysis.core._kernels`) run on each chunk, and what needs all rows is
merged exactly:

1. **facts** (one pass): input checks, self-confidence, arg-max, largest other probability
   and "label wins" per row (N-vectors). The thresholds are the per-class means of the
   self-confidence, computed from that N-vector as in memory (not from per-chunk sums, whose
   rounding would differ in the last bit).
2. **guess** (one pass): the estimated true class of each row given the thresholds; the
   confident joint counts them (integer sums: exact in any order).
3. **candidates** (``prune_by_noise_rate`` only, one pass): per (given class k, other class j)
   pair, a bounded max-heap keeps the ``C[j, k]`` rows of smallest ``p_k - p_j``
   (:func:`analysis.core._kernels.margin_heaps`). Locally one set of heaps is fed every chunk in
   row order, so it ends as the in-memory kernel's; on Dask each chunk fills its own heaps and
   the merge keeps the ``C[j, k]`` smallest of the chunks' candidates. A tie at the boundary
   is detected exactly as in memory and then decided by the same sort over that class's
   margins (one more pass, tied pairs only).
4. **entropy** (``confidence_weighted_entropy`` only, one pass).

Memory: one chunk of ``chunk_rows x K`` values (plus a float64 copy if the source is not
float32/float64) and the per-row vectors: about 50 bytes per row (labels, self-confidence,
arg-max, largest other probability, guess, group order, mask), plus the per-pair candidates
(16 bytes per candidate; at most the number of rows flagged per chunk) and the (K, K)
confident joint. The ``(N, K)`` array itself is never held: with ``chunk_rows`` chosen by
:data:`DEFAULT_CHUNK_BYTES` (64 MiB), the part that grows with K is bounded.

On Dask, each pass maps a function over the row blocks (the array is rechunked to one block
of columns) on the workers; only the per-row vectors and the candidates come back to the
client, never the ``(N, K)`` array. With a ``dask.distributed.Client`` active, its cluster
runs the passes.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import cached_property, partial
from pathlib import Path
from typing import Any

import numpy as np

from analysis.core import _kernels, limits, sparse
from analysis.core._helpers import Progress, no_progress
from analysis.core._validation import (
    PROB_TOLERANCE,
    as_float,
    check_labels,
    check_shapes,
    describe_rows,
    problem_message,
)
from analysis.core.evidence import Evidence
from analysis.core.npy import NpyError, npy_header
from analysis.core.numbers import EPS
from analysis.core.selection import Heaps, combine_candidates, select_candidates, smallest

#: Bytes of ``pred_probs`` read per chunk when ``chunk_rows`` is not given.
DEFAULT_CHUNK_BYTES = 64 * 2**20


class ChunkError(ValueError):
    """A probability source that cannot be read in chunks (the message names it)."""


# -- sources ---------------------------------------------------------------------------------


def _is_dask(obj) -> bool:
    return type(obj).__module__.startswith("dask.array") and hasattr(obj, "to_delayed")


def _is_zarr(obj) -> bool:
    return type(obj).__module__.startswith("zarr") and hasattr(obj, "shape")


def is_chunked_input(pred_probs) -> bool:
    """True for what only the chunked route reads: a path, a zarr array, a dask array."""
    return isinstance(pred_probs, (str, os.PathLike)) or _is_zarr(pred_probs) or _is_dask(
        pred_probs
    )


def open_npy(path) -> np.memmap:
    """Memory-map a ``.npy`` file read-only (no pickle), or raise :class:`ChunkError` naming
    the file and what is wrong with it."""
    p = Path(path)
    if not p.is_file():
        raise ChunkError(f"pred_probs file not found: {p}.")
    try:  # the header and the size checked first: NumPy's own message for random bytes
        npy_header(p, "pred_probs")  # spoke of "pickled data"
    except NpyError as err:
        raise ChunkError(str(err)) from None
    try:
        arr = np.load(p, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError) as err:  # pragma: no cover - the header checks come first
        raise ChunkError(f"{p.name}: pred_probs is not a readable .npy array ({err}).") from None
    if not isinstance(arr, np.ndarray):
        raise ChunkError(f"{p.name}: not a single .npy array.")
    if arr.ndim != 2:
        raise ChunkError(f"{p.name}: pred_probs must be 2-D (rows x classes), got shape "
                         f"{arr.shape}.")
    if arr.dtype.kind not in "iubf":
        raise ChunkError(f"{p.name}: pred_probs must be numeric, got dtype {arr.dtype}.")
    return arr


def _open_zarr(path):
    try:
        import zarr
    except ImportError:
        raise ChunkError(f"{path}: reading zarr needs the 'zarr' package "
                         "(pip install 'noiselens[scale]').") from None
    try:
        return zarr.open_array(str(path), mode="r")
    except Exception as err:  # zarr raises several types for a missing / foreign store
        raise ChunkError(f"{path}: not a readable zarr array ({err}).") from None


def default_chunk_rows(k: int, itemsize: int = 8) -> int:
    """Rows per chunk so that a chunk holds about :data:`DEFAULT_CHUNK_BYTES`."""
    return max(1, DEFAULT_CHUNK_BYTES // max(1, k * itemsize))


class RowSource:
    """Row blocks of an array that is sliced on demand (ndarray, memmap, zarr)."""

    def __init__(self, array, name: str = "pred_probs", chunk_rows: int | None = None):
        self.array = array
        self.name = name
        self.shape = tuple(int(s) for s in array.shape)
        self.dtype = np.dtype(array.dtype)
        if len(self.shape) != 2:
            raise ChunkError(f"{name}: pred_probs must be 2-D (rows x classes), got shape "
                             f"{self.shape}.")
        k = max(1, self.shape[1])
        rows = chunk_rows or default_chunk_rows(k, max(self.dtype.itemsize, 8))
        if rows < 1:
            raise ValueError(f"chunk_rows must be at least 1, got {chunk_rows}.")
        self.bounds = [(s, min(self.shape[0], s + rows)) for s in range(0, self.shape[0], rows)]

    @property
    def num_blocks(self) -> int:
        return len(self.bounds)

    def map_finish(self, fn: Callable, args: Callable[[int, int], tuple], shared: tuple,
                   finish: Callable, progress: Callable[[int], Any] | None = None):
        """``finish(list of fn's results)``: where the results meet (on a worker on Dask)."""
        return finish(self.map(fn, args, shared, progress))

    def map_reduce(self, fn: Callable, args: Callable[[int, int], tuple], shared: tuple,
                   combine: Callable, progress: Callable[[int], Any] | None = None):
        """``fn`` on every block, the results folded with ``combine(a, b)`` as they come (at
        most two partial results held at once)."""
        acc = None
        for b, (start, stop) in enumerate(self.bounds):
            block = np.asarray(self.array[start:stop])
            part = fn(block, *args(start, stop), *shared)
            acc = part if acc is None else combine(acc, part)
            if progress is not None:
                progress(b + 1)
        return acc

    def map(self, fn: Callable, args: Callable[[int, int], tuple], shared: tuple = (),
            progress: Callable[[int], Any] | None = None) -> list:
        """``[fn(block, *args(start, stop), *shared) for each block]``, in row order."""
        out = []
        for b, (start, stop) in enumerate(self.bounds):
            block = np.asarray(self.array[start:stop])
            out.append(fn(block, *args(start, stop), *shared))
            if progress is not None:
                progress(b + 1)
        return out


class DaskSource(RowSource):
    """Row blocks of a ``dask.array.Array``: each pass runs on the workers (the active
    ``dask.distributed`` client's cluster, if any) and only its small results come back."""

    def __init__(self, array, name: str = "pred_probs", chunk_rows: int | None = None):
        if array.ndim != 2:
            raise ChunkError(f"{name}: pred_probs must be 2-D (rows x classes), got shape "
                             f"{array.shape}.")
        if any(np.isnan(c) for c in array.chunks[0]):
            raise ChunkError(f"{name}: the dask array's row chunks have unknown sizes; call "
                             "compute_chunk_sizes() on it first (e.g. after from_delayed or "
                             "a DataFrame's to_dask_array()).")
        if chunk_rows:
            array = array.rechunk({0: chunk_rows})
        if len(array.chunks[1]) > 1:
            array = array.rechunk({1: -1})  # one block of columns: whole rows per task
        self.array = array
        self.name = name
        self.shape = tuple(int(s) for s in array.shape)
        self.dtype = np.dtype(array.dtype)
        edges = np.concatenate([[0], np.cumsum(array.chunks[0])]).astype(int)
        self.bounds = [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:], strict=True)]

    def _tasks(self, fn, args, shared):
        import dask

        blocks = self.array.to_delayed().ravel()
        shared_keys = [dask.delayed(s, pure=True) for s in shared]
        return [
            dask.delayed(fn, pure=True)(blk, *args(start, stop), *shared_keys)
            for blk, (start, stop) in zip(blocks, self.bounds, strict=True)
        ]

    def map(self, fn, args, shared=(), progress=None) -> list:
        """``fn`` on every block on the workers; the results come back in row order."""
        import dask

        tasks = self._tasks(fn, args, shared)
        out = list(dask.compute(*tasks))
        if progress is not None:
            progress(len(tasks))
        return out

    def map_finish(self, fn, args, shared, finish, progress=None):
        """``fn`` on every block and ``finish`` on their results, all on the workers: only
        ``finish``'s result comes back."""
        import dask

        tasks = self._tasks(fn, args, shared)
        (out,) = dask.compute(dask.delayed(finish, pure=True)(tasks))
        if progress is not None:
            progress(len(tasks))
        return out

    def map_reduce(self, fn, args, shared, combine, progress=None):
        """``fn`` on every block on the workers, combined there pairwise (a tree): one
        partial result comes back."""
        import dask

        level = self._tasks(fn, args, shared)
        blocks = len(level)
        merge = dask.delayed(combine, pure=True)
        while len(level) > 1:
            pairs = [merge(a, b) for a, b in zip(level[::2], level[1::2], strict=False)]
            level = pairs + ([level[-1]] if len(level) % 2 else [])
        (out,) = dask.compute(level[0])
        if progress is not None:
            progress(blocks)
        return out


def _read_rows(path: str, start: int, stop: int) -> np.ndarray:
    return np.array(np.load(path, mmap_mode="r", allow_pickle=False)[start:stop])


def dask_from_npy(path, chunk_rows: int | None = None):
    """A ``dask.array.Array`` whose tasks read row blocks of the ``.npy`` file at ``path``
    themselves (memory-mapped on the worker): for files on storage every worker sees at the
    same path, nothing of the array passes through the client."""
    import dask
    import dask.array as da

    arr = open_npy(path)
    n, k = arr.shape
    rows = chunk_rows or default_chunk_rows(k, max(arr.dtype.itemsize, 8))
    path = str(Path(path).resolve())
    blocks = [
        da.from_delayed(dask.delayed(_read_rows, pure=True)(path, s, min(n, s + rows)),
                        shape=(min(n, s + rows) - s, k), dtype=arr.dtype)
        for s in range(0, n, rows)
    ]
    return da.concatenate(blocks, axis=0)


def open_source(pred_probs, chunk_rows: int | None = None) -> RowSource:
    """The :class:`RowSource` for a path (``.npy``, zarr), a zarr, dask or NumPy array."""
    if _is_dask(pred_probs):
        return DaskSource(pred_probs, chunk_rows=chunk_rows)
    if isinstance(pred_probs, (str, os.PathLike)):
        p = Path(pred_probs)
        if p.suffix.lower() in (".pkl", ".pickle", ".joblib"):
            raise ChunkError(f"{p.name}: pred_probs must be a .npy file or a zarr array; "
                             "pickle files are never opened.")
        if p.suffix.lower() == ".npy":
            return RowSource(open_npy(p), p.name, chunk_rows)
        if p.suffix.lower() == ".zarr" or (p.is_dir() and any(
                (p / m).exists() for m in ("zarr.json", ".zarray"))):
            return RowSource(_open_zarr(p), p.name, chunk_rows)
        raise ChunkError(f"{p.name}: pred_probs must be a .npy file or a zarr array "
                         "(a folder ending in .zarr).")
    if _is_zarr(pred_probs):
        return RowSource(pred_probs, "pred_probs (zarr)", chunk_rows)
    return RowSource(np.asarray(pred_probs), "pred_probs", chunk_rows)


# -- per-block work (module level: sent to Dask workers) -------------------------------------


def _work(block: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(as_float(block))


def _facts_block(block, labels):
    probs = _work(block)
    eps = probs.dtype.type(EPS)
    codes, *facts = _kernels.chunk_facts(probs, labels, PROB_TOLERANCE, eps)
    flagged = np.flatnonzero(codes)
    if flagged.size:
        bad = probs[flagged].astype(np.float64)
        problems = (flagged, codes[flagged], bad.min(axis=1), bad.max(axis=1), bad.sum(axis=1))
        return problems, None
    return None, tuple(facts)


def _guess_block(block, thresholds):
    return _kernels.guess_rows(_work(block), thresholds)


def _xlogx_block(block):
    return _kernels.row_xlogx_sum(_work(block))


def _candidates_block(block, labels, start, max_other, pair_class, pair_start, pair_j, want):
    probs = _work(block)
    k = pair_start.size - 1
    counts = np.bincount(labels, minlength=k)
    heaps = Heaps(np.minimum(want, counts[pair_class]), probs.dtype)
    heaps.feed(probs, labels, start, pair_start, pair_j, max_other)
    return heaps.candidates()


def _margins_block(block, labels, start, tied):
    probs = _work(block)
    classes = np.array([k for _, k in tied], dtype=np.int64)
    wanted = np.isin(labels, classes)  # group only the rows of the tied classes
    local = np.flatnonzero(wanted)
    order = np.argsort(labels[local], kind="stable")
    grouped, sorted_labels = local[order], labels[local][order]
    out = []
    for j, k in tied:
        lo, hi = np.searchsorted(sorted_labels, [k, k + 1])
        rows = grouped[lo:hi]  # ascending: a stable sort of ascending rows
        out.append((rows + start, probs[rows, j] - probs[rows, k]))
    return out


def _resolve_ties(found: list, wanted: list[int]) -> np.ndarray:
    """Rows chosen for each tied pair: its class's margins in row order, decided by the sort
    exactly as in memory (:func:`analysis.core.selection.smallest`)."""

    chosen = []
    for t, c in enumerate(wanted):
        rows = np.concatenate([f[t][0] for f in found])
        margin = np.concatenate([f[t][1] for f in found])
        chosen.append(rows[smallest(-margin, c)])
    return np.concatenate(chosen) if chosen else np.empty(0, np.int64)


# -- evidence --------------------------------------------------------------------------------


class ChunkedEvidence(Evidence):
    """:class:`analysis.core.evidence.Evidence` computed from row chunks of a
    :class:`RowSource`: the same attributes, the ``(N, K)`` array never held (see the module
    docstring for the passes and the memory bound)."""

    def __init__(self, labels, source: RowSource, *, require_two_classes: bool = True,
                 progress: Progress | None = None):
        self.source = source
        self.labels = check_labels(labels)
        self._dtype = check_shapes(
            self.labels, source.shape, source.dtype, require_two_classes=require_two_classes
        )
        self.n, self.k = source.shape
        chunk = (source.bounds[0][1] - source.bounds[0][0]) if source.bounds else 0
        limits.check_core(self.n, self.k, sparse=self.sparse,
                          input_bytes=2 * 8 * chunk * self.k)
        self.pred_probs = None  # never in memory: every use below reads chunks
        self._progress = progress or no_progress
        self._first_pass()

    # the passes ---------------------------------------------------------------------------
    def _map(self, what: str, fn, args, shared=(), combine=None, finish=None):
        blocks = self.source.num_blocks

        def tick(done: int) -> None:
            self._progress(done / blocks, f"{what}: chunk {done:,}/{blocks:,} "
                           f"({self.n:,} rows x {self.k:,} classes)")

        self._progress(0.0, f"{what}: {blocks:,} chunk(s) of {self.source.name}")
        if combine is not None:
            return self.source.map_reduce(fn, args, shared, combine, tick)
        if finish is not None:
            return self.source.map_finish(fn, args, shared, finish, tick)
        return self.source.map(fn, args, shared, tick)

    def _labels_of(self, start: int, stop: int) -> tuple:
        return (self.labels[start:stop],)

    def _first_pass(self) -> None:
        parts = self._map("checking rows", _facts_block, self._labels_of)
        problems = [(self.source.bounds[b][0], p) for b, (p, _) in enumerate(parts) if p]
        if problems:
            flagged = np.concatenate([start + p[0] for start, p in problems])
            cols = [np.concatenate([p[i] for _, p in problems]) for i in range(1, 5)]
            raise ValueError(problem_message(flagged, *cols))
        facts = [f for _, f in parts]
        self.__dict__["self_confidence"] = np.concatenate([f[0] for f in facts])
        self.__dict__["_facts"] = tuple(np.concatenate([f[i] for f in facts]) for i in (1, 2, 3))

    @property
    def dtype(self) -> np.dtype:
        return self._dtype

    @cached_property
    def _guess_counts(self) -> tuple[np.ndarray, np.ndarray]:
        thresholds = np.ascontiguousarray(self.thresholds - EPS)
        guess = np.concatenate(
            self._map("confident joint", _guess_block, lambda a, b: (), (thresholds,))
        )
        if self.sparse:
            return guess, sparse.counts_from_guess(guess, self.labels, self.k)
        valid = guess >= 0
        flat = guess[valid] * self.k + self.labels[valid]
        counts = np.bincount(flat, minlength=self.k * self.k).reshape(self.k, self.k)
        return guess, counts

    @cached_property
    def xlogx_sum(self) -> np.ndarray:
        return np.concatenate(self._map("entropy", _xlogx_block, lambda a, b: ()))

    def noise_rate_mask(self, counts: np.ndarray, skip: np.ndarray) -> np.ndarray:
        mask = np.zeros(self.n, dtype=bool)
        pair_class, pair_j, want, pair_start = sparse.pairs(counts, skip, self.label_counts)
        if pair_class.size == 0:
            return mask
        shared = (pair_class, pair_start, pair_j, want)
        if isinstance(self.source, DaskSource):
            # per-chunk heaps on the workers, merged there pairwise
            merged = self._map(
                "prune by noise rate", _candidates_block,
                lambda a, b: (self.labels[a:b], a, self.max_other[a:b]), shared,
                combine=partial(combine_candidates, want=want),
            )
        else:
            # one set of heaps fed every chunk in row order: the in-memory kernel's heaps
            heaps = Heaps(want, self.dtype)
            pair_starts, pair_js = shared[1], shared[2]
            self._map("prune by noise rate",
                      lambda block, lab, a, other: heaps.feed(_work(block), lab, a,
                                                              pair_starts, pair_js, other),
                      lambda a, b: (self.labels[a:b], a, self.max_other[a:b]))
            merged = heaps.candidates()
        selected, tied = select_candidates(merged, want)
        mask[selected] = True
        if tied.size:
            pairs = [(int(pair_j[p]), int(pair_class[p])) for p in tied]
            wanted = [int(want[p]) for p in tied]
            chosen = self._map("tied margins", _margins_block,
                               lambda a, b: (self.labels[a:b], a), (pairs,),
                               finish=partial(_resolve_ties, wanted=wanted))
            mask[chosen] = True
        return mask


def chunked_evidence(labels, pred_probs, *, chunk_rows: int | None = None,
                     require_two_classes: bool = True,
                     progress: Progress | None = None) -> ChunkedEvidence:
    """:class:`ChunkedEvidence` for a path, a zarr / dask / NumPy array."""
    return ChunkedEvidence(labels, open_source(pred_probs, chunk_rows),
                           require_two_classes=require_two_classes, progress=progress)


__all__ = ["ChunkedEvidence", "ChunkError", "DEFAULT_CHUNK_BYTES", "chunked_evidence",
           "dask_from_npy", "describe_rows", "is_chunked_input", "open_npy", "open_source"]
