"""Drift: has a record changed since deskmigrate wrote it? Field by field, in the shape Intercom's requests take.

Rollback reads each record once and compares it with what each of its writes sent (newest first, as if the
later undos had happened already): a field whose value is still what deskmigrate wrote may go back, a field
someone changed since is kept. A record deskmigrate created is changed when a field it wrote differs, or when
a field, custom attribute, tag or company link it never wrote has been given a value.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from deskmigrate.core.ledger import IdMapRow, WriteRow
from deskmigrate.core.ledger.schema import request_shape
from deskmigrate.loaders.intercom.loader import RECONCILE_SKEW_S
from deskmigrate.loaders.intercom.undo import RecordUndo, UndoContext, delete_unless_changed, pending_write

PERSONS = ("contacts", "leads", "teammates")
# Fields of a created record that, set by anyone since, make it someone's record (timestamps Intercom sets itself are left out).
UNWRITTEN_SIGNS = {
    "contacts": ("name", "email", "phone", "owner_id", "avatar"),
    "companies": ("name", "plan", "size", "website", "industry"),
}
# What a help center object is compared on (its HTML body is normalised by Intercom, so it is not).
HELP_CENTER_FIELDS = ("name", "title", "description", "state", "parent_id", "author_id")
CUSTOM = "custom_attributes."


def before_image(entity: str, current: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """What `current` (a pre-existing object, or our previous write) holds for exactly the fields `body` writes (None where unset),
    in the shape Intercom's requests take them (a company's plan as its name), so that a rollback can send it back."""
    current = request_shape(entity, current)
    before: dict[str, Any] = {}
    for key, value in body.items():
        if key == "custom_attributes":
            prior = current.get("custom_attributes") or {}
            before["custom_attributes"] = {name: prior.get(name) for name in (value or {})}
        else:
            before[key] = current.get(key)
    return before


def flatten(values: dict[str, Any] | None) -> dict[str, Any]:
    """{"name": …, "custom_attributes": {"tier": …}} → {"name": …, "custom_attributes.tier": …}."""
    flat: dict[str, Any] = {}
    for key, value in (values or {}).items():
        if key == "custom_attributes" and isinstance(value, dict):
            flat.update({CUSTOM + name: attribute for name, attribute in value.items()})
        elif not key.startswith("_"):
            flat[key] = value
    return flat


def unflatten(flat: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, value in flat.items():
        if key.startswith(CUSTOM):
            values.setdefault("custom_attributes", {})[key[len(CUSTOM):]] = value
        else:
            values[key] = value
    return values


def current_fields(entity: str, remote: dict[str, Any]) -> dict[str, Any]:
    """A record as Intercom returned it, flattened in request shape (plan as its name, avatar as its URL)."""
    kind = "contacts" if entity in PERSONS else entity
    return flatten(request_shape(kind, remote))


def is_empty(value: Any) -> bool:
    return value is None or value == "" or value == {} or value == []


def same(field: str, now: Any, written: Any) -> bool:
    """Whether Intercom's value is the one written, allowing for how Intercom echoes values back."""
    if is_empty(now) and is_empty(written):
        return True
    if field == "email" and isinstance(now, str) and isinstance(written, str):
        return now.strip().lower() == written.strip().lower()
    if isinstance(now, bool) or isinstance(written, bool):
        return now is written
    if isinstance(now, (int, float)) and isinstance(written, (int, float)):
        return abs(float(now) - float(written)) < 1e-6
    if field in ("parent_id", "author_id", "owner_id") and not is_empty(now) and not is_empty(written):
        return str(now) == str(written)
    return bool(now == written)


def changed_fields(written: dict[str, Any], state: dict[str, Any], fields: list[str] | None = None) -> list[str]:
    """The flattened fields of `written` whose value in `state` is no longer the one written."""
    keys = fields if fields is not None else list(written)
    return [key for key in keys if key in written and not same(key, state.get(key), written[key])]


def unwritten_values(entity: str, written_keys: set[str], state: dict[str, Any]) -> list[str]:
    """Fields and custom attributes of a created record that deskmigrate never wrote and that now hold a value."""
    kind = "contacts" if entity in PERSONS else entity
    signs = [key for key in UNWRITTEN_SIGNS.get(kind, ()) if key not in written_keys and not is_empty(state.get(key))]
    custom = [key for key, value in state.items() if key.startswith(CUSTOM) and key not in written_keys and not is_empty(value)]
    return signs + sorted(custom)


def help_center_changes(written: dict[str, Any], remote: dict[str, Any]) -> list[str]:
    return [key for key in HELP_CENTER_FIELDS if key in written and not same(key, remote.get(key), written[key])]


# -- judging a record whose fields deskmigrate wrote (contacts, leads, teammates, companies) ------------------------

Foreign = Callable[[UndoContext, RecordUndo, dict[str, Any]], list[str]]


def unknown_tags(ctx: UndoContext, record: RecordUndo, carried: set[str]) -> list[str]:
    """Tags on a created record that the ledger does not know (for any record merged into it): people added them."""
    known = {key for owner in owners(ctx, record) for key in ctx.ledger.known_facts(record.entity, owner)[0]}
    return [f"tag {key}" for key in sorted(carried - known)]


def owners(ctx: UndoContext, record: RecordUndo) -> list[str]:
    """The source records mapped to the record's Intercom object (several when records were merged into it)."""
    return (ctx.ledger.source_ids_for(record.entity, record.intercom_id) if record.intercom_id else []) or [record.source_id]


def no_foreign(ctx: UndoContext, record: RecordUndo, remote: dict[str, Any]) -> list[str]:
    return []


def judge_fields(ctx: UndoContext, record: RecordUndo, remote: dict[str, Any], *, phase: str, identifiers: tuple[str, ...] = (),
                 foreign: Foreign = no_foreign) -> None:
    """A written record as Intercom holds it now: delete it, send fields back, or keep it (changed since)."""
    writes = list(record.writes)
    pending = record.pending
    if pending is not None and pending.origin == "adopted" and (pending.intent or not writes):
        # An adoption a crash interrupted: its PUT may have landed; the fields it wrote still equal to the intent go back.
        writes.insert(0, pending_write(pending, "adopt", phase))
    simulate(ctx, record, writes, current_fields(record.entity, remote), remote, identifiers, foreign)


def judge_found_fields(ctx: UndoContext, record: RecordUndo, row: IdMapRow, found: dict[str, Any], *, phase: str,
                       identifiers: tuple[str, ...] = (), foreign: Foreign = no_foreign) -> None:
    """A create a killed run left unrecorded, found: compared with the body it was about to send."""
    if not row.intent:
        # Pending in a schema-1 ledger, which did not keep the body: whether anyone changed it shows in updated_at only.
        touched = float(found.get("updated_at") or 0) - float(found.get("created_at") or 0) > RECONCILE_SKEW_S
        record.changed = ["updated since it was created"] if touched else []
        delete_unless_changed(ctx, record, touched)
        return
    simulate(ctx, record, [pending_write(row, "create", phase)], current_fields(record.entity, found), found, identifiers, foreign)


def simulate(ctx: UndoContext, record: RecordUndo, writes: list[WriteRow], state: dict[str, Any], remote: dict[str, Any],
             identifiers: tuple[str, ...], foreign: Foreign) -> None:
    """Undo the writes newest first on a copy of the record as read: a field still as written goes back, one changed stays.

    `identifiers`: fields Intercom cannot clear (it refuses a null external_id or email): one the record lacked before
    deskmigrate wrote it stays, and the report says so.
    """
    restore: dict[str, Any] = {}
    written_keys: set[str] = set()
    for write in writes:
        after = flatten(write.after)
        written_keys |= set(after)
        if write.action == "create":
            changed = changed_fields(after, state) + unwritten_values(record.entity, written_keys, state)
            changed += foreign(ctx, record, remote)
            record.changed = list(dict.fromkeys([*record.changed, *changed]))
            delete_unless_changed(ctx, record, bool(changed))
            return
        before = flatten(write.before)
        for key, value in before.items():
            if same(key, state.get(key), value):
                continue  # it holds that value already: nothing to send back
            if key not in after or same(key, state.get(key), after[key]) or ctx.force:
                if ctx.force and key in after and not same(key, state.get(key), after[key]):
                    record.forced = True
                    record.changed.append(key)
                restore[key] = value
                state[key] = value
            else:
                record.changed.append(key)
        if write.action == "adopt":
            record.adopted = True
            break
    record.changed = list(dict.fromkeys(record.changed))
    record.unclearable = [key for key in identifiers if key in restore and restore[key] is None]
    for key in record.unclearable:
        del restore[key]
    record.restore = unflatten(restore)
    record.restored_fields = sorted(restore)
    record.action = "restore"
