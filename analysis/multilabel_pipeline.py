"""The multi-label analysis end to end (#28): a table of tagged rows in, every result out.

Beside :mod:`analysis.pipeline` (floor 4, same floors below it: ``core``, ``data``, ``model``):
:func:`analyze_multilabel` reads the tags (one delimited cell, or one 0/1 column per class,
:mod:`analysis.data.multilabel`), takes the per-class probabilities from ``pred_prob_<class>``
columns (or an array) or computes them out of fold on the feature columns or a text column
(:func:`analysis.model.multilabel.choose_multilabel_model`), and runs one-vs-rest confident
learning (:mod:`analysis.core.multilabel`). The CLI (``noiselens analyze --multi-label``)
writes what :class:`MultilabelAnalysis` holds.

Per-class intervals: the tag-missing rate of class k is the estimate's
``P(given 0 | true 1) = cj[k, 0, 1] / (cj[k, 0, 1] + cj[k, 1, 1])`` (the calibrated confident
joint's counts); its 95% interval is the Jeffreys interval of those counts,
``Beta(x + 1/2, n - x + 1/2)`` quantiles 2.5% and 97.5% (the tag-extra rate likewise, from
``cj[k, 1, 0]`` of ``cj[k, 0, 0] + cj[k, 1, 0]``). It states the sampling uncertainty of the
counts only, not the model's error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import beta

from analysis.core import multilabel as core
from analysis.core._helpers import Progress
from analysis.data import multilabel as tagsio
from analysis.data import samples
from analysis.data.dataset import DataError, Origin, read_source
from analysis.model.multilabel import MultilabelModelChoice, choose_multilabel_model

#: Two-sided level of the per-class intervals.
LEVEL = 0.95
#: Columns never used as features: the id, the sample's truth, the split (#18).
_NOT_FEATURES = (samples.TRUE_LABEL_COLUMN, "split")
#: The default delimited label column when none is named (the samples' and most exports').
DEFAULT_LABEL_COLUMN = samples.LABEL_COLUMN
#: The id column used when present and none is named.
DEFAULT_ID_COLUMN = samples.ID_COLUMN


@dataclass(eq=False)
class MultilabelAnalysis:
    """Everything the multi-label outputs read.

    Attributes
    ----------
    frame : DataFrame
        The table as read (a CSV as text, cell by cell).
    source : str
        The file name (or ``"data"``), for messages.
    tags : MultilabelTags
        The given tags, their class names and the form they were written in.
    ids : ndarray of str
        One id per row (the id column, else the row number).
    pred_probs : ndarray of shape (N, K)
        Per-class probabilities.
    probabilities_source : str
        ``"given"`` (columns or array) or ``"out_of_fold"``.
    model : MultilabelModelChoice or None
        The model decision, when the probabilities were computed here.
    estimate : MultilabelEstimate
    scores : ndarray of shape (N,)
        Row quality (lower = more likely wrong).
    suggested : ndarray of shape (N, K), uint8
        The given tags with every flagged (row, class) flipped.
    health : dict
        :func:`analysis.core.multilabel.multilabel_health`.
    origin : Origin or None
        How the source file is written (the cleaned split is written the same way).
    path : Path or None
        The file read.
    notes : list of str
    """

    frame: pd.DataFrame
    source: str
    tags: tagsio.MultilabelTags
    ids: np.ndarray
    pred_probs: np.ndarray
    probabilities_source: str
    model: MultilabelModelChoice | None
    estimate: core.MultilabelEstimate
    scores: np.ndarray
    suggested: np.ndarray
    health: dict
    origin: Origin | None = None
    path: Path | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def labels(self) -> np.ndarray:
        return self.tags.labels

    @property
    def class_names(self) -> list[str]:
        return self.tags.class_names

    @property
    def is_issue(self) -> np.ndarray:
        return self.estimate.is_issue

    @property
    def missing_tags(self) -> np.ndarray:
        """(N, K) bool: flagged cells whose tag is not given (it looks missing)."""
        return self.estimate.issues & (self.labels == 0)

    @property
    def extra_tags(self) -> np.ndarray:
        """(N, K) bool: flagged cells whose tag is given (it looks extra)."""
        return self.estimate.issues & (self.labels == 1)

    def per_class(self) -> pd.DataFrame:
        """One row per class (see the module docstring for the intervals)."""
        return per_class_table(self.labels, self.estimate, self.class_names)

    def common_issues(self) -> pd.DataFrame:
        """:func:`analysis.core.multilabel.common_multilabel_issues` with class names."""
        common = self.health["common_issues"]
        return pd.DataFrame({
            "class": [self.class_names[c] for c in common["class"]],
            "issue": np.where(common["in_given"], "extra", "missing"),
            "count": common["count"], "share_of_rows": common["probability"]})

    def issue_table(self) -> pd.DataFrame:
        """Flagged rows, lowest score first: row, id, the given / suggested / missing / extra
        tags (lists of class names, in class order) and the score."""
        rows = np.flatnonzero(self.is_issue)
        rows = rows[np.argsort(self.scores[rows], kind="stable")]
        names = np.asarray(self.class_names, dtype=object)

        def listed(matrix):
            return [list(names[np.flatnonzero(matrix[i])]) for i in rows]

        return pd.DataFrame({
            "row": rows, "id": self.ids[rows], "given_tags": listed(self.labels),
            "suggested_tags": listed(self.suggested), "missing_tags": listed(self.missing_tags),
            "extra_tags": listed(self.extra_tags), "score": self.scores[rows]})


def jeffreys_interval(hits, total, level: float = LEVEL) -> tuple[np.ndarray, np.ndarray]:
    """Jeffreys interval of ``hits`` out of ``total``: the ``(1 - level) / 2`` and
    ``(1 + level) / 2`` quantiles of ``Beta(hits + 1/2, total - hits + 1/2)``; 0 (1) as the
    lower (upper) end when hits is 0 (total); NaN where total is 0."""
    x = np.asarray(hits, dtype=np.float64)
    n = np.asarray(total, dtype=np.float64)
    tail = (1 - level) / 2
    with np.errstate(invalid="ignore", divide="ignore"):
        low = np.where(x > 0, beta.ppf(tail, x + 0.5, n - x + 0.5), 0.0)
        high = np.where(x < n, beta.ppf(1 - tail, x + 0.5, n - x + 0.5), 1.0)
    empty = n <= 0
    return np.where(empty, np.nan, low), np.where(empty, np.nan, high)


def per_class_table(labels, estimate: core.MultilabelEstimate,
                    class_names: Sequence[str]) -> pd.DataFrame:
    """Per class: rows given the tag, flagged missing / extra cells, the tag-missing and
    tag-extra rates of the estimate and their Jeffreys 95% intervals from the confident
    joint's counts."""
    y = np.asarray(labels)
    cj = estimate.confident_joint
    miss_low, miss_high = jeffreys_interval(cj[:, 0, 1], cj[:, 0, 1] + cj[:, 1, 1])
    extra_low, extra_high = jeffreys_interval(cj[:, 1, 0], cj[:, 0, 0] + cj[:, 1, 0])
    issues = estimate.issues
    return pd.DataFrame({
        "class": list(class_names),
        "rows_with_tag": y.sum(axis=0).astype(np.int64),
        "flagged_missing": (issues & (y == 0)).sum(axis=0).astype(np.int64),
        "flagged_extra": (issues & (y == 1)).sum(axis=0).astype(np.int64),
        "missing_rate": estimate.tag_missing, "missing_rate_low": miss_low,
        "missing_rate_high": miss_high,
        "extra_rate": estimate.tag_extra, "extra_rate_low": extra_low,
        "extra_rate_high": extra_high,
    })


def read_multilabel_table(data) -> tuple[pd.DataFrame, str, Origin | None, Path | None]:
    """``data`` (a path or a DataFrame) as a frame, its name, its Origin and its path."""
    if isinstance(data, pd.DataFrame):
        return data, "data", None, None
    path = Path(data)
    frame, origin = read_source(path)
    return frame, path.name, origin, path


def read_tags(frame: pd.DataFrame, *, label_col: str | None = None,
              label_cols: Sequence[str] | None = None, prefix: str | None = None,
              sep: str = tagsio.DEFAULT_SEPARATOR, class_names: Sequence[str] | None = None,
              source: str = "data") -> tagsio.MultilabelTags:
    """The tags, from one of ``label_col`` (delimited), ``label_cols`` or ``prefix`` (0/1
    columns); none: the delimited column ``label``."""
    given = [x is not None for x in (label_col, label_cols, prefix)]
    if sum(given) > 1:
        raise DataError(f"{source}: give the tags as one of a delimited label column, a list "
                        "of 0/1 columns or a 0/1 column prefix, not several.")
    if label_cols is not None or prefix is not None:
        tags = tagsio.parse_columns(frame, label_cols, prefix=prefix, source=source)
        if class_names is not None and list(class_names) != tags.class_names:
            raise DataError(f"{source}: the class names {list(class_names)} are not the 0/1 "
                            f"columns' classes {tags.class_names}.")
        return tags
    return tagsio.parse_delimited(frame, label_col or DEFAULT_LABEL_COLUMN, separator=sep,
                                  class_names=class_names, source=source)


def _ids(frame: pd.DataFrame, id_col: str | None, source: str) -> np.ndarray:
    if id_col is None:
        if DEFAULT_ID_COLUMN not in frame.columns:
            return np.arange(len(frame)).astype(str).astype(object)
        id_col = DEFAULT_ID_COLUMN
    if id_col not in frame.columns:
        raise DataError(f"{source}: no id column '{id_col}' (columns: {list(frame.columns)}).")
    ids = frame[id_col].astype(str).to_numpy(dtype=object)
    dup = pd.Series(ids).duplicated(keep=False).to_numpy()
    if dup.any():
        raise DataError(f"{source}: id column '{id_col}' repeats id {ids[dup][0]!r} in rows "
                        f"{', '.join(map(str, np.flatnonzero(dup)[:5]))}: ids must be unique.")
    return ids


def feature_frame(frame: pd.DataFrame, tags: tagsio.MultilabelTags, *,
                  feature_cols: Sequence[str] | None = None, id_col: str | None = None,
                  source: str = "data") -> pd.DataFrame:
    """The model's columns: ``feature_cols``, else every column but the tags, the id, the
    probabilities and the truth; a column whose every cell is a number becomes numeric."""
    if feature_cols is None:
        skip = {tags.column, *(tags.columns or []), id_col or DEFAULT_ID_COLUMN,
                *_NOT_FEATURES}
        feature_cols = [c for c in frame.columns if c not in skip
                        and not str(c).startswith(tagsio.PROB_PREFIX)]
    missing = [c for c in feature_cols if c not in frame.columns]
    if missing:
        raise DataError(f"{source}: no feature column '{missing[0]}'.")
    if not feature_cols:
        raise DataError(f"{source}: no feature column for the model and no "
                        f"{tagsio.PROB_PREFIX}<class> probability columns.")
    out = {}
    for c in feature_cols:
        values = frame[c]
        if pd.api.types.is_numeric_dtype(values) or values.dtype == bool:
            out[c] = values
            continue
        numbers = pd.to_numeric(values.astype(str).str.strip().replace("", np.nan),
                                errors="coerce")
        out[c] = numbers if numbers.notna().sum() == values.astype(str).str.strip().ne("").sum() \
            else values
    return pd.DataFrame(out, index=frame.index)


def _probabilities(frame, tags, pred_probs, *, feature_cols, text_col, id_col, model, cv,
                   source, progress):
    """(probabilities, their source, the model decision or None)."""
    if pred_probs is not None:
        try:
            _, probs = core.check_multilabel(tags.labels, pred_probs)
        except ValueError as exc:
            raise DataError(f"{source}: {exc}") from None
        return probs, "given", None
    probs = tagsio.parse_probabilities(frame, tags.class_names, source=source)
    if probs is not None:
        return probs, "given", None
    if text_col is not None:
        if text_col not in frame.columns:
            raise DataError(f"{source}: no text column '{text_col}'.")
        text = frame[text_col].fillna("").astype(str).tolist()
        choice = choose_multilabel_model(labels=tags.labels, text=text, model=model, cv=cv,
                                         progress=progress)
    else:
        X = feature_frame(frame, tags, feature_cols=feature_cols, id_col=id_col, source=source)
        choice = choose_multilabel_model(X, tags.labels, model=model, cv=cv, progress=progress)
    return choice.pred_probs, "out_of_fold", choice


def analyze_multilabel(data, *, label_col: str | None = None,
                       label_cols: Sequence[str] | None = None, prefix: str | None = None,
                       sep: str = tagsio.DEFAULT_SEPARATOR,
                       class_names: Sequence[str] | None = None, pred_probs=None,
                       feature_cols: Sequence[str] | None = None, text_col: str | None = None,
                       id_col: str | None = None, model: str = "auto", cv: int = 5,
                       filter_by: str = "prune_by_noise_rate",
                       aggregator: str = core.DEFAULT_AGGREGATOR,
                       progress: Progress | None = None) -> MultilabelAnalysis:
    """Find the wrong tags of a multi-label table.

    Parameters
    ----------
    data : str, Path or DataFrame
        A CSV / TSV / Parquet file (read as :func:`analysis.data.dataset.read_table` reads it)
        or a table.
    label_col, label_cols, prefix, sep, class_names
        Where the tags are (:func:`read_tags`): a delimited column (``sep`` between tags;
        ``class_names`` fixes the classes and their order), or 0/1 columns by list or prefix.
    pred_probs : array-like of shape (N, K), optional
        Per-class probabilities in class order; else the ``pred_prob_<class>`` columns; else
        out of fold from the features (``feature_cols``, default every other column) or the
        text column ``text_col``.
    id_col : str, optional
        The id column (default ``id`` if present, else the row number).
    model, cv
        As :func:`analysis.model.multilabel.choose_multilabel_model`.
    filter_by, aggregator
        As :func:`analysis.core.multilabel.estimate_multilabel` and
        :func:`analysis.core.multilabel.multilabel_quality_scores`.
    progress : callable(fraction, message), optional

    Returns
    -------
    MultilabelAnalysis

    Raises
    ------
    DataError
        Bad input, naming the file, the column and the rows.
    """
    frame, source, origin, path = read_multilabel_table(data)
    tags = read_tags(frame, label_col=label_col, label_cols=label_cols, prefix=prefix,
                     sep=sep, class_names=class_names, source=source)
    ids = _ids(frame, id_col, source)
    probs, where, choice = _probabilities(frame, tags, pred_probs, feature_cols=feature_cols,
                                          text_col=text_col, id_col=id_col, model=model, cv=cv,
                                          source=source, progress=progress)
    estimate = core.estimate_multilabel(tags.labels, probs, filter_by=filter_by)
    scores = core.multilabel_quality_scores(tags.labels, probs, aggregator=aggregator)
    return MultilabelAnalysis(
        frame=frame, source=source, tags=tags, ids=ids, pred_probs=probs,
        probabilities_source=where, model=choice, estimate=estimate, scores=scores,
        suggested=core.suggested_tags(tags.labels, estimate.issues),
        health=core.multilabel_health(tags.labels, probs, estimate), origin=origin, path=path,
        notes=list(tags.notes) + (list(choice.notes) if choice is not None else []))


__all__ = ["LEVEL", "MultilabelAnalysis", "analyze_multilabel", "feature_frame",
           "jeffreys_interval", "per_class_table", "read_multilabel_table", "read_tags"]
