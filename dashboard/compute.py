"""The server's compute side: datasets and everything derived from them, cached per process.

One bounded cache for the whole process (docs/architecture.md, "Caches"): at most
:data:`MAX_DATASETS` datasets are held, each with its analysis variants (at most
:data:`MAX_VARIANTS`), feature matrix, projections, neighbour rows, thumbnails (at most
:data:`MAX_THUMBNAILS`), id index and one :class:`~analysis.review.store.ReviewStore`. Opening
another dataset evicts the one used longest ago, with all it holds; the on-disk cache of
``analysis`` keeps the expensive parts (out-of-fold probabilities, projections) so coming back
is fast.

Keys are content fingerprints, never file names, so a changed file is a new dataset; and the
file's size and modification time are part of the key of :func:`load`, so a file changed on
disk is read again instead of served from memory.

UMAP and t-SNE run in a background thread so the map can show PCA at once and switch when
the projection is ready.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import numpy as np
import streamlit as st

import analysis as nl
from analysis.annotators.agreement import encode_ratings, weighted_vote
from analysis.core.cache import workspace
from analysis.data import store as dataset_store
from analysis.model.neighbours import neighbours_of_rows
from analysis.pipeline import Analysis
from analysis.review.findings import review_order as _review_order
from analysis.review.store import ReviewStore
from analysis.signals.compute import DEFAULT_K, signal_space
from dashboard import thumbs

T = TypeVar("T")

#: Values derived from one analysis object (figures, tables) kept by :func:`derived`.
MAX_DERIVED = 64
#: Datasets held in memory at once (their on-disk caches stay).
MAX_DATASETS = int(os.environ.get("NOISELENS_MAX_DATASETS", "3"))
#: Method variants (filter x ranking x consensus) held per dataset.
MAX_VARIANTS = 8
#: Thumbnails, and rows' neighbour lists, held per dataset.
MAX_THUMBNAILS = 5_000


@dataclass(frozen=True)
class Source:
    """Where the data comes from: a bundled sample, or a file with column choices.

    ``version`` is the file's ``(size, mtime_ns)`` (and those of the ``.npy`` extras): part of
    the cache key, so a file changed on disk is loaded again.
    """

    kind: str  # "sample" | "file"
    name: str  # sample name, or the file path
    label_column: str | None = None
    id_column: str | None = None
    text_column: str | None = None
    pred_probs: str | None = None  # path of an .npy file
    embeddings: str | None = None  # path of an .npy file
    class_names: str | None = None  # path of a text file: class names in column order
    min_class_size: int | None = None  # --min-class-size (None: load_dataset's default)
    version: tuple = ()

    @property
    def title(self) -> str:
        return f"sample '{self.name}'" if self.kind == "sample" else Path(self.name).name

    def current(self) -> Source:
        """This source with ``version`` read from the files now."""
        if self.kind != "file":
            return self
        stamps = []
        for path in (self.name, self.pred_probs, self.embeddings, self.class_names):
            if path:
                try:
                    st_ = os.stat(path)
                    stamps.append((st_.st_size, st_.st_mtime_ns))
                except OSError:
                    stamps.append(None)
        return Source(**{**self.__dict__, "version": tuple(stamps)})


@st.cache_resource(show_spinner=False, max_entries=MAX_DATASETS)
def _load(source: Source) -> nl.Dataset:
    if source.kind == "sample":
        return nl.from_sample(source.name)
    options = {k: v for k, v in (
        ("id_column", source.id_column), ("text_column", source.text_column),
        ("pred_probs", source.pred_probs), ("embeddings", source.embeddings),
        ("classes", source.class_names), ("min_class_size", source.min_class_size),
    ) if v}
    # a large file opened before comes back from its stored form (analysis/data/store.py)
    return dataset_store.load(source.name, source.label_column, **options)


def load(source: Source) -> nl.Dataset:
    """The dataset of ``source`` as it is on disk now (raises :class:`analysis.DataError`
    with a clear message)."""
    return _load(source.current())


# -- the bounded per-dataset cache -----------------------------------------------------------
@dataclass
class _Entry:
    """Everything derived from one dataset (one fingerprint)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    base: Analysis | None = None
    variants: OrderedDict = field(default_factory=OrderedDict)  # (filter, rank, consensus)
    features: np.ndarray | None = None
    space: str = ""  # what ``features`` is, in words
    pixels: np.ndarray | None = None
    ratings: np.ndarray | None = None
    consensus: object | None = None
    projections: dict = field(default_factory=dict)  # method -> (N, 2)
    jobs: dict = field(default_factory=dict)  # method -> _Job
    thumbs: OrderedDict = field(default_factory=OrderedDict)  # (row, scale) -> data URI
    near: OrderedDict = field(default_factory=OrderedDict)  # (row, k) -> (rows, distances)
    memo: OrderedDict = field(default_factory=OrderedDict)  # key -> value (per_dataset)
    reviews: object | None = None  # ReviewStore


class _Cache:
    def __init__(self, max_datasets: int):
        self.max_datasets = max_datasets
        self.lock = threading.Lock()
        self.entries: OrderedDict[str, _Entry] = OrderedDict()
        # analysis object -> {(function, args): value}; an entry goes with its analysis
        self.derived: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def entry(self, dataset: nl.Dataset) -> _Entry:
        """The entry of ``dataset``, most recently used; the oldest beyond the bound go."""
        key = dataset.fingerprint
        with self.lock:
            hit = self.entries.get(key)
            if hit is None:
                hit = self.entries[key] = _Entry()
            self.entries.move_to_end(key)
            while len(self.entries) > self.max_datasets:
                self.entries.popitem(last=False)
            return hit


@st.cache_resource(show_spinner=False)
def cache() -> _Cache:
    """The process-wide cache (one per server)."""
    return _Cache(MAX_DATASETS)


def _remember(store: OrderedDict, key, value, limit: int):
    store[key] = value
    store.move_to_end(key)
    while len(store) > limit:
        store.popitem(last=False)
    return value


# -- analysis ----------------------------------------------------------------------------------
def analysis_for(dataset: nl.Dataset, filter_by: str, rank_by: str) -> Analysis:
    """The analysis of ``dataset`` with these methods; the first call shows its progress."""
    entry = cache().entry(dataset)
    key = (filter_by, rank_by, False)
    hit = entry.variants.get(key)
    if hit is not None:
        entry.variants.move_to_end(key)
        return hit
    with entry.lock:
        if entry.base is None:
            entry.base = _first_analysis(dataset)
    result = entry.base.with_methods(filter_by, rank_by)
    _ = result.is_issue, result.scores, result.ranked, result.estimate
    return _remember(entry.variants, key, result, MAX_VARIANTS)


def _first_analysis(dataset: nl.Dataset) -> Analysis:
    # confident learning first (one fit); the combined detector is the sidebar's choice, fitted
    # on demand (dashboard.why.detector_result): docs/detection.md, "The dashboard's first page
    # stays on confident learning", says why
    if dataset.pred_probs is not None:
        return nl.analyze(dataset, detector="confident_learning")
    slot = st.empty()
    with slot.status("Computing out-of-fold predicted probabilities…", expanded=True):
        st.caption("Every row is predicted by a model that never saw it (5-fold "
                   "cross-validation); the result is cached, so this happens once per dataset.")
        bar = st.progress(0.0)

        def progress(fraction: float, message: str) -> None:
            bar.progress(float(min(max(fraction, 0.0), 1.0)), text=message)

        result = nl.analyze(dataset, progress=progress, detector="confident_learning")
        _ = result.estimate
    slot.empty()
    st.toast(f"Probabilities ready: {result.probabilities_source}", icon=":material/check:")
    return result


def with_consensus(dataset: nl.Dataset, result: Analysis) -> Analysis:
    """``result`` re-analysed against the annotators' consensus (given label where no one
    rated the row)."""
    entry = cache().entry(dataset)
    key = (result.filter_by, result.rank_by, True)
    hit = entry.variants.get(key)
    if hit is None:
        consensus = consensus_for(dataset).labels
        labels = np.where(consensus >= 0, consensus, dataset.labels)
        hit = result.with_labels(labels)
        _ = hit.is_issue, hit.scores, hit.ranked, hit.estimate
        _remember(entry.variants, key, hit, MAX_VARIANTS)
    return hit


def _memoised(store: _Cache, memo: OrderedDict, key, make: Callable[[], T]) -> T:
    """``memo[key]``, made by ``make()`` on a miss (outside the lock: it may be slow) and
    kept, at most :data:`MAX_DERIVED` per memo; arrays are made read-only (shared)."""
    with store.lock:
        if key in memo:
            memo.move_to_end(key)
            return memo[key]
    value = make()
    if isinstance(value, np.ndarray):
        value.flags.writeable = False  # shared: a caller that writes into it fails loudly
    with store.lock:
        _remember(memo, key, value, MAX_DERIVED)
    return value


def derived(result: Analysis, key, make: Callable[[], T]) -> T:
    """``make()``, computed once per analysis object and ``key``.

    For what a page draws from the analysis alone (figures, tables, curves): a rerun reuses
    it instead of building it again. ``key`` (hashable, e.g. ``("noise_rates", title)``) must
    name everything else ``make`` depends on; nothing that depends on review decisions
    belongs here. The value is shared between reruns and sessions: callers must not modify
    it. At most :data:`MAX_DERIVED` values per analysis; they go with the analysis when the
    bounded cache evicts it.
    """
    store = cache()
    with store.lock:
        memo = store.derived.get(result)
        if memo is None:
            memo = store.derived[result] = OrderedDict()
    return _memoised(store, memo, key, make)


def per_dataset(dataset: nl.Dataset, key, make: Callable[[], T]) -> T:
    """``make()``, computed once per dataset (fingerprint) and ``key``: :func:`derived` for
    what depends on the data alone (e.g. the sidebar's slice columns). Bounded by
    :data:`MAX_DERIVED`; goes with the dataset."""
    store = cache()
    return _memoised(store, store.entry(dataset).memo, key, make)


def review_order(result: Analysis, decisions) -> np.ndarray:
    """:func:`analysis.review.findings.review_order` of ``result`` and ``decisions`` (a frame
    of :meth:`~analysis.review.store.ReviewStore.decisions`), kept by :func:`derived` under a
    digest of the decisions' ids and actions (all it reads), so a rerun of Review & export or
    Noise by slice with the same decisions does not compute it again (0.24 s at 200k rows)."""
    digest = hashlib.sha256()
    if decisions is not None and len(decisions):
        for column in ("id", "action"):
            digest.update("\x1f".join(decisions[column].astype(str)).encode())
            digest.update(b"\x1e")
    return derived(result, ("review_order", digest.hexdigest()),
                   lambda: _review_order(result, decisions))


# -- matrices derived from the data -------------------------------------------------------------
def _space(dataset: nl.Dataset) -> tuple[np.ndarray, str]:
    """The matrix rows are drawn and compared in, and its name in words: one definition for
    the map, the neighbours, the retrain check and the signals
    (:func:`analysis.signals.compute.signal_space`: embeddings, else features, else text, else — or
    when those cannot become numbers, e.g. only categorical columns — the probabilities)."""
    return _space_of(cache().entry(dataset), dataset)


def _space_of(entry: _Entry, dataset: nl.Dataset) -> tuple[np.ndarray, str]:
    """:func:`_space` with the dataset's cache entry given (usable off the script thread)."""
    if entry.features is None:
        probs = dataset.pred_probs
        if probs is None and entry.base is not None:
            probs = entry.base.pred_probs
        try:
            X, space, _ = signal_space(dataset, probs)
        except ValueError as exc:
            raise nl.DataError(f"{dataset.source}: {exc}") from None
        words = {
            "embeddings": ("the images' pixels (reduced to 16 x 16)"
                           if dataset.embeddings_from == "pixels" else "the embeddings"),
            "features": "the standardised feature columns",
            "text": f"the TF-IDF of the text column '{dataset.text_column}'",
            "probabilities": "the predicted probabilities (the data has no numeric features, "
                             "text or embeddings to compare rows in)",
        }
        entry.features, entry.space = X, words[space]
    return entry.features, entry.space


def feature_space(dataset: nl.Dataset) -> str:
    """What :func:`features_for` is made of, in words (for captions)."""
    return _space(dataset)[1]


def features_for(dataset: nl.Dataset) -> np.ndarray:
    """The matrix projections and neighbours are computed in (see :func:`_space`)."""
    return _space(dataset)[0]


def pixels_for(dataset: nl.Dataset) -> np.ndarray | None:
    """The image pixels of a pixel-column dataset as float32 (N, H*W), else ``None``."""
    if dataset.image_shape is None:
        return None
    entry = cache().entry(dataset)
    if entry.pixels is None:
        entry.pixels = np.asarray(dataset.features, dtype=np.float32)
    return entry.pixels


def thumbnail(dataset: nl.Dataset, row: int, scale: int = 4) -> str:
    """PNG data URI of row ``row``'s image (kept for the :data:`MAX_THUMBNAILS` last used)."""
    entry = cache().entry(dataset)
    key = (int(row), scale)
    hit = entry.thumbs.get(key)
    if hit is None:
        hit = thumbs.png_data_uri(pixels_for(dataset)[row], dataset.image_shape, scale=scale)
        _remember(entry.thumbs, key, hit, MAX_THUMBNAILS)
    return hit


def row_of_id(dataset: nl.Dataset, value) -> int | None:
    """Row position of the example whose id prints as ``value``, or ``None``
    (:meth:`analysis.data.dataset.Dataset.row_of`)."""
    return dataset.row_of(value)


def row_neighbours(dataset: nl.Dataset, row: int, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest other rows of one row and their distances (exact, Euclidean, in the
    space of :func:`features_for`): :func:`analysis.model.neighbours.neighbours_of_rows`."""
    entry = cache().entry(dataset)
    k = min(k, len(dataset) - 1)
    hit = entry.near.get((row, k))
    if hit is None:  # one exact search over all rows (0.1-0.2 s at 100k): once per row
        idx, dist = neighbours_of_rows(features_for(dataset), [row], k)
        hit = _remember(entry.near, (row, k), (idx[0], dist[0]), MAX_THUMBNAILS)
        for a in hit:
            a.flags.writeable = False
    else:
        entry.near.move_to_end((row, k))
    return hit


def ratings_for(dataset: nl.Dataset) -> np.ndarray:
    """The annotator columns encoded with the dataset's classes: (N, A), -1 = not rated."""
    entry = cache().entry(dataset)
    if entry.ratings is None:
        entry.ratings, _ = encode_ratings(dataset.frame, dataset.annotator_columns,
                                          dataset.class_names)
    return entry.ratings


def consensus_for(dataset: nl.Dataset):
    """The annotators' quality-weighted vote, cached per dataset."""
    entry = cache().entry(dataset)
    if entry.consensus is None:
        entry.consensus = weighted_vote(ratings_for(dataset), dataset.num_classes)
    return entry.consensus


def review_store(dataset: nl.Dataset):
    """The review decisions of ``dataset``: one store per dataset (it reads SQLite fresh on
    every call, so another tab's decisions show at once), seen by this browser session, so
    that Undo takes back this session's own last change and never another's."""
    entry = cache().entry(dataset)
    if entry.reviews is None:
        entry.reviews = ReviewStore(dataset, class_names=dataset.class_names)
    if "review_session" not in st.session_state:
        st.session_state["review_session"] = uuid.uuid4().hex
    return entry.reviews.with_session(st.session_state["review_session"])


# -- projections -------------------------------------------------------------------------------
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
    within the first rerun), from :data:`PROJECTION_IN_CHILD_ROWS` rows in a child process
    that fills the disk cache; read :func:`projection_job` for progress.
    """
    entry = cache().entry(dataset)
    hit = entry.projections.get(method)
    if hit is not None:
        return hit
    X = features_for(dataset)
    if method == "pca" or wait:
        return _project_now(entry, dataset, method)
    with entry.lock:
        job = entry.jobs.get(method)
        if job is None or (job.done and job.error):
            def run(progress):
                if len(X) >= PROJECTION_IN_CHILD_ROWS and nl.project(
                        X, method, cache_key=dataset.fingerprint, cached_only=True) is None:
                    # the child fills the cache read just below
                    try:
                        _in_child(X, {"kind": "projection", "method": method,
                                      "key": dataset.fingerprint}, progress,
                                  f"{method.upper()} of {len(X):,} rows")
                    except (OSError, ValueError, MemoryError):  # the thread computes it
                        pass
                return nl.project(X, method, cache_key=dataset.fingerprint, progress=progress)

            job = entry.jobs[method] = _Job(run)
    if job.done and job.error is None:
        entry.projections[method] = job.result
        return job.result
    return None


def _project_now(entry: _Entry, dataset: nl.Dataset, method: str) -> np.ndarray:
    """The projection computed (or read from disk) here and now, and kept in ``entry``."""
    hit = entry.projections[method] = nl.project(_space_of(entry, dataset)[0], method,
                                                 cache_key=dataset.fingerprint)
    return hit


def signals_job(result: Analysis) -> _Job:
    """The background computation of ``result.signals`` (neighbour search, near-duplicates,
    outliers, neighbour agreement), started on first call; the analysis object keeps the
    result (a cached property), so every later read is instant."""
    entry = cache().entry(result.dataset)
    key = ("signals", id(result))
    with entry.lock:
        job = entry.jobs.get(key)
        if job is None or (job.done and job.error):
            def run(progress):
                # the per-row table that the map, Suspects and Review pages start from, and
                # the PCA map, are made here first (0.9 s and 0.05 s at 1M rows), not on the
                # first of those pages
                progress(0.05, "the row table")
                result.table()
                # the id index every page that shows decisions reads (0.25 s at 200k rows):
                # made here once per dataset, not on the first visit of Suspects
                _ = result.dataset.id_index
                if "pca" not in entry.projections:  # the map's first view, likewise
                    progress(0.07, "the PCA map")
                    try:
                        _project_now(entry, result.dataset, "pca")
                    except (nl.DataError, ValueError):  # the map page says why
                        pass
                progress(0.1, "neighbour search")
                if len(result.labels) >= NEIGHBOURS_IN_CHILD_ROWS:
                    neighbours_in_child(result, progress)
                return result.signals

            job = entry.jobs[key] = _Job(run)
    return job


#: From this many rows the neighbour search of :func:`signals_job` runs in a child process:
#: pynndescent's numba loops hold the GIL for seconds at a time, which stalled every page of
#: the server while it ran in a thread (Evaluate took 28 s at 1M rows); its memory is the
#: child's too. The child uses one numba thread, leaving the other cores to the pages. From
#: 20,000 rows, where the signals leave the page run for the background (dashboard/why.py).
#: Suspects reruns while the search runs (benchmarks/rerun_during_signals.py, a busy 2-core
#: machine), thread -> child: median 87 -> 65 ms at 50k rows (longest 746 / 838 ms), 150 ->
#: 120 ms at 100k rows (longest 2.1 / 1.2 s).
NEIGHBOURS_IN_CHILD_ROWS = int(os.environ.get("NOISELENS_NEIGHBOURS_IN_CHILD_ROWS", "20000"))

_CHILD = """
import json, os, shutil, sys, threading, time

PARENT = int(sys.argv[3])


def _watch_parent():
    # the server is gone (stopped, killed): stop too, leaving no temporary folder behind
    while True:
        time.sleep(1.0)
        if os.getppid() != PARENT:
            shutil.rmtree(os.path.dirname(sys.argv[1]), ignore_errors=True)
            os._exit(3)


threading.Thread(target=_watch_parent, daemon=True).start()
import numpy as np
X = np.load(sys.argv[1], allow_pickle=False)
task = json.loads(sys.argv[2])


def progress(fraction, message):
    try:
        print(json.dumps([fraction, message]), flush=True)
    except OSError:  # the server is gone: the watcher cleans up and exits
        pass


if task["kind"] == "neighbours":
    from analysis.model.neighbours import nearest_neighbours
    nearest_neighbours(X, k=task["k"], cache_key=tuple(task["key"]), progress=progress)
else:
    from analysis.model.embedding import project
    project(X, task["method"], cache_key=task["key"], progress=progress)
"""


_CHILD_LOCK = threading.Lock()
_CHILD_SEARCHES: dict[tuple, threading.Lock] = {}  # (workspace, fingerprint) -> its search
_CHILD_DONE: set[tuple] = set()


def neighbours_in_child(result: Analysis, progress) -> bool:
    """Fill the on-disk neighbour cache that ``result.signals`` reads, searching in a child
    process (same arguments as :attr:`analysis.pipeline.Analysis.signals`, so the thread then
    finds the graph cached). True when the child succeeded; on failure the caller's thread
    searches itself (slower, holds the GIL).

    One search per data set: the jobs of other views of it (another filter, the consensus)
    wait for the running one instead of starting a second child (1.9 GB at 1M rows)."""
    key = (str(workspace()), result.dataset.fingerprint)
    with _CHILD_LOCK:
        lock = _CHILD_SEARCHES.setdefault(key, threading.Lock())
    if lock.locked():
        progress(0.1, "neighbour search (already running for another view of this data)")
    with lock:
        if key in _CHILD_DONE:
            return True
        try:
            ok = _search_in_child(result, progress)
        except (OSError, ValueError, MemoryError):  # no space, no disk: the thread tries
            ok = False
        if ok:
            _CHILD_DONE.add(key)
        return ok


def _search_in_child(result: Analysis, progress) -> bool:
    X, space, _ = signal_space(result.dataset, result.pred_probs)
    task = {"kind": "neighbours", "k": min(DEFAULT_K, X.shape[0] - 1),
            "key": ["signals", result.dataset.fingerprint, space]}
    return _in_child(np.asarray(X, dtype=np.float32), task, progress,
                     f"neighbour search of {len(result.labels):,} rows")


def _in_child(X: np.ndarray, task: dict, progress, what: str) -> bool:
    """Run ``task`` (see ``_CHILD``) on ``X`` in a child process that fills the on-disk cache;
    its progress lines are passed on with the time elapsed. True when it succeeded."""
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(root), *filter(None, [os.environ.get("PYTHONPATH")])]),
        "NOISELENS_HOME": str(workspace()), "NUMBA_NUM_THREADS": "1"}
    folder = workspace() / "cache"
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder, prefix=f".{task['kind']}-") as tmp:
        path = Path(tmp) / "space.npy"
        np.save(path, np.asarray(X), allow_pickle=False)  # as is: it is part of the cache key
        del X
        start = time.monotonic()
        last = [0.0, what]

        def relay(stream) -> None:  # the child's progress lines
            for line in stream:
                try:
                    fraction, message = json.loads(line)
                    last[:] = [float(fraction), f"{what}: {message}"]
                except (ValueError, TypeError):
                    pass

        with open(Path(tmp) / "stderr.txt", "wb") as err:
            proc = subprocess.Popen([sys.executable, "-c", _CHILD, str(path), json.dumps(task),
                                     str(os.getpid())], env=env, stdout=subprocess.PIPE,
                                    stderr=err, text=True)
            reader = threading.Thread(target=relay, args=(proc.stdout,), daemon=True)
            reader.start()
            while True:
                try:
                    proc.wait(timeout=1.0)
                    break
                except subprocess.TimeoutExpired:
                    progress(last[0], f"{last[1]} ({time.monotonic() - start:.0f} s)")
            reader.join(timeout=5.0)
    return proc.returncode == 0


#: From this many rows UMAP and t-SNE run in a child process too: umap's numba layout loops
#: hold the GIL (Suspects reruns stalled up to 9.75 s at 200,000 rows while UMAP ran in a
#: thread, 0.39 s with the child: benchmarks/rerun_during_projection.py, README). The child
#: compiles umap's numba code again (~20 s), a cost paid in the background, once per dataset
#: (the result is cached).
PROJECTION_IN_CHILD_ROWS = int(os.environ.get("NOISELENS_PROJECTION_IN_CHILD_ROWS", "20000"))


def projection_job(dataset: nl.Dataset, method: str) -> _Job | None:
    return cache().entry(dataset).jobs.get(method)


def default_projection() -> str:
    """``NOISELENS_PROJECTION`` (umap / pca / tsne), else UMAP."""
    value = os.environ.get("NOISELENS_PROJECTION", "umap").lower()
    return value if value in ("umap", "pca", "tsne") else "umap"
