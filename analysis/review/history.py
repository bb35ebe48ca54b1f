"""Workspace history: every analysis of a dataset, so that a trend can be shown.

One JSON-lines file per dataset identity (:func:`analysis.review.store.dataset_key`, the same
identity reviews use) in ``<workspace>/history/``. A record holds the time, the fingerprint,
rows, label health, estimated wrong labels (with its interval when given), flagged rows, the
methods and the per-class noise rates. A record is appended only when the fingerprint or the
methods differ from the last one (re-running the same analysis adds nothing). Appends are one
``write`` of one line in append mode; a line that does not parse (an interrupted write) is
skipped and counted.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from analysis.core import cache
from analysis.review.store import dataset_key


def history_path(key: str) -> Path:
    """The history file of a dataset identity."""
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:24]
    return cache.workspace() / "history" / f"{digest}.jsonl"


def make_record(dataset, result, *, wrong_interval=None, when: float | None = None) -> dict:
    """The record of one analysis (see the module docstring)."""
    rec = {
        "time": float(time.time() if when is None else when),
        "fingerprint": dataset.fingerprint,
        "source": str(dataset.source),
        "rows": int(len(dataset)),
        "health": round(float(result.health), 3),
        "estimated_wrong": int(result.estimated_wrong),
        "flagged": int(result.num_issues),
        "filter_by": result.filter_by,
        "rank_by": result.rank_by,
        "per_class": {str(n): round(float(r), 5)
                      for n, r in zip(result.class_names, result.per_class["noise_rate"],
                                      strict=True)},
    }
    if wrong_interval is not None:
        rec["wrong_low"], rec["wrong_high"] = float(wrong_interval.low), float(wrong_interval.high)
    return rec


@dataclass(frozen=True)
class History:
    """The records of one dataset, oldest first.

    Attributes
    ----------
    key : str
    records : list of dict
    skipped : int
        Lines that did not parse.
    """

    key: str
    records: list
    skipped: int = 0

    def frame(self) -> pd.DataFrame:
        """One row per record: ``time`` (UTC), ``version`` (1 = first fingerprint seen),
        ``fingerprint``, ``rows``, ``health``, ``estimated_wrong``, ``flagged``, methods."""
        if not self.records:
            return pd.DataFrame(columns=["time", "version", "fingerprint", "rows", "health",
                                         "estimated_wrong", "flagged", "filter_by", "rank_by"])
        f = pd.DataFrame([{k: v for k, v in r.items() if k != "per_class"}
                          for r in self.records])
        f["time"] = pd.to_datetime(f["time"], unit="s", utc=True)
        f["version"] = pd.factorize(f["fingerprint"])[0] + 1
        return f

    def changes(self, current: dict | None = None) -> dict | None:
        """What changed between the latest record of another version (other fingerprint)
        and ``current`` (default: the latest record): deltas of rows, health, estimated
        wrong, and the classes whose noise rate moved most. None without an earlier version.
        """
        if not self.records:
            return None
        current = current or self.records[-1]
        before = next((r for r in reversed(self.records)
                       if r["fingerprint"] != current["fingerprint"]), None)
        if before is None:
            return None
        moved = []
        for name, rate in current.get("per_class", {}).items():
            old = before.get("per_class", {}).get(name)
            if old is not None:
                moved.append((name, old, rate))
        moved.sort(key=lambda t: -abs(t[2] - t[1]))
        return {
            "since": before["time"],
            "rows": current["rows"] - before["rows"],
            "health": round(current["health"] - before["health"], 3),
            "estimated_wrong": current["estimated_wrong"] - before["estimated_wrong"],
            "classes": [{"class": n, "before": o, "now": r} for n, o, r in moved[:5]],
            "new_classes": sorted(set(current.get("per_class", {}))
                                  - set(before.get("per_class", {}))),
        }


def read(key: str) -> History:
    """The history of a dataset identity (empty if none)."""
    path = history_path(key)
    records, skipped = [], 0
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                rec = json.loads(line)
                if isinstance(rec, dict) and rec.get("key") == key:
                    records.append(rec)
                else:
                    skipped += 1
            except json.JSONDecodeError:
                skipped += 1
    return History(key, records, skipped)


def record(key: str, rec: dict) -> bool:
    """Append ``rec`` to the history of ``key`` unless the last record has the same
    fingerprint and methods. Returns whether it was appended."""
    last = read(key).records[-1:] or [None]
    same = ("fingerprint", "filter_by", "rank_by")
    if last[0] is not None and all(last[0].get(k) == rec.get(k) for k in same):
        return False
    path = history_path(key)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps({"key": key} | rec, sort_keys=True) + "\n").encode("utf-8")
    if path.is_file() and path.stat().st_size:
        with open(path, "rb") as fh:
            fh.seek(-1, os.SEEK_END)
            if fh.read(1) != b"\n":  # a torn last line: start a new one
                line = b"\n" + line
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)
    return True


def record_analysis(dataset, result, *, key: str | None = None, wrong_interval=None) -> History:
    """Record an analysis under the dataset's identity (``key``, default
    :func:`analysis.review.store.dataset_key`) and return the history including it."""
    key = key or dataset_key(dataset)
    record(key, make_record(dataset, result, wrong_interval=wrong_interval))
    return read(key)
