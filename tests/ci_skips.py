"""In CI a skipped test is a failure: a missing extra must not pass silently (#25).

``pytest.importorskip("zarr")``, a missing Chromium or playwright, an absent cleanlab: on a
developer's machine each skips its test file with the reason; under CI (the ``CI``
environment variable set to anything but ``""``, ``0``, ``false`` or ``no``) the skip is
reported as a failure naming the reason, so a CI run without the extras installed fails
instead of passing with a fraction of the suite. A test that may skip by design (an opt-out
the user sets by name, e.g. ``NOISELENS_SKIP_WHEEL_TEST``) carries ``@pytest.mark.ci_may_skip``.

``tests/conftest.py`` imports these hooks; ``tests/test_ci_skips.py`` runs them on a tiny file.
"""

from __future__ import annotations

import os

import pytest

#: The marker of a test that may skip under CI too.
MARKER = "ci_may_skip"
#: Values of ``CI`` that mean "not CI".
NOT_CI = ("", "0", "false", "no")


def in_ci() -> bool:
    """Whether the ``CI`` environment variable says this is a CI run."""
    return os.environ.get("CI", "").strip().lower() not in NOT_CI


def _reason(longrepr) -> str:
    """The skip reason of a report's ``longrepr`` (a ``(path, line, reason)`` tuple)."""
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


def _failure(where: str, reason: str) -> str:
    return (f"{where} was skipped under CI ({reason}). CI must run every test: install the "
            "extra it needs (pip install -e '.[test,reference]', Chromium at /usr/bin/chromium), "
            f"or mark a deliberate opt-out with @pytest.mark.{MARKER}.")


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", f"{MARKER}: the test may be skipped under CI too "
                            "(a deliberate opt-out, not a missing extra)")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if (report.skipped and in_ci() and not hasattr(report, "wasxfail")
            and item.get_closest_marker(MARKER) is None):
        report.outcome = "failed"
        report.longrepr = _failure(item.nodeid, _reason(report.longrepr))


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    report = outcome.get_result()
    if report.skipped and in_ci():  # a module-level importorskip
        report.outcome = "failed"
        report.longrepr = _failure(collector.nodeid or "a test file", _reason(report.longrepr))
