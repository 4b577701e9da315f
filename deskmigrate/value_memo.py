"""What costly transforms concluded about values, kept from one plan to the next in <state>/cache/values.db, so a
re-plan after a mapping edit does not validate every phone number again.

A cache: deleting the folder costs only time. It holds source values (phone numbers), so it is private like the
ledger (0700 folder, 0600 file). Keys name everything a verdict depends on, the transform's version included
(transforms.library.PHONE_MEMO), so a verdict is never reused where it might differ. Worker processes read it; what
they learn is handed back and written by the one process that writes (`learned`, then `keep`).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

CACHE_FOLDER = "cache"
VALUES_FILE = "values.db"


def memo_path(state_dir: Path) -> Path:
    return state_dir / CACHE_FOLDER / VALUES_FILE


class ValueMemo:
    """transforms.registry.ValueMemo on SQLite; `writer` opens it for writing (creating it), else it is only read."""

    def __init__(self, path: Path, *, writer: bool) -> None:
        self.path = path
        self._learned: list[tuple[str, int, str]] = []
        if writer:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            path.parent.chmod(0o700)
            path.touch(mode=0o600, exist_ok=True)
            path.chmod(0o600)
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS memo (key TEXT PRIMARY KEY, accepted INTEGER NOT NULL, text TEXT NOT NULL) WITHOUT ROWID")
            for suffix in ("-wal", "-shm"):
                sidecar = Path(f"{path}{suffix}")
                if sidecar.exists():
                    sidecar.chmod(0o600)
        else:
            self._db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None, check_same_thread=False)

    def recall(self, key: str) -> tuple[bool, str] | None:
        try:
            row = self._db.execute("SELECT accepted, text FROM memo WHERE key=?", (key,)).fetchone()
        except sqlite3.OperationalError:  # a reader opened before the first plan created the table
            return None
        return (bool(row[0]), row[1]) if row else None

    def remember(self, key: str, accepted: bool, text: str) -> None:
        self._learned.append((key, int(accepted), text))

    def learned(self) -> list[tuple[str, int, str]]:
        """What was concluded since the last call, for the writing process to keep."""
        learned, self._learned = self._learned, []
        return learned

    def keep(self, rows: list[tuple[str, int, str]]) -> None:
        if rows:
            self._db.execute("BEGIN")
            self._db.executemany("INSERT OR REPLACE INTO memo VALUES (?, ?, ?)", rows)
            self._db.execute("COMMIT")

    def close(self) -> None:
        self._db.close()
