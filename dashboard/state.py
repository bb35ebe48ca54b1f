"""What the pages share: the chosen data source, its dataset and analysis, cached per process.

Heavy results (out-of-fold probabilities, projections, neighbours) live in one process-wide
store keyed by the dataset fingerprint, on top of the on-disk cache of ``analysis``; a rerun
reads them back without work. UMAP runs in a background thread so the map can show PCA at
once and switch when UMAP is ready.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import streamlit as st

import analysis as nl
from analysis.pipeline import Analysis

FILTER_LABELS = {
    "prune_by_noise_rate": "Prune by noise rate (default)",
    "prune_by_class": "Prune by class",
    "both": "Both prune methods",
    "confident_learning": "Confident joint off-diagonal",
    "predicted_neq_given": "Prediction differs from label",
    "low_self_confidence": "Lowest self-confidence",
    "low_normalized_margin": "Lowest normalised margin",
}
RANK_LABELS = {
    "self_confidence": "Self-confidence",
    "normalized_margin": "Normalised margin",
    "confidence_weighted_entropy": "Confidence-weighted entropy",
}


@dataclass(frozen=True)
class Source:
    """Where the data comes from: a bundled sample, or a file with column choices."""

    kind: str  # "sample" | "file"
    name: str  # sample name, or the file path
    label_column: str | None = None
    id_column: str | None = None
    text_column: str | None = None
    pred_probs: str | None = None  # path of an .npy file
    embeddings: str | None = None  # path of an .npy file

    @property
    def title(self) -> str:
        return f"sample '{self.name}'" if self.kind == "sample" else Path(self.name).name


@st.cache_resource(show_spinner=False, max_entries=6)
def load(source: Source) -> nl.Dataset:
    """The dataset of ``source`` (raises :class:`analysis.DataError` with a clear message)."""
    if source.kind == "sample":
        return nl.from_sample(source.name)
    options = {k: v for k, v in (
        ("id_column", source.id_column), ("text_column", source.text_column),
        ("pred_probs", source.pred_probs), ("embeddings", source.embeddings),
    ) if v}
    return nl.load_dataset(source.name, source.label_column, **options)


# -- the process-wide store ------------------------------------------------------------------
@dataclass
class _Store:
    lock: threading.Lock = field(default_factory=threading.Lock)
    base: dict = field(default_factory=dict)  # fingerprint -> Analysis
    variants: dict = field(default_factory=dict)  # (fingerprint, filter, rank) -> Analysis
    features: dict = field(default_factory=dict)  # fingerprint -> matrix
    projections: dict = field(default_factory=dict)  # (fingerprint, method) -> (N, 2)
    jobs: dict = field(default_factory=dict)  # (fingerprint, method) -> _Job


@st.cache_resource(show_spinner=False)
def store() -> _Store:
    return _Store()


def analysis_for(dataset: nl.Dataset, filter_by: str, rank_by: str) -> Analysis:
    """The analysis of ``dataset`` with these methods; the first call shows its progress."""
    s = store()
    key = (dataset.fingerprint, filter_by, rank_by)
    hit = s.variants.get(key)
    if hit is not None:
        return hit
    base = s.base.get(dataset.fingerprint)
    if base is None:
        with s.lock:
            base = s.base.get(dataset.fingerprint)
            if base is None:
                base = _first_analysis(dataset)
                s.base[dataset.fingerprint] = base
    result = base.with_methods(filter_by, rank_by)
    _ = result.is_issue, result.scores, result.ranked, result.estimate
    s.variants[key] = result
    return result


def _first_analysis(dataset: nl.Dataset) -> Analysis:
    if dataset.pred_probs is not None:
        return nl.analyze(dataset)
    slot = st.empty()
    with slot.status("Computing out-of-fold predicted probabilities…", expanded=True):
        st.caption("Every row is predicted by a model that never saw it (5-fold "
                   "cross-validation); the result is cached, so this happens once per dataset.")
        bar = st.progress(0.0)

        def progress(fraction: float, message: str) -> None:
            bar.progress(float(min(max(fraction, 0.0), 1.0)), text=message)

        result = nl.analyze(dataset, progress=progress)
        _ = result.estimate
    slot.empty()
    st.toast(f"Probabilities ready: {result.probabilities_source}", icon=":material/check:")
    return result


def features_for(dataset: nl.Dataset) -> np.ndarray:
    """The matrix projections and neighbours are computed in (standardised features,
    embeddings or TF-IDF)."""
    s = store()
    hit = s.features.get(dataset.fingerprint)
    if hit is None:
        text = None
        if dataset.text_column:
            text = dataset.frame[dataset.text_column].fillna("").astype(str).tolist()
        hit = nl.prepare_features(
            dataset.features if dataset.feature_columns else None,
            embeddings=dataset.embeddings, text=text,
        )
        s.features[dataset.fingerprint] = hit
    return hit


def row_neighbours(dataset: nl.Dataset, row: int, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest other rows of one row (exact, Euclidean, in the projection's space),
    and their distances: one pass over the features, ~10 ms for 100k x 64, no index to build.
    """
    X = features_for(dataset)
    diff = X - X[row]
    d2 = np.einsum("ij,ij->i", diff, diff)
    d2[row] = np.inf
    k = min(k, len(dataset) - 1)
    near = np.argpartition(d2, k - 1)[:k] if k < len(d2) - 1 else np.arange(len(d2))
    near = near[np.argsort(d2[near], kind="stable")]
    near = near[near != row][:k]
    return near, np.sqrt(d2[near])


class _Job:
    """A projection computed in a daemon thread (never blocks the exit of the process)."""

    def __init__(self, fn):
        self.result = None
        self.error: str | None = None
        self.fraction = 0.0
        self.message = "queued"
        self._thread = threading.Thread(target=self._run, args=(fn,), daemon=True)
        self._thread.start()

    def _run(self, fn):
        try:
            self.result = fn(self._progress)
        except Exception as exc:  # shown to the user on the map page
            self.error = f"{type(exc).__name__}: {exc}"

    def _progress(self, fraction: float, message: str) -> None:
        self.fraction, self.message = fraction, message

    @property
    def done(self) -> bool:
        return not self._thread.is_alive()


def projection_for(dataset: nl.Dataset, method: str, *, wait: bool = False):
    """The (N, 2) projection, or ``None`` while it is still computing in the background.

    PCA is computed at once. UMAP and t-SNE run in a thread (a disk-cache hit returns
    within the first rerun); read :func:`projection_job` for progress.
    """
    s = store()
    key = (dataset.fingerprint, method)
    hit = s.projections.get(key)
    if hit is not None:
        return hit
    X = features_for(dataset)
    if method == "pca" or wait:
        hit = nl.project(X, method, cache_key=dataset.fingerprint)
        s.projections[key] = hit
        return hit
    with s.lock:
        job = s.jobs.get(key)
        if job is None or (job.done and job.error):
            job = _Job(lambda progress: nl.project(X, method, cache_key=dataset.fingerprint,
                                                   progress=progress))
            s.jobs[key] = job
    if job.done and job.error is None:
        s.projections[key] = job.result
        return job.result
    return None


def projection_job(dataset: nl.Dataset, method: str) -> _Job | None:
    return store().jobs.get((dataset.fingerprint, method))


def default_projection() -> str:
    """``NOISELENS_PROJECTION`` (umap / pca / tsne), else UMAP."""
    value = os.environ.get("NOISELENS_PROJECTION", "umap").lower()
    return value if value in ("umap", "pca", "tsne") else "umap"


def ratings_for(dataset: nl.Dataset) -> np.ndarray:
    """The annotator columns encoded with the dataset's classes: (N, A), -1 = not rated."""
    from analysis.annotators import encode_ratings

    s = store()
    key = ("ratings", dataset.fingerprint)
    hit = s.features.get(key)
    if hit is None:
        hit, _ = encode_ratings(dataset.frame, dataset.annotator_columns, dataset.class_names)
        s.features[key] = hit
    return hit


def consensus_for(dataset: nl.Dataset, pred_probs: np.ndarray | None):
    """The quality-weighted vote of the annotators (the model as one more voter when
    ``pred_probs`` is given), cached per process."""
    from analysis.annotators import weighted_vote

    s = store()
    key = ("consensus", dataset.fingerprint, pred_probs is not None)
    hit = s.features.get(key)
    if hit is None:
        hit = weighted_vote(ratings_for(dataset), dataset.num_classes, pred_probs=pred_probs)
        s.features[key] = hit
    return hit


def with_consensus(dataset: nl.Dataset, result: Analysis) -> Analysis:
    """``result`` re-analysed against the annotators' consensus (given label where no one
    rated the row)."""
    s = store()
    key = (dataset.fingerprint, result.filter_by, result.rank_by, "consensus")
    hit = s.variants.get(key)
    if hit is None:
        consensus = consensus_for(dataset, None).labels
        labels = np.where(consensus >= 0, consensus, dataset.labels)
        hit = result.with_labels(labels)
        _ = hit.is_issue, hit.scores, hit.ranked, hit.estimate
        s.variants[key] = hit
    return hit


def review_store(dataset: nl.Dataset):
    """The review decisions of ``dataset`` (SQLite in the workspace; read fresh every time)."""
    from analysis.review import ReviewStore

    return ReviewStore(dataset.fingerprint, class_names=dataset.class_names)


# -- what the app shell leaves for the pages ---------------------------------------------------
def current() -> tuple[nl.Dataset, Analysis]:
    """The dataset and analysis the shell prepared for this run."""
    return st.session_state["_dataset"], st.session_state["_analysis"]


def class_label(names, k: int) -> str:
    return f"{k} · {names[k]}" if str(names[k]) != str(k) else str(k)
