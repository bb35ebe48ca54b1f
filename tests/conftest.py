"""Fixtures shared by the test modules; under CI a skip fails (``tests/ci_skips.py``)."""

import numba
import pytest
from ci_skips import (  # noqa: F401 - pytest finds the hooks by name here
    pytest_configure,
    pytest_make_collect_report,
    pytest_runtest_makereport,
)


@pytest.fixture(scope="module")
def one_numba_thread():
    """Small inputs: one thread (a parallel launch per kernel costs more than the work)."""
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    yield
    numba.set_num_threads(before)
