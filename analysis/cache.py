"""The on-disk workspace cache (DESIGN section 6), keyed by content fingerprints."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd


def workspace() -> Path:
    """The workspace folder: ``$NOISELENS_HOME``, else ``./.noiselens``."""
    return Path(os.environ.get("NOISELENS_HOME", ".noiselens"))


def _feed(h, part) -> None:
    if isinstance(part, np.ndarray):
        arr = np.ascontiguousarray(part)
        if arr.dtype == object:
            arr = arr.astype(str)
        h.update(f"nd{arr.dtype.str}{arr.shape}".encode())
        h.update(arr.tobytes())
    elif isinstance(part, pd.DataFrame):
        h.update(f"df{list(map(str, part.columns))}".encode())
        for col in part.columns:
            _feed(h, part[col].to_numpy())
    elif isinstance(part, pd.Series):
        _feed(h, part.to_numpy())
    elif isinstance(part, bytes):
        h.update(b"b" + len(part).to_bytes(8, "little") + part)
    elif isinstance(part, dict):
        for key in sorted(part, key=str):
            _feed(h, str(key))
            _feed(h, part[key])
    elif isinstance(part, list | tuple):
        h.update(f"seq{len(part)}".encode())
        for item in part:
            _feed(h, item)
    else:
        _feed(h, repr(part).encode())


def fingerprint(*parts) -> str:
    """SHA-256 hex digest of arrays, frames, strings, numbers and containers of those.

    Stable across processes: dtype, shape and bytes of arrays count, not object identity.
    """
    h = hashlib.sha256()
    for part in parts:
        _feed(h, part)
    return h.hexdigest()


def _path(kind: str, key: str) -> Path:
    return workspace() / "cache" / kind / f"{key}.npy"


def load_array(kind: str, key: str) -> np.ndarray | None:
    """The cached array, or None on a miss (a corrupt file counts as a miss and is removed)."""
    path = _path(kind, key)
    if not path.exists():
        return None
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError):
        path.unlink(missing_ok=True)
        return None


def save_array(kind: str, key: str, array: np.ndarray) -> None:
    """Write atomically: a temporary file in the same folder, then a rename."""
    path = _path(kind, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.save(fh, np.asarray(array), allow_pickle=False)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def cached_array(kind: str, key: str, compute: Callable[[], np.ndarray]) -> np.ndarray:
    """Return the cached array for ``key``, computing and storing it on a miss."""
    hit = load_array(kind, key)
    if hit is not None:
        return hit
    value = compute()
    save_array(kind, key, value)
    return value
