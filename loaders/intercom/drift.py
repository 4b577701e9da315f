"""Drift: has a record changed since deskmigrate wrote it? Field by field, in the shape Intercom's requests take.

Rollback reads each record once and compares it with what each of its writes sent (newest first, as if the
later undos had happened already): a field whose value is still what deskmigrate wrote may go back, a field
someone changed since is kept. A record deskmigrate created is changed when a field it wrote differs, or when
a field, custom attribute, tag or company link it never wrote has been given a value.
"""

from __future__ import annotations

from typing import Any

from deskmigrate.core.ledger.schema import request_shape

PERSONS = ("contacts", "leads", "teammates")
# Fields of a created record that, set by anyone since, make it someone's record (timestamps Intercom sets itself are left out).
UNWRITTEN_SIGNS = {
    "contacts": ("name", "email", "phone", "owner_id", "avatar"),
    "companies": ("name", "plan", "size", "website", "industry"),
}
# What a help center object is compared on (its HTML body is normalised by Intercom, so it is not).
HELP_CENTER_FIELDS = ("name", "title", "description", "state", "parent_id", "author_id")
CUSTOM = "custom_attributes."


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
