"""One ranking of label issues, ties included: ``find_label_issues(rank_by=...)``,
``Analysis.ranked`` / ``label_issues.csv`` and cleanlab's ``return_indices_ranked_by`` give the
same order, checked on data where most flagged rows share their score with others."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import reference_cl as ref

import analysis as nl

cl_filter = pytest.importorskip("cleanlab.filter")

# prune filters flag the same rows for any n_jobs; n_jobs=1 keeps cleanlab in this process
_CL_OPTIONS = {"n_jobs": 1}


def _tied_case(seed: int, dtype, n: int = 1200, k: int = 4):
    """Rows drawn from a dozen probability vectors: scores tie in large groups."""
    rng = np.random.default_rng(seed)
    protos = rng.dirichlet(np.full(k, 0.6), size=12)
    protos = np.round(protos, 2)
    protos[:, 0] += 1.0 - protos.sum(axis=1)  # rows sum to 1 (to rounding)
    protos = np.abs(protos)
    protos /= protos.sum(axis=1, keepdims=True)
    which = rng.integers(0, len(protos), size=n)
    probs = protos[which].astype(dtype)
    labels = np.argmax(probs, axis=1)
    flip = rng.random(n) < 0.25
    labels[flip] = rng.integers(0, k, size=flip.sum())
    labels[:k] = np.arange(k)  # every class present
    return labels, probs


CASES = {
    "f64-a": _tied_case(0, np.float64),
    "f64-b": _tied_case(1, np.float64),
    "f32": _tied_case(2, np.float32),
}


def _cleanlab_ranked(labels, probs, filter_by, rank_by):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return cl_filter.find_label_issues(
            labels, probs, filter_by=filter_by, return_indices_ranked_by=rank_by, **_CL_OPTIONS
        )


def _slow_ranking_checks(ranked, mask, scores):
    """By a plain loop: the flagged rows, each once, scores never decreasing."""
    flagged = [i for i in range(len(mask)) if mask[i]]
    assert sorted(int(i) for i in ranked) == flagged
    for a, b in zip(ranked[:-1], ranked[1:], strict=True):
        assert scores[a] <= scores[b]


@pytest.mark.parametrize("case_id", list(CASES))
@pytest.mark.parametrize("rank_by", nl.RANKINGS)
def test_core_pipeline_cleanlab_and_loop_agree_on_ties(case_id, rank_by):
    labels, probs = CASES[case_id]
    features = np.zeros((len(labels), 1))
    dataset = nl.from_arrays(features, labels, pred_probs=probs)
    scores = nl.label_quality_scores(labels, probs, method=rank_by)
    tied_somewhere = False
    for filter_by in nl.FILTERS:
        got = nl.find_label_issues(labels, probs, filter_by=filter_by, rank_by=rank_by)
        mask = nl.find_label_issues(labels, probs, filter_by=filter_by)
        _slow_ranking_checks(got, mask, scores)
        flagged_scores = scores[mask]
        tied_somewhere |= np.unique(flagged_scores).size < flagged_scores.size / 2
        # the slow reference: flagged rows in row order, ordered as the reference sorts them
        np.testing.assert_array_equal(
            got, ref.ranked_issues(labels, probs, filter_by, rank_by), err_msg=filter_by
        )
        np.testing.assert_array_equal(
            got, _cleanlab_ranked(labels, probs, filter_by, rank_by), err_msg=filter_by
        )
        result = nl.analyze(dataset, filter_by=filter_by, rank_by=rank_by)
        np.testing.assert_array_equal(result.ranked, got, err_msg=filter_by)
        table = result.issues_table()
        np.testing.assert_array_equal(table["row"].to_numpy(), got, err_msg=filter_by)
        np.testing.assert_array_equal(table["rank"].to_numpy(), np.arange(1, got.size + 1))
    assert tied_somewhere, "the case should have many tied scores among flagged rows"


def test_digits_sample_ranked_the_same_everywhere():
    """The sample where the two rankings were seen to differ (same rows, other order); the
    k-nearest-neighbour model's probabilities (multiples of 1/k) tie flagged rows."""
    result = nl.analyze(nl.from_sample("digits"), model="knn", use_cache=False,
                        detector="confident_learning")
    flagged = result.scores[result.is_issue]
    assert np.unique(flagged).size < flagged.size
    labels, probs = result.labels, result.pred_probs
    for rank_by in nl.RANKINGS:
        ranked = result.with_methods(rank_by=rank_by).ranked
        np.testing.assert_array_equal(
            ranked, nl.find_label_issues(labels, probs, rank_by=rank_by), err_msg=rank_by
        )
        np.testing.assert_array_equal(
            ranked, _cleanlab_ranked(labels, probs, "prune_by_noise_rate", rank_by),
            err_msg=rank_by,
        )
