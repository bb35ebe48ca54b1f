"""analysis.review.findings: intervals and slices against slow loops written from the
definitions, the vendor sample's sloppy vendor named first, and errors remaining by simulation
with known truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from findings_cases import review_world
from scipy.special import expit, logit

import analysis as nl
from analysis.review import findings


@pytest.fixture(scope="module")
def vendors():
    dataset = nl.from_sample("digits_vendors")
    return dataset, nl.analyze(dataset, detector="confident_learning")


def _slice_reference(labels, guess, values, k, global_rate):
    """Per slice: for each class its rows times the share of its counted rows counted for
    another class (the dataset's rate when none is counted) — a loop over rows."""
    out = {}
    for s in sorted(set(values)):
        wrong = 0.0
        for c in range(k):
            rows = counted = off = 0
            for y, g, v in zip(labels, guess, values, strict=True):
                if v != s or y != c:
                    continue
                rows += 1
                if g >= 0:
                    counted += 1
                    off += g != y
            rate = off / counted if counted else global_rate[c]
            wrong += rows * rate
        out[s] = wrong
    return out


def test_slices_match_a_loop_and_name_the_sloppy_vendor_first(vendors):
    dataset, result = vendors
    values = findings.slice_values(dataset, "vendor")
    slices = findings.slice_noise(result, values, column="vendor", resamples=400)
    table = slices.table
    labels, guess = result.labels, result.estimated_true
    k = dataset.num_classes
    global_rate = []
    for c in range(k):
        d = np.sum((labels == c) & (guess == c))
        o = np.sum((labels == c) & (guess >= 0) & (guess != c))
        global_rate.append(o / (max(d, 1) + o))
    ref = _slice_reference(labels.tolist(), guess.tolist(), values.tolist(), k, global_rate)
    for r in table.itertuples():
        assert r.wrong == pytest.approx(ref[r.slice], rel=1e-12)
        assert r.rows == int(np.sum(values == r.slice))
        assert r.low <= r.noise_rate <= r.high
    # the card says Crowdwork Co mislabels ~18%, the others ~4%
    assert table["slice"].iloc[0] == "Crowdwork Co"
    worst, others = table.iloc[0], table.iloc[1:]
    assert worst["noise_rate"] > 2.5 * others["noise_rate"].max()
    assert worst["low"] > others["high"].max()
    truth = pd.Series(dataset.true_labels != dataset.labels).groupby(values).mean()
    assert truth["Crowdwork Co"] > 4 * truth.drop("Crowdwork Co").mean()
    # its top confusion is the injected one: true 4 given 9 (given, true) = ("9", "4")
    assert worst["top_pairs"][0][:2] == ("9", "4")
    assert findings.slice_columns(dataset) == ["vendor"]


def test_slice_interval_equals_a_literal_row_bootstrap(vendors):
    """The multinomial-over-cells bootstrap is a row bootstrap: compare percentiles with a
    bootstrap that resamples the rows of one slice and recounts them (MC error allowed)."""
    dataset, result = vendors
    values = findings.slice_values(dataset, "vendor")
    slices = findings.slice_noise(result, values, resamples=2000)
    row = slices.table.iloc[0]
    rows = np.flatnonzero(values == row["slice"])
    labels, guess = result.labels[rows], result.estimated_true[rows]
    k = dataset.num_classes
    g_rate = findings._rates(findings._cells(result.labels, result.estimated_true, k), True)
    rng = np.random.default_rng(1)
    rates = []
    for _ in range(1000):
        pick = rng.integers(0, rows.size, rows.size)
        y, g = labels[pick], guess[pick]
        wrong = 0.0
        for c in range(k):
            n = np.sum(y == c)
            counted = np.sum((y == c) & (g >= 0))
            off = np.sum((y == c) & (g >= 0) & (g != c))
            wrong += n * (off / counted if counted else g_rate[c])
        rates.append(wrong / rows.size)
    lo, hi = np.percentile(rates, [2.5, 97.5])
    assert row["low"] == pytest.approx(lo, abs=0.012)
    assert row["high"] == pytest.approx(hi, abs=0.012)


def test_class_intervals_hold_the_estimates_and_sum_up(vendors):
    _, result = vendors
    ci = findings.class_intervals(result, resamples=500)
    t = ci.table
    assert ci.wrong.estimate == result.estimated_wrong
    assert ci.wrong.low <= result.estimated_wrong <= ci.wrong.high
    assert ci.wrong.high - ci.wrong.low > 10  # not a degenerate interval
    np.testing.assert_allclose(t["noise_rate"], result.per_class["noise_rate"])
    assert (t["noise_low"] <= t["noise_rate"]).all() and (t["noise_rate"] <= t["noise_high"]).all()
    # unrounded per-class wrong sum to N (1 - trace(joint)) up to the joint's rounding
    assert t["wrong"].sum() == pytest.approx(result.estimated_wrong, abs=k_round(result))
    d = ci.as_dict()
    assert len(d["per_class"]) == 10 and "bootstrap" in d["method"]


def k_round(result):
    return len(result.class_names)  # one count of rounding per calibrated row at most


def test_slice_values_names_a_missing_column(vendors):
    dataset, _ = vendors
    with pytest.raises(ValueError, match="no column 'vendr'.*vendor"):
        findings.slice_values(dataset, "vendr")


# --------------------------------------------------------------------------- remaining


def test_errors_remaining_covers_the_truth_in_simulated_reviews():
    covered = covered_flagged = 0
    for seed in range(100):
        m, flagged, reviewed, truth = review_world(seed)
        est = findings.remaining_from(m, flagged, reviewed, truth & reviewed)
        left = truth & ~reviewed
        covered += est.remaining.low <= left.sum() <= est.remaining.high
        f = est.remaining_flagged
        covered_flagged += f.low <= (left & flagged).sum() <= f.high
        assert est.reviewed_flagged == reviewed.sum()
        assert est.confirmed == (truth & reviewed).sum()
    assert covered >= 90
    assert covered_flagged >= 90


def test_precision_line_and_jeffreys_interval():
    m, flagged, reviewed, truth = review_world(3)
    est = findings.remaining_from(m, flagged, reviewed, truth & reviewed)
    hits, n = est.confirmed, est.reviewed_flagged
    assert est.precision.estimate == pytest.approx(hits / n)
    from scipy.stats import beta
    assert est.precision.low == pytest.approx(beta.ppf(0.025, hits + 0.5, n - hits + 0.5))
    line = est.line()
    assert line.startswith(f"Reviewed {n:,} of {flagged.sum():,} flagged · ")
    assert "were real errors" in line and "wrong labels likely remain" in line


def test_review_order_learns_from_false_alarms():
    """A confusion whose flags keep turning out right stays; one whose flags were false
    alarms moves down; rows are ranked by the model before any verdict."""
    rng = np.random.default_rng(0)
    n = 400
    m = rng.uniform(0.5, 0.9, n)
    pairs = np.repeat([0, 1], n // 2)
    flagged = np.ones(n, dtype=bool)
    none = np.zeros(n, dtype=bool)
    before = findings.wrong_probability_from(m, flagged, pairs, none, none)
    assert np.array_equal(np.argsort(-before, kind="stable"), np.argsort(-m, kind="stable"))
    reviewed = np.zeros(n, dtype=bool)
    reviewed[:20] = True              # pair 0: all false alarms
    reviewed[n // 2: n // 2 + 20] = True  # pair 1: all real
    wrong = reviewed & (pairs == 1)
    after = findings.wrong_probability_from(m, flagged, pairs, reviewed, wrong)
    open0 = ~reviewed & (pairs == 0)
    open1 = ~reviewed & (pairs == 1)
    assert after[open0].mean() < 0.5 * after[open1].mean()
    # the reference, row by row: the grid posterior of the shift from the exact logits,
    # the calibrated probability, times (hits + c) / (expected hits + c) of the row's pair
    ell = logit(np.clip(m, 1e-4, 1 - 1e-4))
    grid = np.linspace(-4, 4, 321)
    logpost = []
    for a in grid:
        ll = -0.5 * a * a
        for i in np.flatnonzero(reviewed):
            p = expit(a + ell[i])
            ll += np.log(p) if wrong[i] else np.log(1 - p)
        logpost.append(ll)
    w = np.exp(np.array(logpost) - max(logpost))
    w /= w.sum()
    calibrated = np.array([np.dot(w, expit(grid + e)) for e in ell])
    c = findings.PAIR_PRIOR
    for p in (0, 1):
        rows = reviewed & (pairs == p)
        factor = (wrong[rows].sum() + c) / (calibrated[rows].sum() + c)
        open_rows = ~reviewed & (pairs == p)
        np.testing.assert_allclose(after[open_rows], np.minimum(calibrated[open_rows] * factor, 1),
                                   rtol=0.03)
    assert np.array_equal(after[reviewed], wrong[reviewed].astype(float))


def test_slice_columns_of_a_long_text_table_match_the_definition():
    # a CSV is read as text: every column is a candidate; the choice must not depend on the
    # cheap look at the first rows
    rng = np.random.default_rng(3)
    n = 12_000
    frame = pd.DataFrame({
        "label": rng.choice(["a", "b"], n),
        "vendor": rng.choice(["v1", "v2", "v3"], n),
        "late_variety": np.where(np.arange(n) < 6000, "x", np.arange(n).astype(str)),
        "numbers_as_text": rng.integers(0, 5, n).astype(str),
        "one_value": "same",
        "many": np.arange(n).astype(str),
        "f": rng.normal(size=n),
    })
    ds = nl.from_frame(frame, "label", feature_columns=["f"])

    def loop(dataset):  # the definition, column by column, over every row
        out = []
        for c in dataset.frame.columns:
            if c in ("label",) or pd.api.types.is_numeric_dtype(dataset.frame[c]):
                continue
            values = [str(v) for v in dataset.frame[c] if v is not None and v == v]
            if all(pd.notna(pd.to_numeric(v, errors="coerce")) for v in set(values)):
                continue
            if 2 <= len(set(values)) <= findings.MAX_SLICES:
                out.append(c)
        return out

    assert findings.slice_columns(ds) == loop(ds) == ["vendor"]


def test_keep_decisions_count_as_reviewed_false_alarms_in_errors_remaining():
    """#25: a "keep" is a verdict too (the flag was a false alarm): errors_remaining must count
    it as reviewed, out of the remaining wrong labels, and against the precision."""
    ds = nl.from_sample("digits")
    result = nl.analyze(ds, detector="confident_learning")
    rows = result.ranked[:10]
    actions = ["relabel"] * 4 + ["keep"] * 6
    decisions = pd.DataFrame({"id": np.asarray(ds.ids)[rows].astype(str), "action": actions})
    rem = findings.errors_remaining(result, decisions)
    assert (rem.reviewed, rem.reviewed_flagged, rem.confirmed, rem.false_alarms) == (10, 10, 4, 6)
    assert rem.precision.estimate == pytest.approx(4 / 10)
    # the same model with the six kept rows not reviewed: they would still hold wrong labels
    reviewed = np.zeros(len(ds), dtype=bool)
    reviewed[rows] = True
    wrong = np.zeros(len(ds), dtype=bool)
    wrong[rows[:4]] = True
    want = findings.remaining_from(findings.model_wrong_probability(result), result.is_issue,
                                   reviewed, wrong, prior_total=result.estimated_wrong)
    assert rem.remaining_flagged.estimate == pytest.approx(want.remaining_flagged.estimate)
    reviewed[rows[4:]] = False
    ignored = findings.remaining_from(findings.model_wrong_probability(result), result.is_issue,
                                      reviewed, wrong, prior_total=result.estimated_wrong)
    assert rem.remaining_flagged.estimate < ignored.remaining_flagged.estimate
