"""Images (internal): an image column recognised and its paths checked (inside the data
folder, present), and image files read into small grey pixel rows (:func:`image_pixels`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, UnidentifiedImageError

from analysis.core._validation import describe_rows
from analysis.data._basics import IMAGE_SUFFIXES, DataError, _fail


def _is_image_column(values: pd.Series) -> bool:
    sample = values.dropna().astype(str).head(50)
    return len(sample) > 0 and sample.str.lower().str.endswith(IMAGE_SUFFIXES).all()


def _check_images(frame: pd.DataFrame, column: str, base_dir: Path, source: str) -> None:
    base = base_dir.resolve()
    paths = frame[column].astype(str)
    outside, missing = [], []
    for i, rel in enumerate(paths):
        full = (base / rel).resolve()
        if not full.is_relative_to(base):
            outside.append(i)
        elif not full.is_file():
            missing.append(i)
    if outside:
        raise _fail(source, f"image column '{column}' points outside the data folder {base} in "
                            f"{describe_rows(outside)} ({paths.iloc[outside[0]]!r}).")
    if missing:
        raise _fail(source, f"image column '{column}': files missing for "
                            f"{describe_rows(missing)} (first: {paths.iloc[missing[0]]!r}, "
                            f"looked in {base}).")


#: Images of a folder dataset are reduced to this many pixels a side (RGB) to learn from.
FOLDER_PIXELS = 16


def image_pixels(paths: Sequence[Path], size: int = FOLDER_PIXELS, *,
                 source: str = "images", progress=None,
                 skipped: list[tuple[int, str]] | None = None) -> np.ndarray:
    """Each image as ``size`` x ``size`` RGB pixels in [0, 1], one row per image:
    (N, 3 * size * size) float32. An unreadable file raises :class:`DataError` naming it.

    An image whose declared size passes Pillow's decompression-bomb limit
    (``PIL.Image.MAX_IMAGE_PIXELS``, 89 M pixels; a 30000 x 30000 PNG is a few KB on disk
    and 2.7 GB decoded) is never decoded: with a ``skipped`` list its row and a message are
    appended there and its pixels are left at 0 (the caller decides what the row becomes);
    without one it raises :class:`DataError` naming the file."""
    out = np.empty((len(paths), 3 * size * size), dtype=np.float32)
    for i, path in enumerate(paths):
        try:
            with Image.open(path) as im:
                small = im.convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
        except Image.DecompressionBombError as err:
            # row as describe_rows counts (from 0: the row id of a file without an id column)
            message = f"image {path} (row {i}) is too large to decode: {err}"
            if skipped is None:
                raise DataError(f"{source}: {message}") from None
            skipped.append((i, f"{message} It was skipped."))
            out[i] = 0.0
            continue
        except (OSError, UnidentifiedImageError, ValueError) as err:
            raise DataError(f"{source}: cannot read image {path} (row {i}): {err}") from None
        out[i] = np.asarray(small, dtype=np.float32).reshape(-1) / 255.0
        if progress is not None and i % 500 == 0:
            progress(i / max(len(paths), 1), f"reading images {i:,} / {len(paths):,}")
    return out
