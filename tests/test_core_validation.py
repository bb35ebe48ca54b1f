"""Bad inputs to the confident-learning API raise ValueError saying what is wrong and where;
rounding in real files is accepted as is; float32 stays float32."""

from __future__ import annotations

import re

import numpy as np
import pytest

import analysis
from analysis.core._validation import check_inputs

PUBLIC = {
    "confident_joint": analysis.confident_joint,
    "confident_thresholds": analysis.confident_thresholds,
    "estimate_noise": analysis.estimate_noise,
    "find_label_issues": analysis.find_label_issues,
    "label_quality_scores": analysis.label_quality_scores,
    "num_label_issues": analysis.num_label_issues,
}
every_function = pytest.mark.parametrize("func", list(PUBLIC.values()), ids=list(PUBLIC))
# all but label_quality_scores need two given classes
NEED_TWO_CLASSES = {k: v for k, v in PUBLIC.items() if k != "label_quality_scores"}


pytestmark = pytest.mark.usefixtures("one_numba_thread")


def good_inputs(n=8, k=3, dtype=np.float64):
    rng = np.random.default_rng(n * k)
    probs = rng.dirichlet(np.ones(k), size=n).astype(dtype)
    probs /= probs.sum(axis=1, keepdims=True)
    labels = np.arange(n) % k
    return labels, probs


def raises(func, labels, probs, *patterns, **kwargs) -> str:
    """Call and expect ValueError whose message contains every pattern (regex-escaped)."""
    with pytest.raises(ValueError) as info:
        func(labels, probs, **kwargs)
    message = str(info.value)
    for pattern in patterns:
        assert re.search(pattern, message), f"{pattern!r} not in {message!r}"
    return message


# ------------------------------------------------------------------------------------------
# labels


@every_function
def test_labels_not_one_dimensional(func):
    labels, probs = good_inputs()
    raises(func, labels.reshape(4, 2), probs, r"labels must be 1-D", r"\(4, 2\)")
    raises(func, np.int64(1), probs, r"labels must be 1-D")


@every_function
def test_length_mismatch(func):
    labels, probs = good_inputs()
    raises(func, labels[:-1], probs, r"labels has 7 rows", r"pred_probs has 8")
    raises(func, np.append(labels, 0), probs, r"labels has 9 rows", r"pred_probs has 8")


@every_function
def test_empty_labels(func):
    raises(func, np.array([], dtype=int), np.empty((0, 3)), r"labels is empty")


@every_function
def test_label_above_range_names_the_row(func):
    labels, probs = good_inputs()
    labels[5] = 3
    raises(func, labels, probs, r"\brow 5\b", r"0\.\.2", r"\b3\b")


@every_function
def test_negative_label_names_the_row(func):
    labels, probs = good_inputs()
    labels[2] = -1
    raises(func, labels, probs, r"\brow 2\b", r"-1")


def test_several_bad_labels_are_all_named_up_to_a_limit():
    labels, probs = good_inputs(n=30)
    labels[[3, 4, 10, 11, 12, 20, 29]] = 9
    raises(
        analysis.find_label_issues,
        labels,
        probs,
        r"rows 3, 4, 10, 11, 12 \(and 2 more\)",
    )


@every_function
def test_string_labels(func):
    _, probs = good_inputs(n=4)
    raises(
        func,
        np.array(["cat", "dog", "cat", "dog"]),
        probs,
        r"integer class indices",
        r"encode class names",
    )
    raises(func, ["cat", "dog", "cat", "dog"], probs, r"encode class names")


@every_function
def test_non_integer_float_labels_name_the_row(func):
    labels, probs = good_inputs()
    labels = labels.astype(float)
    labels[6] = 1.5
    raises(func, labels, probs, r"integer class indices", r"\brow 6\b", r"1\.5")


@every_function
def test_nan_label_names_the_row(func):
    labels, probs = good_inputs()
    labels = labels.astype(float)
    labels[1] = np.nan
    raises(func, labels, probs, r"\brow 1\b", r"nan")


def test_bad_label_value_is_shown_plainly():
    labels, probs = good_inputs()
    labels = labels.astype(float)
    labels[6] = 1.5
    message = raises(analysis.find_label_issues, labels, probs)
    assert "np." not in message


def test_integer_valued_float_and_small_int_labels_are_accepted():
    labels, probs = good_inputs()
    want = analysis.confident_joint(labels, probs)
    for converted in (labels.astype(float), labels.astype(np.uint8), labels.tolist()):
        np.testing.assert_array_equal(analysis.confident_joint(converted, probs), want)


@pytest.mark.parametrize("func", list(NEED_TWO_CLASSES.values()), ids=list(NEED_TWO_CLASSES))
def test_all_rows_one_class(func):
    _, probs = good_inputs()
    raises(func, np.full(8, 1), probs, r"every row is given class 1", r"at least 2 classes")


def test_scores_accept_a_single_given_class():
    _, probs = good_inputs()
    scores = analysis.label_quality_scores(np.full(8, 1), probs)
    np.testing.assert_array_equal(scores, probs[:, 1])


# ------------------------------------------------------------------------------------------
# pred_probs


@every_function
def test_single_column(func):
    raises(func, np.zeros(5, dtype=int), np.ones((5, 1)), r"1 column", r"at least 2 classes")


@every_function
def test_pred_probs_not_two_dimensional(func):
    labels, probs = good_inputs()
    raises(func, labels, probs.ravel()[:8], r"pred_probs must be 2-D")
    raises(func, labels, probs[:, :, None], r"pred_probs must be 2-D", r"\(8, 3, 1\)")


@every_function
def test_non_numeric_pred_probs(func):
    labels, probs = good_inputs()
    raises(func, labels, probs.astype(object), r"numeric", r"object")


@every_function
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_non_finite_probability_names_the_row(func, bad, dtype):
    labels, probs = good_inputs(dtype=dtype)
    probs[4, 1] = bad
    raises(func, labels, probs, r"\brow 4\b", r"NaN or infinity")


@every_function
def test_negative_probability_names_the_row(func):
    labels, probs = good_inputs()
    probs[3] = [0.6, 0.6, -0.2]
    probs[6] = [0.5, 0.51, -0.01]
    raises(func, labels, probs, r"rows 3, 6", r"negative", r"worst: row 3", r"-0\.2")


@every_function
def test_probability_above_one_names_the_row(func):
    labels, probs = good_inputs()
    probs[7] = [1.3, -0.15, -0.15]
    probs[0] = [1.3, 0.0, -0.3]
    message = raises(func, labels, probs)
    # the most negative value is reported first here; check the "above 1" case alone
    assert "row 0" in message or "row 7" in message
    probs[7] = [1.25, 0.0, 0.0]
    probs[0] = [0.2, 0.3, 0.5]
    raises(func, labels, probs, r"\brow 7\b", r"above 1", r"1\.25")


@every_function
def test_rows_not_summing_to_one_name_the_worst_row(func):
    labels, probs = good_inputs()
    probs[2] = [0.5, 0.3, 0.1]  # 0.9
    probs[5] = [0.5, 0.5, 0.3]  # 1.3, the worst
    probs[7] = [0.4, 0.4, 0.1]  # 0.9
    raises(func, labels, probs, r"sum to 1", r"rows 2, 5, 7", r"worst: row 5", r"1\.3")


def test_huge_finite_values_are_called_above_one():
    labels, probs = good_inputs()
    probs[3] = [1e308, 1e308, 0.0]
    raises(analysis.find_label_issues, labels, probs, r"\brow 3\b", r"above 1")


# ------------------------------------------------------------------------------------------
# rounding accepted unchanged; dtype kept


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_rounding_in_row_sums_and_values_is_accepted_unchanged(dtype):
    labels, probs = good_inputs(n=9, dtype=dtype)
    probs[1] = [0.5, 0.3, 0.20001]  # sums to 1.00001
    probs[2] = [0.5, 0.3, 0.1995]  # sums to 1 - 5e-4
    probs[4] = [-5e-4, 0.4, 0.6005]  # a value down to -5e-4
    probs[5] = [0.0, 1 + 5e-4, -5e-4]  # a value up to 1 + 5e-4
    original = probs.copy()
    for func in PUBLIC.values():
        func(labels, probs)
    for filter_by in analysis.FILTERS:
        analysis.find_label_issues(labels, probs, filter_by=filter_by)
    np.testing.assert_array_equal(probs, original)  # inputs never modified
    checked_labels, checked = check_inputs(labels, probs)
    assert checked is probs  # accepted as is, not clipped or renormalised
    scores = analysis.label_quality_scores(labels, probs)
    np.testing.assert_array_equal(scores, original[np.arange(9), labels])
    assert scores.dtype == dtype


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
@pytest.mark.parametrize(
    "row", [[-5e-4, 0.4, 0.6005], [1 + 5e-4, 0.0, 0.0]], ids=["negative", "sum-above-1"]
)
def test_entropy_score_of_accepted_rounding_is_a_score(row):
    labels, probs = good_inputs(n=9)
    probs[4] = row
    scores = analysis.label_quality_scores(labels, probs, method="confidence_weighted_entropy")
    assert np.all(np.isfinite(scores))
    assert np.all((scores >= -1e-3) & (scores <= 1 + 1e-3))


def test_float32_is_not_copied_to_float64():
    labels, probs = good_inputs(n=50, dtype=np.float32)
    checked_labels, checked = check_inputs(labels, probs)
    assert checked.dtype == np.float32
    assert np.shares_memory(checked, probs)
    for method in analysis.RANKINGS[:2]:
        assert analysis.label_quality_scores(labels, probs, method=method).dtype == np.float32
    assert analysis.confident_thresholds(labels, probs).dtype == np.float32


def test_float64_c_contiguous_is_not_copied_but_other_layouts_are():
    labels, probs = good_inputs(n=50)
    assert check_inputs(labels, probs)[1] is probs
    fortran = np.asfortranarray(probs)
    checked = check_inputs(labels, fortran)[1]
    assert checked.flags.c_contiguous
    np.testing.assert_array_equal(checked, probs)
    as_ints = (probs > 0.5).astype(np.int64)
    as_ints[as_ints.sum(axis=1) == 0, 0] = 1
    as_ints[as_ints.sum(axis=1) == 2, 1] = 0
    assert check_inputs(labels, as_ints)[1].dtype == np.float64


# ------------------------------------------------------------------------------------------
# options


def choices_in(message, choices):
    for choice in choices:
        assert choice in message, (choice, message)


def test_unknown_filter_by_lists_the_choices():
    labels, probs = good_inputs()
    message = raises(
        analysis.find_label_issues, labels, probs, r"filter_by='nope'", filter_by="nope"
    )
    choices_in(message, analysis.FILTERS)


def test_unknown_rank_by_lists_the_choices():
    labels, probs = good_inputs()
    message = raises(analysis.find_label_issues, labels, probs, r"rank_by='nope'", rank_by="nope")
    choices_in(message, analysis.RANKINGS)


def test_unknown_method_lists_the_choices():
    labels, probs = good_inputs()
    message = raises(analysis.label_quality_scores, labels, probs, r"method='nope'", method="nope")
    choices_in(message, analysis.RANKINGS)


def test_unknown_estimation_method_lists_the_choices():
    labels, probs = good_inputs()
    message = raises(
        analysis.num_label_issues,
        labels,
        probs,
        r"estimation_method='nope'",
        estimation_method="nope",
    )
    choices_in(message, ["off_diagonal", "off_diagonal_calibrated"])


@pytest.mark.parametrize(
    "filter_by",
    ["confident_learning", "predicted_neq_given", "low_self_confidence", "low_normalized_margin"],
)
def test_prune_options_with_another_filter_raise(filter_by):
    labels, probs = good_inputs()
    for options in ({"frac_noise": 0.5}, {"num_to_remove_per_class": [1, 1, 1]}):
        message = raises(
            analysis.find_label_issues,
            labels,
            probs,
            r"frac_noise",
            filter_by,
            filter_by=filter_by,
            **options,
        )
        choices_in(message, ["prune_by_noise_rate", "prune_by_class", "both"])


@pytest.mark.parametrize("frac_noise", [0.0, -0.1, 1.5])
def test_frac_noise_out_of_range(frac_noise):
    labels, probs = good_inputs()
    raises(
        analysis.find_label_issues,
        labels,
        probs,
        r"frac_noise must be in \(0, 1\]",
        frac_noise=frac_noise,
    )


def test_negative_min_examples_per_class():
    labels, probs = good_inputs()
    raises(
        analysis.find_label_issues,
        labels,
        probs,
        r"min_examples_per_class must be >= 0",
        min_examples_per_class=-1,
    )


def test_bad_num_to_remove_per_class():
    labels, probs = good_inputs()  # 3 rows each of classes 0 and 1, 2 of class 2
    raises(
        analysis.find_label_issues,
        labels,
        probs,
        r"3 non-negative counts",
        num_to_remove_per_class=[1, 1],
    )
    raises(
        analysis.find_label_issues,
        labels,
        probs,
        r"3 non-negative counts",
        num_to_remove_per_class=[1, -1, 0],
    )
    raises(
        analysis.find_label_issues,
        labels,
        probs,
        r"class 2",
        r"3 > 2",
        filter_by="prune_by_class",
        num_to_remove_per_class=[0, 0, 3],
    )
