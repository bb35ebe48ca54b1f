"""Review decisions per row id, kept in SQLite the moment they are made.

A decision is one of ``relabel`` (to a class name), ``remove`` or ``keep`` (reviewed: the label
is right), with an optional note. Decisions belong to the *dataset*, not to one version of its
bytes: they are keyed by the dataset's identity (:func:`dataset_key`: the resolved file path,
the sample's name, or a name the user gives) and the row id. Each decision also records the
version it was made on (the dataset fingerprint) and what the row looked like then (its given
label and a hash of its other cells), so that when the file changes :func:`reconcile` can say
which decisions carried over, which rows are gone and which rows changed since the decision.

Writes are one transaction each and logged, so the last change can be undone. A browser
refresh, a second tab or a server restart reads the same decisions back.

Older databases (schema 1, keyed by the fingerprint alone) are migrated in place the first
time they are opened, in one transaction, after a copy of the file is kept beside it
(``reviews.sqlite.schema1-backup``): their decisions are kept under the fingerprint, and the
first time a dataset whose content has that fingerprint is opened, they become that dataset's
decisions (the same happens to decisions made through a store opened by fingerprint).

A damaged database (not SQLite, truncated, or an empty file that noiselens did not just create)
is never changed: :class:`ReviewDatabaseError` names it and says how to start afresh.
"""

from __future__ import annotations

import copy
import hashlib
import math
import os
import sqlite3
import time
import uuid
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.annotators.agreement import majority_vote
from analysis.core import cache

ACTIONS = ("relabel", "remove", "keep")
SCHEMA_VERSION = 2
REVIEWS_ENV_VAR = "NOISELENS_REVIEWS"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS datasets (
    dataset TEXT PRIMARY KEY,     -- dataset_key(): file:/path, sample:name, name:..., upload:...
    fingerprint TEXT NOT NULL,    -- the version last opened
    seen_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS decisions (
    dataset TEXT NOT NULL,
    row_id TEXT NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('relabel', 'remove', 'keep')),
    new_label TEXT,
    note TEXT NOT NULL DEFAULT '',
    decided_at REAL NOT NULL,
    fingerprint TEXT,   -- the version of the dataset the decision was made on (NULL: unknown)
    given_label TEXT,   -- the row's label then (NULL: unknown)
    row_hash TEXT,      -- hash of the row's other cells then (NULL: unknown)
    session TEXT,       -- the ReviewStore session (a browser session) that decided
    PRIMARY KEY (dataset, row_id)
);
CREATE TABLE IF NOT EXISTS aliases (
    alias TEXT PRIMARY KEY,       -- a dataset_key() that means another dataset's review
    dataset TEXT NOT NULL         -- e.g. a renamed file: its new path -> its old key
);
CREATE TABLE IF NOT EXISTS history (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    dataset TEXT NOT NULL,
    batch INTEGER NOT NULL,
    row_id TEXT NOT NULL,
    -- what the row held before this change (NULL action: no decision)
    old_action TEXT,
    old_label TEXT,
    old_note TEXT,
    old_decided_at REAL,
    old_fingerprint TEXT,
    old_given_label TEXT,
    old_row_hash TEXT,
    old_session TEXT,
    session TEXT,         -- who made this change (NULL: before sessions were recorded)
    new_decided_at REAL   -- the decided_at this change wrote (NULL: it cleared the row)
);
CREATE INDEX IF NOT EXISTS history_by_dataset ON history (dataset, batch);
CREATE TABLE IF NOT EXISTS verdicts (  -- every verdict imported from a labelling tool
    dataset TEXT NOT NULL,
    row_id TEXT NOT NULL,
    label TEXT NOT NULL,
    annotator TEXT NOT NULL,
    decided_at REAL,          -- the tool's time (NULL: the tool does not say)
    imported_at REAL NOT NULL,
    source TEXT NOT NULL      -- the export's format and file name
);
-- the same verdict imported again is one verdict (a time the tool does not give counts as one)
CREATE UNIQUE INDEX IF NOT EXISTS verdicts_once ON verdicts
    (dataset, row_id, annotator, label, IFNULL(decided_at, -1));
"""

_DECISION_COLS = ("action, new_label, note, decided_at, fingerprint, given_label, row_hash, "
                  "session")
#: Columns added since schema 2 first shipped: (table, column, type), added when missing.
_ADDED_COLUMNS = (("decisions", "session", "TEXT"), ("history", "old_session", "TEXT"),
                  ("history", "session", "TEXT"), ("history", "new_decided_at", "REAL"))


class ReviewDatabaseError(OSError):
    """The review database cannot be read; it was left untouched."""

    def __init__(self, path: Path, detail: str):
        self.path = Path(path)
        self.fresh = fresh_path(self.path)
        super().__init__(
            f"the review database {self.path} is damaged ({detail}); noiselens left it "
            f"untouched. To start afresh, use a new file beside it (noiselens analyze "
            f"--reviews {self.fresh}, or {REVIEWS_ENV_VAR}={self.fresh} for the dashboard), "
            f"or move the damaged file away (e.g. to {self.path.name}.damaged) and run again."
        )


class ReviewPathError(ValueError):
    """The review database's path names a folder, or a file in a folder that is missing."""


def default_path() -> Path:
    """``$NOISELENS_REVIEWS``, else ``reviews.sqlite`` in the workspace.

    See docs/architecture.md, Caches.
    """
    env = os.environ.get(REVIEWS_ENV_VAR)
    return Path(env).expanduser() if env else cache.workspace() / "reviews.sqlite"


def fresh_path(path: Path) -> Path:
    """A file name beside ``path`` that does not exist yet (to start a fresh database)."""
    path = Path(path)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    candidate = path.with_name(f"{path.stem}-{stamp}{path.suffix}")
    n = 2
    while candidate.exists():
        candidate = path.with_name(f"{path.stem}-{stamp}-{n}{path.suffix}")
        n += 1
    return candidate


# -- dataset identity and row snapshots -----------------------------------------------------------
def dataset_key(dataset, name: str | None = None) -> str:
    """The identity under which a dataset's decisions are kept.

    ``name:<name>`` when the user gives one; ``file:<resolved path>`` for a file loaded with
    :func:`analysis.data.dataset.load_dataset`; ``upload:<file name>@<content>`` for a file uploaded
    in the dashboard (two different uploads of the same name are two datasets: an upload has
    no path to tell them apart, so its identity is its content); ``sample:<name>`` for a
    bundled sample; else (a DataFrame or arrays, which have no lasting identity) the content
    fingerprint. A file renamed or moved keeps its review (:class:`ReviewStore` follows it by
    content, see ``aliases``).
    """
    if name:
        return f"name:{name}"
    source = str(dataset.source)
    base = getattr(dataset, "base_dir", None)
    if source.startswith("sample '") and source.endswith("'"):
        return f"sample:{source[len('sample '):].strip(chr(39))}"
    if base is not None and source not in ("DataFrame", "arrays"):
        path = (Path(base) / source).resolve()
        uploads = (cache.workspace() / "uploads").resolve()
        if uploads in path.parents:
            return f"upload:{source}@{dataset.fingerprint[:16]}"
        return f"file:{path}"
    return dataset.fingerprint


def _cell(value) -> str:
    """A cell as text, the same whatever dtype a reader inferred (1 == 1.0, NaN == empty)."""
    if value is None:
        return ""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        if value.is_integer() and abs(value) < 2**63:
            return str(int(value))
        return repr(value)
    if isinstance(value, bool):
        return str(value)
    try:
        if pd.isna(value):
            return ""
    except (TypeError, ValueError):
        pass
    return str(value)


def row_snapshots(dataset, rows: Sequence[int]) -> tuple[list[str], list[str]]:
    """The given label (class name) and a hash of every other cell of each row in ``rows``."""
    rows = [int(r) for r in rows]
    names = [str(c) for c in dataset.class_names]
    labels = [names[dataset.labels[r]] for r in rows]
    columns = sorted(c for c in dataset.frame.columns if c != dataset.label_column)
    part = dataset.frame.iloc[rows][columns] if rows else dataset.frame.iloc[0:0][columns]
    hashes = []
    for values in part.itertuples(index=False, name=None):
        text = "\x1f".join(f"{c}\x1e{_cell(v)}" for c, v in zip(columns, values, strict=True))
        hashes.append(hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32])
    return labels, hashes


#: What :meth:`ReviewStore.decisions` returns when there is none (columns and dtypes).
_NO_DECISIONS = pd.DataFrame({
    "id": pd.Series(dtype=object), "action": pd.Series(dtype=object),
    "new_label": pd.Series(dtype=object), "note": pd.Series(dtype=object),
    "decided_at": pd.Series(dtype="datetime64[ns, UTC]"),
    "fingerprint": pd.Series(dtype=object), "given_label": pd.Series(dtype=object),
    "row_hash": pd.Series(dtype=object)})

_NOTHING_GONE = _NO_DECISIONS.rename(columns={"given_label": "label_then"})
_NOTHING_CHANGED = _NOTHING_GONE.assign(what=pd.Series(dtype=object),
                                        label_now=pd.Series(dtype=object))


# -- the database file ----------------------------------------------------------------------------
_checked: dict[tuple[str, int, int], bool] = {}


def _is_damage(exc: sqlite3.DatabaseError) -> bool:
    if isinstance(exc, sqlite3.OperationalError):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    return code in (11, 26) or "malformed" in str(exc) or "not a database" in str(exc)


def _check_file(path: Path) -> None:
    """Refuse an empty or damaged database file before anything writes to it."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        if not path.parent.is_dir():
            raise ReviewPathError(f"the review database {path} cannot be created: its folder "
                                  f"{path.parent} does not exist or is not a folder.") from None
        return
    if path.is_dir():
        raise ReviewPathError(f"the review database {path} is a folder: name a file, e.g. "
                              f"{path / 'reviews.sqlite'}.")
    if stat.st_size == 0:
        wal = path.with_name(path.name + "-wal")
        if wal.exists() and wal.stat().st_size > 0:
            return  # all its content is still in the write-ahead log
        if time.time() - stat.st_mtime < 2:
            # maybe another process is creating it this instant: give it a moment
            deadline = time.monotonic() + 2
            while time.monotonic() < deadline and path.stat().st_size == 0:
                time.sleep(0.05)
            if path.stat().st_size > 0:
                return _check_file(path)
        raise ReviewDatabaseError(path, "an empty file, not a database noiselens created")
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key in _checked:
        return
    try:
        con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
        try:
            rows = con.execute("PRAGMA quick_check(1)").fetchall()
        finally:
            con.close()
    except sqlite3.DatabaseError as exc:
        if _is_damage(exc):
            raise ReviewDatabaseError(path, str(exc)) from None
        raise
    if rows != [("ok",)]:
        raise ReviewDatabaseError(path, f"integrity check: {rows[0][0]}")
    _checked[key] = True


class ReviewStore:
    """The review decisions of one dataset.

    Parameters
    ----------
    dataset : Dataset or str
        The dataset (its identity is :func:`dataset_key`, and each decision records the row's
        label and content then), or a key string. A string that is the fingerprint of a
        dataset version opened before means that dataset; any other string is a key of its own.
    path : path, optional
        SQLite file; default :func:`default_path`. Several stores (tabs, processes) may share
        it: every write is one ``BEGIN IMMEDIATE`` transaction.
    class_names : sequence of str, optional
        When given (by default the dataset's), a relabel to a name outside it is refused.
    identity : str, optional
        A name the user gives the dataset (``name:<identity>`` instead of its path).
    session : str, optional
        Who is deciding (the dashboard passes its browser session). :meth:`undo` undoes this
        session's own last change and never another session's; by default each store is a
        session of its own (:meth:`with_session` gives a view of the same store for another).

    Raises
    ------
    ReviewDatabaseError
        The file is not a readable SQLite database (left untouched).
    """

    def __init__(self, dataset, path: str | Path | None = None,
                 class_names: Sequence[str] | None = None, *, identity: str | None = None,
                 session: str | None = None):
        self.session = session or uuid.uuid4().hex
        self.moved = self.set_aside = 0  # decisions that followed / lost their row on opening
        if isinstance(dataset, str):
            if not dataset:
                raise ValueError("a review store needs the dataset or its key.")
            self.dataset = None
            self.key = dataset
            self.fingerprint = dataset
        else:
            self.dataset = dataset
            self.key = dataset_key(dataset, identity)
            self.fingerprint = dataset.fingerprint
            if class_names is None:
                class_names = dataset.class_names
        self.path = Path(path) if path is not None else default_path()
        self.class_names = None if class_names is None else [str(c) for c in class_names]
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OSError(f"cannot create the folder of the review database {self.path}: "
                          f"{exc.strerror or exc}") from None
        _check_file(self.path)
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
            self._migrate(con)
        if self.dataset is not None:
            self._open_dataset()
        else:
            with self._connect() as con:
                alias = con.execute(
                    "SELECT dataset FROM datasets WHERE fingerprint = ? AND NOT EXISTS "
                    "(SELECT 1 FROM datasets WHERE dataset = ?) ORDER BY seen_at DESC LIMIT 1",
                    (self.key, self.key)).fetchone()
            if alias is not None:
                self.key = alias[0]

    def with_session(self, session: str) -> ReviewStore:
        """This store seen by another session (same file, dataset and key; its own undo)."""
        view = copy.copy(self)
        view.session = session
        return view

    # -- the file ----------------------------------------------------------------------------
    @contextmanager
    def _connect(self):
        try:
            con = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        except sqlite3.DatabaseError as exc:
            raise OSError(f"cannot open the review database {self.path}: {exc}") from None
        try:
            con.execute("PRAGMA busy_timeout=30000")
            yield con
        except sqlite3.DatabaseError as exc:
            if _is_damage(exc):
                raise ReviewDatabaseError(self.path, str(exc)) from None
            raise
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

    def _migrate(self, con) -> None:
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "decisions" in tables:
            cols = {r[1] for r in con.execute("PRAGMA table_info(decisions)")}
            if "dataset" not in cols:  # schema 1: keyed by the fingerprint alone
                self._migrate_schema1(con)
        con.executescript(_SCHEMA)
        for table, column, kind in _ADDED_COLUMNS:
            have = {r[1] for r in con.execute(f"PRAGMA table_info({table})")}
            if column not in have:
                try:
                    con.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
                except sqlite3.OperationalError as exc:  # another process added it meanwhile
                    if "duplicate column" not in str(exc):
                        raise

    def _migrate_schema1(self, con) -> None:
        backup = self.path.with_name(self.path.name + ".schema1-backup")
        if not backup.exists():
            target = sqlite3.connect(backup)
            try:
                con.backup(target)
            finally:
                target.close()
        con.execute("BEGIN IMMEDIATE")
        try:
            cols = {r[1] for r in con.execute("PRAGMA table_info(decisions)")}
            if "dataset" in cols:  # another process migrated it meanwhile
                con.execute("COMMIT")
                return
            con.execute("ALTER TABLE decisions RENAME TO decisions_schema1")
            con.execute("ALTER TABLE history RENAME TO history_schema1")
            con.execute("DROP INDEX IF EXISTS history_by_dataset")
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    con.execute(statement)
            con.execute(
                "INSERT INTO decisions (dataset, row_id, action, new_label, note, decided_at, "
                "fingerprint) SELECT fingerprint, row_id, action, new_label, note, decided_at, "
                "fingerprint FROM decisions_schema1")
            con.execute(
                "INSERT INTO history (seq, dataset, batch, row_id, old_action, old_label, "
                "old_note, old_decided_at, old_fingerprint) SELECT seq, fingerprint, batch, "
                "row_id, old_action, old_label, old_note, old_decided_at, fingerprint FROM "
                "history_schema1")
            con.execute("DROP TABLE decisions_schema1")
            con.execute("DROP TABLE history_schema1")
            con.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)",
                        (str(SCHEMA_VERSION),))
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")

    def _follow_alias(self) -> None:
        """Use the review this key means: an alias recorded before, else, for a key never
        seen, the review of the same content under a key that is gone (a renamed or moved
        file; an upload recorded under its name alone by an older noiselens). A copy beside
        its original (the original still there) is a dataset of its own."""
        if self.key.startswith("name:"):
            return
        with self._connect() as con:
            target = con.execute("SELECT dataset FROM aliases WHERE alias = ?",
                                 (self.key,)).fetchone()
            if target is not None:
                self.key = target[0]
                return
            if con.execute("SELECT 1 FROM datasets WHERE dataset = ?",
                           (self.key,)).fetchone() is not None:
                return
            others = [r[0] for r in con.execute(
                "SELECT dataset FROM datasets WHERE fingerprint = ? AND dataset != ? ORDER BY "
                "seen_at DESC", (self.fingerprint, self.key))]
            names = {other: [other] + [r[0] for r in con.execute(
                "SELECT alias FROM aliases WHERE dataset = ?", (other,))] for other in others}

        def gone(key: str) -> bool:
            return key.startswith("file:") and not Path(key[len("file:"):]).exists()

        for other in others:
            moved = all(gone(k) for k in names[other])  # no file of that review is left
            legacy_upload = other.startswith("upload:") and "@" not in other
            if moved or legacy_upload:
                with self._transaction() as con:
                    con.execute("INSERT OR REPLACE INTO aliases VALUES (?, ?)", (self.key, other))
                self.key = other
                return

    def _open_dataset(self) -> None:
        """Record this version, adopt decisions kept under its fingerprint (older databases,
        stores opened by fingerprint), note what their rows look like, and, in a file without
        an id column, make each decision follow its row (:meth:`_follow_rows`)."""
        self._follow_alias()
        fp = self.fingerprint
        with self._connect() as con:  # most opens have nothing to do: read before writing
            seen = con.execute("SELECT fingerprint FROM datasets WHERE dataset = ?",
                               (self.key,)).fetchone()
            pending = con.execute(
                "SELECT 1 FROM decisions WHERE (dataset = ? AND ? != dataset) OR (dataset = ? "
                "AND fingerprint = ? AND (given_label IS NULL OR row_hash IS NULL)) LIMIT 1",
                (fp, self.key, self.key, fp)).fetchone()
        if seen == (fp,) and pending is None:
            return
        with self._transaction() as con:
            con.execute("INSERT OR REPLACE INTO datasets VALUES (?, ?, ?)",
                        (self.key, fp, time.time()))
            if self.dataset.id_column is None and seen != (fp,):
                self._follow_rows(con)
            if self.key != fp:
                # a row decided under both: the later decision wins
                mine = dict(con.execute("SELECT row_id, decided_at FROM decisions WHERE "
                                        "dataset = ?", (self.key,)).fetchall())
                theirs = dict(con.execute("SELECT row_id, decided_at FROM decisions WHERE "
                                          "dataset = ?", (fp,)).fetchall())
                both = [r for r in theirs if r in mine]
                con.executemany(
                    "DELETE FROM decisions WHERE dataset = ? AND row_id = ?",
                    [(fp, r) if mine[r] >= theirs[r] else (self.key, r) for r in both])
                con.execute("UPDATE decisions SET dataset = ?, fingerprint = COALESCE("
                            "fingerprint, ?) WHERE dataset = ?", (self.key, fp, fp))
                top = con.execute("SELECT COALESCE(MAX(batch), 0) FROM history WHERE "
                                  "dataset = ?", (self.key,)).fetchone()[0]
                con.execute("UPDATE history SET dataset = ?, batch = batch + ? WHERE "
                            "dataset = ?", (self.key, top, fp))
            unsealed = [r[0] for r in con.execute(
                "SELECT row_id FROM decisions WHERE dataset = ? AND fingerprint = ? AND "
                "(given_label IS NULL OR row_hash IS NULL)", (self.key, fp))]
            index = self._index()
            rows = [index[i] for i in unsealed if i in index]
            if rows:
                labels, hashes = row_snapshots(self.dataset, rows)
                ids = [i for i in unsealed if i in index]
                con.executemany(
                    "UPDATE decisions SET given_label = ?, row_hash = ? WHERE dataset = ? AND "
                    "row_id = ?", [(lab, h, self.key, i)
                                   for lab, h, i in zip(labels, hashes, ids, strict=True)])

    def _follow_rows(self, con) -> None:
        """In a file without an id column a row's id is its position, which an inserted or
        deleted row shifts. On each new version, every decision is checked against the row
        now at its position (the hash of its cells other than the label): a match stays; a
        mismatch follows its row to the one position whose cells hash the same (not held by
        another decision); a mismatch with no single such row is set aside under
        ``<position>@<version>`` (an id no row has: reported as gone, never applied)."""
        decided = con.execute(  # any version's, even this one's: a decision moved before
            "SELECT row_id, row_hash, fingerprint FROM decisions WHERE dataset = ? AND "
            "row_hash IS NOT NULL", (self.key,)).fetchall()
        if not decided:
            return
        index = self._index()
        placed = [(r, h, f) for r, h, f in decided if r in index]
        now = dict(zip([r for r, _, _ in placed],
                       row_snapshots(self.dataset, [index[r] for r, _, _ in placed])[1],
                       strict=True))
        displaced = [(r, h, f) for r, h, f in decided if now.get(r) != h]
        if not displaced:
            return
        moving = {r for r, _, _ in displaced}
        held = {index[r] for (r,) in con.execute(
            "SELECT row_id FROM decisions WHERE dataset = ?", (self.key,))
            if r in index and r not in moving}
        rows_of: dict[str, list[int]] = {}
        for row, h in enumerate(row_snapshots(self.dataset, range(len(self.dataset)))[1]):
            rows_of.setdefault(h, []).append(row)
        wanted: dict[int, list[str]] = {}
        for r, h, _ in displaced:
            free = [row for row in rows_of.get(h, []) if row not in held]
            if len(free) == 1:
                wanted.setdefault(free[0], []).append(r)
        ids = self.dataset.ids
        target = {rs[0]: str(ids[row]) for row, rs in wanted.items() if len(rs) == 1}
        for r, _, f in displaced:
            if r not in target and r in index:  # nowhere to go, and its position is a row
                target[r] = f"{r.split('@')[0]}@{(f or 'unknown')[:12]}"
        target = {old: new for old, new in target.items() if old != new}
        staying = {r for (r,) in con.execute("SELECT row_id FROM decisions WHERE dataset = ?",
                                             (self.key,))} - set(target)
        for old, new in target.items():  # set aside twice from one version: number them
            n = 2
            while "@" in new and new in staying:
                new = f"{target[old].split('#')[0]}#{n}"
                n += 1
            target[old] = new
            staying.add(new)
        for table in ("decisions", "history"):  # two steps: a chain 3 -> 4 -> 5 never collides
            con.executemany(f"UPDATE {table} SET row_id = ? WHERE dataset = ? AND row_id = ?",
                            [("\x00" + new, self.key, old) for old, new in target.items()])
            con.executemany(f"UPDATE {table} SET row_id = ? WHERE dataset = ? AND row_id = ?",
                            [(new, self.key, "\x00" + new) for new in target.values()])
        self.set_aside = sum("@" in new for new in target.values())
        self.moved = len(target) - self.set_aside

    def _index(self) -> dict[str, int]:
        if self.dataset is None:
            return {}
        if not hasattr(self, "_index_cache"):
            self._index_cache = {str(v): r for r, v in enumerate(self.dataset.ids)}
        return self._index_cache

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
        if self.dataset is not None:
            index = self._index()
            missing = [i for i in ids if i not in index]
            if missing:
                raise ValueError(f"{len(missing)} row id(s) not in {self.dataset.source}: "
                                 f"{', '.join(missing[:5])}.")
            given, hashes = row_snapshots(self.dataset, [index[i] for i in ids])
        else:
            given = hashes = [None] * len(ids)
        now = time.time()
        with self._transaction() as con:
            batch = self._next_batch(con)
            self._log(con, batch, ids, now)
            con.executemany(
                "INSERT INTO decisions (dataset, row_id, action, new_label, note, decided_at, "
                "fingerprint, given_label, row_hash, session) VALUES "
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (dataset, row_id) DO UPDATE SET action = excluded.action, "
                "new_label = excluded.new_label, note = excluded.note, "
                "decided_at = excluded.decided_at, fingerprint = excluded.fingerprint, "
                "given_label = excluded.given_label, row_hash = excluded.row_hash, "
                "session = excluded.session",
                [(self.key, r, action, lab, note or "", now, self.fingerprint, g, h,
                  self.session) for r, lab, g, h in zip(ids, labels, given, hashes, strict=True)],
            )
        return len(ids)

    def _next_batch(self, con) -> int:
        return 1 + con.execute("SELECT COALESCE(MAX(batch), 0) FROM history WHERE dataset = ?",
                               (self.key,)).fetchone()[0]

    def clear(self, row_ids: Sequence) -> int:
        """Forget the decisions on these rows (one undo step); returns how many existed."""
        ids = [str(r) for r in row_ids]
        with self._transaction() as con:
            batch = self._next_batch(con)
            self._log(con, batch, ids, None)
            cur = con.executemany("DELETE FROM decisions WHERE dataset = ? AND row_id = ?",
                                  [(self.key, r) for r in ids])
            return cur.rowcount

    def _log(self, con, batch: int, ids: list[str], written: float | None) -> None:
        """Keep what ``ids`` held before this change (``written``: the decided_at it writes,
        ``None`` for a clear), so that :meth:`undo` can give it back."""
        old = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            marks = ",".join("?" * len(chunk))
            for row in con.execute(
                f"SELECT row_id, {_DECISION_COLS} FROM decisions WHERE dataset = ? AND row_id "
                f"IN ({marks})", (self.key, *chunk)
            ):
                old[row[0]] = row[1:]
        con.executemany(
            "INSERT INTO history (dataset, batch, row_id, old_action, old_label, old_note, "
            "old_decided_at, old_fingerprint, old_given_label, old_row_hash, old_session, "
            "session, new_decided_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(self.key, batch, r, *old.get(r, (None,) * 8), self.session, written)
             for r in dict.fromkeys(ids)],
        )

    def _undo_batch(self, con) -> int | None:
        """This session's last change; else the dataset's last change if it was logged before
        sessions were (an older database), so that its history still undoes."""
        mine = con.execute("SELECT MAX(batch) FROM history WHERE dataset = ? AND session = ?",
                           (self.key, self.session)).fetchone()[0]
        if mine is not None:
            return mine
        last = con.execute("SELECT batch, session FROM history WHERE dataset = ? ORDER BY "
                           "batch DESC LIMIT 1", (self.key,)).fetchone()
        return last[0] if last is not None and last[1] is None else None

    def undo(self) -> int:
        """Undo this session's last change (one decision, one bulk action or one clear).

        A row that another session decided after that change keeps the other session's
        decision: an undo never takes back what someone else did. Returns the number of rows
        restored (0 when there is nothing to undo).
        """
        with self._transaction() as con:
            batch = self._undo_batch(con)
            if batch is None:
                return 0
            rows = con.execute(
                "SELECT row_id, session, new_decided_at, old_action, old_label, old_note, "
                "old_decided_at, old_fingerprint, old_given_label, old_row_hash, old_session "
                "FROM history WHERE dataset = ? AND batch = ?", (self.key, batch)).fetchall()
            restored = 0
            for row_id, session, written, action, *rest in rows:
                now = con.execute("SELECT session, decided_at FROM decisions WHERE dataset = ? "
                                  "AND row_id = ?", (self.key, row_id)).fetchone()
                if session is not None and now != ((session, written) if written is not None
                                                   else None):
                    continue  # changed since by another session (or by a later change)
                if action is None:
                    con.execute("DELETE FROM decisions WHERE dataset = ? AND row_id = ?",
                                (self.key, row_id))
                else:
                    con.execute(
                        f"INSERT OR REPLACE INTO decisions (dataset, row_id, {_DECISION_COLS}) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", (self.key, row_id, action, *rest))
                restored += 1
            con.execute("DELETE FROM history WHERE dataset = ? AND batch = ?", (self.key, batch))
            return restored

    # -- verdicts ---------------------------------------------------------------------------
    def record_verdicts(self, verdicts: Sequence, *, source: str,
                        probabilities=None) -> VerdictImport:
        """Keep labelling-tool verdicts and make them this dataset's decisions (one undo step).

        Every verdict is kept with its annotator and time (the ``verdicts`` table); the same
        verdict imported again changes nothing. On each row with a new verdict, each
        annotator's newest verdict votes; the majority class (ties: the model's probability,
        else the given label) is a ``relabel`` when it differs from the given label, a
        ``keep`` when it is the same. It replaces the row's decision unless that decision was
        made after the row's newest verdict.

        Parameters
        ----------
        verdicts : sequence
            Objects with ``row_id``, ``label``, ``annotator`` and ``decided_at`` (epoch
            seconds or None), e.g. :class:`analysis.export.verdicts.Verdict`, checked against
            the dataset (ids and classes).
        source : str
            The export they come from (format and file), kept with each verdict.
        probabilities : callable or array, optional
            The model's (N, K) probabilities, or a function of a list of row indices giving
            theirs (called only when a row's vote is tied).
        """
        if self.dataset is None:
            raise ValueError("verdicts need a store opened on the dataset (its rows' labels).")
        index = self._index()
        rows = [(str(v.row_id), str(v.label), str(v.annotator), v.decided_at) for v in verdicts]
        for row_id, label, _, _ in rows:
            if row_id not in index:
                raise ValueError(f"row id {row_id} is not in {self.dataset.source}.")
            self._check("relabel", label)
        now = time.time()
        with self._transaction() as con:
            known = {(r, a, lab, -1.0 if t is None else t) for r, a, lab, t in
                     self._verdict_rows(con, sorted({r for r, *_ in rows}), raw=True)}
            before = con.total_changes
            con.executemany(
                "INSERT OR IGNORE INTO verdicts (dataset, row_id, label, annotator, decided_at, "
                "imported_at, source) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(self.key, r, lab, a, t, now, source) for r, lab, a, t in rows])
            new = con.total_changes - before
            # only the rows with a new verdict are decided again
            touched = sorted({r for r, lab, a, t in rows
                              if (r, a, lab, -1.0 if t is None else t) not in known})
            every = self._verdict_rows(con, touched)
            result = self._verdict_decisions(con, every, probabilities, len(rows), new, source)
        return result

    def _verdict_rows(self, con, ids: list[str], raw: bool = False) -> list[tuple]:
        """(row, annotator, label, time) of the verdicts on ``ids``, oldest first; ``raw``:
        the tool's time (None when it gave none) instead of the effective one."""
        when = "decided_at" if raw else _VERDICT_TIME
        out: list[tuple] = []
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            out += con.execute(
                f"SELECT row_id, annotator, label, {when} FROM verdicts WHERE "
                f"dataset = ? AND row_id IN ({','.join('?' * len(chunk))}) ORDER BY "
                f"{_VERDICT_TIME}, rowid", (self.key, *chunk)).fetchall()
        return out

    def _verdict_decisions(self, con, every: list[tuple], probabilities, read: int, new: int,
                           source: str) -> VerdictImport:
        latest = _latest_ratings(every)
        ids = list(latest)
        names = self.class_names or [str(c) for c in self.dataset.class_names]
        code = {c: j for j, c in enumerate(names)}
        annotators = sorted({a for votes in latest.values() for a in votes})
        col = {a: j for j, a in enumerate(annotators)}
        ratings = np.full((len(ids), len(annotators)), -1, dtype=np.int64)
        for i, r in enumerate(ids):
            for a, (label, _) in latest[r].items():
                ratings[i, col[a]] = code[label]
        index = self._index()
        rows = [index[r] for r in ids]
        given = np.asarray(self.dataset.labels)[rows].astype(np.int64) if rows else np.zeros(
            0, np.int64)
        counts = np.stack([(ratings == j).sum(axis=1) for j in range(len(names))], axis=1) if (
            rows) else np.zeros((0, len(names)))
        tied = (counts == counts.max(axis=1, keepdims=True)).sum(axis=1) > 1 if rows else []
        probs = None
        if probabilities is not None and np.any(tied):
            probs = (np.asarray(probabilities(rows)) if callable(probabilities)
                     else np.asarray(probabilities)[rows]).astype(float)
        consensus = verdict_consensus(ratings, given, probs, len(names)) if rows else given
        existing = dict(con.execute("SELECT row_id, decided_at FROM decisions WHERE dataset = ?",
                                    (self.key,)).fetchall()) if rows else {}
        when = [max(t for _, t in latest[r].values()) for r in ids]
        fresh = [i for i, r in enumerate(ids) if existing.get(r, -math.inf) <= when[i]]
        self._write_verdict_decisions(con, [ids[i] for i in fresh], [rows[i] for i in fresh],
                                      [names[consensus[i]] for i in fresh],
                                      [names[given[i]] for i in fresh],
                                      [when[i] for i in fresh],
                                      [len(latest[ids[i]]) for i in fresh], source)
        relabels = sum(consensus[i] != given[i] for i in fresh)
        split = [i for i, r in enumerate(ids) if len({lab for lab, _ in latest[r].values()}) > 1]
        disagreements = pd.DataFrame({
            "id": [ids[i] for i in split],
            "labels": ["; ".join(f"{a}: {lab}" for a, (lab, _) in sorted(latest[ids[i]].items()))
                       for i in split],
            "consensus": [names[consensus[i]] for i in split],
            "given": [names[given[i]] for i in split]}, dtype=object)
        return VerdictImport(read=read, new=new, decisions=len(fresh), relabels=int(relabels),
                             keeps=len(fresh) - int(relabels), older=len(ids) - len(fresh),
                             disagreements=disagreements)

    def _write_verdict_decisions(self, con, ids, rows, labels, given, when, voters,
                                 source) -> None:
        if not ids:
            return
        batch = self._next_batch(con)
        self._log(con, batch, ids, None)
        con.execute("UPDATE history SET new_decided_at = NULL WHERE dataset = ? AND batch = ?",
                    (self.key, batch))
        snap_labels, hashes = row_snapshots(self.dataset, rows)
        con.executemany(
            f"INSERT OR REPLACE INTO decisions (dataset, row_id, {_DECISION_COLS}) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(self.key, r, "keep" if lab == g else "relabel", None if lab == g else lab,
              f"verdicts ({source}): {n} annotator(s)", t, self.fingerprint, sl, h,
              self.session)
             for r, lab, g, t, n, sl, h in zip(ids, labels, given, when, voters, snap_labels,
                                               hashes, strict=True)])
        con.executemany("UPDATE history SET new_decided_at = ? WHERE dataset = ? AND batch = ? "
                        "AND row_id = ?", [(t, self.key, batch, r) for r, t in zip(
                            ids, when, strict=True)])

    def verdicts(self) -> pd.DataFrame:
        """Every verdict kept for this dataset, oldest first: ``id``, ``label``,
        ``annotator``, ``decided_at`` (UTC; NaT: the tool gave no time), ``imported_at``,
        ``source``."""
        with self._connect() as con:
            rows = con.execute(
                "SELECT row_id, label, annotator, decided_at, imported_at, source FROM verdicts "
                f"WHERE dataset = ? ORDER BY {_VERDICT_TIME}, rowid", (self.key,)).fetchall()
        frame = pd.DataFrame(rows, columns=["id", "label", "annotator", "decided_at",
                                            "imported_at", "source"])
        for c in ("decided_at", "imported_at"):
            frame[c] = pd.to_datetime(frame[c].astype(float), unit="s", utc=True)
        return frame

    # -- reading ---------------------------------------------------------------------------
    def decisions(self, *, include_gone: bool = False, details: bool = False) -> pd.DataFrame:
        """Every decision: columns ``id``, ``action``, ``new_label``, ``note``, ``decided_at``
        (UTC timestamp), oldest first.

        A store opened on a dataset leaves out decisions on ids no longer in it (see
        :func:`reconcile`, which reports them) unless ``include_gone``. ``details`` adds the
        version (``fingerprint``), ``given_label`` and ``row_hash`` recorded with each decision.
        """
        with self._connect() as con:
            rows = con.execute(
                "SELECT row_id, action, new_label, note, decided_at, fingerprint, given_label, "
                "row_hash FROM decisions WHERE dataset = ? ORDER BY decided_at, rowid",
                (self.key,)).fetchall()
        if not rows:  # the common case before a review starts: skip pandas' conversions
            frame = _NO_DECISIONS.copy()
            return frame if details else frame.drop(columns=list(frame.columns[5:]))
        frame = pd.DataFrame(rows, columns=list(_NO_DECISIONS.columns))
        frame["decided_at"] = pd.to_datetime(frame["decided_at"], unit="s", utc=True)
        if self.dataset is not None and not include_gone and len(frame):
            index = self._index()  # built on the first decision (1M ids: 0.5 s), not before
            frame = frame.loc[[i in index for i in frame["id"]]].reset_index(drop=True)
        if not details:
            frame = frame.drop(columns=["fingerprint", "given_label", "row_hash"])
        return frame

    def get(self, row_id) -> dict | None:
        """The decision on one row, or ``None``."""
        with self._connect() as con:
            row = con.execute(
                "SELECT action, new_label, note FROM decisions WHERE dataset = ? AND "
                "row_id = ?", (self.key, str(row_id))).fetchone()
        return None if row is None else {"action": row[0], "new_label": row[1], "note": row[2]}

    def counts(self) -> dict[str, int]:
        """How many rows carry each action (on a dataset: rows still in it)."""
        out = dict.fromkeys(ACTIONS, 0)
        if self.dataset is not None:
            out.update(self.decisions()["action"].value_counts().to_dict())
            return {k: int(v) for k, v in out.items()}
        with self._connect() as con:
            rows = con.execute("SELECT action, COUNT(*) FROM decisions WHERE dataset = ? "
                               "GROUP BY action", (self.key,)).fetchall()
        out.update(dict(rows))
        return out

    def can_undo(self) -> bool:
        """Whether :meth:`undo` has a change of this session's to undo."""
        with self._connect() as con:
            return self._undo_batch(con) is not None


# -- verdicts from labelling tools ----------------------------------------------------------------
#: A verdict the tool gives no time for counts as made when it was imported.
_VERDICT_TIME = "COALESCE(decided_at, imported_at)"


@dataclass(frozen=True)
class VerdictImport:
    """What :meth:`ReviewStore.record_verdicts` did.

    ``new`` verdicts were kept (of ``read`` given; the others were imported before);
    ``decisions`` rows got a decision from them (``relabels`` and ``keeps``); ``older`` rows
    kept a decision made after their newest verdict; ``disagreements`` lists the rows whose
    annotators differ: ``id``, ``labels`` (annotator: class, ...), ``consensus``, ``given``.
    """

    read: int
    new: int
    decisions: int
    relabels: int
    keeps: int
    older: int
    disagreements: pd.DataFrame

    def message(self) -> str:
        again = self.read - self.new
        return (f"{self.new:,} new verdict(s) of {self.read:,} read"
                + (f" ({again:,} imported before)" if again else "")
                + f"; {self.decisions:,} decision(s): {self.relabels:,} relabel, "
                f"{self.keeps:,} keep"
                + (f"; {self.older:,} row(s) keep a later decision" if self.older else "")
                + f"; {len(self.disagreements):,} row(s) where annotators disagree.")


def verdict_consensus(ratings: np.ndarray, given: np.ndarray, probs: np.ndarray | None,
                      k: int) -> np.ndarray:
    """Each row's class by majority of its annotators (``ratings`` (N, A), -1: no rating);
    ties by the model's probability (``probs`` (N, K)), else by the given label, then the
    lowest class (:func:`analysis.annotators.agreement.majority_vote`)."""
    if probs is None:  # without a model, a tie keeps the given label
        probs = np.zeros((len(given), k))
        probs[np.arange(len(given)), given] = 1.0
    if ratings.shape[1] < 2:  # one annotator: an empty second column (the vote needs two)
        ratings = np.hstack([ratings, np.full((len(ratings), 2 - ratings.shape[1]), -1)])
    return majority_vote(ratings, k, tie_break=probs)[0]


def _latest_ratings(rows: list[tuple]) -> dict[str, dict[str, tuple[str, float]]]:
    """Per row id and annotator, the newest (label, time) of ``rows`` (row, annotator,
    label, time), ordered oldest first."""
    latest: dict[str, dict[str, tuple[str, float]]] = {}
    for row_id, annotator, label, when in rows:
        latest.setdefault(row_id, {})[annotator] = (label, when)
    return latest


# -- carrying decisions over to a new version -----------------------------------------------------
@dataclass(frozen=True)
class Carryover:
    """What became of a dataset's decisions in its current version (see :func:`reconcile`).

    ``applicable`` holds the decisions to apply (ids still in the file, changed rows included);
    ``gone`` the decisions on ids no longer in the file (reported, never applied); ``changed``
    the applied decisions whose row's label or other cells differ from when it was decided,
    with ``what`` changed, ``label_then`` and ``label_now``. In a file without an id column,
    ``moved`` decisions followed their row to a new position and ``set_aside`` ones found no
    single row with their row's cells (they are among ``gone``, under ``<position>@<version>``).
    """

    total: int
    applicable: pd.DataFrame
    gone: pd.DataFrame
    changed: pd.DataFrame
    other_versions: int  # decisions made on another version of the file
    moved: int = 0
    set_aside: int = 0

    @property
    def carried(self) -> int:
        return len(self.applicable)

    def counts(self) -> dict[str, int]:
        return {"decisions": self.total, "carried": self.carried, "gone": len(self.gone),
                "changed": len(self.changed), "made_on_other_versions": self.other_versions,
                "moved_with_their_row": self.moved, "set_aside": self.set_aside}

    @property
    def needs_a_look(self) -> bool:
        return bool(len(self.gone) or len(self.changed))

    def message(self) -> str:
        """One sentence for people: how many carried over, are gone, changed."""
        def rows(n: int) -> str:
            return f"{n:,} concern{'s' if n == 1 else ''} {'a row' if n == 1 else 'rows'}"

        follow = ""
        if self.moved or self.set_aside:
            follow = (f" The file has no id column, so rows are known by position: "
                      f"{self.moved:,} decision(s) followed their row to its new position and "
                      f"{self.set_aside:,} found no single row with the same cells (not "
                      "applied; add an id column to keep decisions on their rows).")
        return (f"{self.carried:,} of {self.total:,} review decision(s) apply to this version "
                f"of the file ({self.other_versions:,} made on an earlier version); "
                f"{rows(len(self.gone))} no longer in the file (not applied); "
                f"{rows(len(self.changed))} changed since the decision (applied, "
                "listed for a second look)." + follow)

    def table(self) -> pd.DataFrame:
        """Gone and changed decisions, one row each: ``id``, ``status``, ``what``,
        ``label_then``, ``label_now``, ``action``, ``new_label``, ``decided_at``."""
        what = np.where(self.gone["id"].astype(str).str.contains("@", regex=False),
                        "no id column: the row is neither at its position nor at one other",
                        "row id not in the file")
        gone = self.gone.assign(status="gone", what=what, label_now="")
        changed = self.changed.assign(status="changed")
        cols = ["id", "status", "what", "label_then", "label_now", "action", "new_label",
                "note", "decided_at"]
        parts = [p.reindex(columns=cols) for p in (gone, changed) if len(p)]
        if not parts:
            return pd.DataFrame(columns=cols)
        return pd.concat(parts, ignore_index=True)


def reconcile(store: ReviewStore, dataset) -> Carryover:
    """Match the store's decisions against ``dataset`` (the current version of the file).

    Decisions on ids still in the file carry over and are applied; those whose row's given
    label or other cells changed since the decision are listed as ``changed``; decisions on
    ids no longer in the file are ``gone``. A decision recorded without the row's content
    (made through a store opened by key or fingerprint) counts as unchanged when it was made
    on this very version, else as changed ("unknown").
    """
    every = store.decisions(include_gone=True, details=True)
    if every.empty:  # nothing decided yet (every page run of a fresh review): no row to read
        return Carryover(total=0, applicable=_NO_DECISIONS.iloc[:, :5].copy(),
                         gone=_NOTHING_GONE.copy(), changed=_NOTHING_CHANGED.copy(),
                         other_versions=0)
    index = dataset.id_index
    known = np.array([i in index for i in every["id"]], dtype=bool)
    gone = every.loc[~known].rename(columns={"given_label": "label_then"}).reset_index(drop=True)
    live = every.loc[known].reset_index(drop=True)
    rows = [index[i] for i in live["id"]]
    labels_now, hashes_now = row_snapshots(dataset, rows)
    what = []
    for then_label, then_hash, fp, now_label, now_hash in zip(
            live["given_label"], live["row_hash"], live["fingerprint"], labels_now, hashes_now,
            strict=True):
        if then_label is None or then_hash is None:
            what.append("" if fp == dataset.fingerprint
                        else "unknown (decided before noiselens recorded the row)")
            continue
        parts = []
        if then_label != now_label:
            parts.append("label")
        if then_hash != now_hash:
            parts.append("other cells")
        what.append(" and ".join(parts))
    live = live.assign(what=what, label_now=labels_now).rename(
        columns={"given_label": "label_then"})
    changed = live.loc[live["what"] != ""].reset_index(drop=True)
    applicable = live[["id", "action", "new_label", "note", "decided_at"]]
    other = int((every["fingerprint"].fillna("") != dataset.fingerprint).sum())
    return Carryover(total=len(every), applicable=applicable, gone=gone, changed=changed,
                     other_versions=other, moved=getattr(store, "moved", 0),
                     set_aside=getattr(store, "set_aside", 0))
