"""A standalone HTML report of the findings, for people who don't read code.

One file that opens offline (plotly's JavaScript is inlined once), prints well to PDF, and
escapes every piece of dataset text. Built from the same figure functions as the pages.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

import analysis as nl
from analysis.classes import describe_pair
from analysis.evaluate import truth_check
from analysis.export import class_sizes
from analysis.pipeline import Analysis
from dashboard import figures, thumbs, why
from dashboard.text import html_text

_CSS = """
:root { --accent: #d6336c; --ink: #212529; --muted: #6c757d; --line: #dee2e6; }
* { box-sizing: border-box; }
body { font-family: Inter, "Segoe UI", Helvetica, Arial, sans-serif; color: var(--ink);
       max-width: 1100px; margin: 32px auto; padding: 0 24px; line-height: 1.45; }
h1 { font-size: 28px; margin: 0 0 4px; }
h2 { font-size: 20px; margin: 36px 0 10px; border-bottom: 2px solid var(--line);
     padding-bottom: 4px; }
.sub { color: var(--muted); margin: 0 0 20px; }
.cards { display: grid; grid-template-columns: repeat(4, 1fr); gap: 12px; }
.card { border: 1px solid var(--line); border-radius: 10px; padding: 12px 14px; }
.card .v { font-size: 26px; font-weight: 700; }
.card .l { color: var(--muted); font-size: 13px; }
.finding { margin: 8px 0; padding: 10px 14px; border-left: 4px solid var(--line);
           background: #f8f9fa; border-radius: 0 8px 8px 0; }
.finding.systematic { border-left-color: var(--accent); }
.tag { display: inline-block; font-size: 12px; font-weight: 600; padding: 1px 8px;
       border-radius: 10px; background: #e9ecef; margin-right: 6px; }
.systematic .tag { background: #ffdeeb; color: #a61e4d; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: 10px; }
.suspect { border: 1px solid var(--line); border-radius: 8px; padding: 8px; font-size: 13px;
           break-inside: avoid; }
.suspect img { width: 64px; height: 64px; image-rendering: pixelated; display: block;
               margin-bottom: 4px; }
.suspect .text { max-height: 7.5em; overflow: hidden; color: #343a40; }
.arrow { color: var(--accent); font-weight: 700; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 8px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.foot { color: var(--muted); font-size: 12px; margin-top: 40px; }
@media print {
  body { margin: 0; max-width: none; }
  h2 { break-after: avoid; }
  .figure, .finding, table { break-inside: avoid; }
}
"""


_e = html_text


def _figure(fig) -> str:
    fig.update_layout(width=None)
    body = fig.to_html(full_html=False, include_plotlyjs=False,
                       config={"displayModeBar": False, "responsive": True})
    return f'<div class="figure">{body}</div>'


def _card(value: str, label: str) -> str:
    return (f'<div class="card"><div class="v">{_e(value)}</div>'
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
        parts.append(f"<div>id {_e(dataset.ids[r])}</div>")
        parts.append(f"<div>{_e(names[result.labels[r]])} <span class='arrow'>→</span> "
                     f"<b>{_e(names[result.suggested[r]])}</b></div>")
        parts.append(f"<div>quality {result.scores[r]:.3f}</div>")
        items.append(f'<div class="suspect">{"".join(parts)}</div>')
    return f'<div class="grid">{"".join(items)}</div>'


def _changes(dataset: nl.Dataset, cleaned) -> str:
    if cleaned is None:
        return ("<p>No cleaning has been applied yet: the review decisions and the exported "
                "split will be summarised here.</p>")
    rows = "".join(f"<tr><td>{_e(r.name)}</td><td>{r.before:,}</td><td>{r.after:,}</td>"
                   f"<td>{r.change:+,}</td></tr>"
                   for r in class_sizes(dataset, cleaned).rename(columns={"class": "name"})
                   .itertuples())
    return (
        f"<p><b>{cleaned.relabelled:,}</b> rows relabelled, <b>{cleaned.removed:,}</b> removed, "
        f"<b>{cleaned.kept:,}</b> confirmed as correct; {cleaned.rows_in:,} rows in, "
        f"{cleaned.rows_out:,} rows out.</p>"
        f"<table><tr><th>class</th><th>rows before</th><th>rows after</th><th>change</th></tr>"
        f"{rows}</table>"
    )


def build_report(dataset: nl.Dataset, result: Analysis, *, cleaned=None, top: int = 24,
                 title: str | None = None) -> str:
    """The report as one HTML string.

    Parameters
    ----------
    dataset, result
        The dataset and its :class:`~analysis.pipeline.Analysis`.
    cleaned : analysis.export.Cleaned, optional
        What the cleaning changed (from :func:`analysis.export.apply_decisions`).
    top : int
        How many of the most suspect rows to show.
    """
    from plotly.offline import get_plotlyjs

    est = result.estimate
    n = len(dataset)
    wrong = result.estimated_wrong
    name = title or f"Label quality report — {dataset.source}"
    pairs = result.pairs()
    systematic = pairs[pairs["verdict"] == "systematic"]
    findings = []
    for _, row in pd.concat([systematic, pairs[pairs["verdict"] != "systematic"]]).head(6) \
            .iterrows():
        findings.append(
            f'<div class="finding {row["verdict"]}"><span class="tag">{_e(row["verdict"])}'
            f'</span><b>{_e(row["given_name"])} → really {_e(row["true_name"])}</b>: '
            f"{_e(describe_pair(row))}</div>"
        )
    headline = (
        f"About <b>{wrong:,}</b> of the <b>{n:,}</b> labels ({100 * wrong / max(n, 1):.1f}%) "
        f"are estimated to be wrong. {len(systematic)} class pair(s) are confused "
        "systematically — a sign the labelling guideline needs a fix, not just the rows."
    )
    check = truth_check(result)
    truth_note = "" if check is None else (
        f"<p>Checked against the known true labels of {check.known:,} rows: "
        f"{check.wrong:,} are actually wrong; the {check.flagged:,} flagged among them "
        f"contain {check.hits:,} (precision {check.precision:.0%}, "
        f"recall {check.recall:.0%}).</p>"
    )
    matrix = figures.noise_matrix_figure(est, dataset.class_names, kind="noise_matrix",
                                         hide_diagonal=True,
                                         title="P(given label | true label), errors only")
    bars = figures.noise_rate_bars(result.per_class, title="Estimated wrong labels per class")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{_e(name)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>{_CSS}</style>
<script type="text/javascript">{get_plotlyjs()}</script>
</head><body>
<h1>{_e(name)}</h1>
<p class="sub">{_e(time.strftime("%d %B %Y"))} · {n:,} rows · {dataset.num_classes} classes ·
method: {_e(result.filter_by)}, ranked by {_e(result.rank_by)}</p>
<div class="cards">
{_card(f"{result.health:.1f} / 100", "label health (estimated % correct)")}
{_card(f"{wrong:,}", "estimated wrong labels")}
{_card(f"{result.num_issues:,}", "rows flagged for review")}
{_card(f"{len(systematic)}", "systematic confusions")}
</div>
<h2>What we found</h2>
<p>{headline}</p>
{truth_note}
{"".join(findings) or "<p>No class pair is confused.</p>"}
<h2>Where the errors are</h2>
{_figure(matrix)}
{_figure(bars)}
<h2>The most suspect examples</h2>
<p>Given label <span class="arrow">→</span> suggested label; a low quality score means the
model is confident the given label is wrong.</p>
{_suspects(dataset, result, top)}
{why.report_section(dataset, result)}
<h2>What the cleaning changed</h2>
{_changes(dataset, cleaned)}
<p class="foot">Confident learning (Northcutt, Jiang &amp; Chuang, JAIR 2021) on out-of-fold
predicted probabilities ({_e(result.probabilities_source)}). Input fingerprint
{_e(dataset.fingerprint[:16])}…, generated by noiselens.</p>
</body></html>
"""
