"""Out-of-fold probabilities: the out-of-fold property, input handling, the automatic model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import sparse
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.datasets import make_blobs
from sklearn.linear_model import LogisticRegression
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier

from analysis.model.probabilities import (
    AUTO_CANDIDATES,
    calibrate_temperature,
    choose_model,
    make_folds,
    mixture_weights,
    out_of_fold_probabilities,
)


def blobs(n=240, k=3, features=5, seed=0):
    X, y = make_blobs(n_samples=n, centers=k, n_features=features, cluster_std=2.0,
                      random_state=seed)
    return X, y


def assert_probabilities(probs, n, k):
    assert probs.shape == (n, k)
    assert probs.dtype == np.float32
    assert np.all(np.isfinite(probs)) and probs.min() >= 0
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)


class Spy(BaseEstimator, ClassifierMixin):
    """Remembers the row ids (column 0) it was trained on; refuses to predict any of them."""

    log: list = []

    def fit(self, X, y):
        self.seen_ = set(np.asarray(X)[:, 0].astype(int).tolist())
        self.classes_ = np.unique(y)
        return self

    def predict_proba(self, X):
        ids = np.asarray(X)[:, 0].astype(int)
        assert not self.seen_ & set(ids.tolist()), "predicted a row it was trained on"
        Spy.log.extend(ids.tolist())
        return np.full((ids.size, self.classes_.size), 1.0 / self.classes_.size)


# --------------------------------------------------------------------------- out of fold


def test_every_row_predicted_once_by_a_model_that_never_saw_it():
    Spy.log = []
    n = 103
    X = np.column_stack([np.arange(n), np.random.default_rng(0).random(n)])
    y = np.arange(n) % 3
    probs = out_of_fold_probabilities(X, y, model=Spy(), preprocess=False)
    assert_probabilities(probs, n, 3)
    assert sorted(Spy.log) == list(range(n))


def test_a_memorising_model_is_not_perfect_out_of_fold():
    X, y = blobs(300)
    rng = np.random.default_rng(1)
    noisy = y.copy()
    flip = rng.random(y.size) < 0.2
    noisy[flip] = (y[flip] + 1) % 3
    tree = DecisionTreeClassifier(random_state=0)
    assert tree.fit(X, noisy).score(X, noisy) == 1.0  # in-sample it knows every label
    probs = out_of_fold_probabilities(X, noisy, model=tree)
    oof_accuracy = np.mean(probs.argmax(axis=1) == noisy)
    assert oof_accuracy < 0.9
    # out of fold, it mostly recovers the truth instead of the flipped labels
    assert np.mean(probs.argmax(axis=1)[flip] == y[flip]) > 0.5


def test_folds_are_stratified_and_cover_every_row_once():
    y = np.repeat([0, 1, 2], [50, 30, 20])
    folds, notes = make_folds(y, 5, 0)
    assert len(folds) == 5 and notes == ()
    held_out = np.concatenate([test for _, test in folds])
    assert sorted(held_out.tolist()) == list(range(y.size))
    for train, test in folds:
        assert np.intersect1d(train, test).size == 0
        assert np.bincount(y[test]).tolist() == [10, 6, 4]


# --------------------------------------------------------------------------- automatic model


def test_auto_shape_rows_and_determinism():
    X, y = blobs(240)
    first = out_of_fold_probabilities(X, y)
    assert_probabilities(first, 240, 3)
    assert np.array_equal(first, out_of_fold_probabilities(X, y))
    assert not np.array_equal(first, out_of_fold_probabilities(X, y, random_state=1))
    assert np.mean(first.argmax(axis=1) == y) > 0.9


def test_choose_model_reports_candidates_and_weights():
    X, y = blobs(200)
    seen = []
    choice = choose_model(X, y, progress=lambda f, m: seen.append((f, m)))
    names = [c.name for c in choice.candidates]
    assert names == list(AUTO_CANDIDATES["tabular"])
    assert sum(choice.weights.values()) == pytest.approx(1.0)
    assert choice.candidates[0].setting["k"] in (5, 10, 20, 40, 80)
    assert all(c.calibrated_log_loss <= c.log_loss + 1e-9 for c in choice.candidates)
    # the mixture is at least as good as its best calibrated candidate
    assert choice.log_loss <= min(c.calibrated_log_loss for c in choice.candidates) + 1e-4
    assert "out-of-fold log-loss" in choice.describe()
    # progress: a start, every candidate on every fold as it starts and ends (the boosted
    # trees, fitted on the folds side by side: once as they start, then as each fold ends),
    # the combination
    assert len(seen) == 1 + 2 * 5 * (len(names) - 1) + (1 + 5) + 1
    done = [m.split(":")[0] for _, m in seen if "hist_gb done" in m]
    assert done == [f"fold {f}/5" for f in range(1, 6)]
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and fractions[-1] == 1.0


def test_a_single_candidate_by_name():
    X, y = blobs(150)
    probs = out_of_fold_probabilities(X, y, model="knn")
    assert_probabilities(probs, 150, 3)
    choice = choose_model(X, y, candidates=["logistic"])
    assert choice.weights == {"logistic": 1.0}


def test_mixture_weights_prefer_the_better_model():
    y = np.repeat([0, 1], 50)
    good = np.where(y[:, None] == np.arange(2), 0.9, 0.1)
    flat = np.full((100, 2), 0.5)
    weights = mixture_weights(y, [flat, good])
    assert weights[1] > 0.99 and weights.sum() == pytest.approx(1.0)


def test_temperature_sharpens_underconfident_probabilities():
    y = np.repeat([0, 1, 2], 40)
    timid = np.where(y[:, None] == np.arange(3), 0.4, 0.3)
    sharper, temperature = calibrate_temperature(y, timid)
    assert temperature < 1.0
    assert sharper[np.arange(y.size), y].mean() > 0.4


# --------------------------------------------------------------------------- awkward data


def test_two_classes():
    X, y = blobs(120, k=2)
    probs = out_of_fold_probabilities(X, y)
    assert_probabilities(probs, 120, 2)


def test_constant_and_missing_columns():
    X, y = blobs(150)
    X = np.column_stack([X, np.full(150, 3.0), np.full(150, np.nan)])
    rng = np.random.default_rng(0)
    X[rng.random(X.shape) < 0.1] = np.nan
    X[0, 0] = np.inf
    probs = out_of_fold_probabilities(X, y, model="logistic")
    assert_probabilities(probs, 150, 3)
    assert np.mean(probs.argmax(axis=1) == y) > 0.8


def test_dataframe_with_categorical_columns():
    rng = np.random.default_rng(0)
    n = 180
    y = np.arange(n) % 3
    frame = pd.DataFrame({
        "colour": np.array(["red", "green", "blue"], dtype=object)[y],  # the signal
        "size": pd.Categorical(rng.choice(["S", "M", "L"], n)),
        "flag": rng.random(n) < 0.5,
        "noise": rng.standard_normal(n),
        "when": pd.date_range("2024-01-01", periods=n, freq="D"),
        7: rng.integers(0, 5, n),  # a non-string column name
    })
    frame.loc[3, "colour"] = None
    frame.loc[4, "noise"] = np.nan
    probs = out_of_fold_probabilities(frame, y, model="logistic")
    assert_probabilities(probs, n, 3)
    assert np.mean(probs.argmax(axis=1) == y) > 0.95


def test_string_array_features_are_one_hot_encoded():
    y = np.arange(90) % 3
    X = np.array(["a", "b", "c"], dtype=object)[y][:, None]
    probs = out_of_fold_probabilities(X, y, model="logistic")
    assert np.mean(probs.argmax(axis=1) == y) > 0.95


def test_sparse_features():
    X, y = blobs(150)
    probs = out_of_fold_probabilities(sparse.csr_matrix(np.abs(X)), y, model="logistic")
    assert_probabilities(probs, 150, 3)


def test_text():
    rng = np.random.default_rng(0)
    topics = [["cat", "dog", "pet", "fur", "paw"], ["stock", "market", "price", "trade", "bank"]]
    y = np.arange(120) % 2
    docs = [" ".join(rng.choice(topics[label], 6)) for label in y]
    docs[5] = None
    probs = out_of_fold_probabilities(text=docs, labels=y)
    assert_probabilities(probs, 120, 2)
    assert np.mean(probs.argmax(axis=1) == y) > 0.9
    names = [c.name for c in choose_model(text=docs, labels=y).candidates]
    assert names == list(AUTO_CANDIDATES["text"])


def test_class_rarer_than_folds_lowers_the_number_of_folds():
    X, y = blobs(150)
    y[:3] = 3  # class 3 has 3 rows
    choice = choose_model(X, y, candidates="logistic")
    assert choice.n_splits == 3
    assert any("3 folds" in note for note in choice.notes)
    assert_probabilities(choice.pred_probs, 150, 4)


def test_single_row_class_is_predicted_with_a_warning():
    X, y = blobs(120)
    y[7] = 3
    with pytest.warns(UserWarning, match=r"class\(es\) 3 have a single row \(row 7\)"):
        probs = out_of_fold_probabilities(X, y, model=LogisticRegression())
    assert_probabilities(probs, 120, 4)
    # its training fold never held class 3: the column is there, at 0 for that row
    assert probs[7, 3] == 0.0
    with pytest.warns(UserWarning, match="single row"):
        auto = out_of_fold_probabilities(X, y)
    assert auto[7, 3] == 0.0


def test_class_missing_from_a_training_fold_keeps_all_columns():
    # two-row class and 2 folds requested is fine; with num_classes a class has no row at all
    X, y = blobs(90)
    probs = out_of_fold_probabilities(X, y, model=LogisticRegression(), num_classes=5)
    assert_probabilities(probs, 90, 5)
    assert np.all(probs[:, 3:] == 0.0)
    auto = out_of_fold_probabilities(X, y, model="knn", num_classes=5)
    assert_probabilities(auto, 90, 5)
    assert np.all(auto[:, 3:] == 0.0)


def test_progress_is_called_per_fold():
    X, y = blobs(100)
    calls = []
    out_of_fold_probabilities(X, y, model=LogisticRegression(), cv=4,
                              progress=lambda f, m: calls.append((f, m)))
    # before and after each fold: what is being trained, then the time left
    assert [f for f, _ in calls] == [0.0, 0.0, 0.25, 0.25, 0.5, 0.5, 0.75, 0.75, 1.0]
    assert calls[1][1].startswith("fold 1/4: training on 75 rows (0 s elapsed; time left known")
    assert calls[-1][1].startswith("fold 4/4 done (") and "left" in calls[-1][1]


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"labels": np.zeros(99, int)}, "labels has 99 rows but X has 100"),
        ({"X": np.zeros(100)}, "X must be 2-D"),
        ({"X": np.zeros((100, 2, 2))}, "X must be 2-D"),
        ({"X": np.zeros((100, 0))}, "no columns"),
        ({"labels": np.r_[np.zeros(99, int), -1]}, "class indices 0..K-1; row 99 hold -1"),
        ({"labels": np.r_[np.zeros(99), 0.5]}, "integer class indices"),
        ({"labels": np.array(["a"] * 100)}, "integer class indices"),
        ({"labels": np.zeros(100, int)}, "at least 2"),
        ({"labels": np.arange(100) % 3, "num_classes": 2}, "0..1 .num_classes=2."),
        ({"labels": np.arange(100)}, "every class has a single row"),
        ({"model": SVC()}, "has no predict_proba"),
        ({"model": "forest"}, "is not 'auto' nor one of"),
        ({"model": 3}, "scikit-learn classifier"),
        ({"cv": 1}, "cv must be an integer"),
        ({"text": ["a"] * 100}, "not both"),
        ({"X": None, "text": "one string"}, "sequence of strings"),
        ({"X": None, "text": ["a b"] * 99}, "labels has 100 rows but text has 99"),
        ({"random_state": 1.5}, "random_state"),
    ],
)
def test_bad_inputs_raise_clear_errors(kwargs, message):
    args = {"X": np.random.default_rng(0).random((100, 3)), "labels": np.arange(100) % 2}
    args.update(kwargs)
    X, labels = args.pop("X"), args.pop("labels")
    with pytest.raises(ValueError, match=message):
        out_of_fold_probabilities(X, labels, **args)


def test_text_without_words():
    with pytest.raises(ValueError, match="text holds no words"):
        out_of_fold_probabilities(text=[""] * 20, labels=np.arange(20) % 2)


def test_the_plan_leaves_out_gradient_boosting_where_it_cannot_or_should_not_run():
    from analysis.model.probabilities import (
        HIST_GB_MAX_CLASSES,
        LARGE_TABLE_ROWS,
        plan_candidates,
    )

    names, notes = plan_candidates(5_000, 10)
    assert names == AUTO_CANDIDATES["tabular"] and notes == ()
    assert plan_candidates(LARGE_TABLE_ROWS, 10) == (AUTO_CANDIDATES["tabular"], ())
    names, notes = plan_candidates(LARGE_TABLE_ROWS + 1, 10)
    assert names == ("logistic", "hist_gb")
    assert notes == (f"knn and extra_trees left out: {LARGE_TABLE_ROWS + 1:,} rows (more than "
                     f"{LARGE_TABLE_ROWS:,}); their cost grows faster than the rows.",)
    names, notes = plan_candidates(5_000, 10, trees=False)
    assert "hist_gb" not in names and "sparse" in notes[0]
    names, notes = plan_candidates(5_000, HIST_GB_MAX_CLASSES + 1)
    assert "hist_gb" not in names and f"{HIST_GB_MAX_CLASSES + 1} classes" in notes[0]
    assert plan_candidates(100, 3, "text") == (AUTO_CANDIDATES["text"], ())
    # sparse features: the automatic model runs without it and says so
    rng = np.random.default_rng(0)
    X = sparse.random(120, 30, density=0.2, random_state=0, format="csr")
    y = rng.integers(0, 2, 120)
    choice = choose_model(X, y)
    assert "hist_gb" not in [c.name for c in choice.candidates]
    assert any("dense features" in line for line in choice.summary())
    with pytest.raises(ValueError, match="hist_gb needs dense features"):
        choose_model(X, y, candidates="hist_gb")


def test_gradient_boosting_splits_text_categories_natively_and_keeps_missing_values():
    """A label carried only by a text category and by whether a number is missing: the
    trees' own view (ordinal codes, NaN kept) learns both."""
    rng = np.random.default_rng(1)
    n = 600
    colour = rng.choice(["red", "green", "blue", "teal"], n)
    size = rng.normal(size=n)
    size[rng.random(n) < 0.3] = np.nan
    y = ((colour == "red") | (colour == "teal")).astype(int) ^ np.isnan(size).astype(int)
    frame = pd.DataFrame({"colour": colour, "size": size, "noise": rng.normal(size=n)})
    choice = choose_model(frame, y, candidates="hist_gb")
    assert choice.candidates[0].name == "hist_gb"
    assert np.mean(choice.pred_probs.argmax(1) == y) > 0.97
    assert choice.chosen == {"hist_gb": 0.1}
    again = choose_model(frame, y, settings=choice.chosen)
    np.testing.assert_array_equal(again.pred_probs, choice.pred_probs)
    lines = choice.summary()
    assert lines[0] == choice.describe() and lines[1].startswith("hist_gb (learning_rate=0.1)")
    assert lines[-1] == "candidates given"
    with pytest.raises(ValueError, match="settings must map tabular candidates"):
        choose_model(frame, y, settings={"zebra": 1})


def test_large_tables_take_three_folds_and_say_so(monkeypatch):
    """Above FEWER_FOLDS_ROWS the automatic plan cross-validates on 3 folds (#26); a model
    asked for by name keeps the folds asked for; every row is still predicted once."""
    import analysis as nl
    from analysis.model import probabilities

    monkeypatch.setattr(probabilities, "FEWER_FOLDS_ROWS", 150)
    X, y = blobs(200)
    choice = choose_model(X, y, candidates=None)
    assert choice.n_splits == 3
    assert "3 folds instead of 5: 200 rows (more than 150); each fold's model still learns " \
           "from 67% of them." in choice.summary()
    folds, _ = make_folds(y, 3, 0)
    assert sorted(np.concatenate([test for _, test in folds]).tolist()) == list(range(200))
    assert choose_model(X, y, candidates=("knn", "logistic")).n_splits == 5
    assert choose_model(X, y, settings=choice.chosen).n_splits == 5
    got = nl.analyze(nl.from_arrays(X, y), detector="confident_learning", use_cache=False)
    assert got.probabilities_source == "out-of-fold (auto, 3 folds)"
    monkeypatch.setattr(probabilities, "FEWER_FOLDS_ROWS", 200)
    assert choose_model(X, y).n_splits == 5
