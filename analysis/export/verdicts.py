"""Verdicts read back from a labelling tool's export (the other half of :mod:`.tasks`).

:func:`read_verdicts` reads, with the format detected from the file:

- Label Studio's ``JSON`` export (a list of tasks with their ``annotations``; each annotation's
  ``completed_by``, ``updated_at`` / ``created_at``, ``was_cancelled``; a task's ``drafts``),
  its ``JSON_MIN`` export (one object per annotation: the task's data, ``label``,
  ``annotator``, ``created_at`` / ``updated_at``) and its ``CSV`` export (the same columns);
- Argilla's exported records (``records.json`` of ``Dataset.to_disk``, or the folder holding
  it; nested ``responses`` ``{"label": [{"value", "user_id", "status"}]}``, or flattened
  ``label.responses`` / ``.users`` / ``.status`` lists);
- CVAT's "CVAT for images 1.1" XML (a ``<tag>`` per ``<image>``);
- the CSV form of :mod:`.tasks` with its ``verdict`` (and ``annotator``) filled in.

Each verdict is (row id, class, annotator, time). Cancelled, discarded and draft annotations
and empty answers are not decisions: they are counted in :attr:`VerdictFile.skipped`.
:func:`check_verdicts` refuses, as a whole, a file naming ids the data lacks, classes it does
not have, or the tasks of another dataset (``noiselens_dataset``).
"""

from __future__ import annotations

import csv
import io
import json
import math
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import pandas as pd

from analysis.export.spreadsheet import FORMULA_STARTS
from analysis.export.tasks import CSV_COLUMNS, QUESTION, dataset_hash

FORMATS = ("label-studio", "label-studio-min", "label-studio-csv", "argilla", "cvat", "csv")
#: Ids or classes named in a refusal before "... and N more": enough to find the file's
#: problem, short enough to read in a terminal line.
SHOWN = 5


class VerdictError(ValueError):
    """The export cannot be read, or does not belong to the data: nothing was imported."""


@dataclass(frozen=True)
class Verdict:
    """One annotator's class for one row. ``decided_at``: seconds since the epoch (UTC),
    None when the tool does not say."""

    row_id: str
    label: str
    annotator: str
    decided_at: float | None = None


@dataclass
class VerdictFile:
    """What :func:`read_verdicts` found in one export."""

    source: str
    format: str
    verdicts: list[Verdict] = field(default_factory=list)
    #: annotations that are not decisions: ``cancelled``, ``discarded``, ``draft``, ``empty``
    skipped: Counter = field(default_factory=Counter)
    #: the ``noiselens_dataset`` hashes the tasks carry (empty: the format has none)
    datasets: set = field(default_factory=set)
    #: CVAT: image names, matched to rows by :func:`check_verdicts`
    by_name: bool = False
    #: every row id (CVAT: image name) the file names, with a verdict or not
    named: list = field(default_factory=list)

    def skipped_line(self) -> str:
        if not self.skipped:
            return "No annotation set aside (cancelled, discarded, draft or empty)"
        parts = ", ".join(f"{n:,} {what}" for what, n in sorted(self.skipped.items()))
        return f"Not decisions, set aside: {parts}"


def _time(value) -> float | None:
    """An ISO time (``2021-03-09T22:16:08.728353Z``) or epoch number as epoch seconds."""
    if value is None or value == "" or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        stamp = pd.Timestamp(str(value))
    except (ValueError, TypeError):
        return None
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize("UTC")
    return float(stamp.timestamp())


def _unguard(value: str) -> str:
    """A CSV cell without the formula guard ``'`` that :mod:`.tasks` put before it."""
    if value.startswith("'") and value[1:].startswith(FORMULA_STARTS):
        return value[1:]
    return value


def _choices(value) -> list[str]:
    """The classes of a Label Studio answer: ``"cat"``, ``{"choices": ["cat"]}`` or the
    JSON text of the latter (CSV export)."""
    if isinstance(value, dict):
        return [str(c) for c in value.get("choices", [])]
    if isinstance(value, list):
        return [str(c) for c in value]
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return []
    text = str(value)
    if text.startswith("{"):
        try:
            return _choices(json.loads(text))
        except json.JSONDecodeError:
            pass
    return [text] if text else []


def _one(out: VerdictFile, row_id, labels: list[str], annotator, when) -> None:
    if not labels:
        out.skipped["empty"] += 1
        return
    if len(labels) > 1:
        raise VerdictError(f"{out.source}: row {row_id} has {len(labels)} classes in one "
                           f"answer ({', '.join(labels[:SHOWN])}): a class question of single "
                           "choice is needed.")
    out.verdicts.append(Verdict(str(row_id), labels[0], str(annotator), _time(when)))


def _row_id(out: VerdictFile, data: dict, where: str) -> str:
    if "noiselens_id" not in data:
        raise VerdictError(f"{out.source}: {where} has no noiselens_id: these are not tasks "
                           "written by noiselens tasks.")
    if data.get("noiselens_dataset") not in (None, ""):
        out.datasets.add(str(data["noiselens_dataset"]))
    out.named.append(str(data["noiselens_id"]))
    return str(data["noiselens_id"])


# -- Label Studio ---------------------------------------------------------------------------------
def _annotator(completed_by) -> str:
    if isinstance(completed_by, dict):
        return str(completed_by.get("email") or completed_by.get("id"))
    return str(completed_by)


def _label_studio(out: VerdictFile, tasks: list) -> None:
    for t, task in enumerate(tasks):
        row_id = _row_id(out, task.get("data") or {}, f"task {task.get('id', t)}")
        out.skipped["draft"] += len(task.get("drafts") or [])
        for ann in task.get("annotations") or []:
            if ann.get("was_cancelled"):
                out.skipped["cancelled"] += 1
                continue
            results = [r for r in ann.get("result") or [] if r.get("type") == "choices"]
            ours = [r for r in results if r.get("from_name") == QUESTION]
            # a config whose class question was renamed: its one choices control
            chosen = ours or (results if len({r.get("from_name") for r in results}) == 1
                              else [])
            labels = [c for r in chosen for c in _choices(r.get("value"))]
            _one(out, row_id, labels, _annotator(ann.get("completed_by")),
                 ann.get("updated_at") or ann.get("created_at"))


def _label_studio_min(out: VerdictFile, items: list[dict]) -> None:
    for t, item in enumerate(items):
        row_id = _row_id(out, item, f"item {t}")
        if str(item.get("was_cancelled", "")).lower() == "true":
            out.skipped["cancelled"] += 1
            continue
        _one(out, row_id, _choices(item.get(QUESTION)), item.get("annotator", "unknown"),
             item.get("updated_at") or item.get("created_at"))


# -- Argilla --------------------------------------------------------------------------------------
#: Argilla response statuses that are not decisions.
_NOT_SUBMITTED = ("discarded", "draft")


def _argilla_response(out: VerdictFile, row_id: str, value, user, status) -> None:
    status = str(status or "submitted").lower()
    if status in _NOT_SUBMITTED:
        out.skipped[status] += 1
        return
    _one(out, row_id, [] if value in (None, "") else [str(value)], user, None)


def _argilla(out: VerdictFile, records: list[dict]) -> None:
    for t, rec in enumerate(records):
        row_id = _row_id(out, rec.get("metadata") or rec, f"record {rec.get('id', t)}")
        if f"{QUESTION}.responses" in rec:  # flattened: parallel lists
            values = rec.get(f"{QUESTION}.responses") or []
            users = rec.get(f"{QUESTION}.responses.users") or [None] * len(values)
            status = rec.get(f"{QUESTION}.responses.status") or [None] * len(values)
            for v, u, s in zip(values, users, status, strict=False):
                _argilla_response(out, row_id, v, u, s)
            continue
        for resp in (rec.get("responses") or {}).get(QUESTION, []):
            _argilla_response(out, row_id, resp.get("value"), resp.get("user_id"),
                              resp.get("status"))


# -- CVAT -----------------------------------------------------------------------------------------
def _cvat(out: VerdictFile, text: bytes) -> None:
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise VerdictError(f"{out.source}: not readable XML ({exc}).") from None
    if root.tag != "annotations" or root.find("image") is None and root.find("meta") is None:
        raise VerdictError(f"{out.source}: not a 'CVAT for images 1.1' export (its root is "
                           f"<{root.tag}>, with no <image>).")
    owner = root.findtext("meta/task/owner/username") or root.findtext(
        "meta/job/owner/username") or "cvat"
    when = root.findtext("meta/dumped") or root.findtext("meta/task/updated")
    out.by_name = True
    for image in root.iter("image"):
        labels = [tag.get("label", "") for tag in image.findall("tag")]
        out.named.append(image.get("name", ""))
        _one(out, image.get("name", ""), [lab for lab in labels if lab], owner, when)


# -- CSV ------------------------------------------------------------------------------------------
def _csv_rows(out: VerdictFile, text: str) -> list[dict]:
    try:
        return list(csv.DictReader(io.StringIO(text)))
    except csv.Error as exc:
        raise VerdictError(f"{out.source}: not a readable CSV ({exc}).") from None


def _csv_form(out: VerdictFile, rows: list[dict]) -> None:
    for t, row in enumerate(rows):
        data = {"noiselens_id": _unguard(row.get("id") or ""),
                "noiselens_dataset": row.get("noiselens_dataset")}
        row_id = _row_id(out, data, f"line {t + 2}")
        verdict = _unguard((row.get("verdict") or "").strip())
        _one(out, row_id, [verdict] if verdict else [],
             _unguard((row.get("annotator") or "").strip()) or "csv", None)


# -- detection ------------------------------------------------------------------------------------
def _detect_json(out: VerdictFile, value) -> None:
    if not isinstance(value, list):
        raise VerdictError(f"{out.source}: a JSON export is a list of tasks or records, not "
                           f"a {type(value).__name__}.")
    first = next((v for v in value if isinstance(v, dict)), {})
    if "annotations" in first or "data" in first:
        out.format = "label-studio"
        _label_studio(out, value)
    elif "responses" in first or f"{QUESTION}.responses" in first or "fields" in first:
        out.format = "argilla"
        _argilla(out, value)
    elif "noiselens_id" in first:
        out.format = "label-studio-min"
        _label_studio_min(out, value)
    elif value:
        raise VerdictError(f"{out.source}: neither a Label Studio export (JSON, JSON_MIN) nor "
                           f"Argilla records (its first item has keys "
                           f"{', '.join(sorted(map(str, first))[:8])}).")


def read_verdicts(path, fmt: str | None = None, *, name: str | None = None,
                  content: bytes | None = None) -> VerdictFile:
    """Read the verdicts of one export.

    Parameters
    ----------
    path : path
        The exported file (an Argilla ``to_disk`` folder is read through its ``records.json``).
    fmt : str, optional
        One of :data:`FORMATS`; default detected from the file.
    name, content : optional
        An uploaded file: its name and bytes instead of ``path``.

    Raises
    ------
    VerdictError
        The file cannot be read or is none of the formats.
    """
    path = Path(path) if path is not None else Path(name or "upload")
    if content is None:
        if path.is_dir():
            path = path / "records.json"
        try:
            content = path.read_bytes()
        except OSError as exc:
            raise VerdictError(f"cannot read {path}: {exc.strerror or exc}.") from None
    out = VerdictFile(source=name or str(path), format=fmt or "")
    text = content.decode("utf-8-sig", errors="replace")
    head = text.lstrip()[:1]
    if fmt == "cvat" or (fmt is None and head == "<"):
        out.format = "cvat"
        _cvat(out, content)
    elif fmt in ("label-studio", "label-studio-min", "argilla") or (fmt is None and head in "[{"):
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise VerdictError(f"{out.source}: not readable JSON ({exc}).") from None
        _detect_json(out, value)
        if fmt and out.format != fmt and value:
            raise VerdictError(f"{out.source}: --format {fmt} was given, but the file is a "
                               f"{out.format} export.")
    else:
        rows = _csv_rows(out, text)
        header = set(rows[0]) if rows else set()
        if fmt == "csv" or (fmt is None and {"verdict", "suggested_label"} <= header):
            out.format = "csv"
            _csv_form(out, rows)
        elif fmt == "label-studio-csv" or (fmt is None and "noiselens_id" in header):
            out.format = "label-studio-csv"
            _label_studio_min(out, rows)
        else:
            raise VerdictError(
                f"{out.source}: neither the CSV form of noiselens tasks (columns "
                f"{', '.join(CSV_COLUMNS)}) nor a Label Studio CSV export (a noiselens_id "
                "column); give --format.")
    return out


# -- checking against the data --------------------------------------------------------------------
def _listed(items: list[str]) -> str:
    shown = ", ".join(repr(i) for i in items[:SHOWN])
    return shown + (f" and {len(items) - SHOWN:,} more" if len(items) > SHOWN else "")


def _image_rows(dataset):
    """CVAT names images by path (or by file name): a function from a name to its row id
    (None: no single row has it)."""
    paths = [str(p) for p in dataset.frame[dataset.image_column]] if (
        dataset.image_column is not None) else []
    exact = {p.replace("\\", "/"): str(i) for p, i in zip(paths, dataset.ids, strict=True)}
    base = Counter(PurePosixPath(p).name for p in exact)
    short = {PurePosixPath(p).name: i for p, i in exact.items()}

    def row_id(name: str) -> str | None:
        name = name.replace("\\", "/")
        found = exact.get(name) or exact.get(name.removeprefix("images/"))
        if found is None and base.get(PurePosixPath(name).name) == 1:
            found = short[PurePosixPath(name).name]
        return found

    return row_id


def check_verdicts(found: VerdictFile, dataset) -> list[Verdict]:
    """The verdicts of ``found`` on ``dataset``, refused as a whole when any does not fit.

    Returns
    -------
    list of Verdict
        With row ids of ``dataset`` (CVAT's image names matched to their rows).

    Raises
    ------
    VerdictError
        Tasks of another dataset, ids the data lacks, or classes it does not have; the message
        names them (the first few and how many).
    """
    mine = dataset_hash(dataset)
    other = sorted(found.datasets - {mine})
    if other:
        raise VerdictError(
            f"{found.source} holds the tasks of another dataset (noiselens_dataset "
            f"{_listed(other)}; {dataset.source} is {mine}): nothing imported. Import it with "
            "the data the tasks were written from.")
    index = dataset.id_index
    verdicts = found.verdicts
    if found.by_name:
        row_id = _image_rows(dataset)
        missing = list(dict.fromkeys(n for n in found.named if row_id(n) is None))
        if not missing:
            verdicts = [Verdict(row_id(v.row_id), v.label, v.annotator, v.decided_at)
                        for v in verdicts]
    else:
        missing = list(dict.fromkeys(n for n in found.named if n not in index))
    if missing:
        what = "image(s)" if found.by_name else "id(s)"
        raise VerdictError(
            f"{found.source} names {len(missing):,} {what} that {dataset.source} does not "
            f"have: {_listed(missing)}; nothing imported.")
    names = {str(c) for c in dataset.class_names}
    unknown = list(dict.fromkeys(v.label for v in verdicts if v.label not in names))
    if unknown:
        raise VerdictError(
            f"{found.source} gives {len(unknown):,} class(es) that {dataset.source} does not "
            f"have: {_listed(unknown)} (its classes: "
            f"{', '.join(sorted(names)[:20])}); nothing imported.")
    return verdicts
