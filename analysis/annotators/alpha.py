"""Krippendorff's alpha for nominal data from the coincidence matrix (Krippendorff 2011,
"Computing Krippendorff's Alpha-Reliability"), missing ratings allowed.
"""

from __future__ import annotations

import numpy as np

from analysis.annotators._ratings import _check_ratings, _counts


def coincidence_matrix(ratings, num_classes: int | None = None) -> np.ndarray:
    """Krippendorff's coincidence matrix of nominal ratings.

    Parameters
    ----------
    ratings : array-like of shape (N, A)
        Class index per row (unit) and annotator (observer), -1 where not rated.
    num_classes : int, optional
        K; default the largest class index + 1.

    Returns
    -------
    ndarray of shape (K, K), float
        ``o[c, k] = sum_u (n_uc n_uk - [c == k] n_uc) / (m_u - 1)`` over the rows u with
        ``m_u >= 2`` ratings: the number of ordered pairs of ratings (c, k) within a row, each
        row contributing ``m_u`` pairable values. Symmetric; its total is the number of
        pairable ratings ``n`` and its row sums the per-class counts ``n_c``.
    """
    r, k = _check_ratings(ratings, num_classes)
    return _coincidences(_counts(r, k))[0]


def _coincidences(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    m = counts.sum(axis=1)
    pairable = m >= 2
    counts = counts[pairable]
    weighted = counts / (m[pairable] - 1)[:, None]
    o = weighted.T @ counts
    o[np.diag_indices_from(o)] -= weighted.sum(axis=0)
    return o, counts.sum(axis=0)


def krippendorff_alpha(ratings, num_classes: int | None = None) -> float:
    """Krippendorff's alpha for nominal data, missing ratings allowed.

    Parameters
    ----------
    ratings : array-like of shape (N, A)
        Class index per row (unit) and annotator (observer), -1 where not rated.
    num_classes : int, optional
        K; default the largest class index + 1.

    Returns
    -------
    float
        ``1 - D_o / D_e`` computed from the coincidence matrix ``o`` (see
        :func:`coincidence_matrix`) as in Krippendorff (2011), "Computing Krippendorff's
        Alpha-Reliability", section C (nominal data, any number of observers, missing data)::

            alpha = ((n - 1) sum_c o_cc - sum_c n_c (n_c - 1))
                    / (n (n - 1) - sum_c n_c (n_c - 1))

        Rows with fewer than 2 ratings are not pairable and are ignored. NaN when there are
        no pairable rows or every pairable rating is the same class (``D_e = 0``).
    """
    r, k = _check_ratings(ratings, num_classes)
    o, n_c = _coincidences(_counts(r, k))
    n = int(n_c.sum())
    same = int((n_c * (n_c - 1)).sum())
    den = n * (n - 1) - same
    if n == 0 or den == 0:
        return float("nan")
    return float(((n - 1) * np.trace(o) - same) / den)
