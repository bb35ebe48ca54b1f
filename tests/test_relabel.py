"""The relabel-next score (#29) against a slow loop over rows written from the definitions,
and ``noiselens tasks`` choosing rows by it, by a cell, or the first N."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from analysis.annotators.agreement import weighted_vote
from analysis.annotators.relabel import MIN_WEIGHT, ratings_from, relabel_order, relabel_scores
from dashboard.cli import main


def _slow_scores(probs: np.ndarray, r: np.ndarray) -> list[float]:
    """ActiveLab's score row by row, from the definitions (see analysis/annotators/relabel)."""
    n, k = probs.shape
    consensus = weighted_vote(r, k, pred_probs=probs).labels
    labelled = [i for i in range(n) if any(r[i] >= 0)]
    counts = [0] * k
    for i in labelled:
        counts[consensus[i]] += 1
    baseline = max(counts) / len(labelled)
    model_quality = sum(probs[i].argmax() == consensus[i] for i in labelled) / len(labelled)
    mean_labels = sum(int((r[i] >= 0).sum()) for i in labelled) / len(labelled)

    def weight(s):
        return max(1 - (1 - s) / (1 - baseline), MIN_WEIGHT)

    quality = []
    for j in range(r.shape[1]):
        shares = []
        for i in range(n):
            others = [r[i, b] for b in range(r.shape[1]) if b != j and r[i, b] >= 0]
            if r[i, j] >= 0 and others:
                shares.append(sum(o == r[i, j] for o in others) / len(others))
        quality.append(sum(shares) / len(shares) if shares else None)
    known = [q for q in quality if q is not None]
    w = [weight(q if q is not None else sum(known) / len(known)) for q in quality]
    w_model = weight(model_quality) * mean_labels ** 0.5
    out = []
    for i in range(n):
        if i in labelled:
            num = w_model * probs[i, consensus[i]]
            den = w_model
            for j in range(r.shape[1]):
                if r[i, j] >= 0:
                    num += w[j] * (r[i, j] == consensus[i])
                    den += w[j]
            out.append(num / den)
        else:
            mean_w = sum(w) / len(w)
            out.append((w_model * probs[i].max() + mean_w / k) / (w_model + mean_w))
    return out


def test_scores_equal_a_slow_loop_over_rows():
    rng = np.random.default_rng(5)
    n, k, a = 80, 4, 5
    truth = rng.integers(0, k, n)
    r = np.full((n, a), -1)
    for i in range(n - 10):  # the last 10 rows: nobody labelled them
        for j in rng.choice(a, rng.integers(1, 4), replace=False):
            r[i, j] = truth[i] if rng.random() < 0.75 else rng.integers(0, k)
    probs = rng.dirichlet(np.ones(k), n)
    probs[np.arange(n), truth] += 0.8
    probs /= probs.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(relabel_scores(probs, r), _slow_scores(probs, r), rtol=1e-12)


def test_a_disputed_row_comes_before_an_agreed_one_and_unlabelled_rows_are_scored():
    probs = np.array([[0.9, 0.1], [0.5, 0.5], [0.9, 0.1], [0.6, 0.4]])
    r = np.array([[0, 0], [0, 1], [0, 0], [-1, -1]])
    scores = relabel_scores(probs, r)
    assert scores[1] < scores[0] == scores[2]
    assert 0 < scores[3] < 1
    frame = pd.DataFrame({"id": ["b", "b"], "label": ["y", "x"], "annotator": ["u", "u"]})
    got = ratings_from([0, 1, 0, 0], frame, ["a", "b", "c", "d"], ["x", "y"])
    assert got.tolist() == [[0, -1], [1, 0], [0, -1], [0, -1]]  # the newest verdict wins
    order = relabel_order(probs, [0, 1, 0, 0], frame, ["a", "b", "c", "d"], ["x", "y"])
    assert sorted(order.tolist()) == [0, 1, 2, 3]


@pytest.fixture()
def data(tmp_path, monkeypatch):
    monkeypatch.setenv("NOISELENS_HOME", str(tmp_path / "ws"))
    rng = np.random.default_rng(1)
    n = 30
    labels = np.arange(n) % 3
    pd.DataFrame({"id": [f"r{i}" for i in range(n)], "text": [f"t{i}" for i in range(n)],
                  "label": ["abc"[j] for j in labels]}).to_csv(tmp_path / "d.csv", index=False)
    probs = rng.dirichlet(np.ones(3), n)
    probs[np.arange(n), labels] += 0.5
    probs[:4] = [[0.05, 0.9, 0.05]] * 4  # rows 0, 3: given a, model b
    np.save(tmp_path / "p.npy", probs / probs.sum(axis=1, keepdims=True))
    return tmp_path


def _tasks(data, *extra) -> list[str]:
    code = main(["tasks", str(data / "d.csv"), "--text-col", "text", "--pred-probs",
                 str(data / "p.npy"), "--reviews", str(data / "r.sqlite"), "--format",
                 "label-studio", "--out", str(data / "out"), *extra])
    assert code == 0
    return [t["data"]["noiselens_id"] for t in
            json.loads((data / "out" / "tasks.json").read_text())]


def test_tasks_choose_next_cell_and_top(data, capsys):
    probs = np.load(data / "p.npy")
    labels = np.arange(30) % 3
    scores = relabel_scores(probs, labels[:, None])
    expected = [f"r{i}" for i in np.argsort(scores, kind="stable")[:5]]
    assert _tasks(data, "--next", "5") == expected
    cell = _tasks(data, "--cell", "a,b")
    assert set(cell) >= {"r0", "r3"} and all(int(c[1:]) % 3 == 0 for c in cell)
    flagged = _tasks(data)
    assert _tasks(data, "--top", "2") == flagged[:2]
    odd = [i for i in flagged if int(i[1:]) % 2]
    assert _tasks(data, "--slice", "text=t" + odd[0][1:]) == odd[:1]
    capsys.readouterr()
    assert main(["tasks", str(data / "d.csv"), "--text-col", "text", "--pred-probs",
                 str(data / "p.npy"), "--format", "cvat", "--out", str(data / "c")]) == 2
    assert capsys.readouterr().err.strip() == (
        "noiselens: error: CVAT tasks need image data (a folder of images, or a column of "
        "image paths); d.csv has text: use --format label-studio, argilla or csv.")
    assert main(["tasks", str(data / "d.csv"), "--text-col", "text", "--pred-probs",
                 str(data / "p.npy"), "--format", "csv", "--out", str(data / "c"),
                 "--cell", "a,z"]) == 2
    assert capsys.readouterr().err.strip() == (
        "noiselens: error: --cell 'a,z': give GIVEN,SUGGESTED, two of the classes (a, b, c).")
    assert main(["tasks", str(data / "d.csv"), "--text-col", "text", "--pred-probs",
                 str(data / "p.npy"), "--format", "csv", "--out", str(data / "c"),
                 "--slice", "label=z"]) == 2
    assert capsys.readouterr().err.strip() == (
        "noiselens: error: --slice 'label=z': no row has 'z' in column 'label' (its values: "
        "a, b, c).")
