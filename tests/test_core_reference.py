"""analysis' confident learning against the slow loop reference of ``reference_cl``.

Masks, rankings and integer matrices must be equal; float matrices agree to rounding; scores to
1e-6 (and bit for bit in float64, where the reference follows the same operations).
"""

from __future__ import annotations

import functools
import warnings

import numba
import numpy as np
import pytest
import reference_cl as ref
from core_cases import ALL_CASES, PRUNE_FILTERS, Case, noisy_dataset
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import analysis

# numpy's 0/0 warnings from num_to_remove_per_class leak out of analysis (see
# test_num_to_remove_per_class_emits_no_numpy_warnings); the parity tests ignore them
pytestmark = [
    pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning"),
    pytest.mark.filterwarnings("ignore:divide by zero encountered:RuntimeWarning"),
    pytest.mark.usefixtures("one_numba_thread"),
]

CASES = {case.id: case for case in ALL_CASES}
case_ids = pytest.mark.parametrize("case_id", list(CASES))



def filter_options(case: Case, filter_by: str) -> dict:
    return case.options if filter_by in PRUNE_FILTERS else {}


# reference results, computed once per case (the reference is slow on purpose)


@functools.cache
def ref_mask(case_id: str, filter_by: str) -> np.ndarray:
    case = CASES[case_id]
    return ref.find_label_issues(
        case.labels, case.pred_probs, filter_by, **filter_options(case, filter_by)
    )


@functools.cache
def ref_scores(case_id: str, method: str) -> np.ndarray:
    case = CASES[case_id]
    return ref.scores(case.labels, case.pred_probs, method)


@functools.cache
def ref_noise(case_id: str) -> dict:
    case = CASES[case_id]
    return ref.noise_estimate(case.labels, case.pred_probs)


# ------------------------------------------------------------------------------------------


@case_ids
def test_thresholds(case_id):
    case = CASES[case_id]
    got = analysis.confident_thresholds(case.labels, case.pred_probs)
    want = ref.thresholds(case.labels, case.pred_probs)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


@case_ids
@pytest.mark.parametrize("calibrate", [True, False])
def test_confident_joint(case_id, calibrate):
    case = CASES[case_id]
    got = analysis.confident_joint(case.labels, case.pred_probs, calibrate=calibrate)
    want = ref.confident_joint(case.labels, case.pred_probs, calibrate_counts=calibrate)
    assert got.shape == (case.k, case.k)
    assert got.dtype.kind == "i"
    np.testing.assert_array_equal(got, want)
    assert np.all(got.diagonal() >= (0 if calibrate else 1))
    if calibrate:
        counts = np.bincount(case.labels, minlength=case.k)
        np.testing.assert_array_equal(got.sum(axis=1), counts)
        assert got.sum() == case.labels.size


@case_ids
def test_estimate_noise(case_id):
    case = CASES[case_id]
    est = analysis.estimate_noise(case.labels, case.pred_probs)
    want = ref_noise(case_id)
    np.testing.assert_array_equal(est.confident_joint, want["confident_joint"])
    np.testing.assert_array_equal(est.label_counts, want["label_counts"])
    assert est.num_issues == want["num_issues"]
    for name in ("joint", "noise_matrix", "inverse_noise_matrix", "prior_true", "noise_rate"):
        np.testing.assert_allclose(
            getattr(est, name), want[name], rtol=1e-12, atol=1e-15, err_msg=name
        )
    k = case.k
    assert est.num_classes == k
    assert est.num_rows == case.labels.size
    np.testing.assert_allclose(est.joint.sum(), 1.0, rtol=1e-12)
    # columns are distributions, except where the calibrated confident joint has nothing to
    # divide: a true class no row is counted into (its column of zeros stays zero), and a
    # given class no row carries
    true_counted = est.confident_joint.sum(axis=0) > 0
    given = np.bincount(case.labels, minlength=k) > 0
    np.testing.assert_allclose(est.noise_matrix.sum(axis=0), true_counted * 1.0, rtol=1e-12)
    np.testing.assert_allclose(est.inverse_noise_matrix.sum(axis=0), given * 1.0, rtol=1e-12)
    np.testing.assert_allclose(est.prior_true.sum(), 1.0, rtol=1e-12)
    assert np.all(est.prior_true > 0)
    np.testing.assert_allclose(est.noise_rate, 1.0 - est.inverse_noise_matrix.diagonal())
    assert np.all((est.noise_rate >= -1e-12) & (est.noise_rate <= 1))
    np.testing.assert_allclose(est.estimated_error_fraction, 1.0 - np.trace(est.joint))


@case_ids
@pytest.mark.parametrize("filter_by", analysis.FILTERS)
def test_find_label_issues(case_id, filter_by):
    """The mask, then the flagged rows ranked by each score."""
    case = CASES[case_id]
    options = filter_options(case, filter_by)
    got = analysis.find_label_issues(case.labels, case.pred_probs, filter_by=filter_by, **options)
    assert got.dtype == bool and got.shape == case.labels.shape
    want = ref_mask(case_id, filter_by)
    np.testing.assert_array_equal(
        got, want, err_msg=f"rows differing: {np.flatnonzero(got != want)}"
    )
    for rank_by in analysis.RANKINGS:
        ranked = analysis.find_label_issues(
            case.labels, case.pred_probs, filter_by=filter_by, rank_by=rank_by, **options
        )
        assert ranked.dtype.kind == "i"
        np.testing.assert_array_equal(
            ranked, ref.rank(want, ref_scores(case_id, rank_by)), err_msg=f"ranked by {rank_by}"
        )


@case_ids
@pytest.mark.parametrize("method", analysis.RANKINGS)
def test_label_quality_scores(case_id, method):
    case = CASES[case_id]
    got = analysis.label_quality_scores(case.labels, case.pred_probs, method=method)
    want = ref_scores(case_id, method)
    assert got.shape == case.labels.shape
    assert got.dtype == want.dtype
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)
    assert np.all((got >= -1e-3) & (got <= 1 + 1e-3))
    if case.pred_probs.dtype == np.float64:
        # same operations in the same order: the same bits (K > 128 included, where the
        # entropy is summed pairwise in blocks of 128)
        np.testing.assert_array_equal(got, want)


def test_default_method_is_self_confidence():
    case = ALL_CASES[0]
    np.testing.assert_array_equal(
        analysis.label_quality_scores(case.labels, case.pred_probs),
        case.pred_probs[np.arange(case.labels.size), case.labels],
    )


@case_ids
@pytest.mark.parametrize("estimation_method", ["off_diagonal", "off_diagonal_calibrated"])
def test_num_label_issues(case_id, estimation_method):
    case = CASES[case_id]
    got = analysis.num_label_issues(
        case.labels, case.pred_probs, estimation_method=estimation_method
    )
    want = ref.num_label_issues(case.labels, case.pred_probs, estimation_method)
    assert got == want
    if estimation_method == "off_diagonal":
        assert got == int(ref_mask(case_id, "confident_learning").sum())
        assert got == int(ref_mask(case_id, "low_self_confidence").sum())


def test_default_filter_is_prune_by_noise_rate():
    case = ALL_CASES[1]
    np.testing.assert_array_equal(
        analysis.find_label_issues(case.labels, case.pred_probs),
        ref_mask(case.id, "prune_by_noise_rate"),
    )


# ------------------------------------------------------------------------------------------
# the reference itself, on an example worked by hand


def test_hand_worked_example():
    labels = np.array([0, 0, 0, 1, 1, 1])
    probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.2, 0.8], [0.4, 0.6], [0.7, 0.3]])
    # thresholds: mean p(0) of rows given 0 = 2/3, mean p(1) of rows given 1 = 0.5667
    np.testing.assert_allclose(ref.thresholds(labels, probs), [2 / 3, 1.7 / 3])
    # row 2 (given 0) is confident only for 1, row 5 (given 1) only for 0
    assert ref.guesses(labels, probs) == [0, 0, 1, 1, 1, 0]
    cj = np.array([[2, 1], [1, 2]])
    for impl in (ref, analysis):
        np.testing.assert_array_equal(impl.confident_joint(labels, probs), cj)
    est = analysis.estimate_noise(labels, probs)
    np.testing.assert_allclose(est.noise_matrix, [[2 / 3, 1 / 3], [1 / 3, 2 / 3]])
    np.testing.assert_allclose(est.inverse_noise_matrix, [[2 / 3, 1 / 3], [1 / 3, 2 / 3]])
    np.testing.assert_allclose(est.prior_true, [0.5, 0.5])
    np.testing.assert_allclose(est.noise_rate, [1 / 3, 1 / 3])
    assert est.num_issues == 2
    expected = np.array([False, False, True, False, False, True])
    for filter_by in (
        "prune_by_noise_rate",
        "prune_by_class",
        "both",
        "confident_learning",
        "predicted_neq_given",
        "low_self_confidence",
        "low_normalized_margin",
    ):
        np.testing.assert_array_equal(ref.find_label_issues(labels, probs, filter_by), expected)
        np.testing.assert_array_equal(
            analysis.find_label_issues(labels, probs, filter_by=filter_by), expected
        )
    np.testing.assert_allclose(
        ref.scores(labels, probs, "normalized_margin"), [0.9, 0.8, 0.3, 0.8, 0.6, 0.3]
    )
    # rows 2 and 5 tie on self-confidence 0.3: the sort keeps row order
    np.testing.assert_array_equal(
        analysis.find_label_issues(labels, probs, rank_by="self_confidence"), [2, 5]
    )


@pytest.mark.parametrize(
    "values, expected",
    [
        ([1.5, 1.5, 1.0], [1, 2, 1]),  # half to even gives 5, the total is 4: the first
        ([0.4, 0.4, 0.4, 1.8], [0, 0, 1, 2]),  # 2 vs 3: the largest remainder (last of ties)
        ([2.0, 3.0], [2, 3]),
        ([0.0, 0.0, 0.0], [0, 0, 0]),
        ([0.3] * 10, [0, 0, 0, 0, 0, 0, 0, 1, 1, 1]),  # equal remainders: the last ones
    ],
)
def test_rounding_that_keeps_the_total(values, expected):
    from analysis.core.numbers import round_preserving_sum

    got = ref.round_keeping_total(values)
    assert got.sum() == round(sum(values))
    np.testing.assert_array_equal(got, round_preserving_sum(values))
    np.testing.assert_array_equal(got, expected)


def test_calibrate_confident_joint_on_random_matrices():
    """The public calibration, on matrices laid out as the confident joint is (column-major:
    the layout decides the order of the total's summation, hence rounding ties)."""
    rng = np.random.default_rng(5)
    for _ in range(300):
        k = int(rng.integers(2, 9))
        cj = rng.integers(0, 6, size=(k, k))
        np.fill_diagonal(cj, np.maximum(cj.diagonal(), 1))
        counts = rng.integers(0, 9, size=k)
        counts[rng.integers(k)] += 1
        got = analysis.calibrate_confident_joint(np.asfortranarray(cj), counts)
        np.testing.assert_array_equal(got, ref.calibrate(cj, counts), err_msg=f"{cj}, {counts}")
        np.testing.assert_array_equal(got.sum(axis=1), counts)


# ------------------------------------------------------------------------------------------
# properties of the options


def test_num_to_remove_per_class_prune_by_class_flags_at_most_that_many():
    case = CASES["num-to-remove"]
    want = np.asarray(case.options["num_to_remove_per_class"])
    mask = analysis.find_label_issues(
        case.labels, case.pred_probs, filter_by="prune_by_class", **case.options
    )
    per_class = np.bincount(case.labels[mask], minlength=case.k)
    # exactly that many are pruned, less the rows whose given label is still the prediction
    assert np.all(per_class <= want)
    assert per_class.sum() > 0


@pytest.mark.parametrize("case_id", ["num-to-remove-clean", "num-to-remove-clean-2"])
def test_num_to_remove_per_class_exact_for_prune_by_class(case_id):
    case = CASES[case_id]
    want = np.asarray(case.options["num_to_remove_per_class"])
    mask = analysis.find_label_issues(
        case.labels, case.pred_probs, filter_by="prune_by_class", **case.options
    )
    # the rows least confident in their class are exactly those the model disagrees with
    # here; rows whose given label is the prediction are never issues
    disagree = case.pred_probs.argmax(axis=1) != case.labels
    expected = np.minimum(want, np.bincount(case.labels[disagree], minlength=case.k))
    np.testing.assert_array_equal(np.bincount(case.labels[mask], minlength=case.k), expected)


@pytest.mark.parametrize("filter_by", PRUNE_FILTERS)
def test_num_to_remove_per_class_emits_no_numpy_warnings(filter_by):
    case = CASES["num-to-remove-clean"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        analysis.find_label_issues(
            case.labels, case.pred_probs, filter_by=filter_by, **case.options
        )


def test_min_examples_per_class_protects_small_classes():
    case = CASES["min-examples-10"]
    counts = np.bincount(case.labels, minlength=case.k)
    small = np.flatnonzero(counts <= 10)
    assert small.size  # the case has one
    for filter_by in PRUNE_FILTERS:
        mask = analysis.find_label_issues(
            case.labels, case.pred_probs, filter_by=filter_by, min_examples_per_class=10
        )
        assert not np.any(mask & np.isin(case.labels, small)), filter_by


def test_smaller_frac_noise_flags_fewer_rows():
    case = CASES["frac-noise"]
    sizes = [
        analysis.find_label_issues(case.labels, case.pred_probs, frac_noise=f).sum()
        for f in (0.2, 0.5, 1.0)
    ]
    assert sizes[0] <= sizes[1] <= sizes[2]
    assert sizes[0] < sizes[2]


def test_inputs_as_lists_and_integer_valued_floats():
    case = CASES["s0-n200-k3-float64"]
    want = analysis.find_label_issues(case.labels, case.pred_probs)
    np.testing.assert_array_equal(
        analysis.find_label_issues(case.labels.tolist(), case.pred_probs.tolist()), want
    )
    np.testing.assert_array_equal(
        analysis.find_label_issues(case.labels.astype(float), case.pred_probs), want
    )


def test_layout_of_pred_probs_does_not_matter():
    case = CASES["s0-n300-k12-float32"]
    fortran = np.asfortranarray(case.pred_probs)
    for method in analysis.RANKINGS:
        np.testing.assert_array_equal(
            analysis.label_quality_scores(case.labels, fortran, method=method),
            analysis.label_quality_scores(case.labels, case.pred_probs, method=method),
        )
    np.testing.assert_array_equal(
        analysis.find_label_issues(case.labels, fortran, filter_by="both"),
        ref_mask(case.id, "both"),
    )


def test_parallel_kernels_give_the_serial_results():
    """The row kernels run in parallel on real inputs: the same results as one thread."""
    labels, probs = noisy_dataset(99, 20_000, 7, dtype=np.float32, quantum=20)
    serial = {f: analysis.find_label_issues(labels, probs, filter_by=f) for f in analysis.FILTERS}
    serial_scores = analysis.label_quality_scores(
        labels, probs, method="confidence_weighted_entropy"
    )
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    try:
        for f in analysis.FILTERS:
            np.testing.assert_array_equal(
                analysis.find_label_issues(labels, probs, filter_by=f), serial[f], err_msg=f
            )
        np.testing.assert_array_equal(
            analysis.label_quality_scores(labels, probs, method="confidence_weighted_entropy"),
            serial_scores,
        )
    finally:
        numba.set_num_threads(1)


# ------------------------------------------------------------------------------------------
# generated small inputs with many exact ties


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
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(tied_inputs())
def test_generated_tied_inputs(data):
    labels, probs = data
    for calibrate in (True, False):
        np.testing.assert_array_equal(
            analysis.confident_joint(labels, probs, calibrate=calibrate),
            ref.confident_joint(labels, probs, calibrate_counts=calibrate),
        )
    assert analysis.num_label_issues(labels, probs) == ref.num_label_issues(labels, probs)
    scores = {m: ref.scores(labels, probs, m) for m in analysis.RANKINGS}
    for filter_by in analysis.FILTERS:
        mask = ref.find_label_issues(labels, probs, filter_by)
        np.testing.assert_array_equal(
            analysis.find_label_issues(labels, probs, filter_by=filter_by), mask, filter_by
        )
        for rank_by in analysis.RANKINGS:
            np.testing.assert_array_equal(
                analysis.find_label_issues(labels, probs, filter_by=filter_by, rank_by=rank_by),
                ref.rank(mask, scores[rank_by]),
                f"{filter_by} / {rank_by}",
            )
