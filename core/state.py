"""The ledger: one SQLite file per migration project that makes every run resumable, repeatable and reversible.

It holds staged source records, the source → Intercom id map with before-images, every write a run
made, per-phase progress, failures, source cursors, company links and taggings. It holds customer
data, so the file is created with mode 0600 in a 0700 folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

from deskmigrate.core.errors import LedgerLostError, StateError
from deskmigrate.core.ledger_schema import SCHEMA_V1, SCHEMA_VERSION, apply_migrations, pending_migrations, schema_version
from deskmigrate.core.model import Record, record_from_json

# The failures phase of records the mapping refused (not a load failure: fixed by editing the mapping or the source).
MAPPING_PHASE = "mapping"
# The notice kind that says why a record was left out on purpose (deleted in the source, the mapping says skip).
SKIPPED = "skipped"
# Files an earlier run leaves in the state folder: with any of them there, a missing ledger is lost, not new.
HISTORY_MARKERS = (("reports", "*.json", "run report"), ("logs", "*.log", "run log"), ("plan", "*.jsonl", "plan file"))


def record_hash(record: Record) -> str:
    return hashlib.sha256(record.model_dump_json().encode("utf-8")).hexdigest()


def merge_marker(into: str) -> str:
    """The payload hash of a merged id-map row: names the record it was merged into, never equal to a body hash."""
    return f"merged-into:{into}"


def tag_key(name: str) -> str:
    """Intercom tag names are case-insensitive."""
    return name.strip().lower()


@dataclass(frozen=True)
class IdMapRow:
    entity: str
    source_id: str
    intercom_id: str | None
    origin: str | None  # created | adopted
    state: str  # pending | done
    payload_hash: str | None
    body: dict[str, Any] | None
    before: dict[str, Any] | None
    run_id: str
    pending_since: float | None
    intent: dict[str, Any] | None = None  # pending creates: the body about to be sent
    facts: float | None = None  # adopted records: when their pre-existing tags and company links were recorded


@dataclass(frozen=True)
class PartRow:
    """One planned Intercom part of a multi-part record (a conversation's reply or note), in its thread."""

    record_id: str
    step: str
    position: int
    thread: str
    intercom_id: str | None
    state: str  # pending | done
    expected: dict[str, Any] | None
    pending_since: float | None


@dataclass(frozen=True)
class Notice:
    entity: str
    source_id: str
    kind: str
    detail: str
    run_id: str


@dataclass(frozen=True)
class Failure:
    entity: str
    source_id: str
    phase: str
    run_id: str
    reason: str
    field: str | None
    request_id: str | None
    excerpt: str | None


@dataclass(frozen=True)
class StagedDuplicate:
    """A record whose source id this run had staged already (the last occurrence wins), and where the earlier one was read."""

    record: Record
    previous_location: str | None

    @property
    def source_id(self) -> str:
        return self.record.source_id

    @property
    def entity(self) -> str:
        return str(getattr(self.record, "entity", ""))


@dataclass(frozen=True)
class SharedEmailContact:
    """One of several staged contacts with the same email: its times as staged (ISO text or raw source text)."""

    source_id: str
    email: str
    updated_at: str | None
    created_at: str | None
    location: str | None
    seq: int


@dataclass
class OutcomeGroup:
    """Records that share one outcome and one reason, as the ledger knows them."""

    outcome: str
    reason: str
    count: int
    examples: list[tuple[str, str | None]]  # (source id, file:line or page) of the first few


@dataclass(frozen=True)
class WriteRow:
    seq: int
    run_id: str
    phase: str
    entity: str
    source_id: str
    intercom_id: str | None
    action: str
    detail: dict[str, Any] | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None = None  # what the write sent
    at: float = 0.0


@dataclass(frozen=True)
class Fact:
    """A tagging or company link as the ledger knows it: who made it (created | found | legacy) and whether it landed."""

    entity: str
    source_id: str
    key: str  # the tag key, or the company's source id
    origin: str
    state: str
    run_id: str


def new_run_id() -> str:
    """UTC start time to the millisecond, then a random tail: run ids (and report file names) sort in run order."""
    now = time.time()
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z-" + uuid.uuid4().hex[:4]


def _create_private_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.chmod(path.parent, 0o700)
    except OSError:
        pass
    # An existing file is never opened outside SQLite: closing any descriptor of it drops the POSIX locks of this
    # process's open connections (https://www.sqlite.org/howtocorrupt.html, section 2.2).
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
    except FileExistsError:
        pass
    else:
        os.close(fd)
    os.chmod(path, 0o600)


def _deskmigrate_version() -> str:
    try:
        return package_version("deskmigrate")
    except PackageNotFoundError:
        return "unknown"


def _utc_stamp(moment: float) -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(moment))


def state_history(state_dir: Path) -> list[str]:
    """What earlier runs left in a state folder (reports, logs, plan files), as counted phrases; empty for a new folder."""
    found = []
    for folder, pattern, label in HISTORY_MARKERS:
        count = len(list((state_dir / folder).glob(pattern))) if (state_dir / folder).is_dir() else 0
        if count:
            found.append(f"{count} {label}{'s' if count != 1 else ''} in {folder}/")
    return found


def ledger_copies(path: Path) -> list[Path]:
    """Copies of the ledger beside it: taken before a schema migration (.bak), or set aside by --new-ledger (.lost-…)."""
    return sorted(p for p in path.parent.glob(path.name + ".*") if p.name.endswith(".bak") or ".lost-" in p.name)


def _lost(path: Path, reason: str, history: list[str]) -> LedgerLostError:
    copies = ledger_copies(path)
    where = f", or one of the copies beside it: {', '.join(p.name for p in copies)}" if copies else ""
    lines = [
        f"the ledger {path} is {reason}, but this state folder shows earlier runs ({', '.join(history)}).",
        "Without the ledger deskmigrate cannot tell what it created from what was there before, so nothing was done.",
        f"  • to go on: put the ledger back at {path} (from your backups{where}) and run the command again;",
        "  • to start over deliberately: run with --new-ledger. Records already in Intercom are then adopted as they are now:",
        "    their fields, tags and company links count as pre-existing, so no rollback will remove them.",
    ]
    return LedgerLostError("\n".join(lines), path=str(path), reason=reason, history=history, backups=[str(p) for p in copies])


def _set_aside(path: Path) -> None:
    """Start over (--new-ledger): a lost ledger and its sidecars are renamed aside, never deleted; a healthy one is refused."""
    if path.exists() and path.stat().st_size > 0:
        try:
            probe = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            try:
                runs = probe.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
            finally:
                probe.close()
        except sqlite3.DatabaseError:
            runs = 0
        if runs:
            raise StateError(f"the ledger {path} is not lost: it records {runs} run(s). --new-ledger only starts over when the "
                             "ledger is missing, empty or unreadable")
    stamp = _utc_stamp(time.time())
    for suffix in ("", "-wal", "-shm"):
        old = Path(str(path) + suffix)
        if old.exists():
            old.rename(path.with_name(f"{path.name}.lost-{stamp}{suffix}"))


class Ledger:
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

    # -- runs ----------------------------------------------------------------------------------

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

    def run_exists(self, run_id: str) -> bool:
        return bool(self._query("SELECT 1 FROM runs WHERE run_id=?", (run_id,)))

    # -- cursors -------------------------------------------------------------------------------

    def get_cursor(self, source: str, entity: str) -> str | None:
        rows = self._query("SELECT cursor FROM cursors WHERE source=? AND entity=?", (source, entity))
        return rows[0][0] if rows else None

    # -- staging -------------------------------------------------------------------------------

    def stage(self, run_id: str, records: list[Record], cursor: tuple[str, str, str] | None = None) -> list[StagedDuplicate]:
        """Stage a page of records (upsert by entity + source id) and, in the same transaction, its cursor.

        Returns the records whose source id was already staged by this same run: duplicates, last wins, each with
        where the occurrence it replaced was read.
        """
        duplicates: list[StagedDuplicate] = []
        with self.transaction() as db:
            seq = db.execute("SELECT COALESCE(MAX(seq), 0) FROM staged").fetchone()[0]
            for record in records:
                seq += 1
                entity = record.entity  # type: ignore[attr-defined]
                previous = db.execute(
                    "SELECT run_id, json_extract(record, '$.location') FROM staged WHERE entity=? AND source_id=?",
                    (entity, record.source_id),
                ).fetchone()
                if previous is not None and previous[0] == run_id:
                    duplicates.append(StagedDuplicate(record, previous[1]))
                db.execute(
                    "INSERT INTO staged (entity, source_id, record, hash, run_id, seq) VALUES (?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (entity, source_id) DO UPDATE SET record=excluded.record, hash=excluded.hash, "
                    "run_id=excluded.run_id, seq=CASE WHEN staged.run_id=excluded.run_id THEN staged.seq ELSE excluded.seq END",
                    (entity, record.source_id, record.model_dump_json(), record_hash(record), run_id, seq),
                )
            if cursor is not None:
                source, entity, value = cursor
                db.execute(
                    "INSERT INTO cursors VALUES (?, ?, ?, ?, ?) ON CONFLICT (source, entity) DO UPDATE SET "
                    "cursor=excluded.cursor, run_id=excluded.run_id, updated_at=excluded.updated_at",
                    (source, entity, value, run_id, time.time()),
                )
        return duplicates

    def contacts_sharing_email(self) -> list[list[SharedEmailContact]]:
        """Staged contacts whose emails are equal ignoring case, grouped, each group in staging order.

        Intercom keeps user emails unique, so each group can become one Intercom contact only.
        """
        rows = self._query(
            "SELECT lower(trim(json_extract(record, '$.email'))) AS email_key, source_id, json_extract(record, '$.email'), "
            "json_extract(record, '$.updated_at'), json_extract(record, '$.created_at'), json_extract(record, '$.location'), seq "
            "FROM staged WHERE entity='contacts' AND email_key IN ("
            "  SELECT lower(trim(json_extract(record, '$.email'))) AS k FROM staged WHERE entity='contacts' AND k IS NOT NULL AND k != '' "
            "  GROUP BY k HAVING COUNT(*) > 1) ORDER BY email_key, seq"
        )
        groups: dict[str, list[SharedEmailContact]] = {}
        for key, source_id, email, updated_at, created_at, location, seq in rows:
            groups.setdefault(key, []).append(SharedEmailContact(source_id, email, updated_at, created_at, location, seq))
        return list(groups.values())

    def staged_record(self, entity: str, source_id: str) -> Record | None:
        rows = self._query("SELECT record FROM staged WHERE entity=? AND source_id=?", (entity, source_id))
        return record_from_json(entity, json.loads(rows[0][0])) if rows else None

    def count_staged(self, entity: str) -> int:
        return self._query("SELECT COUNT(*) FROM staged WHERE entity=?", (entity,))[0][0]

    def iter_staged(self, entity: str, batch_size: int = 1000) -> Iterator[Record]:
        """Stream staged records in source order without holding them all (keyset pagination on seq)."""
        last_seq = -1
        while True:
            rows = self._query(
                "SELECT seq, record FROM staged WHERE entity=? AND seq>? ORDER BY seq LIMIT ?",
                (entity, last_seq, batch_size),
            )
            if not rows:
                return
            for seq, text in rows:
                last_seq = seq
                yield record_from_json(entity, json.loads(text))

    # -- id map ----------------------------------------------------------------------------------

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
        rows = self._query(
            "SELECT source_id FROM id_map WHERE entity=? AND intercom_id=? AND state='done' ORDER BY source_id", (entity, intercom_id)
        )
        return [r[0] for r in rows]

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

    # -- company links and tags ----------------------------------------------------------------
    # A tagging or link row says the fact holds in Intercom and who made it: created (deskmigrate; a delta or rollback
    # may remove it), found (there before deskmigrate first wrote to the record: never removed) or legacy (written by
    # schema 1 to a pre-existing record, ownership unknown: kept). State pending: sent or about to be, outcome unknown.

    def applied_links(self, contact_source_id: str) -> set[str]:
        """Companies (source ids) the contact is linked to as far as the ledger knows, whoever linked it."""
        return {r[0] for r in self._query("SELECT company_id FROM links WHERE contact_id=? AND state='done'", (contact_source_id,))}

    def owned_links(self, contact_source_id: str) -> set[str]:
        """The contact's company links deskmigrate created (pending ones too): the only ones a delta may remove."""
        rows = self._query("SELECT company_id FROM links WHERE contact_id=? AND origin='created'", (contact_source_id,))
        return {r[0] for r in rows}

    def mark_link_pending(self, run_id: str, contact_source_id: str, company_source_id: str) -> None:
        """Before attaching: a crash leaves this trace, and a rollback detaches it whether or not the call landed."""
        with self.transaction() as db:
            db.execute("INSERT OR IGNORE INTO links (contact_id, company_id, run_id, origin, state) VALUES (?, ?, ?, 'created', 'pending')",
                       (contact_source_id, company_source_id, run_id))

    def set_link(self, run_id: str, contact_source_id: str, company_source_id: str, *, present: bool, contact_intercom_id: str,
                 company_intercom_id: str) -> None:
        action = "link" if present else "unlink"
        with self.transaction() as db:
            if present:
                db.execute(
                    "INSERT INTO links (contact_id, company_id, run_id, origin, state) VALUES (?, ?, ?, 'created', 'done') "
                    "ON CONFLICT (contact_id, company_id) DO UPDATE SET state='done', run_id=excluded.run_id",
                    (contact_source_id, company_source_id, run_id))
            else:
                db.execute("DELETE FROM links WHERE contact_id=? AND company_id=?", (contact_source_id, company_source_id))
            detail = {"company_source_id": company_source_id, "company_intercom_id": company_intercom_id}
            db.execute(
                "INSERT INTO writes (run_id, phase, entity, source_id, intercom_id, action, detail, after, at) "
                "VALUES (?, 'contacts', 'contacts', ?, ?, ?, ?, ?, ?)",
                (run_id, contact_source_id, contact_intercom_id, action, _dump(detail), _dump(detail), time.time()),
            )

    def record_found(self, run_id: str, entity: str, source_id: str, *, tags: Iterable[str] = (), companies: Iterable[str] = ()) -> None:
        """What a pre-existing record carried before deskmigrate first wrote to it: its tags (keys) and company links (source
        ids). One transaction, before the first write; facts the ledger knows already keep their owner."""
        now = time.time()
        with self.transaction() as db:
            db.executemany("INSERT OR IGNORE INTO taggings (entity, source_id, tag, run_id, origin, state) VALUES (?, ?, ?, ?, 'found', 'done')",
                           [(entity, source_id, tag, run_id) for tag in tags])
            if entity == "contacts":
                db.executemany("INSERT OR IGNORE INTO links (contact_id, company_id, run_id, origin, state) VALUES (?, ?, ?, 'found', 'done')",
                               [(source_id, company, run_id) for company in companies])
            db.execute("UPDATE id_map SET facts=? WHERE entity=? AND source_id=?", (now, entity, source_id))

    def known_facts(self, entity: str, source_id: str) -> tuple[set[str], set[str]]:
        """Tag keys and company source ids the ledger has any row for (any owner, any state)."""
        tags = {r[0] for r in self._query("SELECT tag FROM taggings WHERE entity=? AND source_id=?", (entity, source_id))}
        links = {r[0] for r in self._query("SELECT company_id FROM links WHERE contact_id=?", (source_id,))} if entity == "contacts" else set()
        return tags, links

    def set_desired_tags(self, entity: str, source_id: str, names: Iterable[str]) -> bool:
        """Replace the tags a record should carry; returns True when they changed."""
        wanted = {tag_key(n): n.strip() for n in names if n and n.strip()}
        with self.transaction() as db:
            current = {r[0] for r in db.execute("SELECT tag FROM desired_tags WHERE entity=? AND source_id=?", (entity, source_id))}
            if current == set(wanted):
                return False
            db.execute("DELETE FROM desired_tags WHERE entity=? AND source_id=?", (entity, source_id))
            db.executemany(
                "INSERT INTO desired_tags VALUES (?, ?, ?, ?)", [(entity, source_id, key, name) for key, name in wanted.items()]
            )
            return True

    def tag_names_wanted(self) -> dict[str, str]:
        """Every tag some record should carry: key → display name."""
        return {r[0]: r[1] for r in self._query("SELECT tag, MIN(name) FROM desired_tags GROUP BY tag ORDER BY tag")}

    def taggings_to_add(self, tag: str, entity: str) -> list[str]:
        """Records that should carry `tag` and are not known to (a pending tagging is sent again: tagging is idempotent)."""
        rows = self._query(
            "SELECT d.source_id FROM desired_tags d LEFT JOIN taggings t ON t.entity=d.entity AND t.source_id=d.source_id "
            "AND t.tag=d.tag WHERE d.tag=? AND d.entity=? AND (t.tag IS NULL OR t.state='pending') ORDER BY d.source_id",
            (tag, entity),
        )
        return [r[0] for r in rows]

    def taggings_to_remove(self, entity: str) -> list[tuple[str, str]]:
        """(tag, source_id) pairs deskmigrate applied earlier that no record wants any more; found ones always stay."""
        rows = self._query(
            "SELECT t.tag, t.source_id FROM taggings t LEFT JOIN desired_tags d ON t.entity=d.entity AND t.source_id=d.source_id "
            "AND t.tag=d.tag WHERE t.entity=? AND t.origin='created' AND d.tag IS NULL ORDER BY t.tag, t.source_id",
            (entity,),
        )
        return [(r[0], r[1]) for r in rows]

    def mark_taggings_pending(self, run_id: str, tag: str, entity: str, source_ids: list[str]) -> None:
        """Before a tag call: a crash leaves this trace, and a rollback removes the tagging whether or not the call landed."""
        with self.transaction() as db:
            db.executemany("INSERT OR IGNORE INTO taggings (entity, source_id, tag, run_id, origin, state) VALUES (?, ?, ?, ?, 'created', 'pending')",
                           [(entity, source_id, tag, run_id) for source_id in source_ids])

    def record_taggings(self, run_id: str, tag: str, tag_id: str, entity: str, source_ids: list[str], *, present: bool) -> None:
        action = "tag" if present else "untag"
        now = time.time()
        with self.transaction() as db:
            for source_id in source_ids:
                if present:
                    db.execute(
                        "INSERT INTO taggings (entity, source_id, tag, run_id, origin, state) VALUES (?, ?, ?, ?, 'created', 'done') "
                        "ON CONFLICT (entity, source_id, tag) DO UPDATE SET state='done', run_id=excluded.run_id",
                        (entity, source_id, tag, run_id))
                else:
                    db.execute("DELETE FROM taggings WHERE entity=? AND source_id=? AND tag=?", (entity, source_id, tag))
                intercom_id = db.execute(
                    "SELECT intercom_id FROM id_map WHERE entity=? AND source_id=?", (entity, source_id)
                ).fetchone()
                detail = {"tag": tag, "tag_id": tag_id}
                db.execute(
                    "INSERT INTO writes (run_id, phase, entity, source_id, intercom_id, action, detail, after, at) "
                    "VALUES (?, 'tags', ?, ?, ?, ?, ?, ?, ?)",
                    (run_id, entity, source_id, intercom_id[0] if intercom_id else None, action, _dump(detail), _dump(detail), now),
                )
            self._count(db, run_id, "tags", "done", len(source_ids))

    def applied_taggings(self, entity: str, source_id: str) -> set[str]:
        """Tags the record carries as far as the ledger knows, whoever applied them."""
        return {r[0] for r in self._query("SELECT tag FROM taggings WHERE entity=? AND source_id=? AND state='done'", (entity, source_id))}

    def tagging(self, entity: str, source_id: str, tag: str) -> Fact | None:
        rows = self._query("SELECT entity, source_id, tag, origin, state, run_id FROM taggings WHERE entity=? AND source_id=? AND tag=?",
                           (entity, source_id, tag))
        return Fact(*rows[0]) if rows else None

    def link(self, contact_source_id: str, company_source_id: str) -> Fact | None:
        rows = self._query("SELECT 'contacts', contact_id, company_id, origin, state, run_id FROM links WHERE contact_id=? AND company_id=?",
                           (contact_source_id, company_source_id))
        return Fact(*rows[0]) if rows else None

    def taggings_with(self, tag: str) -> list[Fact]:
        """Every record the ledger knows carries `tag`, with its owner."""
        rows = self._query("SELECT entity, source_id, tag, origin, state, run_id FROM taggings WHERE tag=? ORDER BY entity, source_id", (tag,))
        return [Fact(*r) for r in rows]

    def pending_facts(self, run_ids: list[str]) -> list[Fact]:
        """Taggings and company links a run was applying when it stopped (state pending)."""
        marks = ",".join("?" for _ in run_ids)
        rows = self._query(
            f"SELECT entity, source_id, tag, origin, state, run_id FROM taggings WHERE state='pending' AND run_id IN ({marks}) "
            f"UNION ALL SELECT 'links', contact_id, company_id, origin, state, run_id FROM links WHERE state='pending' AND run_id IN ({marks})",
            [*run_ids, *run_ids],
        )
        return [Fact(*r) for r in rows]

    def drop_tagging(self, entity: str, source_id: str, tag: str) -> None:
        """Rollback: the tagging is gone from Intercom (no write is logged: a rollback's actions are in its undo log)."""
        with self.transaction() as db:
            db.execute("DELETE FROM taggings WHERE entity=? AND source_id=? AND tag=?", (entity, source_id, tag))

    def restore_tagging(self, run_id: str, entity: str, source_id: str, tag: str) -> None:
        """Rollback of a delta that removed a tagging deskmigrate had applied: it is back, still deskmigrate's."""
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO taggings (entity, source_id, tag, run_id, origin, state) VALUES (?, ?, ?, ?, 'created', 'done')",
                       (entity, source_id, tag, run_id))

    def drop_link(self, contact_source_id: str, company_source_id: str) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM links WHERE contact_id=? AND company_id=?", (contact_source_id, company_source_id))

    def restore_link(self, run_id: str, contact_source_id: str, company_source_id: str) -> None:
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO links (contact_id, company_id, run_id, origin, state) VALUES (?, ?, ?, 'created', 'done')",
                       (contact_source_id, company_source_id, run_id))

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

    # -- parts of multi-part records (conversation replies and notes) ----------------------------

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

    # -- notices: what a load changed about a record without failing it --------------------------

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

    def _count(self, db: sqlite3.Connection, run_id: str, phase: str, column: str, n: int = 1) -> None:
        db.execute(
            f"INSERT INTO progress (run_id, phase, {column}, status, updated_at) VALUES (?, ?, ?, 'running', ?) "
            f"ON CONFLICT (run_id, phase) DO UPDATE SET {column}={column}+excluded.{column}, updated_at=excluded.updated_at",
            (run_id, phase, n, time.time()),
        )

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

    def failures(self, run_id: str | None = None) -> list[Failure]:
        sql = "SELECT entity, source_id, phase, run_id, reason, field, request_id, excerpt FROM failures"
        rows = self._query(sql + (" WHERE run_id=?" if run_id else "") + " ORDER BY phase, entity, source_id", (run_id,) if run_id else ())
        return [Failure(*r) for r in rows]

    # -- reconciliation: one outcome for every record the source gave ---------------------------

    def record_outcomes(self, entity: str, landed_as: tuple[str, ...], run_id: str | None) -> list[OutcomeGroup]:
        """Every staged record of `entity` with one outcome, grouped by (outcome, raw reason), three examples each.

        Outcomes, first that holds: rejected (the mapping refused it), failed (an open failure in a load phase),
        created / adopted / merged / updated (written by `run_id`), unchanged (in Intercom from an earlier run),
        skipped (a `skipped` notice says why), pending (not loaded yet). `landed_as` are the id-map entities the
        record lands as (conversations land as conversations or tickets; a long one as `<id>`, `<id>#1`, …).
        """
        params: dict[str, Any] = {"entity": entity, "run": run_id or ""}
        params.update({f"as{index}": name for index, name in enumerate(landed_as)})
        marks = ",".join(f":as{index}" for index in range(len(landed_as)))
        same_record = "(x.source_id=s.source_id OR (x.source_id > s.source_id || '#' AND x.source_id < s.source_id || '$'))"
        landed = f"SELECT 1 FROM id_map x WHERE x.entity IN ({marks}) AND x.state='done' AND {same_record}"
        written = (f"SELECT MIN(CASE x.action WHEN 'create' THEN 1 WHEN 'adopt' THEN 2 WHEN 'merge' THEN 3 ELSE 4 END) "
                   f"FROM writes x WHERE x.entity IN ({marks}) AND x.run_id=:run AND x.undone_at IS NULL "
                   f"AND x.action IN ('create','adopt','merge','update') AND {same_record}")
        sql = f"""
            WITH judged AS (
              SELECT s.source_id, json_extract(s.record, '$.location') AS location,
                (SELECT reason FROM failures f WHERE f.entity=s.entity AND f.source_id=s.source_id AND f.phase='{MAPPING_PHASE}') AS rejected,
                (SELECT reason FROM failures f WHERE f.entity=s.entity AND f.source_id=s.source_id
                   AND f.phase NOT IN ('extract', '{MAPPING_PHASE}') ORDER BY f.phase=:entity DESC, f.at LIMIT 1) AS failed,
                EXISTS ({landed}) AS is_landed, ({written}) AS write_rank,
                (SELECT detail FROM notices n WHERE n.entity=s.entity AND n.source_id=s.source_id AND n.kind='{SKIPPED}') AS skipped
              FROM staged s WHERE s.entity=:entity)
            , classified AS (
              SELECT CASE WHEN rejected IS NOT NULL THEN 'rejected' WHEN failed IS NOT NULL THEN 'failed'
                          WHEN is_landed AND write_rank=1 THEN 'created' WHEN is_landed AND write_rank=2 THEN 'adopted'
                          WHEN is_landed AND write_rank=3 THEN 'merged' WHEN is_landed AND write_rank=4 THEN 'updated'
                          WHEN is_landed THEN 'unchanged' WHEN skipped IS NOT NULL THEN 'skipped' ELSE 'pending' END AS outcome,
                     COALESCE(rejected, failed, CASE WHEN NOT is_landed THEN skipped END, '') AS reason,
                     source_id, location
              FROM judged)
            {_FIRST_OF_EACH_GROUP}"""
        with self._lock:
            return _grouped(self._db.execute(sql, params).fetchall())

    def unstaged_outcomes(self, entity: str) -> list[OutcomeGroup]:
        """What the source gave for `entity` that was never staged: rows rejected at extract, records skipped there."""
        sql = f"""
            WITH classified AS (
              SELECT 'rejected' AS outcome, reason, source_id, NULL AS location FROM failures f WHERE f.entity=? AND f.phase='extract'
                AND NOT EXISTS (SELECT 1 FROM staged s WHERE s.entity=f.entity AND s.source_id=f.source_id)
              UNION ALL
              SELECT 'skipped', detail, source_id, NULL FROM notices n WHERE n.entity=? AND n.kind='{SKIPPED}'
                AND NOT EXISTS (SELECT 1 FROM staged s WHERE s.entity=n.entity AND s.source_id=n.source_id))
            {_FIRST_OF_EACH_GROUP}"""
        return _grouped(self._query(sql, (entity, entity)))

    def unstaged_entities(self) -> list[str]:
        """Entities with extract rejections or source skips, whether or not any of their records was staged."""
        rows = self._query(
            f"SELECT entity FROM failures WHERE phase='extract' UNION SELECT entity FROM notices WHERE kind='{SKIPPED}'"
        )
        return [r[0] for r in rows]

    def staged_entities(self) -> list[str]:
        return [r[0] for r in self._query("SELECT DISTINCT entity FROM staged ORDER BY entity")]

    def staged_custom_field_keys(self, entity: str) -> set[str]:
        """Every key some staged record of `entity` has in its custom_fields (one pass over the staged JSON)."""
        rows = self._query(
            "SELECT DISTINCT j.key FROM staged s, json_each(s.record, '$.custom_fields') j WHERE s.entity=?", (entity,)
        )
        return {str(r[0]) for r in rows}

    def get_meta(self, key: str) -> str | None:
        rows = self._query("SELECT value FROM meta WHERE key=?", (key,))
        return str(rows[0][0]) if rows else None

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as db:
            db.execute("INSERT INTO meta VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value=excluded.value", (key, value))


# Over a `classified` (outcome, reason, source_id, location) set: per (outcome, reason) its count and first three
# records, so a million records come back as a few rows.
_FIRST_OF_EACH_GROUP = """
    , numbered AS (
      SELECT outcome, reason, source_id, location, COUNT(*) OVER grp AS n,
             ROW_NUMBER() OVER (PARTITION BY outcome, reason ORDER BY source_id) AS rn
      FROM classified WINDOW grp AS (PARTITION BY outcome, reason))
    SELECT outcome, reason, n, source_id, location FROM numbered WHERE rn <= 3 ORDER BY outcome, reason, rn"""


def _grouped(rows: Iterable[sqlite3.Row | tuple[Any, ...]]) -> list[OutcomeGroup]:
    """Rows of (outcome, reason, count, source id, location), ordered by outcome and reason, as groups."""
    groups: list[OutcomeGroup] = []
    for outcome, reason, count, source_id, location in rows:
        if not groups or (groups[-1].outcome, groups[-1].reason) != (outcome, reason or ""):
            groups.append(OutcomeGroup(outcome, reason or "", count, []))
        groups[-1].examples.append((source_id, location))
    return groups


def _load(text: str | None) -> Any:
    return json.loads(text) if text else None


def _dump(value: Any) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, default=str)


ID_COLUMNS = "entity, source_id, intercom_id, origin, state, payload_hash, body, before, run_id, pending_since, intent, facts"


def _id_row(row: sqlite3.Row | tuple[Any, ...]) -> IdMapRow:
    entity, source_id, intercom_id, origin, state, payload_hash, body, before, run_id, pending_since, intent, facts = row
    return IdMapRow(
        entity, source_id, intercom_id, origin, state, payload_hash,
        json.loads(body) if body else None, json.loads(before) if before else None, run_id, pending_since,
        json.loads(intent) if intent else None, facts,
    )
