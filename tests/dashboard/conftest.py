"""Fixtures of the dashboard tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


@pytest.fixture
def team_csv(tmp_path):
    """A CSV labelled by 3 simulated annotators (95%, 85%, 65% right, 20% of ratings
    missing); its label column is the weakest annotator's vote. Returns (path, frame)."""
    rng = np.random.default_rng(5)
    n = 160
    X = rng.normal(size=(n, 3))
    truth = np.where(X[:, 0] > 0, "cat", "dog")
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    for a, acc in enumerate([0.95, 0.85, 0.65]):
        votes = np.where(rng.random(n) < acc, truth, np.where(truth == "cat", "dog", "cat"))
        votes = votes.astype(object)
        votes[rng.random(n) < 0.2] = None
        frame[f"annotator_{a + 1}"] = votes
    frame["label"] = frame["annotator_3"].fillna(pd.Series(truth))
    path = tmp_path / "team_upload.csv"
    frame.to_csv(path, index=False)
    return path, frame


@pytest.fixture
def app_env(monkeypatch):
    """The environment of an AppTest run, for a workspace folder: ``app_env(home)`` points
    ``NOISELENS_HOME`` there, draws the map with PCA, empties the command line and Streamlit's
    caches (which outlive a test in the process); the caches are emptied again afterwards."""
    import sys

    import streamlit as st

    def enter(home) -> None:
        monkeypatch.setenv("NOISELENS_HOME", str(home))
        monkeypatch.setenv("NOISELENS_PROJECTION", "pca")
        monkeypatch.setattr(sys, "argv", ["app.py"])
        st.cache_data.clear()
        st.cache_resource.clear()

    yield enter
    st.cache_data.clear()
    st.cache_resource.clear()
