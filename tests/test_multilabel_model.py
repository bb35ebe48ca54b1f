"""Out-of-fold per-class probabilities for multi-label rows (#28)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_multilabel_classification
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from analysis.model import multilabel as mlm


@pytest.fixture(scope="module")
def data():
    X, y = make_multilabel_classification(n_samples=300, n_features=5, n_classes=4,
                                          n_labels=2, random_state=0)
    y[:, 3] = 0  # a class no row has
    return X, y.astype(np.uint8)


def test_auto_keeps_the_lowest_log_loss_and_is_deterministic(data):
    X, y = data
    choice = mlm.choose_multilabel_model(X, y, cv=3)
    assert set(choice.log_loss) == {"logistic", "random_forest"}
    assert choice.chosen == min(choice.log_loss, key=choice.log_loss.get)
    assert choice.pred_probs.shape == y.shape and choice.pred_probs.dtype == np.float32
    assert choice.pred_probs.min() >= 0 and choice.pred_probs.max() <= 1
    np.testing.assert_array_equal(choice.pred_probs[:, 3], 0)
    assert mlm.mean_binary_log_loss(y, choice.pred_probs) == pytest.approx(
        choice.log_loss[choice.chosen], rel=1e-5)
    again = mlm.choose_multilabel_model(X, y, cv=3)
    np.testing.assert_array_equal(again.pred_probs, choice.pred_probs)
    assert choice.describe().startswith(choice.chosen + " (mean binary log-loss")


def test_logistic_rows_come_from_the_fold_that_held_them_out(data):
    X, y = data
    probs = mlm.multilabel_out_of_fold_probabilities(X, y, model="logistic", cv=3)
    for train, test in mlm.multilabel_folds(len(y), 3, 0):
        scaler = make_pipeline(StandardScaler())
        x_train = scaler.fit_transform(X[train])
        for c in range(3):
            model = LogisticRegression(max_iter=1000, random_state=0).fit(x_train, y[train, c])
            want = model.predict_proba(scaler.transform(X[test]))[:, 1]
            np.testing.assert_allclose(probs[test, c], want, rtol=1e-5, atol=1e-6)


def test_auto_leaves_the_forest_out_of_large_inputs(monkeypatch, data):
    X, y = data
    monkeypatch.setattr(mlm, "_AUTO_FOREST_MAX_CELLS", 1000)
    choice = mlm.choose_multilabel_model(X, y, cv=2)
    assert set(choice.log_loss) == {"logistic"}
    assert choice.notes == ("the random forest was not tried: 300 rows x 4 classes is over "
                            "1,000 (minutes of fitting); model='random_forest' asks for it.",)
    assert set(mlm.choose_multilabel_model(X, y, cv=2, model="random_forest").log_loss) == \
        {"random_forest"}


def test_folds_hold_out_every_row_once():
    folds = mlm.multilabel_folds(23, 5, 1)
    held = np.sort(np.concatenate([test for _, test in folds]))
    np.testing.assert_array_equal(held, np.arange(23))


def test_a_frame_with_text_columns_and_bad_choices(data):
    X, y = data
    frame = pd.DataFrame(X, columns=list("abcde")).assign(kind=["x", "y", "z"] * 100)
    probs = mlm.multilabel_out_of_fold_probabilities(frame, y, model="logistic", cv=2)
    assert probs.shape == y.shape
    with pytest.raises(ValueError, match=r"^model='knn' is not 'auto' nor one of: logistic, "
                                         r"random_forest\.$"):
        mlm.choose_multilabel_model(X, y, model="knn")
    with pytest.raises(ValueError, match=r"^model='random_forest' does not take text input\.$"):
        mlm.choose_multilabel_model(labels=y, text=["a b"] * 300, model="random_forest")
