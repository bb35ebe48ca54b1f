"""``python -m dashboard.serve``: Streamlit's command line with the app's modules preloaded."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import streamlit

from dashboard import launch, serve

REPO = Path(__file__).resolve().parents[2]


def test_every_preloaded_module_exists():
    for name in serve.PRELOAD:
        assert importlib.import_module(name) is sys.modules[name]


def test_the_launcher_runs_streamlit_through_it():
    args = SimpleNamespace(data=None, label_col=None, host=None, export_dir=None)
    cmd = launch.streamlit_command(args, [])
    assert cmd[:4] == [sys.executable, "-m", "dashboard.serve", "run"]


def test_it_is_streamlits_command_line():
    out = subprocess.run([sys.executable, "-m", "dashboard.serve", "version"], cwd=REPO,
                         capture_output=True, text=True, timeout=120, check=True)
    assert f"Streamlit, version {streamlit.__version__}" in out.stdout
