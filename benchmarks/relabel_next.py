"""Which rows to label next (#29): our ActiveLab-like order against random and cleanlab.

A simulated relabelling loop on digits (1,797 rows, 10 classes) and wine (178 rows, 3 classes):

- 50 annotators, each with its own noise matrix P(given | true) of trace 0.85 K (accuracy
  0.85 on average over the classes: the diagonal drawn around 0.85, the rest of each column
  spread at random over the other classes);
- every row starts with one label from a random annotator;
- each round: a logistic regression fitted on the consensus labels gives out-of-fold
  probabilities (5 folds), the order picks 100 rows, each gets one new label from an
  annotator who has not labelled it yet; 15 rounds, 5 seeds;
- the consensus (:func:`analysis.annotators.agreement.weighted_vote` with the model's
  probabilities, the same for every order) is compared with the truth after each round.

Orders: ``ours`` (:func:`analysis.annotators.relabel.relabel_scores`, lowest first),
``random``, and ``cleanlab`` (``cleanlab.multiannotator.get_active_learning_scores``, the
reference extra; AGPL, imported here only).

Run: ``PYTHONPATH=. python benchmarks/relabel_next.py`` (about 10 minutes on 2 cores;
``--seeds 1 --rounds 3`` for a quick look).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import time
import warnings

import numpy as np
import pandas as pd
from sklearn.datasets import load_digits, load_wine
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from analysis.annotators.agreement import weighted_vote
from analysis.annotators.relabel import relabel_scores

ANNOTATORS = 50
ACCURACY = 0.85  # trace of each noise matrix / K
BATCH = 100
ORDERS = ("ours", "random", "cleanlab")


def noise_matrices(k: int, rng: np.random.Generator) -> np.ndarray:
    """(A, K, K) column-stochastic P(given = i | true = j), each of trace ACCURACY * K."""
    out = np.empty((ANNOTATORS, k, k))
    for a in range(ANNOTATORS):
        spread = rng.uniform(-0.07, 0.07, k)  # centred: within 0.85 ± 0.14, below 1
        diag = ACCURACY + spread - spread.mean()  # exactly trace 0.85 K
        m = np.zeros((k, k))
        for j in range(k):
            rest = rng.dirichlet(np.ones(k - 1)) * (1.0 - diag[j])
            m[np.arange(k) != j, j] = rest
            m[j, j] = diag[j]
        out[a] = m
    return out


def draw(truth: int, matrix: np.ndarray, rng: np.random.Generator) -> int:
    return int(rng.choice(matrix.shape[0], p=matrix[:, truth]))


def oof_probs(x: np.ndarray, labels: np.ndarray, seed: int) -> np.ndarray:
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500, C=0.5))
    folds = StratifiedKFold(5, shuffle=True, random_state=seed)
    return cross_val_predict(model, x, labels, cv=folds, method="predict_proba")


def pick(order: str, probs: np.ndarray, ratings: np.ndarray, rng) -> np.ndarray:
    if order == "random":
        return rng.choice(len(ratings), BATCH, replace=False)
    if order == "ours":
        scores = relabel_scores(probs, ratings)
    else:
        from cleanlab.multiannotator import get_active_learning_scores

        used = (ratings >= 0).any(axis=0)  # cleanlab refuses annotators with no label
        frame = pd.DataFrame(np.where(ratings >= 0, ratings, np.nan)[:, used])
        with contextlib.redirect_stdout(io.StringIO()):  # its notes on lone annotators
            scores, _ = get_active_learning_scores(frame, probs)
    return np.argsort(scores, kind="stable")[:BATCH]


def run(x, y, order: str, seed: int, rounds: int) -> list[float]:
    """Consensus accuracy after each round (round 0: the first labels)."""
    rng = np.random.default_rng(seed)
    k = int(y.max()) + 1
    matrices = noise_matrices(k, rng)
    n = len(y)
    ratings = np.full((n, ANNOTATORS), -1, dtype=np.int64)
    first = rng.integers(0, ANNOTATORS, n)
    for i in range(n):
        ratings[i, first[i]] = draw(y[i], matrices[first[i]], rng)
    pick_rng = np.random.default_rng(seed + 1000)
    accuracy = []
    for r in range(rounds + 1):
        consensus = weighted_vote(ratings, k).labels
        probs = oof_probs(x, consensus, seed)
        consensus = weighted_vote(ratings, k, pred_probs=probs).labels
        accuracy.append(float(np.mean(consensus == y)))
        if r == rounds:
            break
        for i in pick(order, probs, ratings, pick_rng):
            free = np.flatnonzero(ratings[i] < 0)
            a = int(pick_rng.choice(free)) if free.size else int(pick_rng.integers(ANNOTATORS))
            ratings[i, a] = draw(y[i], matrices[a], rng)
    return accuracy


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")  # cleanlab's and sklearn's convergence notes
    data = {"digits": load_digits(return_X_y=True), "wine": load_wine(return_X_y=True)}
    rows = []
    for name, (x, y) in data.items():
        for order in ORDERS:
            start = time.perf_counter()
            curves = np.array([run(x, y, order, s, args.rounds) for s in range(args.seeds)])
            rows.append((name, order, curves, time.perf_counter() - start))
    marks = sorted({0, args.rounds // 3, 2 * args.rounds // 3, args.rounds})
    print(f"consensus accuracy (mean ± sd over {args.seeds} seeds), {BATCH} labels a round, "
          f"{ANNOTATORS} annotators of accuracy {ACCURACY}")
    print("| data | order | " + " | ".join(f"round {m}" for m in marks) + " | time (s) |")
    print("|---|---|" + "---|" * len(marks) + "---|")
    for name, order, curves, seconds in rows:
        cells = " | ".join(f"{curves[:, m].mean():.3f} ± {curves[:, m].std():.3f}"
                           for m in marks)
        print(f"| {name} | {order} | {cells} | {seconds:.0f} |")
    print()
    for name in data:
        final = {o: c[:, -1].mean() for n, o, c, _ in rows if n == name}
        print(f"{name}: ours - cleanlab = {final['ours'] - final['cleanlab']:+.4f} "
              f"(goal >= -0.005); ours - random = {final['ours'] - final['random']:+.4f} "
              "(goal >= +0.03)")


if __name__ == "__main__":
    main()
