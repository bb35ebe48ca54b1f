"""Cohen's and Fleiss' kappa: chance-corrected agreement of nominal ratings (1 = perfect,
0 = chance level).

* :func:`cohen_kappa` / :func:`pairwise_kappa`: Cohen (1960), two annotators on the rows both
  rated; equal to ``sklearn.metrics.cohen_kappa_score`` on those rows;
* :func:`fleiss_kappa`: Fleiss (1971), any annotators, generalised to rows rated by a varying
  number of annotators (see its notes).
"""

from __future__ import annotations

import numpy as np

from analysis.annotators._ratings import _as_vector, _check_ratings, _counts


def _kappa(agree, shared, chance):
    """Cohen's kappa from counts: agreeing rows, shared rows, and sum_k n_a(k) * n_b(k).

    ``(p_o - p_e) / (1 - p_e)`` with ``p_o = agree / shared`` and ``p_e = chance / shared**2``,
    computed as ``(agree * shared - chance) / (shared**2 - chance)``; NaN where fewer than 2
    rows are shared or the expected agreement is 1.
    """
    num = agree * shared - chance
    den = shared * shared - chance
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.asarray(num, dtype=float) / np.asarray(den, dtype=float)
    return np.where((shared < 2) | (den == 0), np.nan, out)


def cohen_kappa(a, b, num_classes: int | None = None) -> float:
    """Cohen's kappa of two annotators on the rows both of them rated.

    Parameters
    ----------
    a, b : array-like of shape (N,)
        The two annotators' class indices per row, -1 where not rated.
    num_classes : int, optional
        K, only used to check the values; default the largest class index + 1.

    Returns
    -------
    float
        ``(p_o - p_e) / (1 - p_e)``: ``p_o`` the share of shared rows where they agree,
        ``p_e = sum_k p_a(k) p_b(k)`` from each annotator's class shares on those rows
        (Cohen 1960). Equal to ``sklearn.metrics.cohen_kappa_score(a[both], b[both])``.
        NaN when fewer than 2 rows are rated by both, or when the expected agreement is 1
        (both gave every shared row the same single class: kappa is 0/0, undefined).
    """
    a = _as_vector(a, "a")
    b = _as_vector(b, "b")
    for name, values in (("a", a), ("b", b)):
        if values.ndim != 1:
            raise ValueError(f"{name} must be 1-D (one rating per row), got shape {values.shape}.")
    if a.shape != b.shape:
        raise ValueError(f"a has {a.size} rows but b has {b.size}: they must rate the same rows.")
    pair, k = _check_ratings(np.column_stack([a, b]), num_classes, column_names=["a", "b"])
    x, y = pair[:, 0], pair[:, 1]
    both = (x >= 0) & (y >= 0)
    x, y = x[both], y[both]
    shared = int(x.size)
    agree = int(np.count_nonzero(x == y))
    chance = int(np.bincount(x, minlength=k) @ np.bincount(y, minlength=k))
    return float(_kappa(agree, shared, chance))


def pairwise_kappa(ratings, num_classes: int | None = None) -> np.ndarray:
    """Cohen's kappa of every pair of annotators, each pair on the rows both rated.

    Parameters
    ----------
    ratings : array-like of shape (N, A)
        Class index per row and annotator, -1 where not rated.
    num_classes : int, optional
        K; default the largest class index + 1.

    Returns
    -------
    ndarray of shape (A, A), float
        Symmetric; ``[a, b]`` equals ``cohen_kappa(ratings[:, a], ratings[:, b])``; the
        diagonal is 1; NaN where the pair's kappa is undefined (see :func:`cohen_kappa`).

    Notes
    -----
    Computed for all pairs at once from A x A count tables (matrix products over the rows,
    exact in float64 for counts below 2**53): shared rows ``M^T M``, agreements
    ``sum_k X_k^T X_k`` and chance terms ``sum_k T_k * T_k^T`` with ``T_k = X_k^T M``, where
    ``M`` marks rated entries and ``X_k`` entries rated k.
    """
    r, k = _check_ratings(ratings, num_classes)
    rated = (r >= 0).astype(float)
    shared = rated.T @ rated
    agree = np.zeros_like(shared)
    chance = np.zeros_like(shared)
    for c in range(k):
        x = (r == c).astype(float)
        agree += x.T @ x
        t = x.T @ rated  # [a, b]: rows a rated c and b rated
        chance += t * t.T
    kappa = _kappa(agree, shared, chance)
    np.fill_diagonal(kappa, 1.0)
    return kappa


def fleiss_kappa(ratings, num_classes: int | None = None) -> float:
    """Fleiss' kappa of any number of annotators, who need not rate every row.

    Parameters
    ----------
    ratings : array-like of shape (N, A)
        Class index per row and annotator, -1 where not rated.
    num_classes : int, optional
        K; default the largest class index + 1.

    Returns
    -------
    float
        ``(P_bar - P_e) / (1 - P_e)``; NaN when no row has 2 ratings or when P_e is 1 (every
        rating is the same class: undefined).

    Notes
    -----
    With ``n_ik`` the annotators giving row i class k and ``m_i = sum_k n_ik``, over the rows
    with ``m_i >= 2`` (the others hold no pair to agree on and are ignored):

    * ``P_i = sum_k n_ik (n_ik - 1) / (m_i (m_i - 1))``, the share of agreeing pairs of
      ratings of row i, and ``P_bar`` their mean (each row counts once);
    * ``p_k = sum_i n_ik / sum_i m_i``, the share of all ratings that are k, and
      ``P_e = sum_k p_k**2``.

    When every row has the same number of ratings this is exactly Fleiss (1971), "Measuring
    nominal scale agreement among many raters", Psychological Bulletin 76(5). With a varying
    number it is the usual generalisation that keeps both definitions per row (not the
    variant of Fleiss, Levin & Paik that weighs rows by their number of ratings);
    :func:`krippendorff_alpha` is the coefficient designed for missing ratings.
    """
    r, k = _check_ratings(ratings, num_classes)
    counts = _counts(r, k)
    m = counts.sum(axis=1)
    pairable = m >= 2
    if not pairable.any():
        return float("nan")
    counts, m = counts[pairable], m[pairable]
    p_i = ((counts * (counts - 1)).sum(axis=1)) / (m * (m - 1))
    p_bar = float(p_i.mean())
    per_class = counts.sum(axis=0)
    total = int(m.sum())
    chance = int(per_class @ per_class)
    if chance == total * total:
        return float("nan")
    p_e = chance / (total * total)
    return (p_bar - p_e) / (1.0 - p_e)
