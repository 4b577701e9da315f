"""Ticket history read back: what rollback judges of a conversation or ticket deskmigrate created (someone's once they
replied, noted, retagged or changed its state), and what validate compares (parts, backdated times, authors, state, tags)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from deskmigrate.core.errors import RejectedError
from deskmigrate.core.ledger import IdMapRow, Ledger
from deskmigrate.loaders.intercom.client import IntercomClient
from deskmigrate.loaders.intercom.drift import PERSONS
from deskmigrate.loaders.intercom.facts import tag_ids_of
from deskmigrate.loaders.intercom.history.common import ENTITY, TICKETS
from deskmigrate.loaders.intercom.undo import RecordKind, RecordUndo, TagCalls, UndoContext, delete_unless_changed, unclaimed
from deskmigrate.loaders.intercom.verify import Verifier, VerifyContext, compare_tags

# Intercom returns at most the 500 most recent parts of a conversation (2.15 spec, Retrieve a conversation).
MAX_PARTS_RETURNED = 500
CONTENT_PARTS = ("comment", "note")


@dataclass(frozen=True)
class Thread:
    """A conversation or a ticket as Intercom serves it: its parts' key and its calls."""

    entity: str
    parts_key: str
    read: Callable[[IntercomClient, str], dict[str, Any]]
    delete: Callable[[IntercomClient, str], Any]
    search: Callable[[IntercomClient, dict[str, Any]], list[dict[str, Any]]]
    tag: Callable[[IntercomClient, str, str, str], Any]
    untag: Callable[[IntercomClient, str, str, str], Any]
    # The state deskmigrate applied and the state Intercom shows, for validate; a ticket also shows open/closed.
    states: Callable[[dict[str, Any], dict[str, Any]], tuple[Any, Any]]
    state_judged: bool  # whether a state changed since makes a created one someone's (conversations: open/closed/snoozed)
    shows_open: bool  # whether it has an open flag apart from its state (tickets)

    def parts(self, remote: dict[str, Any]) -> list[dict[str, Any]]:
        return (remote.get(self.parts_key) or {}).get(self.parts_key) or []


CONVERSATION = Thread(
    ENTITY, "conversation_parts", read=lambda client, i: client.get_conversation(i), delete=lambda client, i: client.delete_conversation(i),
    search=lambda client, query: client.search_conversations(query), tag=lambda client, i, t, a: client.tag_conversation(i, t, a),
    untag=lambda client, i, t, a: client.untag_conversation(i, t, a),
    states=lambda applied, remote: (applied.get("state"), remote.get("state")), state_judged=True, shows_open=False,
)
TICKET = Thread(
    TICKETS, "ticket_parts", read=lambda client, i: client.get_ticket(i), delete=lambda client, i: client.delete_ticket(i),
    search=lambda client, query: client.search_tickets(query), tag=lambda client, i, t, a: client.tag_ticket(i, t, a),
    untag=lambda client, i, t, a: client.untag_ticket(i, t, a),
    states=lambda applied, remote: (applied.get("ticket_state"), (remote.get("ticket_state") or {}).get("category")), state_judged=False, shows_open=True,
)


def ticket_of(thread_source_id: str) -> str:
    """The source ticket of one of its threads (its conversation, or a continuation `123#2`)."""
    return thread_source_id.split("#", 1)[0]


# -- rollback ------------------------------------------------------------------------------------------------


def thread_undo(thread: Thread, phase: str) -> RecordKind:
    def judge(ctx: UndoContext, record: RecordUndo, remote: dict[str, Any]) -> None:
        """A conversation or ticket deskmigrate created is someone's once they replied, noted, retagged or changed its state."""
        ticket_id = ticket_of(record.source_id)
        ours = [p for p in ctx.ledger.parts(ticket_id).values() if p.thread == record.source_id and p.state == "done" and p.intercom_id]
        parts = [p for p in thread.parts(remote) if p.get("part_type") in CONTENT_PARTS]
        changed = [f"{len(parts) - len(ours)} reply or note(s) added"] if len(parts) > len(ours) else []
        row = ctx.ledger.id_row(record.entity, record.source_id)
        applied = (row.body if row else None) or {}
        if thread.state_judged and applied.get("state") and remote.get("state") not in (None, applied["state"]):
            changed.append("state")
        known = ctx.ledger.known_facts(record.entity, ticket_id)[0]
        carried = {key for tag_id in tag_ids_of(remote) if (key := ctx.tag_names.key_of(tag_id))}
        changed += [f"tag {key}" for key in sorted(carried - known)]
        record.changed = changed
        record.people = {str(c.get("id")) for c in (remote.get("contacts") or {}).get("contacts") or [] if c.get("id")}
        delete_unless_changed(ctx, record, bool(changed))

    def find(ctx: UndoContext, record: RecordUndo, row: IdMapRow) -> dict[str, Any] | None:
        """A create a killed run left pending: the requester's thread with that backdated time that no record claims."""
        intent = row.intent or {}
        contact = ((intent.get("from") or {}).get("id") or next(iter(c.get("id") for c in intent.get("contacts") or []), None))
        if not contact or intent.get("created_at") is None:
            return None
        query = {"operator": "AND", "value": [{"field": "contact_ids", "operator": "=", "value": contact},
                                              {"field": "created_at", "operator": "=", "value": intent["created_at"]}]}
        return unclaimed(ctx, record.entity, thread.search(ctx.client, query))

    def tagged(client: IntercomClient, tag_id: str) -> tuple[int, set[str]] | None:
        try:
            return client.tagged(thread.entity, tag_id)
        except RejectedError as error:
            if thread.entity == TICKETS and error.status in (400, 403, 404, 422):
                return None  # a workspace without tickets has none to carry it
            raise

    calls = TagCalls(
        tag=lambda ctx, thread_id, tag_id, key: thread.tag(ctx.client, thread_id, tag_id, ctx.admin_id()),
        untag=lambda ctx, thread_id, tag_id, key: ctx.ignore_missing(lambda: thread.untag(ctx.client, thread_id, tag_id, ctx.admin_id())),
        tagged=tagged,
    )
    return RecordKind(thread.entity, phase, read=thread.read, delete=thread.delete, judge=judge, find=find, holds=_holds, tags=calls)


def _holds(record: RecordUndo, ledger: Ledger) -> Callable[[RecordUndo], str | None]:
    """A kept conversation keeps its contacts: deleting them would change what is kept."""
    people = record.people
    return lambda other: ("a contact of a conversation kept (changed since the migration)"
                          if other.entity in PERSONS and other.intercom_id in people else None)


# -- validate ------------------------------------------------------------------------------------------------


def thread_verifier(thread: Thread) -> Verifier:
    def check(ctx: VerifyContext, row: IdMapRow, remote: dict[str, Any]) -> None:
        """Parts (count, author, backdated time), state and tags of one migrated ticket's conversation (or Intercom ticket)."""
        entity = thread.entity
        ticket_id = ticket_of(row.source_id)
        parts = [p for p in ctx.ledger.parts(ticket_id).values() if p.thread == row.source_id and p.state == "done" and p.intercom_id]
        remote_parts = thread.parts(remote)
        content = [p for p in remote_parts if p.get("part_type") in CONTENT_PARTS]
        complete = len(remote_parts) < MAX_PARTS_RETURNED
        if complete and len(content) != len(parts):
            ctx.add(entity, row, "parts", len(parts), len(content))
        by_id = {str(p.get("id")): p for p in remote_parts}
        for part in parts:
            found = by_id.get(str(part.intercom_id))
            expected = part.expected or {}
            if found is None:
                if complete:
                    ctx.add(entity, row, f"part {part.step}", "present", "missing")
                continue
            if expected.get("created_at") is not None and found.get("created_at") != expected["created_at"]:
                ctx.add(entity, row, f"part {part.step}.created_at", expected["created_at"], found.get("created_at"))
            author = str((found.get("author") or {}).get("id") or "")
            if expected.get("author_id") is not None and author != str(expected["author_id"]):
                ctx.add(entity, row, f"part {part.step}.author", expected["author_id"], author)
        applied = row.body or {}
        if thread.shows_open and "open" in applied and remote.get("open") != applied["open"]:
            ctx.add(entity, row, "open", applied["open"], remote.get("open"))
        wanted_state, actual_state = thread.states(applied, remote)
        if wanted_state and actual_state != wanted_state:
            ctx.add(entity, row, "state", wanted_state, actual_state)
        compare_tags(ctx, entity, row, remote, tags_of=ticket_id, labelled=False)

    return Verifier(thread.entity, read=thread.read, check=check)
