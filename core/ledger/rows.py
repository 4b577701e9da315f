"""What the ledger hands out: its row types, the kinds of failure and notice it knows, and how it hashes and names."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
import uuid
from dataclasses import dataclass
from typing import Any

from deskmigrate.core.model import Record

# The failures phase of records the mapping refused (not a load failure: fixed by editing the mapping or the source).
MAPPING_PHASE = "mapping"
# The notice kind that says why a record was left out on purpose (deleted in the source, the mapping says skip).
SKIPPED = "skipped"


def record_hash(record: Record) -> str:
    return text_hash(record.model_dump_json())


def text_hash(text: str) -> str:
    """The hash of a record's JSON form (record_hash of a record already dumped)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


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
