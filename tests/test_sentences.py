"""Every number of the noisiest-slice sentence, in the report and on the Overview, parsed and
recomputed from the definitions by a slow loop (#25: a ratio over the mean of *all* slices
instead of the others passed every report and findings test)."""

from __future__ import annotations

import html
import re

import numpy as np
import pytest

import analysis as nl
from analysis.review import findings
from dashboard.findings_view import noisiest_slice_line
from dashboard.report import build_report

NUMBER = r"([0-9][0-9,]*(?:\.[0-9]+)?)"


def _expected(table, rows_per_slice):
    """From the slice table's per-slice rates and estimated wrong rows, by a loop: the
    noisiest slice, its rate and interval in %, the mean rate of the OTHER slices, the ratio,
    their count and the noisiest slice's share of all estimated wrong rows."""
    rates = {}
    for r in table.itertuples():
        rates[r.slice] = (float(r.noise_rate), float(r.low), float(r.high), float(r.wrong))
    noisiest = max(rates, key=lambda s: rates[s][0])
    others = [s for s in rates if s != noisiest]
    total = 0.0
    for s in others:
        total += rates[s][0]
    mean_others = total / len(others)
    wrong_all = sum(v[3] for v in rates.values())
    rate, low, high, wrong = rates[noisiest]
    assert rows_per_slice[noisiest] > 0
    return {"slice": noisiest, "rate": 100 * rate, "low": 100 * low, "high": 100 * high,
            "ratio": rate / mean_others, "others": len(others),
            "share": 100 * wrong / wrong_all}


def _cases():
    ds = nl.from_sample("digits_vendors")
    yield "vendor", ds
    # a second slicing of another data set: the row number mod 3, three buckets
    ds2 = nl.from_sample("digits")
    yield "bucket", ds2


@pytest.fixture(scope="module")
def sliced():
    out = []
    for column, ds in _cases():
        result = nl.analyze(ds, detector="confident_learning")
        if column == "vendor":
            values = findings.slice_values(ds, "vendor")
        else:
            values = np.array(["low", "mid", "high"], dtype=object)[np.arange(len(ds)) % 3]
        slices = findings.slice_noise(result, values, column=column, resamples=200)
        counts = {v: int((values == v).sum()) for v in set(values)}
        out.append((ds, result, slices, counts))
    return out


def test_every_number_of_the_report_slice_sentence(sliced):
    for ds, result, slices, counts in sliced:
        want = _expected(slices.table, counts)
        page = html.unescape(build_report(ds, result, slices=slices))
        m = re.search(rf"<b>([^<]+)</b> has the noisiest labels: {NUMBER}% estimated wrong "
                      rf"\({NUMBER}–{NUMBER}%\), {NUMBER} times the average of the other "
                      rf"{NUMBER} (\w+) value\(s\); it holds {NUMBER}% of all estimated wrong "
                      r"labels\.", page)
        assert m, "the sentence is missing or reworded"
        name, rate, low, high, ratio, others, column, share = m.groups()
        assert name == want["slice"] and column == slices.column
        assert float(rate) == pytest.approx(want["rate"], abs=0.05)
        assert float(low) == pytest.approx(want["low"], abs=0.05)
        assert float(high) == pytest.approx(want["high"], abs=0.05)
        assert float(ratio) == pytest.approx(want["ratio"], abs=0.05)
        assert int(others) == want["others"]
        assert float(share) == pytest.approx(want["share"], abs=0.5)


def test_every_number_of_the_overview_slice_sentence(sliced):
    for _, _, slices, counts in sliced:
        want = _expected(slices.table, counts)
        line = noisiest_slice_line(slices.table, slices.column)
        m = re.fullmatch(rf"\*\*(.+)\*\* \((.+)\) has the noisiest labels:\u2060? {NUMBER}% "
                         rf"estimated wrong \({NUMBER}–{NUMBER}%\), {NUMBER}× the others' "
                         r"average\.", line)
        assert m, line
        name, column, rate, low, high, ratio = m.groups()
        assert name.replace("\\", "") == want["slice"] and column == slices.column
        assert float(rate) == pytest.approx(want["rate"], abs=0.05)
        assert float(low) == pytest.approx(want["low"], abs=0.05)
        assert float(high) == pytest.approx(want["high"], abs=0.05)
        assert float(ratio) == pytest.approx(want["ratio"], abs=0.05)
