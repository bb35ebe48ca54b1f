"""Detection vs truth and the retrain check, against loops written from the definitions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score

import analysis as nl
from analysis.export.split import apply_decisions
from analysis.review.evaluate import (
    average_precision,
    detection_table,
    precision_recall,
    ranking_curves,
    retrain_check,
)


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    """Every test writes its cache to a workspace of its own, whatever ran before it."""
    monkeypatch.setenv("NOISELENS_HOME", str(tmp_path / "ws"))


@pytest.fixture(scope="module")
def wine(tmp_path_factory):
    # its own workspace, for this fixture only: the environment is restored afterwards
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NOISELENS_HOME", str(tmp_path_factory.mktemp("home")))
        return nl.analyze(nl.from_sample("wine"), model="logistic")


def test_detection_table_by_definition(wine):
    truth = wine.dataset.true_labels
    table = detection_table(wine)
    assert list(table["filter"]) == list(nl.FILTERS)
    for _, row in table.iterrows():
        mask = nl.find_label_issues(wine.labels, wine.pred_probs, filter_by=row["filter"])
        tp = flagged = wrong_total = 0
        for i in range(len(truth)):
            if truth[i] < 0:
                continue
            wrong = truth[i] != wine.labels[i]
            wrong_total += wrong
            flagged += mask[i]
            tp += mask[i] and wrong
        assert row["flagged"] == flagged and row["true_errors"] == tp
        assert row["precision"] == pytest.approx(tp / flagged if flagged else np.nan,
                                                 nan_ok=True)
        assert row["recall"] == pytest.approx(tp / wrong_total)
        assert row["f1"] == pytest.approx(2 * tp / (flagged + wrong_total))


def test_precision_recall_curve_by_definition():
    rng = np.random.default_rng(0)
    scores = rng.random(60)
    wrong = rng.random(60) < 0.3
    curve = precision_recall(scores, wrong)
    order = sorted(range(60), key=lambda i: scores[i])
    for k in range(1, 61):
        hits = sum(wrong[i] for i in order[:k])
        assert curve["precision"].iloc[k - 1] == pytest.approx(hits / k)
        assert curve["recall"].iloc[k - 1] == pytest.approx(hits / wrong.sum())
    assert average_precision(scores, wrong) == pytest.approx(
        average_precision_score(wrong, -scores))
    with pytest.raises(ValueError, match="same length"):
        precision_recall(scores, wrong[:-1])


def test_ranking_curves_cover_every_score(wine):
    curves = ranking_curves(wine)
    assert set(curves) == set(nl.RANKINGS)
    known = int((wine.dataset.true_labels >= 0).sum())
    assert all(len(c) == known for c in curves.values())
    assert all(c["recall"].iloc[-1] == pytest.approx(1.0) for c in curves.values())


def test_no_truth_is_a_clear_error():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 2))
    ds = nl.from_arrays(X, (X[:, 0] > 0).astype(int),
                        pred_probs=np.full((50, 2), 0.5))
    with pytest.raises(ValueError, match="no true labels are known"):
        detection_table(nl.analyze(ds))


def test_retrain_check_is_seeded_and_paired(wine):
    X = nl.prepare_features(wine.dataset.features)
    truth = wine.dataset.true_labels
    same = retrain_check(X, wine.labels, wine.labels, truth, n_boot=200)
    assert same.original == same.cleaned
    assert same.gain == (0.0, 0.0, 0.0)
    fixed = retrain_check(X, wine.labels, truth, truth, n_boot=200)
    again = retrain_check(X, wine.labels, truth, truth, n_boot=200)
    assert fixed == again
    for acc, lo, hi in (fixed.original, fixed.cleaned, fixed.gain):
        assert lo <= acc <= hi
    # scikit-learn's split: ceil(test_size * rows with known truth) test rows
    assert fixed.test_rows == int(np.ceil(0.3 * (truth >= 0).sum()))
    removed = wine.labels.copy()
    removed[:20] = -1
    res = retrain_check(X, wine.labels, removed, truth, n_boot=50)
    assert res.train_rows_cleaned < res.train_rows_original
    with pytest.raises(ValueError, match="at least 10 rows"):
        retrain_check(X, wine.labels, wine.labels, np.full(len(truth), -1))


def test_cleaning_the_digits_sample_pays():
    result = nl.analyze(nl.from_sample("digits"), model="logistic", detector="confident_learning")
    decisions = pd.DataFrame({
        "id": [str(result.dataset.ids[r]) for r in result.ranked],
        "action": "relabel",
        "new_label": [result.class_names[result.suggested[r]] for r in result.ranked],
    })
    cleaned = apply_decisions(result.dataset, decisions, base_labels=result.labels).labels
    assert (cleaned != result.labels).sum() == len(decisions)
    X = nl.prepare_features(result.dataset.features)
    res = retrain_check(X, result.labels, cleaned, result.dataset.true_labels, n_boot=300)
    assert res.cleaned[0] > res.original[0]


@pytest.fixture(scope="module")
def audited(tmp_path_factory):
    """600 rows, 4 classes, 25% noise, truth known for a random 40% of the rows."""
    rng = np.random.default_rng(7)
    n, k = 600, 4
    true = rng.integers(0, k, n)
    given = np.where(rng.random(n) < 0.25, rng.integers(0, k, n), true)
    logits = rng.normal(size=(n, k))
    logits[np.arange(n), true] += 1.5
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    names = np.array(["a", "b", "c", "d"], dtype=object)
    frame = pd.DataFrame({"x": rng.normal(size=n), "label": names[given],
                          "true_label": np.where(rng.random(n) < 0.4, names[true], None)})
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NOISELENS_HOME", str(tmp_path_factory.mktemp("audited")))
        return nl.analyze(nl.from_frame(frame, "label", pred_probs=probs))


def _slow_suggestion(probs, label):
    best = max(range(len(probs)), key=lambda j: (probs[j], -j))
    if best != label:
        return best
    return max((j for j in range(len(probs)) if j != label), key=lambda j: (probs[j], -j))


@pytest.mark.parametrize("case", ["wine", "audited"])
def test_detection_table_suggestions_and_reuse_by_definition(case, request):
    result = request.getfixturevalue(case)
    truth = result.dataset.true_labels
    table = detection_table(result).set_index("filter")
    for name in nl.FILTERS:
        mask = nl.find_label_issues(result.labels, result.pred_probs, filter_by=name)
        hits = [i for i in range(len(truth))
                if truth[i] >= 0 and truth[i] != result.labels[i] and mask[i]]
        right = [_slow_suggestion(result.pred_probs[i], result.labels[i]) == truth[i]
                 for i in hits]
        got = table.loc[name, "suggestion_right"]
        assert (np.isnan(got) if not hits else got == pytest.approx(np.mean(right)))
        # the same table whatever filter the analysis itself was made with (its flags reused)
        other = result.with_methods(filter_by=name)
        _ = other.is_issue
        pd.testing.assert_frame_equal(detection_table(other).set_index("filter"), table)
    assert table.loc["both", "flagged"] <= min(table.loc["prune_by_noise_rate", "flagged"],
                                               table.loc["prune_by_class", "flagged"])


def test_ranking_curves_on_known_rows_only_and_thinned(audited):
    known = audited.dataset.true_labels >= 0
    assert 0 < known.sum() < len(known)
    wrong = known & (audited.dataset.true_labels != audited.labels)
    full = ranking_curves(audited)
    for m, curve in full.items():
        whole = audited.with_methods(rank_by=m).scores  # every row, then the known ones
        pd.testing.assert_frame_equal(curve, precision_recall(whole[known], wrong[known]))
    thin = ranking_curves(audited, max_points=25)
    for m, curve in thin.items():
        assert 2 <= len(curve) <= 25
        pd.testing.assert_frame_equal(curve, full[m].loc[curve.index])
        assert curve.index[0] == 0 and curve.index[-1] == len(full[m]) - 1


# -- one definition of precision and recall, shown the same way everywhere (#25) ----------


def _audit_loop(labels, truth, flagged):
    """Precision and recall from the definitions, row by row: audited = a true class or '?'
    (-2); wrong = audited and not the given label; recall = each group's wrong rate scaled to
    its size (plain recall when every row is audited); None below 30 audited unflagged rows."""
    groups = {True: [0, 0, 0], False: [0, 0, 0]}  # rows, audited, wrong
    for y, t, f in zip(labels, truth, flagged, strict=True):
        g = groups[bool(f)]
        g[0] += 1
        if t >= 0 or t == -2:
            g[1] += 1
            g[2] += int(t != y)
    (nf, af, wf), (nu, au, wu) = groups[True], groups[False]
    precision = wf / af
    recall = None
    if au >= 30:
        found, missed = wf / af * nf, wu / au * nu
        recall = found / (found + missed)
    return precision, recall, (nf, af, wf, nu, au, wu)


def test_one_audit_sentence_on_overview_evaluate_and_report(tmp_path):
    import html

    from analysis.data.dataset import WRONG_CLASS_UNKNOWN
    from analysis.review.evaluate import AUDIT_BIAS_NOTE, audit_design, audit_line
    from dashboard.report import build_report

    ds = nl.from_sample("digits")
    result = nl.analyze(ds, detector="confident_learning")
    labels, flagged = np.asarray(result.labels), np.asarray(result.is_issue)
    # every row audited: plain precision and recall, no bias note
    line = audit_line(audit_design(result))
    p, r, _ = _audit_loop(labels, ds.true_labels, flagged)
    assert f"precision {p:.0%} (" in line and f"recall {r:.0%} (" in line
    assert AUDIT_BIAS_NOTE not in line
    # the report shows the same sentence
    assert f"<p>{line}</p>" in html.unescape(build_report(ds, result))
    # an audit of the flagged rows (a third of them "wrong, class unknown") and 10 others
    truth = np.full(len(ds), -1)
    rows = np.flatnonzero(flagged)
    truth[rows] = np.asarray(ds.true_labels)[rows]
    truth[rows[::3]] = np.where(truth[rows[::3]] != labels[rows[::3]], WRONG_CLASS_UNKNOWN,
                                truth[rows[::3]])
    others = np.flatnonzero(~flagged)[:10]
    truth[others] = np.asarray(ds.true_labels)[others]
    import dataclasses

    audited_ds = dataclasses.replace(ds, true_labels=truth)
    biased = nl.analyze(audited_ds, detector="confident_learning")
    assert np.array_equal(biased.is_issue, flagged)
    line = audit_line(audit_design(biased))
    p, r, (nf, af, wf, nu, au, wu) = _audit_loop(labels, truth, flagged)
    assert r is None
    assert line == (
        f"Checked against the known true labels of {af + au:,} rows ({af:,} of the {nf:,} "
        f"flagged, {au:,} of the {nu:,} others; {wf + wu:,} labels truly wrong): precision "
        f"{p:.0%} ({wf:,} of the {af:,} audited flagged rows are truly wrong); recall cannot "
        f"be estimated: only {au} unflagged rows were audited (at least 30 are needed, chosen "
        f"at random). {AUDIT_BIAS_NOTE}")
    assert line.count("cannot measure recall") == 1
    assert html.unescape(build_report(biased.dataset, biased)).count(line) == 1


def test_a_question_mark_true_label_means_wrong_class_unknown(tmp_path):
    from analysis.data.dataset import WRONG_CLASS_UNKNOWN
    from analysis.review.evaluate import audit_design

    rng = np.random.default_rng(0)
    n = 60
    frame = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    frame["label"] = np.where(frame["a"] > 0, "cat", "dog")
    truth = np.array([""] * n, dtype=object)
    truth[:4] = ["?", " Unknown ", "cat", frame["label"][3]]
    frame["true_label"] = truth
    path = tmp_path / "audit.csv"
    frame.to_csv(path, index=False)
    ds = nl.load_dataset(path, "label")
    want = np.full(n, -1)
    want[:2] = WRONG_CLASS_UNKNOWN
    want[2] = ds.class_names.index("cat")
    want[3] = ds.class_names.index(frame["label"][3])
    assert np.array_equal(ds.true_labels, want)
    d = audit_design(nl.analyze(ds, model="logistic", detector="confident_learning"))
    assert d.audited_flagged + d.audited_unflagged == 4
    wrong = 2 + int(frame["label"][2] != "cat")  # both '?' rows count as wrong labels
    assert d.wrong_flagged + d.wrong_unflagged == wrong
    # a class really named "unknown" stays a class
    frame["label"] = np.where(frame["a"] > 0, "unknown", "dog")
    frame["true_label"] = [""] * (n - 1) + ["unknown"]
    frame.to_csv(path, index=False)
    ds = nl.load_dataset(path, "label")
    assert ds.true_labels[-1] == ds.class_names.index("unknown")
