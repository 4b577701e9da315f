"""Runs: each command's run, started, finished and listed."""

from __future__ import annotations

import json
import os
import socket
import time
from typing import Any

from deskmigrate.core.ledger.rows import (
    new_run_id,
)
from deskmigrate.core.ledger.store import LedgerStore


class RunsPart(LedgerStore):
    """Every command's run: its id, command, host, status and report."""

    def start_run(self, command: str) -> str:
        run_id = new_run_id()
        with self.transaction() as db:
            db.execute(
                "UPDATE runs SET status='interrupted', finished_at=COALESCE(finished_at, ?) WHERE status='running'",
                (time.time(),),
            )
            db.execute(
                "INSERT INTO runs (run_id, command, started_at, status, pid, host) VALUES (?, ?, ?, 'running', ?, ?)",
                (run_id, command, time.time(), os.getpid(), socket.gethostname()),
            )
        return run_id

    def finish_run(self, run_id: str, status: str, report: dict[str, Any]) -> None:
        with self.transaction() as db:
            db.execute(
                "UPDATE runs SET status=?, finished_at=?, report=? WHERE run_id=?",
                (status, time.time(), json.dumps(report, default=str), run_id),
            )

    def runs(self) -> list[dict[str, Any]]:
        rows = self._query("SELECT run_id, command, started_at, finished_at, status FROM runs ORDER BY started_at, run_id")
        return [dict(zip(("run_id", "command", "started_at", "finished_at", "status"), row, strict=True)) for row in rows]

    def run_summaries(self) -> list[dict[str, Any]]:
        """Every run with what it wrote and what of it is still failed or rejected, and the error a dead run left."""
        rows = self._query(
            "SELECT r.run_id, r.command, r.started_at, r.finished_at, r.status, "
            "(SELECT COUNT(*) FROM writes w WHERE w.run_id=r.run_id), (SELECT COUNT(*) FROM failures f WHERE f.run_id=r.run_id), "
            "CASE WHEN json_valid(r.report) THEN json_extract(r.report, '$.error') END, "
            "CASE WHEN json_valid(r.report) THEN json_extract(r.report, '$.sync') END FROM runs r ORDER BY r.started_at, r.run_id"
        )
        keys = ("run_id", "command", "started_at", "finished_at", "status", "writes", "open_failures", "error", "sync")
        summaries = [dict(zip(keys, row, strict=True)) for row in rows]
        for summary in summaries:  # a `sync` cycle's lag and landings, as its report has them; other runs have none
            summary["sync"] = json.loads(summary["sync"]) if summary["sync"] else None
        return summaries

    def landings(self, run_id: str) -> list[tuple[str, str, float]]:
        """Each record a run wrote (as the id map names it: entity, source id) with the time of its last write."""
        rows = self._query("SELECT entity, source_id, MAX(at) FROM writes WHERE run_id=? GROUP BY entity, source_id", (run_id,))
        return [(str(entity), str(source_id), float(at)) for entity, source_id, at in rows]

    def run_exists(self, run_id: str) -> bool:
        return bool(self._query("SELECT 1 FROM runs WHERE run_id=?", (run_id,)))
