"""Label-noise simulation with known truth: flip labels on purpose, remember which.

Every function takes the *true* labels (integers 0..K-1) and returns a :class:`NoisyLabels`
holding the noisy labels, the truth and the mask of flipped rows. Counts are exact, not
expected: a rate ``r`` over ``n`` eligible rows flips ``flip_count(r, n)`` rows (the nearest
integer, halves rounded up), and every flipped row really changes class. The same inputs and
``random_state`` give the same flips.

Kinds of noise
--------------
``uniform_noise``
    Rows chosen uniformly, each relabelled to another class chosen uniformly.
``noise_from_matrix``
    Class-conditional noise from ``noise_matrix[i, j] = P(given = i | true = j)`` (columns
    sum to 1, docs/architecture.md, Conventions); :func:`generate_noise_matrix` makes one
    from a target trace and sparsity.
``pair_flips``
    Systematic confusions: rows truly ``a`` labelled ``b`` at a rate.
``adversarial_flips``
    The rows a model is most sure about, flipped to the model's next choice.

Combining noises
----------------
Each function takes ``exclude``, a mask of rows it must not touch (rates then count the
eligible rows only). Build each part from the same true labels, excluding the rows already
flipped, and merge with :func:`combine`::

    pairs = pair_flips(y, {(1, 7): 0.2, (4, 9): 0.2}, random_state=0)
    rest = uniform_noise(y, 0.03, exclude=pairs.is_flipped, random_state=1)
    noisy = combine(pairs, rest)        # kind "pair+uniform"
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from analysis.core._validation import check_labels, describe_rows

#: Tolerance on the column sums of a noise matrix and on probability rows.
MATRIX_TOLERANCE = 1e-6
_PROB_TOLERANCE = 1e-3

RandomState = int | np.random.Generator | None


@dataclass(frozen=True, eq=False)
class NoisyLabels:
    """Noisy labels together with the truth they were made from.

    Attributes
    ----------
    labels : ndarray of shape (N,), int64
        The noisy (given) labels.
    true_labels : ndarray of shape (N,), int64
        The labels before noise.
    is_flipped : ndarray of shape (N,), bool
        ``labels != true_labels``.
    kind : str
        The noise that made them, e.g. ``"uniform"`` or ``"pair+uniform"``.
    """

    labels: np.ndarray
    true_labels: np.ndarray
    is_flipped: np.ndarray
    kind: str

    def __post_init__(self) -> None:
        labels = np.asarray(self.labels, dtype=np.int64)
        truth = np.asarray(self.true_labels, dtype=np.int64)
        flipped = np.asarray(self.is_flipped, dtype=bool)
        if not labels.ndim == truth.ndim == flipped.ndim == 1:
            raise ValueError("labels, true_labels and is_flipped must be 1-D arrays.")
        if not labels.size == truth.size == flipped.size:
            raise ValueError(
                f"labels ({labels.size}), true_labels ({truth.size}) and is_flipped "
                f"({flipped.size}) must have the same length."
            )
        bad = np.flatnonzero(flipped != (labels != truth))
        if bad.size:
            raise ValueError(
                f"is_flipped must equal labels != true_labels; it does not at {describe_rows(bad)}."
            )
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "true_labels", truth)
        object.__setattr__(self, "is_flipped", flipped)

    @property
    def num_flipped(self) -> int:
        """Number of rows whose label was changed."""
        return int(np.count_nonzero(self.is_flipped))

    @property
    def noise_rate(self) -> float:
        """Share of rows whose label was changed."""
        return self.num_flipped / self.labels.size

    def joint_counts(self, num_classes: int | None = None) -> np.ndarray:
        """Counts of (given, true) label pairs.

        Parameters
        ----------
        num_classes : int, optional
            K; by default one more than the largest label.

        Returns
        -------
        ndarray of shape (K, K), int64
            ``counts[i, j]`` = rows given ``i`` whose true label is ``j`` (the orientation of
            the confident joint).
        """
        k = _num_classes(num_classes, self.labels, self.true_labels)
        flat = self.labels * k + self.true_labels
        return np.bincount(flat, minlength=k * k).reshape(k, k)

    def noise_matrix(self, num_classes: int | None = None) -> np.ndarray:
        """The realised ``P(given = i | true = j)``, shape (K, K); a class with no rows gets a
        column of the identity."""
        counts = self.joint_counts(num_classes).astype(np.float64)
        totals = counts.sum(axis=0)
        out = np.eye(counts.shape[0])
        present = totals > 0
        out[:, present] = counts[:, present] / totals[present]
        return out


# --------------------------------------------------------------------------- helpers


def flip_count(rate: float, n: int) -> int:
    """Rows to flip for ``rate`` over ``n`` rows: ``rate * n`` to the nearest integer, halves
    rounded up (``flip_count(0.25, 2) == 1``)."""
    return int(math.floor(rate * n + 0.5))


def _rng(random_state: RandomState) -> np.random.Generator:
    if isinstance(random_state, np.random.Generator):
        return random_state
    if random_state is not None and (
        isinstance(random_state, bool) or not isinstance(random_state, int | np.integer)
    ):
        raise ValueError(
            f"random_state must be an int, a numpy Generator or None, got {random_state!r}."
        )
    return np.random.default_rng(random_state)


def _check_rate(rate, name: str = "rate") -> float:
    try:
        value = float(rate)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number in [0, 1], got {rate!r}.") from None
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {rate!r}.")
    return value


def _check_true_labels(labels) -> np.ndarray:
    y = check_labels(labels)
    bad = np.flatnonzero(y < 0)
    if bad.size:
        raise ValueError(
            f"labels must be class indices 0..K-1; {describe_rows(bad)} hold {y[bad[0]]}."
        )
    return y


def _num_classes(num_classes, *label_arrays: np.ndarray) -> int:
    seen = max(int(a.max()) for a in label_arrays) + 1
    if num_classes is None:
        return seen
    if isinstance(num_classes, bool) or not isinstance(num_classes, int | np.integer):
        raise ValueError(f"num_classes must be an integer, got {num_classes!r}.")
    if num_classes < seen:
        raise ValueError(
            f"num_classes={num_classes} but the labels hold class {seen - 1}: labels must be "
            f"0..num_classes-1."
        )
    return int(num_classes)


def _eligible(exclude, n: int) -> np.ndarray:
    """Mask of rows that may be flipped."""
    if exclude is None:
        return np.ones(n, dtype=bool)
    mask = np.asarray(exclude)
    if mask.dtype != bool or mask.shape != (n,):
        raise ValueError(
            f"exclude must be a boolean mask of shape ({n},) (one entry per label), got "
            f"dtype {mask.dtype} and shape {mask.shape}."
        )
    return ~mask


def _result(y: np.ndarray, noisy: np.ndarray, kind: str) -> NoisyLabels:
    return NoisyLabels(labels=noisy, true_labels=y.copy(), is_flipped=noisy != y, kind=kind)


def largest_remainder(total: int, weights: np.ndarray) -> np.ndarray:
    """Split ``total`` into integers proportional to ``weights`` (Hamilton's method).

    Each part gets the floor of its quota, then the parts with the largest remainders get one
    more until the parts sum to ``total``; equal remainders go to the earlier part.

    Parameters
    ----------
    total : int
        Non-negative integer to split.
    weights : ndarray of shape (M,)
        Non-negative weights, not all zero when ``total > 0``.

    Returns
    -------
    ndarray of shape (M,), int64
        Parts summing to ``total``; a zero weight gets zero.
    """
    weights = np.asarray(weights, dtype=np.float64)
    if total == 0:
        return np.zeros(weights.size, dtype=np.int64)
    quotas = total * weights / weights.sum()
    parts = np.floor(quotas).astype(np.int64)
    short = total - int(parts.sum())
    order = np.argsort(-(quotas - parts), kind="stable")
    parts[order[:short]] += 1
    return parts


# --------------------------------------------------------------------------- noise kinds


def uniform_noise(
    labels,
    rate: float,
    *,
    num_classes: int | None = None,
    random_state: RandomState = 0,
    exclude=None,
) -> NoisyLabels:
    """Flip a fixed share of rows, each to a different class chosen uniformly.

    Parameters
    ----------
    labels : array-like of shape (N,)
        True labels, integers 0..K-1.
    rate : float
        Share of the eligible rows to flip, in [0, 1]; exactly ``flip_count(rate, n)`` rows
        are flipped, ``n`` the number of eligible rows.
    num_classes : int, optional
        K; by default one more than the largest label. Needs K >= 2.
    random_state : int, numpy Generator or None
        Seed of the choice of rows and of their new classes.
    exclude : ndarray of shape (N,), bool, optional
        Rows that must not be flipped.

    Returns
    -------
    NoisyLabels
        ``kind="uniform"``.
    """
    y = _check_true_labels(labels)
    rate = _check_rate(rate)
    k = _num_classes(num_classes, y)
    if k < 2:
        raise ValueError("uniform noise needs at least 2 classes (set num_classes).")
    rng = _rng(random_state)
    rows = np.flatnonzero(_eligible(exclude, y.size))
    chosen = rng.permutation(rows)[: flip_count(rate, rows.size)]
    noisy = y.copy()
    # adding 1..K-1 modulo K lands on each other class with equal probability
    noisy[chosen] = (y[chosen] + rng.integers(1, k, size=chosen.size)) % k
    return _result(y, noisy, "uniform")


def check_noise_matrix(noise_matrix) -> np.ndarray:
    """Return ``noise_matrix`` as a float64 (K, K) array, or raise ``ValueError``.

    A noise matrix has ``noise_matrix[i, j] = P(given = i | true = j)``: entries in [0, 1],
    every column summing to 1 (within ``MATRIX_TOLERANCE``), K >= 2.
    """
    nm = np.asarray(noise_matrix, dtype=np.float64)
    if nm.ndim != 2 or nm.shape[0] != nm.shape[1] or nm.shape[0] < 2:
        raise ValueError(
            f"noise_matrix must be a square (K, K) array with K >= 2, got shape {nm.shape}."
        )
    if not np.all(np.isfinite(nm)):
        raise ValueError("noise_matrix must be finite; it holds NaN or infinity.")
    if nm.min() < 0 or nm.max() > 1:
        raise ValueError(
            f"noise_matrix entries are probabilities in [0, 1]; found {nm.min():.6g} .. "
            f"{nm.max():.6g}."
        )
    sums = nm.sum(axis=0)
    bad = np.flatnonzero(np.abs(sums - 1) > MATRIX_TOLERANCE)
    if bad.size:
        raise ValueError(
            "noise_matrix[i, j] = P(given = i | true = j): every column must sum to 1, but "
            f"column {bad[0]} sums to {sums[bad[0]]:.6g} (columns {bad.tolist()} do not). "
            "Did you pass the transpose?"
        )
    return nm


def noise_from_matrix(
    labels,
    noise_matrix,
    *,
    random_state: RandomState = 0,
    exclude=None,
) -> NoisyLabels:
    """Class-conditional noise: flip each true class as its column of the noise matrix says.

    For every true class ``j`` with ``n_j`` eligible rows, exactly
    ``flip_count(1 - noise_matrix[j, j], n_j)`` of them are flipped, spread over the other
    classes ``i`` in proportion to ``noise_matrix[i, j]`` (largest-remainder rounding, see
    :func:`largest_remainder`). The realised counts therefore match the matrix as closely as
    integers can.

    Parameters
    ----------
    labels : array-like of shape (N,)
        True labels, integers 0..K-1.
    noise_matrix : array-like of shape (K, K)
        ``noise_matrix[i, j] = P(given = i | true = j)``; columns sum to 1.
    random_state : int, numpy Generator or None
        Seed of the choice of rows.
    exclude : ndarray of shape (N,), bool, optional
        Rows that must not be flipped.

    Returns
    -------
    NoisyLabels
        ``kind="class_conditional"``.
    """
    y = _check_true_labels(labels)
    nm = check_noise_matrix(noise_matrix)
    k = nm.shape[0]
    bad = np.flatnonzero(y >= k)
    if bad.size:
        raise ValueError(
            f"noise_matrix is {k}x{k} but {describe_rows(bad)} hold class {y[bad[0]]}: labels "
            f"must be 0..{k - 1}."
        )
    rng = _rng(random_state)
    eligible = _eligible(exclude, y.size)
    noisy = y.copy()
    for j in range(k):
        rows = np.flatnonzero(eligible & (y == j))
        weights = nm[:, j].copy()
        weights[j] = 0.0
        if weights.sum() == 0:
            continue
        parts = largest_remainder(flip_count(1.0 - nm[j, j], rows.size), weights)
        chosen = rng.permutation(rows)[: parts.sum()]
        noisy[chosen] = np.repeat(np.arange(k), parts)
    return _result(y, noisy, "class_conditional")


def _diagonal(k: int, trace: float, rng: np.random.Generator) -> np.ndarray:
    """Random diagonal in [1/K, 1] summing to ``trace``."""
    cap = 1.0 - 1.0 / k  # the most noise one class may carry
    noise = (k - trace) * rng.dirichlet(np.full(k, 5.0))
    over = noise > cap
    if over.any():
        excess = float((noise[over] - cap).sum())
        noise[over] = cap
        room = np.where(over, 0.0, cap - noise)
        # room.sum() >= excess because the total noise k - trace <= k * cap
        noise += excess * room / room.sum()
    return 1.0 - noise


def _sparse_mask(k: int, sparsity: float, noisy: np.ndarray, rng) -> np.ndarray:
    """Off-diagonal cells allowed to be non-zero: every noisy column keeps at least one."""
    allowed = ~np.eye(k, dtype=bool)
    keep = np.zeros((k, k), dtype=bool)
    for j in np.flatnonzero(noisy):
        keep[rng.choice(np.flatnonzero(allowed[:, j])), j] = True
    candidates = np.flatnonzero((allowed & ~keep).ravel())
    num_zero = min(flip_count(sparsity, k * (k - 1)), candidates.size)
    zeroed = rng.choice(candidates, size=num_zero, replace=False)
    allowed.ravel()[zeroed] = False
    return allowed


def generate_noise_matrix(
    num_classes: int,
    *,
    trace: float,
    sparsity: float = 0.0,
    random_state: RandomState = 0,
) -> np.ndarray:
    """A random valid noise matrix with a given trace and share of zero off-diagonal cells.

    Parameters
    ----------
    num_classes : int
        K >= 2.
    trace : float
        Sum of the diagonal, in (1, K]: the average P(given = true) is ``trace / K``. At or
        below 1 the given labels would be no better than chance on average.
    sparsity : float
        Share of the K(K-1) off-diagonal cells set to exactly zero, in [0, 1]: the higher, the
        more each class is confused with only a few others. Every class that carries noise
        keeps at least one non-zero off-diagonal cell, so ``sparsity=1`` means each class is
        confused with exactly one other (for K = 2 sparsity has no effect).
    random_state : int, numpy Generator or None
        Seed.

    Returns
    -------
    ndarray of shape (K, K), float64
        ``nm[i, j] = P(given = i | true = j)``: columns sum to 1, ``np.trace(nm) == trace``
        (to rounding), every diagonal entry at least ``1 / K``.
    """
    if isinstance(num_classes, bool) or not isinstance(num_classes, int | np.integer):
        raise ValueError(f"num_classes must be an integer >= 2, got {num_classes!r}.")
    k = int(num_classes)
    if k < 2:
        raise ValueError(f"num_classes must be >= 2, got {k}.")
    trace = float(trace)
    if not 1.0 < trace <= k:
        raise ValueError(
            f"trace must be in (1, {k}] for {k} classes, got {trace:g}: it is the sum of the "
            "diagonal P(given = j | true = j), and at or below 1 the labels carry no signal."
        )
    sparsity = _check_rate(sparsity, "sparsity")
    rng = _rng(random_state)
    diag = _diagonal(k, trace, rng)
    noise = 1.0 - diag
    allowed = _sparse_mask(k, sparsity, noise > 0, rng)
    nm = np.zeros((k, k))
    for j in range(k):
        cells = np.flatnonzero(allowed[:, j])
        if noise[j] > 0:
            nm[cells, j] = noise[j] * rng.dirichlet(np.ones(cells.size))
        nm[j, j] = diag[j]
    return nm


def _check_pairs(pairs) -> list[tuple[int, int, float]]:
    if not isinstance(pairs, Mapping) or not pairs:
        raise ValueError(
            "pairs must be a non-empty mapping {(true, given): rate}, e.g. {(1, 7): 0.2}; "
            f"got {pairs!r}."
        )
    out = []
    for key, rate in pairs.items():
        ok = isinstance(key, tuple) and len(key) == 2
        ok = ok and all(isinstance(c, int | np.integer) and not isinstance(c, bool) for c in key)
        if not ok or min(key) < 0:
            raise ValueError(
                f"pairs keys must be (true, given) pairs of class indices >= 0, got {key!r}."
            )
        a, b = int(key[0]), int(key[1])
        if a == b:
            raise ValueError(f"pair ({a}, {b}) flips a class to itself.")
        out.append((a, b, _check_rate(rate, f"rate of pair ({a}, {b})")))
    return sorted(out)


def pair_flips(
    labels,
    pairs: Mapping[tuple[int, int], float],
    *,
    random_state: RandomState = 0,
    exclude=None,
) -> NoisyLabels:
    """Systematic confusions: rows truly ``a`` labelled ``b`` at a rate.

    Parameters
    ----------
    labels : array-like of shape (N,)
        True labels, integers 0..K-1.
    pairs : mapping {(a, b): rate}
        For each pair, exactly ``flip_count(rate, n_a)`` of the ``n_a`` eligible rows of true
        class ``a`` are labelled ``b``. Several pairs may share a source class; they get
        disjoint rows and their rates may not add up to more than 1. ``b`` need not occur in
        ``labels``.
    random_state : int, numpy Generator or None
        Seed of the choice of rows. The order of ``pairs`` does not matter.
    exclude : ndarray of shape (N,), bool, optional
        Rows that must not be flipped.

    Returns
    -------
    NoisyLabels
        ``kind="pair"``.
    """
    y = _check_true_labels(labels)
    checked = _check_pairs(pairs)
    rng = _rng(random_state)
    eligible = _eligible(exclude, y.size)
    noisy = y.copy()
    for a in sorted({a for a, _, _ in checked}):
        targets = [(b, rate) for src, b, rate in checked if src == a]
        rows = rng.permutation(np.flatnonzero(eligible & (y == a)))
        counts = [flip_count(rate, rows.size) for _, rate in targets]
        if sum(counts) > rows.size:
            raise ValueError(
                f"pairs from class {a} flip {sum(counts)} rows but only {rows.size} eligible "
                f"rows are truly {a}: their rates add up to more than 1."
            )
        noisy[rows[: sum(counts)]] = np.repeat([b for b, _ in targets], counts)
    return _result(y, noisy, "pair")


def cyclic_pairs(num_classes: int, rate: float) -> dict[tuple[int, int], float]:
    """The "pair-flip" noise of the noisy-label literature (Han et al., Co-teaching, 2018):
    every class ``c`` labelled ``(c + 1) % K`` at ``rate``, as a ``pairs`` mapping."""
    if isinstance(num_classes, bool) or not isinstance(num_classes, int | np.integer):
        raise ValueError(f"num_classes must be an integer >= 2, got {num_classes!r}.")
    if num_classes < 2:
        raise ValueError(f"num_classes must be >= 2, got {num_classes}.")
    rate = _check_rate(rate)
    return {(c, (c + 1) % num_classes): rate for c in range(num_classes)}


def _as_probabilities(scores: np.ndarray) -> np.ndarray:
    """Rows that already are probabilities are kept; other scores go through a softmax."""
    sums = scores.sum(axis=1)
    if scores.min() >= 0 and scores.max() <= 1 and np.all(np.abs(sums - 1) <= _PROB_TOLERANCE):
        return scores
    shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def adversarial_flips(
    labels,
    pred_probs_or_scores,
    rate: float,
    *,
    random_state: RandomState = 0,
    exclude=None,
) -> NoisyLabels:
    """Flip the rows a model is most sure are right to the model's next choice.

    The hardest noise to find: the flipped rows are those with the highest self-confidence
    ``p(true label)``, each relabelled to its most likely class other than the true one (for
    a correctly classified row, its second most likely class).

    Parameters
    ----------
    labels : array-like of shape (N,)
        True labels, integers 0..K-1.
    pred_probs_or_scores : array-like of shape (N, K)
        Predicted probabilities, or unnormalised scores (logits, ``decision_function``) that
        are turned into probabilities with a row-wise softmax.
    rate : float
        Share of the eligible rows to flip: exactly ``flip_count(rate, n)``.
    random_state : int, numpy Generator or None
        Breaks ties between equally confident rows.
    exclude : ndarray of shape (N,), bool, optional
        Rows that must not be flipped.

    Returns
    -------
    NoisyLabels
        ``kind="adversarial"``.
    """
    y = _check_true_labels(labels)
    rate = _check_rate(rate)
    scores = np.asarray(pred_probs_or_scores, dtype=np.float64)
    if scores.ndim != 2 or scores.shape[0] != y.size or scores.shape[1] < 2:
        raise ValueError(
            f"pred_probs_or_scores must have shape (N, K) = ({y.size}, K >= 2), one row per "
            f"label; got shape {scores.shape}."
        )
    k = scores.shape[1]
    if y.max() >= k:
        bad = np.flatnonzero(y >= k)
        raise ValueError(
            f"pred_probs_or_scores has {k} columns but {describe_rows(bad)} hold class {y[bad[0]]}."
        )
    bad = np.flatnonzero(~np.isfinite(scores).all(axis=1))
    if bad.size:
        raise ValueError(f"pred_probs_or_scores must be finite; {describe_rows(bad)} are not.")
    probs = _as_probabilities(scores)
    rng = _rng(random_state)
    rows = np.flatnonzero(_eligible(exclude, y.size))
    confidence = probs[rows, y[rows]]
    order = np.lexsort((rng.random(rows.size), -confidence))
    chosen = rows[order[: flip_count(rate, rows.size)]]
    others = probs[chosen].copy()
    others[np.arange(chosen.size), y[chosen]] = -np.inf
    noisy = y.copy()
    noisy[chosen] = np.argmax(others, axis=1)
    return _result(y, noisy, "adversarial")


def combine(*parts: NoisyLabels) -> NoisyLabels:
    """Merge noises made from the same true labels on disjoint rows (see ``exclude``).

    Returns
    -------
    NoisyLabels
        Each row carries the label of the part that flipped it; ``kind`` joins the parts'
        kinds with ``+``.
    """
    if not parts:
        raise ValueError("combine needs at least one NoisyLabels.")
    truth = parts[0].true_labels
    noisy = truth.copy()
    taken = np.zeros(truth.size, dtype=bool)
    for part in parts:
        if part.true_labels.shape != truth.shape or np.any(part.true_labels != truth):
            raise ValueError("combine needs parts made from the same true labels.")
        overlap = np.flatnonzero(taken & part.is_flipped)
        if overlap.size:
            raise ValueError(
                f"parts flip the same {describe_rows(overlap)}; pass the earlier parts' "
                "is_flipped as exclude= when making the later ones."
            )
        noisy[part.is_flipped] = part.labels[part.is_flipped]
        taken |= part.is_flipped
    return _result(truth, noisy, "+".join(p.kind for p in parts))


# --------------------------------------------------------------------------- dispatch


def _inject_uniform(labels, *, rate, num_classes=None, random_state=0, exclude=None):
    return uniform_noise(
        labels, rate, num_classes=num_classes, random_state=random_state, exclude=exclude
    )


def _inject_pairs(labels, *, pairs=None, rate=None, num_classes=None, random_state=0, exclude=None):
    if (pairs is None) == (rate is None):
        raise ValueError(
            "pair flips take either pairs={(a, b): rate, ...} or rate= (every class c "
            "flipped to (c + 1) % K at that rate), not both and not neither."
        )
    if pairs is None:
        y = _check_true_labels(labels)
        pairs = cyclic_pairs(_num_classes(num_classes, y), rate)
    return pair_flips(labels, pairs, random_state=random_state, exclude=exclude)


def _inject_matrix(
    labels,
    *,
    noise_matrix=None,
    trace=None,
    rate=None,
    sparsity=0.0,
    num_classes=None,
    random_state=0,
    exclude=None,
):
    given = [
        name
        for name, v in (("noise_matrix", noise_matrix), ("trace", trace), ("rate", rate))
        if v is not None
    ]
    if len(given) != 1:
        raise ValueError(
            "class-conditional noise takes exactly one of noise_matrix=, trace= (with "
            f"sparsity=) or rate= (trace = K * (1 - rate)); got {given or 'none'}."
        )
    if noise_matrix is None:
        k = _num_classes(num_classes, _check_true_labels(labels))
        trace = trace if trace is not None else k * (1.0 - _check_rate(rate))
        noise_matrix = generate_noise_matrix(
            k, trace=trace, sparsity=sparsity, random_state=random_state
        )
    return noise_from_matrix(labels, noise_matrix, random_state=random_state, exclude=exclude)


def _inject_adversarial(
    labels,
    *,
    rate,
    pred_probs_or_scores=None,
    pred_probs=None,
    scores=None,
    random_state=0,
    exclude=None,
):
    given = [v for v in (pred_probs_or_scores, pred_probs, scores) if v is not None]
    if len(given) != 1:
        raise ValueError(
            "adversarial noise needs one of pred_probs_or_scores=, pred_probs= or scores=: "
            "the (N, K) model outputs that say which rows are most confidently right."
        )
    return adversarial_flips(labels, given[0], rate, random_state=random_state, exclude=exclude)


_INJECTORS: dict[str, Callable[..., NoisyLabels]] = {
    "random": _inject_uniform,
    "uniform": _inject_uniform,
    "systematic": _inject_pairs,
    "pair": _inject_pairs,
    "flip": _inject_pairs,
    "class_conditional": _inject_matrix,
    "adversarial": _inject_adversarial,
}


def _required(fn, name: str) -> bool:
    return inspect.signature(fn).parameters[name].default is inspect.Parameter.empty


#: Names :func:`inject` understands.
KINDS = tuple(_INJECTORS)


def inject(labels, kind: str, **params) -> NoisyLabels:
    """Inject noise of a kind named by a string.

    Parameters
    ----------
    labels : array-like of shape (N,)
        True labels, integers 0..K-1.
    kind : str
        ``"random"`` / ``"uniform"``: :func:`uniform_noise` (``rate``, ``num_classes``).
        ``"systematic"`` / ``"pair"`` / ``"flip"``: :func:`pair_flips` with ``pairs``, or
        with ``rate`` alone every class ``c`` flipped to ``(c + 1) % K`` (:func:`cyclic_pairs`).
        ``"class_conditional"``: :func:`noise_from_matrix` with ``noise_matrix``, or a matrix
        from :func:`generate_noise_matrix` with ``trace`` (and ``sparsity``) or with ``rate``
        (trace ``K * (1 - rate)``). ``"adversarial"``: :func:`adversarial_flips` with ``rate``
        and ``pred_probs_or_scores`` (or ``pred_probs`` / ``scores``).
        Case, ``-`` and spaces are ignored.
    **params
        The chosen function's keyword arguments; all take ``random_state`` and ``exclude``.

    Returns
    -------
    NoisyLabels
        ``kind`` is the name asked for, normalised (e.g. ``"systematic"``).
    """
    if not isinstance(kind, str):
        raise ValueError(f"kind must be a string, one of {', '.join(KINDS)}; got {kind!r}.")
    name = kind.strip().lower().replace("-", "_").replace(" ", "_")
    if name not in _INJECTORS:
        raise ValueError(f"unknown noise kind {kind!r}; valid kinds: {', '.join(KINDS)}.")
    injector = _INJECTORS[name]
    accepted = [p for p in inspect.signature(injector).parameters if p != "labels"]
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise ValueError(
            f"noise kind {name!r} does not take {', '.join(unknown)}; it takes "
            f"{', '.join(accepted)}."
        )
    missing = [p for p in accepted if _required(injector, p) and p not in params]
    if missing:
        raise ValueError(f"noise kind {name!r} needs {', '.join(missing)}=.")
    result = injector(labels, **params)
    return NoisyLabels(result.labels, result.true_labels, result.is_flipped, name)
