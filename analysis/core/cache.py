"""The on-disk workspace cache: arrays keyed by a content fingerprint.

See docs/architecture.md, Caches.

Layout: ``workspace()/cache/<kind>/<key>.npy``, one ``.npy`` file per array, written with
``np.save`` to a temporary file in the same folder and renamed into place (atomic), read with
``np.load(allow_pickle=False)``. A file that cannot be read (truncated, corrupt, not ``.npy``) is
a miss: it is deleted and the value recomputed. Keys come from :func:`fingerprint`, a SHA-256
over the content of arrays, pandas objects and plain values that is stable across processes and
machines, so a second open of the same data is instant, also after a restart.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import struct
import tempfile
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

#: Environment variable that moves the workspace folder.
ENV_VAR = "NOISELENS_HOME"
#: Workspace folder when ``NOISELENS_HOME`` is not set (relative to the working directory).
DEFAULT_WORKSPACE = ".noiselens"

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,199}")


def workspace() -> Path:
    """The workspace folder: ``$NOISELENS_HOME``, else ``./.noiselens`` (absolute, not created)."""
    return Path(os.environ.get(ENV_VAR) or DEFAULT_WORKSPACE).expanduser().absolute()


# --------------------------------------------------------------------------------------------
# fingerprints


def fingerprint(*parts: Any) -> str:
    """SHA-256 hex digest of ``parts``, by content, stable across processes.

    Parameters
    ----------
    *parts
        Any mix of: ``numpy`` arrays and scalars (dtype, shape and bytes count; object arrays by
        element), ``pandas`` DataFrame / Series / Index (names, dtypes, index and values),
        ``str``, ``bytes``, ``int``, ``float``, ``bool``, ``None``, :class:`~pathlib.Path`, and
        ``dict`` / ``list`` / ``tuple`` of those. Dict order does not matter; list order does.

    Returns
    -------
    str
        64 hexadecimal characters.

    Raises
    ------
    TypeError
        For any other type (``repr`` is not used: it can hold memory addresses).

    Notes
    -----
    Every value is hashed with a type tag and a length, so ``("ab", "c")`` and ``("a", "bc")``,
    ``1`` and ``"1"``, ``float32`` and ``float64`` arrays of the same values all differ. Arrays
    are hashed in full (zero-copy when C-contiguous): about 1 GB/s, 25 ms for 100k x 64 float32.
    """
    h = hashlib.sha256()
    _update(h, tuple(parts))
    return h.hexdigest()


def _tag(h, name: str, payload: bytes | memoryview | np.ndarray = b"") -> None:
    size = payload.nbytes if isinstance(payload, np.ndarray | memoryview) else len(payload)
    h.update(name.encode() + b":" + struct.pack("<Q", size))
    h.update(payload)


def _update(h, obj: Any) -> None:
    if obj is None:
        _tag(h, "none")
    elif isinstance(obj, np.ndarray):
        _update_array(h, obj)
    elif isinstance(obj, np.generic):
        _tag(h, "npscalar")
        _update_array(h, np.asarray(obj))
    elif isinstance(obj, bool):
        _tag(h, "bool", b"1" if obj else b"0")
    elif isinstance(obj, int):
        _tag(h, "int", str(obj).encode())
    elif isinstance(obj, float):
        _tag(h, "float", obj.hex().encode())
    elif isinstance(obj, str):
        _tag(h, "str", obj.encode("utf-8", "surrogatepass"))
    elif isinstance(obj, bytes | bytearray | memoryview):
        _tag(h, "bytes", bytes(obj))
    elif isinstance(obj, Path):
        _tag(h, "path", str(obj).encode("utf-8", "surrogatepass"))
    elif isinstance(obj, pd.DataFrame):
        _tag(h, "DataFrame", struct.pack("<QQ", *obj.shape))
        _update(h, obj.columns)
        _update(h, obj.index)
        for j in range(obj.shape[1]):
            _update_values(h, obj.iloc[:, j])
    elif isinstance(obj, pd.Series):
        _tag(h, "Series", struct.pack("<Q", len(obj)))
        _update(h, obj.name)
        _update(h, obj.index)
        _update_values(h, obj)
    elif isinstance(obj, pd.RangeIndex):
        _tag(h, "RangeIndex", struct.pack("<qqq", obj.start, obj.stop, obj.step))
        _update(h, obj.name)
    elif isinstance(obj, pd.Index):
        _tag(h, "Index", struct.pack("<Q", len(obj)))
        _update(h, list(obj.names))
        _update_values(h, obj)
    elif isinstance(obj, Mapping):
        _tag(h, "dict", struct.pack("<Q", len(obj)))
        for _, key, value in sorted((fingerprint(k), k, v) for k, v in obj.items()):
            _update(h, key)
            _update(h, value)
    elif isinstance(obj, list | tuple):
        _tag(h, type(obj).__name__, struct.pack("<Q", len(obj)))
        for item in obj:
            _update(h, item)
    else:
        raise TypeError(
            f"fingerprint() cannot hash a {type(obj).__module__}.{type(obj).__qualname__}; "
            "pass arrays, pandas objects, str, bytes, numbers, None, or dict/list/tuple of those."
        )


def _update_array(h, arr: np.ndarray) -> None:
    _tag(h, "ndarray", f"{arr.dtype.str}|{arr.shape}".encode())
    if arr.dtype.hasobject:
        for item in arr.ravel(order="C"):
            _update(h, item)
        return
    flat = np.ascontiguousarray(arr).reshape(-1)
    _tag(h, "data", flat.view(np.uint8))


def _update_values(h, values: pd.Series | pd.Index) -> None:
    """Values of a Series / Index column: raw bytes for numpy dtypes, pandas' stable hash else."""
    dtype = values.dtype
    _tag(h, "dtype", str(dtype).encode())
    if isinstance(dtype, np.dtype) and dtype.kind in "biufcmM":
        _update_array(h, values.to_numpy())
    else:  # object, string, categorical, nullable extension types, MultiIndex
        # hash_pandas_object uses a fixed hash key: the same values give the same uint64s in
        # every process.
        hashed = pd.util.hash_pandas_object(values, index=False)
        _update_array(h, np.asarray(hashed, dtype=np.uint64))


# --------------------------------------------------------------------------------------------
# arrays on disk


def _check_name(value: str, what: str) -> str:
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise ValueError(
            f"cache {what} must be 1-200 letters, digits, '_', '-' or '.', starting with a letter "
            f"or digit (a file name, no folders); got {value!r}."
        )
    return value


def cache_path(kind: str, key: str) -> Path:
    """Where the array ``kind``/``key`` lives: ``workspace()/cache/<kind>/<key>.npy``."""
    return workspace() / "cache" / _check_name(kind, "kind") / f"{_check_name(key, 'key')}.npy"


def load_array(kind: str, key: str) -> np.ndarray | None:
    """The cached array, or ``None`` on a miss.

    A file that exists but cannot be read as a ``.npy`` array without pickle (truncated,
    corrupt, written by something else) is deleted and reported as a miss.
    """
    path = cache_path(kind, key)
    try:
        with open(path, "rb") as fh:
            return np.load(fh, allow_pickle=False)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, EOFError) as exc:
        warnings.warn(
            f"ignoring unreadable cache file {path} ({type(exc).__name__}: {exc}); recomputing.",
            RuntimeWarning,
            stacklevel=2,
        )
        path.unlink(missing_ok=True)
        return None


def save_array(kind: str, key: str, array: np.ndarray) -> Path:
    """Store ``array`` under ``kind``/``key`` atomically; returns the file's path.

    The array is written to a temporary file in the same folder, flushed to disk, then renamed
    over the final name (``os.replace``): readers see the old file, the new one, or none, never
    half a file. Object arrays are refused (``np.load`` without pickle could not read them).
    """
    arr = np.asanyarray(array)
    if arr.dtype.hasobject:
        raise ValueError(
            f"cannot cache an array of dtype {arr.dtype}: only numeric / fixed-size dtypes "
            "(stored without pickle)."
        )
    path = cache_path(kind, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.save(fh, arr, allow_pickle=False)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def cached_array(kind: str, key: str, compute: Callable[[], np.ndarray]) -> np.ndarray:
    """The cached array ``kind``/``key``, computing and storing it on a miss.

    ``compute`` is called only on a miss. If the result cannot be written (read-only or full
    disk) a ``RuntimeWarning`` says so and the computed array is returned anyway.
    """
    hit = load_array(kind, key)
    if hit is not None:
        return hit
    value = np.asarray(compute())
    try:
        save_array(kind, key, value)
    except OSError as exc:
        warnings.warn(
            f"could not write the cache ({exc}); the result is used but not kept.",
            RuntimeWarning,
            stacklevel=2,
        )
    return value


def json_path(kind: str, key: str) -> Path:
    """Where the small record ``kind``/``key`` lives: ``workspace()/cache/<kind>/<key>.json``."""
    return cache_path(kind, key).with_suffix(".json")


def load_json(kind: str, key: str) -> dict | None:
    """The cached record (a JSON object), or ``None`` on a miss or an unreadable file."""
    try:
        value = json.loads(json_path(kind, key).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def save_json(kind: str, key: str, record: dict) -> None:
    """Store a small JSON record atomically beside the arrays; a failed write only warns."""
    path = json_path(kind, key)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(record, fh)
        os.replace(tmp, path)
    except OSError as exc:
        warnings.warn(f"could not write the cache ({exc}); the record is not kept.",
                      RuntimeWarning, stacklevel=2)


#: Sub-folder of ``workspace()/cache`` that numba's compiled kernels go to when numba has no
#: writable place of its own (:func:`numba_cache_folder`).
NUMBA_FOLDER = "numba"


def numba_cache_folder() -> Path | None:
    """Where numba may keep compiled kernels when the package folder and the user's cache
    folder are both read-only (an installed package in a container, a read-only home):
    ``workspace()/cache/numba``, created, or ``None`` when it cannot be written either.

    Numba's ``cache=True`` raises ``RuntimeError`` at import when it finds no writable place;
    :mod:`analysis.core._kernels` then points ``NUMBA_CACHE_DIR`` here (and compiles without a
    cache when this is ``None``), so the first run compiles and the next ones load.
    """
    folder = workspace() / "cache" / NUMBA_FOLDER
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=folder).close()  # writable, as numba checks it
    except OSError:
        return None
    return folder


def clear_cache(kind: str | None = None) -> int:
    """Delete the cached arrays of one ``kind`` (or all); returns how many files went."""
    root = workspace() / "cache"
    folder = root / _check_name(kind, "kind") if kind is not None else root
    if not folder.is_dir():
        return 0
    count = sum(1 for p in folder.rglob("*.npy") if p.is_file())
    shutil.rmtree(folder)
    return count
