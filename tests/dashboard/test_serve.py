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


def test_no_full_collection_or_source_watching_between_runs():
    # issue #30: a gc.collect(2) after every run (0.4-0.7 s at 200k rows) and the source
    # watcher's scan of every module, both before the browser hears the run is over
    args = SimpleNamespace(data=None, label_col=None, host=None, export_dir=None)
    cmd = launch.streamlit_command(args, [])
    assert "--runner.postScriptGC=false" in cmd
    assert "--server.fileWatcherType=none" in cmd
    # a flag the user gives still wins
    cmd = launch.streamlit_command(args, ["--server.fileWatcherType=auto"])
    assert "--server.fileWatcherType=none" not in cmd
    assert "--server.fileWatcherType=auto" in cmd


def test_it_is_streamlits_command_line():
    out = subprocess.run([sys.executable, "-m", "dashboard.serve", "version"], cwd=REPO,
                         capture_output=True, text=True, timeout=120, check=True)
    assert f"Streamlit, version {streamlit.__version__}" in out.stdout


_GUARD = r'''
"""The network cut: every request off the machine is recorded in RECORD and refused."""
import ipaddress, socket, sys

RECORD = sys.argv.pop(1)


def _local(host):
    host = str(host).strip("[]")
    if host in ("localhost", "", "0.0.0.0", "::"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _refuse(what):
    with open(RECORD, "a") as fh:
        fh.write(what + "\n")
    raise OSError(101, "Network is unreachable (test)")


_getaddrinfo = socket.getaddrinfo


def getaddrinfo(host, *a, **k):
    if not _local(host):
        _refuse(f"dns {host}")
    return _getaddrinfo(host, *a, **k)


socket.getaddrinfo = getaddrinfo
_connect, _sendto = socket.socket.connect, socket.socket.sendto


def connect(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _local(address[0]):
        if self.type == socket.SOCK_DGRAM:  # sends nothing: only sets the peer
            return _connect(self, ("127.0.0.1", address[1]))
        _refuse(f"tcp {address}")
    return _connect(self, address)


def sendto(self, data, *rest):
    address = rest[-1]
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _local(address[0]):
        _refuse(f"udp {address}")
    return _sendto(self, data, *rest)


socket.socket.connect, socket.socket.sendto = connect, sendto
socket.socket.connect_ex = lambda self, address: connect(self, address) or 0

from dashboard import serve  # noqa: E402

serve.main()
'''


def test_listening_on_every_interface_makes_no_request_off_the_machine(tmp_path):
    """#25: with --host 0.0.0.0 Streamlit's start-up asked checkip.amazonaws.com for the
    machine's public address. With the network cut (every lookup and connection off the
    machine recorded and refused), the server starts, answers, and asked nobody."""
    import os
    import socket
    import time
    import urllib.request

    guard = tmp_path / "guard.py"
    guard.write_text(_GUARD)
    record = tmp_path / "requests.txt"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, str(guard), str(record), "run", str(REPO / "dashboard" / "app.py"),
           "--server.address=0.0.0.0", f"--server.port={port}", "--server.headless=true",
           "--browser.gatherUsageStats=false"]
    env = {**os.environ, "PYTHONPATH": str(REPO), "NOISELENS_HOME": str(tmp_path / "ws")}
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read()
            try:
                request = urllib.request.Request(  # a browser from an address it does not know
                    f"http://127.0.0.1:{port}/_stcore/health",
                    headers={"Origin": "http://203.0.113.9:8501"})
                with urllib.request.urlopen(request, timeout=5) as response:
                    assert response.read() == b"ok"
                break
            except OSError:
                time.sleep(0.5)
        time.sleep(2)  # the banner is printed once the server listens
    finally:
        proc.terminate()
        out = proc.communicate(timeout=30)[0]
    assert "Network URL" in out, out
    assert "External URL" not in out
    assert not record.exists(), record.read_text()
