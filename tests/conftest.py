"""Fixtures shared by the test modules."""

import numba
import pytest


@pytest.fixture(scope="module")
def one_numba_thread():
    """Small inputs: one thread (a parallel launch per kernel costs more than the work)."""
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    yield
    numba.set_num_threads(before)
