"""Tiny PNG thumbnails (data URIs) of pixel rows, for image columns of ``st.dataframe``."""

from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image


def to_uint8(pixels: np.ndarray) -> np.ndarray:
    """Scale pixel values to 0..255 (dark strokes on white, as the digits are drawn)."""
    values = np.asarray(pixels, dtype=np.float64)
    lo, hi = np.nanmin(values), np.nanmax(values)
    scaled = (values - lo) / (hi - lo) if hi > lo else np.zeros_like(values)
    return (255 - np.nan_to_num(scaled) * 255).round().astype(np.uint8)


def png_data_uri(pixels: np.ndarray, shape: tuple[int, int], *, scale: int = 4) -> str:
    """``data:image/png;base64,...`` of one grey-scale image, enlarged ``scale`` times."""
    img = Image.fromarray(to_uint8(np.asarray(pixels).reshape(shape)), mode="L")
    img = img.resize((shape[1] * scale, shape[0] * scale), Image.Resampling.NEAREST)
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def image_problem(path) -> str | None:
    """Why the image file at ``path`` cannot be shown (missing, not an image, or declaring
    more pixels than Pillow's decompression-bomb limit, ``PIL.Image.MAX_IMAGE_PIXELS``), or
    ``None``. Only the header is read: a 30000 x 30000 PNG of a few KB is refused here, never
    handed to the browser to decode."""
    try:
        with Image.open(path) as im:
            im.size  # noqa: B018 - the header is parsed by open; nothing is decoded
    except Image.DecompressionBombError as err:
        return f"{path}: too large to show ({err})"
    except (OSError, ValueError) as err:  # UnidentifiedImageError is an OSError
        return f"{path}: {err}"
    return None

