"""One export plan: every file of an export set, the same whether ``noiselens analyze`` or the
Review & export page writes it.

The set is the cleaned split and its change list (:func:`analysis.export.split.export_split`),
the result tables and ``summary.json`` (:func:`~analysis.export.split.result_files`),
``issues.csv``, ``findings.json``, the stakeholder ``report.html`` and, when the file changed
since some review decisions, ``review_changed_rows.csv``; ``manifest.json`` lists them all.
The report is a dashboard module (it draws), so the plan lives here, above both callers.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from analysis.export.split import ExportResult, export_split, result_files
from analysis.export.spreadsheet import guard_formulas
from analysis.review import findings
from analysis.review.store import Carryover
from dashboard.report import build_report


def write_export_set(dataset, result, decisions: pd.DataFrame, folder: str | Path, *,
                     mode: str, carry: Carryover | None = None, unreviewed=None,
                     intervals=None, slices=None, remaining=None, history=None,
                     fmt: str = "csv", removed: str = "drop", parameters: dict | None = None,
                     stem: str | None = None, first: bool = False) -> ExportResult:
    """Write the whole export set of an analysis to ``folder`` (one atomic set).

    Parameters
    ----------
    dataset, result
        The dataset and its :class:`~analysis.pipeline.Analysis`.
    decisions : DataFrame
        What the cleaned split applies (``id``, ``action``, ``new_label``, ``note``).
    mode : {"reviewed", "suggestions", "none"}
        Where the decisions come from; with ``"reviewed"`` the ``carry`` (what became of the
        review in this version of the file) goes into the manifest and, when some rows changed
        or are gone, into ``review_changed_rows.csv``.
    unreviewed : analysis.export.split.Unreviewed, optional
        What the suggestions changed without review (``mode="suggestions"``).
    intervals, slices, remaining, history
        The findings the report and ``findings.json`` carry (:mod:`analysis.review.findings`,
        :mod:`analysis.review.history`); ``intervals`` default to the analysis' own.
    fmt, removed, parameters, stem
        As :func:`~analysis.export.split.export_split`.
    first : bool
        The first set of ``noiselens analyze``, written as soon as the label detector is
        done: everything but what needs the neighbour signals (:data:`PENDING`), which the
        manifest lists as pending; the next, whole set replaces it.

    Raises
    ------
    ValueError, OSError
        From the export (the previous set is left as it was).
    """
    if intervals is None:
        intervals = findings.class_intervals(result)
    review = carry.counts() if mode == "reviewed" and carry is not None else None
    extra = result_files(dataset, result, mode=mode, review=review, signals=not first)
    if not first:
        extra["report.html"] = lambda cleaned: build_report(
            dataset, result, cleaned=cleaned, slices=slices, remaining=remaining,
            history=history, intervals=intervals, unreviewed=unreviewed)
    extra["findings.json"] = json.dumps({
        "intervals": intervals.as_dict(),
        "slices": None if slices is None else slices.as_dict(),
        "errors_remaining": None if remaining is None else remaining.as_dict(),
        "history_changes": None if history is None else history.changes(),
    }, indent=2)
    if review is not None and carry.needs_a_look:
        extra["review_changed_rows.csv"] = guard_formulas(carry.table())
    return export_split(dataset, result, decisions, folder, fmt=fmt, removed=removed,
                        mode=mode, parameters=parameters, stem=stem, extra_files=extra,
                        review=review, unreviewed=unreviewed, pending=PENDING if first else ())


#: What a first set leaves to the next: the files that need the neighbour signals.
PENDING = ("issues.csv", "report.html")
