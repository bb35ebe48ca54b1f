"""Every number of every sentence of the report, and of the Overview's headline figures,
parsed from what a person reads and recomputed from the definitions by the slow reference
loops of ``tests/reference_cl.py`` (#25: a sentence whose number is wrong must fail a test
that does not share its code). The noisiest-slice sentence has its own file
(``tests/test_sentences.py``).

The data set brings its own pred_probs (so the detector is confident learning, which the
reference defines) and class names that are markup (``<b>``, ``&``, ``![x]``): the parsed text
is the unescaped HTML, so the escaping is checked on the way.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import reference_cl as ref
from streamlit.testing.v1 import AppTest

import analysis as nl
from analysis.export.split import apply_decisions
from dashboard.report import build_report

NUMBER = r"([0-9][0-9,]*(?:\.[0-9]+)?)"
NAMES = ["cat", "<b>dog</b>", "a & b", "![x](y)", "eel"]


def _num(text: str) -> float:
    return float(text.replace(",", ""))


def _dataset(seed: int = 3, n: int = 700):
    """Five classes, two systematic confusions (dog given for cat, eel for 'a & b') and
    scattered mistakes, with pred_probs of a model that knows the truth fairly well."""
    rng = np.random.default_rng(seed)
    k = len(NAMES)
    truth = rng.integers(0, k, n)
    given = truth.copy()
    swap = rng.random(n)
    given[(truth == 0) & (swap < 0.30)] = 1
    given[(truth == 2) & (swap < 0.25)] = 4
    scatter = rng.random(n) < 0.04
    given[scatter] = rng.integers(0, k, scatter.sum())
    logits = rng.normal(size=(n, k)) + 3.0 * np.eye(k)[truth]
    probs = np.exp(logits)
    probs /= probs.sum(axis=1, keepdims=True)
    X = rng.normal(size=(n, 2))
    labels = np.array(NAMES, dtype=object)[given]
    return nl.from_arrays(X, labels, class_names=NAMES, pred_probs=probs.astype(np.float32),
                          ids=[f"r{i}" for i in range(n)])


@pytest.fixture(scope="module")
def case():
    ds = _dataset()
    result = nl.analyze(ds)
    assert result.detector == "confident_learning"
    labels = np.asarray(result.labels)
    probs = np.asarray(result.pred_probs, dtype=np.float64)
    est = ref.noise_estimate(labels, probs)
    return ds, result, labels, probs, est


def _page(ds, result, **kw) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", build_report(ds, result, **kw)))


def _expected_wrong(labels, est) -> int:
    """N x (1 - trace(joint)), the joint from the reference's calibrated confident joint."""
    return int(round(len(labels) * (1.0 - float(np.trace(est["joint"])))))


def _expected_pairs(est, names, threshold=0.10):
    """Off-diagonal cells with at least one row, by a loop: (given, true, count, P(given |
    true), verdict), sorted as the report lists them (most rows first, then rate)."""
    cj, noise = est["confident_joint"], est["noise_matrix"]
    k = cj.shape[0]
    out = []
    for i in range(k):
        for j in range(k):
            if i != j and cj[i, j] >= 1:
                verdict = "systematic" if noise[i, j] > threshold else "isolated"
                out.append((names[i], names[j], int(cj[i, j]), float(noise[i, j]), verdict))
    return out


def test_headline_numbers(case):
    ds, result, labels, probs, est = case
    page = _page(ds, result)
    m = re.search(rf"About {NUMBER} of the {NUMBER} labels \({NUMBER}%\) are estimated to be "
                  rf"wrong \(95% interval {NUMBER}–{NUMBER}\)\. ", page)
    assert m, "the headline is missing or reworded"
    wrong, n, pct, low, high = (_num(g) for g in m.groups())
    want = _expected_wrong(labels, est)
    assert (wrong, n) == (want, len(labels))
    assert pct == pytest.approx(100 * want / len(labels), abs=0.05)
    assert low <= wrong <= high


def test_cards(case):
    ds, result, labels, probs, est = case
    page = _page(ds, result)
    health = 100 * float(np.trace(est["joint"]))
    assert re.search(rf"{health:.1f} / 100\s*label health", page)
    assert re.search(rf"{_expected_wrong(labels, est):,}\s*95% interval {NUMBER}–{NUMBER}\s*"
                     r"estimated wrong labels", page)
    flagged = int(ref.find_label_issues(labels, probs).sum())
    assert re.search(rf"{flagged:,}\s*rows flagged for review", page)
    systematic = [p for p in _expected_pairs(est, NAMES) if p[4] == "systematic"]
    assert len(systematic) >= 2  # the data set was made with two
    assert re.search(rf"{len(systematic)}\s*systematic confusions", page)
    m = re.search(r"(\d+) class pair\(s\) are confused systematically", page)
    assert m and int(m.group(1)) == len(systematic)


def test_every_pair_sentence(case):
    ds, result, labels, probs, est = case
    page = _page(ds, result)
    pairs = _expected_pairs(est, NAMES)
    systematic = sorted((p for p in pairs if p[4] == "systematic"), key=lambda p: (-p[2], -p[3]))
    isolated = sorted((p for p in pairs if p[4] != "systematic"), key=lambda p: (-p[2], -p[3]))
    shown = (systematic + isolated)[:6]
    found = re.findall(
        r"(systematic|isolated)labelled (.+?), really (.+?): (?:About (\d+)% of the items that "
        r"are really '(.+?)' are labelled '(.+?)' \(~(\d+) rows\)|~(\d+) items labelled '(.+?)' "
        r"look like '(.+?)' \((\d+)% of that class\))", page)
    assert len(found) == len(shown)
    for got, (given, true, count, rate, verdict) in zip(found, shown, strict=True):
        assert got[0] == verdict and (got[1], got[2]) == (given, true)
        if verdict == "systematic":
            pct, t, g, c = got[3], got[4], got[5], got[6]
        else:
            c, g, t, pct = got[7], got[8], got[9], got[10]
        assert (g, t) == (given, true)
        assert int(c) == count
        assert int(pct) == round(100 * rate)


def _pct(p: float) -> str:
    """The report's percentage, written again from its rule (never 0% nor 100% when not)."""
    if 0 < p < 0.001:
        return "<0.1%"
    if 0.999 < p < 1:
        return ">99.9%"
    return f"{100 * p:.1f}%" if p < 0.1 or p > 0.99 else f"{100 * p:.0f}%"


def test_every_suspect_card(case):
    ds, result, labels, probs, est = case
    top = 12
    raw = build_report(ds, result, top=top)
    cards = [tuple(html.unescape(g) for g in c) for c in re.findall(
        r"<div>id (r\d+)</div><div>labelled <b>(.+?)</b> <span class='arrow'>→</span> looks "
        r"like <b>(.+?)</b></div><div class='p'>(\S+) sure of the label, (\S+) of the "
        r"suggestion</div>", raw)]
    order = ref.ranked_issues(labels, probs, "prune_by_noise_rate", "self_confidence")[:top]
    assert len(cards) == len(order) == top
    for (rid, given, looks, p_given, p_sugg), row in zip(cards, order, strict=True):
        assert rid == f"r{row}"
        best = [j for j in np.argsort(-probs[row], kind="stable") if j != labels[row]][0] \
            if ref.first_argmax(probs[row]) == labels[row] else ref.first_argmax(probs[row])
        assert given == NAMES[labels[row]] and looks == NAMES[best]
        assert p_given == _pct(probs[row, labels[row]])
        assert p_sugg == _pct(probs[row, best])


def test_change_list_sentence(case):
    ds, result, labels, probs, est = case
    flagged = list(result.ranked[:9])
    decisions = pd.DataFrame({
        "id": [f"r{r}" for r in flagged],
        "action": ["relabel"] * 4 + ["remove"] * 3 + ["keep"] * 2,
        "new_label": [NAMES[(labels[r] + 1) % 5] for r in flagged[:4]] + [""] * 5,
    })
    cleaned = apply_decisions(ds, decisions)
    page = _page(ds, result, cleaned=cleaned)
    m = re.search(rf"{NUMBER} rows relabelled, {NUMBER} removed, {NUMBER} confirmed as correct "
                  rf"in the review; {NUMBER} rows in, {NUMBER} rows out\.", page)
    assert m
    counts = {"relabel": 0, "remove": 0, "keep": 0}
    for action in decisions["action"]:
        counts[action] += 1
    assert [_num(g) for g in m.groups()] == [counts["relabel"], counts["remove"],
                                            counts["keep"], len(labels),
                                            len(labels) - counts["remove"]]
    # the class-size table: rows before / after per class, by a loop over the decisions
    after = {name: int((labels == c).sum()) for c, name in enumerate(NAMES)}
    before = dict(after)
    for (_, d), r in zip(decisions.iterrows(), flagged, strict=True):
        if d["action"] == "remove":
            after[NAMES[labels[r]]] -= 1
        elif d["action"] == "relabel":
            after[NAMES[labels[r]]] -= 1
            after[d["new_label"]] += 1
    raw = build_report(ds, result, cleaned=cleaned)
    table = raw[raw.index("<th>rows before</th>"):]
    table = table[:table.index("</table>")]
    rows = re.findall(r"<tr><td>(.*?)</td><td>([0-9,]+)</td><td>([0-9,]+)</td>"
                      r"<td>([+-]?[0-9,]+)</td></tr>", table)
    assert sorted(html.unescape(r[0]) for r in rows) == sorted(NAMES)
    for name, b, a, change in rows:
        name = html.unescape(name)
        assert (_num(b), _num(a), _num(change)) == (
            before[name], after[name], after[name] - before[name]), name


def test_overview_figures_equal_the_reference(case, tmp_path, monkeypatch):
    """The Overview's five metrics and its caption, for the same file opened in the app."""
    ds, result, labels, probs, est = case
    frame = pd.DataFrame({"id": ds.ids, "label": np.array(NAMES, dtype=object)[labels]})
    for c, name in enumerate(NAMES):
        frame[f"pred_prob_{name}"] = probs[:, c]
    path = tmp_path / "markup.csv"
    frame.to_csv(path, index=False)
    monkeypatch.setenv("NOISELENS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("NOISELENS_PROJECTION", "pca")
    monkeypatch.setattr("sys.argv", ["app.py", "--data", str(path), "--label-col", "label",
                                     "--id-col", "id"])
    import streamlit as st

    st.cache_data.clear()
    st.cache_resource.clear()
    app = str(Path(__file__).resolve().parents[1] / "dashboard" / "app.py")
    at = AppTest.from_file(app, default_timeout=120).run()
    assert not at.exception, at.exception
    values = {m.label: m.value for m in at.metric}
    # probabilities went through a CSV: recompute the reference from what the file holds
    back = pd.read_csv(path)
    p = back[[f"pred_prob_{n}" for n in NAMES]].to_numpy(np.float64)
    y = np.array([NAMES.index(v) for v in back["label"]])
    e = ref.noise_estimate(y, p / p.sum(axis=1, keepdims=True))
    wrong = _expected_wrong(y, e)
    assert values["Rows"] == f"{len(y):,}"
    assert values["Classes"] == str(len(NAMES))
    assert values["Label health"] == f"{100 * float(np.trace(e['joint'])):.1f} / 100"
    assert values["Estimated wrong labels"] == f"{wrong:,}"
    assert values["Flagged for review"] == \
        f"{int(ref.find_label_issues(y, p / p.sum(axis=1, keepdims=True)).sum()):,}"
    caption = next(c.value for c in at.caption if c.value.startswith("Estimated wrong labels"))
    m = re.match(rf"Estimated wrong labels: \*\*{NUMBER}\*\*, 95% interval {NUMBER}–{NUMBER}",
                 caption)
    assert m and _num(m.group(1)) == wrong and _num(m.group(2)) <= wrong <= _num(m.group(3))


def test_review_sentence(case):
    """'Reviewed A of B flagged · P% were real errors (L–H%)': counts by a loop over the
    decisions, the interval Jeffreys' from its definition (Beta(hits + 1/2, misses + 1/2))."""
    from scipy.stats import beta

    from analysis.review import findings

    ds, result, labels, probs, est = case
    flagged_rows = list(result.ranked[:10])
    unflagged = [r for r in range(len(labels)) if not result.is_issue[r]][:3]
    decisions = pd.DataFrame({
        "id": [f"r{r}" for r in flagged_rows + unflagged],
        "action": ["relabel", "remove", "keep", "relabel", "keep", "relabel", "relabel",
                   "remove", "keep", "relabel", "keep", "relabel", "keep"],
    })
    remaining = findings.errors_remaining(result, decisions)
    page = _page(ds, result, remaining=remaining)
    m = re.search(rf"Reviewed {NUMBER} of {NUMBER} flagged · {NUMBER}% were real errors "
                  rf"\({NUMBER}–{NUMBER}%\) · about {NUMBER} wrong labels likely remain "
                  rf"\({NUMBER}–{NUMBER}\)\.", page)
    assert m, "the review sentence is missing or reworded"
    reviewed, flagged, pct, low, high, left, left_low, left_high = (_num(g) for g in m.groups())
    hits = misses = 0
    for rid, action in zip(decisions["id"], decisions["action"], strict=True):
        if result.is_issue[int(rid[1:])]:
            hits += action in ("relabel", "remove")
            misses += action == "keep"
    assert reviewed == hits + misses == 10
    assert flagged == int(ref.find_label_issues(labels, probs).sum())
    assert pct == round(100 * hits / (hits + misses))
    lo, hi = beta.ppf([0.025, 0.975], hits + 0.5, misses + 0.5)
    assert (low, high) == (round(100 * lo), round(100 * hi))
    assert left_low <= left <= left_high


def test_history_sentence(case, tmp_path, monkeypatch):
    """'Since the previous version (date): +R rows, label health +H points, estimated wrong
    labels +W; biggest moves: class a% → b%': each delta from the two versions' reference
    numbers, the moves from each version's per-class noise rate (1 - P(true = j | given = j))."""
    from analysis.review import history

    monkeypatch.setenv("NOISELENS_HOME", str(tmp_path))
    ds1, result1, labels1, probs1, est1 = case
    ds2 = _dataset(seed=4, n=640)  # the next version of the file: other rows, other mistakes
    result2 = nl.analyze(ds2)
    labels2 = np.asarray(result2.labels)
    probs2 = np.asarray(result2.pred_probs, dtype=np.float64)
    est2 = ref.noise_estimate(labels2, probs2)
    history.record_analysis(ds1, result1, key="markup")
    hist = history.record_analysis(ds2, result2, key="markup")
    page = _page(ds2, result2, history=hist)
    m = re.search(rf"Since the previous version \([^)]+\): ([+-]{NUMBER}) rows, label health "
                  rf"([+-]{NUMBER}) points, estimated wrong labels ([+-]{NUMBER})"
                  r"(?:; biggest moves: (.+?))?\.(?=\s|$)", page)
    assert m, "the history sentence is missing or reworded"
    rows, health, wrong = _num(m.group(1)), _num(m.group(3)), _num(m.group(5))
    assert rows == len(labels2) - len(labels1)
    h1, h2 = (100 * float(np.trace(e["joint"])) for e in (est1, est2))
    assert health == pytest.approx(h2 - h1, abs=0.051)
    assert wrong == _expected_wrong(labels2, est2) - _expected_wrong(labels1, est1)
    moves = re.findall(rf"(.+?) {NUMBER}% → {NUMBER}%(?:, |$)", m.group(7) or "")
    assert moves, "the per-class moves are missing"
    rate1 = dict(zip(NAMES, est1["noise_rate"], strict=True))
    rate2 = dict(zip(NAMES, est2["noise_rate"], strict=True))
    biggest = sorted(NAMES, key=lambda c: -abs(rate2[c] - rate1[c]))
    shown = [c for c in biggest[:3] if round(100 * rate1[c], 1) != round(100 * rate2[c], 1)]
    assert [name for name, _, _ in moves] == shown
    for name, before, now in moves:
        assert _num(before) == pytest.approx(100 * rate1[name], abs=0.051)
        assert _num(now) == pytest.approx(100 * rate2[name], abs=0.051)


def test_per_class_bars(case):
    """Each class's bar: its noise rate, 1 - P(true = j | given = j) from the reference, with
    the interval around it; the noisiest first."""
    ds, result, labels, probs, est = case
    raw = build_report(ds, result)
    svg = raw[raw.index("Share of each class"):]
    svg = svg[:svg.index("</svg>")]
    texts = [html.unescape(t) for t in re.findall(r"<text [^>]*>([^<]*)</text>", svg)][1:]
    names, values = texts[0::2], texts[1::2]
    rate = dict(zip(NAMES, est["noise_rate"], strict=True))
    assert names == sorted(NAMES, key=lambda c: -rate[c])
    for name, value in zip(names, values, strict=True):
        m = re.fullmatch(rf"{NUMBER}% \({NUMBER}%–{NUMBER}%\)", value)
        assert m, value
        got, low, high = (_num(g) for g in m.groups())
        assert got == pytest.approx(100 * rate[name], abs=0.051)
        assert low <= got <= high


def test_audit_sentence(case):
    """With every row's true label known: precision and recall by a loop over the rows."""
    ds, result, labels, probs, est = case
    rng = np.random.default_rng(11)
    truth = labels.copy()
    flagged = np.flatnonzero(result.is_issue)
    truth[flagged[: len(flagged) // 2]] = (labels[flagged[: len(flagged) // 2]] + 1) % 5
    unflagged = np.flatnonzero(~result.is_issue)
    hidden = rng.choice(unflagged, 20, replace=False)
    truth[hidden] = (labels[hidden] + 2) % 5
    frame = ds.frame.copy()
    frame["true_label"] = np.array(NAMES, dtype=object)[truth]
    ds2 = nl.from_frame(frame, "label", id_column="id", feature_columns=["x0", "x1"],
                        class_names=NAMES, pred_probs=np.asarray(result.pred_probs),
                        true_label_column="true_label")
    result2 = nl.analyze(ds2)
    page = _page(ds2, result2)
    m = re.search(rf"Checked against the known true labels of {NUMBER} rows \({NUMBER} of the "
                  rf"{NUMBER} flagged, {NUMBER} of the {NUMBER} others; {NUMBER} labels truly "
                  rf"wrong\): precision {NUMBER}% \({NUMBER} of the {NUMBER} audited flagged "
                  rf"rows are truly wrong\); recall {NUMBER}%", page)
    assert m, "the audit sentence is missing or reworded"
    known, a_f, n_f, a_u, n_u, wrong, prec, w_f, a_f2, rec = (_num(g) for g in m.groups())
    hits = sum(1 for i in range(len(labels)) if result2.is_issue[i] and truth[i] != labels[i])
    total_wrong = sum(1 for i in range(len(labels)) if truth[i] != labels[i])
    assert (known, wrong) == (len(labels), total_wrong)
    assert (a_f, n_f, a_f2) == (result2.is_issue.sum(),) * 3
    assert (a_u, n_u) == ((~result2.is_issue).sum(),) * 2
    assert w_f == hits and prec == round(100 * hits / result2.is_issue.sum())
    assert rec == round(100 * hits / total_wrong)
