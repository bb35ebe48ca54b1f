"""Why a row is flagged: every per-row signal in one schema, dataset-level checks, and the
plain-language sentences the "Why flagged" panel shows.

Each issue type ``t`` gives every row ``is_<t>_issue`` (bool) and ``<t>_score`` in [0, 1],
where **low is worse** (the schema of cleanlab's Datalab):

``label``
    The label-issue detector of the :class:`~analysis.pipeline.Analysis` (confident learning
    with its ``filter_by``; its ``rank_by`` score).
``near_duplicate``
    Rows at most a threshold apart (:func:`analysis.model.neighbours.default_duplicate_threshold`)
    in the feature / embedding space; the other rows' positions are kept, and a pair whose
    labels differ is *conflicting* (almost always one of the two labels is wrong). Score:
    ``d / (d + m)`` with ``d`` the distance to the nearest other row and ``m`` the median of
    that distance over all rows (0 = an exact duplicate, 0.5 = a typical row).
``outlier``
    Out-of-distribution rows: the mean distance ``r`` to the ``k`` nearest neighbours against
    the median ``m`` of it. Score ``min(1, m / r)``; flagged when ``r`` is at least
    :data:`OUTLIER_RATIO` times ``m`` and a robust z-score of ``log r`` (median and MAD) is
    above :data:`OUTLIER_Z`. With probabilities only, the score comes from the probabilities:
    ``1 - entropy / log K`` (a model that spreads a row evenly over all classes has never
    seen anything like it), flagged at or under :data:`PROBABILITY_OUTLIER_SCORE`.
``neighbour_disagreement``
    The share of the ``k`` nearest neighbours carrying the row's own label is the score;
    flagged when under one half (most neighbours carry another label).

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
from analysis.core._kernels import most_common_other
from analysis.model import embedding
from analysis.model.neighbours import (
    default_duplicate_threshold,
    near_duplicates,
    nearest_neighbours,
)

#: The per-row issue types, in the column order of :meth:`Signals.frame`.
ISSUE_TYPES = ("label", "near_duplicate", "outlier", "neighbour_disagreement")
#: Plain names of the issue types.
ISSUE_NAMES = {
    "label": "label issue",
    "near_duplicate": "near-duplicate",
    "outlier": "outlier",
    "neighbour_disagreement": "neighbours disagree",
}
#: Neighbours per row.
DEFAULT_K = 10
#: An outlier lies at least this many times the median neighbour distance away ... (5:
#: ``benchmarks/datalab_compare.py``; at 2 the 1,797 digits had 31 unplanted rows flagged
#: beside 30 planted far rows, at 5 8-9, as many as Datalab; every planted row of digits,
#: wine, breast cancer, iris and the blobs lies 10x or more away)
OUTLIER_RATIO = 5.0
#: ... and its log distance has a robust z-score above this.
OUTLIER_Z = 3.5
#: Probability space: a row is an outlier at or under this score (1 - normalised entropy).
PROBABILITY_OUTLIER_SCORE = 0.05
#: Neighbour disagreement is an issue when fewer than this share of neighbours agree.
AGREEMENT_THRESHOLD = 0.5
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
    agreement, other_label, other_count, mean_dist, nearest = _neighbour_stats(
        idx, dist, labels, kk)
    pairs, threshold, dup_flag, dup_conflict, dup_score = _near_duplicate_signal(
        idx, dist, labels, nearest, search=kk >= 1 and space != "probabilities")
    out_score, out_flag = _outlier_signal(space, pred_probs, X, mean_dist)
    table = pd.DataFrame({
        "is_label_issue": flags,
        "label_score": scores,
        "is_near_duplicate_issue": dup_flag,
        "near_duplicate_score": np.clip(dup_score, 0.0, 1.0),
        "is_outlier_issue": out_flag,
        "outlier_score": out_score,
        "is_neighbour_disagreement_issue": agreement < AGREEMENT_THRESHOLD,
        "neighbour_disagreement_score": agreement,
        "neighbour_label": other_label,
        "neighbour_label_count": other_count,
        "neighbour_mean_distance": mean_dist,
        "nearest_distance": nearest,
        "near_duplicate_conflicting": dup_conflict,
    })
    table["any_issue"] = table[[f"is_{t}_issue" for t in ISSUE_TYPES]].any(axis=1)
    report(1.0, "Signals done")
    return Signals(table, pairs, idx, dist, space, note, threshold)


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
    """Per row: the share of neighbours agreeing with its label, the most common other label
    and its count, the mean distance to the neighbours and the nearest distance."""
    n = labels.shape[0]
    if kk >= 1:
        neighbour_labels = labels[idx]
        agreement = (neighbour_labels == labels[:, None]).mean(axis=1)
        other_label, other_count = _most_common_other(neighbour_labels, labels)
        return agreement, other_label, other_count, dist.mean(axis=1), dist[:, 0]
    return (np.ones(n), np.full(n, -1, dtype=np.int64), np.zeros(n, dtype=np.int64),
            np.zeros(n), np.zeros(n))


def _near_duplicate_signal(idx: np.ndarray, dist: np.ndarray, labels: np.ndarray,
                           nearest: np.ndarray, *, search: bool):
    """The near-duplicate pairs, their distance threshold, and per row the flag, whether a
    pair conflicts and the score ``d / (d + m)``; nothing found when not ``search``."""
    n = labels.shape[0]
    threshold = float("nan")
    pairs = pd.DataFrame({"row_a": np.empty(0, np.int64), "row_b": np.empty(0, np.int64),
                          "distance": np.empty(0, np.float32),
                          "label_a": np.empty(0, np.int64),
                          "label_b": np.empty(0, np.int64),
                          "conflicting": np.empty(0, bool)})
    dup_flag = np.zeros(n, dtype=bool)
    dup_conflict = np.zeros(n, dtype=bool)
    dup_score = np.ones(n)
    if search:
        threshold = default_duplicate_threshold(dist)
        pairs = near_duplicates(idx, dist, labels, threshold=threshold)
        a, b = pairs["row_a"].to_numpy(), pairs["row_b"].to_numpy()
        dup_flag[a] = dup_flag[b] = True
        conflict = pairs["conflicting"].to_numpy()
        dup_conflict[a[conflict]] = dup_conflict[b[conflict]] = True
        typical = float(np.median(nearest))
        with np.errstate(invalid="ignore", divide="ignore"):
            dup_score = np.where(nearest > 0, nearest / (nearest + typical), 0.0)
    return pairs, threshold, dup_flag, dup_conflict, dup_score


def _outlier_signal(space: str, pred_probs, X: np.ndarray,
                    mean_dist: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Outlier score and flag: from the probabilities' entropy in the probability space,
    else from the mean neighbour distance (:func:`_distance_outliers`)."""
    if space != "probabilities":
        return _distance_outliers(mean_dist)
    probs = np.asarray(pred_probs if pred_probs is not None else X, dtype=np.float64)
    num_classes = probs.shape[1]
    p = np.clip(probs, 1e-12, 1.0)
    entropy = -(probs * np.log(p)).sum(axis=1) / max(np.log(num_classes), 1e-12)
    out_score = np.clip(1.0 - entropy, 0.0, 1.0)
    return out_score, out_score <= PROBABILITY_OUTLIER_SCORE


def _most_common_other(neighbour_labels: np.ndarray, labels: np.ndarray):
    """Per row, the most common neighbour label other than its own (ties: lowest class) and
    its count; -1 and 0 when every neighbour agrees. O(N * k^2) with k small, no N x K
    (a compiled loop: 0.05 s at 1M x 10, where the numpy form took 1-2 s)."""
    return most_common_other(np.ascontiguousarray(neighbour_labels, dtype=np.int64),
                             np.ascontiguousarray(labels, dtype=np.int64))


def _distance_outliers(mean_dist: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Outlier score and flag from each row's mean distance to its neighbours."""
    n = mean_dist.size
    if n == 0:
        return np.ones(0), np.zeros(0, dtype=bool)
    positive = mean_dist[mean_dist > 0]
    if positive.size == 0:  # every row has identical neighbours: nothing stands out
        return np.ones(n), np.zeros(n, dtype=bool)
    typical = float(np.median(mean_dist))
    if typical <= 0:
        typical = float(np.median(positive))
    with np.errstate(divide="ignore"):
        score = np.where(mean_dist > 0, np.minimum(1.0, typical / mean_dist), 1.0)
    logs = np.log(np.maximum(mean_dist, positive.min()))
    centre = np.median(logs)
    spread = 1.4826 * np.median(np.abs(logs - centre))
    if spread <= 0:
        spread = max(float(np.std(logs)), 1e-12)
    z = (logs - centre) / spread
    flag = (mean_dist >= OUTLIER_RATIO * typical) & (z > OUTLIER_Z)
    return score, flag


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


def _percent(p: float) -> str:
    """0.0017 -> "0.17%", 0.3 -> "30%": small probabilities keep two significant digits."""
    return f"{100 * p:.2g}%" if p < 0.01 else f"{p:.0%}"


def _q(name) -> str:
    return f"'{name}'"


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
    own = names[int(labels[row])]
    sentences = [
        _label_sentence(t, row, labels, names, pred_probs, detector),
        _neighbour_sentence(signals, t, names, own),
        _duplicate_sentence(signals, row, labels, names, ids),
        _outlier_sentence(signals, t),
    ]
    return [s for s in sentences if s is not None]


def _label_sentence(t: pd.Series, row: int, labels: np.ndarray, names: list[str],
                    pred_probs, detector: str) -> str:
    """The label: the model's probability of it (or its quality score), and the verdict."""
    own = names[int(labels[row])]
    if pred_probs is not None:
        p = np.asarray(pred_probs[row], dtype=np.float64)
        best = int(np.argmax(p))
        text = (f"The model (out-of-fold) gives its label {_q(own)} a probability of "
                f"{_percent(p[int(labels[row])])}")
        text += (f"; it predicts {_q(names[best])} at {_percent(p[best])}." if best != labels[row]
                 else ", its own top choice.")
    else:
        text = f"Its label quality score is {t['label_score']:.3f} (0 = surely wrong)."
    verdict = (f" {detector.capitalize()} flags the label." if t["is_label_issue"]
               else f" {detector.capitalize()} does not flag the label.")
    return text + verdict


def _neighbour_sentence(signals: Signals, t: pd.Series, names: list[str],
                        own: str) -> str | None:
    """What the nearest neighbours are labelled (None without neighbours)."""
    k = signals.k
    if not k:
        return None
    agree = int(round(t["neighbour_disagreement_score"] * k))
    where = "predicted probabilities" if signals.space == "probabilities" else signals.space
    if t["neighbour_label"] >= 0 and agree < k:
        other = names[int(t["neighbour_label"])]
        cnt = int(t["neighbour_label_count"])
        text = (f"{cnt} of its {k} nearest neighbours (in the {where}) are labelled "
                f"{_q(other)}")
        text += (f"; {agree} share its label {_q(own)}." if agree
                 else f"; none shares its label {_q(own)}.")
        return text
    return f"All {k} of its nearest neighbours (in the {where}) are labelled {_q(own)} too."


def _duplicate_sentence(signals: Signals, row: int, labels: np.ndarray, names: list[str],
                        ids: np.ndarray) -> str | None:
    """The nearest (near-)duplicate and whether its label differs (None without one)."""
    partners = signals.partners(row)
    if not partners.size:
        return None
    own = names[int(labels[row])]
    first = int(partners[0])
    d = float(signals.table.iloc[row]["nearest_distance"])
    kind = "an exact duplicate" if d == 0 else f"a near-duplicate (distance {d:.3g})"
    text = (f"It is {kind} of row {ids[first]}, which is labelled "
            f"{_q(names[int(labels[first])])}")
    if labels[first] != labels[row]:
        text += f", not {_q(own)}: one of the two labels is wrong"
    text += "."
    if partners.size > 1:
        text += f" {partners.size - 1} more row(s) are near-duplicates of it too."
    return text


def _outlier_sentence(signals: Signals, t: pd.Series) -> str | None:
    """How far the row lies from the others, when it is an outlier or unusual (else None)."""
    if signals.space == "probabilities":
        if t["is_outlier_issue"]:
            return ("The model spreads its probability almost evenly over the classes: "
                    "nothing it learned resembles this row.")
        return None
    if not signals.k:
        return None
    typical = float(np.median(signals.table["neighbour_mean_distance"]))
    r = float(t["neighbour_mean_distance"])
    if typical > 0 and r > 0:
        ratio = r / typical
        if t["is_outlier_issue"]:
            return (f"It lies far from every other row: its neighbours are {ratio:.1f} "
                    "times as far away as a typical row's (an outlier).")
        if ratio >= 1.5:
            return (f"Its neighbours are {ratio:.1f} times as far away as a typical "
                    "row's: unusual, not an outlier.")
    return None
