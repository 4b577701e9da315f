"""Deltas keep what people changed in Intercom: before a delta updates a contact or a company deskmigrate wrote, the
record is read, and a field (or custom attribute) whose value is no longer the one deskmigrate last wrote was changed
there since — by a person, an app or a workflow. It is left out of the update, so their value stays; when the source
changed it too, a content note says the source's new value was not sent.

The comparison is rollback's (loaders/intercom/drift.py): the same request shape, the same allowance for how Intercom
echoes values back, so a delta and a rollback agree on what is someone else's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from deskmigrate.loaders.intercom.drift import CUSTOM, changed_fields, current_fields, flatten, same

Body = dict[str, Any]
NOTICE_KIND = "kept_intercom_edit"


@dataclass
class Kept:
    """What a delta update leaves out: `fields` changed in Intercom since, of which `overruled` the source changed too."""

    fields: list[str] = field(default_factory=list)
    overruled: list[str] = field(default_factory=list)

    def describe(self) -> str:
        return (f"changed in Intercom since deskmigrate wrote it, so kept as it is there: {', '.join(self.overruled)} "
                "(the source's new value was not sent)")


def without_their_edits(entity: str, body: Body, written: Body, current: Body) -> tuple[Body, Kept]:
    """`body` minus the fields `current` (the record as Intercom holds it now) no longer holds as `written` (what
    deskmigrate last sent); and which those are."""
    ours = flatten(written)
    edited = set(changed_fields(ours, current_fields(entity, current)))
    if not edited:
        return body, Kept()
    wanted = flatten(body)
    kept = Kept(sorted(key for key in edited if key in wanted))
    kept.overruled = [key for key in kept.fields if not same(key, wanted[key], ours.get(key))]
    sent = {key: value for key, value in body.items() if key not in edited}
    if isinstance(body.get("custom_attributes"), dict):
        sent["custom_attributes"] = {name: value for name, value in body["custom_attributes"].items() if CUSTOM + name not in edited}
    return sent, kept


def as_ours(stored: Body, written: Body, kept: Kept) -> Body:
    """What the ledger keeps as written after an update that left `kept` out: those fields as deskmigrate last wrote them,
    so the next delta still sees them as someone else's and leaves them alone."""
    if not kept.fields:
        return stored
    flat_written = flatten(written)
    merged = dict(stored)
    for key in kept.fields:
        if key.startswith(CUSTOM):
            merged.setdefault("custom_attributes", {})
            merged["custom_attributes"] = {**merged["custom_attributes"], key[len(CUSTOM):]: flat_written.get(key)}
        else:
            merged[key] = flat_written.get(key)
    return merged
