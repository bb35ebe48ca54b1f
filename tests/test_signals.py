"""Every signal side by side: planted duplicates, outliers and neighbour flips are found; the
schema, the checks and the sentences match slow loops written from the definitions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_blobs

import analysis as nl
from analysis.signals.compute import (
    ISSUE_TYPES,
    class_percentiles,
    class_summary,
    compute_signals,
    dataset_checks,
    signal_space,
    why_sentences,
)


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("NOISELENS_HOME", str(tmp_path / "ws"))


def planted(seed=0):
    """Three blobs (600 rows, 8-D) with planted: 5 conflicting exact duplicates, 5 agreeing
    duplicates, 6 far outliers, 12 neighbour flips (label of another blob)."""
    rng = np.random.default_rng(seed)
    centers = np.array([[0.0] * 8, [12.0] * 8, [-12.0] + [12.0] * 7])
    X, y = make_blobs(600, 8, centers=centers, cluster_std=1.0, random_state=seed)
    labels = y.copy()
    flips = rng.choice(np.arange(0, 400), 12, replace=False)
    labels[flips] = (y[flips] + 1) % 3
    src = np.arange(400, 410)  # rows 400..409 are copied to 600..609
    X = np.vstack([X, X[src]])
    y = np.concatenate([y, y[src]])
    dup_labels = labels[src].copy()
    dup_labels[:5] = (dup_labels[:5] + 1) % 3  # conflicting copies
    labels = np.concatenate([labels, dup_labels])
    far = 60.0 * rng.standard_normal((6, 8)) + 100.0
    X = np.vstack([X, far])
    y = np.concatenate([y, np.zeros(6, dtype=y.dtype)])
    labels = np.concatenate([labels, np.zeros(6, dtype=labels.dtype)])
    return X.astype(np.float32), labels.astype(np.int64), flips, src, np.arange(616 - 6, 616)


def run(X, labels, k=10):
    n = len(labels)
    return compute_signals(labels, np.ones(n), np.zeros(n, bool), X, k=k)


def test_planted_duplicates_outliers_and_flips_are_found():
    X, labels, flips, src, outliers = planted()
    s = run(X, labels)
    t = s.table
    assert list(t.columns[:8]) == [c for ty in ISSUE_TYPES for c in (f"is_{ty}_issue",
                                                                        f"{ty}_score")]
    dup = np.flatnonzero(t["is_near_duplicate_issue"])
    assert set(dup) == set(src) | set(src + 200)  # exactly the copies, nothing else
    conflicting = np.flatnonzero(t["near_duplicate_conflicting"])
    assert set(conflicting) == set(src[:5]) | set(src[:5] + 200)
    assert (t["near_duplicate_score"].to_numpy()[dup] == 0).all()
    pairs = s.duplicates
    assert len(pairs) == 10 and pairs["conflicting"].sum() == 5
    for a in src:
        assert s.partners(a).tolist() == [a + 200] and s.partners(a + 200).tolist() == [a]
    assert set(outliers) <= set(np.flatnonzero(t["is_outlier_issue"]))
    assert t["is_outlier_issue"].sum() <= len(outliers) + 6  # blobs: few false alarms
    assert set(flips) <= set(np.flatnonzero(t["is_neighbour_disagreement_issue"]))
    # every score in [0, 1], low = worse: the planted rows score lowest
    for ty in ISSUE_TYPES:
        assert t[f"{ty}_score"].between(0, 1).all()
    assert t["outlier_score"].to_numpy()[outliers].max() < t["outlier_score"].median()


def test_signals_match_a_slow_loop():
    X, labels, *_ = planted(1)
    X, labels = X[::3], labels[::3]  # 206 rows: a full distance matrix is fine here
    k = 7
    s = run(X, labels, k=k)
    n = len(labels)
    D = np.sqrt(((X[:, None, :].astype(np.float64) - X[None, :, :]) ** 2).sum(-1))
    np.fill_diagonal(D, np.inf)
    nearest = np.sort(D, axis=1)[:, :k]
    threshold = 0.13 * np.median(nearest[:, 0])
    for i in range(n):
        order = np.argsort(D[i], kind="stable")[:k]
        agree = sum(labels[j] == labels[i] for j in order) / k
        assert s.table["neighbour_disagreement_score"][i] == pytest.approx(agree)
        others = [labels[j] for j in order if labels[j] != labels[i]]
        if others:
            counts = {c: others.count(c) for c in set(others)}
            top = max(counts.values())
            assert s.table["neighbour_label"][i] == min(c for c, v in counts.items() if v == top)
            assert s.table["neighbour_label_count"][i] == top
        else:
            assert s.table["neighbour_label"][i] == -1
        assert s.table["is_near_duplicate_issue"][i] == (nearest[i, 0] <= threshold)
        typical = np.median(nearest[:, 0])
        assert s.table["near_duplicate_score"][i] == pytest.approx(
            nearest[i, 0] / (nearest[i, 0] + typical), rel=1e-5)
        mean = nearest[i].mean()
        assert s.table["outlier_score"][i] == pytest.approx(
            min(1.0, np.median(nearest.mean(axis=1)) / mean), rel=1e-5)


def test_checks_summary_and_percentiles_match_loops():
    X, labels, *_ = planted()
    n = len(labels)
    flags = np.zeros(n, bool)
    flags[labels == 2] = True  # class 2 entirely flagged
    flags[:3] = True
    scores = np.linspace(0, 1, n)
    s = compute_signals(labels, scores, flags, X)
    names = ["a", "b", "c"]
    checks = dataset_checks(labels, names, s)
    assert [c["class"] for c in checks["mostly_flagged_classes"]] == ["c"]
    assert checks["counts"]["label"] == int(flags.sum())
    assert checks["conflicting_pairs"] == 5 and checks["near_duplicate_pairs"] == 10
    assert not checks["class_imbalance"]["issue"]
    rare = np.concatenate([labels, np.full(2, 3)])
    s2 = compute_signals(rare, np.ones(n + 2), np.zeros(n + 2, bool), np.vstack([X, X[:2] + 50]))
    assert dataset_checks(rare, [*names, "d"], s2)["class_imbalance"]["rare_classes"] == ["d"]
    summary = class_summary(labels, names, s)
    for _, r in summary.iterrows():
        rows = labels == r["class"]
        for ty in ISSUE_TYPES:
            assert r[f"{ty}_share"] == pytest.approx(s.table[f"is_{ty}_issue"][rows].mean())
    assert summary["any_share"].is_monotonic_decreasing
    row = 5
    pct = class_percentiles(s, labels, row)
    same = [j for j in range(n) if labels[j] == labels[row] and j != row]
    for ty in ISSUE_TYPES:
        col = s.table[f"{ty}_score"]
        assert pct[ty] == pytest.approx(sum(col[j] > col[row] for j in same) / len(same))


def test_sentences_say_what_the_signals_say():
    X, labels, flips, src, outliers = planted()
    n = len(labels)
    names = ["cat", "dog", "bird"]
    ids = np.array([f"r{i}" for i in range(n)], dtype=object)
    probs = np.full((n, 3), 0.05)
    probs[np.arange(n), labels] = 0.9
    s = compute_signals(labels, np.ones(n), np.zeros(n, bool), X)
    row = int(flips[0])
    text = " ".join(why_sentences(s, row, labels=labels, class_names=names, ids=ids,
                                  pred_probs=probs))
    other = s.table["neighbour_label"][row]
    count = s.table["neighbour_label_count"][row]
    assert f"{count} of its 10 nearest neighbours (in the features) are labelled " \
           f"'{names[other]}'" in text
    a = int(src[0])
    text = " ".join(why_sentences(s, a, labels=labels, class_names=names, ids=ids))
    assert f"an exact duplicate of row r{a + 200}, which is labelled " \
           f"'{names[labels[a + 200]]}', not '{names[labels[a]]}'" in text
    text = " ".join(why_sentences(s, int(outliers[0]), labels=labels, class_names=names,
                                  ids=ids))
    assert "an outlier" in text


def test_probabilities_only_and_bad_features():
    n = 60
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1, 2], 20)
    probs = rng.dirichlet(np.ones(3), n)
    probs[7] = 1 / 3  # an even spread: an outlier in probability space
    frame = pd.DataFrame({"label": labels, "const": 1.0})
    ds = nl.from_frame(frame, "label", pred_prob_columns=None)
    assert ds.feature_columns == ["const"]
    X, space, note = signal_space(ds, probs)
    assert space == "probabilities" and "constant" in note
    s = compute_signals(labels, np.ones(n), np.zeros(n, bool), X, pred_probs=probs, space=space)
    assert s.table["is_outlier_issue"][7] and not s.table["is_near_duplicate_issue"].any()
    assert s.table["outlier_score"][7] == pytest.approx(0.0, abs=1e-6)
    # identical rows: all exact duplicates, nothing is an outlier, no crash
    same = compute_signals(labels, np.ones(n), np.zeros(n, bool), np.ones((n, 4)))
    assert same.table["is_near_duplicate_issue"].all()
    assert not same.table["is_outlier_issue"].any()
    # one row per class, two rows in all
    tiny = compute_signals([0, 1], [1, 1], [False, False], np.array([[0.0], [1.0]]))
    assert tiny.k == 1 and tiny.table["neighbour_disagreement_score"].tolist() == [0, 0]
    assert np.isnan(class_percentiles(tiny, [0, 1], 0)["label"])
    with pytest.raises(ValueError, match="one row per label"):
        compute_signals(labels, np.ones(n), np.zeros(n, bool), np.ones((n - 1, 2)))


def test_features_with_nan_and_constant_columns_use_the_rest():
    X, labels, *_ = planted()
    frame = pd.DataFrame(X, columns=[f"f{j}" for j in range(8)])
    frame["const"] = 3.0
    frame.loc[::7, "f0"] = np.nan
    frame["label"] = labels
    ds = nl.from_frame(frame, "label")
    Z, space, note = signal_space(ds, np.full((len(labels), 3), 1 / 3))
    assert space == "features" and note == "" and Z.shape == (len(labels), 8)


def test_analysis_signals_table_issues_csv_and_manifest(tmp_path):
    X, labels, flips, src, outliers = planted()
    probs = np.full((len(labels), 3), 0.1)
    probs[np.arange(len(labels)), labels] = 0.8
    ds = nl.from_arrays(X, labels, pred_probs=probs)
    result = nl.analyze(ds)
    table = result.table(signals=True)
    assert len(table) == len(labels)
    assert table["is_near_duplicate_issue"].sum() == 20
    assert result.table().shape[1] < table.shape[1]  # the default table is unchanged
    assert result.checks["conflicting_pairs"] == 5
    from analysis.export.split import export_split, result_files

    extra = result_files(ds, result, mode="suggestions")
    out = export_split(ds, result, pd.DataFrame(columns=["id", "action", "new_label", "note"]),
                       tmp_path / "out", extra_files=extra, mode="none")
    issues = pd.read_csv(out.files["issues"], dtype={"near_duplicate_ids": str})
    assert list(issues.columns[:9]) == ["id"] + [c for t in ISSUE_TYPES
                                               for c in (f"is_{t}_issue", f"{t}_score")]
    assert len(issues) == len(labels)
    a = int(src[0])
    assert issues.loc[a, "near_duplicate_ids"] == str(ds.ids[a + 200])
    assert out.manifest["checks"]["counts"]["near_duplicate"] == 20


def test_clean_and_refit_is_confident_learning_on_refitted_probabilities(monkeypatch):
    """The combined detector against its definition: round r cleans the *given* labels with
    round r-1's flags (suggested label) and fits out-of-fold again; a refit's flags are as
    many rows as confident learning flags on its probabilities, the lowest in relative
    self-confidence (tests/test_detector.py); every fit is cached on disk."""
    from analysis import pipeline
    from analysis.model.probabilities import out_of_fold_probabilities

    X, y = make_blobs(240, 4, centers=3, cluster_std=2.5, random_state=7)
    noisy = y.copy()
    noisy[::9] = (noisy[::9] + 1) % 3
    ds = nl.from_arrays(X, noisy)
    base = nl.analyze(ds, model="knn", detector="confident_learning")
    got = nl.analyze(ds, model="knn", detector="clean_and_refit")
    assert got.detector == "clean_and_refit" and pipeline.REFIT_ROUNDS >= 1
    assert "fitted again on the cleaned labels" in got.probabilities_source
    # the reference: a loop over the rounds, from the definitions
    from test_detector import relative_flags_loop

    probs = base.pred_probs
    for r in range(pipeline.REFIT_ROUNDS):
        flags = nl.find_label_issues(noisy, probs)
        if r > 0:  # the refit's flags
            flags = relative_flags_loop(noisy, probs, int(flags.sum()))
        cleaned = noisy.copy()
        for i in np.flatnonzero(flags):
            p = np.array(probs[i], dtype=float)
            if np.argmax(p) == noisy[i]:
                p[noisy[i]] = -1.0
            cleaned[i] = int(np.argmax(p))
        probs = out_of_fold_probabilities(X, cleaned, model="knn", random_state=0,
                                          num_classes=3, cv=pipeline.REFIT_CV)
    np.testing.assert_allclose(got.pred_probs, probs)
    count = int(nl.find_label_issues(noisy, probs).sum())
    np.testing.assert_array_equal(got.is_issue, relative_flags_loop(noisy, probs, count))
    np.testing.assert_array_equal(got.labels, noisy)  # the given labels are judged
    assert got.checks["label_detector"] == "clean_and_refit"

    def no_fit(*args, **kwargs):
        raise AssertionError("fitted again")

    monkeypatch.setattr(pipeline, "out_of_fold_probabilities", no_fit)
    again = nl.analyze(ds, model="knn", detector="clean_and_refit")  # from the cache
    np.testing.assert_array_equal(again.pred_probs, got.pred_probs)
    with_probs = nl.from_arrays(X, noisy, pred_probs=probs)
    with pytest.raises(ValueError, match="brings its own pred_probs"):
        nl.analyze(with_probs, detector="clean_and_refit")
    with pytest.raises(ValueError, match="detector='nope' is not one of"):
        nl.analyze(ds, detector="nope")


def test_many_classes_search_the_probabilities_leading_components():
    """1,000-class probabilities: the neighbour space is their 64 leading principal components
    (an index over every class column exhausted memory), and the note says so."""
    from types import SimpleNamespace

    from analysis.signals.compute import MAX_PROBABILITY_DIMS, signal_space

    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.full(200, 0.1), 300)
    bare = SimpleNamespace(embeddings=None, feature_columns=[], text_column=None)
    X, space, note = signal_space(bare, probs)
    assert space == "probabilities" and X.shape == (300, MAX_PROBABILITY_DIMS)
    assert "64 leading principal components, for 200 classes" in note
    # few classes: the probabilities themselves
    X, _, note = signal_space(bare, probs[:, :10] / probs[:, :10].sum(1, keepdims=True))
    assert X.shape == (300, 10) and "principal" not in note


def test_outlier_flag_follows_the_rule_and_spares_merely_unusual_rows():
    """The flag is exactly 'mean neighbour distance >= OUTLIER_RATIO x the median and a robust
    z-score of its log above OUTLIER_Z' (a slow loop over a full distance matrix); a row a few
    times as far as a typical row is unusual (low score), not an outlier."""
    from analysis.signals.outlier import OUTLIER_RATIO, OUTLIER_Z

    X, labels, _, _, outliers = planted(2)
    X, labels = X[::2], labels[::2]  # 308 rows, the 6 far rows at the end
    outliers = np.arange(len(labels) - 3, len(labels))
    X = np.vstack([X, X[:1] + 2.5])  # off its blob, but much nearer than the far rows
    labels = np.append(labels, labels[0])
    unusual, k = len(labels) - 1, 10
    s = run(X, labels, k=k)
    D = np.sqrt(((X[:, None, :].astype(np.float64) - X[None, :, :]) ** 2).sum(-1))
    np.fill_diagonal(D, np.inf)
    mean = np.sort(D, axis=1)[:, :k].mean(axis=1)
    typical = np.median(mean)
    logs = np.log(mean)
    spread = 1.4826 * np.median(np.abs(logs - np.median(logs)))
    expected = [bool(mean[i] >= OUTLIER_RATIO * typical
                     and (logs[i] - np.median(logs)) / spread > OUTLIER_Z)
                for i in range(len(labels))]
    assert s.table["is_outlier_issue"].tolist() == expected
    assert set(np.flatnonzero(expected)) >= set(outliers)
    assert 2.0 < mean[unusual] / typical < OUTLIER_RATIO  # flagged by the old rule (2x)
    assert not expected[unusual]
    assert s.table["outlier_score"][unusual] < 0.5


def test_the_signal_space_of_features_is_kept_on_disk(monkeypatch):
    """A second signal_space of the same content reads the standardised features back
    (prepare_features is not called again); another content computes its own."""
    from analysis.model import embedding
    from analysis.signals import compute as signals

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(80, 3)), columns=["a", "b", "c"])
    frame["label"] = np.repeat(["x", "y"], 40)
    first, space, _ = signals.signal_space(nl.from_frame(frame, "label"), None)
    assert space == "features"
    np.testing.assert_array_equal(first, embedding.prepare_features(frame[["a", "b", "c"]]))

    def fail(*args, **kwargs):
        raise AssertionError("computed again")

    monkeypatch.setattr(embedding, "prepare_features", fail)
    again, _, _ = signals.signal_space(nl.from_frame(frame, "label"), None)
    np.testing.assert_array_equal(again, first)
    assert again.dtype == np.float32
    changed = frame.copy()
    changed.loc[0, "a"] += 1.0
    with pytest.raises(AssertionError, match="computed again"):
        signals.signal_space(nl.from_frame(changed, "label"), None)
