"""Multi-annotator agreement and consensus: published worked examples, slow loops written from
the definitions, scikit-learn, simulated annotators of known accuracy, the bundled sample, and
clear errors."""

from __future__ import annotations

import warnings
from collections import Counter

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import cohen_kappa_score

from analysis.annotators.agreement import (
    MAX_ACCURACY,
    AgreementSummary,
    Consensus,
    accuracy_weight,
    agreement_summary,
    annotator_accuracy,
    annotator_confusion,
    cohen_kappa,
    coincidence_matrix,
    encode_ratings,
    fleiss_kappa,
    krippendorff_alpha,
    majority_vote,
    pairwise_kappa,
    rating_counts,
    weighted_vote,
)
from analysis.data import samples

# --------------------------------------------------------------------------- references
# Slow loops over rows, written straight from the definitions (no shared code with the module).


def ref_cohen(a, b) -> float:
    pairs = [(x, y) for x, y in zip(a, b, strict=True) if x >= 0 and y >= 0]
    n = len(pairs)
    if n < 2:
        return float("nan")
    p_o = sum(x == y for x, y in pairs) / n
    ca = Counter(x for x, _ in pairs)
    cb = Counter(y for _, y in pairs)
    p_e = sum(ca[c] / n * cb[c] / n for c in ca)
    if p_e == 1:
        return float("nan")
    return (p_o - p_e) / (1 - p_e)


def ref_fleiss(ratings, k) -> float:
    """Per row P_i over rows with >= 2 ratings; p_j pooled over those rows."""
    p_rows = []
    class_totals = [0] * k
    total = 0
    for row in ratings:
        values = [v for v in row if v >= 0]
        m = len(values)
        if m < 2:
            continue
        n_j = [values.count(j) for j in range(k)]
        p_rows.append(sum(x * (x - 1) for x in n_j) / (m * (m - 1)))
        for j in range(k):
            class_totals[j] += n_j[j]
        total += m
    if not p_rows:
        return float("nan")
    p_bar = sum(p_rows) / len(p_rows)
    p_e = sum((t / total) ** 2 for t in class_totals)
    if p_e == 1:
        return float("nan")
    return (p_bar - p_e) / (1 - p_e)


def ref_alpha(ratings, k) -> float:
    """Krippendorff (2011): coincidences from every ordered pair of values of different
    observers in a unit, each weighted 1/(m_u - 1); alpha = 1 - D_o / D_e with the nominal
    difference (1 when c != k)."""
    o = [[0.0] * k for _ in range(k)]
    for row in ratings:
        values = [v for v in row if v >= 0]
        m = len(values)
        if m < 2:
            continue
        for i in range(m):
            for j in range(m):
                if i != j:
                    o[values[i]][values[j]] += 1 / (m - 1)
    n_c = [sum(o[c]) for c in range(k)]
    n = sum(n_c)
    d_o = sum(o[c][d] for c in range(k) for d in range(k) if c != d) / n if n else 0.0
    d_e = sum(n_c[c] * n_c[d] for c in range(k) for d in range(k) if c != d)
    if n < 2 or d_e == 0:
        return float("nan")
    d_e /= n * (n - 1)
    return 1 - d_o / d_e


def ref_majority(ratings, k):
    labels, agreement = [], []
    for row in ratings:
        values = [v for v in row if v >= 0]
        if not values:
            labels.append(-1)
            agreement.append(np.nan)
            continue
        counts = Counter(values)
        best = max(counts.values())
        winner = min(c for c, x in counts.items() if x == best)
        labels.append(winner)
        agreement.append(best / len(values))
    return np.array(labels), np.array(agreement)


def random_ratings(seed, n=60, a=4, k=3, missing=0.3):
    rng = np.random.default_rng(seed)
    r = rng.integers(0, k, size=(n, a))
    r[rng.random((n, a)) < missing] = -1
    return r


def simulate(seed, *, n=2000, k=5, accuracies=(0.95, 0.65, 0.6, 0.55, 0.5), coverage=0.8):
    """Annotators right with their accuracy, else a uniformly drawn other class; each rates
    a random ``coverage`` share of the rows."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, k, n)
    ratings = np.full((n, len(accuracies)), -1)
    for a, acc in enumerate(accuracies):
        right = rng.random(n) < acc
        ratings[:, a] = np.where(right, truth, (truth + rng.integers(1, k, n)) % k)
        ratings[rng.random(n) >= coverage, a] = -1
    return truth, ratings


# --------------------------------------------------------------------------- published values


def test_cohen_kappa_wikipedia_worked_example():
    # Wikipedia, "Cohen's kappa", simple example: 50 grant proposals, two readers, yes/no;
    # both yes 20, A yes B no 5, A no B yes 10, both no 15: p_o = 0.7, p_e = 0.5, kappa = 0.4.
    yes, no = 0, 1
    a = np.repeat([yes, yes, no, no], [20, 5, 10, 15])
    b = np.repeat([yes, no, yes, no], [20, 5, 10, 15])
    assert cohen_kappa(a, b) == pytest.approx(0.4, abs=1e-15)
    assert cohen_kappa_score(a, b) == pytest.approx(0.4, abs=1e-15)
    np.testing.assert_allclose(pairwise_kappa(np.column_stack([a, b])), [[1, 0.4], [0.4, 1]])


# Wikipedia, "Fleiss' kappa", worked example: 10 subjects, 14 raters each, 5 categories;
# n_ij = raters who assigned subject i to category j. Published: p_j = 0.143, 0.200, 0.279,
# 0.150, 0.229; P_bar = 0.378; P_e = 0.213; kappa = 0.210.
WIKIPEDIA_FLEISS = np.array(
    [
        [0, 0, 0, 0, 14],
        [0, 2, 6, 4, 2],
        [0, 0, 3, 5, 6],
        [0, 3, 9, 2, 0],
        [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0],
        [3, 2, 6, 3, 0],
        [2, 5, 3, 2, 2],
        [6, 5, 2, 1, 0],
        [0, 2, 2, 3, 7],
    ]
)


def ratings_from_table(table):
    """One rating per rater: row i holds category j ``table[i, j]`` times."""
    return np.array([np.repeat(np.arange(table.shape[1]), row) for row in table])


def test_fleiss_kappa_wikipedia_worked_example():
    ratings = ratings_from_table(WIKIPEDIA_FLEISS)
    assert ratings.shape == (10, 14)
    np.testing.assert_array_equal(rating_counts(ratings, 5), WIKIPEDIA_FLEISS)
    p_j = rating_counts(ratings, 5).sum(axis=0) / ratings.size
    np.testing.assert_array_equal(p_j.round(3), [0.143, 0.200, 0.279, 0.150, 0.229])
    kappa = fleiss_kappa(ratings)
    assert round(kappa, 3) == 0.210
    assert kappa == pytest.approx(ref_fleiss(ratings, 5), abs=1e-12)
    # the published intermediate values, from the classic constant-raters formula
    n = 14
    p_i = ((WIKIPEDIA_FLEISS**2).sum(axis=1) - n) / (n * (n - 1))
    p_e = (p_j**2).sum()
    assert round(p_i.mean(), 3) == 0.378 and round(p_e, 3) == 0.213
    assert kappa == pytest.approx((p_i.mean() - p_e) / (1 - p_e), abs=1e-12)
    # raters need not be the same people: shuffling within rows changes nothing
    rng = np.random.default_rng(0)
    assert fleiss_kappa(rng.permuted(ratings, axis=1)) == pytest.approx(kappa, abs=1e-15)


# Krippendorff, K. (2011). "Computing Krippendorff's Alpha-Reliability", Annenberg School for
# Communication, University of Pennsylvania (repository.upenn.edu/asc_papers/43), section C:
# nominal data, 4 observers, 12 units, missing values. Values 1..5 (here 0..4), "." = -1.
#   Unit:        1  2  3  4  5  6  7  8  9  10 11 12
#   Observer A:  1  2  3  3  2  1  4  1  2  .  .  .
#   Observer B:  1  2  3  3  2  2  4  1  2  5  .  3
#   Observer C:  .  3  3  3  2  3  4  2  2  5  1  .
#   Observer D:  1  2  3  3  2  4  4  1  2  5  1  .
# Published: n = 40 pairable values, n_c = 9, 13, 10, 5, 3, alpha_nominal = 0.743.
_ = -1
KRIPPENDORFF_2011 = (
    np.array(
        [
            [1, 2, 3, 3, 2, 1, 4, 1, 2, _, _, _],
            [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, _, 3],
            [_, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, _],
            [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, _],
        ]
    ).T
)
KRIPPENDORFF_2011 = np.where(KRIPPENDORFF_2011 > 0, KRIPPENDORFF_2011 - 1, -1)


def test_krippendorff_alpha_2011_worked_example():
    ratings = KRIPPENDORFF_2011
    alpha = krippendorff_alpha(ratings)
    assert round(alpha, 3) == 0.743
    assert alpha == pytest.approx(ref_alpha(ratings, 5), abs=1e-12)
    o = coincidence_matrix(ratings)
    third = 1 / 3
    # the paper's coincidence matrix of the example
    expected = np.array(
        [
            [7, 4 * third, third, third, 0],
            [4 * third, 10, 4 * third, third, 0],
            [third, 4 * third, 8, third, 0],
            [third, third, third, 4, 0],
            [0, 0, 0, 0, 3],
        ]
    )
    np.testing.assert_allclose(o, expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(o.sum(axis=1), [9, 13, 10, 5, 3], atol=1e-12)
    assert o.sum() == pytest.approx(40, abs=1e-12)
    # unit 12 (one value) is not pairable: dropping it changes nothing
    assert krippendorff_alpha(ratings[:11]) == alpha


def test_krippendorff_alpha_wikipedia_example():
    # Wikipedia, "Krippendorff's alpha", a computational example: 3 coders, 15 units, values
    # 1..4 ("*" missing); published alpha_nominal = 0.691.
    coders = (
        "* * * * * 3 4 1 2 1 1 3 3 * 3",
        "1 * 2 1 3 3 4 3 * * * * * * *",
        "* * 2 1 3 4 4 * 2 1 1 3 3 * 4",
    )
    ratings = np.array([[-1 if v == "*" else int(v) - 1 for v in c.split()] for c in coders]).T
    alpha = krippendorff_alpha(ratings)
    assert round(alpha, 3) == 0.691
    assert alpha == pytest.approx(ref_alpha(ratings, 4), abs=1e-12)


# --------------------------------------------------------------------------- against sklearn


@pytest.mark.parametrize("seed", range(20))
def test_cohen_kappa_equals_sklearn_on_shared_rows(seed):
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 7))
    r = random_ratings(seed, n=int(rng.integers(5, 300)), a=2, k=k, missing=0.25)
    a, b = r[:, 0], r[:, 1]
    both = (a >= 0) & (b >= 0)
    expected = cohen_kappa_score(a[both], b[both])
    assert cohen_kappa(a, b) == pytest.approx(expected, abs=1e-12)
    assert cohen_kappa(a, b) == pytest.approx(ref_cohen(a, b), abs=1e-12)
    assert cohen_kappa(b, a) == pytest.approx(cohen_kappa(a, b), abs=1e-15)


@pytest.mark.parametrize("seed", range(5))
def test_pairwise_kappa_equals_sklearn_for_every_pair(seed):
    r = random_ratings(seed, n=200, a=6, k=4, missing=0.4)
    kappa = pairwise_kappa(r)
    assert kappa.shape == (6, 6)
    np.testing.assert_array_equal(kappa, kappa.T)
    np.testing.assert_array_equal(np.diag(kappa), 1.0)
    for i in range(6):
        for j in range(6):
            if i != j:
                both = (r[:, i] >= 0) & (r[:, j] >= 0)
                expected = cohen_kappa_score(r[both, i], r[both, j])
                assert kappa[i, j] == pytest.approx(expected, abs=1e-12)
                assert kappa[i, j] == pytest.approx(cohen_kappa(r[:, i], r[:, j]), abs=1e-12)


def test_kappa_undefined_cases_are_nan():
    # fewer than 2 shared rows
    assert np.isnan(cohen_kappa([0, 1, -1], [-1, -1, 1]))
    assert np.isnan(cohen_kappa([0, -1], [1, -1]))
    # expected agreement 1: both give every shared row the same class (sklearn: nan too)
    assert np.isnan(cohen_kappa([2, 2, 2, 0], [2, 2, 2, -1]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert np.isnan(cohen_kappa_score([2, 2, 2], [2, 2, 2]))
    # one annotator constant, the other not: defined (kappa 0)
    assert cohen_kappa([1, 1, 1], [1, 0, 1]) == 0.0
    r = np.array([[0, 0, -1], [1, 1, -1], [0, 1, 1]])
    kappa = pairwise_kappa(r)
    assert kappa[0, 1] == pytest.approx(cohen_kappa(r[:, 0], r[:, 1]))
    assert np.isnan(kappa[0, 2]) and np.isnan(kappa[2, 1]) and kappa[2, 2] == 1


def test_fleiss_and_alpha_undefined_cases_are_nan():
    same = np.array([[1, 1, -1], [1, -1, 1], [1, 1, 1]])
    assert np.isnan(fleiss_kappa(same)) and np.isnan(krippendorff_alpha(same))
    lonely = np.array([[0, -1], [-1, 1], [1, -1]])  # no row with 2 ratings
    assert np.isnan(fleiss_kappa(lonely)) and np.isnan(krippendorff_alpha(lonely))
    perfect = np.array([[0, 0], [1, 1], [2, 2], [2, -1]])
    assert fleiss_kappa(perfect) == 1.0 and krippendorff_alpha(perfect) == 1.0


# --------------------------------------------------------------------------- reference loops

ratings_strategy = st.tuples(
    st.integers(1, 40), st.integers(2, 6), st.integers(1, 5), st.integers(0, 2**32 - 1)
).map(lambda t: random_ratings(t[3], n=t[0], a=t[1], k=t[2], missing=0.35))


# derandomised, no example database: every run checks the same examples, as the core suites do
@settings(max_examples=150, deadline=None, derandomize=True, database=None)
@given(ratings_strategy)
def test_coefficients_equal_the_reference_loops(r):
    k = max(int(r.max()) + 1, 1)
    for ours, ref in (
        (fleiss_kappa(r), ref_fleiss(r.tolist(), k)),
        (krippendorff_alpha(r), ref_alpha(r.tolist(), k)),
    ):
        if np.isnan(ref):
            assert np.isnan(ours)
        else:
            assert ours == pytest.approx(ref, abs=1e-12)
    kappa = pairwise_kappa(r)
    for i in range(r.shape[1]):
        for j in range(i + 1, r.shape[1]):
            ref = ref_cohen(r[:, i], r[:, j])
            if np.isnan(ref):
                assert np.isnan(kappa[i, j])
            else:
                assert kappa[i, j] == pytest.approx(ref, abs=1e-12)
    labels, agreement = majority_vote(r)
    ref_labels, ref_agreement = ref_majority(r.tolist(), k)
    np.testing.assert_array_equal(labels, ref_labels)
    np.testing.assert_allclose(agreement, ref_agreement, rtol=0, atol=1e-12)


@settings(max_examples=50, deadline=None, derandomize=True, database=None)
@given(ratings_strategy, st.randoms(use_true_random=False))
def test_coefficients_ignore_class_names_annotator_order_and_row_order(r, rnd):
    k = max(int(r.max()) + 1, 1)
    classes = list(range(k))
    rnd.shuffle(classes)
    relabelled = np.where(r >= 0, np.array(classes + [-1])[r], -1)
    cols = list(range(r.shape[1]))
    rnd.shuffle(cols)
    rows = list(range(r.shape[0]))
    rnd.shuffle(rows)
    moved = relabelled[rows][:, cols]
    for f in (fleiss_kappa, krippendorff_alpha):
        a, b = f(r), f(moved)
        assert (np.isnan(a) and np.isnan(b)) or a == pytest.approx(b, abs=1e-12)
    np.testing.assert_allclose(
        pairwise_kappa(moved), pairwise_kappa(r)[np.ix_(cols, cols)], atol=1e-12
    )


def test_fleiss_with_varying_raters_matches_reference_and_ignores_single_ratings():
    r = random_ratings(3, n=500, a=7, k=4, missing=0.5)
    assert len(set((r >= 0).sum(axis=1))) > 3  # really varying
    assert fleiss_kappa(r) == pytest.approx(ref_fleiss(r.tolist(), 4), abs=1e-12)
    single = np.full((50, 7), -1)
    single[:, 0] = np.arange(50) % 4
    more = np.vstack([r, single])
    assert fleiss_kappa(more) == fleiss_kappa(r)
    assert krippendorff_alpha(more) == krippendorff_alpha(r)


def test_alpha_and_fleiss_on_complete_data():
    # every row rated by all m annotators, n = N * m values: D_o = 1 - P_bar and
    # D_e = n (1 - P_e) / (n - 1), so alpha = 1 - (1 - kappa_Fleiss) (n - 1) / n exactly
    r = random_ratings(4, n=300, a=5, k=3, missing=0.0)
    n = r.size
    expected = 1 - (1 - fleiss_kappa(r)) * (n - 1) / n
    assert krippendorff_alpha(r) == pytest.approx(expected, abs=1e-12)


# --------------------------------------------------------------------------- consensus


def test_majority_vote_ties_and_missing():
    r = np.array([[0, 1, -1], [2, 1, 1], [-1, -1, -1], [2, 0, 1], [1, 1, 1]])
    labels, agreement = majority_vote(r, 3)
    np.testing.assert_array_equal(labels, [0, 1, -1, 0, 1])
    np.testing.assert_allclose(agreement, [0.5, 2 / 3, np.nan, 1 / 3, 1.0])
    # tie-break by per-row scores, then lowest class
    probs = np.array([[0.2, 0.7, 0.1]] * 5)
    labels, _ = majority_vote(r, 3, tie_break=probs)
    np.testing.assert_array_equal(labels, [1, 1, -1, 1, 1])
    labels, _ = majority_vote(r, 3, tie_break=[0.0, 0.0, 1.0])  # a class priority
    np.testing.assert_array_equal(labels, [0, 1, -1, 2, 1])
    labels, _ = majority_vote(r, 3, tie_break=np.zeros(3))
    np.testing.assert_array_equal(labels, [0, 1, -1, 0, 1])


def ref_confusion(r, consensus, a, k):
    out = np.zeros((k, k), dtype=int)
    for rating, c in zip(r[:, a], consensus, strict=True):
        if rating >= 0 and c >= 0:
            out[c, rating] += 1
    return out


def test_annotator_accuracy_and_confusion_against_loops():
    r = random_ratings(7, n=300, a=5, k=4, missing=0.3)
    consensus, _ = majority_vote(r, 4)
    consensus[::17] = -1
    acc = annotator_accuracy(r, consensus)
    for a in range(5):
        rows = [i for i in range(300) if r[i, a] >= 0 and consensus[i] >= 0]
        assert acc[a] == pytest.approx(np.mean([r[i, a] == consensus[i] for i in rows]), abs=1e-15)
        cm = annotator_confusion(r, consensus, a, 4)
        np.testing.assert_array_equal(cm, ref_confusion(r, consensus, a, 4))
        assert np.trace(cm) / cm.sum() == pytest.approx(acc[a], abs=1e-15)
    # an annotator with no scored rows
    r[:, 2] = -1
    assert np.isnan(annotator_accuracy(r, consensus)[2])
    # K is inferred from ratings and consensus together
    assert annotator_confusion([[0, 1], [1, 1]], [3, 1], 0).shape == (4, 4)


def test_weighted_vote_beats_majority_and_ranks_annotators():
    accuracies = (0.95, 0.65, 0.6, 0.55, 0.5)
    for seed in range(3):
        truth, r = simulate(seed, accuracies=accuracies)
        majority, _ = majority_vote(r, 5)
        result = weighted_vote(r, 5)
        assert isinstance(result, Consensus)
        weighted_acc = np.mean(result.labels == truth)
        assert weighted_acc > np.mean(majority == truth) + 0.03
        # estimated accuracies (and weights) in the true order
        assert list(np.argsort(-result.annotator_accuracy)) == [0, 1, 2, 3, 4]
        assert np.all(np.diff(result.annotator_weights) < 0)
        assert result.converged and 1 <= result.iterations <= 10
        # the reported accuracies are against the returned consensus
        np.testing.assert_array_equal(
            result.annotator_accuracy, annotator_accuracy(r, result.labels)
        )
        # quality: the winner's share of the weighted votes
        assert np.all((result.quality > 0) & (result.quality <= 1) | (result.labels < 0))
        unanimous = (rating_counts(r, 5).max(axis=1) == (r >= 0).sum(axis=1)) & (result.labels >= 0)
        np.testing.assert_array_equal(result.quality[unanimous], 1.0)
        assert result.model_weight is None and result.model_accuracy is None


def test_weighted_vote_quality_is_the_weighted_share():
    truth, r = simulate(11, n=400)
    result = weighted_vote(r, 5)
    w = result.annotator_weights
    for i in range(0, 400, 7):
        scores = np.zeros(5)
        for a in range(r.shape[1]):
            if r[i, a] >= 0:
                scores[r[i, a]] += w[a]
        if result.labels[i] < 0:
            assert np.isnan(result.quality[i])
            continue
        assert scores[result.labels[i]] == pytest.approx(scores.max(), rel=1e-12)
        assert result.quality[i] == pytest.approx(scores[result.labels[i]] / scores.sum(), 1e-12)


def test_weighted_vote_is_deterministic_and_leaves_unrated_rows_empty():
    truth, r = simulate(5)
    r[:7] = -1
    first, second = weighted_vote(r, 5), weighted_vote(r.copy(), 5)
    for field in ("labels", "quality", "annotator_weights", "annotator_accuracy"):
        np.testing.assert_array_equal(getattr(first, field), getattr(second, field))
    np.testing.assert_array_equal(first.labels[:7], -1)
    assert np.isnan(first.quality[:7]).all()
    np.testing.assert_array_equal(first.num_ratings[:7], 0)
    np.testing.assert_array_equal(first.labels >= 0, (r >= 0).any(axis=1))


def model_probs(truth, k, accuracy, seed):
    """Confident probabilities whose arg-max is right with the given accuracy."""
    rng = np.random.default_rng(seed)
    wrong = rng.random(truth.size) >= accuracy
    vote = np.where(wrong, (truth + rng.integers(1, k, truth.size)) % k, truth)
    probs = rng.dirichlet(np.ones(k), truth.size) * 0.3
    probs[np.arange(truth.size), vote] += 0.7
    return probs


def test_weighted_vote_with_model_probabilities():
    truth, r = simulate(8)
    r[:25] = -1  # nobody rated these rows
    probs = model_probs(truth, 5, 0.85, seed=1)
    plain = weighted_vote(r, 5)
    result = weighted_vote(r, 5, pred_probs=probs)
    # rows nobody rated take the model's class
    np.testing.assert_array_equal(result.labels[:25], probs[:25].argmax(axis=1))
    assert (result.labels >= 0).all()
    assert np.mean(result.labels == truth) > np.mean(plain.labels == truth)
    scored = result.num_ratings > 0
    assert result.model_accuracy == pytest.approx(
        np.mean(probs.argmax(axis=1)[scored] == result.labels[scored])
    )
    assert result.model_weight == pytest.approx(accuracy_weight(result.model_accuracy, 5))
    # a fixed model weight; 0 leaves the model only the rows nobody rated (and tie-breaks)
    fixed = weighted_vote(r, 5, pred_probs=probs, model_weight=0.0)
    assert fixed.model_weight == 0.0
    np.testing.assert_array_equal(fixed.labels[:25], probs[:25].argmax(axis=1))
    np.testing.assert_array_equal(fixed.quality[:25], 1.0)
    # a huge weight makes the model decide every row
    boss = weighted_vote(r, 5, pred_probs=probs, model_weight=1e6)
    np.testing.assert_array_equal(boss.labels, probs.argmax(axis=1))


def test_accuracy_weight():
    k = 4
    np.testing.assert_allclose(
        accuracy_weight([0.1, 0.25, 0.5, 0.9, 1.0, np.nan], k),
        [0, 0, np.log(0.5 * 3 / 0.5), np.log(0.9 * 3 / 0.1), np.log(MAX_ACCURACY * 3 / 0.01), 0],
    )
    np.testing.assert_array_equal(accuracy_weight([0.3, np.nan], 1), [1.0, 0.0])


# --------------------------------------------------------------------------- encoding


def test_encode_ratings_class_names_and_missing():
    frame = pd.DataFrame(
        {
            "a": ["cat", "dog", None, "cat", ""],
            "b": ["dog", np.nan, "bird", " ", "dog"],
            "other": [1, 2, 3, 4, 5],
        }
    )
    ratings, names = encode_ratings(frame, ["a", "b"])
    assert names == ["bird", "cat", "dog"]
    np.testing.assert_array_equal(ratings, [[1, 2], [2, -1], [-1, 0], [1, -1], [-1, 2]])
    assert ratings.dtype == np.int64
    ratings, names = encode_ratings(frame, ["a", "b"], ["dog", "cat", "bird", "fish"])
    assert names == ["dog", "cat", "bird", "fish"]
    np.testing.assert_array_equal(ratings, [[1, 0], [0, -1], [-1, 2], [1, -1], [-1, 0]])


def test_encode_ratings_numbers_sort_numerically_and_match_as_text():
    frame = pd.DataFrame(
        {
            "x": pd.array([10, 2, None, 1], dtype="Int64"),
            "y": [2.0, np.nan, 10.0, 1.0],  # a float column from a CSV with gaps
        }
    )
    ratings, names = encode_ratings(frame, ["x", "y"])
    assert names == ["1", "2", "10"]
    np.testing.assert_array_equal(ratings, [[2, 1], [1, -1], [-1, 2], [0, 0]])
    ratings, names = encode_ratings(frame, ["x", "y"], class_names=[10, 2, 1])
    assert names == ["10", "2", "1"]
    np.testing.assert_array_equal(ratings, [[0, 1], [1, -1], [-1, 0], [2, 2]])


def test_encode_ratings_errors_name_column_and_rows():
    frame = pd.DataFrame({"a": ["cat", "dog", "cat"], "b": ["cat", "dgo", "dgo"]})
    message = r"column 'b' holds values that are not among the class names in rows 1, 2 "
    message += r"\(first: 'dgo'\)"
    with pytest.raises(ValueError, match=message):
        encode_ratings(frame, ["a", "b"], ["cat", "dog"])
    with pytest.raises(ValueError, match=r"\['c'\] are not in the table"):
        encode_ratings(frame, ["a", "c"])
    with pytest.raises(ValueError, match="at least 2 annotators"):
        encode_ratings(frame, ["a"])
    with pytest.raises(ValueError, match="repeats"):
        encode_ratings(frame, ["a", "b"], ["cat", "dog", "cat"])


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("ratings", "kwargs", "message"),
    [
        (np.zeros(5, dtype=int), {}, r"must be 2-D \(rows x annotators.*got shape \(5,\)"),
        (np.zeros((2, 2, 2), dtype=int), {}, r"must be 2-D.*\(2, 2, 2\)"),
        (np.zeros((5, 1), dtype=int), {}, "1 annotator column.*at least 2 annotators"),
        (np.zeros((0, 3), dtype=int), {}, "no rows"),
        (
            np.array([[0, 1], [1, -2], [0, -3]]),
            {},
            r"-1 where the annotator did not rate.*column 1 is wrong in rows 1, 2 \(first: -2\)\.",
        ),
        (
            np.array([[0, 1, 0], [1, 0, 3], [0, 1, 5]]),
            {"num_classes": 3},
            r"num_classes is 3\); column 2 is wrong in rows 1, 2 \(first: 3\)\.",
        ),
        (
            np.array([[0.0, 1.5], [1.0, 0.0]]),
            {},
            r"whole class indices; column 1 is wrong in row 0 \(first: 1.5\)",
        ),
        (np.array([["cat", "dog"], ["dog", "dog"]]), {}, "encode_ratings"),
        (pd.DataFrame({"p": ["cat", "dog"], "q": ["dog", None]}), {}, "encode_ratings"),
        (
            pd.DataFrame({"p": [0, 4], "q": [0, 1]}),
            {"num_classes": 2},
            r"column 'p' is wrong in row 1 \(first: 4\)\.",
        ),
        (np.zeros((3, 2), dtype=int), {"num_classes": 0}, "num_classes must be a positive"),
    ],
)
def test_bad_ratings_raise_clear_errors(ratings, kwargs, message):
    for f in (fleiss_kappa, krippendorff_alpha, pairwise_kappa, majority_vote, weighted_vote):
        with pytest.raises(ValueError, match=message):
            f(ratings, **kwargs)


def test_other_bad_inputs():
    r = np.array([[0, 1], [1, 1], [0, -1]])
    with pytest.raises(ValueError, match="a has 3 rows but b has 2"):
        cohen_kappa([0, 1, 1], [0, 1])
    with pytest.raises(ValueError, match="b must be 1-D"):
        cohen_kappa([0, 1], [[0, 1]])
    with pytest.raises(ValueError, match=r"column 'b' is wrong in row 1 \(first: 7\)"):
        cohen_kappa([0, 1], [1, 7], num_classes=3)
    with pytest.raises(ValueError, match=r"consensus must be 1-D .*\(3\)"):
        annotator_accuracy(r, [0, 1])
    with pytest.raises(ValueError, match=r"0\.\.1, or -1.*row 2 hold 5"):
        annotator_confusion(r, [0, 1, 5], 0, num_classes=2)
    with pytest.raises(ValueError, match=r"annotator index 0\.\.1, got 2"):
        annotator_confusion(r, [0, 1, 0], 2)
    with pytest.raises(ValueError, match=r"tie_break must have shape"):
        majority_vote(r, 2, tie_break=np.ones((3, 3)))
    with pytest.raises(ValueError, match=r"pred_probs must have shape \(N, K\) with N = 3"):
        weighted_vote(r, pred_probs=np.full((2, 2), 0.5))
    with pytest.raises(ValueError, match="pred_probs has 3 columns but the ratings have 2"):
        weighted_vote(r, 2, pred_probs=np.full((3, 3), 1 / 3))
    with pytest.raises(ValueError, match="sum to 1"):
        weighted_vote(r, pred_probs=np.full((3, 2), 0.7))
    with pytest.raises(ValueError, match="model_weight needs pred_probs"):
        weighted_vote(r, model_weight=1.0)
    with pytest.raises(ValueError, match="model_weight must be a finite number >= 0"):
        weighted_vote(r, pred_probs=np.full((3, 2), 0.5), model_weight=-1)
    with pytest.raises(ValueError, match="iterations must be an integer >= 1"):
        weighted_vote(r, iterations=0)
    with pytest.raises(ValueError, match="annotator_names has 1 names for 2 columns"):
        agreement_summary(r, annotator_names=["x"])


def test_dataframe_with_nullable_ints_is_accepted_directly():
    frame = pd.DataFrame(
        {"p": pd.array([0, 1, None, 2], dtype="Int64"), "q": pd.array([0, None, 1, 2], "Int64")}
    )
    expected = np.array([[0, 0], [1, -1], [-1, 1], [2, 2]])
    np.testing.assert_array_equal(rating_counts(frame), rating_counts(expected))
    assert cohen_kappa(frame["p"], frame["q"]) == cohen_kappa(expected[:, 0], expected[:, 1])
    assert krippendorff_alpha(frame) == krippendorff_alpha(expected)
    # floats with NaN for missing, as read from a CSV
    assert fleiss_kappa(frame.astype(float).to_numpy()) == fleiss_kappa(expected)


# --------------------------------------------------------------------------- summary & sample


def test_agreement_summary_matches_the_functions():
    truth, r = simulate(2, n=500)
    summary = agreement_summary(r, ["a", "b", "c", "d", "e"])
    assert isinstance(summary, AgreementSummary)
    assert (summary.num_rows, summary.num_annotators, summary.num_classes) == (500, 5, 5)
    assert summary.class_names == ["a", "b", "c", "d", "e"]
    assert summary.fleiss_kappa == fleiss_kappa(r)
    assert summary.krippendorff_alpha == krippendorff_alpha(r)
    kappa = pairwise_kappa(r)
    np.testing.assert_array_equal(summary.pairwise_kappa, kappa)
    assert summary.mean_pairwise_kappa == pytest.approx(kappa[np.triu_indices(5, 1)].mean())
    table = summary.annotators
    assert table["annotator"].tolist() == [f"annotator {i}" for i in range(1, 6)]
    np.testing.assert_array_equal(table["ratings"], (r >= 0).sum(axis=0))
    np.testing.assert_allclose(table["accuracy"], annotator_accuracy(r, majority_vote(r)[0]))
    off = ~np.eye(5, dtype=bool)
    np.testing.assert_allclose(table["mean_kappa"], [kappa[i][off[i]].mean() for i in range(5)])
    result = weighted_vote(r, 5)
    np.testing.assert_array_equal(table["weight"], result.annotator_weights)
    assert summary.ratings_per_row == pytest.approx((r >= 0).sum() / 500)
    rated2 = (r >= 0).sum(axis=1) >= 2
    same = np.array([len(set(row[row >= 0])) == 1 for row in r])
    assert summary.unanimous_share == pytest.approx(same[rated2].mean())


def test_bundled_digits_annotators_sample():
    sample = samples.load("digits_annotators")
    frame = sample.frame
    assert len(sample.annotator_columns) == 5
    assert all(str(frame[c].dtype) == "Int64" for c in sample.annotator_columns)
    ratings, names = encode_ratings(frame, sample.annotator_columns, class_names=range(10))
    assert names == [str(i) for i in range(10)]
    np.testing.assert_array_equal(ratings == -1, frame[sample.annotator_columns].isna())
    truth = frame[sample.true_label_column].to_numpy()
    # the card: `label` is the majority vote, ties broken by the lowest digit
    majority, _ = majority_vote(ratings, 10)
    np.testing.assert_array_equal(majority, frame[sample.label_column])
    result = weighted_vote(ratings, 10)
    accuracy = np.mean(result.labels == truth)
    per_annotator = [
        np.mean(ratings[ratings[:, a] >= 0, a] == truth[ratings[:, a] >= 0]) for a in range(5)
    ]
    assert accuracy > min(per_annotator)
    assert accuracy >= np.mean(majority == truth)  # 97.9% vs 96.2% on this fixed sample
    # the card's annotators are ordered by accuracy (95%, 90%, 85%, 75%, 60%)
    assert list(np.argsort(-result.annotator_accuracy)) == [0, 1, 2, 3, 4]
    summary = agreement_summary(frame[sample.annotator_columns], names)
    assert summary.annotators["annotator"].tolist() == sample.annotator_columns
    assert 0.5 < summary.krippendorff_alpha < 0.8
    assert summary.fleiss_kappa == pytest.approx(fleiss_kappa(ratings), abs=1e-15)
