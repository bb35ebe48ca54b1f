"""Input validation at the public edge: clear ``ValueError`` messages that say where."""

from __future__ import annotations

import numpy as np

from analysis.core import _kernels

#: Rounding tolerated in real files: row sums within this of 1, values this far outside [0, 1].
PROB_TOLERANCE = 1e-3


def describe_rows(rows: np.ndarray, limit: int = 5) -> str:
    """``"rows 3, 17 and 42"`` / ``"rows 3, 17, 42, 50, 51 (and 12 more)"`` (0-based)."""
    rows = np.asarray(rows).ravel()
    shown = ", ".join(str(int(r)) for r in rows[:limit])
    word = "row" if rows.size == 1 else "rows"
    more = f" (and {rows.size - limit} more)" if rows.size > limit else ""
    return f"{word} {shown}{more}"


def check_labels(labels, *, name: str = "labels") -> np.ndarray:
    """Return ``labels`` as a 1-D int64 array, or raise ``ValueError`` saying what is wrong."""
    arr = np.asarray(labels)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one label per row), got shape {arr.shape}.")
    if arr.size == 0:
        raise ValueError(f"{name} is empty: there is nothing to analyse.")
    if arr.dtype.kind in "iub":
        return arr.astype(np.int64, copy=False)
    if arr.dtype.kind == "f":
        bad = np.flatnonzero(~np.isfinite(arr) | (arr != np.round(arr)))
        if bad.size:
            raise ValueError(
                f"{name} must be integer class indices 0..K-1; {describe_rows(bad)} hold "
                f"{arr[bad[0]].item()!r}."
            )
        return arr.astype(np.int64)
    raise ValueError(
        f"{name} must be integer class indices 0..K-1, got dtype {arr.dtype} "
        f"(first value {arr[0]!r}); encode class names first, e.g. with "
        "analysis.data.dataset.Dataset."
    )


def check_inputs(
    labels, pred_probs, *, require_two_classes: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Validate ``labels`` (N,) and ``pred_probs`` (N, K) together.

    Returns int64 labels and a C-contiguous float32/float64 ``pred_probs`` (no copy when the
    input already is one). Raises ``ValueError`` naming the offending rows or classes.
    """
    labels = check_labels(labels)
    probs = np.asarray(pred_probs)
    if probs.ndim != 2:
        raise ValueError(
            f"pred_probs must be 2-D (rows x classes), got shape {probs.shape}."
        )
    check_shapes(labels, probs.shape, probs.dtype, require_two_classes=require_two_classes)
    probs = np.ascontiguousarray(as_float(probs))

    tol = PROB_TOLERANCE
    codes = _kernels.row_checks(probs, tol)
    flagged = np.flatnonzero(codes)
    if flagged.size == 0:
        return labels, probs
    # the details of the flagged rows only, in float64
    codes = codes[flagged]
    block = probs[flagged].astype(np.float64)
    raise ValueError(
        problem_message(flagged, codes, block.min(axis=1), block.max(axis=1), block.sum(axis=1))
    )


def as_float(probs: np.ndarray) -> np.ndarray:
    """``probs`` as float32 / float64 (float16 -> float32, integers -> float64), no copy when
    it already is one; ``ValueError`` for a non-numeric dtype."""
    if probs.dtype not in (np.float32, np.float64):
        if probs.dtype.kind not in "iubf":
            raise ValueError(f"pred_probs must be numeric, got dtype {probs.dtype}.")
        probs = probs.astype(np.float32 if probs.dtype == np.float16 else np.float64)
    return probs


def float_dtype(dtype) -> np.dtype:
    """The dtype :func:`as_float` turns ``dtype`` into."""
    dtype = np.dtype(dtype)
    if dtype in (np.float32, np.float64):
        return dtype
    if dtype.kind not in "iubf":
        raise ValueError(f"pred_probs must be numeric, got dtype {dtype}.")
    return np.dtype(np.float32 if dtype == np.float16 else np.float64)


def check_shapes(
    labels: np.ndarray, shape: tuple, dtype, *, require_two_classes: bool = True
) -> np.dtype:
    """Check validated int64 ``labels`` against a ``pred_probs`` of ``shape`` (N, K) and
    ``dtype``: same rows, at least two columns, numeric, labels in 0..K-1, and (if asked) two
    classes given. Returns the float dtype the rows are worked in (:func:`float_dtype`)."""
    if len(shape) != 2:
        raise ValueError(f"pred_probs must be 2-D (rows x classes), got shape {tuple(shape)}.")
    n, k = shape
    if n != labels.size:
        raise ValueError(
            f"labels has {labels.size} rows but pred_probs has {n}: they must be the same rows."
        )
    if k < 2:
        raise ValueError(
            f"pred_probs has {k} column(s): label noise needs at least 2 classes."
        )
    work = float_dtype(dtype)
    bad = np.flatnonzero((labels < 0) | (labels >= k))
    if bad.size:
        raise ValueError(
            f"labels must be class indices 0..{k - 1} (pred_probs has {k} columns); "
            f"{describe_rows(bad)} hold {labels[bad[0]]}."
        )
    if require_two_classes:
        present = np.flatnonzero(np.bincount(labels, minlength=k))
        if present.size < 2:
            raise ValueError(
                f"every row is given class {present[0]}: label noise needs at least 2 classes "
                "among the given labels."
            )
    return work


def problem_message(flagged, codes, mins, maxs, sums, tol: float = PROB_TOLERANCE) -> str:
    """The error message for the rows :func:`_kernels.row_checks` flagged (``flagged``, their
    ``codes``, and each flagged row's minimum, maximum and sum in float64)."""
    bad = flagged[codes == 1]
    if bad.size:
        return f"pred_probs must be finite; {describe_rows(bad)} contain NaN or infinity."
    for code, values, what in (
        (2, mins, "a negative probability"),
        (3, maxs, "a probability above 1"),
    ):
        hit = codes == code
        if hit.any():
            bad = flagged[hit]
            worst = np.argmax(-values[hit] if code == 2 else values[hit])
            return (
                f"pred_probs must lie in [0, 1]: {describe_rows(bad)} hold {what} "
                f"(worst: row {bad[worst]}, value {values[hit][worst]:.6g})."
            )
    worst = np.argmax(np.abs(sums - 1.0))
    return (
        f"each row of pred_probs must sum to 1 (within {tol:g}); {describe_rows(flagged)} do "
        f"not (worst: row {flagged[worst]} sums to {sums[worst]:.6g})."
    )
