"""2-D projections: inputs, PCA / t-SNE / UMAP, the fit sample and the on-disk cache."""

from __future__ import annotations

import os
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_digits, make_blobs
from sklearn.decomposition import PCA
from sklearn.neighbors import KNeighborsClassifier

from analysis.core import cache
from analysis.model import embedding
from analysis.model.embedding import fit_sample, prepare_features, project

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("NOISELENS_HOME", str(tmp_path / "ws"))
    return tmp_path / "ws"


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return prepare_features(X), y


def blobs(n=1000, d=8, seed=0):
    X, y = make_blobs(n, d, centers=3, cluster_std=1.0, center_box=(-30, 30), random_state=seed)
    return X.astype(np.float32), y


def map_accuracy(points, labels):
    """Leave-one-out 5-NN accuracy in the 2-D map: how well the map keeps classes apart."""
    knn = KNeighborsClassifier(6).fit(points, labels)
    idx = knn.kneighbors(points, return_distance=False)[:, 1:]
    votes = labels[idx]
    return np.mean([np.bincount(v).argmax() == lab for v, lab in zip(votes, labels, strict=True)])


# ------------------------------------------------------------------------- prepare_features


def test_features_are_standardised_constant_dropped_nan_imputed():
    X = np.array(
        [
            [1.0, 5.0, np.nan, 7.0],
            [2.0, 5.0, np.nan, np.nan],
            [3.0, 5.0, np.nan, 1.0],
            [6.0, 5.0, np.nan, 4.0],
        ]
    )
    out = prepare_features(X)
    assert out.dtype == np.float32 and out.shape == (4, 2)  # constant and all-NaN columns go
    np.testing.assert_allclose(out.mean(axis=0), 0, atol=1e-6)
    np.testing.assert_allclose(out.std(axis=0), 1, atol=1e-6)
    filled = np.array([7.0, 4.0, 1.0, 4.0])  # NaN -> the median of 7, 1, 4
    np.testing.assert_allclose(out[:, 1], (filled - filled.mean()) / filled.std(), rtol=1e-6)


def test_features_from_a_frame_use_numeric_columns():
    frame = pd.DataFrame(
        {"a": [1, 2, 3, 4], "b": [0.5, None, 1.5, 2.0], "name": list("wxyz"), "flag": [1, 0, 1, 0]}
    ).astype({"flag": bool, "a": "Int64"})
    frame.loc[1, "a"] = pd.NA
    out = prepare_features(frame)
    assert out.shape == (4, 3) and np.isfinite(out).all()


def test_embeddings_win_and_pass_unchanged():
    emb = np.random.default_rng(0).normal(size=(10, 4))
    out = prepare_features(np.ones((10, 2)), embeddings=emb, text=["x"] * 10)
    np.testing.assert_array_equal(out, emb.astype(np.float32))


def test_text_becomes_tfidf_svd_unit_rows():
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(300)]
    docs = [" ".join(rng.choice(words, 12)) for _ in range(200)] + [None, float("nan")]
    out = prepare_features(text=pd.Series(docs))
    assert out.shape == (202, 50) and out.dtype == np.float32
    norms = np.linalg.norm(out, axis=1)
    np.testing.assert_allclose(norms[:200], 1, rtol=1e-5)
    assert norms[200] == norms[201] == 0  # missing text: an empty document
    small = prepare_features(text=["the cat sat", "a dog ran", "the cat ran", "dogs and cats"])
    assert small.shape == (4, 3)  # min(50, terms - 1, rows - 1)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "nothing to project"),
        ({"X": np.ones((5, 3))}, "constant or empty"),
        (
            {"X": np.array([[1.0, np.inf], [2, 3], [3, 4]])},
            r"row 0 hold infinity \(in \['column 1'\]",
        ),
        ({"X": np.ones((2, 3))}, "2 row"),
        ({"X": np.arange(5.0)}, "must be 2-D"),
        ({"X": np.array([["a", "b"]] * 3)}, "must be numeric"),
        ({"X": pd.DataFrame({"s": list("abc")})}, "no numeric columns"),
        ({"embeddings": np.array([[1.0, 2], [np.nan, 1], [0, 0]])}, "row 1 contain NaN"),
        ({"text": ["", "a", "  "]}, "no words"),
        ({"text": "one string"}, "one document per row"),
    ],
)
def test_prepare_features_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        prepare_features(**kwargs)


# ---------------------------------------------------------------------------------- project


def test_pca_equals_sklearn(digits):
    X, _ = digits
    out = project(X, "pca")
    expected = PCA(n_components=2, random_state=0).fit_transform(X)
    assert out.shape == (len(X), 2) and out.dtype == np.float32
    np.testing.assert_array_equal(out, expected.astype(np.float32))


def test_pca_of_a_single_feature():
    out = project(np.arange(6.0).reshape(-1, 1), "pca")
    assert out.shape == (6, 2) and (out[:, 1] == 0).all()


@pytest.mark.parametrize(
    ("X", "kwargs", "message"),
    [
        (np.arange(10.0), {}, r"must be 2-D .* reshape"),
        (np.ones((2, 3)), {}, "2 row"),
        (np.ones((5, 0)), {}, "no columns"),
        (np.array([[1.0, 2], [np.nan, 1], [0, 0], [1, 1]]), {}, "row 1 contain NaN"),
        (np.array([["a"]] * 4), {}, "must be numeric"),
        (np.ones((5, 2)), {"method": "mds"}, "method='mds' is not one of: umap, pca, tsne"),
        (np.ones((5, 2)), {"sample_keep": [True, False]}, "one value per row"),
        (np.ones((5, 2)), {"sample_keep": np.arange(5.0)}, "bool mask"),
        (np.ones((5, 2)), {"strata": [0, 1]}, "strata must have one value per row"),
        (np.ones((5, 2)), {"max_fit_rows": 2}, "max_fit_rows"),
        (np.zeros((20_001, 2), np.float32), {"method": "tsne"}, "limited to 20,000.*umap"),
    ],
)
def test_project_bad_input(X, kwargs, message):
    with pytest.raises(ValueError, match=message):
        project(X, **kwargs)


def test_tsne_small():
    X, y = blobs(120, 5)
    out = project(X, "tsne")
    assert out.shape == (120, 2) and out.dtype == np.float32
    assert map_accuracy(out, y) == 1.0
    assert project(X[:3], "tsne").shape == (3, 2)  # perplexity adapted to tiny data


def test_progress_is_reported_from_0_to_1(digits):
    X, _ = digits
    calls = []
    project(X, "pca", progress=lambda f, m: calls.append((f, m)))
    fractions = [f for f, _ in calls]
    assert fractions[0] == 0.0 and fractions[-1] == 1.0 and fractions == sorted(fractions)
    assert all(isinstance(m, str) and m for _, m in calls)


# ------------------------------------------------------------------------------------ cache


def test_cache_hit_is_exact_and_does_not_recompute(digits, monkeypatch, home):
    X, _ = digits
    calls = []
    real = embedding._compute

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(embedding, "_compute", counting)
    first = project(X, "pca", cache_key="digits")
    messages = []
    second = project(X, "pca", cache_key="digits", progress=lambda f, m: messages.append(m))
    assert calls == [1]
    assert second.dtype == first.dtype and second.tobytes() == first.tobytes()
    assert "cache" in messages[-1]
    assert len(list((home / "cache" / "projection").glob("*.npy"))) == 1

    project(X, "pca", cache_key="digits", random_state=1)  # other parameters: other entry
    project(X, "pca", cache_key="other")
    project(X[:-1], "pca", cache_key="digits")  # other rows
    X2 = X.copy()
    X2[5, 5] += 1
    project(X2, "pca", cache_key="digits")  # same key, other content: never a stale hit
    project(X, "pca")  # no key: no cache
    assert len(calls) == 6


def test_cache_hit_in_a_new_process(digits, monkeypatch, home):
    X, _ = digits
    np.save(home.parent / "X.npy", X)
    code = (
        "import numpy as np\n"
        "from analysis.model.embedding import project\n"
        f"project(np.load({str(home.parent / 'X.npy')!r}), 'pca', cache_key='digits-fp')\n"
    )
    env = {**os.environ, "NOISELENS_HOME": str(home)}
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True)

    def must_not_run(*args, **kwargs):
        raise AssertionError("recomputed despite the cache")

    monkeypatch.setattr(embedding, "_compute", must_not_run)
    out = project(X, "pca", cache_key="digits-fp")
    assert out.tobytes() == PCA(2, random_state=0).fit_transform(X).astype(np.float32).tobytes()


def test_corrupt_cached_projection_is_recomputed(digits, home):
    X, _ = digits
    first = project(X, "pca", cache_key="d")
    (path,) = (home / "cache" / "projection").glob("*.npy")
    path.write_bytes(path.read_bytes()[:100])
    with pytest.warns(RuntimeWarning, match="unreadable"):
        again = project(X, "pca", cache_key="d")
    assert again.tobytes() == first.tobytes()
    assert cache.load_array("projection", path.stem).tobytes() == first.tobytes()


# ------------------------------------------------------------------------------- fit sample


def test_fit_sample_keeps_every_suspect_and_has_the_right_size():
    keep = np.zeros(1000, dtype=bool)
    keep[::37] = True
    rows = fit_sample(1000, 300, keep=keep)
    assert rows.dtype == np.int64 and rows.size == 300 and np.unique(rows).size == 300
    assert set(np.flatnonzero(keep)) <= set(rows.tolist())
    assert np.array_equal(rows, np.sort(rows))
    assert np.array_equal(rows, fit_sample(1000, 300, keep=keep))  # seeded
    assert not np.array_equal(rows, fit_sample(1000, 300, keep=keep, random_state=1))
    assert np.array_equal(fit_sample(200, 300), np.arange(200))  # small data: every row


def test_fit_sample_is_stratified():
    strata = np.repeat([0, 1, 2], [700, 200, 100])
    rows = fit_sample(1000, 100, strata=strata)
    assert np.bincount(strata[rows]).tolist() == [70, 20, 10]
    odd = np.repeat([0, 1, 2], [334, 333, 333])
    assert np.bincount(odd[fit_sample(1000, 100, strata=odd)]).tolist() == [34, 33, 33]


def test_fit_sample_with_more_suspects_than_the_budget():
    keep = np.zeros(1000, dtype=bool)
    keep[:400] = True
    rows = fit_sample(1000, 300, keep=keep)
    assert set(range(400)) <= set(rows.tolist())
    assert rows.size == 400 + 30  # plus a tenth of the budget from the other rows
    everything = np.ones(1000, dtype=bool)
    strata = np.arange(1000) % 3
    assert np.array_equal(fit_sample(1000, 300, keep=everything, strata=strata), np.arange(1000))


class FakeUMAP:
    """Stands in for umap.UMAP: records what is fitted and transformed."""

    instances: list[FakeUMAP] = []

    def __init__(self, **params):
        self.params = params
        FakeUMAP.instances.append(self)

    def fit(self, X):
        self.fitted = X.copy()
        self.embedding_ = X[:, :2] * 1.0
        return self

    def fit_transform(self, X):
        return self.fit(X).embedding_

    def transform(self, X):
        self.transformed = X.copy()
        return X[:, :2] + 1000.0


def test_sampling_path_fits_the_sample_and_transforms_the_rest(monkeypatch):
    monkeypatch.setitem(sys.modules, "umap", types.SimpleNamespace(UMAP=FakeUMAP))
    FakeUMAP.instances.clear()
    X = np.random.default_rng(0).normal(size=(1000, 4)).astype(np.float32)
    X[:, 0] = np.arange(1000)  # row number, to see which rows went where
    keep = np.zeros(1000, dtype=bool)
    keep[[3, 500, 999]] = True
    labels = np.arange(1000) % 4
    calls = []
    out = project(
        X,
        "umap",
        sample_keep=keep,
        strata=labels,
        max_fit_rows=300,
        progress=lambda f, m: calls.append(m),
    )
    (model,) = FakeUMAP.instances
    fitted = model.fitted[:, 0].astype(int)
    assert fitted.size == 300 and {3, 500, 999} <= set(fitted.tolist())
    assert np.abs(np.bincount(labels[fitted]) - 75).max() <= 2  # stratified by label
    placed = model.transformed[:, 0].astype(int)
    assert sorted(fitted.tolist() + placed.tolist()) == list(range(1000))
    np.testing.assert_array_equal(out[fitted], X[fitted, :2])
    np.testing.assert_array_equal(out[placed], X[placed, :2] + 1000)
    assert model.params["random_state"] == 0 and model.params["n_neighbors"] == 15
    assert any("300 of 1,000" in m for m in calls) and any("700" in m for m in calls)


def test_umap_is_not_imported_at_module_level():
    code = ("import sys, analysis.model.embedding, analysis.model.neighbours; "
            "print('umap' in sys.modules)")
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "False"


def test_missing_umap_learn_says_what_to_do(monkeypatch):
    monkeypatch.setitem(sys.modules, "umap", None)  # import umap -> ImportError
    with pytest.raises(ImportError, match="pip install umap-learn.*method='pca'"):
        project(np.random.default_rng(0).normal(size=(10, 3)), "umap")


# ----------------------------------------------------------------------------- real UMAP
# Few on purpose: the first UMAP of a process compiles numba (~20 s).


def test_umap_on_digits_separates_classes_and_caches(digits, monkeypatch):
    X, y = digits
    out = project(X, "umap", cache_key="digits")
    assert out.shape == (len(X), 2) and out.dtype == np.float32 and np.isfinite(out).all()
    assert map_accuracy(out, y) > 0.9

    def must_not_run(*args, **kwargs):
        raise AssertionError("recomputed despite the cache")

    monkeypatch.setattr(embedding, "_compute", must_not_run)
    assert project(X, "umap", cache_key="digits").tobytes() == out.tobytes()


def test_umap_sampling_path_for_real(monkeypatch):
    import umap

    X, y = blobs(1000, 8)
    keep = np.zeros(1000, dtype=bool)
    keep[np.random.default_rng(1).choice(1000, 40, replace=False)] = True
    fitted = []
    real_fit = umap.UMAP.fit

    def recording_fit(self, data, *args, **kwargs):
        fitted.append(np.asarray(data).copy())
        return real_fit(self, data, *args, **kwargs)

    monkeypatch.setattr(umap.UMAP, "fit", recording_fit)
    out = project(X, "umap", sample_keep=keep, strata=y, max_fit_rows=300)
    assert out.shape == (1000, 2) and out.dtype == np.float32 and np.isfinite(out).all()
    assert len(fitted) == 1 and fitted[0].shape == (300, 8)
    fitted_rows = {row.tobytes() for row in fitted[0]}
    assert all(X[i].tobytes() in fitted_rows for i in np.flatnonzero(keep))
    assert map_accuracy(out, y) == 1.0  # transformed rows land in their blob's cluster


def test_umap_on_tiny_data():
    X = np.random.default_rng(0).normal(size=(3, 4))
    out = project(X, "umap")
    assert out.shape == (3, 2) and np.isfinite(out).all()


def test_prepare_features_leaves_its_input_unchanged():
    """NaN are imputed in a copy: the caller's frame (float64, one block, every column
    varying) and array keep their holes."""
    rng = np.random.default_rng(0)
    values = rng.normal(size=(50, 3))
    values[[1, 7], [0, 2]] = np.nan
    frame = pd.DataFrame(values.copy(), columns=["a", "b", "c"])
    array = values.copy()
    prepare_features(frame)
    prepare_features(array)
    np.testing.assert_array_equal(frame.to_numpy(), values)
    np.testing.assert_array_equal(array, values)


def test_project_cached_only_reads_the_cache_and_never_computes(tmp_path, monkeypatch):
    monkeypatch.setenv("NOISELENS_HOME", str(tmp_path))
    X = np.random.default_rng(4).normal(size=(40, 3)).astype(np.float32)
    assert project(X, "pca", cache_key="k", cached_only=True) is None
    made = project(X, "pca", cache_key="k")
    np.testing.assert_array_equal(project(X, "pca", cache_key="k", cached_only=True), made)
    assert project(X + 1, "pca", cache_key="k", cached_only=True) is None  # other content
