"""A temporary on-disk store for comments from the ticket events export, so memory stays flat until tickets arrive."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping
from typing import Any

SQL_VARIABLES_PER_QUERY = 500  # below SQLite's historical limit of 999 bound variables


class CommentSpool:
    """Comment events keyed by ticket id. Events come in time order, tickets later: the join happens here, on disk.

    `sqlite3.connect("")` opens a private temporary database that SQLite deletes when it is closed.
    """

    def __init__(self) -> None:
        self._db = sqlite3.connect("")
        self._db.execute(
            "CREATE TABLE comments (ticket_id TEXT, comment_id TEXT, author_id TEXT, created_at TEXT, body TEXT,"
            " PRIMARY KEY (ticket_id, comment_id))"
        )
        self.count = 0

    def __enter__(self) -> CommentSpool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def add(self, ticket_id: Any, comment: Mapping[str, Any]) -> None:
        """A comment seen twice (page-boundary duplicates) is stored once."""
        cursor = self._db.execute(
            "INSERT OR REPLACE INTO comments VALUES (?, ?, ?, ?, ?)",
            (str(ticket_id), str(comment["id"]), str(comment.get("author_id")), str(comment.get("created_at") or ""), json.dumps(comment)),
        )
        self.count += cursor.rowcount

    def comments_for(self, ticket_id: Any) -> list[dict[str, Any]]:
        rows = self._db.execute("SELECT body FROM comments WHERE ticket_id = ? ORDER BY created_at, comment_id", (str(ticket_id),))
        return [json.loads(body) for (body,) in rows]

    def author_ids(self, ticket_ids: Iterable[Any]) -> set[str]:
        ids = [str(t) for t in ticket_ids]
        authors: set[str] = set()
        for start in range(0, len(ids), SQL_VARIABLES_PER_QUERY):
            chunk = ids[start : start + SQL_VARIABLES_PER_QUERY]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(f"SELECT DISTINCT author_id FROM comments WHERE ticket_id IN ({marks})", chunk)
            authors.update(author for (author,) in rows if author and author != "None")
        return authors

    def close(self) -> None:
        self._db.close()
