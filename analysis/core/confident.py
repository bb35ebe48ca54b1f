"""Confident learning: thresholds, the confident joint, calibration and the noise matrices.

Definitions follow Northcutt, Jiang & Chuang, "Confident Learning: Estimating Uncertainty in
Dataset Labels" (JAIR 2021), section 3, with the conventions of its reference implementation
(cleanlab 2.x) so that numbers can be compared one to one:

* the threshold of class j is the mean self-confidence ``p(j | x)`` of the rows given j;
* a row counts for the class whose probability is at or above its threshold (the arg-max of
  the row when several classes are), rows with no such class are not counted;
* ``confident_joint[i, j]`` counts rows given label i whose estimated true label is j, with at
  least one count on every diagonal entry;
* calibration rescales each row to the number of rows given that label and the whole matrix to
  N, then rounds each row to integers that keep its total (largest remainders first).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analysis.core import chunked, limits, sparse
from analysis.core.evidence import Evidence
from analysis.core.numbers import EPS, TINY, prior_by_count


def evidence(labels, pred_probs, *, chunk_rows: int | None = None,
             require_two_classes: bool = True, progress=None) -> Evidence:
    """:class:`Evidence` for an in-memory array; for a path (``.npy``, zarr), a zarr or dask
    array, or with ``chunk_rows`` set, the same evidence computed in row chunks
    (:class:`analysis.core.chunked.ChunkedEvidence`, identical results)."""
    if chunk_rows is not None or chunked.is_chunked_input(pred_probs):
        return chunked.chunked_evidence(labels, pred_probs, chunk_rows=chunk_rows,
                                        require_two_classes=require_two_classes,
                                        progress=progress)
    return Evidence(labels, pred_probs, require_two_classes=require_two_classes)


def confident_thresholds(labels, pred_probs, *, chunk_rows: int | None = None) -> np.ndarray:
    """Per-class thresholds: mean ``pred_probs[:, j]`` over the rows given class j.

    Parameters
    ----------
    labels : array-like of shape (N,)
        Given labels, integers 0..K-1.
    pred_probs : array-like of shape (N, K), path, zarr or dask array
        Out-of-fold predicted probabilities (see :func:`evidence` for the chunked sources).
    chunk_rows : int, optional
        Rows per chunk of the chunked route (default: about 64 MiB per chunk).

    Returns
    -------
    ndarray of shape (K,)
        Thresholds (2 for a class no row is given: nothing reaches it).
    """
    return evidence(labels, pred_probs, chunk_rows=chunk_rows).thresholds


def confident_joint(
    labels, pred_probs, *, calibrate: bool = True, chunk_rows: int | None = None
) -> np.ndarray:
    """Count rows by (given label, confidently estimated true label).

    Parameters
    ----------
    labels : array-like of shape (N,)
        Given labels, integers 0..K-1.
    pred_probs : array-like of shape (N, K)
        Out-of-fold predicted probabilities, rows summing to 1 (within 1e-3).
    calibrate : bool, default=True
        Rescale rows to the given-label counts and the total to N (integers kept).
    chunk_rows : int, optional
        Rows per chunk of the chunked route (a path, zarr or dask ``pred_probs``).

    Returns
    -------
    ndarray of shape (K, K), int
        ``cj[i, j]`` = rows given label i whose true label is estimated to be j.

    Raises
    ------
    ValueError
        On malformed inputs; the message names the offending rows.
    """
    ev = evidence(labels, pred_probs, chunk_rows=chunk_rows)
    return ev.confident_joint if calibrate else ev.raw_confident_joint


@dataclass(frozen=True)
class NoiseEstimate:
    """Everything confident learning estimates about the label noise of a dataset.

    Attributes
    ----------
    confident_joint : ndarray of shape (K, K), int
        Calibrated confident joint, rows = given label, columns = estimated true label.
    joint : ndarray of shape (K, K)
        ``confident_joint / N``: estimate of P(given = i, true = j).
    noise_matrix : ndarray of shape (K, K)
        P(given = i | true = j); columns sum to 1.
    inverse_noise_matrix : ndarray of shape (K, K)
        P(true = i | given = j); columns sum to 1.
    prior_true : ndarray of shape (K,)
        Estimated distribution of the true labels.
    noise_rate : ndarray of shape (K,)
        Per given class j: P(true != j | given = j).
    num_issues : int
        Rows counted off the diagonal whose given label is not the model's prediction.
    label_counts : ndarray of shape (K,)
        Rows given each class.
    """

    confident_joint: np.ndarray
    joint: np.ndarray
    noise_matrix: np.ndarray
    inverse_noise_matrix: np.ndarray
    prior_true: np.ndarray
    noise_rate: np.ndarray
    num_issues: int
    label_counts: np.ndarray

    @property
    def num_classes(self) -> int:
        return len(self.label_counts)

    @property
    def num_rows(self) -> int:
        return int(self.label_counts.sum())

    @property
    def estimated_error_fraction(self) -> float:
        """Estimated share of wrong labels: 1 - trace(joint)."""
        return float(1.0 - self.joint.trace())  # ndarray or scipy.sparse


def _clip_noise_rates(matrix: np.ndarray) -> np.ndarray:
    # off-diagonal rates below 1, diagonal kept, columns renormalised to 1
    clipped = np.clip(matrix, 0, 0.9999)
    np.fill_diagonal(clipped, np.diagonal(matrix))
    return clipped / np.clip(clipped.sum(axis=0), a_min=TINY, a_max=None)


#: Rounds of :func:`_converge`: the inverse noise matrix and the prior are made consistent
#: ``_INVERSE_ROUNDS`` times, then the noise matrix is recomputed, ``_NOISE_ROUNDS`` times.
_INVERSE_ROUNDS = 5
_NOISE_ROUNDS = 3
#: Lower bound of each class's converged true prior.
_CONVERGED_MIN_PRIOR = 1e-5


def _converge(given_prior, prior, noise, inverse):
    """Make the true prior and both noise matrices consistent with one another by Bayes' rule.

    Each was estimated from the confident joint on its own; they are tied by
    P(true = y | given = s) P(given = s) = P(given = s | true = y) P(true = y). Repeatedly:
    the inverse noise matrix from the noise matrix and the prior, the prior from the two
    matrices' diagonals; then the noise matrix from the inverse one. Every matrix keeps its
    off-diagonal rates below 1 with columns summing to 1, the prior stays above 1e-6 (1e-5
    at the end) and sums to 1. A class no row is given (P(given) = 0) keeps empty columns.
    """
    given = np.clip(given_prior, a_min=TINY, a_max=None)
    for _ in range(_NOISE_ROUNDS):
        for _ in range(_INVERSE_ROUNDS):
            # inverse[y, s] = noise[s, y] P(true = y) / P(given = s)
            inverse = _clip_noise_rates((noise * prior[None, :] / given[:, None]).T)
            prior = prior_by_count(inverse, noise, given_prior, EPS)
        # noise[s, y] = inverse[y, s] P(given = s) / P(true = y)
        true = np.clip(prior, a_min=TINY, a_max=None)
        noise = _clip_noise_rates(inverse.T * given_prior[:, None] / true[None, :])
    prior = np.clip(prior, _CONVERGED_MIN_PRIOR, 1.0)
    prior = prior / np.clip(np.sum(prior), a_min=TINY, a_max=None)
    return prior, _clip_noise_rates(noise), _clip_noise_rates(inverse)


def noise_estimate_from(ev: Evidence, *, converge: bool = False) -> NoiseEstimate:
    """Build a :class:`NoiseEstimate` from already computed evidence (see
    :func:`estimate_noise`)."""
    cj = ev.confident_joint
    counts = ev.label_counts
    if ev.sparse:
        if converge:  # fills every entry: dense, if it fits
            limits.check_dense_matrices(ev.k, 8, "estimate_noise(converge=True)")
            return _dense_estimate(cj.toarray(), counts, ev, converge=True)
        joint, noise, inverse, prior, rate = sparse.noise_parts(cj, counts, ev.n)
        return NoiseEstimate(
            confident_joint=cj, joint=joint, noise_matrix=noise, inverse_noise_matrix=inverse,
            prior_true=prior, noise_rate=rate, num_issues=ev.num_issues(), label_counts=counts,
        )
    return _dense_estimate(cj, counts, ev, converge=converge)


def _dense_estimate(cj, counts, ev: Evidence, *, converge: bool) -> NoiseEstimate:
    joint = cj / np.clip(float(np.sum(cj)), a_min=TINY, a_max=None)
    given_counts = cj.sum(axis=1).astype(float)
    true_counts = cj.sum(axis=0).astype(float)
    noise = cj / np.clip(true_counts, a_min=TINY, a_max=None)
    inverse = cj.T / np.clip(given_counts, a_min=TINY, a_max=None)
    given_prior = counts / float(ev.n)
    prior = prior_by_count(inverse, noise, given_prior, EPS)
    inverse = _clip_noise_rates(inverse)
    noise = _clip_noise_rates(noise)
    if converge:
        prior, noise, inverse = _converge(given_prior, prior, noise, inverse)
    return NoiseEstimate(
        confident_joint=cj,
        joint=joint,
        noise_matrix=noise,
        inverse_noise_matrix=inverse,
        prior_true=prior,
        noise_rate=1.0 - inverse.diagonal(),
        num_issues=ev.num_issues(),
        label_counts=counts,
    )


def estimate_noise(
    labels, pred_probs, *, converge: bool = False, chunk_rows: int | None = None,
    progress=None,
) -> NoiseEstimate:
    """Estimate the joint of given and true labels and the noise matrices.

    Every part comes from the calibrated confident joint ``C`` (rows = given label):
    the noise matrix is ``C`` with each column divided by its total, the inverse noise matrix
    ``C`` transposed with each column divided by its total, the true prior
    ``P(true = k | given = k) P(given = k) / P(given = k | true = k)``. This equals the
    reference implementation's ``estimate_latent(confident_joint, labels)`` with its
    defaults (``py_method="cnt"``, ``converge_latent_estimates=False``): each part is
    estimated on its own, so they need not satisfy Bayes' rule exactly with one another.

    Parameters
    ----------
    labels : array-like of shape (N,)
        Given labels, integers 0..K-1.
    pred_probs : array-like of shape (N, K)
        Out-of-fold predicted probabilities.
    converge : bool, default=False
        Make the prior and the two noise matrices consistent with one another (Bayes' rule
        with the given-label prior), as the reference's ``converge_latent_estimates=True``
        does: three rounds of [five rounds of the inverse noise matrix from the noise matrix
        and the prior, then the prior from both; then the noise matrix from the inverse one],
        the prior finally clipped at 1e-5 and renormalised. The confident joint, the joint
        and ``num_issues`` do not change.
    chunk_rows : int, optional
        Rows per chunk. ``pred_probs`` may also be the path of a ``.npy`` file (memory-mapped),
        a zarr array or its path, or a ``dask.array.Array`` chunked by rows: it is then read in
        row chunks, never whole, with identical results (``analysis.core.chunked``).
    progress : callable(fraction, message), optional
        Progress of the chunked route, per pass and chunk.

    Returns
    -------
    NoiseEstimate
        Confident joint, joint, P(given | true), P(true | given), true prior, per-class noise
        rates and the number of label issues.
    """
    ev = evidence(labels, pred_probs, chunk_rows=chunk_rows, progress=progress)
    return noise_estimate_from(ev, converge=converge)
