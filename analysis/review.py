"""Review decisions per row id, kept in SQLite the moment they are made.

A decision is one of ``relabel`` (to a class name), ``remove`` or ``keep`` (reviewed: the label
is right), with an optional note. Decisions are keyed by the dataset fingerprint and the row
id, written in a transaction, and logged so that the last change can be undone. A browser
refresh, a second tab or a server restart reads the same decisions back.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from analysis import cache

ACTIONS = ("relabel", "remove", "keep")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS decisions (
    fingerprint TEXT NOT NULL,
    row_id TEXT NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('relabel', 'remove', 'keep')),
    new_label TEXT,
    note TEXT NOT NULL DEFAULT '',
    decided_at REAL NOT NULL,
    PRIMARY KEY (fingerprint, row_id)
);
CREATE TABLE IF NOT EXISTS history (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    fingerprint TEXT NOT NULL,
    batch INTEGER NOT NULL,
    row_id TEXT NOT NULL,
    -- what the row held before this change (NULL action: no decision)
    old_action TEXT,
    old_label TEXT,
    old_note TEXT,
    old_decided_at REAL
);
CREATE INDEX IF NOT EXISTS history_by_dataset ON history (fingerprint, batch);
"""


def default_path() -> Path:
    """``reviews.sqlite`` in the workspace (DESIGN section 6)."""
    return cache.workspace() / "reviews.sqlite"


class ReviewStore:
    """The review decisions of one dataset.

    Parameters
    ----------
    fingerprint : str
        The dataset's :attr:`analysis.data.Dataset.fingerprint`.
    path : path, optional
        SQLite file; default :func:`default_path`. Several stores (tabs, processes) may share
        it: every write is one ``BEGIN IMMEDIATE`` transaction.
    class_names : sequence of str, optional
        When given, a relabel to a name outside it is refused.
    """

    def __init__(self, fingerprint: str, path: str | Path | None = None,
                 class_names: Sequence[str] | None = None):
        if not fingerprint:
            raise ValueError("a review store needs the dataset fingerprint.")
        self.fingerprint = fingerprint
        self.path = Path(path) if path is not None else default_path()
        self.class_names = None if class_names is None else [str(c) for c in class_names]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as con:
            # WAL is a property of the file: set once, here. Switching the journal mode needs
            # the database to itself and answers "locked" at once, without the busy handler,
            # when another store is mid-write, so retry it.
            deadline = time.monotonic() + 30
            while True:
                try:
                    con.execute("PRAGMA journal_mode=WAL")
                    break
                except sqlite3.OperationalError as exc:
                    if "locked" not in str(exc) or time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
            con.executescript(_SCHEMA)

    @contextmanager
    def _connect(self):
        con = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            con.execute("PRAGMA busy_timeout=30000")
            yield con
        finally:
            con.close()

    @contextmanager
    def _transaction(self):
        with self._connect() as con:
            con.execute("BEGIN IMMEDIATE")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

    # -- writing ---------------------------------------------------------------------------
    def _check(self, action: str, new_label) -> str | None:
        if action not in ACTIONS:
            raise ValueError(f"action={action!r} is not one of: {', '.join(ACTIONS)}.")
        if action == "relabel":
            if new_label is None or str(new_label) == "":
                raise ValueError("a relabel needs the new label.")
            label = str(new_label)
            if self.class_names is not None and label not in self.class_names:
                raise ValueError(f"cannot relabel to {label!r}: not one of the dataset's "
                                 f"classes ({', '.join(self.class_names[:20])}).")
            return label
        return None

    def decide(self, row_id, action: str, new_label=None, note: str = "") -> None:
        """Record (or replace) the decision on one row."""
        self.decide_many([row_id], action, None if new_label is None else [new_label], note)

    def decide_many(self, row_ids: Sequence, action: str, new_labels: Sequence | None = None,
                    note: str = "") -> int:
        """Record the same action on many rows in one transaction (one undo step).

        ``new_labels`` gives each row's new label for ``relabel``. Returns the row count.
        """
        ids = [str(r) for r in row_ids]
        if new_labels is not None and len(new_labels) != len(ids):
            raise ValueError(f"{len(ids)} row ids but {len(new_labels)} new labels.")
        labels = [self._check(action, None if new_labels is None else new_labels[t])
                  for t in range(len(ids))]
        if not ids:
            return 0
        now = time.time()
        with self._transaction() as con:
            batch = 1 + (con.execute("SELECT COALESCE(MAX(batch), 0) FROM history WHERE "
                                     "fingerprint = ?", (self.fingerprint,)).fetchone()[0])
            self._log(con, batch, ids)
            con.executemany(
                "INSERT INTO decisions (fingerprint, row_id, action, new_label, note, decided_at)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (fingerprint, row_id) DO UPDATE SET "
                "action = excluded.action, new_label = excluded.new_label, "
                "note = excluded.note, decided_at = excluded.decided_at",
                [(self.fingerprint, r, action, lab, note or "", now)
                 for r, lab in zip(ids, labels, strict=True)],
            )
        return len(ids)

    def clear(self, row_ids: Sequence) -> int:
        """Forget the decisions on these rows (one undo step); returns how many existed."""
        ids = [str(r) for r in row_ids]
        with self._transaction() as con:
            batch = 1 + (con.execute("SELECT COALESCE(MAX(batch), 0) FROM history WHERE "
                                     "fingerprint = ?", (self.fingerprint,)).fetchone()[0])
            self._log(con, batch, ids)
            cur = con.executemany(
                "DELETE FROM decisions WHERE fingerprint = ? AND row_id = ?",
                [(self.fingerprint, r) for r in ids],
            )
            return cur.rowcount

    def _log(self, con, batch: int, ids: list[str]) -> None:
        old = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            marks = ",".join("?" * len(chunk))
            for row in con.execute(
                f"SELECT row_id, action, new_label, note, decided_at FROM decisions WHERE "
                f"fingerprint = ? AND row_id IN ({marks})", (self.fingerprint, *chunk)
            ):
                old[row[0]] = row[1:]
        con.executemany(
            "INSERT INTO history (fingerprint, batch, row_id, old_action, old_label, old_note, "
            "old_decided_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(self.fingerprint, batch, r, *old.get(r, (None, None, None, None)))
             for r in dict.fromkeys(ids)],
        )

    def undo(self) -> int:
        """Undo the last change (one decision, one bulk action or one clear).

        Returns the number of rows restored (0 when there is nothing to undo).
        """
        with self._transaction() as con:
            batch = con.execute("SELECT MAX(batch) FROM history WHERE fingerprint = ?",
                                (self.fingerprint,)).fetchone()[0]
            if batch is None:
                return 0
            rows = con.execute(
                "SELECT row_id, old_action, old_label, old_note, old_decided_at FROM history "
                "WHERE fingerprint = ? AND batch = ?", (self.fingerprint, batch)).fetchall()
            for row_id, action, label, note, at in rows:
                if action is None:
                    con.execute("DELETE FROM decisions WHERE fingerprint = ? AND row_id = ?",
                                (self.fingerprint, row_id))
                else:
                    con.execute(
                        "INSERT OR REPLACE INTO decisions (fingerprint, row_id, action, "
                        "new_label, note, decided_at) VALUES (?, ?, ?, ?, ?, ?)",
                        (self.fingerprint, row_id, action, label, note, at))
            con.execute("DELETE FROM history WHERE fingerprint = ? AND batch = ?",
                        (self.fingerprint, batch))
            return len(rows)

    # -- reading ---------------------------------------------------------------------------
    def decisions(self) -> pd.DataFrame:
        """Every decision: columns ``id``, ``action``, ``new_label``, ``note``, ``decided_at``
        (UTC timestamp), oldest first."""
        with self._connect() as con:
            rows = con.execute(
                "SELECT row_id, action, new_label, note, decided_at FROM decisions WHERE "
                "fingerprint = ? ORDER BY decided_at, rowid", (self.fingerprint,)).fetchall()
        frame = pd.DataFrame(rows, columns=["id", "action", "new_label", "note", "decided_at"])
        frame["decided_at"] = pd.to_datetime(frame["decided_at"], unit="s", utc=True)
        return frame

    def get(self, row_id) -> dict | None:
        """The decision on one row, or ``None``."""
        with self._connect() as con:
            row = con.execute(
                "SELECT action, new_label, note FROM decisions WHERE fingerprint = ? AND "
                "row_id = ?", (self.fingerprint, str(row_id))).fetchone()
        return None if row is None else {"action": row[0], "new_label": row[1], "note": row[2]}

    def counts(self) -> dict[str, int]:
        """How many rows carry each action."""
        with self._connect() as con:
            rows = con.execute("SELECT action, COUNT(*) FROM decisions WHERE fingerprint = ? "
                               "GROUP BY action", (self.fingerprint,)).fetchall()
        out = dict.fromkeys(ACTIONS, 0)
        out.update(dict(rows))
        return out

    def can_undo(self) -> bool:
        with self._connect() as con:
            return con.execute("SELECT 1 FROM history WHERE fingerprint = ? LIMIT 1",
                               (self.fingerprint,)).fetchone() is not None

    def version(self) -> tuple[int, float]:
        """Changes whenever the decisions change (for cache keys)."""
        with self._connect() as con:
            row = con.execute("SELECT COUNT(*), COALESCE(MAX(seq), 0) FROM history WHERE "
                              "fingerprint = ?", (self.fingerprint,)).fetchone()
            total = con.execute("SELECT COUNT(*), COALESCE(SUM(decided_at), 0) FROM decisions "
                                "WHERE fingerprint = ?", (self.fingerprint,)).fetchone()
        return int(row[1]) * 1_000_003 + int(total[0]), float(total[1])
