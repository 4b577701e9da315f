"""Intercom contacts, whichever phase made them (migrated contacts; the leads and teammates' contacts that start ticket
history): how rollback reads, finds, restores and deletes one, and what records merged into one contact share."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from deskmigrate.core.ledger import IdMapRow, Ledger
from deskmigrate.loaders.intercom.client import IntercomClient
from deskmigrate.loaders.intercom.drift import Foreign, judge_fields, judge_found_fields, no_foreign
from deskmigrate.loaders.intercom.undo import (
    RecordKind,
    RecordUndo,
    TagCalls,
    UndoContext,
    created_since,
    found_tags,
    no_claim,
    unclaimed,
)

# Fields Intercom cannot clear on a contact (it refuses a null external_id or email, and a role is always set).
IDENTIFIERS = ("external_id", "email", "role")
CONTACTS = "contacts"


def sibling_has(ledger: Ledger, source_id: str, contact_id: str, applied: Callable[[str], set[str]], key: str) -> bool:
    """Whether another source record merged into the same Intercom contact still carries this link or tag."""
    return any(key in applied(other) for other in ledger.source_ids_for(CONTACTS, contact_id) if other != source_id)


def _read(client: IntercomClient, contact_id: str) -> dict[str, Any]:
    return client.get_contact(contact_id)


def _delete(client: IntercomClient, contact_id: str) -> Any:
    return client.delete_contact(contact_id)


def _restore(ctx: UndoContext, record: RecordUndo) -> None:
    body = dict(record.restore)
    if body:
        ctx.ignore_missing(lambda: ctx.client.update_contact(str(record.intercom_id), body))


def _finder(by_source_id: bool) -> Callable[[UndoContext, RecordUndo, IdMapRow], dict[str, Any] | None]:
    """What a pending contact create made: by external_id (a user), else by name and role (a lead has no external_id).
    `by_source_id`: a schema-1 ledger kept no body; its contacts' external_id was their source id."""

    def find(ctx: UndoContext, record: RecordUndo, row: IdMapRow) -> dict[str, Any] | None:
        intent = row.intent or {}
        ours = created_since(row)
        external_id = intent.get("external_id") or (record.source_id if by_source_id and not intent else None)
        if external_id:
            found = ctx.client.find_contact_by_external_id(str(external_id))
            return found if ours(found) else None
        if intent.get("name"):
            query = {"operator": "AND", "value": [{"field": "name", "operator": "=", "value": intent["name"]},
                                                  {"field": "role", "operator": "=", "value": intent.get("role", "lead")}]}
            found_contacts = ctx.client.request("POST", "/contacts/search", json={"query": query}, idempotent=True).get("data") or []
            return unclaimed(ctx, record.entity, [c for c in found_contacts if ours(c)])
        return None

    return find


def person_kind(entity: str, phase: str, *, foreign: Foreign = no_foreign, tags: TagCalls | None = None,
                holds: Callable[[RecordUndo, Ledger], Callable[[RecordUndo], str | None] | None] = no_claim,
                found_facts: Callable[[UndoContext, RecordUndo], list[str]] = found_tags,
                mapping_only: frozenset[str] = frozenset(), by_source_id: bool = False) -> RecordKind:
    """The rollback of contacts a phase makes under `entity`: fields written go back unless changed since, a contact
    it created is deleted unless people changed or used it since."""
    return RecordKind(
        entity=entity, phase=phase, read=_read, delete=_delete,
        judge=lambda ctx, record, remote: judge_fields(ctx, record, remote, phase=phase, identifiers=IDENTIFIERS, foreign=foreign),
        find=_finder(by_source_id),
        judge_found=lambda ctx, record, row, found: judge_found_fields(ctx, record, row, found, phase=phase, identifiers=IDENTIFIERS,
                                                                       foreign=foreign),
        restore=_restore, found_facts=found_facts, holds=holds, mapping_only=mapping_only, tags=tags,
    )
