"""Labelling tasks for Label Studio, Argilla and CVAT, and a CSV form, written offline.

:func:`task_files` turns the chosen rows (their id, content, given label, the suggested class
and its quality score) into the files each tool imports; :func:`write_tasks` writes them into a
folder. Every task carries the row's id (``noiselens_id``) and the dataset's content hash
(``noiselens_dataset``), so that :mod:`analysis.export.verdicts` can bring the verdicts back to
the right rows and refuse another dataset's export.

Formats (the tools' documented import forms):

- ``label-studio``: ``tasks.json``, a list of tasks ``{"data": {...}, "predictions": [...]}``
  (Label Studio's JSON import with pre-annotations: one prediction per task, the suggested
  class, its ``model_version`` and ``score``, so that the Data Manager sorts by it), and
  ``config.xml``, the labelling config: a ``<Choices name="label" choice="single">`` of every
  class on the row's text, image or fields (a ``<Table>``).
- ``argilla``: the folder ``rg.Dataset.from_disk`` reads (Argilla 2.x):
  ``.argilla/dataset.json``, ``.argilla/settings.json`` (a field, a ``label_selection``
  question ``label`` of every class) and ``records.json`` (each record's fields, its
  suggestion ``{"value", "score", "agent"}`` and the row id in its metadata).
- ``cvat``: ``annotations.xml`` in "CVAT for images 1.1" (one ``<image>`` per row, the suggested
  class as a ``<tag>``) and ``images.txt``, the image files to create the task from. Image data
  only.
- ``csv``: ``tasks.csv`` with ``id, content, given_label, suggested_label, score`` and the empty
  ``verdict`` and ``annotator`` columns to fill in; text cells formula-guarded like the other
  human-facing CSVs (:mod:`analysis.export.spreadsheet`).
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import numpy as np
import pandas as pd
from PIL import Image, UnidentifiedImageError

from analysis.data.dataset import TRUE_LABEL_NAMES
from analysis.export.spreadsheet import guard_formulas

FORMATS = ("label-studio", "argilla", "cvat", "csv")
#: The name of the class question in every tool (Label Studio's ``from_name``, Argilla's
#: question): the verdict readers look for it.
QUESTION = "label"
#: Characters of the dataset's fingerprint carried by every task: 64 bits tell two datasets
#: apart (a collision needs ~4e9 datasets), and stay short in a CSV cell.
DATASET_HASH_CHARS = 16
#: Fields shown for a tabular row (the rest are left out of the task): a labeller reads a
#: table of this size at a glance; every column is still in the data file.
MAX_FIELDS = 40


def dataset_hash(dataset) -> str:
    """The content hash every task of ``dataset`` carries (``noiselens_dataset``)."""
    return str(dataset.fingerprint)[:DATASET_HASH_CHARS]


def model_version() -> str:
    """``noiselens-<version>``: the ``model_version`` / ``agent`` of the suggestions."""
    try:
        return f"noiselens-{version('noiselens')}"
    except PackageNotFoundError:  # run from a source tree
        return "noiselens-dev"


def content_kind(dataset) -> str:
    """``"text"``, ``"image"`` or ``"fields"``: what a task shows of a row."""
    if dataset.text_column is not None:
        return "text"
    if dataset.image_column is not None:
        return "image"
    return "fields"


def _fields(dataset, row: int) -> dict:
    # never the audited truth or the other annotators' labels: they would lead the labeller
    skip = {dataset.label_column, dataset.id_column, *dataset.annotator_columns}
    cols = [c for c in dataset.frame.columns if c not in skip
            and str(c).lower() not in TRUE_LABEL_NAMES][:MAX_FIELDS]
    values = dataset.frame.iloc[row][cols]
    return {str(c): ("" if pd.isna(v) else (v.item() if isinstance(v, np.generic) else v))
            for c, v in values.items()}


def _content(dataset, row: int, kind: str):
    if kind == "text":
        value = dataset.frame[dataset.text_column].iloc[row]
        return "" if pd.isna(value) else str(value)
    if kind == "image":
        return str(dataset.frame[dataset.image_column].iloc[row])
    return _fields(dataset, row)


def _flat(content) -> str:
    """A row's content as one line of text (the CSV form)."""
    if isinstance(content, dict):
        return "; ".join(f"{k}={v}" for k, v in content.items())
    return str(content)


def _rows(dataset, rows, suggested, scores):
    """(row, id, given name, suggested name, score) of every chosen row, checked."""
    rows = np.asarray(rows, dtype=np.int64).reshape(-1)
    n = len(dataset)
    bad = rows[(rows < 0) | (rows >= n)]
    if bad.size:
        raise ValueError(f"rows {', '.join(map(str, bad[:5]))} are not rows of "
                         f"{dataset.source} (0..{n - 1}).")
    names = [str(c) for c in dataset.class_names]
    suggested = np.asarray(suggested)
    scores = np.asarray(scores, dtype=float)
    return [(int(r), str(dataset.ids[r]), names[int(dataset.labels[r])],
             names[int(suggested[r])], float(scores[r])) for r in rows]


# -- Label Studio ---------------------------------------------------------------------------------
def label_studio_config(class_names: Sequence[str], kind: str) -> str:
    """The labelling config: the row's content and a single ``<Choices>`` of every class."""
    shown = {"text": '  <Text name="text" value="$text"/>',
             "image": '  <Image name="image" value="$image"/>',
             "fields": '  <Table name="fields" value="$fields"/>'}[kind]
    choices = "\n".join(f"    <Choice value={quoteattr(str(c))}/>" for c in class_names)
    return ("<View>\n" + shown + "\n"
            '  <Header value="Given label: $given_label"/>\n'
            f'  <Choices name="{QUESTION}" toName="{kind}" choice="single" showInline="true">\n'
            f"{choices}\n  </Choices>\n</View>\n")


def _label_studio(dataset, chosen, kind: str, version: str) -> dict[str, bytes]:
    digest = dataset_hash(dataset)
    tasks = []
    for row, row_id, given, suggested, score in chosen:
        data = {"noiselens_id": row_id, "noiselens_dataset": digest, "given_label": given,
                kind: _content(dataset, row, kind)}
        tasks.append({"data": data, "predictions": [{
            "model_version": version, "score": score,
            "result": [{"from_name": QUESTION, "to_name": kind, "type": "choices",
                        "value": {"choices": [suggested]}}]}]})
    return {"tasks.json": _json(tasks),
            "config.xml": label_studio_config(dataset.class_names, kind).encode("utf-8")}


def _json(value) -> bytes:
    return (json.dumps(value, ensure_ascii=False, indent=1, default=str) + "\n").encode("utf-8")


# -- Argilla --------------------------------------------------------------------------------------
def _argilla(dataset, chosen, kind: str, version: str) -> dict[str, bytes]:
    digest = dataset_hash(dataset)
    names = [str(c) for c in dataset.class_names]
    field = ({"name": "image", "title": "Image", "required": True,
              "settings": {"type": "image"}} if kind == "image" else
             {"name": kind, "title": kind.capitalize(), "required": True,
              "settings": {"type": "text", "use_markdown": False}})
    settings = {
        "guidelines": "Choose the right class of each record. The suggestion is noiselens' "
                      "guess; the given label is in the metadata.",
        "allow_extra_metadata": True,
        "distribution": {"strategy": "overlap", "min_submitted": 1},
        "fields": [field],
        "questions": [{"name": QUESTION, "title": "Class", "description": None,
                       "required": True, "settings": {
                           "type": "label_selection",
                           "options": [{"value": c, "text": c, "description": None}
                                       for c in names],
                           "visible_options": min(len(names), 20) if len(names) > 2 else None}}],
        "metadata": [], "vectors": [], "mapping": None}
    records = []
    for row, row_id, given, suggested, score in chosen:
        content = _content(dataset, row, kind)
        records.append({
            "id": f"{digest}-{row_id}",
            "fields": {kind: _flat(content) if kind == "fields" else content},
            "metadata": {"noiselens_id": row_id, "noiselens_dataset": digest,
                         "given_label": given},
            "suggestions": {QUESTION: {"value": suggested, "score": score, "agent": version}},
            "responses": {}, "vectors": {}, "_server_id": None})
    model = {"name": f"noiselens-{digest}", "guidelines": settings["guidelines"],
             "allow_extra_metadata": True, "status": "ready",
             "distribution": settings["distribution"], "metadata": None}
    return {".argilla/dataset.json": _json(model), ".argilla/settings.json": _json(settings),
            "records.json": _json(records)}


# -- CVAT -----------------------------------------------------------------------------------------
def _image_size(path: Path) -> tuple[int, int]:
    """(width, height) from the file's header; (0, 0) when it cannot be read."""
    try:
        with Image.open(path) as im:
            return im.size
    except (OSError, UnidentifiedImageError):
        return 0, 0


def _cvat(dataset, chosen, kind: str, version: str) -> dict[str, bytes]:
    if kind != "image":
        raise ValueError(
            f"CVAT tasks need image data (a folder of images, or a column of image paths); "
            f"{dataset.source} has {'text' if kind == 'text' else 'table rows'}: use --format "
            "label-studio, argilla or csv.")
    labels = "".join(f"<label><name>{escape(str(c))}</name><attributes/></label>"
                     for c in dataset.class_names)
    lines = ['<?xml version="1.0" encoding="utf-8"?>', "<annotations>", "  <version>1.1</version>",
             f"  <meta><task><name>{escape('noiselens ' + dataset_hash(dataset))}</name>"
             f"<size>{len(chosen)}</size><mode>annotation</mode><overlap>0</overlap>"
             f"<labels>{labels}</labels></task></meta>"]
    paths = []
    for t, (row, _row_id, _given, suggested, _score) in enumerate(chosen):
        name = _content(dataset, row, kind)
        path = dataset.image_path(row)
        paths.append(str(path.resolve()))
        width, height = _image_size(path)
        lines.append(f"  <image id=\"{t}\" name={quoteattr(name)} width=\"{width}\" "
                     f"height=\"{height}\"><tag label={quoteattr(suggested)} source=\"auto\">"
                     "</tag></image>")
    lines.append("</annotations>")
    return {"annotations.xml": ("\n".join(lines) + "\n").encode("utf-8"),
            "images.txt": ("\n".join(paths) + "\n").encode("utf-8")}


# -- CSV ------------------------------------------------------------------------------------------
#: The columns of the CSV form; ``verdict`` (a class name) and ``annotator`` are filled in.
CSV_COLUMNS = ("id", "content", "given_label", "suggested_label", "score", "verdict",
               "annotator", "noiselens_dataset")


def _csv(dataset, chosen, kind: str, version: str) -> dict[str, bytes]:
    digest = dataset_hash(dataset)
    frame = pd.DataFrame(
        [(row_id, _flat(_content(dataset, row, kind)), given, suggested, score, "", "", digest)
         for row, row_id, given, suggested, score in chosen], columns=list(CSV_COLUMNS))
    frame = frame.astype({c: object for c in CSV_COLUMNS if c != "score"})
    buffer = io.StringIO()
    guard_formulas(frame).to_csv(buffer, index=False, lineterminator="\n")
    return {"tasks.csv": buffer.getvalue().encode("utf-8")}


_WRITERS = {"label-studio": _label_studio, "argilla": _argilla, "cvat": _cvat, "csv": _csv}


def task_files(dataset, rows, suggested, scores, fmt: str) -> dict[str, bytes]:
    """The files of one task set, by their path inside the output folder.

    Parameters
    ----------
    dataset : Dataset
    rows : sequence of int
        The rows to label, in the order of the queue.
    suggested : array-like of shape (N,)
        The suggested class index of every row of the dataset.
    scores : array-like of shape (N,)
        The label quality score of every row (low = likely wrong).
    fmt : {"label-studio", "argilla", "cvat", "csv"}

    Returns
    -------
    dict of str to bytes

    Raises
    ------
    ValueError
        An unknown format, a row outside the dataset, or CVAT on data without images.
    """
    if fmt not in _WRITERS:
        raise ValueError(f"format {fmt!r} is not one of: {', '.join(FORMATS)}.")
    chosen = _rows(dataset, rows, suggested, scores)
    return _WRITERS[fmt](dataset, chosen, content_kind(dataset), model_version())


def write_tasks(dataset, rows, suggested, scores, fmt: str, out_dir) -> list[Path]:
    """Write :func:`task_files` into ``out_dir`` (created); returns the paths written."""
    files = task_files(dataset, rows, suggested, scores, fmt)
    out = Path(out_dir)
    written = []
    for name, content in files.items():
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        written.append(path)
    return written


def tasks_zip(files: dict[str, bytes]) -> bytes:
    """:func:`task_files` as one zip (the dashboard's download); unpacked, it is the folder
    :func:`write_tasks` writes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()
