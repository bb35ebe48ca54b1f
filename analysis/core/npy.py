"""The header of a ``.npy`` file, read and checked against the file's size before anything is
loaded (never a pickle)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


class NpyError(ValueError):
    """A file that is not a readable ``.npy`` array; the message names it."""


def _fail(name: str, message: str) -> NpyError:
    return NpyError(f"{name}: {message}")


def human_bytes(n: float) -> str:
    """A size for people: ``1536`` -> ``"1.5 KiB"``."""
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} bytes"  # pragma: no cover


def npy_header(p: Path, what: str = "the file") -> tuple[tuple, np.dtype]:
    """The shape and dtype of the ``.npy`` file ``p``, read from its header alone and checked
    against the file's size; :class:`NpyError` naming the file otherwise: not a .npy file
    (random bytes, another format), an ``.npz`` archive, a damaged header, Python objects,
    or data shorter or longer than the header says. Nothing is loaded, never a pickle (random
    bytes made NumPy answer "pickled data", issue #25)."""
    from numpy.lib import format as npformat

    name = p.name
    size = p.stat().st_size
    with open(p, "rb") as fh:
        start = fh.read(6)
        if start[:4] == b"PK\x03\x04":
            raise _fail(name, f"{what} is a NumPy .npz archive (a zip of several arrays), not "
                              "one array; save the array itself with numpy.save('file.npy', "
                              "array).")
        fh.seek(0)
        try:
            version = npformat.read_magic(fh)
        except ValueError:
            raise _fail(name, f"{what} is not a NumPy .npy file (it does not start with the "
                              ".npy signature); save the array with numpy.save, or give a "
                              ".csv file.") from None
        try:
            if version == (1, 0):
                shape, fortran, dtype = npformat.read_array_header_1_0(fh)
            elif version == (2, 0):
                shape, fortran, dtype = npformat.read_array_header_2_0(fh)
            else:
                shape, fortran, dtype = npformat._read_array_header(fh, version)
        except (ValueError, SyntaxError, TypeError, EOFError) as err:
            raise _fail(name, f"{what}: the .npy header is damaged ({err}).") from None
        offset = fh.tell()
    if dtype.hasobject:
        raise _fail(name, f"{what} holds Python objects (a pickle); save it as a numeric "
                          "array with numpy.save; pickles are never opened.")
    need = int(np.prod(shape, dtype=object)) * dtype.itemsize
    have = size - offset
    if need != have:
        raise _fail(name, f"{what}: the .npy header says shape {tuple(shape)} of {dtype} "
                          f"({human_bytes(need)}) but the file holds {human_bytes(have)} "
                          "of data; the file is truncated or damaged.")
    return tuple(shape), dtype

