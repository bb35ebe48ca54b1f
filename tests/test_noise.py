"""Noise simulation: exact counts, known truth, seeds, and clear errors."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from analysis.data import noise
from analysis.data.noise import (
    NoisyLabels,
    adversarial_flips,
    combine,
    cyclic_pairs,
    flip_count,
    generate_noise_matrix,
    inject,
    largest_remainder,
    noise_from_matrix,
    pair_flips,
    uniform_noise,
)

SIZES = (50, 60, 70, 80, 90)  # classes 0..4, N = 350


@pytest.fixture
def y() -> np.ndarray:
    labels = np.repeat(np.arange(len(SIZES)), SIZES)
    return np.random.default_rng(123).permutation(labels)


@pytest.fixture
def probs(y) -> np.ndarray:
    rng = np.random.default_rng(5)
    p = rng.dirichlet(np.ones(len(SIZES)), size=y.size)
    p[np.arange(y.size), y] += 1.0  # mostly right, with varied confidence
    return p / p.sum(axis=1, keepdims=True)


def assert_consistent(result: NoisyLabels, y: np.ndarray) -> None:
    """The truth is kept, flipped rows really changed, the others did not."""
    assert result.labels.dtype == np.int64
    assert result.is_flipped.dtype == bool
    np.testing.assert_array_equal(result.true_labels, y)
    assert np.all(result.labels[result.is_flipped] != y[result.is_flipped])
    np.testing.assert_array_equal(result.labels[~result.is_flipped], y[~result.is_flipped])


# --------------------------------------------------------------------------- helpers


def test_flip_count_rounds_halves_up():
    assert flip_count(0.1, 350) == 35
    assert flip_count(0.25, 2) == 1
    assert flip_count(0.2, 182) == 36  # 36.4
    assert flip_count(0.15, 183) == 27  # 27.45
    assert flip_count(0.0, 10) == 0
    assert flip_count(1.0, 10) == 10


def test_largest_remainder_by_hand():
    np.testing.assert_array_equal(largest_remainder(10, np.array([0.2, 0.1])), [7, 3])
    # quotas 1.33 each: one row left over goes to the first part (ties: earlier part)
    np.testing.assert_array_equal(largest_remainder(4, np.ones(3)), [2, 1, 1])
    # quotas 2.5, 1.5, 0 -> floors 2, 1, 0; one more to the first of the equal remainders
    np.testing.assert_array_equal(largest_remainder(4, np.array([5.0, 3.0, 0.0])), [3, 1, 0])
    np.testing.assert_array_equal(largest_remainder(0, np.ones(3)), [0, 0, 0])


# --------------------------------------------------------------------------- uniform


@pytest.mark.parametrize("rate", [0.0, 0.1, 1 / 3, 0.5, 1.0])
def test_uniform_exact_count(y, rate):
    result = uniform_noise(y, rate)
    assert result.num_flipped == flip_count(rate, y.size)
    assert result.kind == "uniform"
    assert_consistent(result, y)


def test_uniform_does_not_touch_input(y):
    before = y.copy()
    uniform_noise(y, 0.5)
    np.testing.assert_array_equal(y, before)


def test_uniform_same_seed_same_flips_other_seed_differs(y):
    a = uniform_noise(y, 0.2, random_state=7)
    b = uniform_noise(y, 0.2, random_state=7)
    c = uniform_noise(y, 0.2, random_state=8)
    np.testing.assert_array_equal(a.labels, b.labels)
    assert not np.array_equal(a.labels, c.labels)
    assert not np.array_equal(a.is_flipped, c.is_flipped)


def test_uniform_targets_every_other_class_equally():
    labels = np.zeros(60_000, dtype=np.int64)
    labels[::2] = 3
    result = uniform_noise(labels, 0.5, num_classes=4, random_state=1)
    for source in (0, 3):
        moved = result.labels[result.is_flipped & (labels == source)]
        shares = np.bincount(moved, minlength=4) / moved.size
        assert shares[source] == 0
        np.testing.assert_allclose(np.delete(shares, source), 1 / 3, atol=0.015)


def test_uniform_num_classes_reaches_unseen_classes():
    result = uniform_noise(np.zeros(1000, dtype=int), 1.0, num_classes=3)
    assert set(np.unique(result.labels)) == {1, 2}


def test_uniform_exclude_counts_eligible_rows_only(y):
    exclude = y == 0
    result = uniform_noise(y, 0.1, exclude=exclude)
    assert not result.is_flipped[exclude].any()
    assert result.num_flipped == flip_count(0.1, int((~exclude).sum()))


# --------------------------------------------------------------------------- matrix


def test_noise_from_matrix_counts_by_hand():
    y = np.repeat([0, 1, 2], [100, 100, 7])
    nm = np.array(
        [
            [0.7, 0.0, 0.25],
            [0.2, 1.0, 0.25],
            [0.1, 0.0, 0.5],
        ]
    )
    counts = noise_from_matrix(y, nm, random_state=3).joint_counts()
    # class 0: 30 flips split 2:1; class 1: none; class 2: 3.5 -> 4 rows, split 2:2
    expected = np.array([[70, 0, 2], [20, 100, 2], [10, 0, 3]])
    np.testing.assert_array_equal(counts, expected)


def test_noise_from_matrix_matches_matrix_counts(y):
    nm = generate_noise_matrix(5, trace=3.5, sparsity=0.4, random_state=2)
    result = noise_from_matrix(y, nm, random_state=9)
    assert_consistent(result, y)
    counts = result.joint_counts()
    for j, n_j in enumerate(SIZES):
        off = np.delete(nm[:, j], j)
        want = largest_remainder(flip_count(1 - nm[j, j], n_j), off)
        np.testing.assert_array_equal(np.delete(counts[:, j], j), want)
        assert counts[j, j] == n_j - want.sum()
    assert result.kind == "class_conditional"


def test_noise_from_matrix_seeds(y):
    nm = generate_noise_matrix(5, trace=4.0, random_state=0)
    a = noise_from_matrix(y, nm, random_state=1)
    b = noise_from_matrix(y, nm, random_state=1)
    c = noise_from_matrix(y, nm, random_state=2)
    np.testing.assert_array_equal(a.labels, b.labels)
    assert not np.array_equal(a.labels, c.labels)
    np.testing.assert_array_equal(a.joint_counts(), c.joint_counts())  # same counts


def test_noise_from_matrix_exclude(y):
    nm = generate_noise_matrix(5, trace=2.5, random_state=0)
    exclude = np.arange(y.size) < 100
    result = noise_from_matrix(y, nm, exclude=exclude)
    assert not result.is_flipped[exclude].any()
    eligible = np.bincount(y[~exclude], minlength=5)
    for j in range(5):
        flipped = int(np.sum(result.is_flipped & (y == j)))
        assert flipped == flip_count(1 - nm[j, j], eligible[j])


def test_realised_noise_matrix(y):
    result = pair_flips(y, {(0, 1): 0.2})
    nm = result.noise_matrix(num_classes=6)
    assert nm[1, 0] == pytest.approx(0.2)
    assert nm[0, 0] == pytest.approx(0.8)
    assert nm[5, 5] == 1.0  # a class with no rows: identity column
    np.testing.assert_allclose(nm.sum(axis=0), 1.0)


@pytest.mark.parametrize(
    ("matrix", "message"),
    [
        (np.ones((2, 3)) / 2, "square"),
        (np.array([[1.0]]), "K >= 2"),
        (np.array([[0.9, 0.2], [0.2, 0.8]]), "column 0 sums to 1.1"),
        (np.array([[0.9, 0.9], [0.1, 0.1]]).T, "transpose"),
        (np.array([[1.2, 0.0], [-0.2, 1.0]]), r"\[0, 1\]"),
        (np.array([[np.nan, 0.0], [0.5, 1.0]]), "finite"),
    ],
)
def test_noise_matrix_validation(matrix, message):
    with pytest.raises(ValueError, match=message):
        noise_from_matrix(np.array([0, 1, 1, 0]), matrix)


def test_noise_matrix_label_out_of_range():
    with pytest.raises(ValueError, match=r"2x2 but row 2 hold class 5"):
        noise_from_matrix(np.array([0, 1, 5]), np.eye(2))


# --------------------------------------------------------------------------- generated matrix


@pytest.mark.parametrize("k", [2, 3, 10])
@pytest.mark.parametrize("trace_share", [0.55, 0.8, 0.97])
def test_generated_matrix_is_valid(k, trace_share):
    trace = max(k * trace_share, 1.01)
    nm = generate_noise_matrix(k, trace=trace, random_state=4)
    assert nm.shape == (k, k)
    assert np.all(nm >= 0)
    np.testing.assert_allclose(nm.sum(axis=0), 1.0, atol=1e-12)
    assert np.trace(nm) == pytest.approx(trace, abs=1e-12)
    assert np.all(np.diag(nm) >= 1 / k - 1e-12)


def test_generated_matrix_sparsity_counts():
    k = 5
    off = ~np.eye(k, dtype=bool)
    dense = generate_noise_matrix(k, trace=3.0, sparsity=0.0, random_state=1)
    assert np.all(dense[off] > 0)
    half = generate_noise_matrix(k, trace=3.0, sparsity=0.5, random_state=1)
    assert np.sum(half[off] == 0) == flip_count(0.5, k * (k - 1))  # 10 of 20
    full = generate_noise_matrix(k, trace=3.0, sparsity=1.0, random_state=1)
    # every noisy column keeps exactly one non-zero off-diagonal cell
    np.testing.assert_array_equal(np.sum((full > 0) & off, axis=0), np.ones(k))
    two = generate_noise_matrix(2, trace=1.5, sparsity=1.0, random_state=1)
    assert np.all(two[~np.eye(2, dtype=bool)] > 0)


def test_generated_matrix_seeds_and_identity():
    a = generate_noise_matrix(4, trace=3.0, sparsity=0.3, random_state=11)
    b = generate_noise_matrix(4, trace=3.0, sparsity=0.3, random_state=11)
    c = generate_noise_matrix(4, trace=3.0, sparsity=0.3, random_state=12)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    np.testing.assert_array_equal(generate_noise_matrix(3, trace=3), np.eye(3))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"num_classes": 3, "trace": 1.0}, r"trace must be in \(1, 3\]"),
        ({"num_classes": 3, "trace": 3.5}, r"trace must be in \(1, 3\]"),
        ({"num_classes": 1, "trace": 1.0}, "num_classes must be >= 2"),
        ({"num_classes": 2.5, "trace": 1.5}, "num_classes must be an integer"),
        ({"num_classes": 3, "trace": 2.0, "sparsity": 1.5}, r"sparsity must be in \[0, 1\]"),
        ({"num_classes": 3, "trace": 2.0, "random_state": "x"}, "random_state must be"),
    ],
)
def test_generated_matrix_validation(kwargs, message):
    k = kwargs.pop("num_classes")
    with pytest.raises(ValueError, match=message):
        generate_noise_matrix(k, **kwargs)


# --------------------------------------------------------------------------- pairs


def test_pair_flips_exact_counts(y):
    result = pair_flips(y, {(1, 3): 0.25, (4, 0): 0.1, (1, 2): 0.1})
    assert_consistent(result, y)
    counts = result.joint_counts()
    assert counts[3, 1] == flip_count(0.25, 60) == 15
    assert counts[2, 1] == flip_count(0.1, 60) == 6
    assert counts[0, 4] == flip_count(0.1, 90) == 9
    assert result.num_flipped == 30
    assert result.kind == "pair"


def test_pair_flips_order_of_mapping_does_not_matter(y):
    a = pair_flips(y, {(1, 3): 0.25, (1, 2): 0.1, (0, 4): 0.3}, random_state=4)
    b = pair_flips(y, {(0, 4): 0.3, (1, 2): 0.1, (1, 3): 0.25}, random_state=4)
    c = pair_flips(y, {(0, 4): 0.3, (1, 2): 0.1, (1, 3): 0.25}, random_state=5)
    np.testing.assert_array_equal(a.labels, b.labels)
    assert not np.array_equal(a.labels, c.labels)


def test_pair_flips_to_unseen_class(y):
    result = pair_flips(y, {(0, 9): 1.0})
    assert np.all(result.labels[y == 0] == 9)


def test_cyclic_pairs():
    assert cyclic_pairs(3, 0.2) == {(0, 1): 0.2, (1, 2): 0.2, (2, 0): 0.2}


@pytest.mark.parametrize(
    ("pairs", "message"),
    [
        ({}, "non-empty mapping"),
        ([((0, 1), 0.2)], "non-empty mapping"),
        ({(1, 1): 0.2}, "flips a class to itself"),
        ({(0, 1, 2): 0.2}, r"\(true, given\) pairs"),
        ({(-1, 1): 0.2}, r"\(true, given\) pairs"),
        ({("a", "b"): 0.2}, r"\(true, given\) pairs"),
        ({(0, 1): 1.2}, r"rate of pair \(0, 1\) must be in \[0, 1\]"),
        ({(0, 1): "lots"}, r"rate of pair \(0, 1\) must be a number"),
        ({(0, 1): 0.6, (0, 2): 0.6}, "add up to more than 1"),
    ],
)
def test_pair_flips_validation(y, pairs, message):
    with pytest.raises(ValueError, match=message):
        pair_flips(y, pairs)


# --------------------------------------------------------------------------- adversarial


def test_adversarial_flips_most_confident_rows(y, probs):
    result = adversarial_flips(y, probs, 0.1)
    assert_consistent(result, y)
    m = flip_count(0.1, y.size)
    assert result.num_flipped == m
    confidence = probs[np.arange(y.size), y]
    assert confidence[result.is_flipped].min() >= confidence[~result.is_flipped].max()
    others = probs.copy()
    others[np.arange(y.size), y] = -1
    np.testing.assert_array_equal(
        result.labels[result.is_flipped], others.argmax(axis=1)[result.is_flipped]
    )
    assert result.kind == "adversarial"


def test_adversarial_accepts_logits(y, probs):
    from_probs = adversarial_flips(y, probs, 0.2)
    from_logits = adversarial_flips(y, np.log(probs) + 3.0, 0.2)
    np.testing.assert_array_equal(from_probs.labels, from_logits.labels)


def test_adversarial_ties_broken_by_seed():
    y = np.zeros(100, dtype=int)
    probs = np.tile([0.9, 0.1], (100, 1))
    a = adversarial_flips(y, probs, 0.1, random_state=0)
    b = adversarial_flips(y, probs, 0.1, random_state=0)
    c = adversarial_flips(y, probs, 0.1, random_state=1)
    np.testing.assert_array_equal(a.is_flipped, b.is_flipped)
    assert not np.array_equal(a.is_flipped, c.is_flipped)
    assert a.num_flipped == 10


def test_adversarial_exclude(y, probs):
    exclude = y == 4
    result = adversarial_flips(y, probs, 0.5, exclude=exclude)
    assert not result.is_flipped[exclude].any()
    assert result.num_flipped == flip_count(0.5, int((~exclude).sum()))


@pytest.mark.parametrize(
    ("scores", "message"),
    [
        (np.ones(350), r"shape \(N, K\) = \(350, K >= 2\)"),
        (np.ones((349, 5)), r"got shape \(349, 5\)"),
        (np.ones((350, 1)), r"got shape \(350, 1\)"),
        (np.full((350, 3), 1 / 3), "has 3 columns but rows"),
    ],
)
def test_adversarial_validation(y, scores, message):
    with pytest.raises(ValueError, match=message):
        adversarial_flips(y, scores, 0.1)


def test_adversarial_nan(y, probs):
    probs = probs.copy()
    probs[7, 2] = np.nan
    with pytest.raises(ValueError, match="finite; row 7"):
        adversarial_flips(y, probs, 0.1)


# --------------------------------------------------------------------------- combining


def test_combine_pairs_then_uniform(y):
    pairs = pair_flips(y, {(1, 3): 0.25}, random_state=0)
    rest = uniform_noise(y, 0.1, exclude=pairs.is_flipped, random_state=1)
    both = combine(pairs, rest)
    assert_consistent(both, y)
    assert both.kind == "pair+uniform"
    assert both.num_flipped == pairs.num_flipped + rest.num_flipped
    assert rest.num_flipped == flip_count(0.1, y.size - pairs.num_flipped)
    np.testing.assert_array_equal(both.labels[pairs.is_flipped], pairs.labels[pairs.is_flipped])


def test_combine_rejects_overlap_and_other_truth(y):
    a = uniform_noise(y, 0.5, random_state=0)
    b = uniform_noise(y, 0.5, random_state=1)
    with pytest.raises(ValueError, match="flip the same rows"):
        combine(a, b)
    other = uniform_noise(np.roll(y, 1), 0.1)
    with pytest.raises(ValueError, match="same true labels"):
        combine(a, other)
    with pytest.raises(ValueError, match="at least one"):
        combine()


# --------------------------------------------------------------------------- inject


@pytest.mark.parametrize(
    ("kind", "params", "expected"),
    [
        ("random", {"rate": 0.1}, 35),
        ("uniform", {"rate": 0.1}, 35),
        ("systematic", {"pairs": {(0, 1): 0.2}}, 10),
        ("pair", {"pairs": {(0, 1): 0.2}}, 10),
        ("flip", {"pairs": {(0, 1): 0.2}}, 10),
        ("flip", {"rate": 0.1}, 5 + 6 + 7 + 8 + 9),
        ("systematic", {"rate": 0.1}, 35),
        ("class_conditional", {"rate": 0.2}, None),
        ("Class-Conditional", {"trace": 4.0, "sparsity": 0.5}, None),
        ("class_conditional", {"noise_matrix": np.eye(5)}, 0),
    ],
)
def test_inject_names(y, kind, params, expected):
    result = inject(y, kind, **params)
    assert_consistent(result, y)
    assert result.kind == kind.lower().replace("-", "_")
    if expected is not None:
        assert result.num_flipped == expected
    else:
        assert 0 < result.num_flipped < y.size


def test_inject_adversarial_aliases(y, probs):
    a = inject(y, "adversarial", rate=0.1, pred_probs=probs)
    b = inject(y, "adversarial", rate=0.1, scores=probs)
    c = adversarial_flips(y, probs, 0.1)
    np.testing.assert_array_equal(a.labels, c.labels)
    np.testing.assert_array_equal(b.labels, c.labels)


def test_inject_class_conditional_rate_means_trace(y):
    by_rate = inject(y, "class_conditional", rate=0.2, random_state=3)
    nm = generate_noise_matrix(5, trace=4.0, random_state=3)
    np.testing.assert_array_equal(by_rate.labels, noise_from_matrix(y, nm, random_state=3).labels)


def test_inject_passes_seed_and_exclude(y):
    exclude = y == 2
    a = inject(y, "random", rate=0.3, random_state=5, exclude=exclude)
    b = uniform_noise(y, 0.3, random_state=5, exclude=exclude)
    np.testing.assert_array_equal(a.labels, b.labels)


def test_inject_kinds_constant():
    assert {"random", "systematic", "adversarial", "flip"} <= set(noise.KINDS)


@pytest.mark.parametrize(
    ("kind", "params", "message"),
    [
        ("gaussian", {"rate": 0.1}, "unknown noise kind 'gaussian'; valid kinds: random"),
        (3, {}, "kind must be a string"),
        ("random", {}, "needs rate="),
        ("random", {"rate": 0.1, "pairs": {}}, "does not take pairs; it takes rate"),
        ("flip", {}, "either pairs="),
        ("flip", {"rate": 0.1, "pairs": {(0, 1): 0.1}}, "not both"),
        ("class_conditional", {}, "exactly one of noise_matrix="),
        ("class_conditional", {"rate": 0.1, "trace": 4.0}, "exactly one of"),
        ("adversarial", {"rate": 0.1}, "needs one of pred_probs_or_scores="),
    ],
)
def test_inject_errors(y, kind, params, message):
    with pytest.raises(ValueError, match=message):
        inject(y, kind, **params)


# --------------------------------------------------------------------------- bad inputs


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (np.array(["a", "b"]), "encode class names first"),
        (np.zeros((2, 2), dtype=int), "must be 1-D"),
        (np.array([], dtype=int), "empty"),
        (np.array([0, -1, 2]), "row 1 hold -1"),
        (np.array([0.0, 1.5]), "row 1 hold"),
    ],
)
def test_bad_labels(labels, message):
    with pytest.raises(ValueError, match=message):
        uniform_noise(labels, 0.1, num_classes=3)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rate": -0.1}, r"rate must be in \[0, 1\], got -0.1"),
        ({"rate": 1.5}, r"rate must be in \[0, 1\]"),
        ({"rate": None}, "rate must be a number"),
        ({"rate": 0.1, "num_classes": 1}, "num_classes=1 but the labels hold class 4"),
        ({"rate": 0.1, "num_classes": "5"}, "num_classes must be an integer"),
        ({"rate": 0.1, "random_state": 1.5}, "random_state must be an int"),
        ({"rate": 0.1, "exclude": np.zeros(3, dtype=bool)}, r"shape \(350,\)"),
        ({"rate": 0.1, "exclude": np.zeros(350)}, "boolean mask"),
    ],
)
def test_bad_parameters(y, kwargs, message):
    with pytest.raises(ValueError, match=message):
        uniform_noise(y, **kwargs)


def test_single_class_uniform_noise_needs_num_classes():
    with pytest.raises(ValueError, match="at least 2 classes"):
        uniform_noise(np.zeros(5, dtype=int), 0.2)


def test_noisy_labels_checks_consistency_and_is_frozen():
    with pytest.raises(ValueError, match="is_flipped must equal labels != true_labels"):
        NoisyLabels(np.array([0, 1]), np.array([0, 0]), np.array([False, False]), "x")
    with pytest.raises(ValueError, match="same length"):
        NoisyLabels(np.array([0, 1]), np.array([0]), np.array([False]), "x")
    result = NoisyLabels(np.array([0, 1]), np.array([0, 0]), np.array([False, True]), "x")
    assert result.noise_rate == 0.5
    np.testing.assert_array_equal(result.joint_counts(), [[1, 0], [1, 0]])  # [given, true]
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.kind = "y"
