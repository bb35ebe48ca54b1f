"""Start the Streamlit dashboard with the project's settings, wherever it is run from."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

APP = Path(__file__).with_name("app.py")

# The project's .streamlit/config.toml is only read from the launch directory, so the settings
# that matter are passed as flags (DESIGN section 8).
SETTINGS = {
    "server.headless": "true",
    "browser.gatherUsageStats": "false",
    "client.toolbarMode": "minimal",
    "server.maxUploadSize": "1024",
    "theme.base": "light",
    "theme.primaryColor": "#d6336c",
}


def streamlit_command(args, extra: list[str]) -> list[str]:
    """The ``streamlit run`` command line: project settings, then the user's flags."""
    cmd = [sys.executable, "-m", "streamlit", "run", str(APP)]
    given = {flag.split("=")[0].lstrip("-") for flag in extra if flag.startswith("--")}
    cmd += [f"--{k}={v}" for k, v in SETTINGS.items() if k not in given]
    cmd += extra
    app_args = []
    if getattr(args, "data", None):
        app_args += ["--data", str(Path(args.data).resolve())]
    if getattr(args, "label_col", None):
        app_args += ["--label-col", args.label_col]
    if app_args:
        cmd += ["--", *app_args]
    return cmd


def launch(args, extra: list[str]) -> int:
    """Run the dashboard until the user stops it; return Streamlit's exit code."""
    return subprocess.call(streamlit_command(args, extra))
