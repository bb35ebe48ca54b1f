"""The multi-label side of the server (#28): the analysis of the launch's tags, cached per
dataset content.

``noiselens dashboard --multi-label`` (or ``--sample digits_tags``, ``--label-cols``,
``--label-prefix``) opens the multi-label pages; what to read comes from the launch options
only (:func:`dashboard.session.launch_options`), turned into the keyword arguments of
:func:`analysis.multilabel_pipeline.analyze_multilabel` as ``noiselens analyze --multi-label``
does (:func:`dashboard.multilabel_cli.analysis_inputs`). The analysis is computed in
``analysis`` and kept in memory per *content*: the key is the SHA-256 of the data file (and
of the ``.npy`` / class-name files), the tag options and the filter, never a file name, so
a file changed on disk is analysed again.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import streamlit as st

from analysis.core import multilabel as core
from analysis.data.dataset import DataError
from analysis.data.multilabel import load_multilabel_sample, multilabel_sample_names
from analysis.multilabel_pipeline import MultilabelAnalysis, analyze_multilabel
from dashboard import multilabel_cli

#: Multi-label analyses held in memory at once (as compute.MAX_DATASETS for single-label).
MAX_ANALYSES = int(os.environ.get("NOISELENS_MAX_DATASETS", "3"))
#: Bytes read at a time when hashing a file (bounded memory for a large file).
_HASH_BLOCK = 1 << 20


def wanted(args: argparse.Namespace) -> bool:
    """True when the launch asks for the multi-label pages."""
    return multilabel_cli.wanted(args)


def check_options(args: argparse.Namespace) -> str | None:
    """What the multi-label launch cannot open, in words, or None."""
    if bool(args.sample) == bool(args.data):
        return "give one data file (--data FILE) or --sample NAME, not both and not neither."
    if args.sample and args.sample not in multilabel_sample_names():
        return (f"--sample {args.sample} is not a multi-label sample; the multi-label samples: "
                f"{', '.join(multilabel_sample_names())}.")
    given = [f for f, v in (("--label-col", args.label_col), ("--label-cols", args.label_cols),
                            ("--label-prefix", args.label_prefix)) if v]
    if len(given) > 1:
        return f"give the tags with one of {', '.join(given)}, not several."
    if args.data and Path(args.data).is_dir():
        return f"{args.data}: a folder; the multi-label pages read one CSV or Parquet file."
    return None


@dataclass(frozen=True)
class MultilabelSource:
    """What the multi-label pages analyse: the launch options and the filter."""

    sample: str | None
    data: str | None
    label_col: str | None
    label_cols: str | None
    label_prefix: str | None
    label_sep: str
    id_col: str | None
    text_col: str | None
    pred_probs: str | None
    class_names: str | None
    filter_by: str = "prune_by_noise_rate"

    @classmethod
    def from_options(cls, args: argparse.Namespace, filter_by: str) -> MultilabelSource:
        return cls(sample=args.sample, data=args.data, label_col=args.label_col,
                   label_cols=args.label_cols, label_prefix=args.label_prefix,
                   label_sep=args.label_sep or "|", id_col=args.id_col, text_col=args.text_col,
                   pred_probs=args.pred_probs, class_names=args.class_names,
                   filter_by=filter_by)

    @property
    def title(self) -> str:
        return f"sample '{self.sample}'" if self.sample else Path(self.data).name

    def inputs(self) -> dict:
        """The keyword arguments of ``analyze_multilabel`` (``data`` included)."""
        ns = argparse.Namespace(**self.__dict__)
        return multilabel_cli.analysis_inputs(ns, [] if self.sample else [self.data])

    def files(self) -> list[Path]:
        """Every file the analysis reads (the content key hashes them)."""
        data = self.inputs()["data"]
        return [Path(p) for p in (data, self.pred_probs, self.class_names) if p]


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes, read in blocks (once per size and modification time)."""
    stat = os.stat(path)
    return _digest(str(path), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=32)
def _digest(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(_HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def content_key(source: MultilabelSource) -> tuple:
    """The cache key: the files' contents, the data file's path, the tag options and the
    filter."""
    try:
        digests = tuple(file_digest(p) for p in source.files())
    except OSError as exc:
        raise DataError(f"{exc.filename}: {exc.strerror}") from None
    # the path too: the analysis names its file (messages, the export's file names)
    options = {k: v for k, v in source.__dict__.items() if k != "data"}
    where = str(Path(source.data).resolve()) if source.data else None
    return digests, where, tuple(sorted((k, str(v)) for k, v in options.items()))


@st.cache_resource(show_spinner=False, max_entries=MAX_ANALYSES)
def _analysis(key: tuple, _source: MultilabelSource) -> MultilabelAnalysis:
    """The analysis of ``_source`` (unhashed: ``key`` says what it holds)."""
    kwargs = _source.inputs()
    return analyze_multilabel(kwargs.pop("data"), **kwargs)


def analysis_for(source: MultilabelSource) -> tuple[tuple, MultilabelAnalysis]:
    """The content key and the cached multi-label analysis of ``source`` (raises DataError /
    ValueError with a clear message for bad input)."""
    if source.sample:
        load_multilabel_sample(source.sample)  # checks the sample's files first
    key = content_key(source)
    return key, _analysis(key, source)


def image_shape(source: MultilabelSource) -> tuple[int, int] | None:
    """The pixel grid of a sample of images (digits_tags: 8 x 8), else None."""
    return load_multilabel_sample(source.sample).image_shape if source.sample else None


# -- values derived from one analysis ----------------------------------------------------------
@st.cache_resource(show_spinner=False, max_entries=MAX_ANALYSES)
def _issue_table(key: tuple, _result: MultilabelAnalysis) -> dict:
    return core.tag_issue_table(_result.labels, _result.pred_probs, _result.estimate.issues)


def issue_cells(key: tuple, result: MultilabelAnalysis) -> dict:
    """:func:`analysis.core.multilabel.tag_issue_table` of ``result`` (once per analysis;
    ``key``: its :func:`content_key`)."""
    return _issue_table(key, result)


@st.cache_resource(show_spinner=False, max_entries=MAX_ANALYSES)
def _ranked(key: tuple, _result: MultilabelAnalysis):
    return _result.issue_table()


def issue_table(key: tuple, result: MultilabelAnalysis):
    """:meth:`MultilabelAnalysis.issue_table` (once per analysis; do not change it)."""
    return _ranked(key, result)


def sentences(key: tuple, result: MultilabelAnalysis, row: int) -> list[str]:
    """The flagged tags of ``row`` in words (``'dog' looks missing: 0.93``)."""
    return core.tag_issue_sentences(issue_cells(key, result), result.class_names, row)


def row_probabilities(result: MultilabelAnalysis, row: int):
    """Per class of ``row``: given, suggested, the probability and whether it is flagged."""
    import pandas as pd

    return pd.DataFrame({
        "tag": result.class_names,
        "given": result.labels[row].astype(bool),
        "suggested": result.suggested[row].astype(bool),
        "probability": result.pred_probs[row].astype(np.float64),
        "flagged": result.estimate.issues[row].astype(bool)})


def export_files(result: MultilabelAnalysis, folder: Path) -> list[Path]:
    """Every file of ``noiselens analyze --multi-label`` written into ``folder``: the cleaned
    split with the suggested tag sets (in the input's own form), tag_changes.csv,
    label_issues.csv, per_class.csv, common_issues.csv and summary.json."""
    fmt = result.origin.kind if result.origin is not None else "csv"
    return multilabel_cli.write_outputs(result, folder, clean="suggestions", fmt=fmt)


@st.cache_resource(show_spinner=False, max_entries=MAX_ANALYSES)
def _download_bytes(key: tuple, _result: MultilabelAnalysis) -> dict[str, bytes]:
    with tempfile.TemporaryDirectory() as tmp:
        return {p.name: p.read_bytes() for p in export_files(_result, Path(tmp))}


def download_bytes(key: tuple, result: MultilabelAnalysis) -> dict[str, bytes]:
    """The export's files as bytes (file name -> bytes), built once per analysis."""
    return _download_bytes(key, result)


def export_stem(result: MultilabelAnalysis) -> str:
    """The export folder's name: the input's stem and ``_multilabel``."""
    stem = result.path.stem if result.path is not None else "data"
    return f"{stem}_multilabel"


# -- the review (#28) ---------------------------------------------------------------------------
def identity(source: MultilabelSource) -> str:
    """The dataset's lasting name (its decisions follow it): ``sample:NAME`` or
    ``file:/resolved/path``."""
    return f"sample:{source.sample}" if source.sample else f"file:{Path(source.data).resolve()}"


@st.cache_resource(show_spinner=False, max_entries=MAX_ANALYSES)
def _store(key: str):
    from analysis.review.store import ReviewStore

    return ReviewStore(key)  # tag sets are checked by analysis.review.multilabel, not here


def review_store(source: MultilabelSource):
    """The review decisions of the multi-label dataset, seen by this browser session (its own
    Undo); SQLite is read fresh on every call."""
    from analysis.review.multilabel import review_key

    if "review_session" not in st.session_state:
        import uuid

        st.session_state["review_session"] = uuid.uuid4().hex
    return _store(review_key(identity(source))).with_session(st.session_state["review_session"])


def reviewed(result: MultilabelAnalysis, decisions) -> tuple[np.ndarray, np.ndarray]:
    """(the tags with the review applied, the rows kept)."""
    from analysis.review.multilabel import apply_decisions

    return apply_decisions(result.labels, result.ids, result.class_names, decisions)


def write_reviewed(result: MultilabelAnalysis, folder: Path, new_labels: np.ndarray,
                   keep: np.ndarray) -> list[Path]:
    """The cleaned split with the review applied (relabelled rows' tag sets, removed rows
    dropped, every other row as written), in the input's own form, with tag_changes.csv and
    removed_rows.csv."""
    import pandas as pd

    from analysis.data.multilabel import write_tags
    from analysis.export.split import with_origin, write_table
    from analysis.export.spreadsheet import guard_formulas

    folder.mkdir(parents=True, exist_ok=True)
    fmt = result.origin.kind if result.origin is not None else "csv"
    stem = result.path.stem if result.path is not None else "data"
    cleaned = folder / f"{stem}_reviewed.{fmt}"
    frame = write_tags(result.frame, result.tags, new_labels)
    if not keep.all():  # the index stays the source row: its quoting is followed
        frame = frame.iloc[np.flatnonzero(keep)]
    write_table(with_origin(frame, result.origin), cleaned, fmt)
    changes = multilabel_cli.changes_frame(result, np.where(keep[:, None], new_labels,
                                                            result.labels))
    paths = [cleaned, folder / "tag_changes.csv", folder / "removed_rows.csv"]
    write_table(guard_formulas(changes), paths[1], "csv")
    write_table(guard_formulas(pd.DataFrame({"id": result.ids[~keep],
                                             "row": np.flatnonzero(~keep)})), paths[2], "csv")
    return paths
