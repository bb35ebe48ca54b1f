"""The on-disk form of a loaded dataset: a large file opens again in a fraction of a second.

Loading a 1,000,000-row Parquet file of probabilities and embeddings takes ~3 s: reading and
converting the columns, encoding the labels, stacking and checking the 100 probability
columns, hashing the content. None of it changes while the file does not. :func:`load`
keeps what :func:`analysis.data.dataset.load_dataset` built, in
``workspace()/cache/datasets/<key>/``, and opens it again in a fraction of a second (0.1-0.5 s
for that file):

* ``frame.arrow`` (and ``feature_frame.arrow``): the frames as Arrow IPC files, uncompressed
  and in one record batch, memory-mapped on reading so that numeric columns come back
  without a copy (the frame's columns are read for display and export, rarely all);
* ``<field>.npy``: labels, ids, probabilities, embeddings and true labels, read with
  ``allow_pickle=False``;
* ``schema.arrow``: a Parquet source's schema (the export writes the file back with it);
* ``meta.json``: every other field of the :class:`~analysis.data.dataset.Dataset`, and its
  fingerprint.

The key is a hash of the file's resolved path, size, modification and change times and
inode, of the same for every option that names a file (``pred_probs=``, ``embeddings=``,
``classes=``), of the load options and of this format's version: a changed file is a different
key and is loaded afresh (never a stale dataset). The stamp is not trusted alone: an edit in
place that keeps the size and puts the modification time back is still the same stamp on some
file systems, so each entry also keeps the SHA-256 of every file it was read from, and a hit
is served only when the files hash the same now (0.3 s per 400 MB; a reload takes ~10x that).

An entry is written only after it has been read back
and compared with the dataset field by field (frames by value and dtype, arrays by value and
dtype, the rest by equality; a column or 16 MiB at a time, so the check holds no second
copy); anything that does not read back equal is simply not kept. The check, like the
writing, runs in a background thread: the first open is not slower for it. Entries are
written to a temporary folder and renamed into place; at most :data:`MAX_ENTRIES` are kept,
the least recently opened go first (``NOISELENS_MAX_STORED_DATASETS=0`` turns storing off);
an entry is written only with :data:`MIN_FREE_BYTES` to spare on the disk, and a store that
cannot be written (full or read-only disk) costs nothing but the time.

Files under :data:`MIN_BYTES` are not kept: they load in well under a second anyway.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from analysis.core import cache as cache_module
from analysis.core.cache import fingerprint, workspace
from analysis.data import (
    _arrays,
    _basics,
    _cells,
    _files,
    _images,
    _roles,
    class_order,
    quoting,
)
from analysis.data import dataset as data_module
from analysis.data.dataset import Dataset, Origin, load_dataset

#: Version of the stored form; part of every key.
FORMAT = "dataset-store-1"
#: Files smaller than this load fast enough without a stored form (bytes).
MIN_BYTES = 32 * 2**20
#: Stored datasets kept; the least recently opened beyond this are deleted
#: (``NOISELENS_MAX_STORED_DATASETS``; 0 stores none).
MAX_ENTRIES = int(os.environ.get("NOISELENS_MAX_STORED_DATASETS", "3"))
#: Never fill the disk: an entry is written only with this much room left after it (bytes).
MIN_FREE_BYTES = 2 * 2**30

_WRITER = "noiselens-store-dataset"  # the name of a background writer thread
_ARRAYS = ("labels", "ids", "pred_probs", "embeddings", "true_labels")
_FRAMES = ("frame", "feature_frame")
_PLAIN = ("source", "label_column", "class_names", "id_column", "feature_columns",
          "text_column", "image_column", "image_shape", "annotator_columns",
          "embeddings_from", "notes")


def folder() -> Path:
    """Where stored datasets live: ``workspace()/cache/datasets``."""
    return workspace() / "cache" / "datasets"


def _stamp(path: Path) -> list:
    st = path.stat()
    return [str(path.resolve()), st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


def _digest(path: Path) -> str:
    """SHA-256 of a file's bytes (hardware-accelerated: ~1.4 GB/s on the 2-core CI machine)."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _files_of(path: str | Path, options: dict) -> list[Path]:
    """The files a load reads: ``path`` and every option value that names a file."""
    files = [Path(path)]
    for name in sorted(options):
        value = options[name]
        if isinstance(value, (str, Path)) and Path(value).is_file():
            files.append(Path(value))
    return files


def _digests(files: list[Path]) -> dict[str, str]:
    return {str(p.resolve()): _digest(p) for p in files}


@functools.cache
def _code_version() -> str:
    """What the loaded dataset depends on besides the file: the source of the modules that
    build and hash it and the versions of the libraries that parse it (an upgrade or an edit
    of the loader is a new key, never an old dataset)."""
    loader = (data_module, _basics, _cells, _arrays, _images, _roles, _files, class_order,
              quoting)  # the modules of the loader (#27: dataset.py split by job)
    sources = [Path(m.__file__).read_bytes() for m in (*loader, cache_module)]
    return fingerprint(*sources, np.__version__, pd.__version__, pa.__version__)


def key_of(path: str | Path, label_column: str | None, options: dict) -> str | None:
    """The key of this load, or ``None`` when it is not one to store (a small or missing
    file, a folder, an option holding an in-memory array)."""
    p = Path(path)
    if MAX_ENTRIES < 1:
        return None
    try:
        if not p.is_file() or p.stat().st_size < MIN_BYTES:
            return None
        parts: list = [FORMAT, _code_version(), _stamp(p), label_column]
        for name in sorted(options):
            value = options[name]
            if isinstance(value, Path):
                value = str(value)
            if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
                value = list(value)
            elif value is not None and not isinstance(value, (str, int, float, bool)):
                return None  # an array or a frame: not a file this key could describe
            if isinstance(value, str) and Path(value).is_file():
                value = [value, _stamp(Path(value))]
            parts.append([name, value])
    except OSError:
        return None
    return fingerprint(*parts)[:40]


def load(path: str | Path, label_column: str | None = None, *, background: bool = True,
         **options) -> Dataset:
    """:func:`analysis.data.dataset.load_dataset`, through the stored form of an earlier load.

    Parameters
    ----------
    path, label_column, **options
        As :func:`~analysis.data.dataset.load_dataset`, whose errors are raised unchanged.
    background : bool, default True
        Write the stored form in a background thread (the caller goes on with the dataset at
        once); ``False`` writes it before returning.

    Returns
    -------
    Dataset
        Equal to what ``load_dataset`` returns; from a stored form its frames are read-only
        memory maps of the stored Arrow files and its fingerprint is the stored one.
    """
    key = key_of(path, label_column, options)
    if key is not None:
        hit = _read(folder() / key, _files_of(path, options))
        if hit is not None:
            return hit
    dataset = load_dataset(path, label_column, **options)
    if key is not None and key_of(path, label_column, options) == key:  # unchanged meanwhile
        source = (path, label_column, options)
        if background:
            threading.Thread(target=_store_quietly, args=(dataset, key, source),
                             name=_WRITER, daemon=True).start()
        else:
            _store_quietly(dataset, key, source)
    return dataset


def wait() -> None:
    """Wait for the stored forms being written in the background (a benchmark or a test
    that stands for a server restart)."""
    for thread in threading.enumerate():
        if thread.name == _WRITER:
            thread.join()


# -- reading -----------------------------------------------------------------------------------
def _read(entry: Path, files: list[Path]) -> Dataset | None:
    """The stored dataset in ``entry``, or ``None`` (absent, unreadable, or read from files
    whose bytes differ from ``files``' now: then removed)."""
    meta_path = entry / "meta.json"
    if not meta_path.is_file():
        return None
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if meta.get("sources") != _digests(files):
            raise ValueError("the files changed since they were stored")
        dataset = _read_entry(entry, meta)
    except Exception:  # noqa: BLE001 - a damaged or stale entry is a miss, never an error
        shutil.rmtree(entry, ignore_errors=True)
        return None
    try:
        os.utime(meta_path)  # most recently opened: evicted last
    except OSError:  # evicted meanwhile by another server, or a read-only workspace
        pass
    return dataset


def _read_frame(path: Path, rows: int) -> pd.DataFrame:
    """The frame in ``path``, its columns memory-mapped without a copy (one record batch)."""
    with pa.memory_map(str(path)) as source:
        table = pa.ipc.open_file(source).read_all()
    # a damaged or crafted file (offsets past the end of a string column) would crash the
    # process in to_pandas, beyond any except: check every buffer first (it raises instead)
    table.validate(full=True)
    if table.num_columns == 0:  # no columns, N rows
        return pd.DataFrame(index=pd.RangeIndex(rows))
    return table.to_pandas(split_blocks=True)


def _plain(meta: dict) -> dict:
    """The fields kept in ``meta.json``, as the Dataset holds them."""
    values = {name: meta[name] for name in _PLAIN if name in meta}
    if values["image_shape"] is not None:
        values["image_shape"] = tuple(values["image_shape"])
    values["base_dir"] = Path(meta["base_dir"]) if meta["base_dir"] is not None else None
    return values


def _origin(entry: Path, meta: dict) -> Origin | None:
    origin = meta["origin"]
    if origin is None:
        return None
    schema = None
    if origin["schema"]:
        schema = pa.ipc.read_schema(pa.py_buffer((entry / "schema.arrow").read_bytes()))
    return Origin(**{**origin, "schema": schema})


def _read_entry(entry: Path, meta: dict) -> Dataset:
    if meta.get("format") != FORMAT:
        raise ValueError("another format")
    values = _plain(meta)
    for name in _FRAMES:
        values[name] = (_read_frame(entry / f"{name}.arrow", meta["rows"])
                        if name in meta["stored"] else None)
    for name in _ARRAYS:
        # read whole, not memory-mapped: a first pass over a mapped (N, K) array pays a page
        # fault per 4 KiB (0.86 s for an argmax over 1M x 100 float32, against 0.06 s + 0.06 s
        # read); the frame stays mapped, its columns are rarely all read
        values[name] = (np.load(entry / f"{name}.npy", allow_pickle=False)
                        if name in meta["stored"] else None)
    if "ids" not in meta["stored"]:  # text ids: the id column, as data.py reads it
        values["ids"] = values["frame"][meta["id_column"]].to_numpy(dtype=object)
    dataset = Dataset(**values, origin=_origin(entry, meta))
    dataset.__dict__["fingerprint"] = meta["fingerprint"]  # the cached_property's slot
    return dataset


# -- writing -----------------------------------------------------------------------------------
def _store_quietly(dataset: Dataset, key: str, source: tuple) -> None:
    path, label_column, options = source
    try:
        sources = _digests(_files_of(path, options))
        if key_of(path, label_column, options) != key:  # changed while it was hashed
            return
        store(dataset, key, sources)
    except Exception:  # noqa: BLE001 - storing is an optimisation; the dataset is loaded
        pass


def store(dataset: Dataset, key: str, sources: dict[str, str]) -> bool:
    """Write ``dataset`` under ``key`` if it reads back equal; ``True`` when it was kept.

    ``sources`` maps each file the dataset was read from to its SHA-256: a later hit is
    served only while the files still hash the same.

    Raises
    ------
    OSError
        The workspace cannot be written.
    """
    if dataset.image_column is not None:
        return False  # its images are other files, which the key does not describe
    root = folder()
    root.mkdir(parents=True, exist_ok=True)
    final = root / key
    if (final / "meta.json").is_file():
        return True
    if shutil.disk_usage(root).free < _bytes_of(dataset) + MIN_FREE_BYTES:
        return False
    _drop_stale_temporaries(root)
    tmp = Path(tempfile.mkdtemp(dir=root, prefix=".tmp-"))
    try:
        meta = _write_entry(dataset, tmp)
        meta["sources"] = sources
        meta = json.loads(json.dumps(meta))  # what a reader will see
        if not _reads_back_equal(dataset, tmp, meta):
            return False
        (tmp / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
        _sync(tmp)  # on disk before it is named: a power cut leaves no half-written entry
        try:
            os.replace(tmp, final)
        except OSError:  # another process stored it first
            return (final / "meta.json").is_file()
        _evict(root)
        return True
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _sync(entry: Path) -> None:
    for p in entry.iterdir():
        with open(p, "rb") as fh:
            os.fsync(fh.fileno())
    fd = os.open(entry, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _bytes_of(dataset: Dataset) -> int:
    total = int(dataset.frame.memory_usage(deep=False).sum())
    for name in _ARRAYS:
        value = getattr(dataset, name)
        if value is not None:
            total += np.asarray(value).nbytes
    return total


def _write_entry(dataset: Dataset, entry: Path) -> dict:
    stored = []
    for name in _FRAMES:
        frame = getattr(dataset, name)
        if frame is None:
            continue
        if not frame.columns.is_unique:
            raise ValueError("duplicate column names")  # read back by name: not kept
        # one record batch: a column in several chunks would be copied to be read back
        # (0.5 s at 1M x 119 instead of 4 ms)
        table = pa.Table.from_pandas(frame, preserve_index=False).combine_chunks()
        with pa.OSFile(str(entry / f"{name}.arrow"), "wb") as sink, \
                pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)
        del table
        stored.append(name)
    for name in _ARRAYS:
        value = getattr(dataset, name)
        if value is None or (name == "ids" and np.asarray(value).dtype.hasobject):
            continue
        np.save(entry / f"{name}.npy", np.asarray(value), allow_pickle=False)
        stored.append(name)
    origin = None
    if dataset.origin is not None:
        o = dataset.origin
        origin = dict(kind=o.kind, delimiter=o.delimiter, lineterminator=o.lineterminator,
                      bom=o.bom, schema=o.schema is not None, quoting=o.quoting)
        if o.schema is not None:
            (entry / "schema.arrow").write_bytes(o.schema.serialize().to_pybytes())
    meta = {name: getattr(dataset, name) for name in _PLAIN}
    meta.update(format=FORMAT, stored=stored, origin=origin, fingerprint=dataset.fingerprint,
                rows=len(dataset.frame),
                base_dir=str(dataset.base_dir) if dataset.base_dir is not None else None,
                written=time.time())
    return meta


# -- the read-back check: a column or a chunk at a time (the server's memory stays flat) -------
def _reads_back_equal(dataset: Dataset, entry: Path, meta: dict) -> bool:
    """Whether :func:`_read_entry` would give back ``dataset``, field by field: frames by
    column (values, dtypes, names, rows), arrays by value, dtype and shape, the rest by
    equality. Frames and arrays are read a column / 16 MiB at a time, so that checking a
    1 GB dataset does not hold a second copy of it."""
    plain = _plain(meta)
    if any(getattr(dataset, name) != value for name, value in plain.items()):
        return False
    if not _same_origin(dataset.origin, _origin(entry, meta)):
        return False
    for name in _FRAMES:
        frame = getattr(dataset, name)
        if (frame is None) != (name not in meta["stored"]):
            return False
        if frame is not None and not _frame_reads_back(frame, entry / f"{name}.arrow"):
            return False
    for name in _ARRAYS:
        value = getattr(dataset, name)
        if name == "ids" and "ids" not in meta["stored"]:
            back = _column(entry / "frame.arrow", meta["id_column"]).to_numpy(dtype=object)
            if not (value.dtype == back.dtype and np.array_equal(value, back)):
                return False
        elif (value is None) != (name not in meta["stored"]):
            return False
        elif value is not None and not _npy_equal(entry / f"{name}.npy", np.asarray(value)):
            return False
    return True


def _same_origin(a: Origin | None, b: Origin | None) -> bool:
    if a is None or b is None:
        return a is b
    if (a.kind, a.delimiter, a.lineterminator, a.bom, a.quoting) != (
            b.kind, b.delimiter, b.lineterminator, b.bom, b.quoting):
        return False
    if a.schema is None or b.schema is None:
        return a.schema is b.schema
    return a.schema.equals(b.schema, check_metadata=True)


def _column(path: Path, name: str) -> pd.Series:
    """One column of a stored frame, as the whole frame gives it. The file is mapped for
    this column alone: only its pages are read, and they are unmapped when the column goes
    (reading it with ``memory_map=False`` would read the whole record batch each time)."""
    with pa.memory_map(str(path)) as source:
        table = pa.ipc.open_file(source).read_all().select([name])
    return table.to_pandas(split_blocks=True)[name]


def _frame_reads_back(frame: pd.DataFrame, path: Path) -> bool:
    with pa.memory_map(str(path)) as source:  # the schema only
        reader = pa.ipc.open_file(source)
        names, rows = reader.schema.names, sum(
            reader.get_batch(i).num_rows for i in range(reader.num_record_batches))
    if frame.shape[1] == 0:
        return names == [] and isinstance(frame.index, pd.RangeIndex) and \
            frame.index.equals(pd.RangeIndex(len(frame)))
    if names != [str(c) for c in frame.columns] or rows != len(frame) or \
            not frame.index.equals(pd.RangeIndex(rows)):
        return False
    for name in names:
        back = _column(path, name)
        if back.dtype != frame[name].dtype or not back.equals(frame[name]):
            return False
    return True


def _npy_equal(path: Path, value: np.ndarray, chunk_bytes: int = 16 * 2**20) -> bool:
    with open(path, "rb") as fh:
        read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                       (2, 0): np.lib.format.read_array_header_2_0}.get(
            np.lib.format.read_magic(fh))
        if read_header is None:
            return False
        shape, fortran, dtype = read_header(fh)
        if dtype != value.dtype or tuple(shape) != value.shape or dtype.hasobject:
            return False
        flat = value.reshape(-1, order="F" if fortran else "C")
        step = max(1, chunk_bytes // max(dtype.itemsize, 1))
        for start in range(0, flat.size, step):
            part = np.fromfile(fh, dtype=dtype, count=min(step, flat.size - start))
            if not np.array_equal(part, flat[start:start + part.size], equal_nan=_nan_ok(dtype)):
                return False
    return True


def _nan_ok(dtype: np.dtype) -> bool:
    return dtype.kind in "fc"


def _evict(root: Path) -> None:
    entries = [p for p in root.iterdir() if (p / "meta.json").is_file()]
    entries.sort(key=lambda p: (p / "meta.json").stat().st_mtime, reverse=True)
    for old in entries[MAX_ENTRIES:]:
        shutil.rmtree(old, ignore_errors=True)


def _drop_stale_temporaries(root: Path, age: float = 3600.0) -> None:
    """Temporary folders of writes that never finished (a killed server)."""
    now = time.time()
    for p in root.glob(".tmp-*"):
        try:
            if now - p.stat().st_mtime > age:
                shutil.rmtree(p, ignore_errors=True)
        except OSError:
            pass
