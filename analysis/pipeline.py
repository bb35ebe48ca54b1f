"""The whole analysis of a dataset in one call: probabilities -> noise estimate -> issues.

    import analysis as nl
    result = nl.analyze(nl.load_dataset("data.csv", "label"))
    result.issues_table()          # ranked label issues with a suggested label

The dashboard, the CLI and the report all read the same :class:`Analysis`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np
import pandas as pd

from analysis.core import cache, limits, sparse
from analysis.core._helpers import check_choice
from analysis.core.classes import confused_pairs, label_health, per_class_table
from analysis.core.confident import NoiseEstimate, evidence, noise_estimate_from
from analysis.core.evidence import Evidence
from analysis.core.issues import FILTERS, RANKINGS, issues_mask_from, rank_flagged, scores_from
from analysis.core.selection import smallest
from analysis.data.dataset import DataError, Dataset
from analysis.data.splits import split_check
from analysis.model.probabilities import (
    CANDIDATE_SETTINGS,
    Progress,
    choose_model,
    out_of_fold_probabilities,
    training_arrays,
)
from analysis.signals.compute import ISSUE_TYPES, compute_signals, dataset_checks, signal_space

#: Bump when the probability pipeline changes so that old cache entries are not reused.
PROBABILITIES_VERSION = 2
#: The label detectors: confident learning on the out-of-fold probabilities, or the combined
#: detector of :meth:`Analysis.relearned` (clean, fit again, flag as many rows as the filter
#: does on the new probabilities, lowest relative confidence first:
#: :func:`relative_confidence_flags`; ``benchmarks/detection_quality.py --cleanlab-noise``).
DETECTORS = ("confident_learning", "clean_and_refit")
#: What :func:`analyze` takes by default: the combined detector wherever it can run (the
#: dataset has no pred_probs of its own and at most :data:`AUTO_REFIT_MAX_ROWS` rows: it beats
#: confident learning alone on every small data set of the benchmark, docs/benchmarks.md,
#: "Why flagged: the combined detector measured"), else confident learning
#: (:func:`choose_detector`).
AUTO_DETECTOR = "auto"
#: Above this many rows ``"auto"`` takes confident learning alone. Measured (#26,
#: docs/benchmarks.md "The default detector by size"): the combined detector gains on the
#: scikit-learn sets of 178 to 1,797 rows (digits 20% noise, seed 11: F1 0.984 against
#: 0.926), and loses on make_classification's 10,000 and 30,000 rows, where the model is
#: weaker and every count overshoots (0.498 against 0.616 and 0.567 against 0.679; the
#: cleanlab + HistGB recipe 0.550 and 0.633); its refits also double the fitting time there.
#: Asked for by name, it runs at any size.
AUTO_REFIT_MAX_ROWS = 5_000
#: Fits after the first one in the combined detector (:meth:`Analysis.relearned`).
REFIT_ROUNDS = 2
#: Folds of each refit of the combined detector (the first fit keeps ``analyze``'s ``cv``).
#: 10 folds (each fold's model learning from 90% of the cleaned rows) measured better on the
#: benchmark's seeds 1-2 (``benchmarks/detection_quality.py --cleanlab-noise``, 2 refits:
#: digits / wine / breast cancer 0.922 / 0.933 / 0.520 against 0.915 / 0.927 / 0.514) but not
#: on fresh seeds 3-4 (0.902 / 0.746 / 0.517 against 0.904 / 0.753 / 0.525), at 1.7x the
#: refits' time: 5 it is (docs/benchmarks.md, "Why flagged: the combined detector measured").
REFIT_CV = 5


def relative_confidence_flags(ev: Evidence, count: int) -> np.ndarray:
    """The combined detector's flags on a refit: ``count`` rows, lowest relative confidence.

    The relative confidence of row i is its self-confidence divided by its given class's
    confident-learning threshold, ``p[i, y_i] / t[y_i]`` (``t[k]``: mean self-confidence of
    the rows given class k), so a row is compared with what is usual for its class, across
    classes. Rows whose given label is (within 1e-6) the model's prediction are never flagged,
    as in every filter. The count comes from the chosen filter (``prune_by_noise_rate`` by
    default) on the same probabilities: the filter says how many, the ranking says which.
    Measured on ``benchmarks/detection_quality.py --cleanlab-noise`` (docs/benchmarks.md,
    "Why flagged: the combined detector measured"):
    digits / wine / breast cancer F1 0.944 / 0.944 / 0.510 on seeds 1-2 against 0.915 / 0.927
    / 0.514 with the filter's own rows.

    Parameters
    ----------
    ev : Evidence
        The given labels and the refit's probabilities.
    count : int
        Rows to flag; at most the rows whose label is not the prediction (the filter's
        count always is).

    Returns
    -------
    ndarray of shape (N,), bool
        Ties at the boundary broken as ``np.argsort`` breaks them.
    """
    relative = ev.self_confidence.astype(np.float64) / ev.thresholds[ev.labels]
    relative[ev.label_wins] = np.inf
    mask = np.zeros(ev.n, dtype=bool)
    mask[smallest(relative, count)] = True
    mask[ev.label_wins] = False  # only if count exceeds the rows the label does not win
    return mask



def model_inputs(dataset: Dataset) -> dict:
    """What the out-of-fold model learns from: embeddings, else features, else text.

    Raises
    ------
    DataError
        The dataset has none of them (e.g. only image paths) and no ``pred_probs``.
    """
    if dataset.embeddings is not None:
        return {"X": dataset.embeddings}
    if dataset.feature_columns:
        return {"X": dataset.features}
    if dataset.text_column:
        return {"text": dataset.frame[dataset.text_column].fillna("").astype(str).tolist()}
    raise DataError(
        f"{dataset.source}: nothing to learn the labels from — give feature columns, a text "
        "column, embeddings (.npy) or precomputed pred_probs."
    )


def _choice(inputs: dict, labels, num_classes, *, model, cv, random_state, progress,
            settings=None) -> tuple[np.ndarray, dict | None]:
    """Out-of-fold probabilities and, for the automatic model or a candidate name, the
    record of how they were made (``{"chosen": {...}, "summary": [...]}``)."""
    if isinstance(model, str) and (model == "auto" or model in CANDIDATE_SETTINGS):
        choice = choose_model(
            labels=labels, cv=cv, random_state=random_state, progress=progress,
            num_classes=num_classes, settings=settings,
            candidates=None if model == "auto" else (model,), **inputs,
        )
        return choice.pred_probs, {"chosen": choice.chosen, "summary": choice.summary(),
                                   "folds": choice.n_splits}
    probs = out_of_fold_probabilities(
        labels=labels, model=model, cv=cv, random_state=random_state,
        progress=progress, num_classes=num_classes, **inputs,
    )
    return probs, None


def _cached_choice(key: str | None, compute, progress) -> tuple[np.ndarray, dict | None]:
    """``compute()`` behind the on-disk cache (the array and its record under ``key``)."""
    if key is None:
        return compute()
    hit = cache.load_array("probabilities", key)
    record = cache.load_json("probabilities", key)
    if hit is not None and record is not None:
        if progress is not None:
            progress(1.0, "read from the cache")
        return hit, record.get("model")
    probs, model = compute()
    probs = cache.cached_array("probabilities", key, lambda: probs)
    cache.save_json("probabilities", key, {"model": model})
    return probs, model


def dataset_probabilities(
    dataset: Dataset,
    *,
    model="auto",
    cv: int = 5,
    random_state: int | None = 0,
    progress: Progress | None = None,
    use_cache: bool = True,
) -> tuple[np.ndarray, str, dict | None]:
    """The dataset's out-of-fold predicted probabilities and where they come from.

    The dataset's own ``pred_probs`` win. Otherwise they are computed with
    :func:`analysis.model.probabilities.choose_model` (``"auto"`` or a candidate's name) or
    :func:`~analysis.model.probabilities.out_of_fold_probabilities` (a classifier) and, for a
    named ``model``, cached on disk keyed by the dataset fingerprint and the parameters (a
    second call reads the file).

    Returns
    -------
    pred_probs : ndarray of shape (N, K)
    source : str
        ``"given"`` or a description such as ``"out-of-fold (auto, 5 folds)"``.
    model : dict or None
        How the automatic model was made: ``"chosen"`` (``{candidate: setting}``, what a
        refit fits again) and ``"summary"`` (every decision, one line each); None for given
        probabilities or a classifier of the user's.
    """
    if dataset.pred_probs is not None:
        if progress is not None:
            progress(1.0, "using the given pred_probs")
        return dataset.pred_probs, "given", None
    inputs = model_inputs(dataset)
    name = model if isinstance(model, str) else type(model).__name__
    source = f"out-of-fold ({name}, {cv} folds)"

    def compute() -> tuple[np.ndarray, dict | None]:
        return _choice(inputs, dataset.labels, dataset.num_classes, model=model, cv=cv,
                       random_state=random_state, progress=progress)

    key = None
    if use_cache and isinstance(model, str) and random_state is not None:
        key = cache.fingerprint(dataset.fingerprint, model, cv, random_state,
                                PROBABILITIES_VERSION)
    probs, record = _cached_choice(key, compute, progress)
    if record and record.get("folds"):  # the automatic model may take fewer folds (size)
        source = f"out-of-fold ({name}, {record['folds']} folds)"
    return probs, source, record


@dataclass(frozen=True, eq=False)
class Analysis:
    """Everything known about a dataset's labels after :func:`analyze`.

    Attributes
    ----------
    dataset : Dataset
    pred_probs : ndarray of shape (N, K)
        Out-of-fold predicted probabilities (or the dataset's own).
    probabilities_source : str
    filter_by, rank_by : str
        The methods that made ``is_issue`` and ``scores``.
    labels : ndarray of shape (N,)
        The labels analysed (the dataset's given labels unless others were passed).
    """

    dataset: Dataset
    pred_probs: np.ndarray
    probabilities_source: str
    filter_by: str = "prune_by_noise_rate"
    rank_by: str = "self_confidence"
    labels: np.ndarray = field(default=None)  # type: ignore[assignment]
    detector: str = "confident_learning"
    #: Why this detector flagged the rows (:func:`choose_detector`), for people.
    detector_reason: str = ""
    #: How the automatic model was made (:func:`dataset_probabilities`), or None.
    model: dict | None = None

    def __post_init__(self):
        if self.labels is None:
            object.__setattr__(self, "labels", self.dataset.labels)
        check_choice(self.filter_by, FILTERS, "filter_by")
        check_choice(self.rank_by, RANKINGS, "rank_by")
        check_choice(self.detector, DETECTORS, "detector")

    # -- evidence, computed once --------------------------------------------------------
    @cached_property
    def _evidence(self) -> Evidence:
        return Evidence(self.labels, self.pred_probs)

    @property
    def evidence(self) -> Evidence:
        """The confident-learning evidence of these labels and probabilities (thresholds,
        confident joint, per-row guesses): computed once, shared by :meth:`with_methods`."""
        return self._evidence

    @cached_property
    def estimate(self) -> NoiseEstimate:
        """Confident joint, noise matrices, priors and per-class noise rates."""
        return noise_estimate_from(self._evidence)

    @cached_property
    def is_issue(self) -> np.ndarray:
        """(N,) bool: rows flagged by ``filter_by``; for the combined detector, as many rows
        as ``filter_by`` flags, those lowest in self-confidence relative to their class
        (:func:`relative_confidence_flags`)."""
        mask = issues_mask_from(self._evidence, self.filter_by)
        if self.detector == "clean_and_refit":
            return relative_confidence_flags(self._evidence, int(mask.sum()))
        return mask

    @cached_property
    def scores(self) -> np.ndarray:
        """(N,) label quality score by ``rank_by`` (low = likely wrong)."""
        return scores_from(self._evidence, self.rank_by)

    @cached_property
    def ranked(self) -> np.ndarray:
        """Indices of the flagged rows, most likely wrong first: the order of
        ``find_label_issues(..., rank_by=...)``, ties included (see
        :func:`analysis.core.issues.rank_flagged`)."""
        return rank_flagged(self.scores, self.is_issue)

    @cached_property
    def estimated_true(self) -> np.ndarray:
        """(N,) the class each row counts for in the confident joint (-1: none)."""
        return self._evidence.guess

    @cached_property
    def suggested(self) -> np.ndarray:
        """(N,) suggested label: the most probable class; for a flagged row whose most
        probable class is its given label, the most probable other class."""
        probs = self.pred_probs
        best = np.argmax(probs, axis=1)
        same = np.flatnonzero(self.is_issue & (best == self.labels))
        if same.size:
            other = np.array(probs[same], dtype=np.float64)
            other[np.arange(same.size), self.labels[same]] = -np.inf
            best[same] = np.argmax(other, axis=1)
        return best

    @property
    def class_names(self) -> list[str]:
        return self.dataset.class_names

    @property
    def num_issues(self) -> int:
        return int(self.is_issue.sum())

    @property
    def estimated_wrong(self) -> int:
        """Estimated number of wrong labels: N x (1 - trace(joint)), rounded."""
        return int(round(len(self.labels) * self.estimate.estimated_error_fraction))

    @cached_property
    def health(self) -> float:
        """Label-health score: estimated percentage of correct labels."""
        return label_health(self.estimate)

    @cached_property
    def per_class(self) -> pd.DataFrame:
        return per_class_table(
            self.estimate, self.labels, self.is_issue, self.scores, self.class_names
        )

    def pairs(self, threshold: float = 0.10, min_count: int = 1) -> pd.DataFrame:
        """Confused class pairs with their verdict (see
        :func:`analysis.core.classes.confused_pairs`)."""
        return confused_pairs(self.estimate, self.class_names, threshold=threshold,
                              min_count=min_count)

    def with_chunked_evidence(self, source, *, chunk_rows: int | None = None,
                              progress: Progress | None = None) -> Analysis:
        """This analysis, its confident-learning evidence computed in row chunks from
        ``source`` (a ``.npy`` path, a zarr or ``dask.array.Array`` of the same probabilities:
        :mod:`analysis.core.chunked`, identical results). Call it before anything is read; the
        CLI's ``--dask`` / ``--chunk-rows`` use it."""
        if "_evidence" in self.__dict__:
            raise ValueError("with_chunked_evidence must come before the evidence is used.")
        self.__dict__["_evidence"] = evidence(self.labels, source, chunk_rows=chunk_rows,
                                              progress=progress)
        return self

    def with_methods(self, filter_by: str | None = None, rank_by: str | None = None) -> Analysis:
        """The same analysis with other methods: nothing that the methods do not change is
        computed again (the evidence, the noise estimate, and the flags or scores of an
        unchanged method are shared)."""
        new = replace(self, filter_by=filter_by or self.filter_by,
                      rank_by=rank_by or self.rank_by)
        shared = ["_evidence", "estimate", "estimated_true", "health"]
        if new.filter_by == self.filter_by:
            shared.append("is_issue")
        if new.rank_by == self.rank_by:
            shared.append("scores")
        for name in shared:
            if name in self.__dict__:  # computed already (cached_property)
                new.__dict__[name] = self.__dict__[name]
        return new

    def with_labels(self, labels) -> Analysis:
        """The same probabilities analysed against other labels (e.g. a consensus)."""
        labels = np.asarray(labels)
        if labels.shape != self.labels.shape:
            raise ValueError(f"labels must have shape {self.labels.shape}, got {labels.shape}.")
        return replace(self, labels=labels)

    def cell(self, given: int, true: int) -> np.ndarray:
        """Row indices in confident-joint cell (given, true): given label ``given`` and
        counted for class ``true``, lowest quality score first."""
        rows = np.flatnonzero((self.labels == given) & (self.estimated_true == true))
        return rows[np.argsort(self.scores[rows], kind="stable")]

    # -- tables ------------------------------------------------------------------------
    def table(self, signals: bool = False) -> pd.DataFrame:
        """One row per example, in dataset order (built once; treat it as read-only).

        Columns ``row``, ``id``, ``given``, ``given_name``, ``suggested``, ``suggested_name``,
        ``score``, ``p_given``, ``p_suggested``, ``is_issue``, ``rank`` (1 = most likely wrong;
        0 for rows not flagged), ``estimated_true`` (-1 if none). With ``signals=True``
        also ``is_<type>_issue`` and ``<type>_score`` for every type of
        :data:`analysis.signals.compute.ISSUE_TYPES` (computes :attr:`signals` on first use).
        """
        return self._signal_table if signals else self._table

    @cached_property
    def _table(self) -> pd.DataFrame:
        n = len(self.labels)
        names = np.asarray(self.class_names, dtype=object)
        rank = np.zeros(n, dtype=np.int64)
        rank[self.ranked] = np.arange(1, self.ranked.size + 1)
        rows = np.arange(n)
        return pd.DataFrame({
            "row": rows,
            "id": self.dataset.ids,
            "given": self.labels,
            "given_name": names[self.labels],
            "suggested": self.suggested,
            "suggested_name": names[self.suggested],
            "score": self.scores,
            "p_given": self.pred_probs[rows, self.labels],
            "p_suggested": self.pred_probs[rows, self.suggested],
            "is_issue": self.is_issue,
            "rank": rank,
            "estimated_true": self.estimated_true,
        })

    def issues_table(self) -> pd.DataFrame:
        """The flagged rows of :meth:`table`, most likely wrong first."""
        return self.table().iloc[self.ranked].reset_index(drop=True)

    # -- every signal side by side (analysis/signals/compute.py) -------------------------------
    @cached_property
    def signals(self):
        """Every per-row signal (:class:`analysis.signals.compute.Signals`): the label issue of this
        analysis, near-duplicates, outliers and neighbour disagreement, in the space of
        :func:`analysis.signals.compute.signal_space`; the neighbour search is cached on disk."""
        return self.find_signals()

    def find_signals(self, progress: Progress | None = None):
        """:attr:`signals`, computed now with ``progress`` (fraction, message) unless they
        already are, and kept as :attr:`signals`."""
        if "signals" in self.__dict__:
            return self.__dict__["signals"]
        X, space, note = signal_space(self.dataset, self.pred_probs)
        found = compute_signals(self.labels, self.scores, self.is_issue, X,
                                pred_probs=self.pred_probs, space=space, note=note,
                                cache_key=("signals", self.dataset.fingerprint, space),
                                progress=progress)
        self.__dict__["signals"] = found
        return found

    @cached_property
    def checks(self) -> dict:
        """Dataset-level checks (:func:`analysis.signals.compute.dataset_checks`), plus the split
        check (:func:`analysis.data.splits.split_check`) when the dataset has a split column."""
        out = dataset_checks(self.labels, self.class_names, self.signals)
        out["detector"] = self.filter_by
        out["label_detector"] = self.detector
        out["label_detector_reason"] = self.detector_reason
        split = split_check(self.dataset, self.signals, self.labels)
        if split is not None:
            out["splits"] = split
        return out

    @cached_property
    def _signal_table(self) -> pd.DataFrame:
        sig = self.signals.table
        cols = [c for t in ISSUE_TYPES for c in (f"is_{t}_issue", f"{t}_score")]
        return pd.concat([self._table, sig[cols].set_index(self._table.index)], axis=1)

    def relearned(self, *, rounds: int | None = None, model="auto", cv: int | None = None,
                  random_state: int | None = 0, progress: Progress | None = None,
                  use_cache: bool = True) -> Analysis:
        """Clean, then learn again: the combined label detector (``clean_and_refit``).

        The rows this analysis flags get their suggested label; a model is fitted again,
        out-of-fold, on those cleaned labels, and its probabilities judge the **given**
        labels: the filter on them says how many rows are flagged, and the rows flagged are
        those lowest in self-confidence relative to their class's threshold
        (:func:`relative_confidence_flags`; the ranking of the flagged rows is ``rank_by``'s).
        Each further round cleans the given labels with the previous round's flags (so with
        relative confidence from the second round on) and fits again. No row's own label
        enters its own prediction (out-of-fold), and the other rows teach the model with
        fewer wrong labels.
        Each round's probabilities are cached on disk (keyed by the dataset's fingerprint,
        the model and the cleaned labels), so a second call fits nothing. Measured against
        confident learning alone by ``benchmarks/detection_quality.py --cleanlab-noise``
        (docs/benchmarks.md, "Why flagged: the combined detector measured").

        Parameters
        ----------
        rounds : int, optional
            Model fits after the first one; default :data:`REFIT_ROUNDS`.
        cv : int, optional
            Folds of each refit; default :data:`REFIT_CV` (lowered, as always, to the size
            of the smallest class).
        model, random_state, use_cache
            As :func:`analyze`.
        progress : callable(fraction, message), optional
            Over all rounds.

        Returns
        -------
        Analysis
            ``detector="clean_and_refit"``, the same labels, filter (for the count) and
            ranking.

        Raises
        ------
        ValueError
            The dataset brings its own ``pred_probs``: there is no model to fit again; or a
            refit cannot run (e.g. the cleaned labels hold a single class; :func:`analyze`'s
            default then falls back to confident learning).
        """
        if self.dataset.pred_probs is not None:
            raise ValueError(f"{self.dataset.source}: the dataset brings its own pred_probs; "
                             "there is no model to fit again on the cleaned labels (choose "
                             "confident learning).")
        rounds = REFIT_ROUNDS if rounds is None else int(rounds)
        cv = REFIT_CV if cv is None else cv
        if rounds < 1:
            raise ValueError(f"rounds must be at least 1, got {rounds}.")
        inputs = model_inputs(self.dataset)
        name = model if isinstance(model, str) else type(model).__name__
        first = (self.probabilities_source if self.detector == "confident_learning"
                 else f"out-of-fold ({name})")
        source = (f"{first}, fitted again on the cleaned labels "
                  f"({rounds} round{'s' if rounds > 1 else ''}, {cv} folds)")
        # the refits fit again what the first choice kept (its candidates, each at its
        # chosen setting), not the whole search: a refit costs one fit of each kept candidate
        chosen = (self.model or {}).get("chosen") if model == "auto" else None
        current: Analysis = self
        for r in range(rounds):
            cleaned = np.where(current.is_issue, current.suggested,
                               self.labels).astype(np.int64)

            def step(fraction: float, message: str, r: int = r) -> None:
                if progress is not None:
                    progress((r + min(max(fraction, 0.0), 1.0)) / rounds,
                             f"fit {r + 2} of {rounds + 1} (cleaned labels): {message}")

            def compute(cleaned: np.ndarray = cleaned, step=step):
                return _choice(inputs, cleaned, self.dataset.num_classes, model=model, cv=cv,
                               random_state=random_state, progress=step, settings=chosen)

            key = None
            if use_cache and isinstance(model, str) and random_state is not None:
                key = cache.fingerprint(self.dataset.fingerprint, "relearned", model, cv,
                                        random_state, cleaned, chosen, PROBABILITIES_VERSION)
            probs, record = _cached_choice(key, compute, step)
            refit = dict(self.model or {}, refit=record["summary"]) if record else self.model
            current = Analysis(self.dataset, probs, source, self.filter_by, self.rank_by,
                               labels=self.labels, detector="clean_and_refit",
                               detector_reason=self.detector_reason or CHOSEN, model=refit)
        return current


#: :attr:`Analysis.detector_reason` of a detector that was asked for by name.
CHOSEN = "chosen explicitly"


def choose_detector(dataset: Dataset, detector: str = AUTO_DETECTOR) -> tuple[str, str]:
    """The label detector :func:`analyze` uses, and why.

    Parameters
    ----------
    dataset : Dataset
    detector : str, default="auto"
        ``"auto"`` or one of :data:`DETECTORS`.

    Returns
    -------
    detector : str
        One of :data:`DETECTORS`. For ``"auto"``: ``"clean_and_refit"`` when the dataset has
        no ``pred_probs`` of its own (a model is fitted, so it can be fitted again), else
        ``"confident_learning"``; also confident learning above :data:`AUTO_REFIT_MAX_ROWS`
        rows.
    reason : str
        One sentence for people (the CLI, the manifest, the page).

    Raises
    ------
    ValueError
        An unknown detector, or ``"clean_and_refit"`` for a dataset with its own
        ``pred_probs``.
    """
    check_choice(detector, (AUTO_DETECTOR, *DETECTORS), "detector")
    if detector == AUTO_DETECTOR:
        if dataset.pred_probs is not None:
            return "confident_learning", ("the dataset brings its own pred_probs: there is no "
                                          "model to fit again, so confident learning alone")
        if len(dataset) > AUTO_REFIT_MAX_ROWS:
            return "confident_learning", (
                f"the dataset has {len(dataset):,} rows, more than the "
                f"{AUTO_REFIT_MAX_ROWS:,} up to which the combined detector is the default: it "
                "fits the model three times and, measured on larger tables, flagged too "
                "many rows, so confident learning alone (ask for clean_and_refit to run it)")
        return "clean_and_refit", (
            "the default when the dataset brings no pred_probs and is small: it found label "
            "errors better than confident learning alone on every small data set of the "
            "benchmark (docs/benchmarks.md)")
    if detector == "clean_and_refit" and dataset.pred_probs is not None:
        raise ValueError(f"{dataset.source}: the dataset brings its own pred_probs; the "
                         "clean_and_refit detector needs a model to fit again (choose "
                         "confident_learning).")
    return detector, CHOSEN


def check_analysis(n: int, k: int, *, has_probs: bool, kind: str = "tabular",
                   feature_bytes: int = 0) -> None:
    """Refuse a whole analysis (the CLI's) that would not fit: out-of-fold probabilities when
    they must be computed (``kind`` of features: ``"tabular"`` or ``"text"``), then the
    core."""
    parts = {} if has_probs else limits.probabilities_bytes(n, k, training_arrays(kind))
    if feature_bytes:
        parts["features"] = feature_bytes
    parts.update(limits.core_bytes(n, k, sparse=k >= sparse.SPARSE_MIN_CLASSES))
    limits.check_fits(sum(parts.values()), f"the analysis of {n:,} rows x {k:,} classes",
                      parts, "Give out-of-fold pred_probs (--pred-probs FILE.npy) to skip the "
                      "training, or set NOISELENS_MEMORY_LIMIT if the estimate is wrong for "
                      "this machine.")


def analyze(
    dataset: Dataset,
    *,
    filter_by: str = "prune_by_noise_rate",
    rank_by: str = "self_confidence",
    model="auto",
    cv: int = 5,
    random_state: int | None = 0,
    progress: Progress | None = None,
    use_cache: bool = True,
    detector: str = AUTO_DETECTOR,
) -> Analysis:
    """Analyse a dataset's labels: out-of-fold probabilities, noise estimate, label issues.

    Parameters
    ----------
    dataset : Dataset
        From :func:`analysis.data.dataset.load_dataset`, :func:`~analysis.data.dataset.from_frame`,
        :func:`~analysis.data.dataset.from_arrays` or :func:`~analysis.data.dataset.from_sample`.
    filter_by : str, default="prune_by_noise_rate"
        One of :data:`analysis.core.issues.FILTERS`.
    rank_by : str, default="self_confidence"
        One of :data:`analysis.core.issues.RANKINGS`.
    model, cv, random_state, progress
        As in :func:`analysis.model.probabilities.out_of_fold_probabilities`; unused when the
        dataset carries ``pred_probs``.
    use_cache : bool, default=True
        Read / write the out-of-fold probabilities in the workspace cache.
    detector : str, default="auto"
        ``"auto"`` (:func:`choose_detector`: the combined detector when the dataset has no
        ``pred_probs`` of its own, else confident learning) or one of :data:`DETECTORS`;
        ``"clean_and_refit"`` returns :meth:`Analysis.relearned` (the model fitted again on
        the cleaned labels; progress covers every fit). ``"confident_learning"`` gives the
        exact confident-learning filters on the first model's probabilities.

    Returns
    -------
    Analysis
        Lazily computes each part on first access; all parts share one pass over the rows.
    """
    check_choice(filter_by, FILTERS, "filter_by")
    check_choice(rank_by, RANKINGS, "rank_by")
    detector, reason = choose_detector(dataset, detector)
    refit = detector == "clean_and_refit"
    # progress shared by folds: the first fit's cv, then REFIT_ROUNDS refits of REFIT_CV
    folds = cv if isinstance(cv, int) and cv > 0 else 1
    share = folds / (folds + REFIT_ROUNDS * REFIT_CV) if refit else 1.0

    def first(fraction: float, message: str) -> None:
        if progress is not None:
            progress(share * fraction, message)

    probs, source, record = dataset_probabilities(
        dataset, model=model, cv=cv, random_state=random_state,
        progress=first if progress is not None else None, use_cache=use_cache,
    )
    result = Analysis(dataset, probs, source, filter_by, rank_by, detector_reason=reason,
                      model=record)
    if refit:
        def rest(fraction: float, message: str) -> None:
            if progress is not None:
                progress(share + (1.0 - share) * fraction, message)

        try:
            result = result.relearned(model=model, random_state=random_state,
                                      progress=rest, use_cache=use_cache)
        except ValueError as exc:
            if reason == CHOSEN:  # asked for by name: say why it cannot run
                raise
            # the default falls back, and says so (e.g. cleaned labels left a single class)
            result = replace(result, detector_reason=(
                f"confident learning alone: the combined detector could not fit again ({exc})"))
            if progress is not None:
                progress(1.0, "the combined detector could not run: confident learning alone")
    return result
