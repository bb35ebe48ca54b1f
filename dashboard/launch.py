"""Start the Streamlit dashboard with the project's settings, wherever it is run from.

Safety (docs/architecture.md, "Server safety"): the server listens on loopback unless the user
asks for another address (``--host`` or Streamlit's ``--server.address``), and then a one-line
warning says who can reach it. The launcher *replaces itself* with Streamlit (``exec``), so a
SIGTERM or Ctrl-C sent to ``noiselens dashboard`` reaches the server itself and leaves no
orphan holding the port.
"""

from __future__ import annotations

import ipaddress
import os
import sys
from pathlib import Path

APP = Path(__file__).with_name("app.py")
LOOPBACK = "localhost"

# The project's .streamlit/config.toml is only read from the launch directory, so the settings
# that matter are passed as flags (docs/architecture.md, "Launching").
SETTINGS = {
    "server.headless": "true",
    "server.address": LOOPBACK,
    "browser.gatherUsageStats": "false",
    "client.toolbarMode": "minimal",
    "server.maxUploadSize": "1024",
    # Streamlit runs gc.collect(2) after every script run, before it tells the browser the
    # run is over: 0.4-0.7 s at 200,000 rows x 100 classes (the heap of a loaded dataset),
    # paid by every click and rerun (issue #30, docs/benchmarks.md, "Browser pages"). Python's
    # own collector still runs when allocations call for it.
    "runner.postScriptGC": "false",
    # the source watcher realpaths every imported module's file on each script event, on the
    # server's event loop (every session waits); noiselens is not edited while it serves
    "server.fileWatcherType": "none",
    "theme.base": "light",
    "theme.primaryColor": "#d6336c",
}


def _flag_values(extra: list[str]) -> dict[str, str | None]:
    """Streamlit flags given on the command line: ``{"server.port": "8600", ...}``."""
    values: dict[str, str | None] = {}
    for t, token in enumerate(extra):
        if not token.startswith("--"):
            continue
        name, eq, value = token[2:].partition("=")
        if not eq:
            following = extra[t + 1] if t + 1 < len(extra) else None
            value = following if following is not None and not following.startswith("--") \
                else None
        values[name] = value
    return values


def is_loopback(address: str | None) -> bool:
    """True for ``localhost`` and loopback IP addresses (127.0.0.0/8, ::1)."""
    if address is None:
        return False
    address = address.strip().strip("[]")
    if address.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def streamlit_command(args, extra: list[str]) -> list[str]:
    """The ``streamlit run`` command line: project settings, then the user's flags.

    ``args.host`` (``--host``) becomes ``--server.address``; without it, and without a
    ``--server.address`` among ``extra``, the server listens on loopback only.
    """
    cmd = [sys.executable, "-m", "dashboard.serve", "run", str(APP)]
    given = _flag_values(extra)
    host = getattr(args, "host", None)
    if host is not None and "server.address" in given:
        raise SystemExit("noiselens: error: give either --host or --server.address, not both.")
    settings = dict(SETTINGS)
    if host is not None:
        settings["server.address"] = host
    cmd += [f"--{k}={v}" for k, v in settings.items() if k not in given]
    cmd += extra
    app_args = []
    if getattr(args, "data", None):
        app_args += ["--data", str(Path(args.data).resolve())]
    for name in ("label_col", "id_col", "text_col"):
        if getattr(args, name, None):
            app_args += [f"--{name.replace('_', '-')}", getattr(args, name)]
    for name in ("pred_probs", "embeddings", "class_names"):
        if getattr(args, name, None):
            app_args += [f"--{name.replace('_', '-')}", str(Path(getattr(args, name)).resolve())]
    app_args += _multilabel_args(args)
    if getattr(args, "min_class_size", None) is not None:
        app_args += ["--min-class-size", str(args.min_class_size)]
    if getattr(args, "export_dir", None):
        app_args += ["--export-dir", str(Path(args.export_dir).expanduser().resolve())]
    if app_args:
        cmd += ["--", *app_args]
    return cmd


def _multilabel_args(args) -> list[str]:
    """The sample and the multi-label flags (#28), as the app reads them."""
    out = [f"--sample={args.sample}"] if getattr(args, "sample", None) else []
    if getattr(args, "multi_label", False):
        out.append("--multi-label")
    for name in ("label_cols", "label_prefix"):
        if getattr(args, name, None):
            out.append(f"--{name.replace('_', '-')}={getattr(args, name)}")
    if getattr(args, "label_sep", "|") not in (None, "|"):
        out.append(f"--label-sep={args.label_sep}")  # one token: a separator may start with -
    return out


def listening_address(cmd: list[str]) -> str:
    """The ``--server.address`` the command sets (Streamlit's default: every interface)."""
    address = _flag_values(cmd).get("server.address")
    return "0.0.0.0" if address in (None, "") else address


def exposure_warning(address: str) -> str | None:
    """The one-line warning printed when the server is reachable from other machines."""
    if is_loopback(address):
        return None
    return (f"noiselens: warning: listening on {address}: anyone who can reach this port can "
            "read the data and use the Review & export pages (decisions, files written in the "
            "export folder). Omit --host to listen on this machine only.")


def launch(args, extra: list[str]) -> int:
    """Replace this process with the Streamlit server (returns only if ``exec`` fails)."""
    cmd = streamlit_command(args, extra)
    warning = exposure_warning(listening_address(cmd))
    if warning:
        print(warning, file=sys.stderr)
    if getattr(args, "export_dir", None):
        folder = Path(cmd[cmd.index("--export-dir") + 1])
        print(f"noiselens: exports go to {folder}", file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(cmd[0], cmd)
    return 1  # pragma: no cover - execv does not return
