"""The last details of reference compatibility: a single ``num_to_remove_per_class`` for
every class, and the converged noise estimate (``estimate_latent(...,
converge_latent_estimates=True)``), checked exactly against cleanlab, classes of one or two
rows included."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from core_cases import ALL_CASES, PRUNE_FILTERS, noisy_dataset

import analysis

pytest.importorskip("cleanlab")
from cleanlab import count as cl_count  # noqa: E402
from cleanlab import filter as cl_filter  # noqa: E402

pytestmark = [pytest.mark.filterwarnings("ignore"), pytest.mark.usefixtures("one_numba_thread")]


def quiet(func, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return func(*args, **kwargs)


def _small_class_cases():
    """Classes of one and two rows (given correctly or not), float64 and float32."""
    cases = {}
    for seed, dtype in ((20, np.float64), (21, np.float32), (22, np.float64)):
        labels, probs = noisy_dataset(seed, 80, 5, dtype=dtype, noise=0.3)
        labels = np.where(labels >= 3, 0, labels)  # classes 3 and 4 emptied ...
        labels[0] = 3  # ... then given one row
        labels[1:3] = 4  # ... and two rows
        cases[f"one-two-rows-s{seed}"] = (labels, probs)
    # the lone row of class 2 confidently counted for class 0: its diagonal is the minimum 1
    labels, probs = noisy_dataset(23, 60, 3, noise=0.2)
    labels[labels == 2] = 1
    labels[5] = 2
    probs[5] = [0.9, 0.05, 0.05]
    cases["one-row-mislabelled"] = (labels, probs)
    labels = np.array([0, 0, 0, 1, 1, 2])
    probs = np.array([
        [0.8, 0.1, 0.1], [0.7, 0.2, 0.1], [0.2, 0.7, 0.1],
        [0.1, 0.8, 0.1], [0.5, 0.4, 0.1], [0.3, 0.3, 0.4],
    ])
    cases["six-rows"] = (labels, probs)
    return cases


SMALL = _small_class_cases()
ESTIMATE_CASES = {c.id: (c.labels, c.pred_probs) for c in ALL_CASES} | SMALL


# -- num_to_remove_per_class: one number for every class ---------------------------------

def _scalar_cases():
    cases = []
    for seed, n, k, dtype in ((30, 300, 3, np.float64), (31, 400, 5, np.float32),
                              (32, 250, 4, np.float64)):
        labels, probs = noisy_dataset(seed, n, k, dtype=dtype, noise=0.35, balanced=True)
        cases.append((f"s{seed}-k{k}", labels, probs))
    return cases


@pytest.mark.parametrize("remove", [0, 1, 4, np.int64(9), np.array(2)])
@pytest.mark.parametrize("filter_by", PRUNE_FILTERS)
def test_scalar_num_to_remove_per_class_broadcasts_as_the_reference(filter_by, remove):
    for name, labels, probs in _scalar_cases():
        k = probs.shape[1]
        got = analysis.find_label_issues(
            labels, probs, filter_by=filter_by, num_to_remove_per_class=remove
        )
        want = quiet(
            cl_filter.find_label_issues, labels, probs, filter_by=filter_by, n_jobs=1,
            num_to_remove_per_class=remove,
        )
        np.testing.assert_array_equal(got, want, err_msg=name)
        per_class = analysis.find_label_issues(
            labels, probs, filter_by=filter_by, num_to_remove_per_class=np.full(k, remove)
        )
        np.testing.assert_array_equal(got, per_class, err_msg=name)
        ranked = analysis.find_label_issues(
            labels, probs, filter_by=filter_by, num_to_remove_per_class=remove,
            rank_by="normalized_margin",
        )
        want_ranked = quiet(
            cl_filter.find_label_issues, labels, probs, filter_by=filter_by, n_jobs=1,
            num_to_remove_per_class=remove, return_indices_ranked_by="normalized_margin",
        )
        np.testing.assert_array_equal(ranked, want_ranked, err_msg=name)
        if filter_by == "prune_by_class":
            # exact there: that many rows of every class (that has them), fewer only where
            # the given label is the prediction
            assert np.all(np.bincount(labels[got], minlength=k) <= int(remove))


def test_scalar_num_to_remove_per_class_is_checked_like_a_list():
    labels, probs = noisy_dataset(33, 60, 3)
    labels[labels == 2] = 0
    labels[:2] = 2  # class 2 has two rows
    with pytest.raises(ValueError, match=r"class 2 has \(3 > 2\)"):
        analysis.find_label_issues(labels, probs, filter_by="prune_by_class",
                                   num_to_remove_per_class=3)
    with pytest.raises(ValueError, match="3 non-negative counts"):
        analysis.find_label_issues(labels, probs, num_to_remove_per_class=-1)
    with pytest.raises(ValueError, match="apply only to filter_by"):
        analysis.find_label_issues(labels, probs, filter_by="confident_learning",
                                   num_to_remove_per_class=1)


# -- estimate_noise: the reference's estimate_latent, with and without convergence --------

@pytest.mark.parametrize("case_id", list(ESTIMATE_CASES))
def test_estimate_noise_converged_equals_reference(case_id):
    labels, probs = ESTIMATE_CASES[case_id]
    cj = quiet(cl_count.compute_confident_joint, labels, probs)
    plain = analysis.estimate_noise(labels, probs)
    converged = analysis.estimate_noise(labels, probs, converge=True)
    for est, converge in ((plain, False), (converged, True)):
        py, noise, inverse = quiet(
            cl_count.estimate_latent, cj, labels, converge_latent_estimates=converge
        )
        what = f"converge={converge}"
        np.testing.assert_array_equal(est.prior_true, py, err_msg=f"prior_true, {what}")
        np.testing.assert_array_equal(est.noise_matrix, noise, err_msg=f"noise_matrix, {what}")
        np.testing.assert_array_equal(
            est.inverse_noise_matrix, inverse, err_msg=f"inverse_noise_matrix, {what}"
        )
        np.testing.assert_array_equal(est.noise_rate, 1.0 - inverse.diagonal(), err_msg=what)
    # what convergence does not touch
    np.testing.assert_array_equal(converged.confident_joint, plain.confident_joint)
    np.testing.assert_array_equal(converged.confident_joint, cj)
    np.testing.assert_array_equal(converged.joint, plain.joint)
    np.testing.assert_array_equal(converged.label_counts, plain.label_counts)
    assert converged.num_issues == plain.num_issues


@pytest.mark.parametrize("case_id", list(SMALL))
def test_converged_estimate_is_a_distribution(case_id):
    labels, probs = SMALL[case_id]
    est = analysis.estimate_noise(labels, probs, converge=True)
    np.testing.assert_allclose(est.prior_true.sum(), 1.0)
    assert np.all(est.prior_true >= 1e-5 / (1 + est.num_classes * 1e-5))
    for matrix in (est.noise_matrix, est.inverse_noise_matrix):
        np.testing.assert_allclose(matrix.sum(axis=0), 1.0)
        assert np.all((matrix >= 0) & (matrix <= 1))


def test_converged_estimate_is_more_consistent_with_bayes_rule():
    """P(true | given) P(given) = P(given | true) P(true), closer after convergence."""
    labels, probs = noisy_dataset(40, 500, 4, noise=0.3)
    given = np.bincount(labels, minlength=4) / labels.size

    def gap(est):
        lhs = est.inverse_noise_matrix * given[None, :]
        rhs = est.noise_matrix.T * est.prior_true[:, None]
        return np.abs(lhs - rhs).max()

    plain = analysis.estimate_noise(labels, probs)
    converged = analysis.estimate_noise(labels, probs, converge=True)
    assert gap(converged) <= gap(plain)
