"""The bundled multi-label sample (#28): its true tags follow the card's rules from
scikit-learn's digits, its noise is exactly the card's, and the analysis finds it."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits

from analysis.core import multilabel as ml
from analysis.data import multilabel as mld
from analysis.data import samples
from analysis.model.multilabel import choose_multilabel_model

RULES = {"even": (0, 2, 4, 6, 8), "prime": (2, 3, 5, 7), "loop": (0, 6, 8, 9),
         "large": (5, 6, 7, 8, 9)}
NOISE = {"even": (0.05, 0.02), "prime": (0.15, 0.03), "loop": (0.25, 0.02),
         "large": (0.05, 0.08)}


@pytest.fixture(scope="module")
def sample():
    return mld.load_multilabel_sample("digits_tags")


def test_listed_apart_from_the_single_label_samples(sample):
    assert mld.multilabel_sample_names() == ["digits_tags"]
    assert "digits_tags" not in samples.names()
    with pytest.raises(ValueError, match="^unknown multi-label sample 'x'; valid names: "
                                         "digits_tags\\.$"):
        mld.load_multilabel_sample("x")
    assert sample.frame.shape == (1797, 67)
    assert sample.class_names == list(RULES)
    np.testing.assert_array_equal(sample.frame[sample.feature_columns].to_numpy(),
                                  load_digits().data.astype(np.int64))


def test_true_tags_follow_the_rules_and_the_noise_is_the_cards(sample):
    digit = load_digits().target
    truth = np.array([[d in RULES[t] for t in RULES] for d in digit], dtype=np.uint8)
    np.testing.assert_array_equal(sample.true_labels, truth)
    assert (sample.frame.loc[digit == 1, "true_label"] == "").all()
    for c, (tag, (missing, extra)) in enumerate(NOISE.items()):
        has = truth[:, c] == 1
        lost = int((has & (sample.labels[:, c] == 0)).sum())
        added = int((~has & (sample.labels[:, c] == 1)).sum())
        assert lost == int(np.floor(missing * has.sum() + 0.5)), tag
        assert added == int(np.floor(extra * (~has).sum() + 0.5)), tag
        row = next(line for line in sample.card.splitlines() if line.startswith(f"| {tag} |"))
        cells = [cell.strip().replace(",", "") for cell in row.strip("|").split("|")]
        assert cells[1:3] + cells[4:6] == [str(int(has.sum())), str(lost), str((~has).sum()),
                                           str(added)]


def test_the_analysis_finds_the_noise(sample):
    choice = choose_multilabel_model(sample.frame[sample.feature_columns], sample.labels)
    est = ml.estimate_multilabel(sample.labels, choice.pred_probs)
    wrong = sample.labels != sample.true_labels
    flagged, bad = est.is_issue, wrong.any(axis=1)
    precision = (flagged & bad).sum() / flagged.sum()
    recall = (flagged & bad).sum() / bad.sum()
    assert precision > 0.9 and recall > 0.8, (precision, recall)
    for c, (missing, extra) in enumerate(NOISE.values()):
        assert abs(est.tag_missing[c] - missing) < 0.05
        assert abs(est.tag_extra[c] - extra) < 0.02
