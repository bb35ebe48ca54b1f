"""Multi-label confident learning (#28) against a slow reference loop written from the
definitions (``tests/reference_multilabel.py``) and against cleanlab 2.9's
``multilabel_classification``, on seeded random inputs and the edge cases: a class every row
has, a class no row has, rows with no tags, probabilities on a coarse grid (ties at the
thresholds), float32. Masks and counts are compared exactly, scores to 1e-6 (most are equal
to the bit)."""

from __future__ import annotations

import functools
import warnings

import numpy as np
import pytest
import reference_cl
import reference_multilabel as ref

from analysis.core import multilabel as ml

pytestmark = pytest.mark.usefixtures("one_numba_thread")


def make_case(seed, n, k, *, dtype=np.float64, grid=None, always=None, never=None,
              empty_rows=0, flip=0.12):
    """True tags (Bernoulli), probabilities from a noisy logit, given tags flipped at random."""
    rng = np.random.default_rng(seed)
    rate = rng.uniform(0.15, 0.5, size=k)
    truth = (rng.random((n, k)) < rate).astype(np.uint8)
    logit = (2 * truth - 1) * rng.uniform(0.5, 3.0, size=k) + rng.normal(0, 1.2, (n, k))
    probs = 1 / (1 + np.exp(-logit))
    if grid is not None:
        probs = np.round(probs * grid) / grid
    given = np.where(rng.random((n, k)) < flip, 1 - truth, truth).astype(np.uint8)
    if always is not None:
        given[:, always] = 1
    if never is not None:
        given[:, never] = 0
    if empty_rows:
        given[:empty_rows] = 0
    return given, probs.astype(dtype)


CASES = {
    "small": make_case(0, 120, 3),
    "medium": make_case(1, 600, 5, empty_rows=40),
    "float32": make_case(2, 500, 4, dtype=np.float32),
    "ties_grid10": make_case(3, 400, 4, grid=10),
    "ties_grid4_float32": make_case(4, 300, 3, grid=4, dtype=np.float32),
    "never_present": make_case(5, 300, 4, never=2),
    "two_classes": make_case(6, 250, 2, flip=0.2),
    "many_classes": make_case(7, 400, 12),
}
#: A class on every row: the reference implementation refuses its binary problem ("Labels
#: must contain at least 2 classes"); here it is a binary problem whose "absent" side no row
#: is given (threshold 2, as a class no row has), checked against the reference loop only.
EDGE = {"always_present": make_case(8, 300, 4, always=1, empty_rows=0)}
ALL = {**CASES, **EDGE}


@functools.cache
def estimate(case_id):
    return ml.estimate_multilabel(*ALL[case_id])


@functools.cache
def ref_issues(case_id):
    return ref.issues_per_class(*ALL[case_id])


# ---------------------------------------------------------------- against the reference loop


@pytest.mark.parametrize("case_id", list(ALL))
def test_confident_joint_and_noise_rates_equal_the_reference(case_id):
    labels, probs = ALL[case_id]
    est = estimate(case_id)
    np.testing.assert_array_equal(est.confident_joint, ref.confident_joint(labels, probs))
    missing, extra = ref.noise_rates(labels, probs)
    np.testing.assert_allclose(est.tag_missing, missing, rtol=0, atol=1e-12)
    np.testing.assert_allclose(est.tag_extra, extra, rtol=0, atol=1e-12)
    assert est.confident_joint.shape == (labels.shape[1], 2, 2)
    for c in range(labels.shape[1]):  # the per-class thresholds, "tag absent" and "present"
        np.testing.assert_array_equal(est.thresholds[c],
                                      reference_cl.thresholds(*ref.binary(labels, probs, c)))


@pytest.mark.parametrize("case_id", list(ALL))
def test_issues_equal_the_reference(case_id):
    labels, probs = ALL[case_id]
    est = estimate(case_id)
    np.testing.assert_array_equal(est.issues, ref_issues(case_id))
    np.testing.assert_array_equal(ml.find_multilabel_issues(labels, probs),
                                  ref_issues(case_id).any(axis=1))
    assert est.is_issue.any(), "every case should flag something"


@pytest.mark.parametrize("filter_by", ["prune_by_class", "both", "confident_learning",
                                       "predicted_neq_given"])
def test_other_binary_filters_equal_the_reference(filter_by):
    labels, probs = ALL["ties_grid10"]
    got = ml.find_multilabel_issues(labels, probs, filter_by=filter_by, per_class=True)
    np.testing.assert_array_equal(got, ref.issues_per_class(labels, probs, filter_by))


@pytest.mark.parametrize("case_id", list(ALL))
@pytest.mark.parametrize("aggregator", ml.AGGREGATORS)
def test_scores_equal_the_reference(case_id, aggregator):
    labels, probs = ALL[case_id]
    np.testing.assert_array_equal(ml.per_class_quality_scores(labels, probs),
                                  ref.class_scores(labels, probs))
    got = ml.multilabel_quality_scores(labels, probs, aggregator=aggregator)
    np.testing.assert_allclose(got, ref.quality_scores(labels, probs, aggregator),
                               rtol=0, atol=1e-12)


@pytest.mark.parametrize("case_id", list(ALL))
def test_common_issues_and_class_ranking_equal_the_reference(case_id):
    labels, _ = ALL[case_id]
    issues = estimate(case_id).issues
    common = ml.common_multilabel_issues(labels, issues)
    want = ref.common_issues(labels, issues.tolist())
    assert list(zip(common["class"].tolist(), common["in_given"].tolist(),
                    common["count"].tolist(), common["probability"].tolist(),
                    strict=True)) == want
    assert (common["in_suggested"] == ~common["in_given"]).all()
    ranked = ml.rank_classes_by_multilabel_quality(labels, issues)
    assert list(zip(ranked["class"].tolist(), ranked["label_issues"].tolist(),
                    ranked["inverse_label_issues"].tolist(),
                    ranked["label_quality_score"].tolist(), strict=True)) == \
        ref.rank_classes(labels, issues.tolist())


def test_suggested_tags_flip_exactly_the_flagged_cells_and_the_table_names_them():
    labels, probs = ALL["medium"]
    issues = estimate("medium").issues
    suggested = ml.suggested_tags(labels, issues)
    assert suggested.dtype == np.uint8
    np.testing.assert_array_equal(suggested != labels, issues)
    table = ml.tag_issue_table(labels, probs, issues)
    assert len(table["row"]) == issues.sum()
    for r, c, missing, p in zip(*table.values(), strict=True):
        assert issues[r, c] and missing == (labels[r, c] == 0)
        assert p == (probs[r, c] if missing else 1 - probs[r, c])
    rows = table["row"]
    assert (np.diff(rows) >= 0).all()
    same = np.diff(rows) == 0
    assert (np.diff(table["probability"])[same] <= 0).all()


def test_tag_issue_sentences():
    labels = np.array([[1, 0, 1], [0, 0, 1]])
    probs = np.array([[0.12, 0.93, 0.8], [0.5, 0.5, 0.5]])
    issues = np.array([[True, True, False], [False, False, False]])
    table = ml.tag_issue_table(labels, probs, issues)
    assert ml.tag_issue_sentences(table, ["cat", "dog", "bird"], 0) == [
        "'dog' looks missing: 0.93", "'cat' looks extra: 0.88"]
    assert ml.tag_issue_sentences(table, ["cat", "dog", "bird"], 1) == []


def test_health_summary_counts():
    labels, probs = ALL["medium"]
    est = estimate("medium")
    health = ml.multilabel_health(labels, probs, est)
    flagged = ref_issues("medium").any(axis=1).sum()
    assert health["flagged_rows"] == flagged
    assert health["health_score"] == 1 - flagged / len(labels)
    assert health["rows_without_tags"] >= 40
    assert health["tags_missing"] + health["tags_extra"] == est.issues.sum()
    assert health["tags_missing"] == (est.issues & (labels == 0)).sum()
    np.testing.assert_array_equal(health["tag_missing_rate"], est.tag_missing)


def test_tag_lists_round_trip():
    labels, _ = ALL["medium"]
    tags = ml.matrix_to_tags(labels)
    assert tags[0] == []
    np.testing.assert_array_equal(ml.tags_to_matrix(tags, labels.shape[1]), labels)
    with pytest.raises(ValueError, match=r"^row 1 holds class index 3, outside 0\.\.2\.$"):
        ml.tags_to_matrix([[0], [1, 3]], 3)


@pytest.mark.parametrize("labels, probs, message", [
    (np.array([[0, 2], [1, 0]]), np.full((2, 2), 0.5),
     r"^multi-label labels must be 0/1; row 0 hold other values \(row 0, class 1: 2\)\.$"),
    (np.array([[0], [1]]), np.full((2, 1), 0.5),
     r"^multi-label labels have 1 class\(es\): multi-label needs at least 2 classes"),
    (np.array([[0, 1], [1, 0]]), np.array([[0.5, 1.2], [0.1, 0.2]]),
     r"^pred_probs must be probabilities in \[0, 1\]; row 0 hold values outside\.$"),
    (np.array([[0, 1], [1, 0]]), np.full((2, 3), 0.5),
     r"^pred_probs has shape \(2, 3\) but labels \(2, 2\)"),
    (np.array([[0, 1], [1, 0]]), np.array([[0.5, np.nan], [0.1, 0.2]]),
     r"^pred_probs must be probabilities in \[0, 1\]; row 0 hold values outside\.$"),
])
def test_bad_input_messages(labels, probs, message):
    with pytest.raises(ValueError, match=message):
        ml.estimate_multilabel(labels, probs)


def test_rounding_just_outside_zero_one_is_clipped():
    labels = np.array([[0, 1], [1, 0], [1, 1]])
    probs = np.array([[0.2, 1.0004], [0.9, -0.0002], [0.7, 0.8]])
    clipped = np.clip(probs, 0, 1)
    np.testing.assert_array_equal(ml.multilabel_quality_scores(labels, probs),
                                  ml.multilabel_quality_scores(labels, clipped))


# ---------------------------------------------------------------- against cleanlab 2.9

@pytest.fixture(scope="module")
def cl():
    """cleanlab's modules (a missing cleanlab skips only these tests; under CI that fails)."""
    pytest.importorskip("cleanlab")
    from cleanlab import count
    from cleanlab.multilabel_classification import dataset, filter, rank

    return {"count": count, "dataset": dataset, "filter": filter, "rank": rank}


def quiet(func, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return func(*args, **kwargs)


def as_lists(labels):
    return ml.matrix_to_tags(labels)


@pytest.mark.parametrize("case_id", list(CASES))
def test_mask_and_confident_joint_equal_cleanlab(case_id, cl):
    labels, probs = CASES[case_id]
    want = quiet(cl["filter"].find_label_issues, as_lists(labels), probs, n_jobs=1)
    np.testing.assert_array_equal(estimate(case_id).is_issue, want)
    cj = quiet(cl["count"].compute_confident_joint, as_lists(labels), probs, multi_label=True)
    np.testing.assert_array_equal(estimate(case_id).confident_joint, cj)


@pytest.mark.parametrize("case_id", list(ALL))
def test_scores_equal_cleanlab(case_id, cl):
    labels, probs = ALL[case_id]
    tags = as_lists(labels)
    default = quiet(cl["rank"].get_label_quality_scores, tags, probs)  # its moving average
    ema = ml.multilabel_quality_scores(labels, probs, aggregator="exponential_moving_average")
    np.testing.assert_allclose(ema, default, rtol=0, atol=1e-6)
    soft = quiet(cl["rank"].get_label_quality_scores, tags, probs,
                 aggregator_kwargs={"method": "softmin"})
    np.testing.assert_allclose(ml.multilabel_quality_scores(labels, probs), soft,
                               rtol=0, atol=1e-6)  # our default
    per = quiet(cl["rank"].get_label_quality_scores_per_class, tags, probs)
    np.testing.assert_array_equal(ml.per_class_quality_scores(labels, probs), per)


def test_the_always_present_class_is_refused_by_cleanlab_and_kept_here(cl):
    labels, probs = EDGE["always_present"]
    with pytest.raises(ValueError, match="at least 2 classes"):
        quiet(cl["filter"].find_label_issues, as_lists(labels), probs, n_jobs=1)
    cj = quiet(cl["count"].compute_confident_joint, as_lists(labels), probs, multi_label=True)
    np.testing.assert_array_equal(estimate("always_present").confident_joint, cj)


@pytest.mark.parametrize("case_id", list(CASES))
def test_common_issues_equal_cleanlab(case_id, cl):
    labels, probs = CASES[case_id]
    want = quiet(cl["dataset"].common_multilabel_issues, as_lists(labels), probs)
    got = ml.common_multilabel_issues(labels, estimate(case_id).issues)
    rows = list(zip(got["class"].tolist(), got["in_given"].tolist(), got["in_suggested"].tolist(),
                    got["count"].tolist(), got["probability"].tolist(), strict=True))
    theirs = list(zip(want["Class Index"].tolist(), want["In Given Label"].tolist(),
                      want["In Suggested Label"].tolist(), want["Num Examples"].tolist(),
                      want["Issue Probability"].tolist(), strict=True))
    assert rows == theirs


@pytest.mark.parametrize("case_id", list(CASES))
def test_class_ranking_equals_cleanlab(case_id, cl):
    labels, probs = CASES[case_id]
    want = quiet(cl["dataset"].rank_classes_by_multilabel_quality, as_lists(labels), probs)
    got = ml.rank_classes_by_multilabel_quality(labels, estimate(case_id).issues)
    n = len(labels)
    ours = list(zip(got["class"].tolist(), got["label_noise"].tolist(),
                    got["inverse_label_noise"].tolist(), got["label_quality_score"].tolist(),
                    strict=True))
    theirs = list(zip(want["Class Index"].tolist(), want["Label Noise"].tolist(),
                      want["Inverse Label Noise"].tolist(), want["Label Quality Score"].tolist(),
                      strict=True))
    assert ours == theirs
    # cleanlab's counts are int(count / N * N), which can truncate one below the count
    np.testing.assert_array_equal(
        sorted(zip(got["class"], (got["label_noise"] * n).astype(int), strict=True)),
        sorted(zip(want["Class Index"], want["Label Issues"], strict=True)))
