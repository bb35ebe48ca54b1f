"""Data of the findings (#17) shared by the tests and ``benchmarks/findings_report.py``: a
generated data set for the report at K classes, and simulated reviews with known truth."""

from __future__ import annotations

import numpy as np
from scipy.special import expit, logit

import analysis as nl


def report_case(k: int, n_per: int = 40, seed: int = 0):
    """``n_per`` rows per class with confident probabilities; 10% of the labels flipped to
    the next class (class c is confused with c + 1). Returns (dataset, analysis)."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(k), n_per)
    logits = rng.normal(0, 1, (y.size, k))
    logits[np.arange(y.size), y] += 4
    probs = np.exp(logits)
    probs /= probs.sum(1, keepdims=True)
    given = y.copy()
    flip = rng.random(y.size) < 0.1
    given[flip] = (y[flip] + 1) % k
    X = rng.normal(size=(y.size, 2))
    names = np.array([f"class {i}" for i in range(k)], dtype=object)
    ds = nl.from_arrays(X, names[given], pred_probs=probs, class_names=list(names))
    return ds, nl.analyze(ds)


def review_world(seed: int, n: int = 2000):
    """Known truth: a label is wrong with probability expit(a0 + logit(m)), the model's m
    rescaled by an unknown factor (the estimator's stated model); reviews in rank order.
    Returns (m, flagged, reviewed, truth)."""
    rng = np.random.default_rng(seed)
    m = np.where(rng.random(n) < 0.12, rng.beta(5, 2, n), rng.beta(1, 25, n))
    a0 = rng.uniform(-1, 1)
    truth = rng.random(n) < expit(a0 + logit(np.clip(m, 1e-4, 1 - 1e-4)))
    flagged = m > 0.5
    order = np.flatnonzero(flagged)
    order = order[np.argsort(-m[order])]
    reviewed = np.zeros(n, dtype=bool)
    reviewed[order[: int(rng.uniform(0.2, 0.8) * order.size)]] = True
    return m, flagged, reviewed, truth
