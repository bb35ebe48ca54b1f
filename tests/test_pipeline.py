"""analyze(): the whole pipeline equals the core functions called one by one."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import analysis as nl
from analysis.core.classes import confused_pairs, label_health, per_class_table
from analysis.pipeline import model_inputs


@pytest.fixture(autouse=True)
def _workspace(tmp_path, monkeypatch):
    monkeypatch.setenv("NOISELENS_HOME", str(tmp_path / "ws"))


def _blobs(n=300, k=3, seed=0, flip=0.1):
    rng = np.random.default_rng(seed)
    true = rng.integers(0, k, n)
    X = rng.normal(size=(n, 4)) + 4.0 * np.eye(k, 4)[true]
    labels = true.copy()
    flipped = rng.random(n) < flip
    labels[flipped] = (true[flipped] + 1) % k
    return X, labels, true, flipped


def test_three_lines_from_csv_to_ranked_issues(tmp_path):
    X, labels, _, flipped = _blobs()
    frame = pd.DataFrame(X, columns=list("abcd"))
    frame["label"] = np.array(["cat", "dog", "eel"])[labels]
    path = tmp_path / "mine.csv"
    frame.to_csv(path, index=False)

    result = nl.analyze(nl.load_dataset(path, "label"))
    issues = result.issues_table()

    assert list(issues.columns[:6]) == ["row", "id", "given", "given_name", "suggested",
                                        "suggested_name"]
    assert issues["score"].is_monotonic_increasing
    assert set(issues["given_name"]) <= {"cat", "dog", "eel"}
    # the blobs are well separated: most flagged rows are the flipped ones, most flips found
    found = np.zeros(len(X), bool)
    found[issues["row"]] = True
    assert (found & flipped).sum() / found.sum() > 0.8
    assert (found & flipped).sum() / flipped.sum() > 0.8


def test_equals_core_functions_with_given_pred_probs():
    X, labels, _, _ = _blobs(seed=1)
    probs = nl.out_of_fold_probabilities(X, labels, model="logistic", cv=4)
    ds = nl.from_arrays(X, labels, pred_probs=probs)
    for filter_by in nl.FILTERS:
        for rank_by in nl.RANKINGS:
            a = nl.analyze(ds, filter_by=filter_by, rank_by=rank_by)
            assert a.probabilities_source == "given"
            mask = nl.find_label_issues(labels, probs, filter_by=filter_by)
            np.testing.assert_array_equal(a.is_issue, mask)
            np.testing.assert_array_equal(
                a.ranked, nl.find_label_issues(labels, probs, filter_by=filter_by,
                                               rank_by=rank_by))
            np.testing.assert_array_equal(
                a.scores, nl.label_quality_scores(labels, probs, method=rank_by))
    est = nl.estimate_noise(labels, probs)
    np.testing.assert_array_equal(a.estimate.confident_joint, est.confident_joint)
    np.testing.assert_array_equal(a.estimate.noise_matrix, est.noise_matrix)
    assert a.health == label_health(est)
    pd.testing.assert_frame_equal(a.pairs(), confused_pairs(est, ds.class_names))
    pd.testing.assert_frame_equal(
        a.per_class, per_class_table(est, labels, a.is_issue, a.scores, ds.class_names))


def test_suggestion_cell_and_table_by_definition():
    X, labels, _, _ = _blobs(seed=2, flip=0.2)
    probs = nl.out_of_fold_probabilities(X, labels, model="logistic", cv=4)
    a = nl.analyze(nl.from_arrays(X, labels, pred_probs=probs), filter_by="low_self_confidence")
    t = a.table()
    thresholds = [probs[labels == k, k].mean() for k in range(3)]
    for i in range(len(labels)):
        best = int(np.argmax(probs[i]))
        if a.is_issue[i] and best == labels[i]:
            order = np.argsort(-probs[i], kind="stable")
            best = int(order[1] if order[0] == labels[i] else order[0])
        assert t.suggested[i] == best
        above = [k for k in range(3) if probs[i, k] >= thresholds[k] - 1e-6]
        guess = max(above, key=lambda k: probs[i, k]) if above else -1
        assert t.estimated_true[i] == guess
    # every cell lists exactly the rows the confident joint counts there
    raw = nl.confident_joint(labels, probs, calibrate=False)
    for g in range(3):
        for j in range(3):
            rows = a.cell(g, j)
            assert rows.size == raw[g, j]
            assert np.all(np.diff(a.scores[rows]) >= 0)
    assert (t["rank"] > 0).sum() == a.num_issues
    assert list(t.sort_values("rank").query("rank > 0")["row"]) == list(a.ranked)


def test_out_of_fold_probabilities_are_cached_by_fingerprint(tmp_path):
    X, labels, _, _ = _blobs(seed=3)
    ds = nl.from_arrays(X, labels)
    calls = []
    first = nl.analyze(ds, model="logistic", cv=3, progress=lambda f, m: calls.append(m),
                       detector="confident_learning")
    assert first.probabilities_source == "out-of-fold (logistic, 3 folds)"
    assert len(calls) > 1
    calls.clear()
    again = nl.analyze(nl.from_arrays(X, labels), model="logistic", cv=3,
                       progress=lambda f, m: calls.append(m), detector="confident_learning")
    assert calls == ["read from the cache"]
    np.testing.assert_array_equal(first.pred_probs, again.pred_probs)
    # other labels, other fingerprint: computed anew
    labels2 = labels.copy()
    labels2[0] = (labels2[0] + 1) % 3
    calls.clear()
    nl.analyze(nl.from_arrays(X, labels2), model="logistic", cv=3,
               progress=lambda f, m: calls.append(m), detector="confident_learning")
    assert "read from the cache" not in calls


def test_methods_and_labels_can_change_without_recomputing():
    X, labels, true, _ = _blobs(seed=4)
    probs = nl.out_of_fold_probabilities(X, labels, model="logistic", cv=3)
    a = nl.analyze(nl.from_arrays(X, labels, pred_probs=probs))
    b = a.with_methods("both", "normalized_margin")
    assert b.pred_probs is a.pred_probs
    np.testing.assert_array_equal(b.is_issue, nl.find_label_issues(labels, probs, filter_by="both"))
    c = a.with_labels(true)
    np.testing.assert_array_equal(c.is_issue, nl.find_label_issues(true, probs))
    with pytest.raises(ValueError, match="shape"):
        a.with_labels(true[:-1])


def test_bad_choices_and_nothing_to_learn_from(tmp_path):
    X, labels, _, _ = _blobs(n=60)
    ds = nl.from_arrays(X, labels)
    with pytest.raises(ValueError, match="filter_by='nope' is not one of"):
        nl.analyze(ds, filter_by="nope")
    with pytest.raises(ValueError, match="rank_by='x' is not one of"):
        nl.analyze(ds, rank_by="x")
    frame = pd.DataFrame({"label": labels % 2, "image": [f"img/{i}.png" for i in range(60)]})
    (tmp_path / "img").mkdir()
    for name in frame["image"]:
        (tmp_path / name).write_bytes(b"")
    only_paths = nl.from_frame(frame, "label", image_column="image", feature_columns=[],
                               base_dir=tmp_path)
    with pytest.raises(nl.DataError, match="nothing to learn the labels from"):
        model_inputs(only_paths)


def test_sample_runs_end_to_end_and_matches_truth():
    d = nl.from_sample("wine")
    a = nl.analyze(d, model="logistic", cv=5, detector="confident_learning")
    wrong = (d.true_labels >= 0) & (d.true_labels != d.labels)
    assert a.num_issues > 0
    assert (a.is_issue & wrong).sum() >= 0.5 * wrong.sum()
