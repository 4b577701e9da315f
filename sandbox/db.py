"""The sandbox's SQLite file: JSON documents per object kind, links between objects, counters and the request log."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (kind, id)
);
CREATE INDEX IF NOT EXISTS objects_by_seq ON objects (kind, seq);
CREATE INDEX IF NOT EXISTS objects_by_external_id ON objects (kind, json_extract(data, '$.external_id'));
CREATE INDEX IF NOT EXISTS objects_by_email ON objects (kind, lower(json_extract(data, '$.email')));
CREATE INDEX IF NOT EXISTS objects_by_company_id ON objects (kind, json_extract(data, '$.company_id'));
CREATE INDEX IF NOT EXISTS objects_by_name ON objects (kind, lower(json_extract(data, '$.name')));
CREATE TABLE IF NOT EXISTS links (
    rel TEXT NOT NULL,
    left_id TEXT NOT NULL,
    right_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    applied_at INTEGER,
    applied_by TEXT,
    PRIMARY KEY (rel, left_id, right_id)
);
CREATE INDEX IF NOT EXISTS links_by_right ON links (rel, right_id);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS request_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    route TEXT,
    status INTEGER,
    is_write INTEGER NOT NULL,
    dropped TEXT,
    request_id TEXT NOT NULL,
    app INTEGER
);
"""

# Lookups the indexes above serve; a field outside this map is never queried by value.
INDEXED_FIELDS = {
    "external_id": "json_extract(data, '$.external_id') = ?",
    "email": "lower(json_extract(data, '$.email')) = lower(?)",
    "company_id": "json_extract(data, '$.company_id') = ?",
    "name": "lower(json_extract(data, '$.name')) = lower(?)",
}


def create_private_file(path: Path) -> None:
    """Create the database file readable by its owner only (it holds customer data).

    An existing file is left unopened: closing any descriptor of a SQLite file drops every POSIX lock this process
    holds on it, including those of open connections (https://www.sqlite.org/howtocorrupt.html#_posix_advisory_locks_canceled_by_a_separate_thread_doing_close_).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
    except FileExistsError:
        return
    os.close(descriptor)


class Database:
    """One connection guarded by a lock; callers wrap reads and writes in `transaction()`."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        create_private_file(self.path)
        self._lock = threading.RLock()
        self._connection = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=10.0)
        self._connection.execute("PRAGMA journal_mode=WAL")
        self._connection.execute("PRAGMA synchronous=NORMAL")
        self._connection.execute("PRAGMA busy_timeout=10000")
        with self._lock:
            self._connection.executescript(SCHEMA)
            columns = {row[1] for row in self._connection.execute("PRAGMA table_info(request_log)")}
            if "app" not in columns:  # a file from before several apps: its calls came through the one token
                self._connection.execute("ALTER TABLE request_log ADD COLUMN app INTEGER")

    def close(self) -> None:
        with self._lock:
            self._connection.close()

    @contextmanager
    def transaction(self) -> Iterator[Database]:
        """Hold the lock and one IMMEDIATE transaction: committed on success, rolled back on any exception."""
        with self._lock:
            if self._connection.in_transaction:
                yield self
                return
            self._connection.execute("BEGIN IMMEDIATE")
            try:
                yield self
            except BaseException:
                self._connection.execute("ROLLBACK")
                raise
            self._connection.execute("COMMIT")

    # -- documents -------------------------------------------------------------------------

    def get(self, kind: str, object_id: str) -> dict[str, Any] | None:
        row = self._connection.execute("SELECT data FROM objects WHERE kind = ? AND id = ?", (kind, str(object_id))).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, kind: str, document: dict[str, Any]) -> None:
        """Insert or replace a document keyed by its `id`; a replaced document keeps its list position."""
        object_id = str(document["id"])
        data = json.dumps(document, separators=(",", ":"), sort_keys=False)
        updated = self._connection.execute("UPDATE objects SET data = ? WHERE kind = ? AND id = ?", (data, kind, object_id))
        if updated.rowcount == 0:
            self._connection.execute(
                "INSERT INTO objects (kind, id, seq, data) VALUES (?, ?, ?, ?)", (kind, object_id, self.next_value("object_seq"), data)
            )

    def delete(self, kind: str, object_id: str) -> bool:
        return self._connection.execute("DELETE FROM objects WHERE kind = ? AND id = ?", (kind, str(object_id))).rowcount > 0

    def find(self, kind: str, field: str, value: Any) -> list[dict[str, Any]]:
        """Documents of `kind` whose indexed `field` equals `value` (email and name compare case-insensitively)."""
        condition = INDEXED_FIELDS[field]
        rows = self._connection.execute(f"SELECT data FROM objects WHERE kind = ? AND {condition} ORDER BY seq", (kind, value)).fetchall()
        return [json.loads(row[0]) for row in rows]

    def all(self, kind: str) -> list[dict[str, Any]]:
        rows = self._connection.execute("SELECT data FROM objects WHERE kind = ? ORDER BY seq", (kind,)).fetchall()
        return [json.loads(row[0]) for row in rows]

    def page(self, kind: str, after_seq: int, limit: int) -> list[tuple[int, dict[str, Any]]]:
        """Up to `limit` documents after position `after_seq`, with their positions (for cursors)."""
        rows = self._connection.execute(
            "SELECT seq, data FROM objects WHERE kind = ? AND seq > ? ORDER BY seq LIMIT ?", (kind, after_seq, limit)
        ).fetchall()
        return [(row[0], json.loads(row[1])) for row in rows]

    def count(self, kind: str) -> int:
        return int(self._connection.execute("SELECT count(*) FROM objects WHERE kind = ?", (kind,)).fetchone()[0])

    def position(self, kind: str, object_id: str) -> int | None:
        row = self._connection.execute("SELECT seq FROM objects WHERE kind = ? AND id = ?", (kind, str(object_id))).fetchone()
        return int(row[0]) if row else None

    # -- links ------------------------------------------------------------------------------

    def link(self, rel: str, left_id: str, right_id: str, applied_at: int | None = None, applied_by: str | None = None) -> bool:
        """Link two objects; False when they were linked already (the first link's details are kept)."""
        cursor = self._connection.execute(
            "INSERT OR IGNORE INTO links (rel, left_id, right_id, seq, applied_at, applied_by) VALUES (?, ?, ?, ?, ?, ?)",
            (rel, str(left_id), str(right_id), self.next_value("link_seq"), applied_at, applied_by),
        )
        return cursor.rowcount > 0

    def unlink(self, rel: str, left_id: str, right_id: str) -> bool:
        cursor = self._connection.execute(
            "DELETE FROM links WHERE rel = ? AND left_id = ? AND right_id = ?", (rel, str(left_id), str(right_id))
        )
        return cursor.rowcount > 0

    def unlink_all(self, rel: str, *, left_id: str | None = None, right_id: str | None = None) -> int:
        if left_id is not None:
            return self._connection.execute("DELETE FROM links WHERE rel = ? AND left_id = ?", (rel, str(left_id))).rowcount
        if right_id is not None:
            return self._connection.execute("DELETE FROM links WHERE rel = ? AND right_id = ?", (rel, str(right_id))).rowcount
        raise ValueError("unlink_all needs left_id or right_id")

    def links_from(self, rel: str, left_id: str) -> list[dict[str, Any]]:
        rows = self._connection.execute(
            "SELECT right_id, applied_at, applied_by FROM links WHERE rel = ? AND left_id = ? ORDER BY seq", (rel, str(left_id))
        ).fetchall()
        return [{"id": row[0], "applied_at": row[1], "applied_by": row[2]} for row in rows]

    def links_to(self, rel: str, right_id: str) -> list[str]:
        rows = self._connection.execute(
            "SELECT left_id FROM links WHERE rel = ? AND right_id = ? ORDER BY seq", (rel, str(right_id))
        ).fetchall()
        return [row[0] for row in rows]

    def link_details(self, rel: str, left_id: str, right_id: str) -> dict[str, Any] | None:
        row = self._connection.execute(
            "SELECT applied_at, applied_by FROM links WHERE rel = ? AND left_id = ? AND right_id = ?", (rel, str(left_id), str(right_id))
        ).fetchone()
        return {"applied_at": row[0], "applied_by": row[1]} if row else None

    def count_links_to(self, rel: str, right_id: str) -> int:
        return int(
            self._connection.execute("SELECT count(*) FROM links WHERE rel = ? AND right_id = ?", (rel, str(right_id))).fetchone()[0]
        )

    def count_links_from(self, rel: str, left_id: str) -> int:
        return int(self._connection.execute("SELECT count(*) FROM links WHERE rel = ? AND left_id = ?", (rel, str(left_id))).fetchone()[0])

    # -- counters and workspace metadata ----------------------------------------------------

    def next_value(self, name: str, start: int = 1) -> int:
        self._connection.execute("INSERT OR IGNORE INTO counters (name, value) VALUES (?, ?)", (name, start - 1))
        self._connection.execute("UPDATE counters SET value = value + 1 WHERE name = ?", (name,))
        return int(self._connection.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()[0])

    def meta(self, key: str) -> str | None:
        row = self._connection.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self._connection.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    # -- request log -------------------------------------------------------------------------

    def log_request(
        self,
        *,
        at: float,
        method: str,
        path: str,
        route: str | None,
        status: int | None,
        is_write: bool,
        dropped: str | None,
        request_id: str,
        app: int | None = None,
    ) -> None:
        self._connection.execute(
            "INSERT INTO request_log (at, method, path, route, status, is_write, dropped, request_id, app) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (at, method, path, route, status, int(is_write), dropped, request_id, app),
        )

    def request_log(self) -> list[dict[str, Any]]:
        rows = self._connection.execute(
            "SELECT method, path, route, status, at, is_write, dropped, request_id, app FROM request_log ORDER BY seq"
        ).fetchall()
        return [
            {
                "method": r[0],
                "path": r[1],
                "route": r[2],
                "status": r[3],
                "at": r[4],
                "write": bool(r[5]),
                "dropped": r[6],
                "request_id": r[7],
                "app": r[8],
            }
            for r in rows
        ]
