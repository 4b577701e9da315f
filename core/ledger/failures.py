"""Failures, notices and progress: what went wrong per record, what a load changed about one, per-phase counts."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import Any

from deskmigrate.core.ledger.rows import (
    Failure,
    Notice,
)
from deskmigrate.core.ledger.store import LedgerStore


class FailuresPart(LedgerStore):
    """Failures (listed and retried), notices (what a load changed without failing) and per-phase counts."""

    def record_notice(self, run_id: str, entity: str, source_id: str, kind: str, detail: str) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO notices VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (entity, source_id, kind) DO UPDATE SET "
                "detail=excluded.detail, run_id=excluded.run_id, at=excluded.at",
                (entity, source_id, kind, detail, run_id, time.time()),
            )

    def record_notices(self, run_id: str, notices: Iterable[tuple[str, str, str, str]]) -> None:
        """Many (entity, source id, kind, detail) notices in one transaction (the mapping's field notes, by the thousand)."""
        now = time.time()
        with self.transaction() as db:
            db.executemany(
                "INSERT INTO notices VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (entity, source_id, kind) DO UPDATE SET "
                "detail=excluded.detail, run_id=excluded.run_id, at=excluded.at",
                [(entity, source_id, kind, detail, run_id, now) for entity, source_id, kind, detail in notices],
            )

    def clear_stale_notices(self, entity: str, kind_prefix: str, run_id: str) -> None:
        """Forget notices of `entity` whose kind starts with `kind_prefix` that the run `run_id` did not record again."""
        with self.transaction() as db:
            db.execute("DELETE FROM notices WHERE entity=? AND substr(kind, 1, ?)=? AND run_id!=?",
                       (entity, len(kind_prefix), kind_prefix, run_id))

    def iter_notices(self, run_id: str, batch_size: int = 2000) -> Iterator[Notice]:
        """The notices `run_id` recorded, streamed in the order recorded."""
        last = 0
        while True:
            rows = self._query("SELECT rowid, entity, source_id, kind, detail, run_id FROM notices WHERE run_id=? AND rowid>? "
                               "ORDER BY rowid LIMIT ?", (run_id, last, batch_size))
            if not rows:
                return
            for row in rows:
                last = row[0]
                yield Notice(*row[1:])

    def notice_kinds(self) -> dict[str, int]:
        """How many notices of each kind per entity ("contacts: field:phone" → 12)."""
        rows = self._query("SELECT entity || ': ' || kind, COUNT(*) FROM notices GROUP BY entity, kind ORDER BY entity, kind")
        return {row[0]: row[1] for row in rows}

    def open_failure_counts(self) -> dict[str, int]:
        """Open failures as rejected (by the source rows or the mapping) and failed (in a load phase)."""
        rows = self._query("SELECT CASE WHEN phase IN ('extract', 'mapping') THEN 'rejected' ELSE 'failed' END, COUNT(*) "
                           "FROM failures GROUP BY 1")
        return {row[0]: row[1] for row in rows}

    def notices(self, entity: str | None = None) -> list[Notice]:
        sql = "SELECT entity, source_id, kind, detail, run_id FROM notices"
        rows = self._query(sql + (" WHERE entity=?" if entity else "") + " ORDER BY entity, source_id, kind", (entity,) if entity else ())
        return [Notice(*r) for r in rows]

    # -- progress and failures -----------------------------------------------------------------

    def start_phase(self, run_id: str, phase: str, total: int | None) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO progress (run_id, phase, total, status, updated_at) VALUES (?, ?, ?, 'running', ?) "
                "ON CONFLICT (run_id, phase) DO UPDATE SET total=excluded.total, status='running', updated_at=excluded.updated_at",
                (run_id, phase, total, time.time()),
            )

    def finish_phase(self, run_id: str, phase: str, status: str = "done") -> None:
        with self.transaction() as db:
            db.execute("UPDATE progress SET status=?, updated_at=? WHERE run_id=? AND phase=?", (status, time.time(), run_id, phase))

    def count_unchanged(self, run_id: str, phase: str, n: int = 1) -> None:
        with self.transaction() as db:
            self._count(db, run_id, phase, "unchanged", n)

    def progress(self, run_id: str) -> list[dict[str, Any]]:
        rows = self._query(
            "SELECT phase, total, done, unchanged, failed, status FROM progress WHERE run_id=? ORDER BY rowid", (run_id,)
        )
        return [dict(zip(("phase", "total", "done", "unchanged", "failed", "status"), r, strict=True)) for r in rows]

    def record_failure(
        self, run_id: str, phase: str, entity: str, source_id: str, reason: str, *, field: str | None = None,
        request_id: str | None = None, excerpt: str | None = None,
    ) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO failures VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (entity, source_id, phase) DO UPDATE SET "
                "run_id=excluded.run_id, reason=excluded.reason, field=excluded.field, request_id=excluded.request_id, "
                "excerpt=excluded.excerpt, at=excluded.at",
                (entity, source_id, phase, run_id, reason, field, request_id, excerpt, time.time()),
            )
            self._count(db, run_id, phase, "failed")

    def record_failures(self, run_id: str, phase: str, failures: Iterable[tuple[str, str, str, str | None]]) -> None:
        """Many (entity, source id, reason, field) failures of one phase in one transaction (a plan's rejections, by the thousand)."""
        rows = [(entity, source_id, phase, run_id, reason, field, None, None, time.time()) for entity, source_id, reason, field in failures]
        if not rows:
            return
        with self.transaction() as db:
            db.executemany(
                "INSERT INTO failures VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (entity, source_id, phase) DO UPDATE SET "
                "run_id=excluded.run_id, reason=excluded.reason, field=excluded.field, request_id=excluded.request_id, "
                "excerpt=excluded.excerpt, at=excluded.at",
                rows,
            )
            self._count(db, run_id, phase, "failed", len(rows))

    def clear_failures(self, entity: str, phase: str) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM failures WHERE entity=? AND phase=?", (entity, phase))

    def clear_stale_failures(self, entity: str, phase: str, run_id: str) -> None:
        """Forget the failures of `entity` in `phase` that the run `run_id` did not report again."""
        with self.transaction() as db:
            db.execute("DELETE FROM failures WHERE entity=? AND phase=? AND run_id!=?", (entity, phase, run_id))

    def clear_failure(self, entity: str, source_id: str, phase: str) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM failures WHERE entity=? AND source_id=? AND phase=?", (entity, source_id, phase))

    def failure_of(self, entity: str, source_id: str, phase: str | None = None) -> Failure | None:
        """The latest recorded failure of one record (in `phase`, else in any phase)."""
        sql = "SELECT entity, source_id, phase, run_id, reason, field, request_id, excerpt FROM failures WHERE entity=? AND source_id=?"
        params: list[Any] = [entity, source_id]
        if phase is not None:
            sql += " AND phase=?"
            params.append(phase)
        rows = self._query(sql + " ORDER BY at DESC LIMIT 1", params)
        return Failure(*rows[0]) if rows else None

    def iter_failures(self, run_id: str | None = None, batch_size: int = 2000) -> Iterator[tuple[Failure, str | None]]:
        """Every open failure (of `run_id`, else all) in the order recorded, with where its record was read when it
        was staged (file:line or page); streamed, for exports of any size."""
        last = 0
        where = " AND f.run_id=?" if run_id else ""
        while True:
            rows = self._query(
                "SELECT f.rowid, f.entity, f.source_id, f.phase, f.run_id, f.reason, f.field, f.request_id, f.excerpt, "
                "json_extract(s.record, '$.location') FROM failures f LEFT JOIN staged s ON s.entity=f.entity AND s.source_id=f.source_id "
                f"WHERE f.rowid>?{where} ORDER BY f.rowid LIMIT ?", (last, *((run_id,) if run_id else ()), batch_size))
            if not rows:
                return
            for row in rows:
                last = row[0]
                yield Failure(*row[1:9]), row[9]

    def count_failures(self, run_id: str | None = None) -> int:
        return self._query("SELECT COUNT(*) FROM failures" + (" WHERE run_id=?" if run_id else ""), (run_id,) if run_id else ())[0][0]

    def failures(self, run_id: str | None = None) -> list[Failure]:
        sql = "SELECT entity, source_id, phase, run_id, reason, field, request_id, excerpt FROM failures"
        rows = self._query(sql + (" WHERE run_id=?" if run_id else "") + " ORDER BY phase, entity, source_id", (run_id,) if run_id else ())
        return [Failure(*r) for r in rows]
