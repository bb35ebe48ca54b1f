"""numba's on-disk cache of the compiled kernels: where it goes when the package folder is
read-only (the workspace), that no read-only place ever fails the import, and that the two
builds of a row kernel (serial under ``PARALLEL_MIN_ELEMENTS`` values, parallel above) give
the same results."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numba
import numpy as np
import pytest

import analysis
from analysis.core import _kernels

REPO = Path(__file__).resolve().parents[1]

SCRIPT = """
import numpy as np
import analysis.core._kernels as K
print("cache", K._OPTS["cache"])
print("gather", K.gather(np.array([[0.25, 0.75], [0.5, 0.5]]), np.array([1, 0])).tolist())
"""


@pytest.fixture()
def read_only_package(tmp_path):
    """A copy of the package whose kernels' ``__pycache__`` cannot be a folder, and an
    environment where numba's own places (``NUMBA_CACHE_DIR``, the user's cache folder)
    cannot be created either: as if installed read-only, whoever runs it (also root)."""
    copy = tmp_path / "site"
    shutil.copytree(REPO / "analysis", copy / "analysis",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "analysis" / "core" / "__pycache__").write_text("not a folder")
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_")}
    env.update(PYTHONPATH=str(copy), NUMBA_CACHE_DIR=str(blocker / "numba"),
               XDG_CACHE_HOME=str(blocker / "xdg"), HOME=str(blocker / "home"),
               PYTHONDONTWRITEBYTECODE="1")
    return copy, env


def run(env, cwd):
    return subprocess.run([sys.executable, "-c", SCRIPT], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def test_read_only_package_caches_into_the_workspace(read_only_package, tmp_path):
    _, env = read_only_package
    env["NOISELENS_HOME"] = str(tmp_path / "ws")
    first = run(env, tmp_path)
    assert first.returncode == 0, first.stderr
    assert "cache True" in first.stdout and "gather [0.75, 0.5]" in first.stdout
    folder = tmp_path / "ws" / "cache" / "numba"
    assert sorted(p.name for p in folder.rglob("*gather_serial*.nbi"))  # kept on disk
    second = run(env | {"NUMBA_DEBUG_CACHE": "1"}, tmp_path)
    assert second.returncode == 0, second.stderr
    assert "gather [0.75, 0.5]" in second.stdout
    assert "data loaded" in second.stdout  # the second process loads, it does not compile


def test_nowhere_to_cache_compiles_without_a_cache(read_only_package, tmp_path):
    _, env = read_only_package
    env["NOISELENS_HOME"] = str(tmp_path / "a-file" / "ws")  # the workspace is read-only too
    result = run(env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "RuntimeError" not in result.stderr
    assert "cache False" in result.stdout and "gather [0.75, 0.5]" in result.stdout


def test_serial_and_parallel_builds_give_the_same_results(monkeypatch):
    rng = np.random.default_rng(5)
    labels = rng.integers(0, 7, 20_000)
    for dtype in (np.float64, np.float32):
        probs = rng.dirichlet(np.full(7, 0.3), 20_000).astype(dtype)
        probs[labels == 3, 3] += 0.5
        probs /= probs.sum(axis=1, keepdims=True)
        serial = {f: analysis.find_label_issues(labels, probs, filter_by=f)
                  for f in analysis.FILTERS}
        scores = {m: analysis.label_quality_scores(labels, probs, method=m)
                  for m in analysis.RANKINGS}
        monkeypatch.setattr(_kernels, "PARALLEL_MIN_ELEMENTS", 0)  # every input is large
        threads = numba.get_num_threads()
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        try:
            for f in analysis.FILTERS:
                np.testing.assert_array_equal(
                    analysis.find_label_issues(labels, probs, filter_by=f), serial[f])
            for m in analysis.RANKINGS:
                np.testing.assert_array_equal(
                    analysis.label_quality_scores(labels, probs, method=m), scores[m])
        finally:
            numba.set_num_threads(threads)
            monkeypatch.undo()
    if numba.config.NUMBA_NUM_THREADS > 1:  # the parallel builds did run
        assert _kernels.confident_guess.parallel.signatures
