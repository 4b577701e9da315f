"""The undo contract: what a rollback plans for each record, fact, tag and setting, and what a phase declares so that its
writes can be undone (`Undo`). The rollback engine (rollback/) runs it over the registered phases without naming any.

A phase declares, for each kind of Intercom object it creates or writes to (`RecordKind`): how it is read, judged
(deleted, restored field by field, or kept because people changed it since), found after a crash, deleted, restored and
tagged; for each kind of fact it adds to records (`FactKind`: taggings, company links): how it is removed or put back;
and for workspace settings it creates (`SettingKind`: data attributes, ticket types): how they are archived.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from deskmigrate.core.ledger import Fact, IdMapRow, Ledger, WriteRow
from deskmigrate.loaders.intercom.client import IntercomClient
from deskmigrate.loaders.intercom.facts import TagNames
from deskmigrate.loaders.intercom.loader import RECONCILE_SKEW_S, singular


@dataclass
class RecordUndo:
    """What happens to one record: delete | restore | keep (changed since) | gone (deleted by someone) | missing (a
    pending create that never landed) | error."""

    entity: str
    source_id: str
    intercom_id: str | None
    phase: str
    writes: list[WriteRow]
    pending: IdMapRow | None = None
    action: str = "none"
    restore: dict[str, Any] = field(default_factory=dict)
    restored_fields: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    forced: bool = False
    adopted: bool = False
    kept_facts: list[str] = field(default_factory=list)  # found taggings and links: there before the migration, left alone
    company_id: str | None = None
    people: set[str] = field(default_factory=set)  # a conversation's or ticket's contacts (Intercom ids)
    unclearable: list[str] = field(default_factory=list)  # identifiers it lacked before, which Intercom cannot clear
    error: str | None = None

    @property
    def order(self) -> int:
        return max((w.seq for w in self.writes), default=0)

    def label(self) -> str:
        return f"{singular(self.entity)} {self.source_id}" + (f" ({self.intercom_id})" if self.intercom_id else "")


@dataclass
class FactUndo:
    """One tagging or company link: remove (deskmigrate added it) | put_back (a delta of deskmigrate's removed it) |
    with_record (its record is deleted anyway) | with_tag (its tag is deleted) | keep_record (its record is kept) |
    keep_legacy (owner unknown) | nothing."""

    kind: str  # tagging | link
    entity: str
    source_id: str
    key: str  # tag key or company source id
    other_id: str | None  # tag id or company Intercom id
    run_id: str
    writes: list[WriteRow]
    phase: str
    action: str = "remove"
    record_id: str | None = None


@dataclass
class TagUndo:
    """A tag deskmigrate created: delete | keep (something it did not tag carries it) | forget (adopted: only the mapping)."""

    key: str
    tag_id: str | None
    name: str
    writes: list[WriteRow]
    phase: str
    pending: IdMapRow | None = None
    action: str = "delete"
    carriers: dict[str, int] = field(default_factory=dict)


@dataclass
class OtherUndo:
    """A setting to archive (Intercom deletes neither attributes nor ticket types), or a mapping to forget."""

    phase: str
    write: WriteRow
    action: str  # archive_… (a SettingKind's) | forget | nothing


class UndoContext(Protocol):
    """What a rollback offers the kinds it runs: its client and ledger, whether it is forced, and a few shared reads."""

    client: IntercomClient
    ledger: Ledger
    force: bool
    tag_names: TagNames

    def count(self, name: str, n: int = 1) -> None: ...
    def count_in(self, bucket: str, entity: str) -> None: ...
    def admin_id(self) -> str: ...
    def tag_name(self, key: str) -> str: ...
    def kind(self, entity: str) -> RecordKind | None: ...
    def carriers(self) -> list[RecordKind]: ...
    def ignore_missing(self, call: Callable[[], Any]) -> None: ...
    def log_undo(self, phase: str, entity: str, source_id: str, intercom_id: str | None, action: str, outcome: str,
                 writes: Iterable[WriteRow] = (), detail: dict[str, Any] | None = None) -> None: ...


@dataclass(frozen=True)
class TagCalls:
    """How a tag is put on and taken off one kind of record, and how many of that kind carry a tag."""

    tag: Callable[[UndoContext, str, str, str], None]  # (record id, tag id, tag key)
    untag: Callable[[UndoContext, str, str, str], None]
    tagged: Callable[[IntercomClient, str], tuple[int, set[str]] | None]  # None: this workspace has none of that kind


def delete_it(ctx: UndoContext, record: RecordUndo, row: IdMapRow, found: dict[str, Any]) -> None:
    """A create a killed run left unrecorded: nothing of it was recorded to compare, so it is as the create left it."""
    record.action = "delete"


def no_restore(ctx: UndoContext, record: RecordUndo) -> None:
    return None


def no_claim(record: RecordUndo, ledger: Ledger) -> Callable[[RecordUndo], str | None] | None:
    return None


@dataclass(frozen=True)
class RecordKind:
    """How rollback reads, judges, finds and undoes one kind of record a phase creates or writes to."""

    entity: str
    phase: str
    read: Callable[[IntercomClient, str], dict[str, Any]]
    delete: Callable[[IntercomClient, str], Any]
    judge: Callable[[UndoContext, RecordUndo, dict[str, Any]], None]  # a written record, as Intercom holds it now
    find: Callable[[UndoContext, RecordUndo, IdMapRow], dict[str, Any] | None]  # what a pending create made
    judge_found: Callable[[UndoContext, RecordUndo, IdMapRow, dict[str, Any]], None] = delete_it
    restore: Callable[[UndoContext, RecordUndo], None] = no_restore  # send `record.restore` back
    found_facts: Callable[[UndoContext, RecordUndo], list[str]] = lambda ctx, record: found_tags(ctx, record)
    # A kept record's hold on others: which records it keeps from deletion, and why (a kept conversation, its contacts).
    holds: Callable[[RecordUndo, Ledger], Callable[[RecordUndo], str | None] | None] = no_claim
    mapping_only: frozenset[str] = frozenset()  # write actions that only mapped a record onto an object something else owns
    one_at_a_time: bool = False  # undone newest first, one by one (Intercom orders collections by creation)
    tags: TagCalls | None = None  # it carries tags


@dataclass(frozen=True)
class FactKind:
    """A fact deskmigrate adds to records (taggings, company links): its writes, its ledger rows, its undo calls."""

    name: str  # tagging | link
    phase: str  # undone with this phase
    actions: tuple[str, str]  # its write actions: (added, removed)
    detail_key: str  # the write detail naming the fact's key (tag key, company source id)
    other_entity: str  # the id-map entity the key names
    other_id_key: str  # the write detail holding that object's Intercom id
    counters: tuple[str, str]  # report counters: (removed, put back)
    current: Callable[[Ledger, str, str, str], Fact | None]  # (entity, source id, key)
    remove: Callable[[UndoContext, FactUndo], None]
    put_back: Callable[[UndoContext, FactUndo], None]  # in Intercom and in the ledger
    drop: Callable[[Ledger, FactUndo], None]  # from the ledger, once removed
    pending_entity: str | None = None  # how the ledger's pending facts name this kind (None: by the record's entity)
    record_entity: str | None = None  # the one entity that carries it (None: any)


@dataclass(frozen=True)
class SettingKind:
    """A workspace setting a phase creates and Intercom cannot delete: a rollback archives it."""

    entity: str
    action: str  # how the undo log names the archive
    archive: Callable[[IntercomClient, str], Any]
    label: Callable[[WriteRow], str]  # as the report lists it


@dataclass(frozen=True)
class TagObjects:
    """The tags a phase creates (objects other records carry): planned after every record and fact, undone last."""

    entity: str
    phase: str
    plan: Callable[[UndoContext, list[str], dict[str, list[WriteRow]], list[RecordUndo], list[FactUndo]], list[TagUndo]]
    apply: Callable[[UndoContext, TagUndo], None]


@dataclass(frozen=True)
class Undo:
    """What it takes to undo a phase's writes."""

    records: tuple[RecordKind, ...] = ()
    facts: tuple[FactKind, ...] = ()
    settings: tuple[SettingKind, ...] = ()
    tags: TagObjects | None = None


def delete_unless_changed(ctx: UndoContext, record: RecordUndo, changed: bool) -> None:
    """A record deskmigrate created goes, unless people changed or used it since (then it is kept, or deleted when forced)."""
    if changed and not ctx.force:
        record.action = "keep"
    else:
        record.action, record.forced = "delete", changed


def found_tags(ctx: UndoContext, record: RecordUndo) -> list[str]:
    """The record's tags that were there before deskmigrate first wrote to it, as the preview lists them."""
    facts = []
    for key in sorted(ctx.ledger.known_facts(record.entity, record.source_id)[0]):
        fact = ctx.ledger.tagging(record.entity, record.source_id, key)
        if fact is not None and fact.origin == "found":
            facts.append(f"tag {ctx.tag_name(key)}")
    return facts


def created_since(row: IdMapRow) -> Callable[[dict[str, Any] | None], bool]:
    """Whether an object Intercom holds was created after a pending create was marked (allowing for clock skew)."""
    since = (row.pending_since or 0.0) - RECONCILE_SKEW_S
    return lambda item: item is not None and float(item.get("created_at") or 0) >= since


def unclaimed(ctx: UndoContext, entity: str, candidates: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The one candidate no other record of the id map points at; two or more: not ours to guess between."""
    claimed = {row.intercom_id for row in ctx.ledger.iter_id_rows(entity) if row.intercom_id}
    free = [item for item in candidates if str(item.get("id")) not in claimed]
    return free[0] if len(free) == 1 else None


def pending_write(row: IdMapRow, action: str, phase: str) -> WriteRow:
    """A write the ledger never heard back about, stood in for by what it was about to send."""
    return WriteRow(0, row.run_id, phase, row.entity, row.source_id, row.intercom_id, action, None, row.before, row.intent,
                    row.pending_since or 0.0)
