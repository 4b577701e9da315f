"""The id map and the write log: source id → Intercom id with before-images, every write a run made, rollbacks' undo logs."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from typing import Any

from deskmigrate.core.ledger.rows import (
    ID_COLUMNS,
    IdMapRow,
    WriteRow,
    _dump,
    _id_row,
    _load,
    merge_marker,
)
from deskmigrate.core.ledger.store import LedgerStore


class IdMapPart(LedgerStore):
    """Source id → Intercom id with its origin, before-image and what was last sent; every write and every undo."""

    def id_row(self, entity: str, source_id: str) -> IdMapRow | None:
        rows = self._query("SELECT " + ID_COLUMNS + " FROM id_map WHERE entity=? AND source_id=?", (entity, source_id))
        return _id_row(rows[0]) if rows else None

    def intercom_id(self, entity: str, source_id: str) -> str | None:
        rows = self._query(
            "SELECT intercom_id FROM id_map WHERE entity=? AND source_id=? AND state='done'", (entity, source_id)
        )
        return rows[0][0] if rows else None

    def iter_id_rows(self, entity: str, batch_size: int = 1000) -> Iterator[IdMapRow]:
        last = ""
        while True:
            rows = self._query(
                "SELECT " + ID_COLUMNS + " FROM id_map WHERE entity=? AND source_id>? ORDER BY source_id LIMIT ?", (entity, last, batch_size)
            )
            if not rows:
                return
            for row in rows:
                last = row[1]
                yield _id_row(row)

    def any_id_rows(self) -> bool:
        """Whether the id map holds anything at all (before the first load it is empty: every record would be created)."""
        return bool(self._query("SELECT 1 FROM id_map LIMIT 1"))

    def count_id_rows(self, entity: str, state: str = "done") -> int:
        return self._query("SELECT COUNT(*) FROM id_map WHERE entity=? AND state=?", (entity, state))[0][0]

    def mark_pending(
        self, run_id: str, entity: str, source_id: str, *, origin: str | None = None, before: dict[str, Any] | None = None,
        intercom_id: str | None = None, intent: dict[str, Any] | None = None,
    ) -> None:
        """Record the intent to create before the call, so a crash leaves a trace to reconcile, never a blind re-send.

        `intent` is the body about to be sent: what a rollback after a crash looks the object up by.
        """
        with self.transaction() as db:
            db.execute(
                "INSERT INTO id_map (entity, source_id, intercom_id, origin, state, before, run_id, pending_since, updated_at, intent) "
                "VALUES (?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?) ON CONFLICT (entity, source_id) DO UPDATE SET "
                "origin=COALESCE(id_map.origin, excluded.origin), before=COALESCE(id_map.before, excluded.before), "
                "intercom_id=COALESCE(excluded.intercom_id, id_map.intercom_id), "
                "pending_since=COALESCE(id_map.pending_since, excluded.pending_since), run_id=excluded.run_id, "
                "intent=COALESCE(excluded.intent, id_map.intent), updated_at=excluded.updated_at WHERE id_map.state='pending'",
                (entity, source_id, intercom_id, origin, _dump(before), run_id, time.time(), time.time(), _dump(intent)),
            )

    def record_write(
        self,
        run_id: str,
        phase: str,
        entity: str,
        source_id: str,
        *,
        intercom_id: str,
        action: str,
        origin: str,
        payload_hash: str,
        body: dict[str, Any],
        before: dict[str, Any] | None = None,
    ) -> None:
        """One transaction: the id-map row, the write log entry (for rollback), the progress count, and the failure cleared."""
        now = time.time()
        with self.transaction() as db:
            existing = db.execute("SELECT before FROM id_map WHERE entity=? AND source_id=?", (entity, source_id)).fetchone()
            kept_before = before if before is not None else (json.loads(existing[0]) if existing and existing[0] else None)
            db.execute(
                "INSERT INTO id_map (entity, source_id, intercom_id, origin, state, payload_hash, body, before, run_id, updated_at) "
                "VALUES (?, ?, ?, ?, 'done', ?, ?, ?, ?, ?) ON CONFLICT (entity, source_id) DO UPDATE SET "
                "intercom_id=excluded.intercom_id, origin=excluded.origin, state='done', payload_hash=excluded.payload_hash, "
                "body=excluded.body, before=excluded.before, run_id=excluded.run_id, pending_since=NULL, intent=NULL, "
                "updated_at=excluded.updated_at",
                (entity, source_id, intercom_id, origin, payload_hash, _dump(body), _dump(kept_before), run_id, now),
            )
            db.execute(
                "INSERT INTO writes (run_id, phase, entity, source_id, intercom_id, action, detail, before, after, at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (run_id, phase, entity, source_id, intercom_id, action, _dump({"origin": origin}), _dump(before), _dump(body), now),
            )
            self._count(db, run_id, phase, "done")
            db.execute("DELETE FROM failures WHERE entity=? AND source_id=? AND phase=?", (entity, source_id, phase))

    def record_merge(self, run_id: str, phase: str, entity: str, source_id: str, *, intercom_id: str, into: str) -> None:
        """Map `source_id` to the Intercom object another source record (`into`) landed as, without writing to Intercom.

        One transaction: the id-map row (origin `merged`, no body: nothing of this record was sent), a `merge` entry
        in the write log (rollback forgets the mapping, never deletes or restores the object for it), the failure cleared.
        """
        now = time.time()
        with self.transaction() as db:
            db.execute(
                "INSERT INTO id_map (entity, source_id, intercom_id, origin, state, payload_hash, body, before, run_id, updated_at) "
                "VALUES (?, ?, ?, 'merged', 'done', ?, NULL, NULL, ?, ?) ON CONFLICT (entity, source_id) DO UPDATE SET "
                "intercom_id=excluded.intercom_id, origin='merged', state='done', payload_hash=excluded.payload_hash, body=NULL, "
                "run_id=excluded.run_id, pending_since=NULL, intent=NULL, updated_at=excluded.updated_at",
                (entity, source_id, intercom_id, merge_marker(into), run_id, now),
            )
            db.execute(
                "INSERT INTO writes (run_id, phase, entity, source_id, intercom_id, action, detail, at) VALUES (?, ?, ?, ?, ?, 'merge', ?, ?)",
                (run_id, phase, entity, source_id, intercom_id, _dump({"origin": "merged", "into": into}), now),
            )
            self._count(db, run_id, phase, "done")
            db.execute("DELETE FROM failures WHERE entity=? AND source_id=? AND phase=?", (entity, source_id, phase))

    def source_ids_for(self, entity: str, intercom_id: str) -> list[str]:
        """Every source id the id map points at one Intercom object (several when records were merged into it)."""
        # Sorted here: an ORDER BY source_id makes SQLite walk the primary key over every row of the entity instead of
        # using id_map_intercom (3 ms a call at 20,000 contacts, the whole of validate's time).
        rows = self._query("SELECT source_id FROM id_map WHERE entity=? AND intercom_id=? AND state='done'", (entity, intercom_id))
        return sorted(r[0] for r in rows)

    def log_write(
        self, run_id: str, phase: str, entity: str, source_id: str, intercom_id: str | None, action: str,
        detail: dict[str, Any] | None = None, before: dict[str, Any] | None = None,
    ) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO writes (run_id, phase, entity, source_id, intercom_id, action, detail, before, at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (run_id, phase, entity, source_id, intercom_id, action, _dump(detail), _dump(before), time.time()),
            )

    def forget(self, entity: str, source_id: str) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM id_map WHERE entity=? AND source_id=?", (entity, source_id))
            if entity in ("conversations", "tickets"):
                db.execute("DELETE FROM parts WHERE thread=?", (source_id,))
            if entity == "contacts":
                db.execute("DELETE FROM links WHERE contact_id=?", (source_id,))
            db.execute("DELETE FROM taggings WHERE entity=? AND source_id=?", (entity, source_id))

    def invalidate(self, entity: str, source_id: str) -> None:
        """Forget the last payload sent, so the next run sends it again (after its write was rolled back)."""
        with self.transaction() as db:
            db.execute("UPDATE id_map SET payload_hash=NULL WHERE entity=? AND source_id=?", (entity, source_id))

    def writes(self, run_id: str | None = None, *, include_undone: bool = False) -> list[WriteRow]:
        where = [] if include_undone else ["undone_at IS NULL"]
        params: list[Any] = []
        if run_id is not None:
            where.append("run_id=?")
            params.append(run_id)
        clause = ("WHERE " + " AND ".join(where)) if where else ""
        rows = self._query(
            f"SELECT seq, run_id, phase, entity, source_id, intercom_id, action, detail, before, after, at FROM writes {clause} ORDER BY seq",
            params,
        )
        return [
            WriteRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], _load(r[7]), _load(r[8]), _load(r[9]), r[10])
            for r in rows
        ]

    def later_writers(self, run_ids: list[str]) -> list[str]:
        """Runs outside `run_ids` that wrote, later, to a record one of `run_ids` wrote to."""
        marks = ",".join("?" for _ in run_ids)
        rows = self._query(
            f"SELECT DISTINCT later.run_id FROM writes w JOIN writes later ON later.entity=w.entity "
            f"AND later.source_id=w.source_id AND later.seq>w.seq WHERE w.run_id IN ({marks}) "
            f"AND later.run_id NOT IN ({marks}) AND w.undone_at IS NULL AND later.undone_at IS NULL ORDER BY later.run_id",
            [*run_ids, *run_ids],
        )
        return [r[0] for r in rows]

    def later_writes_exist(self, entity: str, source_id: str, after_seq: int) -> bool:
        rows = self._query(
            "SELECT 1 FROM writes WHERE entity=? AND source_id=? AND seq>? AND undone_at IS NULL LIMIT 1",
            (entity, source_id, after_seq),
        )
        return bool(rows)

    # -- rollback runs -----------------------------------------------------------------------------

    def pending_rows(self, run_ids: list[str]) -> list[IdMapRow]:
        """Creates (and adoptions) these runs had started when they stopped: their outcome in Intercom is unknown."""
        marks = ",".join("?" for _ in run_ids)
        rows = self._query(f"SELECT {ID_COLUMNS} FROM id_map WHERE state='pending' AND run_id IN ({marks}) ORDER BY entity, source_id",
                           run_ids)
        return [_id_row(r) for r in rows]

    def record_undo(self, rollback_run_id: str, *, phase: str, entity: str, source_id: str, intercom_id: str | None, action: str,
                    outcome: str, detail: dict[str, Any] | None = None, write_seqs: Iterable[int] = ()) -> None:
        """One undo action of a rollback run, and the writes it settles (marked undone by that run), in one transaction."""
        now = time.time()
        seqs = list(write_seqs)
        with self.transaction() as db:
            db.executemany("UPDATE writes SET undone_at=?, undone_by=? WHERE seq=? AND undone_at IS NULL",
                           [(now, rollback_run_id, seq) for seq in seqs])
            db.execute(
                "INSERT INTO undo_log (run_id, write_seq, phase, entity, source_id, intercom_id, action, outcome, detail, at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (rollback_run_id, seqs[-1] if seqs else None, phase, entity, source_id, intercom_id, action, outcome, _dump(detail), now),
            )

    def undo_log(self, rollback_run_id: str) -> list[dict[str, Any]]:
        rows = self._query("SELECT phase, entity, source_id, intercom_id, action, outcome, detail FROM undo_log WHERE run_id=? ORDER BY seq",
                           (rollback_run_id,))
        return [dict(zip(("phase", "entity", "source_id", "intercom_id", "action", "outcome"), r[:6], strict=True)) | {"detail": _load(r[6])}
                for r in rows]

    def rolled_back_by(self, run_id: str) -> list[str]:
        """The rollback runs that undid writes of `run_id`."""
        rows = self._query("SELECT DISTINCT undone_by FROM writes WHERE run_id=? AND undone_by IS NOT NULL ORDER BY undone_by", (run_id,))
        return [r[0] for r in rows]

    def count_writes(self, run_id: str, *, undone: bool | None = None) -> int:
        clause = "" if undone is None else (" AND undone_at IS NOT NULL" if undone else " AND undone_at IS NULL")
        return self._query(f"SELECT COUNT(*) FROM writes WHERE run_id=?{clause}", (run_id,))[0][0]

    def run_command(self, run_id: str) -> str | None:
        rows = self._query("SELECT command FROM runs WHERE run_id=?", (run_id,))
        return rows[0][0] if rows else None
