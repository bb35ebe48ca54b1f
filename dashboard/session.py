"""The server's side of what the user chose at launch, and the files it keeps for them.

* :func:`launch_options` — what ``noiselens dashboard`` passed after ``--`` (``--data``,
  ``--label-col``, ``--export-dir``). Nothing here can be changed from the page: the export
  folder in particular is chosen at launch only, so a visitor of the page cannot make the
  server write anywhere else.
* :func:`publish` / :func:`current` — what the app shell prepared for this run (the source, the
  dataset and its analysis), under the session keys :data:`KEYS`.
* :func:`save_upload` — uploaded files kept in the workspace's ``uploads/`` folder, pruned to
  :data:`MAX_UPLOADS` files and :data:`MAX_UPLOAD_BYTES` bytes (oldest removed first);
  :func:`upload_ref` / :func:`upload_from_ref` name one in the URL, so a refresh or a shared
  link reopens it.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import os
import shutil
import sys
from pathlib import Path

import streamlit as st

from analysis.core import cache

#: Uploads kept in the workspace at most (oldest removed first).
MAX_UPLOADS = int(os.environ.get("NOISELENS_MAX_UPLOADS", "20"))
#: Total size of the uploads kept at most, in bytes (oldest removed first).
MAX_UPLOAD_BYTES = int(os.environ.get("NOISELENS_MAX_UPLOAD_BYTES", str(4 * 1024**3)))


def launch_options(argv: list[str] | None = None) -> argparse.Namespace:
    """The app's own command-line options (after ``--`` in the ``streamlit run`` command)."""
    return _parse_options(tuple(sys.argv[1:] if argv is None else argv))


@functools.lru_cache(maxsize=8)
def _parse_options(argv: tuple[str, ...]) -> argparse.Namespace:
    """Parsed once per command line (every page run asks; the namespace is not changed)."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--data")
    parser.add_argument("--label-col")
    parser.add_argument("--id-col")
    parser.add_argument("--text-col")
    parser.add_argument("--pred-probs")
    parser.add_argument("--embeddings")
    parser.add_argument("--class-names")
    parser.add_argument("--min-class-size", type=int)
    parser.add_argument("--export-dir")
    parser.add_argument("--sample")
    parser.add_argument("--multi-label", action="store_true")  # #28: the multi-label pages
    parser.add_argument("--label-sep", default="|")
    parser.add_argument("--label-cols")
    parser.add_argument("--label-prefix")
    args, _ = parser.parse_known_args(list(argv))
    return args


def export_dir() -> Path:
    """The folder exports are written to: ``--export-dir`` given at launch, else the
    workspace's ``exports/`` folder."""
    chosen = launch_options().export_dir
    return Path(chosen) if chosen else cache.workspace() / "exports"


def uploads_dir() -> Path:
    """Where uploaded files are kept: ``<workspace>/uploads/``."""
    return cache.workspace() / "uploads"


def save_upload(data: bytes, filename: str) -> Path:
    """Keep an uploaded file in the workspace under its content hash; returns its path.

    Only the file name's last component is used (a client cannot choose the folder). After
    saving, older uploads beyond :data:`MAX_UPLOADS` files or :data:`MAX_UPLOAD_BYTES` bytes
    are removed, oldest first; the file just saved is always kept.
    """
    name = Path(filename.replace("\\", "/")).name
    suffix = "".join(Path(name).suffixes[-2:]).lower() or ".csv"
    stem = Path(name).name.removesuffix("".join(Path(name).suffixes)) or "upload"
    folder = uploads_dir() / hashlib.sha256(data).hexdigest()[:24]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (stem[:100] + suffix)
    if not path.exists():
        tmp = path.with_name(path.name + ".part")
        tmp.write_bytes(data)
        tmp.replace(path)
    os.utime(folder)  # the most recently used upload is the last to go
    prune_uploads(keep=folder)
    return path


def upload_ref(path: Path) -> str:
    """The URL form of an upload kept in the workspace: ``<content hash>/<file name>``."""
    path = Path(path)
    return f"{path.parent.name}/{path.name}"


def upload_from_ref(ref: str | None) -> Path | None:
    """The kept upload a URL's :func:`upload_ref` names, or ``None`` when it is malformed or
    no longer kept (pruned). Only a hash folder and a file name inside the uploads folder are
    accepted: a URL cannot name any other file."""
    if not ref or ref.count("/") != 1:
        return None
    digest, name = ref.split("/")
    if len(digest) != 24 or any(c not in "0123456789abcdef" for c in digest):
        return None
    if not name or name in (".", "..") or "\\" in name or name.startswith("."):
        return None
    path = uploads_dir() / digest / name
    return path if path.is_file() else None


def prune_uploads(*, keep: Path | None = None, max_files: int | None = None,
                  max_bytes: int | None = None) -> list[Path]:
    """Remove the oldest uploads until the limits hold; returns the folders removed."""
    max_files = MAX_UPLOADS if max_files is None else max_files
    max_bytes = MAX_UPLOAD_BYTES if max_bytes is None else max_bytes
    root = uploads_dir()
    if not root.is_dir():
        return []
    entries = []
    for folder in root.iterdir():
        if not folder.is_dir():
            continue
        size = sum(f.stat().st_size for f in folder.iterdir() if f.is_file())
        entries.append((folder.stat().st_mtime, folder, size))
    entries.sort(key=lambda e: e[0])  # oldest first
    total = sum(e[2] for e in entries)
    count = len(entries)
    removed = []
    for _, folder, size in entries:
        if count <= max_files and total <= max_bytes:
            break
        if keep is not None and folder == keep:
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
        count -= 1
        total -= size
    return removed


#: Session-state keys the app shell fills for the pages.
KEYS = {"source": "_source", "dataset": "_dataset", "analysis": "_analysis",
        "multilabel": "_ml_analysis"}


def publish(source, dataset, result) -> None:
    """Leave this run's source, dataset and analysis for the page."""
    st.session_state[KEYS["source"]] = source
    st.session_state[KEYS["dataset"]] = dataset
    st.session_state[KEYS["analysis"]] = result


def current():
    """The dataset and analysis the shell prepared for this run."""
    return st.session_state[KEYS["dataset"]], st.session_state[KEYS["analysis"]]


def publish_multilabel(source, key: tuple, result) -> None:
    """Leave this run's multi-label source, its content key and its
    :class:`~analysis.multilabel_pipeline.MultilabelAnalysis` (#28)."""
    st.session_state[KEYS["multilabel"]] = (source, key, result)


def current_multilabel():
    """``(source, content key, analysis)`` the shell prepared for this run."""
    return st.session_state[KEYS["multilabel"]]


def current_source():
    """The data source of this run (:class:`dashboard.compute.Source`)."""
    return st.session_state[KEYS["source"]]


# -- the URL -------------------------------------------------------------------------------------
def set_query(key: str, value: str | None, default: str | None = None) -> None:
    """Put ``key=value`` in the URL (a shareable finding), or take ``key`` out when the value
    is ``None`` or the default; never writes when nothing changes (no extra rerun)."""
    if value is None or value == default:
        if key in st.query_params:
            del st.query_params[key]
    elif st.query_params.get(key) != value:
        st.query_params[key] = value
