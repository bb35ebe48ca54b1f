"""Which label detector flags the rows: the combined detector (clean, fit again) by default
wherever it can run, confident learning when the dataset brings its own probabilities or when
asked for by name (the exact filters), and every surface says which one and why."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import reference_cl as ref
from sklearn.datasets import make_blobs

import analysis as nl
from analysis import pipeline
from analysis.model.probabilities import out_of_fold_probabilities
from analysis.review.evaluate import detection_table


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("NOISELENS_HOME", str(tmp_path / "ws"))


def noisy_blobs():
    X, y = make_blobs(180, 4, centers=3, cluster_std=2.5, random_state=3)
    noisy = y.copy()
    noisy[::8] = (noisy[::8] + 1) % 3
    return X, noisy


def test_the_default_is_the_combined_detector_unless_the_data_brings_probabilities():
    X, noisy = noisy_blobs()
    ds = nl.from_arrays(X, noisy)
    assert pipeline.choose_detector(ds) == ("clean_and_refit", pipeline.choose_detector(ds)[1])
    got = nl.analyze(ds, model="knn")
    assert got.detector == "clean_and_refit"
    assert "brings no pred_probs" in got.detector_reason
    named = nl.analyze(ds, model="knn", detector="clean_and_refit")
    np.testing.assert_array_equal(got.is_issue, named.is_issue)
    assert named.detector_reason == pipeline.CHOSEN
    assert got.checks["label_detector"] == "clean_and_refit"
    assert got.checks["label_detector_reason"] == got.detector_reason

    # asked for by name: the exact confident-learning filter on the first model's probabilities
    exact = nl.analyze(ds, model="knn", detector="confident_learning")
    probs = out_of_fold_probabilities(X, noisy, model="knn", random_state=0, num_classes=3)
    np.testing.assert_allclose(exact.pred_probs, probs)
    for filter_by in ("prune_by_noise_rate", "both", "confident_learning"):
        np.testing.assert_array_equal(exact.with_methods(filter_by=filter_by).is_issue,
                                      nl.find_label_issues(noisy, probs, filter_by=filter_by))
    assert exact.detector == "confident_learning" and exact.detector_reason == pipeline.CHOSEN

    # the dataset's own probabilities: nothing to fit again, confident learning by default
    given = nl.from_arrays(X, noisy, pred_probs=probs)
    default = nl.analyze(given)
    assert default.detector == "confident_learning" and default.probabilities_source == "given"
    assert "brings its own pred_probs" in default.detector_reason
    np.testing.assert_array_equal(default.is_issue, nl.find_label_issues(noisy, probs))
    assert pipeline.choose_detector(given)[0] == "confident_learning"
    with pytest.raises(ValueError, match="brings its own pred_probs"):
        pipeline.choose_detector(given, "clean_and_refit")
    with pytest.raises(ValueError, match="detector='nope' is not one of"):
        pipeline.choose_detector(ds, "nope")


def test_the_combined_detector_reports_progress_over_every_fit():
    X, noisy = noisy_blobs()
    seen = []
    result = nl.analyze(nl.from_arrays(X, noisy), model="knn", use_cache=False,
                        progress=lambda f, m: seen.append((f, m)))
    assert result.detector == "clean_and_refit"
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)
    last = pipeline.REFIT_ROUNDS + 1
    assert any(f"fit {last} of {last}" in m for _, m in seen)
    # the first fit's share is its folds' share: 5 of 5 + REFIT_ROUNDS x REFIT_CV
    first = max(f for f, m in seen if not m.startswith("fit "))
    assert first == pytest.approx(5 / (5 + pipeline.REFIT_ROUNDS * pipeline.REFIT_CV))
    assert result.probabilities_source == (
        f"out-of-fold (knn, 5 folds), fitted again on the cleaned labels "
        f"({pipeline.REFIT_ROUNDS} rounds, {pipeline.REFIT_CV} folds)")


def test_the_cli_says_which_detector_and_why(tmp_path, capsys):
    from dashboard.cli import main

    X, noisy = noisy_blobs()
    frame = pd.DataFrame(X, columns=list("abcd"))
    frame["label"] = np.array(["ant", "bee", "cat"], dtype=object)[noisy]
    path = tmp_path / "bugs.csv"
    frame.to_csv(path, index=False)
    out = tmp_path / "out"
    assert main(["analyze", str(path), "--label-col", "label", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "label detector: clean_and_refit" in err and "brings no pred_probs" in err
    checks = json.loads((out / "manifest.json").read_text())["checks"]
    assert checks["label_detector"] == "clean_and_refit"
    assert "benchmark" in checks["label_detector_reason"]
    expected = nl.analyze(nl.load_dataset(path, "label"))  # the same default, from the cache
    assert json.loads((out / "summary.json").read_text())["flagged"] == expected.num_issues

    out2 = tmp_path / "out2"
    assert main(["analyze", str(path), "--label-col", "label", "--detector",
                 "confident_learning", "--out", str(out2)]) == 0
    assert "label detector: confident_learning" in capsys.readouterr().err
    checks = json.loads((out2 / "manifest.json").read_text())["checks"]
    assert checks["label_detector"] == "confident_learning"
    assert main(["analyze", str(path), "--label-col", "label", "--detector", "nope",
                 "--out", str(tmp_path / "o3")]) == 2
    assert "auto, confident_learning, clean_and_refit" in capsys.readouterr().err


def test_the_default_falls_back_to_confident_learning_when_the_refit_cannot_run(monkeypatch):
    """The default never fails where confident learning alone works: a refit that raises (e.g.
    cleaned labels left with a single class) gives confident learning and says why; asked for
    by name, the combined detector's error is raised."""
    X, noisy = noisy_blobs()
    ds = nl.from_arrays(X, noisy)
    real = pipeline.choose_model
    calls = []

    def first_only(*args, **kwargs):
        calls.append(kwargs.get("cv"))
        if len(calls) > 1:
            raise ValueError("labels hold 1 class(es)")
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "choose_model", first_only)
    got = nl.analyze(ds, model="knn", use_cache=False)
    assert calls == [5, pipeline.REFIT_CV]
    assert got.detector == "confident_learning"
    assert "could not fit again (labels hold 1 class(es))" in got.detector_reason
    probs = out_of_fold_probabilities(X, noisy, model="knn", random_state=0, num_classes=3)
    np.testing.assert_array_equal(got.is_issue, nl.find_label_issues(noisy, probs))
    calls.clear()
    with pytest.raises(ValueError, match="1 class"):
        nl.analyze(ds, model="knn", use_cache=False, detector="clean_and_refit")


def test_auto_takes_confident_learning_alone_above_the_row_limit(monkeypatch):
    X, noisy = noisy_blobs()
    ds = nl.from_arrays(X, noisy)
    monkeypatch.setattr(pipeline, "AUTO_REFIT_MAX_ROWS", len(ds) - 1)
    detector, reason = pipeline.choose_detector(ds)
    assert detector == "confident_learning"
    assert f"{len(ds):,} rows" in reason and "clean_and_refit" in reason
    got = nl.analyze(ds, model="knn")
    assert got.detector == "confident_learning" and got.detector_reason == reason
    # asked for by name it still runs
    assert pipeline.choose_detector(ds, "clean_and_refit") == ("clean_and_refit",
                                                                pipeline.CHOSEN)
    monkeypatch.setattr(pipeline, "AUTO_REFIT_MAX_ROWS", len(ds))
    assert pipeline.choose_detector(ds)[0] == "clean_and_refit"


def relative_flags_loop(labels, probs, count):
    """The combined detector's flags from their definition, one row at a time: of the rows
    whose given label does not win, the ``count`` lowest ``p[i, y_i] / t[y_i]`` (``t``: the
    mean self-confidence of each given class), ties in row order."""
    thresholds = ref.thresholds(labels, probs)
    wins = ref.given_label_wins(labels, probs)
    candidates = [(float(probs[i, labels[i]]) / thresholds[labels[i]], i)
                  for i in range(len(labels)) if not wins[i]]
    candidates.sort()
    flags = np.zeros(len(labels), dtype=bool)
    for _, i in candidates[:count]:
        flags[i] = True
    return flags


def test_the_combined_detector_flags_the_filters_count_lowest_relative_confidence():
    """On the refit's probabilities the filter says how many rows, their self-confidence
    relative to their class's threshold says which: a row of a class the model is usually sure
    of goes before a row as unsure in a class it is always unsure of."""
    probs = np.array([
        # class 0: the model is sure of its rows (threshold 0.775)
        [0.90, 0.05, 0.05], [0.90, 0.05, 0.05], [0.90, 0.05, 0.05], [0.40, 0.55, 0.05],
        # class 1: always unsure (threshold 0.425)
        [0.30, 0.45, 0.25], [0.30, 0.45, 0.25], [0.20, 0.50, 0.30], [0.35, 0.30, 0.35],
        # class 2 (threshold 0.7625)
        [0.05, 0.05, 0.90], [0.10, 0.10, 0.80], [0.05, 0.05, 0.90], [0.05, 0.50, 0.45],
    ])
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2])
    ds = nl.from_arrays(np.zeros((12, 1)), labels, pred_probs=probs)
    combined = pipeline.Analysis(ds, probs.astype(np.float32), "test", labels=labels,
                                 detector="clean_and_refit")
    cl = replace(combined, detector="confident_learning")
    # self-confidence alone would take row 7 (0.30) before row 3 (0.40) and row 11 (0.45);
    # relative to their classes: 0.40 / 0.775 = 0.52 < 0.45 / 0.7625 = 0.59 < 0.30 / 0.425 = 0.71
    assert relative_flags_loop(labels, probs, 1).tolist() == [i == 3 for i in range(12)]
    assert np.flatnonzero(relative_flags_loop(labels, probs, 2)).tolist() == [3, 11]
    for filter_by in ("prune_by_noise_rate", "prune_by_class", "both", "confident_learning"):
        count = int(cl.with_methods(filter_by=filter_by).is_issue.sum())
        got = combined.with_methods(filter_by=filter_by).is_issue
        np.testing.assert_array_equal(got, relative_flags_loop(labels, probs, count))
        assert got.sum() == count

    # a noisier set, from the refit's real probabilities: the same rule, row for row
    rng = np.random.default_rng(5)
    X, y = make_blobs(400, 5, centers=4, cluster_std=3.0, random_state=5)
    noisy = np.where(rng.random(400) < 0.25, rng.integers(0, 4, 400), y)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(5)])
    frame["label"], frame["true_label"] = noisy, y
    got = nl.analyze(nl.from_frame(frame, "label"), model="knn", use_cache=False)
    assert got.detector == "clean_and_refit"
    plain = nl.find_label_issues(noisy, got.pred_probs)
    count = int(plain.sum())
    assert count > 40
    # the Evaluate table's row of the detector is its own flags, computed first or not
    table = detection_table(replace(got)).set_index("filter")
    np.testing.assert_array_equal(got.is_issue,
                                  relative_flags_loop(noisy, got.pred_probs, count))
    assert not np.array_equal(got.is_issue, plain)
    wrong = noisy != y
    assert table.loc["prune_by_noise_rate", "flagged"] == count
    assert table.loc["prune_by_noise_rate", "true_errors"] == np.sum(got.is_issue & wrong)
    both = nl.find_label_issues(noisy, got.pred_probs, filter_by="both")
    assert table.loc["both", "true_errors"] == np.sum(both & wrong)
    pd.testing.assert_frame_equal(detection_table(got).set_index("filter"), table)


def test_the_refit_judges_with_the_probabilities_of_the_model_fitted_again():
    """#25: a refit that kept the first pass's probabilities passed this module: the
    combined detector's probabilities are those of a model fitted out-of-fold on the cleaned
    labels, and its flags come from them."""
    from analysis.core.evidence import Evidence
    from analysis.core.issues import issues_mask_from
    from analysis.model.probabilities import out_of_fold_probabilities
    from analysis.pipeline import REFIT_CV, model_inputs, relative_confidence_flags

    ds = nl.from_sample("wine")
    first = nl.analyze(ds, detector="confident_learning", model="logistic", use_cache=False)
    cleaned = np.where(first.is_issue, first.suggested, first.labels).astype(np.int64)
    want = out_of_fold_probabilities(labels=cleaned, model="logistic", cv=REFIT_CV,
                                     random_state=0, num_classes=ds.num_classes,
                                     **model_inputs(ds))
    got = first.relearned(rounds=1, model="logistic", use_cache=False)
    assert not np.array_equal(want, first.pred_probs)
    np.testing.assert_array_equal(got.pred_probs, want)
    ev = Evidence(first.labels, want)
    count = int(issues_mask_from(ev, first.filter_by).sum())
    np.testing.assert_array_equal(got.is_issue, relative_confidence_flags(ev, count))


def test_the_refits_fit_again_the_first_choice_not_the_whole_search(monkeypatch):
    """#26: the combined detector's refits reuse the candidates and settings the automatic
    model kept on the first fit (``ModelChoice.chosen``), on the cleaned labels."""
    from analysis.model import probabilities

    calls = []
    real = probabilities.choose_model

    def spy(*args, **kwargs):
        choice = real(*args, **kwargs)
        calls.append((kwargs.get("settings"), choice.chosen, kwargs["labels"].copy()))
        return choice

    monkeypatch.setattr(pipeline, "choose_model", spy)
    X, noisy = noisy_blobs()
    got = nl.analyze(nl.from_arrays(X, noisy), use_cache=False)
    assert got.detector == "clean_and_refit"
    assert len(calls) == 1 + pipeline.REFIT_ROUNDS
    first_settings, chosen, first_labels = calls[0]
    assert first_settings is None and chosen
    np.testing.assert_array_equal(first_labels, noisy)
    for settings, _, labels in calls[1:]:
        assert settings == chosen  # the kept candidates at their settings, nothing searched
        assert not np.array_equal(labels, noisy)  # fitted on the cleaned labels
    assert got.model["chosen"] == chosen
    assert got.model["summary"][0].endswith("folds)") and "refit" in got.model
    # the record comes back from the cache with the probabilities
    monkeypatch.setattr(pipeline, "choose_model", real)
    again = nl.analyze(nl.from_arrays(X, noisy), detector="confident_learning")
    cached = nl.analyze(nl.from_arrays(X, noisy), detector="confident_learning")
    assert cached.model == again.model and cached.model["chosen"]
