"""The ledger's schema and its ordered migrations: every ledger, new or old, reaches the current schema by the same steps.

A new ledger gets the schema of version 1 and then every migration; an older ledger only the ones it lacks. Each
migration is applied in the transaction that records it (table `migrations`), after the file was copied aside.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

SCHEMA_VERSION = 2

# Schema 1, as deskmigrate 0.1.0 created it. Never edit: a change is a new migration below.
SCHEMA_V1 = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, command TEXT NOT NULL, started_at REAL NOT NULL, finished_at REAL,
    status TEXT NOT NULL, pid INTEGER, report TEXT);
CREATE TABLE IF NOT EXISTS staged (
    entity TEXT NOT NULL, source_id TEXT NOT NULL, record TEXT NOT NULL, hash TEXT NOT NULL,
    run_id TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (entity, source_id));
CREATE INDEX IF NOT EXISTS staged_order ON staged (entity, seq);
CREATE TABLE IF NOT EXISTS cursors (
    source TEXT NOT NULL, entity TEXT NOT NULL, cursor TEXT NOT NULL, run_id TEXT, updated_at REAL NOT NULL,
    PRIMARY KEY (source, entity));
CREATE TABLE IF NOT EXISTS id_map (
    entity TEXT NOT NULL, source_id TEXT NOT NULL, intercom_id TEXT, origin TEXT, state TEXT NOT NULL,
    payload_hash TEXT, body TEXT, before TEXT, run_id TEXT NOT NULL, pending_since REAL, updated_at REAL NOT NULL,
    PRIMARY KEY (entity, source_id));
CREATE INDEX IF NOT EXISTS id_map_intercom ON id_map (entity, intercom_id);
CREATE TABLE IF NOT EXISTS writes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, phase TEXT NOT NULL, entity TEXT NOT NULL,
    source_id TEXT NOT NULL, intercom_id TEXT, action TEXT NOT NULL, detail TEXT, before TEXT, at REAL NOT NULL,
    undone_at REAL);
CREATE INDEX IF NOT EXISTS writes_run ON writes (run_id, seq);
CREATE INDEX IF NOT EXISTS writes_record ON writes (entity, source_id, seq);
CREATE TABLE IF NOT EXISTS progress (
    run_id TEXT NOT NULL, phase TEXT NOT NULL, total INTEGER, done INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0, unchanged INTEGER NOT NULL DEFAULT 0, status TEXT NOT NULL,
    updated_at REAL NOT NULL, PRIMARY KEY (run_id, phase));
CREATE TABLE IF NOT EXISTS failures (
    entity TEXT NOT NULL, source_id TEXT NOT NULL, phase TEXT NOT NULL, run_id TEXT NOT NULL,
    reason TEXT NOT NULL, field TEXT, request_id TEXT, excerpt TEXT, at REAL NOT NULL,
    PRIMARY KEY (entity, source_id, phase));
CREATE TABLE IF NOT EXISTS links (
    contact_id TEXT NOT NULL, company_id TEXT NOT NULL, run_id TEXT NOT NULL,
    PRIMARY KEY (contact_id, company_id));
CREATE TABLE IF NOT EXISTS desired_tags (
    entity TEXT NOT NULL, source_id TEXT NOT NULL, tag TEXT NOT NULL, name TEXT NOT NULL,
    PRIMARY KEY (entity, source_id, tag));
CREATE INDEX IF NOT EXISTS desired_tags_tag ON desired_tags (tag);
CREATE TABLE IF NOT EXISTS taggings (
    entity TEXT NOT NULL, source_id TEXT NOT NULL, tag TEXT NOT NULL, run_id TEXT NOT NULL,
    PRIMARY KEY (entity, source_id, tag));
CREATE TABLE IF NOT EXISTS parts (
    record_id TEXT NOT NULL, step TEXT NOT NULL, position INTEGER NOT NULL, thread TEXT NOT NULL, intercom_id TEXT,
    state TEXT NOT NULL, expected TEXT, run_id TEXT NOT NULL, pending_since REAL, updated_at REAL NOT NULL,
    PRIMARY KEY (record_id, step));
CREATE INDEX IF NOT EXISTS parts_thread ON parts (thread);
CREATE TABLE IF NOT EXISTS notices (
    entity TEXT NOT NULL, source_id TEXT NOT NULL, kind TEXT NOT NULL, detail TEXT NOT NULL, run_id TEXT NOT NULL, at REAL NOT NULL,
    PRIMARY KEY (entity, source_id, kind));
"""

MIGRATIONS_TABLE = """
CREATE TABLE IF NOT EXISTS migrations (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL, backup TEXT, deskmigrate TEXT)
"""


@dataclass(frozen=True)
class Migration:
    """One step from `version - 1` to `version`: SQL statements, then an optional data fix in Python, one transaction."""

    version: int
    name: str
    statements: tuple[str, ...]
    data: Callable[[sqlite3.Connection], None] | None = None


# Ownership of facts (v2). `origin` of a tagging or company link: created (deskmigrate applied it), found (the record
# had it before deskmigrate first wrote to it) or legacy (applied by schema 1 to a record that existed before, which
# did not record whether the record had it already: rollback keeps those). `state` pending: about to be applied.
_V2 = (
    "ALTER TABLE taggings ADD COLUMN origin TEXT NOT NULL DEFAULT 'created'",
    "ALTER TABLE taggings ADD COLUMN state TEXT NOT NULL DEFAULT 'done'",
    "ALTER TABLE links ADD COLUMN origin TEXT NOT NULL DEFAULT 'created'",
    "ALTER TABLE links ADD COLUMN state TEXT NOT NULL DEFAULT 'done'",
    "CREATE INDEX IF NOT EXISTS taggings_tag ON taggings (tag, entity)",
    # id_map.intent: the body a pending create is about to send (a rollback after a crash finds the object by it);
    # id_map.facts: when the pre-existing tags and company links of an adopted record were recorded (NULL: not yet).
    "ALTER TABLE id_map ADD COLUMN intent TEXT",
    "ALTER TABLE id_map ADD COLUMN facts REAL",
    # writes.after: what the write sent (rollback compares it with the record now: changed since?); undone_by: the
    # rollback run that undid it.
    "ALTER TABLE writes ADD COLUMN after TEXT",
    "ALTER TABLE writes ADD COLUMN undone_by TEXT",
    "ALTER TABLE runs ADD COLUMN host TEXT",
    """CREATE TABLE IF NOT EXISTS undo_log (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, write_seq INTEGER, phase TEXT NOT NULL, entity TEXT NOT NULL,
        source_id TEXT NOT NULL, intercom_id TEXT, action TEXT NOT NULL, outcome TEXT NOT NULL, detail TEXT, at REAL NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS undo_log_run ON undo_log (run_id, seq)",
    "CREATE INDEX IF NOT EXISTS writes_undone_by ON writes (undone_by)",
    "UPDATE taggings SET origin='legacy' WHERE EXISTS (SELECT 1 FROM id_map m WHERE m.entity=taggings.entity "
    "AND m.source_id=taggings.source_id AND m.origin='adopted')",
    "UPDATE links SET origin='legacy' WHERE EXISTS (SELECT 1 FROM id_map m WHERE m.entity='contacts' "
    "AND m.source_id=links.contact_id AND m.origin='adopted')",
    # The last write of a record sent what id_map holds; an earlier one sent what the next one replaced.
    "UPDATE writes SET after=(SELECT m.body FROM id_map m WHERE m.entity=writes.entity AND m.source_id=writes.source_id) "
    "WHERE action IN ('create', 'adopt', 'update') AND seq=(SELECT MAX(w.seq) FROM writes w WHERE w.entity=writes.entity "
    "AND w.source_id=writes.source_id AND w.action IN ('create', 'adopt', 'update'))",
    "UPDATE writes SET after=(SELECT w.before FROM writes w WHERE w.entity=writes.entity AND w.source_id=writes.source_id "
    "AND w.seq>writes.seq AND w.action IN ('create', 'adopt', 'update') ORDER BY w.seq LIMIT 1) "
    "WHERE after IS NULL AND action IN ('create', 'adopt', 'update')",
)


def _request_shaped_before_images(db: sqlite3.Connection) -> None:
    """Schema 1 kept before-images as Intercom returns objects; PUT and POST take some fields in another shape."""
    for table, key in (("id_map", "rowid"), ("writes", "seq")):
        rows = db.execute(f"SELECT {key}, entity, before FROM {table} WHERE before IS NOT NULL AND entity IN ('companies', 'contacts')")
        for row_key, entity, text in rows.fetchall():
            before = json.loads(text)
            fixed = request_shape(entity, before)
            if fixed != before:
                db.execute(f"UPDATE {table} SET before=? WHERE {key}=?", (json.dumps(fixed, sort_keys=True, default=str), row_key))


def request_shape(entity: str, values: dict[str, Any]) -> dict[str, Any]:
    """Fields as Intercom's create/update requests take them, from the shape its GETs return them in.

    A company's `plan` is returned as `{type: plan, id, name}` (or `{}` when it has none) and accepted as the plan's
    name; a contact's `avatar` is returned as `{type: avatar, image_url}` and accepted as the URL (2.15 spec:
    `company.plan` vs `update_company_request.plan`, `contact.avatar` vs `update_contact_request.avatar`).
    """
    shaped = dict(values)
    if entity == "companies" and "plan" in shaped and isinstance(shaped["plan"], dict):
        shaped["plan"] = shaped["plan"].get("name") or None
    if entity in ("contacts", "leads", "teammates") and "avatar" in shaped and isinstance(shaped["avatar"], dict):
        shaped["avatar"] = shaped["avatar"].get("image_url") or None
    return shaped


MIGRATIONS: tuple[Migration, ...] = (
    Migration(2, "ownership of taggings and company links, rollback runs, after-images, request-shaped before-images", _V2,
              _request_shaped_before_images),
)


def schema_version(db: sqlite3.Connection) -> int | None:
    """The version the file records, or None for a file without a ledger in it yet."""
    has_meta = db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='meta'").fetchone()
    if not has_meta:
        return None
    row = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
    return int(row[0]) if row else None


def pending_migrations(version: int) -> list[Migration]:
    return [migration for migration in MIGRATIONS if migration.version > version]


def apply_migrations(db: sqlite3.Connection, version: int, *, applied_at: float, backup: str | None, by: str) -> list[Migration]:
    """Apply what `version` lacks, inside the caller's transaction, recording each step."""
    steps = pending_migrations(version)
    db.execute(MIGRATIONS_TABLE)
    for migration in steps:
        for statement in migration.statements:
            db.execute(statement)
        if migration.data is not None:
            migration.data(db)
        db.execute("INSERT INTO migrations VALUES (?, ?, ?, ?, ?)", (migration.version, migration.name, applied_at, backup, by))
    db.execute("INSERT INTO meta VALUES ('schema_version', ?) ON CONFLICT (key) DO UPDATE SET value=excluded.value",
               (str(SCHEMA_VERSION),))
    return steps
