"""Small maths every part of confident learning shares: the comparison tolerance, the
rounding that keeps totals, the prior from the noise matrices. Imports nothing of
``analysis``."""

from __future__ import annotations

import numpy as np

#: Tolerance of the threshold comparison and of the "label still wins" test.
EPS = 1e-6


#: Floor of a denominator (a class or row with nothing in it).
TINY = 1e-100


def round_preserving_sum(values: np.ndarray) -> np.ndarray:
    """Round to integers whose total is the rounded total of ``values``.

    Each value is rounded; while the totals differ, the values that lost most (or gained most)
    to rounding move by one.
    """
    values = np.asarray(values, dtype=float)
    ints = values.round()
    target = values.sum().round()
    gap = target - ints.sum().round()
    while abs(gap) > EPS:
        step = 1 if gap > 0 else -1
        count = min(int(abs(gap)), values.size)
        order = np.argsort(values - ints)
        chosen = (order[::-1] if step > 0 else order)[:count]
        ints[chosen] += step
        gap = target - ints.sum().round()
    return ints.astype(int)


def round_preserving_row_totals(matrix: np.ndarray) -> np.ndarray:
    """:func:`round_preserving_sum` applied to each row."""
    return np.array([round_preserving_sum(row) for row in np.asarray(matrix)], dtype=int)


def prior_by_count(inverse, noise, given_prior, low: float) -> np.ndarray:
    """P(true = k) = P(true = k | given = k) P(given = k) / P(given = k | true = k), clipped
    to [low, 1] and renormalised (the reference's "cnt" estimate of the true prior)."""
    prior = inverse.diagonal() / np.clip(noise.diagonal(), a_min=TINY, a_max=None)
    prior = np.clip(prior * given_prior, low, 1.0)
    return prior / np.clip(np.sum(prior), a_min=TINY, a_max=None)

