"""The workspace cache: fingerprints, atomic .npy files, corrupt files as misses."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.core import cache

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("NOISELENS_HOME", str(tmp_path / "ws"))
    return tmp_path / "ws"


def test_workspace_from_env_and_default(home, tmp_path, monkeypatch):
    assert cache.workspace() == home
    monkeypatch.delenv("NOISELENS_HOME")
    monkeypatch.chdir(tmp_path)
    assert cache.workspace() == tmp_path / ".noiselens"
    assert not (tmp_path / ".noiselens").exists()  # not created until something is saved


# ------------------------------------------------------------------------------- fingerprint

FRAME = pd.DataFrame(
    {"x": [1.5, 2.0, np.nan], "n": [1, 2, 3], "s": ["a", "b", None], "c": list("xyx")}
).astype({"c": "category"})

PARTS = (
    np.arange(12, dtype=np.float32).reshape(3, 4),
    FRAME,
    FRAME["s"],
    "text",
    b"bytes",
    3,
    2.5,
    True,
    None,
    {"b": [1, 2], "a": (np.int64(3), "x")},
)


def test_fingerprint_is_hex_sha256_and_deterministic():
    fp = cache.fingerprint(*PARTS)
    assert len(fp) == 64 and int(fp, 16) >= 0
    assert cache.fingerprint(*PARTS) == fp
    copies = tuple(p.copy() if hasattr(p, "copy") else p for p in PARTS)
    assert cache.fingerprint(*copies) == fp


def test_fingerprint_is_stable_across_processes():
    code = (
        "import numpy as np, pandas as pd\n"
        "from analysis.core.cache import fingerprint\n"
        "print(fingerprint(np.arange(12, dtype=np.float32).reshape(3, 4), "
        "pd.DataFrame({'s': ['a', 'b', None], 'n': [1, 2, 3]}), 'text', {'b': 1, 'a': 2.5}))\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "123"}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout.strip()
    here = cache.fingerprint(
        np.arange(12, dtype=np.float32).reshape(3, 4),
        pd.DataFrame({"s": ["a", "b", None], "n": [1, 2, 3]}),
        "text",
        {"a": 2.5, "b": 1},
    )
    assert out == here


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ((np.zeros(4, np.float32),), (np.zeros(4, np.float64),)),  # dtype
        ((np.zeros(4),), (np.zeros((2, 2)),)),  # shape
        ((np.arange(4),), (np.array([0, 1, 2, 4]),)),  # one value
        (("ab", "c"), ("a", "bc")),  # boundaries
        ((1,), ("1",)),  # type
        ((1,), (1.0,)),
        ((True,), (1,)),
        (([1, 2],), ([2, 1],)),  # list order
        ((b"x",), ("x",)),
        ((pd.DataFrame({"a": [1, 2]}),), (pd.DataFrame({"b": [1, 2]}),)),  # column name
        ((pd.DataFrame({"a": [1, 2]}),), (pd.DataFrame({"a": [1, 3]}),)),  # value
        ((pd.DataFrame({"a": [1, 2]}),), (pd.DataFrame({"a": [1, 2]}, index=[5, 6]),)),  # index
        ((pd.Series(["a", "b"]),), (pd.Series(["a", "c"]),)),  # object values
        ((pd.Series([1, 2], name="x"),), (pd.Series([1, 2], name="y"),)),
        ((np.array(["a", "b"], dtype=object),), (np.array(["a", "c"], dtype=object),)),
        ((None,), ("none",)),
    ],
)
def test_fingerprint_tells_apart(a, b):
    assert cache.fingerprint(*a) != cache.fingerprint(*b)


def test_fingerprint_ignores_dict_order_and_memory_layout():
    assert cache.fingerprint({"a": 1, "b": 2}) == cache.fingerprint({"b": 2, "a": 1})
    arr = np.arange(20.0).reshape(4, 5)
    assert cache.fingerprint(arr) == cache.fingerprint(np.asfortranarray(arr))
    assert cache.fingerprint(arr[:, ::2]) == cache.fingerprint(arr[:, ::2].copy())


def test_fingerprint_refuses_unknown_types():
    with pytest.raises(TypeError, match="cannot hash a builtins.object"):
        cache.fingerprint(object())


# ------------------------------------------------------------------------------------ arrays


def test_save_load_round_trip_is_exact(home):
    arr = np.random.default_rng(0).normal(size=(50, 3)).astype(np.float32)
    path = cache.save_array("projection", "abc123", arr)
    assert path == home / "cache" / "projection" / "abc123.npy"
    back = cache.load_array("projection", "abc123")
    assert back.dtype == arr.dtype and back.shape == arr.shape
    assert back.tobytes() == arr.tobytes()
    assert [p.name for p in path.parent.iterdir()] == ["abc123.npy"]  # no temp file left


def test_missing_is_none():
    assert cache.load_array("projection", "nothing") is None


@pytest.mark.parametrize(
    "damage",
    [
        lambda p: p.write_bytes(b""),
        lambda p: p.write_bytes(b"not a numpy file at all"),
        lambda p: p.write_bytes(p.read_bytes()[:-17]),  # truncated data
        lambda p: p.write_bytes(p.read_bytes()[:20]),  # truncated header
    ],
    ids=["empty", "garbage", "truncated-data", "truncated-header"],
)
def test_corrupt_file_is_a_miss_and_is_deleted(damage):
    path = cache.save_array("k", "key", np.arange(100, dtype=np.float64))
    damage(path)
    with pytest.warns(RuntimeWarning, match="unreadable cache file"):
        assert cache.load_array("k", "key") is None
    assert not path.exists()
    calls = []
    value = cache.cached_array("k", "key", lambda: calls.append(1) or np.ones(3))
    assert calls == [1] and value.tolist() == [1, 1, 1]
    assert cache.load_array("k", "key").tolist() == [1, 1, 1]


def test_pickled_object_array_is_a_miss(home):
    path = home / "cache" / "k" / "obj.npy"
    path.parent.mkdir(parents=True)
    np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.warns(RuntimeWarning):
        assert cache.load_array("k", "obj") is None
    assert not path.exists()


def test_object_arrays_are_refused():
    with pytest.raises(ValueError, match="cannot cache an array of dtype object"):
        cache.save_array("k", "key", np.array(["a", None], dtype=object))


def test_failed_write_leaves_nothing(monkeypatch, home):
    cache.save_array("k", "key", np.zeros(3))

    def broken_save(fh, arr, allow_pickle=False):
        fh.write(b"\x93NUMPY partial")
        raise OSError("disk full")

    with monkeypatch.context() as m:
        m.setattr(np, "save", broken_save)
        with pytest.raises(OSError, match="disk full"):
            cache.save_array("k", "key", np.ones(3))
    folder = home / "cache" / "k"
    assert [p.name for p in folder.iterdir()] == ["key.npy"]  # the old file, intact
    assert cache.load_array("k", "key").tolist() == [0, 0, 0]


def test_cached_array_computes_once():
    calls = []

    def compute():
        calls.append(1)
        return np.arange(5, dtype=np.int32)

    first = cache.cached_array("k", "key", compute)
    second = cache.cached_array("k", "key", compute)
    assert calls == [1]
    assert second.dtype == np.int32 and second.tobytes() == first.tobytes()


def test_cached_array_survives_a_read_only_cache(monkeypatch):
    def fail(*args, **kwargs):
        raise PermissionError("read-only file system")

    monkeypatch.setattr(cache, "save_array", fail)
    with pytest.warns(RuntimeWarning, match="could not write the cache"):
        assert cache.cached_array("k", "key", lambda: np.ones(2)).tolist() == [1, 1]


@pytest.mark.parametrize("bad", ["../escape", "a/b", "", ".hidden", "x" * 201, "sp ace"])
def test_names_must_be_plain_file_names(bad):
    with pytest.raises(ValueError, match="cache key must be"):
        cache.load_array("k", bad)
    with pytest.raises(ValueError, match="cache kind must be"):
        cache.save_array(bad, "key", np.zeros(1))


def test_clear_cache(home):
    cache.save_array("a", "one", np.zeros(1))
    cache.save_array("a", "two", np.zeros(1))
    cache.save_array("b", "one", np.zeros(1))
    assert cache.clear_cache("a") == 2
    assert cache.load_array("b", "one") is not None
    assert cache.clear_cache() == 1
    assert cache.clear_cache() == 0
