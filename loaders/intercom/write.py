"""The one write sequence every Intercom object goes through: companies, contacts, collections and articles alike.

Look up the ledger row; skip it when unchanged; update it (deleted in Intercom behind our back, 404: forget it and
create it again); create it — a create whose answer was lost is reconciled through the ledger before it is sent again,
a conflict naming an existing object adopts it —; record the write with what it replaced. What differs per object type
(its calls, how a lost create is found, what the ledger keeps) is an `ObjectKind` of small callables.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from deskmigrate.core.errors import AmbiguousWriteError, ConflictError, RejectedError
from deskmigrate.core.ledger import IdMapRow
from deskmigrate.loaders.intercom.loader import IntercomLoader, singular
from deskmigrate.loaders.intercom.their_edits import NOTICE_KIND as THEIR_EDIT_NOTICE
from deskmigrate.loaders.intercom.their_edits import Kept, as_ours, without_their_edits

log = logging.getLogger(__name__)

Body = dict[str, Any]
# An Intercom call that sends a body: Intercom's answer, and the body it accepted (what the ledger keeps as written).
Send = Callable[[Body], tuple[Body, Body]]


@dataclass(frozen=True)
class Found:
    """An object in Intercom for a record about to be created: made by an earlier attempt of ours whose answer was lost
    (`ours`: finish it as our create), or there before us (adopt it). `current` is the object as read, when in hand;
    `before` its before-image when a resumed adoption recorded it already."""

    intercom_id: str
    ours: bool
    current: Body | None = None
    before: Body | None = None


def adopted_before_facts(row: IdMapRow) -> bool:
    """A record adopted by a ledger of schema 1, which never recorded what it carried before deskmigrate wrote to it."""
    return row.origin == "adopted" and row.facts is None and bool(row.intercom_id)


def _nothing(*_: Any) -> None:
    return None


def _same_hash(row: IdMapRow, digest: str, body: Callable[[], Body]) -> bool:
    return row.payload_hash == digest


def _always(row: IdMapRow) -> bool:
    return True


def _row_body(row: IdMapRow) -> Body:
    return row.body or {}


def _as_sent(sent: Body, answer: Body) -> Body:
    return sent


def _whole(body: Body) -> Body:
    return body


@dataclass(frozen=True)
class ObjectKind:
    """What `write_object` needs to know about one object type (built per record: the callables may close over it)."""

    entity: str
    create: Send
    update: Callable[[str, Body], tuple[Body, Body]]  # by Intercom id
    # -- a record the ledger holds as written
    unchanged: Callable[[IdMapRow, str, Callable[[], Body]], bool] = _same_hash
    updatable: Callable[[IdMapRow], bool] = _always  # else it is forgotten and created (a collection merged until now)
    seen: Callable[[IdMapRow], None] = _nothing  # before the comparison (a record adopted by an older ledger: its facts)
    previous: Callable[[IdMapRow], Body] = _row_body  # what an update replaces
    before: Callable[[Body, Body], Body] = lambda previous, sent: previous  # the before-image of (what it held, what we sent)
    stored: Callable[[Body, Body], Body] = _as_sent  # what the ledger keeps of (the body sent, Intercom's answer)
    # -- a record about to be created
    intent: Callable[[Body], Body] = _whole  # what a pending create records (to find the object after a crash)
    look_first: Callable[[Body], Found | None] = _nothing  # a consistent lookup before the first create (an upsert's)
    reconcile: Callable[[IdMapRow, Body], Found | None] = _nothing  # what a pending create made, if anything
    conflict: Callable[[ConflictError], str | None] = _nothing  # the existing object a 409 names, made ready to adopt
    read: Callable[[str], Body] | None = None  # the object adopted by id, for its before-image
    found_before: Callable[[Body], None] = _nothing  # record what an adopted object carried before us (tags, links)
    creates: int = 1  # creates sent at most when their answers are lost
    pending_origin: str | None = None  # an upsert's origin is decided before its first write: kept on the pending row
    phase: str | None = None  # the phase recorded with the write (default: the entity)
    # a delta reads the record first and leaves out the fields changed in Intercom since we wrote them (their_edits)
    keeps_their_edits: bool = False
    _phase: str = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_phase", self.phase or self.entity)


def write_object(loader: IntercomLoader, kind: ObjectKind, source_id: str, digest: str, build: Callable[[], Body]) -> str:
    """Write one record; returns its outcome: created | adopted | updated | unchanged. `build` makes the body to send,
    called only when something is sent (at most once)."""
    built: list[Body] = []

    def body() -> Body:
        if not built:
            built.append(build())
        return built[0]

    ledger = loader.ledger
    row = ledger.id_row(kind.entity, source_id)
    if row is not None and row.state == "done":
        kind.seen(row)
        if kind.unchanged(row, digest, body):
            return "unchanged"
        if kind.updatable(row) and row.intercom_id:
            try:
                return _update(loader, kind, row, body(), digest)
            except RejectedError as error:
                if error.status != 404:
                    raise
                log.info("%s %s: deleted in Intercom behind our back; created again", kind.entity, source_id)
        ledger.forget(kind.entity, source_id)
        row = None
    return _create(loader, kind, source_id, row, body(), digest)


def _update(loader: IntercomLoader, kind: ObjectKind, row: IdMapRow, body: Body, digest: str) -> str:
    previous = kind.previous(row)
    kept = Kept()
    if kind.keeps_their_edits and loader.settings.keep_intercom_edits and kind.read is not None and previous:
        body, kept = without_their_edits(kind.entity, body, previous, kind.read(str(row.intercom_id)))
        if kept.overruled:
            log.info("%s %s: %s", kind.entity, row.source_id, kept.describe())
            loader.ledger.record_notice(loader.run_id, kind.entity, row.source_id, THEIR_EDIT_NOTICE, kept.describe())
    answer, sent = kind.update(str(row.intercom_id), body)
    _record(loader, kind, row.source_id, str(answer.get("id") or row.intercom_id), "update", row.origin or "created", digest,
            as_ours(kind.stored(sent, answer), previous, kept), kind.before(previous, sent))
    return "updated"


def _create(loader: IntercomLoader, kind: ObjectKind, source_id: str, row: IdMapRow | None, body: Body, digest: str) -> str:
    """Create, never twice: a create whose answer was lost (now or in an earlier run) is looked for before it is sent again."""
    found = kind.look_first(body) if row is None else kind.reconcile(row, body)
    for _ in range(kind.creates):
        if found is not None:
            return _settle(loader, kind, source_id, found, body, digest)
        loader.ledger.mark_pending(loader.run_id, kind.entity, source_id, origin=kind.pending_origin, intent=kind.intent(body))
        try:
            answer, sent = kind.create(body)
        except ConflictError as conflict:
            existing = kind.conflict(conflict)
            if existing is None:
                raise
            return _adopt(loader, kind, source_id, Found(existing, ours=False), body, digest)
        except AmbiguousWriteError as error:
            log.info("%s %s: the answer to the create was lost (%s); looking for it before sending it again", kind.entity, source_id, error)
            pending = loader.ledger.id_row(kind.entity, source_id)
            found = kind.reconcile(pending, body) if pending is not None else None
            continue
        _record(loader, kind, source_id, str(answer["id"]), "create", "created", digest, kind.stored(sent, answer), None)
        return "created"
    if found is not None:
        return _settle(loader, kind, source_id, found, body, digest)
    raise AmbiguousWriteError(f"{singular(kind.entity)} {source_id}: {kind.creates} create(s) lost their answer and none is in Intercom")


def _settle(loader: IntercomLoader, kind: ObjectKind, source_id: str, found: Found, body: Body, digest: str) -> str:
    if not found.ours:
        return _adopt(loader, kind, source_id, found, body, digest)
    log.info("%s %s: adopting %s, created by an earlier attempt whose answer was lost", kind.entity, source_id, found.intercom_id)
    answer, sent = kind.update(found.intercom_id, body)  # it may hold an older body
    _record(loader, kind, source_id, str(answer.get("id") or found.intercom_id), "create", "created", digest, kind.stored(sent, answer), None)
    return "created"


def _adopt(loader: IntercomLoader, kind: ObjectKind, source_id: str, found: Found, body: Body, digest: str) -> str:
    """A pre-existing object: keep its before-image and what it carried, then write to it. Rollback never deletes it."""
    before = found.before
    current = found.current
    if before is None:
        if current is None:
            assert kind.read is not None, f"{kind.entity}: adopting needs a read"
            current = kind.read(found.intercom_id)
        before = kind.before(current, body)
    loader.ledger.mark_pending(loader.run_id, kind.entity, source_id, origin="adopted", before=before, intercom_id=found.intercom_id,
                               intent=kind.intent(body))
    if current is not None:
        kind.found_before(current)  # before the first write: what it has now is not ours, and no delta or rollback removes it
    answer, sent = kind.update(found.intercom_id, body)
    _record(loader, kind, source_id, str(answer.get("id") or found.intercom_id), "adopt", "adopted", digest, kind.stored(sent, answer),
            before if current is None else kind.before(current, sent))
    return "adopted"


def _record(loader: IntercomLoader, kind: ObjectKind, source_id: str, intercom_id: str, action: str, origin: str, digest: str,
            body: Body, before: Body | None) -> None:
    loader.ledger.record_write(loader.run_id, kind._phase, kind.entity, source_id, intercom_id=intercom_id, action=action,
                               origin=origin, payload_hash=digest, body=body, before=before)
