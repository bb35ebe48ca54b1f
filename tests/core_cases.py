"""Seeded datasets (labels, pred_probs) for the confident-learning comparisons.

Shared by ``test_core_reference.py`` and ``test_core_cleanlab.py``: random noisy datasets of
several shapes plus the edge cases where confident learning has special rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Case:
    id: str
    labels: np.ndarray
    pred_probs: np.ndarray
    options: dict = field(default_factory=dict)  # extra find_label_issues keywords to try

    @property
    def k(self) -> int:
        return self.pred_probs.shape[1]


def _normalise(probs: np.ndarray, dtype) -> np.ndarray:
    probs = np.asarray(probs, dtype=dtype)
    return probs / probs.sum(axis=1, keepdims=True)


def noisy_dataset(
    seed: int,
    n: int,
    k: int,
    *,
    dtype=np.float64,
    noise: float = 0.25,
    sharpness: float = 2.5,
    quantum: int | None = None,
    balanced: bool = False,
):
    """Labels and out-of-fold-like probabilities with injected label noise.

    True labels from an uneven class prior; given labels flipped with probability ``noise``
    (half of the flips go to a fixed "confusable" partner class, half anywhere); probabilities
    peaked at the true class (and somewhat at the given one). With ``quantum`` the
    probabilities are multiples of ``1 / quantum``, which makes exact ties common.
    """
    rng = np.random.default_rng(seed)
    prior = np.full(k, 1.0 / k) if balanced else rng.dirichlet(np.full(k, 3.0))
    true = rng.choice(k, size=n, p=prior)
    partner = rng.permutation(k)
    given = true.copy()
    flip = rng.random(n) < noise
    systematic = rng.random(n) < 0.5
    random_other = (true + rng.integers(1, k, size=n)) % k
    given[flip & systematic] = partner[true[flip & systematic]]
    given[flip & ~systematic] = random_other[flip & ~systematic]
    logits = rng.normal(0.0, 1.0, size=(n, k))
    logits[np.arange(n), true] += sharpness * rng.random(n) * 2
    logits[np.arange(n), given] += 0.7 * rng.random(n)
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    if quantum is not None:
        return given, quantise(probs, quantum, rng).astype(dtype)
    return given, _normalise(probs, dtype)


def quantise(probs: np.ndarray, quantum: int, rng) -> np.ndarray:
    """Rows of multiples of 1/quantum summing to exactly ``quantum`` quanta."""
    out = np.empty_like(probs)
    for i, row in enumerate(probs):
        out[i] = rng.multinomial(quantum, row) / quantum
    return out


def _ensure_two_given_classes(labels: np.ndarray, k: int) -> np.ndarray:
    if np.unique(labels).size < 2:
        labels = labels.copy()
        labels[0] = (labels[0] + 1) % k
    return labels


def random_cases() -> list[Case]:
    cases = []
    shapes = [
        # (n, k, quantum, dtype)
        (200, 3, None, np.float64),
        (300, 5, None, np.float64),
        (250, 4, None, np.float32),
        (400, 10, None, np.float64),
        (300, 12, None, np.float32),
        (120, 2, None, np.float64),
        (150, 2, None, np.float32),
        (200, 4, 20, np.float64),
        (200, 6, 20, np.float32),
        (80, 3, 10, np.float64),
    ]
    for seed in range(2):
        for n, k, quantum, dtype in shapes:
            labels, probs = noisy_dataset(
                1000 * seed + 17 * n + k,
                n,
                k,
                dtype=dtype,
                quantum=quantum,
                noise=(0.15, 0.4)[seed],
            )
            labels = _ensure_two_given_classes(labels, k)
            name = f"s{seed}-n{n}-k{k}-{np.dtype(dtype).name}" + (f"-q{quantum}" if quantum else "")
            cases.append(Case(name, labels, probs))
    return cases


def edge_cases() -> list[Case]:
    cases = []
    # two classes, small and exactly quantised
    labels, probs = noisy_dataset(1, 40, 2, quantum=20)
    cases.append(Case("k2-q20", _ensure_two_given_classes(labels, 2), probs))
    labels, probs = noisy_dataset(2, 60, 2, dtype=np.float32, quantum=20)
    cases.append(Case("k2-q20-f32", _ensure_two_given_classes(labels, 2), probs))

    # a class given to exactly one row
    for dtype in (np.float64, np.float32):
        labels, probs = noisy_dataset(3, 120, 4, dtype=dtype)
        labels = np.where(labels == 3, 2, labels)
        labels[7] = 3
        cases.append(Case(f"one-row-class-{np.dtype(dtype).name}", labels, probs))

    # a class given to no row (its probabilities still carry mass)
    for dtype in (np.float64, np.float32):
        labels, probs = noisy_dataset(4, 150, 5, dtype=dtype)
        labels = np.where(labels == 2, 0, labels)
        cases.append(Case(f"absent-class-{np.dtype(dtype).name}", labels, probs))

    # a class never predicted: tiny probability everywhere, still given to some rows
    labels, probs = noisy_dataset(5, 150, 4)
    probs = probs.copy()
    probs[:, 1] = 1e-3 * probs[:, 1]
    cases.append(Case("never-predicted", labels, _normalise(probs, np.float64)))

    # heavy exact ties: probabilities quantised to multiples of 0.05, many identical rows
    rng = np.random.default_rng(6)
    templates = np.array(
        [
            [0.5, 0.25, 0.25],
            [0.25, 0.5, 0.25],
            [0.4, 0.4, 0.2],
            [1 / 3, 1 / 3, 1 / 3],
            [0.35, 0.35, 0.3],
            [0.05, 0.9, 0.05],
            [0.9, 0.05, 0.05],
            [0.2, 0.2, 0.6],
        ]
    )
    rows = rng.integers(0, len(templates), size=150)
    probs = np.round(templates[rows] * 20) / 20
    probs[:, 2] = 1 - probs[:, 0] - probs[:, 1]
    labels = rng.integers(0, 3, size=150)
    cases.append(Case("ties-q20", labels, probs))
    cases.append(Case("ties-q20-f32", labels, probs.astype(np.float32)))

    # fewer rows than classes
    rng = np.random.default_rng(7)
    probs = _normalise(rng.dirichlet(np.full(6, 0.5), size=4), np.float64)
    cases.append(Case("n-lt-k", np.array([0, 3, 3, 5]), probs))
    probs = _normalise(rng.dirichlet(np.full(9, 0.5), size=3), np.float32)
    cases.append(Case("n-lt-k-f32", np.array([8, 1, 8]), probs))

    # many classes: the pairwise summation of numpy (blocks of 128) in the entropy score
    for k, n, dtype in ((150, 60, np.float64), (300, 40, np.float32), (257, 30, np.float64)):
        labels, probs = noisy_dataset(8 + k, n, k, dtype=dtype, sharpness=4.0)
        cases.append(Case(f"k{k}-{np.dtype(dtype).name}", labels, probs))

    # options of the prune filters
    labels, probs = noisy_dataset(9, 300, 5, noise=0.35, balanced=True)
    cases.append(Case("frac-noise", labels, probs, {"frac_noise": 0.5}))
    cases.append(Case("frac-noise-0.3", labels, probs, {"frac_noise": 0.3}))
    labels, probs = noisy_dataset(10, 300, 9, noise=0.35, dtype=np.float32)
    cases.append(Case("frac-noise-k9-f32", labels, probs, {"frac_noise": 0.7}))
    labels, probs = noisy_dataset(11, 200, 5, noise=0.3)
    labels[:3] = 4  # class 4 small
    labels = np.where((labels == 4) & (np.arange(200) >= 3), 0, labels)
    cases.append(Case("min-examples-3", labels, probs, {"min_examples_per_class": 3}))
    cases.append(Case("min-examples-10", labels, probs, {"min_examples_per_class": 10}))
    labels, probs = noisy_dataset(12, 250, 4, noise=0.4, balanced=True)
    cases.append(Case("num-to-remove", labels, probs, {"num_to_remove_per_class": [5, 0, 3, 7]}))
    labels, probs = noisy_dataset(13, 250, 3, noise=0.4, dtype=np.float32, balanced=True)
    cases.append(Case("num-to-remove-f32", labels, probs, {"num_to_remove_per_class": [2, 9, 4]}))

    # num_to_remove_per_class where some true class has no estimated noise (0/0 in the
    # rescaling of the reference implementation); fixed probabilities: ties everywhere
    true = np.repeat([0, 1, 2], 40)
    probs = np.full((120, 3), 0.05)
    probs[np.arange(120), true] = 0.9
    labels = true.copy()
    labels[:5] = 1
    labels[40:42] = 2
    for name, remove in (("num-to-remove-clean", [0, 3, 0]), ("num-to-remove-clean-2", [4, 3, 1])):
        cases.append(Case(name, labels, probs, {"num_to_remove_per_class": remove}))
    for dtype in (np.float64, np.float32):
        labels, probs = at_threshold_case(dtype)
        cases.append(Case(f"at-threshold-{np.dtype(dtype).name}", labels, probs))
    return cases


def at_threshold_case(dtype=np.float64) -> tuple[np.ndarray, np.ndarray]:
    """Rows whose probability of a class sits within 1e-6 below that class's threshold.

    The rows given class 0 have self-confidences 0.9, 0.8 and 0.7: the threshold of class 0
    is their mean, 0.8000000000000002 in float64 (one ulp above 0.8); in float32 0.85, 0.65
    and 0.45 do the same (the mean lands a hair above 0.65). Confident learning compares
    ``p >= t - 1e-6`` (cleanlab's ``compute_confident_joint``), so the row at the middle value
    given class 0 counts on the diagonal, and the rows given 1 or 2 with that value on class 0
    count as "really 0"; compared with ``p >= t`` they would count nowhere (or elsewhere).
    """
    high, mid, low = (0.9, 0.8, 0.7) if np.dtype(dtype) == np.float64 else (0.85, 0.65, 0.45)

    def row(p0: float, other: int) -> list[float]:
        rest = [0.0, 0.0, 0.0]
        rest[0] = p0
        rest[other] = (1 - p0) * 0.75
        rest[3 - other] = (1 - p0) * 0.25
        return rest

    rows = [
        (0, row(high, 1)), (0, row(mid, 1)), (0, row(low, 2)),
        # given 1 / 2, class 0 exactly at the middle value: "really 0" only with the - EPS
        (1, row(mid, 1)), (2, row(mid, 2)), (1, row(mid, 2)),
        (1, [0.05, 0.9, 0.05]), (1, [0.1, 0.8, 0.1]), (1, [0.15, 0.7, 0.15]),
        (2, [0.05, 0.05, 0.9]), (2, [0.1, 0.1, 0.8]), (2, [0.1, 0.2, 0.7]),
    ]
    labels = np.array([r[0] for r in rows], dtype=np.int64)
    probs = np.array([r[1] for r in rows], dtype=np.float64).astype(dtype)
    return labels, probs


ALL_CASES = random_cases() + edge_cases()
PRUNE_FILTERS = ("prune_by_noise_rate", "prune_by_class", "both")
