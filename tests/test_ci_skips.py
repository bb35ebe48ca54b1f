"""The CI hook of ``tests/ci_skips.py``: a skip is a failure under CI, on a tiny test file run
in a pytest subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent

TINY = '''
import pytest

def test_runs():
    assert True

@pytest.mark.skipif(True, reason="no chromium here")
def test_needs_chromium():
    pass

def test_skips_inside():
    pytest.skip("cleanlab is not installed")

@pytest.mark.ci_may_skip
@pytest.mark.skipif(True, reason="opted out by name")
def test_deliberate():
    pass

@pytest.mark.xfail(reason="known")
def test_expected_failure():
    assert False
'''
TINY_MODULE_SKIP = 'import pytest\nzz = pytest.importorskip("no_such_module_zz")\n\n' \
                   'def test_never():\n    pass\n'


def _run(tmp_path: Path, ci: str | None, test_file: str = TINY) -> subprocess.CompletedProcess:
    """pytest on one tiny file beside a conftest that imports the hooks, as tests/ does."""
    (tmp_path / "conftest.py").write_text("from ci_skips import (  # noqa: F401\n"
                                          "    pytest_configure, pytest_make_collect_report,\n"
                                          "    pytest_runtest_makereport)\n")
    (tmp_path / "test_tiny.py").write_text(test_file)
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS), env.get("PYTHONPATH", "")])
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)


def _summary(out: str) -> str:
    return out.strip().splitlines()[-1]


@pytest.mark.parametrize("ci", ["1", "true"])
def test_under_ci_every_skip_fails_naming_its_reason(tmp_path, ci):
    run = _run(tmp_path, ci)
    assert run.returncode == 1, run.stdout
    out = run.stdout
    # the two skips fail with their reason (a skipif mark at setup: an error); the marked
    # opt-out still skips, an xfail stays an xfail
    assert "ERROR test_tiny.py::test_needs_chromium" in out
    assert "FAILED test_tiny.py::test_skips_inside" in out
    assert "SKIPPED [1] test_tiny.py:14: opted out by name" in out
    assert "test_tiny.py::test_needs_chromium was skipped under CI (no chromium here)" in out
    assert "test_tiny.py::test_skips_inside was skipped under CI (cleanlab is not installed)" \
        in out
    assert _summary(out).startswith("1 failed, 1 passed, 1 skipped, 1 xfailed, 1 error")


def test_under_ci_a_module_level_importorskip_is_a_collection_error(tmp_path):
    run = _run(tmp_path, "1", TINY_MODULE_SKIP)
    assert run.returncode == 2, run.stdout  # pytest's "interrupted": nothing passes quietly
    assert ("ERROR test_tiny.py - test_tiny.py was skipped under CI (could not import "
            "'no_such_module_zz'") in run.stdout
    assert _run(tmp_path, None, TINY_MODULE_SKIP).returncode == 5  # no CI: skipped, none run


@pytest.mark.parametrize("ci", [None, "", "0", "false"])
def test_outside_ci_a_skip_stays_a_skip(tmp_path, ci):
    run = _run(tmp_path, ci)
    assert run.returncode == 0, run.stdout
    assert _summary(run.stdout).startswith("1 passed, 3 skipped, 1 xfailed")
