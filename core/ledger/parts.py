"""Parts of multi-part records: a conversation's replies and notes, each planned, pending, then done."""

from __future__ import annotations

import json
import time
from typing import Any

from deskmigrate.core.ledger.rows import (
    PartRow,
    _dump,
)
from deskmigrate.core.ledger.store import LedgerStore


class PartsPart(LedgerStore):
    """The parts of a conversation or ticket, in thread order: pending before the call, done after it."""

    def parts(self, record_id: str) -> dict[str, PartRow]:
        """The planned parts of a record already sent or being sent, by step key."""
        rows = self._query(
            "SELECT record_id, step, position, thread, intercom_id, state, expected, pending_since FROM parts WHERE record_id=? "
            "ORDER BY position", (record_id,),
        )
        return {r[1]: PartRow(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6]) if r[6] else None, r[7]) for r in rows}

    def mark_part_pending(self, run_id: str, record_id: str, step: str, position: int, thread: str, expected: dict[str, Any]) -> None:
        """Before sending a part: a crash leaves this trace, and the resume reconciles it instead of sending it twice."""
        now = time.time()
        with self.transaction() as db:
            db.execute(
                "INSERT INTO parts (record_id, step, position, thread, state, expected, run_id, pending_since, updated_at) "
                "VALUES (?, ?, ?, ?, 'pending', ?, ?, ?, ?) ON CONFLICT (record_id, step) DO UPDATE SET position=excluded.position, "
                "thread=excluded.thread, expected=excluded.expected, run_id=excluded.run_id, updated_at=excluded.updated_at "
                "WHERE parts.state='pending'",
                (record_id, step, position, thread, _dump(expected), run_id, now, now),
            )

    def record_part(self, run_id: str, record_id: str, step: str, position: int, thread: str, intercom_id: str | None) -> None:
        now = time.time()
        with self.transaction() as db:
            db.execute(
                "INSERT INTO parts (record_id, step, position, thread, intercom_id, state, run_id, updated_at) "
                "VALUES (?, ?, ?, ?, ?, 'done', ?, ?) ON CONFLICT (record_id, step) DO UPDATE SET intercom_id=excluded.intercom_id, "
                "state='done', position=excluded.position, thread=excluded.thread, run_id=excluded.run_id, pending_since=NULL, "
                "updated_at=excluded.updated_at",
                (record_id, step, position, thread, intercom_id, run_id, now),
            )

    def set_applied(self, entity: str, source_id: str, payload_hash: str, body: dict[str, Any]) -> None:
        """What a record's last load applied beyond its create (state, attributes, assignee): the next run compares with it."""
        with self.transaction() as db:
            db.execute(
                "UPDATE id_map SET payload_hash=?, body=?, updated_at=? WHERE entity=? AND source_id=?",
                (payload_hash, _dump(body), time.time(), entity, source_id),
            )

    def forget_part(self, record_id: str, step: str) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM parts WHERE record_id=? AND step=?", (record_id, step))

    def count_parts(self, thread: str, state: str = "done") -> int:
        return self._query("SELECT COUNT(*) FROM parts WHERE thread=? AND state=?", (thread, state))[0][0]
