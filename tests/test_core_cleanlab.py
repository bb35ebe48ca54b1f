"""analysis' confident learning against cleanlab 2.x, the reference implementation.

docs/architecture.md, Public API: on the same inputs the results equal cleanlab's exactly, so
everything here is compared with ``array_equal`` (float matrices and scores included).
"""

from __future__ import annotations

import functools
import warnings

import numpy as np
import pytest
from core_cases import ALL_CASES, PRUNE_FILTERS, Case
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import analysis

cleanlab = pytest.importorskip("cleanlab")
from cleanlab import count as cl_count  # noqa: E402
from cleanlab import filter as cl_filter  # noqa: E402
from cleanlab import rank as cl_rank  # noqa: E402

pytestmark = [pytest.mark.filterwarnings("ignore"), pytest.mark.usefixtures("one_numba_thread")]

CASES = {case.id: case for case in ALL_CASES}
case_ids = pytest.mark.parametrize("case_id", list(CASES))



def quiet(func, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return func(*args, **kwargs)


def filter_options(case: Case, filter_by: str) -> dict:
    return case.options if filter_by in PRUNE_FILTERS else {}


@functools.cache
def cl_mask(case_id: str, filter_by: str) -> np.ndarray:
    case = CASES[case_id]
    return quiet(
        cl_filter.find_label_issues,
        case.labels,
        case.pred_probs,
        filter_by=filter_by,
        n_jobs=1,
        **filter_options(case, filter_by),
    )


def assert_identical(got, want, what=""):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, what
    np.testing.assert_array_equal(got, want, err_msg=what)


# ------------------------------------------------------------------------------------------


@case_ids
@pytest.mark.parametrize("calibrate", [True, False])
def test_confident_joint(case_id, calibrate):
    case = CASES[case_id]
    want = quiet(
        cl_count.compute_confident_joint, case.labels, case.pred_probs, calibrate=calibrate
    )
    assert_identical(
        analysis.confident_joint(case.labels, case.pred_probs, calibrate=calibrate), want
    )


@pytest.mark.parametrize("layout", ["C", "F"])
def test_calibrate_confident_joint(layout):
    rng = np.random.default_rng(11)
    for _ in range(300):
        k = int(rng.integers(2, 9))
        cj = rng.integers(0, 6, size=(k, k))
        np.fill_diagonal(cj, np.maximum(cj.diagonal(), 1))
        counts = rng.integers(0, 9, size=k)
        counts[rng.integers(k)] += 1
        cj = np.asarray(cj, order=layout)
        labels = np.repeat(np.arange(k), counts)
        assert_identical(
            analysis.calibrate_confident_joint(cj, counts),
            cl_count.calibrate_confident_joint(cj, labels),
            f"{cj.tolist()}, {counts.tolist()}",
        )


@case_ids
def test_thresholds(case_id):
    case = CASES[case_id]
    want = cl_count.get_confident_thresholds(case.labels, case.pred_probs)
    got = analysis.confident_thresholds(case.labels, case.pred_probs)
    assert got.dtype == want.dtype
    assert_identical(got, want)


@case_ids
def test_estimate_noise(case_id):
    case = CASES[case_id]
    est = analysis.estimate_noise(case.labels, case.pred_probs)
    cj = quiet(cl_count.compute_confident_joint, case.labels, case.pred_probs)
    py, noise, inverse = quiet(
        cl_count.estimate_latent, cj, case.labels, converge_latent_estimates=False
    )
    joint = quiet(cl_count.estimate_joint, case.labels, case.pred_probs)
    assert_identical(est.confident_joint, cj, "confident_joint")
    assert_identical(est.joint, joint, "joint")
    assert_identical(est.noise_matrix, noise, "noise_matrix")
    assert_identical(est.inverse_noise_matrix, inverse, "inverse_noise_matrix")
    assert_identical(est.prior_true, py, "prior_true")
    assert_identical(est.noise_rate, 1.0 - inverse.diagonal(), "noise_rate")
    assert est.num_issues == quiet(cl_count.num_label_issues, case.labels, case.pred_probs)


@case_ids
@pytest.mark.parametrize("filter_by", analysis.FILTERS)
def test_find_label_issues(case_id, filter_by):
    """The mask, then the flagged rows ranked by each score (cleanlab's order_label_issues)."""
    case = CASES[case_id]
    options = filter_options(case, filter_by)
    got = analysis.find_label_issues(case.labels, case.pred_probs, filter_by=filter_by, **options)
    want = cl_mask(case_id, filter_by)
    assert got.dtype == bool
    assert_identical(got, want, f"rows differing: {np.flatnonzero(got != want)}")
    for rank_by in analysis.RANKINGS:
        ranked = analysis.find_label_issues(
            case.labels, case.pred_probs, filter_by=filter_by, rank_by=rank_by, **options
        )
        expected = quiet(
            cl_rank.order_label_issues, want, case.labels, case.pred_probs, rank_by=rank_by
        )
        assert_identical(ranked, expected, f"ranked by {rank_by}")


@pytest.mark.parametrize("rank_by", analysis.RANKINGS)
@pytest.mark.parametrize("case_id", ["s1-n300-k5-float64", "ties-q20-f32", "num-to-remove"])
def test_find_label_issues_ranked_by_cleanlab_itself(case_id, rank_by):
    """cleanlab's own ``return_indices_ranked_by`` path, for a few cases."""
    case = CASES[case_id]
    for filter_by in analysis.FILTERS:
        options = filter_options(case, filter_by)
        want = quiet(
            cl_filter.find_label_issues,
            case.labels,
            case.pred_probs,
            filter_by=filter_by,
            return_indices_ranked_by=rank_by,
            n_jobs=1,
            **options,
        )
        got = analysis.find_label_issues(
            case.labels, case.pred_probs, filter_by=filter_by, rank_by=rank_by, **options
        )
        assert_identical(got, want, filter_by)


@case_ids
@pytest.mark.parametrize("method", analysis.RANKINGS)
def test_label_quality_scores(case_id, method):
    case = CASES[case_id]
    got = analysis.label_quality_scores(case.labels, case.pred_probs, method=method)
    want = quiet(cl_rank.get_label_quality_scores, case.labels, case.pred_probs, method=method)
    assert got.dtype == want.dtype
    assert_identical(got, want)


@case_ids
@pytest.mark.parametrize("estimation_method", ["off_diagonal", "off_diagonal_calibrated"])
def test_num_label_issues(case_id, estimation_method):
    case = CASES[case_id]
    got = analysis.num_label_issues(
        case.labels, case.pred_probs, estimation_method=estimation_method
    )
    want = quiet(
        cl_count.num_label_issues,
        case.labels,
        case.pred_probs,
        estimation_method=estimation_method,
    )
    assert got == want


# ------------------------------------------------------------------------------------------


@st.composite
def tied_inputs(draw):
    """Rows of small integer weights (ties everywhere) and labels with >= 2 classes."""
    k = draw(st.integers(2, 5))
    n = draw(st.integers(2, 30))
    weights = draw(
        st.lists(
            st.lists(st.integers(0, 4), min_size=k, max_size=k).filter(lambda r: sum(r) > 0),
            min_size=n,
            max_size=n,
        )
    )
    labels = draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n))
    if len(set(labels)) < 2:
        labels[0] = (labels[0] + 1) % k
    dtype = draw(st.sampled_from([np.float64, np.float32]))
    weights = np.array(weights, dtype=float)
    probs = (weights / weights.sum(axis=1, keepdims=True)).astype(dtype)
    return np.array(labels), probs


@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(tied_inputs())
def test_generated_tied_inputs(data):
    labels, probs = data
    assert_identical(
        analysis.confident_joint(labels, probs),
        quiet(cl_count.compute_confident_joint, labels, probs),
    )
    for filter_by in analysis.FILTERS:
        assert_identical(
            analysis.find_label_issues(
                labels, probs, filter_by=filter_by, rank_by="normalized_margin"
            ),
            quiet(
                cl_filter.find_label_issues,
                labels,
                probs,
                filter_by=filter_by,
                return_indices_ranked_by="normalized_margin",
                n_jobs=1,
            ),
            filter_by,
        )
    for method in analysis.RANKINGS:
        assert_identical(
            analysis.label_quality_scores(labels, probs, method=method),
            quiet(cl_rank.get_label_quality_scores, labels, probs, method=method),
            method,
        )
