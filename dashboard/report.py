"""A standalone HTML report of the findings, for people who don't read code.

One small file that opens offline and prints on A4: its charts are inline SVG and HTML tables
drawn here (no JavaScript, no plotly bundle), so it stays far under 2 MB. Every piece of
dataset text is escaped. It states, in plain words, how sure each number is (95% intervals),
where the wrong labels come from (by class pair and, given a slice column, by slice), how many
are likely left after the review, and how the dataset changed since its last version.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

import analysis as nl
from analysis.core.classes import describe_pair
from analysis.export.split import class_sizes, detector_name
from analysis.pipeline import Analysis
from analysis.review import findings
from analysis.review.evaluate import audit_design, audit_line
from dashboard import thumbs, why
from dashboard.text import html_text

_CSS = """
:root { --accent: #d6336c; --ink: #212529; --muted: #6c757d; --line: #dee2e6; }
* { box-sizing: border-box; }
body { font-family: Inter, "Segoe UI", Helvetica, Arial, sans-serif; color: var(--ink);
       max-width: 1000px; margin: 32px auto; padding: 0 24px; line-height: 1.45; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 32px 0 10px; border-bottom: 2px solid var(--line);
     padding-bottom: 4px; }
h3 { font-size: 15px; margin: 18px 0 6px; }
.sub { color: var(--muted); margin: 0 0 20px; }
.cards { display: grid; grid-template-columns: repeat(4, 1fr); gap: 12px; }
.card { border: 1px solid var(--line); border-radius: 10px; padding: 12px 14px; }
.card .v { font-size: 24px; font-weight: 700; }
.card .ci { color: var(--muted); font-size: 12px; }
.card .l { color: var(--muted); font-size: 13px; }
.finding { margin: 8px 0; padding: 10px 14px; border-left: 4px solid var(--line);
           background: #f8f9fa; border-radius: 0 8px 8px 0; }
.finding.systematic { border-left-color: var(--accent); }
.tag { display: inline-block; font-size: 12px; font-weight: 600; padding: 1px 8px;
       border-radius: 10px; background: #e9ecef; margin-right: 6px; }
.systematic .tag { background: #ffdeeb; color: #a61e4d; }
.note { color: var(--muted); font-size: 13px; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: 10px; }
.suspect { border: 1px solid var(--line); border-radius: 8px; padding: 8px; font-size: 13px;
           break-inside: avoid; }
.suspect img { width: 64px; height: 64px; image-rendering: pixelated; display: block;
               margin-bottom: 4px; }
.suspect .text { max-height: 7.5em; overflow: hidden; color: #343a40; }
.suspect .p { font-weight: 700; }
.arrow { color: var(--accent); font-weight: 700; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 8px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
table.heat { width: auto; }
table.heat td, table.heat th { text-align: center; padding: 3px 6px; min-width: 40px; }
table.heat th.row { text-align: right; }
/* long class names (20news: comp.sys.ibm.pc.hardware) wrap in narrow headers, so the table
   of up to MAX_HEAT_CLASSES classes fits the page; on screen anything wider scrolls inside
   its own box instead of widening the page */
table.heat th { max-width: 7.5em; overflow-wrap: anywhere; white-space: normal;
                vertical-align: bottom; font-size: 12px; line-height: 1.2; }
table.heat th.row { max-width: 12em; }
.scroll { overflow-x: auto; max-width: 100%; }
table.heat td.diag { color: #adb5bd; }
svg.chart { width: 100%; height: auto; display: block; }
svg.chart text { font-family: inherit; font-size: 12px; fill: var(--ink); }
.figure { margin: 8px 0 16px; }
.remaining { font-size: 16px; padding: 10px 14px; background: #fff4e6; border-radius: 8px; }
.foot { color: var(--muted); font-size: 12px; margin-top: 40px; }
@page { size: A4; margin: 14mm; }
@media print {
  body { margin: 0; max-width: none; padding: 0; font-size: 12px; }
  /* A4 between 14 mm margins is ~680 px: smaller type and cells, so 12 columns fit */
  table.heat { font-size: 9px; }
  table.heat td, table.heat th { padding: 2px 3px; min-width: 0; font-size: 9px; }
  table.heat th { max-width: 6em; }
  table.heat th.row { max-width: 9em; }
  .scroll { overflow: visible; }
  h2 { break-after: avoid; }
  .figure, .finding, table, .cards, .suspect { break-inside: avoid; }
}
"""


_e = html_text


#: At most this many classes in a chart or the confusion table: the noisiest / most confused.
MAX_CLASSES_SHOWN = 20
MAX_HEAT_CLASSES = 12


def _hbars(items, *, fmt, title: str, scale_max: float | None = None, width: int = 900) -> str:
    """Horizontal bars with 95% interval whiskers as inline SVG. ``items``: (label, value,
    low, high) with low / high possibly None. Labels are escaped and shortened."""
    if not items:
        return ""
    row, top, left, right = 22, 26, 190, 200
    height = top + row * len(items) + 8
    peak = scale_max or max(max(v, h if h is not None else v) for _, v, _, h in items) or 1.0
    span = width - left - right

    def x(v):
        return left + span * max(0.0, min(v, peak)) / peak

    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
             f'xmlns="http://www.w3.org/2000/svg"><title>{_e(title)}</title>',
             f'<text x="0" y="15" font-weight="600">{_e(title)}</text>']
    for i, (label, value, low, high) in enumerate(items):
        y = top + i * row
        short = str(label) if len(str(label)) <= 30 else str(label)[:29] + "…"
        parts.append(f'<text x="{left - 8}" y="{y + 14}" text-anchor="end">{_e(short)}</text>')
        parts.append(f'<rect x="{left}" y="{y + 3}" width="{x(value) - left:.1f}" height="14" '
                     'fill="#d6336c" fill-opacity="0.75"/>')
        if low is not None and high is not None:
            parts.append(f'<line x1="{x(low):.1f}" x2="{x(high):.1f}" y1="{y + 10}" '
                         f'y2="{y + 10}" stroke="#212529" stroke-width="1.5"/>')
            for end in (low, high):
                parts.append(f'<line x1="{x(end):.1f}" x2="{x(end):.1f}" y1="{y + 5}" '
                             f'y2="{y + 15}" stroke="#212529" stroke-width="1.5"/>')
        text = fmt(value) + ("" if low is None else f" ({fmt(low)}–{fmt(high)})")
        parts.append(f'<text x="{width - right + 6}" y="{y + 14}">{_e(text)}</text>')
    parts.append("</svg>")
    return f'<div class="figure">{"".join(parts)}</div>'


def _heat_classes(gi: np.ndarray, gj: np.ndarray, v: np.ndarray, k: int) -> np.ndarray:
    """Both classes of the largest off-diagonal cells (ties: row-major cell order), until
    :data:`MAX_HEAT_CLASSES`; then the lowest class numbers. Sorted."""
    off = (gi != gj) & (v > 0)
    gi, gj, v = gi[off], gj[off], v[off]
    chosen: dict[int, None] = {}
    for t in np.lexsort((gi.astype(np.int64) * k + gj, -v)):
        for c in (int(gi[t]), int(gj[t])):
            if len(chosen) < MAX_HEAT_CLASSES:
                chosen.setdefault(c, None)
        if len(chosen) >= MAX_HEAT_CLASSES:
            break
    for c in range(k):
        if len(chosen) >= MAX_HEAT_CLASSES:
            break
        chosen.setdefault(c, None)
    return np.sort(np.fromiter(chosen, dtype=np.int64))


def _breakable(name: str) -> str:
    """A class name escaped, with a line-break opportunity after each ``.``, ``_``, ``-``
    and ``/`` (comp.sys.ibm.pc.hardware wraps at its dots, not mid-word)."""
    text = _e(name)
    for ch in "._-/":
        text = text.replace(ch, ch + "<wbr>")
    return text


def _heat(result: Analysis) -> str:
    """The confident joint in counts (estimated rows given i that are truly j) as a table,
    errors shaded; with many classes, the most confused ones (a sparse joint is never made
    dense: only the cells shown are)."""
    cj = result.estimate.confident_joint
    k = cj.shape[0]
    keep = np.arange(k)
    note = ""
    if k > MAX_HEAT_CLASSES:
        if hasattr(cj, "tocoo"):  # many classes: sparse (analysis/core/sparse.py)
            coo = cj.tocoo()
            keep = _heat_classes(coo.row, coo.col, coo.data, k)
        else:
            gi, gj = np.nonzero(np.asarray(cj))
            keep = _heat_classes(gi, gj, np.asarray(cj)[gi, gj], k)
        note = (f'<p class="note">The {MAX_HEAT_CLASSES} classes of the largest confusions, '
                f"of {k}.</p>")
    cj = (cj.tocsr()[keep][:, keep].toarray() if hasattr(cj, "tocsr")
          else np.asarray(cj)[np.ix_(keep, keep)])
    off = cj.copy()
    np.fill_diagonal(off, 0)
    keep_all, keep = keep, np.arange(len(keep))
    names = [str(result.class_names[c]) for c in keep_all]
    peak = max(int(off.max()), 1)
    head = "".join(f"<th>{_breakable(names[j])}</th>" for j in keep)
    rows = []
    for i in keep:
        cells = []
        for j in keep:
            v = int(cj[i, j])
            if i == j:
                cells.append(f'<td class="diag">{v:,}</td>')
            else:
                alpha = 0 if v == 0 else 0.12 + 0.88 * v / peak
                cells.append(f'<td style="background: rgba(214, 51, 108, {alpha:.2f})">'
                             f'{v:,}</td>' if v else "<td>·</td>")
        rows.append(f'<tr><th class="row">{_breakable(names[i])}</th>{"".join(cells)}</tr>')
    return (f'<div class="figure scroll"><table class="heat"><tr><th>given ↓ / really →</th>{head}'
            f'</tr>{"".join(rows)}</table></div>{note}')


def _trend(records: list) -> str:
    """Estimated wrong labels per recorded analysis, as an SVG line with points."""
    if len(records) < 2:
        return ""
    width, height, left, bottom = 900, 170, 50, 30
    values = [r["estimated_wrong"] for r in records]
    peak = max(max(values), 1)
    step = (width - left - 20) / (len(values) - 1)
    pts = [(left + i * step, 20 + (height - bottom - 20) * (1 - v / peak))
           for i, v in enumerate(values)]
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
             'xmlns="http://www.w3.org/2000/svg"><title>Estimated wrong labels per analysis'
             '</title>',
             '<polyline fill="none" stroke="#d6336c" stroke-width="2" points="'
             + " ".join(f"{x:.1f},{y:.1f}" for x, y in pts) + '"/>']
    for (x, y), r in zip(pts, records, strict=True):
        when = time.strftime("%d %b", time.gmtime(r["time"]))
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="#d6336c"/>')
        parts.append(f'<text x="{x:.1f}" y="{y - 8:.1f}" text-anchor="middle">'
                     f'{r["estimated_wrong"]:,}</text>')
        parts.append(f'<text x="{x:.1f}" y="{height - 8}" text-anchor="middle">{when}</text>')
    parts.append("</svg>")
    return f'<div class="figure">{"".join(parts)}</div>'


def _card(value: str, label: str, interval: str = "") -> str:
    ci = f'<div class="ci">{_e(interval)}</div>' if interval else ""
    return (f'<div class="card"><div class="v">{_e(value)}</div>{ci}'
            f'<div class="l">{_e(label)}</div></div>')


def _suspects(dataset: nl.Dataset, result: Analysis, top: int) -> str:
    rows = result.ranked[:top]
    if rows.size == 0:
        return "<p>No label was flagged.</p>"
    names = dataset.class_names
    pixels = None
    if dataset.image_shape is not None:
        pixels = np.asarray(dataset.features, dtype=np.float32)
    items = []
    for r in rows:
        parts = []
        if pixels is not None:
            uri = thumbs.png_data_uri(pixels[r], dataset.image_shape, scale=8)
            parts.append(f'<img src="{uri}" alt="example {_e(dataset.ids[r])}">')
        elif dataset.text_column:
            text = str(dataset.frame[dataset.text_column].iloc[r])[:300]
            parts.append(f'<div class="text">{_e(text)}</div>')
        p_given = float(result.pred_probs[r, result.labels[r]])
        p_sugg = float(result.pred_probs[r, result.suggested[r]])
        parts.append(f"<div>id {_e(dataset.ids[r])}</div>")
        parts.append(f"<div>labelled <b>{_e(names[result.labels[r]])}</b> "
                     f"<span class='arrow'>→</span> looks like "
                     f"<b>{_e(names[result.suggested[r]])}</b></div>")
        parts.append(f"<div class='p'>{_e(_pct(p_given))} sure of the label, "
                     f"{_e(_pct(p_sugg))} of the suggestion</div>")
        items.append(f'<div class="suspect">{"".join(parts)}</div>')
    return f'<div class="grid">{"".join(items)}</div>'


def _pct(p: float) -> str:
    """A probability as a percentage that never reads 0% or 100% when it is not."""
    if 0 < p < 0.001:
        return "<0.1%"
    if 0.999 < p < 1:
        return ">99.9%"
    return f"{100 * p:.1f}%" if p < 0.1 or p > 0.99 else f"{100 * p:.0f}%"


def _changes(dataset: nl.Dataset, cleaned, unreviewed=None) -> str:
    if cleaned is None:
        return ("<p>No cleaning has been applied yet: the review decisions and the exported "
                "split will be summarised here.</p>")
    rows = "".join(f"<tr><td>{_e(r.name)}</td><td>{r.before:,}</td><td>{r.after:,}</td>"
                   f"<td>{r.change:+,}</td></tr>"
                   for r in class_sizes(dataset, cleaned).rename(columns={"class": "name"})
                   .itertuples())
    if unreviewed is not None:  # nobody reviewed: say so, in plain words
        lead = (f'<p class="remaining">{_e(unreviewed.line())}. {cleaned.rows_in:,} rows in, '
                f"{cleaned.rows_out:,} rows out.</p>")
    else:
        lead = (f"<p><b>{cleaned.relabelled:,}</b> rows relabelled, <b>{cleaned.removed:,}</b> "
                f"removed, <b>{cleaned.kept:,}</b> confirmed as correct in the review; ")
        lead += f"{cleaned.rows_in:,} rows in, {cleaned.rows_out:,} rows out.</p>"
    return (
        lead + "<table>"
        f"<tr><th>class</th><th>rows before</th><th>rows after</th><th>change</th></tr>"
        f"{rows}</table>"
    )


_FILTER_WORDS = {
    "prune_by_noise_rate": "as many rows per class pair as confident learning estimates are "
                           "wrong, the least likely labels first",
    "prune_by_class": "as many rows per class as confident learning estimates are wrong",
    "both": "rows that both of confident learning's pruning rules pick",
    "confident_learning": "every row whose confidently predicted class is another class",
    "predicted_neq_given": "every row whose most probable class is not its label",
    "low_self_confidence": "the rows with the lowest probability of their label",
    "low_normalized_margin": "the rows whose label trails another class by the widest margin",
}
_RANK_WORDS = {
    "self_confidence": "the model's confidence in the given label",
    "normalized_margin": "how far the given label trails the most probable other class",
    "confidence_weighted_entropy": "the model's confidence in the given label, weighted by "
                                   "its uncertainty",
}


def _flag_words(result: Analysis) -> str:
    words = _FILTER_WORDS.get(result.filter_by, result.filter_by)
    if result.detector != "clean_and_refit":
        return words
    return (f"after the flagged rows were relabelled and the model fitted again, as many rows "
            f"as this rule picks ({words}), those whose label is least likely relative to "
            "what is usual for their class")


def _methods(result: Analysis) -> str:
    return (
        "Confident learning (Northcutt, Jiang &amp; Chuang, JAIR 2021): every label is "
        "compared with the probabilities of a model that never saw that row in training "
        f"({_e(result.probabilities_source)}). Flagged: "
        f"{_e(_flag_words(result))}; ranked by "
        f"{_e(_RANK_WORDS.get(result.rank_by, result.rank_by))}. Intervals: "
        f"{_e(findings.INTERVAL_METHOD)}."
    )


def _findings_section(result: Analysis, wrong: int, n: int,
                      wi: findings.Interval) -> tuple[str, list[str], pd.DataFrame]:
    """The report's "What we found": the headline sentence, the finding cards, the systematic pairs.

    The six leading class pairs are shown, the systematic ones first; the headline says
    whether the guideline or the rows need the fix.
    """
    pairs = result.pairs()
    systematic = pairs[pairs["verdict"] == "systematic"]
    findings_html = []
    for _, row in pd.concat([systematic, pairs[pairs["verdict"] != "systematic"]]).head(6) \
            .iterrows():
        findings_html.append(
            f'<div class="finding {row["verdict"]}"><span class="tag">{_e(row["verdict"])}'
            f'</span><b>labelled {_e(row["given_name"])}, really {_e(row["true_name"])}</b>: '
            f"{_e(describe_pair(row))}</div>"
        )
    if len(systematic):
        guideline = (f"{len(systematic)} class pair(s) are confused systematically — a sign the "
                     "labelling guideline needs a fix, not just the rows.")
    else:
        guideline = ("No class pair is confused systematically: the wrong labels look like "
                     "isolated mistakes, to be fixed row by row.")
    headline = (
        f"About <b>{wrong:,}</b> of the <b>{n:,}</b> labels ({100 * wrong / max(n, 1):.1f}%) "
        f"are estimated to be wrong (95% interval {wi.low:,.0f}–{wi.high:,.0f}). {guideline}"
    )
    return headline, findings_html, systematic


def _slice_section(slices: findings.Slices | None) -> str:
    """The report's "Where the wrong labels come from": noise by slice, or "" without slices."""
    slice_html = ""
    if slices is not None and len(slices.table):
        t = slices.table
        first = t.iloc[0]
        others = t.iloc[1:]
        lead = ""
        if len(others):
            ratio = first["noise_rate"] / max(others["noise_rate"].mean(), 1e-9)
            lead = (f"<p><b>{_e(first['slice'])}</b> has the noisiest labels: "
                    f"{100 * first['noise_rate']:.1f}% estimated wrong "
                    f"({100 * first['low']:.1f}–{100 * first['high']:.1f}%), {ratio:.1f} times "
                    f"the average of the other {len(others)} "
                    f"{_e(slices.column)} value(s); it holds {100 * first['share_of_wrong']:.0f}% "
                    f"of all estimated wrong labels.</p>")
        rows = "".join(
            f"<tr><td>{_e(r.slice)}</td><td>{r.rows:,}</td><td>{100 * r.noise_rate:.1f}% "
            f"({100 * r.low:.1f}–{100 * r.high:.1f}%)</td><td>{r.wrong:,.0f}</td>"
            f"<td>{r.flagged:,}</td><td>"
            + ", ".join(f"{_e(g)} for {_e(tr)} (~{c:.0f})" for g, tr, c in r.top_pairs)
            + "</td></tr>" for r in t.head(MAX_CLASSES_SHOWN).itertuples())
        slice_html = (
            f"<h2>Where the wrong labels come from: by {_e(slices.column)}</h2>{lead}"
            + _hbars([(r.slice, r.noise_rate, r.low, r.high)
                      for r in t.head(MAX_CLASSES_SHOWN).itertuples()],
                     fmt=lambda v: f"{100 * v:.1f}%",
                     title=f"Share of labels estimated wrong, by {slices.column}")
            + f"<table><tr><th>{_e(slices.column)}</th><th>rows</th><th>estimated wrong "
            "(95% interval)</th><th>wrong rows</th><th>flagged</th><th>most confused "
            f"(labelled X for Y)</th></tr>{rows}</table>")
    return slice_html


def _remaining_section(remaining: findings.Remaining | None) -> str:
    """The report's "After the review": wrong labels likely left, or "" before any review."""
    remaining_html = ""
    if remaining is not None:
        remaining_html = (
            f'<h2>After the review</h2><p class="remaining">{_e(remaining.line())}.</p>'
            f'<p class="note">Of the wrong labels likely left, about '
            f"{remaining.remaining_flagged.estimate:,.0f} are among the flagged rows not yet "
            f"reviewed and {remaining.remaining_unflagged.estimate:,.0f} among the rows nobody "
            f"flagged. Model: {_e(remaining.method)}.</p>")
    return remaining_html


def _history_section(history) -> str:
    """The report's "History": the trend of earlier analyses, or "" with fewer than two."""
    history_html = ""
    if history is not None and len(history.records) >= 2:
        ch = history.changes()
        since = ""
        if ch is not None:
            moved = ", ".join(f"{_e(c['class'])} {100 * c['before']:.1f}% → "
                              f"{100 * c['now']:.1f}%" for c in ch["classes"][:3]
                              if round(100 * c["before"], 1) != round(100 * c["now"], 1))
            since = (f"<p>Since the previous version ("
                     f"{_e(time.strftime('%d %B %Y', time.gmtime(ch['since'])))}): "
                     f"{ch['rows']:+,} rows, label health {ch['health']:+.1f} points, "
                     f"estimated wrong labels {ch['estimated_wrong']:+,}"
                     + (f"; biggest moves: {moved}" if moved else "") + ".</p>")
        history_html = (f"<h2>History</h2><p>{len(history.records)} analyses of this dataset "
                        "recorded; estimated wrong labels over time:</p>"
                        f"{_trend(history.records)}{since}")
    return history_html


def build_report(dataset: nl.Dataset, result: Analysis, *, cleaned=None, top: int = 24,
                 title: str | None = None, slices: findings.Slices | None = None,
                 remaining: findings.Remaining | None = None, history=None,
                 intervals: findings.ClassIntervals | None = None, unreviewed=None) -> str:
    """The report as one HTML string (no script, inline SVG charts).

    Parameters
    ----------
    dataset, result
        The dataset and its :class:`~analysis.pipeline.Analysis`.
    cleaned : analysis.export.split.Cleaned, optional
        What the cleaning changed (from :func:`analysis.export.split.apply_decisions`).
    top : int
        How many of the most suspect rows to show.
    slices : analysis.review.findings.Slices, optional
        Noise by slice (e.g. by vendor): a section "Where the wrong labels come from".
    remaining : analysis.review.findings.Remaining, optional
        The review's evidence: precision of the flags, wrong labels likely left.
    history : analysis.review.history.History, optional
        Earlier analyses of the dataset: the trend and what changed.
    intervals : analysis.review.findings.ClassIntervals, optional
        Computed when not given.
    unreviewed : analysis.export.split.Unreviewed, optional
        The cleaning applied the detector's suggestions without review: the report says
        which changes no person reviewed.
    """
    intervals = intervals or findings.class_intervals(result)
    n = len(dataset)
    k = dataset.num_classes
    wrong = result.estimated_wrong
    wi = intervals.wrong
    name = title or f"Label quality report — {dataset.source}"
    headline, findings_html, systematic = _findings_section(result, wrong, n, wi)
    design = audit_design(result)  # the Overview's and Evaluate's sentence (#25)
    truth_note = "" if design is None else f"<p>{_e(audit_line(design))}</p>"
    table = intervals.table.sort_values("noise_rate", ascending=False, kind="stable")
    shown = table.head(MAX_CLASSES_SHOWN)
    bars_title = ("Share of each class's labels estimated wrong (95% interval)" if k <= 20 else
                  f"The {MAX_CLASSES_SHOWN} noisiest of {k} classes: share of labels wrong")
    bars = _hbars([(r.name, r.noise_rate, r.noise_low, r.noise_high) for r in shown.itertuples()],
                  fmt=lambda v: f"{100 * v:.1f}%", title=bars_title)
    slice_html = _slice_section(slices)
    remaining_html = _remaining_section(remaining)
    history_html = _history_section(history)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{_e(name)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>{_CSS}</style>
</head><body>
<h1>{_e(name)}</h1>
<p class="sub">{_e(time.strftime("%d %B %Y"))} · {n:,} rows · {k} classes ·
flagged by {_e(detector_name(result))}, ranked by
{_e(_RANK_WORDS.get(result.rank_by, result.rank_by))}</p>
<div class="cards">
{_card(f"{result.health:.1f} / 100", "label health (estimated % correct)")}
{_card(f"{wrong:,}", "estimated wrong labels", f"95% interval {wi.low:,.0f}–{wi.high:,.0f}")}
{_card(f"{result.num_issues:,}", "rows flagged for review")}
{_card(f"{len(systematic)}", "systematic confusions")}
</div>
<h2>What we found</h2>
<p>{headline}</p>
{truth_note}
{"".join(findings_html) or "<p>No class pair is confused.</p>"}
{slice_html}
{remaining_html}
<h2>Where the errors are</h2>
<h3>Estimated wrong labels by class pair (rows labelled as the row class, really the
column class; grey: labels estimated right)</h3>
<p class="note">Calibrated counts: the confident joint scaled to the class sizes, so a cell
may differ from the raw number of rows the dashboard's Noise matrix lists under it.</p>
{_heat(result)}
{bars}
{history_html}
<h2>The most suspect examples</h2>
<p>Each card: the label given, the class the model suggests, and how sure the model is of
each. The lower the first percentage, the likelier the label is wrong.</p>
{_suspects(dataset, result, top)}
{why.report_section(dataset, result)}
<h2>What the cleaning changed</h2>
{_changes(dataset, cleaned, unreviewed)}
<h2>How these numbers were made</h2>
<p class="note">{_methods(result)}</p>
<p class="foot">Input fingerprint {_e(dataset.fingerprint[:16])}…, generated by noiselens.</p>
</body></html>
"""
