"""Why a row is flagged: every per-row signal in one schema, dataset-level checks, and the
plain-language sentences the "Why flagged" panel shows.

Each issue type ``t`` gives every row ``is_<t>_issue`` (bool) and ``<t>_score`` in [0, 1],
where **low is worse** (the schema of cleanlab's Datalab). The types are the modules of this
package listed in :data:`REGISTRY`: :mod:`~analysis.signals.label`,
:mod:`~analysis.signals.near_duplicate`, :mod:`~analysis.signals.outlier` and
:mod:`~analysis.signals.disagreement` (each says how it flags and scores).

The space is that of :func:`analysis.model.embedding.prepare_features` (embeddings, else the
standardised numeric features, else TF-IDF of the text). A dataset with only probabilities
uses the probabilities as the space (:attr:`Signals.space` says so); there near-duplicates
are not looked for (two rows the model sees alike are not copies of each other).

Memory is O(N * k); the neighbour search is cached on disk (``cache_key``), the rest takes
well under a second at 100k rows. See ``docs/architecture.md``, Where to add.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis.core import cache
from analysis.core._helpers import Progress, no_progress
from analysis.model import embedding
from analysis.model.neighbours import nearest_neighbours
from analysis.signals.base import Context
from analysis.signals.disagreement import NeighbourDisagreement
from analysis.signals.label import LabelIssue
from analysis.signals.near_duplicate import NearDuplicate
from analysis.signals.outlier import Outlier

#: The issue types every analysis computes, in the column order of :meth:`Signals.frame`.
#: A new type: its module in this package (:class:`analysis.signals.base.IssueType`) and one
#: entry here.
REGISTRY = (LabelIssue(), NearDuplicate(), Outlier(), NeighbourDisagreement())
#: The per-row issue types, in the column order of :meth:`Signals.frame`.
ISSUE_TYPES = tuple(t.name for t in REGISTRY)
#: Plain names of the issue types.
ISSUE_NAMES = {t.name: t.title for t in REGISTRY}

#: Neighbours per row.
DEFAULT_K = 10
#: Class imbalance: a class is rare under this fraction of an even share (1 / K).
IMBALANCE_FRACTION = 0.1
#: A class is "mostly flagged" when at least this share of its rows are label issues.
MOSTLY_FLAGGED = 0.5
SIGNALS_VERSION = 1
#: Bump when :func:`analysis.model.embedding.prepare_features` changes: the signal space of features
#: and text is cached on disk under it (:func:`signal_space`).
SPACE_VERSION = 1


@dataclass(frozen=True, eq=False)
class Signals:
    """The per-row signals of a dataset.

    Attributes
    ----------
    table : DataFrame
        One row per example (dataset order): ``is_<t>_issue`` and ``<t>_score`` for every
        ``t`` in :data:`ISSUE_TYPES`, then ``neighbour_label`` (the most common label among
        the neighbours other than the row's own, -1 if none), ``neighbour_label_count`` (how
        many neighbours carry it), ``neighbour_mean_distance``, ``nearest_distance``,
        ``near_duplicate_conflicting`` (bool) and ``any_issue``.
    duplicates : DataFrame
        The near-duplicate pairs (:func:`analysis.model.neighbours.near_duplicates`).
    indices, distances : ndarray of shape (N, k)
        The neighbour graph (empty with fewer than 2 rows).
    space : str
        ``"embeddings"``, ``"features"``, ``"text"`` or ``"probabilities"``.
    note : str
        A sentence on the space (why probabilities, when they are used).
    duplicate_threshold : float
        Largest distance of a near-duplicate pair (NaN when not looked for).
    """

    table: pd.DataFrame
    duplicates: pd.DataFrame
    indices: np.ndarray
    distances: np.ndarray
    space: str
    note: str = ""
    duplicate_threshold: float = float("nan")
    _partners: dict = field(default_factory=dict, repr=False)

    @property
    def k(self) -> int:
        return int(self.indices.shape[1]) if self.indices.ndim == 2 else 0

    def counts(self) -> dict[str, int]:
        """Rows flagged per issue type."""
        return {t: int(self.table[f"is_{t}_issue"].sum()) for t in ISSUE_TYPES}

    def partners(self, row: int) -> np.ndarray:
        """Row positions of the near-duplicates of ``row``, nearest first."""
        if not self._partners:
            pairs = self.duplicates
            a = pairs["row_a"].to_numpy()
            b = pairs["row_b"].to_numpy()
            rows = np.concatenate([a, b])
            others = np.concatenate([b, a])
            dist = np.concatenate([pairs["distance"].to_numpy()] * 2)
            order = np.lexsort((others, dist, rows))
            rows, others = rows[order], others[order]
            cuts = np.flatnonzero(np.diff(rows)) + 1
            for group_rows, group_others in zip(np.split(rows, cuts), np.split(others, cuts),
                                                strict=True):
                if group_rows.size:
                    self._partners[int(group_rows[0])] = group_others
            self._partners.setdefault(-1, np.empty(0, dtype=np.int64))
        return self._partners.get(int(row), np.empty(0, dtype=np.int64))

    def frame(self, ids, splits=None) -> pd.DataFrame:
        """The ``issues.csv`` table: ``id``, then ``is_<t>_issue``, ``<t>_score`` per type,
        then ``near_duplicate_ids`` (the other rows' ids, ``;``-separated) and
        ``near_duplicate_conflicting`` (and ``split`` when ``splits`` is given)."""
        ids = np.asarray(ids)
        out = {"id": ids}
        for t in ISSUE_TYPES:
            out[f"is_{t}_issue"] = self.table[f"is_{t}_issue"].to_numpy()
            out[f"{t}_score"] = np.round(self.table[f"{t}_score"].to_numpy(), 6)
        text_ids = ids.astype(str)
        dup = np.full(len(ids), "", dtype=object)
        for row in np.flatnonzero(self.table["is_near_duplicate_issue"].to_numpy()):
            dup[row] = ";".join(text_ids[self.partners(row)])
        out["near_duplicate_ids"] = dup
        out["near_duplicate_conflicting"] = self.table["near_duplicate_conflicting"].to_numpy()
        if splits is not None:
            out["split"] = np.asarray(splits)
        return pd.DataFrame(out)


#: Beyond this many classes the probabilities' space is reduced by PCA for the neighbours.
MAX_PROBABILITY_DIMS = 64


def signal_space(dataset, pred_probs: np.ndarray) -> tuple[np.ndarray, str, str]:
    """The matrix the neighbours are searched in, its name and a note.

    Embeddings, else the numeric features (standardised; NaN imputed, constant columns
    dropped), else the text (TF-IDF), as :func:`analysis.model.embedding.prepare_features`; when
    there are none of them, or they cannot become a matrix (e.g. every feature column is
    constant), the predicted probabilities, and the note says why.

    Returns
    -------
    X : ndarray of shape (N, D), float32
    space : {"embeddings", "features", "text", "probabilities"}
    note : str
    """
    reason = "the dataset has no features, embeddings or text"
    if dataset.embeddings is not None:
        return embedding.prepare_features(embeddings=dataset.embeddings), "embeddings", ""
    if dataset.feature_columns or dataset.text_column:
        def text() -> list[str]:
            return dataset.frame[dataset.text_column].fillna("").astype(str).tolist()

        try:
            # kept on disk by the dataset's content (which covers the feature and text
            # columns): standardising 1M x 16 features takes 1-2 s, TF-IDF + SVD longer, and
            # a restarted server needs the matrix again for its neighbour signals
            X = cache.cached_array(
                "space", cache.fingerprint("signal-space", SPACE_VERSION, dataset.fingerprint),
                lambda: embedding.prepare_features(
                    dataset.features if dataset.feature_columns else None,
                    text=text() if dataset.text_column else None))
            return X, "features" if dataset.feature_columns else "text", ""
        except ValueError as exc:
            reason = f"the features cannot be used ({exc})"
    if pred_probs is None:
        raise ValueError(f"nothing to compare rows in: {reason}, and no predicted "
                         "probabilities were given.")
    probs = np.ascontiguousarray(pred_probs, dtype=np.float32)
    reduced = ""
    if probs.shape[1] > MAX_PROBABILITY_DIMS and probs.shape[0] > MAX_PROBABILITY_DIMS:
        # many classes: the neighbour search works in the leading principal components of the
        # probabilities (an index over 1,000 dimensions exhausts memory and gains nothing)
        from sklearn.decomposition import PCA

        probs = PCA(MAX_PROBABILITY_DIMS, svd_solver="randomized", random_state=0) \
            .fit_transform(probs).astype(np.float32)
        reduced = (f" (their {MAX_PROBABILITY_DIMS} leading principal components, for "
                   f"{pred_probs.shape[1]:,} classes)")
    return probs, "probabilities", (
        f"Neighbours and outliers come from the predicted probabilities{reduced}: {reason}. "
        "Near-duplicates are not looked for.")


def compute_signals(
    labels,
    label_scores,
    label_flags,
    X=None,
    *,
    pred_probs=None,
    space: str = "features",
    note: str = "",
    k: int = DEFAULT_K,
    cache_key=None,
    progress: Progress | None = None,
) -> Signals:
    """Every per-row signal of a dataset.

    Parameters
    ----------
    labels : array-like of shape (N,)
        Given labels, integers 0..K-1.
    label_scores, label_flags : array-like of shape (N,)
        The label detector's quality score (low = likely wrong) and flags.
    X : array-like of shape (N, D), optional
        The space (see :func:`signal_space`); default ``pred_probs``.
    pred_probs : array-like of shape (N, K), optional
        Needed when ``space="probabilities"`` (the outlier score comes from them).
    space : str
        The name of the space; ``"probabilities"`` switches the outlier score and turns the
        near-duplicate search off.
    note : str
        Kept on the result (:attr:`Signals.note`).
    k : int
        Neighbours per row (lowered to N - 1 on tiny data).
    cache_key : optional
        Passed to :func:`analysis.model.neighbours.nearest_neighbours` (the on-disk cache).
    progress : callable(fraction, message), optional

    Returns
    -------
    Signals
    """
    labels = np.asarray(labels, dtype=np.int64)
    n = labels.shape[0]
    scores = np.clip(np.asarray(label_scores, dtype=np.float64), 0.0, 1.0)
    flags = np.asarray(label_flags, dtype=bool)
    if scores.shape != (n,) or flags.shape != (n,):
        raise ValueError(f"label_scores and label_flags must have one value per row ({n}).")
    X, space = _space_matrix(X, pred_probs, space, n)
    report = progress or no_progress
    kk = min(int(k), n - 1)
    idx, dist = _neighbour_graph(X, kk, cache_key, report)
    report(0.95, "Neighbour signals")
    agreement, mean_dist, nearest = _neighbour_stats(idx, dist, labels, kk)
    ctx = Context(labels, scores, flags, X, pred_probs, space, max(kk, 0), idx, dist,
                  agreement, mean_dist, nearest)
    columns, extra, more = {}, {}, {}
    for issue in REGISTRY:
        found = issue.find(ctx)
        columns[f"is_{issue.name}_issue"] = np.asarray(found.flags, dtype=bool)
        columns[f"{issue.name}_score"] = np.asarray(found.scores, dtype=np.float64)
        more.update(found.columns or {})
        extra.update(found.extra or {})
    table = pd.DataFrame({**columns, "neighbour_mean_distance": mean_dist,
                          "nearest_distance": nearest, **more})
    table["any_issue"] = table[[f"is_{t}_issue" for t in ISSUE_TYPES]].any(axis=1)
    report(1.0, "Signals done")
    return Signals(table, extra["duplicates"], idx, dist, space, note,
                   extra["duplicate_threshold"])


def _space_matrix(X, pred_probs, space: str, n: int) -> tuple[np.ndarray, str]:
    """The space as a float32 (N, D) matrix and its name (``pred_probs`` when ``X`` is
    not given); raise when there is none or it has not one row per label."""
    if X is None:
        if pred_probs is None:
            raise ValueError("give X (the space) or pred_probs.")
        X, space = pred_probs, "probabilities"
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 2 or X.shape[0] != n:
        raise ValueError(
            f"the space has shape {X.shape}: it needs one row per label ({n} rows).")
    return X, space


def _neighbour_graph(X: np.ndarray, kk: int, cache_key,
                     report: Progress) -> tuple[np.ndarray, np.ndarray]:
    """The ``kk`` nearest neighbours of every row: indices and float64 distances (both of
    shape (N, 0) when ``kk`` < 1)."""
    n = X.shape[0]
    if kk >= 1:
        idx, dist = nearest_neighbours(X, k=kk, cache_key=cache_key, progress=report)
        return idx, dist.astype(np.float64)
    return np.empty((n, 0), dtype=np.int64), np.empty((n, 0))


def _neighbour_stats(idx: np.ndarray, dist: np.ndarray, labels: np.ndarray, kk: int):
    """Per row: the share of neighbours agreeing with its label, the mean distance to the
    neighbours and the nearest distance (what several issue types read)."""
    n = labels.shape[0]
    if kk >= 1:
        agreement = (labels[idx] == labels[:, None]).mean(axis=1)
        return agreement, dist.mean(axis=1), dist[:, 0]
    return np.ones(n), np.zeros(n), np.zeros(n)


# ------------------------------------------------------------------------------------------
# dataset-level checks


def dataset_checks(labels, class_names, signals: Signals) -> dict:
    """Dataset-level findings: class imbalance, classes mostly flagged, counts per type.

    Returns
    -------
    dict
        ``counts`` (rows per issue type, and ``any``), ``rows``, ``space``,
        ``class_imbalance`` (``issue`` bool, ``rare_classes`` under
        :data:`IMBALANCE_FRACTION` of an even share, ``ratio`` largest / smallest class),
        ``mostly_flagged_classes`` (classes with at least :data:`MOSTLY_FLAGGED` of their rows
        flagged as label issues), ``near_duplicate_pairs`` and ``conflicting_pairs``.
    """
    labels = np.asarray(labels, dtype=np.int64)
    names = [str(c) for c in class_names]
    k = len(names)
    n = labels.size
    sizes = np.bincount(labels, minlength=k)
    even = n / max(k, 1)
    rare = [names[c] for c in range(k) if sizes[c] < IMBALANCE_FRACTION * even]
    present = sizes[sizes > 0]
    flagged = np.bincount(labels[signals.table["is_label_issue"].to_numpy()], minlength=k)
    share = np.divide(flagged, np.maximum(sizes, 1))
    mostly = [{"class": names[c], "rows": int(sizes[c]), "flagged": int(flagged[c]),
               "share": round(float(share[c]), 4)}
              for c in np.argsort(-share, kind="stable") if sizes[c] and share[c] >= MOSTLY_FLAGGED]
    counts = signals.counts()
    counts["any"] = int(signals.table["any_issue"].sum())
    return {
        "rows": int(n),
        "space": signals.space,
        "counts": counts,
        "class_imbalance": {
            "issue": bool(rare),
            "rare_classes": rare,
            "smallest": names[int(np.argmin(np.where(sizes > 0, sizes, n + 1)))] if k else None,
            "ratio": round(float(present.max() / present.min()), 3) if present.size else 1.0,
        },
        "mostly_flagged_classes": mostly,
        "near_duplicate_pairs": int(len(signals.duplicates)),
        "conflicting_pairs": int(signals.duplicates["conflicting"].sum()),
    }


def class_summary(labels, class_names, signals: Signals) -> pd.DataFrame:
    """Per class: rows, and the share of its rows flagged by each issue type and by any.

    Sorted worst first (largest share with any issue).
    """
    labels = np.asarray(labels, dtype=np.int64)
    k = len(class_names)
    sizes = np.bincount(labels, minlength=k)
    out = {"class": np.arange(k), "class_name": [str(c) for c in class_names], "rows": sizes}
    for t in (*ISSUE_TYPES, "any"):
        col = "any_issue" if t == "any" else f"is_{t}_issue"
        hits = np.bincount(labels[signals.table[col].to_numpy()], minlength=k)
        out[f"{t}_share"] = hits / np.maximum(sizes, 1)
    frame = pd.DataFrame(out)
    return frame.sort_values(["any_share", "class"], ascending=[False, True],
                             kind="stable").reset_index(drop=True)


def class_percentiles(signals: Signals, labels, row: int) -> dict[str, float]:
    """For each issue type, the share (0..1) of the *other* rows of ``row``'s class whose
    score is strictly higher (better) than ``row``'s: 0.97 = worse than 97% of its class.
    NaN when the row is alone in its class."""
    labels = np.asarray(labels)
    same = np.flatnonzero(labels == labels[row])
    same = same[same != row]
    out = {}
    for t in ISSUE_TYPES:
        values = signals.table[f"{t}_score"].to_numpy()
        out[t] = float(np.mean(values[same] > values[row])) if same.size else float("nan")
    return out


# ------------------------------------------------------------------------------------------
# plain words


def why_sentences(signals: Signals, row: int, *, labels, class_names, ids,
                  pred_probs=None, detector: str = "confident learning") -> list[str]:
    """Sentences a person understands, one per signal, for one row.

    Parameters
    ----------
    signals : Signals
    row : int
        Row position.
    labels : array-like of shape (N,)
        Given labels 0..K-1.
    class_names, ids : sequences
        To name classes and rows.
    pred_probs : array-like of shape (N, K), optional
        For the label sentence (the probability of the given and of the predicted label).
    detector : str
        The name of the label detector in use.

    Returns
    -------
    list of str
        Plain text (no markup): escape it for the medium it is shown in.
    """
    labels = np.asarray(labels)
    names = [str(c) for c in class_names]
    ids = np.asarray(ids)
    t = signals.table.iloc[row]
    said = (issue.sentence(signals, row, t, labels=labels, names=names, ids=ids,
                           pred_probs=pred_probs, detector=detector) for issue in _SPOKEN)
    return [s for s in said if s is not None]


#: The order of the "Why flagged" sentences: the label, what the neighbours say, a
#: duplicate, how far the row lies.
_SPOKEN = (REGISTRY[0], REGISTRY[3], REGISTRY[1], REGISTRY[2])


