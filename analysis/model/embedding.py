"""2-D projections of a dataset for the embedding map: UMAP, PCA and t-SNE, cached on disk.

The projected matrix is :func:`prepare_features`: the dataset's embeddings when it has them, else
its numeric features standardised, else TF-IDF of its text reduced to <= 50 dimensions.
:func:`project` maps it to 2-D. PCA is instant. UMAP costs ~20 s of numba compilation on the
first call of a process (umap-learn is imported only then, never at module import) plus the fit;
so with a ``cache_key`` results are kept on disk (:mod:`analysis.core.cache`) and a second call,
also in a new process, only reads a file. Past ``max_fit_rows`` rows UMAP is fitted on a sample that
keeps every suspect and the remaining rows are placed with ``transform``.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn import manifold  # manifold.TSNE looked up at call time (tests stub it)
from sklearn.decomposition import PCA, TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

from analysis.core import cache
from analysis.core._helpers import Progress, no_progress
from analysis.core._validation import describe_rows

#: Projection methods understood by :func:`project`.
METHODS = ("umap", "pca", "tsne")
#: UMAP parameters (umap-learn's defaults, written down because they key the cache).
UMAP_PARAMS = {"n_neighbors": 15, "min_dist": 0.1, "metric": "euclidean"}
#: t-SNE has no ``transform``, so it cannot use the fit-on-a-sample path: refuse above this.
TSNE_MAX_ROWS = 20_000
#: Text is reduced to at most this many dimensions (TruncatedSVD of TF-IDF).
TEXT_DIMENSIONS = 50
#: Bump when a change to this module changes projections: old cache entries stop matching.
CACHE_VERSION = 1


_LABELS = {"umap": "UMAP", "pca": "PCA", "tsne": "t-SNE"}




# --------------------------------------------------------------------------------------------
# input


def check_matrix(X, *, name: str = "X", min_rows: int = 3) -> np.ndarray:
    """Validate a feature matrix and return it as C-contiguous float32.

    Parameters
    ----------
    X : array-like of shape (N, D)
        Numeric (bool, int or float), finite.
    name : str
        What to call it in messages.
    min_rows : int
        Fewest rows accepted.

    Returns
    -------
    ndarray of shape (N, D), float32

    Raises
    ------
    ValueError
        Not 2-D, too few rows, no columns, not numeric, or NaN / infinity (the rows are named).
    """
    arr = np.asarray(X.to_numpy() if isinstance(X, pd.DataFrame) else X)
    if arr.ndim != 2:
        raise ValueError(
            f"{name} must be 2-D (rows x features), got shape {arr.shape}"
            + (": reshape a single feature with X.reshape(-1, 1)." if arr.ndim == 1 else ".")
        )
    n, d = arr.shape
    if n < min_rows:
        raise ValueError(f"{name} has {n} row(s): at least {min_rows} are needed.")
    if d < 1:
        raise ValueError(f"{name} has no columns: there is nothing to project.")
    if arr.dtype.kind not in "biuf":
        raise ValueError(
            f"{name} must be numeric, got dtype {arr.dtype}; use prepare_features() to turn a "
            "table or text into numbers."
        )
    out = np.ascontiguousarray(arr, dtype=np.float32)
    finite = np.isfinite(out)
    if not finite.all():
        bad = np.flatnonzero(~finite.all(axis=1))
        raise ValueError(
            f"{name} must be finite; {describe_rows(bad)} contain NaN or infinity "
            "(prepare_features() imputes missing values)."
        )
    return out


def prepare_features(
    X=None,
    *,
    embeddings=None,
    text: Sequence[str] | pd.Series | np.ndarray | None = None,
    random_state: int | None = 0,
) -> np.ndarray:
    """The matrix to project (and to search neighbours in) for a dataset.

    The first one given wins: ``embeddings`` as they are; else the numeric features in ``X``,
    standardised; else TF-IDF of ``text`` reduced with TruncatedSVD.

    Parameters
    ----------
    X : DataFrame or array-like of shape (N, D), optional
        Feature table. Of a DataFrame only the numeric and bool columns are used. Constant
        columns (and all-NaN ones) are dropped, NaN are imputed with the column median, then
        every column is scaled to mean 0 and standard deviation 1.
    embeddings : array-like of shape (N, E), optional
        Precomputed embeddings (e.g. from a neural network); used unchanged, must be finite.
    text : sequence of str of length N, optional
        Documents. Missing values (None / NaN) count as empty documents. TF-IDF (sublinear tf,
        at most 50,000 terms) -> TruncatedSVD to ``min(50, terms - 1, N - 1)`` dimensions ->
        rows scaled to unit length (so Euclidean distance ranks like cosine similarity).
    random_state : int or None
        Seed of the TruncatedSVD (text only).

    Returns
    -------
    ndarray of shape (N, F), float32
        F = E for embeddings, the non-constant numeric columns for features, <= 50 for text.

    Raises
    ------
    ValueError
        Nothing given, or an input that cannot become a finite numeric matrix; the message
        names the rows or columns.
    """
    # analysis.signals.compute caches this function's output on disk: bump its SPACE_VERSION when
    # the output for the same input changes
    if embeddings is not None:
        return check_matrix(embeddings, name="embeddings")
    if X is not None:
        return _standardise(X)
    if text is not None:
        return _text_features(text, random_state)
    raise ValueError(
        "nothing to project: give embeddings=, numeric features (X) or text= for the dataset."
    )


def _standardise(X) -> np.ndarray:
    if isinstance(X, pd.DataFrame):
        numeric = X.select_dtypes(include=["number", "bool"])
        if numeric.shape[1] == 0:
            raise ValueError(
                f"the feature table has no numeric columns (columns: {list(X.columns)[:10]}); "
                "give embeddings= or text= instead."
            )
        names = [str(c) for c in numeric.columns]
        values = numeric.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        values = np.asarray(X)
        if values.ndim != 2:
            raise ValueError(f"X must be 2-D (rows x features), got shape {values.shape}.")
        if values.dtype.kind not in "biuf":
            raise ValueError(f"X must be numeric, got dtype {values.dtype}.")
        names = [f"column {j}" for j in range(values.shape[1])]
        values = values.astype(np.float64)
    n = values.shape[0]
    if n < 3:
        raise ValueError(f"X has {n} row(s): at least 3 are needed.")
    inf = np.isinf(values)
    if inf.any():
        rows = np.flatnonzero(inf.any(axis=1))
        cols = [names[j] for j in np.flatnonzero(inf.any(axis=0))]
        raise ValueError(
            f"features must be finite; {describe_rows(rows)} hold infinity (in {cols[:5]})."
        )
    holes = np.isnan(values)
    complete = not holes.any()
    if complete:  # the common case: plain reductions (the nan- ones copy the matrix)
        varying = values.max(axis=0) > values.min(axis=0)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns, handled below
            lo = np.nanmin(values, axis=0)
            hi = np.nanmax(values, axis=0)
        varying = ~holes.all(axis=0) & (hi > lo)
    del holes
    if not varying.any():
        raise ValueError(
            f"all {len(names)} feature column(s) are constant or empty: nothing to project."
        )
    if not (complete and varying.all()):  # a copy: the holes are filled in place below
        values = values[:, varying]
    if not complete:
        median = np.nanmedian(values, axis=0)
        holes = np.isnan(values)
        values[holes] = np.take(median, np.nonzero(holes)[1])
    mean = values.mean(axis=0)
    std = values.std(axis=0)
    std[std == 0] = 1.0  # a column constant after imputation cannot happen, but never divide by 0
    return np.ascontiguousarray((values - mean) / std, dtype=np.float32)


def _text_features(text, random_state) -> np.ndarray:
    if isinstance(text, str | bytes):
        raise ValueError("text must be one document per row, not a single string.")
    items = list(text.tolist() if isinstance(text, pd.Series | np.ndarray) else text)
    n = len(items)
    if n < 3:
        raise ValueError(f"text has {n} document(s): at least 3 are needed.")
    docs = ["" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v) for v in items]
    vectorizer = TfidfVectorizer(
        sublinear_tf=True, strip_accents="unicode", max_features=50_000, dtype=np.float32
    )
    try:
        tfidf = vectorizer.fit_transform(docs)
    except ValueError as exc:  # "empty vocabulary; perhaps the documents only contain stop words"
        raise ValueError(
            f"the text has no words to compare ({exc}): every document is empty or has only "
            "one-letter tokens."
        ) from exc
    terms = tfidf.shape[1]
    dims = min(TEXT_DIMENSIONS, terms - 1, n - 1)
    if dims < 2:
        reduced = tfidf.toarray()
    else:
        svd = TruncatedSVD(n_components=dims, random_state=random_state)
        reduced = svd.fit_transform(tfidf)
    return np.ascontiguousarray(normalize(reduced), dtype=np.float32)


# --------------------------------------------------------------------------------------------
# fit sample


def fit_sample(
    n: int,
    max_rows: int,
    *,
    keep=None,
    strata=None,
    random_state: int | None = 0,
) -> np.ndarray:
    """Rows to fit a projection on when there are too many: every kept row plus a sample.

    Parameters
    ----------
    n : int
        Number of rows.
    max_rows : int
        Sample size. With ``n <= max_rows`` every row is returned.
    keep : array-like of bool, shape (N,), optional
        Rows that must be in the sample (the suspects: the points a reviewer looks at).
    strata : array-like of shape (N,), optional
        Group of each row (e.g. the given labels); the other rows are drawn from each group in
        proportion to its size (largest remainders), else uniformly.
    random_state : int or None
        Seed of the draw.

    Returns
    -------
    ndarray of shape (M,), int64, sorted
        ``M = max_rows`` normally. If the kept rows alone reach ``max_rows``, all of them are
        returned plus ``max_rows // 10`` others, so the fit still sees the clean data.
    """
    if max_rows < 3:
        raise ValueError(f"max_fit_rows must be at least 3, got {max_rows}.")
    keep_mask = np.zeros(n, dtype=bool) if keep is None else _check_mask(keep, n, "sample_keep")
    groups = None if strata is None else np.asarray(strata)
    if groups is not None and groups.shape != (n,):
        raise ValueError(f"strata must have one value per row ({n}), got shape {groups.shape}.")
    if n <= max_rows:
        return np.arange(n, dtype=np.int64)
    kept = np.flatnonzero(keep_mask)
    others = np.flatnonzero(~keep_mask)
    budget = max_rows - kept.size if kept.size < max_rows else max_rows // 10
    budget = min(max(budget, 0), others.size)
    rng = np.random.default_rng(random_state)
    if groups is None or budget == 0:
        chosen = rng.choice(others, size=budget, replace=False)
    else:
        _, inverse, counts = np.unique(groups[others], return_inverse=True, return_counts=True)
        exact = counts * (budget / others.size)
        quota = np.floor(exact).astype(np.int64)
        short = budget - int(quota.sum())
        if short:
            quota[np.argsort(-(exact - quota), kind="stable")[:short]] += 1
        order = np.lexsort((rng.random(others.size), inverse))  # groups, shuffled inside
        group = inverse[order]
        start = np.concatenate([[0], np.cumsum(counts)[:-1]])
        position = np.arange(others.size) - start[group]
        chosen = others[order[position < quota[group]]]
    return np.sort(np.concatenate([kept, chosen]).astype(np.int64))


def _check_mask(mask, n: int, name: str) -> np.ndarray:
    arr = np.asarray(mask)
    if arr.shape != (n,):
        raise ValueError(f"{name} must be a bool mask of one value per row ({n}), got {arr.shape}.")
    if arr.dtype != bool:
        if arr.dtype.kind in "iu" and np.isin(arr, (0, 1)).all():
            return arr.astype(bool)
        raise ValueError(f"{name} must be a bool mask, got dtype {arr.dtype}.")
    return arr


# --------------------------------------------------------------------------------------------
# projection


def _check_projection_inputs(X, method: str, max_fit_rows, sample_keep,
                             strata) -> tuple[np.ndarray, np.ndarray | None]:
    """The checks of :func:`project`: ``X`` as a finite matrix and the fit-sample mask.

    Raises the ``ValueError`` :func:`project` documents (unknown method, bad ``X``,
    ``max_fit_rows``, ``sample_keep`` / ``strata`` lengths, t-SNE above its row limit).
    """
    if method not in METHODS:
        raise ValueError(f"method={method!r} is not one of: {', '.join(METHODS)}.")
    X = check_matrix(X)
    n = X.shape[0]
    if not isinstance(max_fit_rows, int | np.integer) or max_fit_rows < 3:
        raise ValueError(f"max_fit_rows must be an integer >= 3, got {max_fit_rows!r}.")
    keep = None if sample_keep is None else _check_mask(sample_keep, n, "sample_keep")
    if strata is not None and np.shape(strata) != (n,):
        raise ValueError(f"strata must have one value per row ({n}), got {np.shape(strata)}.")
    if method == "tsne" and n > TSNE_MAX_ROWS:
        raise ValueError(
            f"t-SNE on {n:,} rows would take very long and cannot be fitted on a sample (it has "
            f"no transform); it is limited to {TSNE_MAX_ROWS:,} rows. Use method='umap' (fits "
            "a sample and places the rest) or 'pca'."
        )
    return X, keep


def _projection_key(cache_key: Any, method: str, random_state: int | None, max_fit_rows: int,
                    X: np.ndarray) -> str:
    """The projection cache's key: the caller's key, the method, seed, row count,
    ``max_fit_rows``, the UMAP parameters and the content of ``X``."""
    params = UMAP_PARAMS if method == "umap" else {}
    return cache.fingerprint(
        "projection",
        CACHE_VERSION,
        cache_key,
        method,
        random_state,
        X.shape[0],
        max_fit_rows,
        params,
        X,
    )


def _cache_projection(key: str, out: np.ndarray) -> None:
    """Store a projection; a disk that refuses only costs a recomputation (a warning)."""
    try:
        cache.save_array("projection", key, out)
    except OSError as exc:
        warnings.warn(
            f"could not cache the projection ({exc}); it will be recomputed next time.",
            RuntimeWarning,
            stacklevel=3,
        )


def project(
    X,
    method: str = "umap",
    *,
    random_state: int | None = 0,
    progress: Progress | None = None,
    cache_key: Any = None,
    sample_keep=None,
    strata=None,
    max_fit_rows: int = 50_000,
    cached_only: bool = False,
) -> np.ndarray | None:
    """Project the rows of ``X`` to 2-D.

    Parameters
    ----------
    X : array-like of shape (N, D)
        Finite numeric matrix, N >= 3: usually :func:`prepare_features`.
    method : {"umap", "pca", "tsne"}
        ``"pca"``: scikit-learn ``PCA(2)``, instant. ``"umap"``: umap-learn with
        ``n_neighbors=15`` (fewer for tiny N), ``min_dist=0.1``. ``"tsne"``: scikit-learn
        ``TSNE`` (Barnes-Hut, PCA init); refused above 20,000 rows.
    random_state : int or None
        Seed; the same inputs and seed give the same projection. UMAP with a seed runs
        single-threaded (umap-learn's rule for reproducibility).
    progress : callable(fraction, message), optional
        Called at the start (0.0), before fitting, before placing the rows outside the fit
        sample (UMAP above ``max_fit_rows``) and when done (1.0).
    cache_key : optional
        Anything :func:`analysis.core.cache.fingerprint` accepts, typically the dataset fingerprint.
        When given, the result is stored under ``workspace()/cache/projection`` keyed by it, the
        method, seed, row count, ``max_fit_rows``, the UMAP parameters and the content of ``X``
        (so a stale hit is impossible); a later call with the same key only reads the file. The
        fit sample (``sample_keep``, ``strata``) is not part of the key: every row is projected
        either way; put the suspects' fingerprint in ``cache_key`` to refit when they change.
    sample_keep : array-like of bool, shape (N,), optional
        Rows that must be in the UMAP fit sample (the suspects).
    strata : array-like of shape (N,), optional
        Groups (e.g. given labels) to stratify the UMAP fit sample by.
    max_fit_rows : int
        Above this many rows UMAP is fitted on :func:`fit_sample` and the other rows are placed
        with ``UMAP.transform``. PCA always uses every row.
    cached_only : bool, default False
        Only read the cache (``cache_key`` given): ``None`` on a miss instead of computing
        (the dashboard checks before starting a child process for the projection).

    Returns
    -------
    ndarray of shape (N, 2), float32
        Or ``None`` with ``cached_only`` when the cache has no entry.

    Raises
    ------
    ValueError
        Bad ``X`` (not 2-D, < 3 rows, not numeric, NaN / infinity), unknown ``method``, t-SNE on
        more than 20,000 rows, a ``sample_keep`` / ``strata`` of the wrong length.
    ImportError
        UMAP asked for but umap-learn is not installed.
    """
    X, keep = _check_projection_inputs(X, method, max_fit_rows, sample_keep, strata)
    n = X.shape[0]
    report = progress or no_progress
    label = _LABELS[method]
    report(0.0, f"Projecting {n:,} rows with {label}")
    key = None
    if cache_key is not None:
        key = _projection_key(cache_key, method, random_state, int(max_fit_rows), X)
        hit = cache.load_array("projection", key)
        if hit is not None and hit.shape == (n, 2) and hit.dtype == np.float32:
            report(1.0, f"{label} projection loaded from the cache")
            return hit
    if cached_only:
        return None
    start = time.perf_counter()
    out = _compute(X, method, random_state, report, keep, strata, int(max_fit_rows))
    out = np.ascontiguousarray(out, dtype=np.float32)
    if key is not None:
        _cache_projection(key, out)
    report(1.0, f"{label} projection of {n:,} rows done in {time.perf_counter() - start:.1f} s")
    return out


def _compute(X, method, random_state, report, keep, strata, max_fit_rows) -> np.ndarray:
    if method == "pca":
        return _pca(X, random_state, report)
    if method == "tsne":
        return _tsne(X, random_state, report)
    return _umap(X, random_state, report, keep, strata, max_fit_rows)


def _pca(X, random_state, report) -> np.ndarray:
    report(0.1, "Fitting PCA")
    dims = min(2, X.shape[1])
    out = PCA(n_components=dims, random_state=random_state).fit_transform(X)
    if dims < 2:  # a single feature: the second axis is flat
        out = np.column_stack([out, np.zeros(X.shape[0], dtype=out.dtype)])
    return out


def _tsne(X, random_state, report) -> np.ndarray:
    n = X.shape[0]
    report(0.1, f"Fitting t-SNE on {n:,} rows")
    perplexity = max(1.0, min(30.0, (n - 1) / 3))
    model = manifold.TSNE(
        n_components=2,
        perplexity=perplexity,
        init="pca",
        learning_rate="auto",
        random_state=random_state,
    )
    return model.fit_transform(X)


def _umap(X, random_state, report, keep, strata, max_fit_rows) -> np.ndarray:
    try:
        import umap  # imported here only: its import and first fit compile with numba
    except ImportError as exc:
        raise ImportError(
            "method='umap' needs umap-learn (pip install umap-learn); use method='pca' meanwhile."
        ) from exc
    n = X.shape[0]
    rows = fit_sample(n, max_fit_rows, keep=keep, strata=strata, random_state=random_state)
    n_fit = rows.size
    model = umap.UMAP(
        n_components=2,
        n_neighbors=min(UMAP_PARAMS["n_neighbors"], n_fit - 1),
        min_dist=UMAP_PARAMS["min_dist"],
        metric=UMAP_PARAMS["metric"],
        init="spectral" if n_fit > 10 else "random",  # spectral init fails below ~4 points
        random_state=random_state,
        n_jobs=1 if random_state is not None else -1,
    )
    sampled = n_fit < n
    report(
        0.05,
        f"Fitting UMAP on {n_fit:,} of {n:,} rows" if sampled else f"Fitting UMAP on {n:,} rows",
    )
    if not sampled:
        return model.fit_transform(X)
    model.fit(X[rows])
    out = np.empty((n, 2), dtype=np.float32)
    out[rows] = model.embedding_
    rest = np.ones(n, dtype=bool)
    rest[rows] = False
    report(0.6, f"Placing the other {n - n_fit:,} rows (UMAP transform)")
    out[rest] = model.transform(X[rest])
    return out
