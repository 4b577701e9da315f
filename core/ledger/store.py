"""The ledger's connection: opened (migrated forward, copied aside first; a lost one refused), transactions, meta."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from deskmigrate.core.errors import StateError
from deskmigrate.core.ledger.files import (
    _create_private_file,
    _deskmigrate_version,
    _lost,
    _set_aside,
    _utc_stamp,
    state_history,
)
from deskmigrate.core.ledger.schema import SCHEMA_V1, SCHEMA_VERSION, apply_migrations, pending_migrations, schema_version


def sample_key(entity: str, source_id: str) -> int:
    """A record's place in samples: from its entity and source id alone, so a sample stays the same records whatever
    the mapping or the record's values become, and a smaller sample is part of a larger one."""
    return int.from_bytes(hashlib.blake2b(f"{entity}\x00{source_id}".encode(), digest_size=8).digest(), "big", signed=True)


class LedgerStore:
    """Thread-safe access to the ledger; each public write is one transaction.

    Opening an older ledger migrates it (copied aside first). A ledger that is missing, empty or unreadable beside
    earlier runs' reports, logs or plan files is lost: opening it raises LedgerLostError instead of starting afresh,
    unless `start_over` says to (the lost file is then set aside, never deleted).
    """

    def __init__(self, path: Path, *, start_over: bool = False) -> None:
        self.path = path
        self._lock = threading.RLock()
        history = state_history(path.parent)
        if start_over:
            _set_aside(path)
        elif history and (not path.exists() or path.stat().st_size == 0):
            raise _lost(path, "missing" if not path.exists() else "empty (0 bytes)", history)
        _create_private_file(path)
        try:
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            # NORMAL is durable across a killed process (kill -9); only an OS crash may lose the last commits.
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.create_function("sample_key", 2, sample_key, deterministic=True)
            self.migrated_to = self._migrate()
            runs = self._db.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            if history and not start_over:
                raise _lost(path, f"unreadable ({exc})", history) from None
            raise StateError(f"cannot open the ledger {path}: {exc}") from None
        if history and runs == 0 and not start_over:
            raise _lost(path, "empty (it records no runs)", history)
        if start_over:
            with self.transaction() as db:
                db.execute("INSERT OR REPLACE INTO meta VALUES ('started_over_at', ?)", (str(time.time()),))
        for suffix in ("-wal", "-shm"):
            sidecar = Path(str(path) + suffix)
            if sidecar.exists():
                os.chmod(sidecar, 0o600)

    def _migrate(self) -> list[int]:
        """Bring the file to SCHEMA_VERSION: a new ledger by every step, an older one (copied aside first) by the steps it lacks."""
        version = schema_version(self._db)
        if version is None:
            self._db.executescript(SCHEMA_V1 + "INSERT OR IGNORE INTO meta VALUES ('schema_version', '1');")
        elif version > SCHEMA_VERSION:
            raise StateError(f"the ledger {self.path} has schema version {version}, made by a newer deskmigrate; this one reads up to "
                             f"version {SCHEMA_VERSION}: upgrade deskmigrate")
        if not pending_migrations(version or 1):
            return []
        backup = self._copy_aside(version) if version is not None else None
        with self.transaction() as db:
            current = schema_version(db) or 1  # another process may have migrated it meanwhile
            if not pending_migrations(current):
                return []
            steps = apply_migrations(db, current, applied_at=time.time(), backup=str(backup) if backup else None, by=_deskmigrate_version())
        return [step.version for step in steps]

    def _copy_aside(self, version: int) -> Path:
        """A consistent copy of the ledger before it is migrated (SQLite's online backup API, safe while others read it)."""
        target = self.path.with_name(f"{self.path.name}.schema{version}-{_utc_stamp(time.time())}.bak")
        _create_private_file(target)
        copy = sqlite3.connect(target)
        try:
            self._db.backup(copy)
        finally:
            copy.close()
        return target

    def migrations(self) -> list[dict[str, Any]]:
        """The schema migrations this ledger went through: version, name, when, the copy taken before, by which deskmigrate."""
        rows = self._query("SELECT version, name, applied_at, backup, deskmigrate FROM migrations ORDER BY version")
        return [dict(zip(("version", "name", "applied_at", "backup", "deskmigrate"), r, strict=True)) for r in rows]

    def schema_version(self) -> int:
        return schema_version(self._db) or 0

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            else:
                self._db.execute("COMMIT")

    def _query(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            cursor = self._db.execute(sql, tuple(params))
            return cursor.fetchall()

    def _count(self, db: sqlite3.Connection, run_id: str, phase: str, column: str, n: int = 1) -> None:
        db.execute(
            f"INSERT INTO progress (run_id, phase, {column}, status, updated_at) VALUES (?, ?, ?, 'running', ?) "
            f"ON CONFLICT (run_id, phase) DO UPDATE SET {column}={column}+excluded.{column}, updated_at=excluded.updated_at",
            (run_id, phase, n, time.time()),
        )

    def get_meta(self, key: str) -> str | None:
        rows = self._query("SELECT value FROM meta WHERE key=?", (key,))
        return str(rows[0][0]) if rows else None

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as db:
            db.execute("INSERT INTO meta VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value=excluded.value", (key, value))
