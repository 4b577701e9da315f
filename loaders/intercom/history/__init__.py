"""Phase `conversations`: each source ticket's history → one Intercom conversation with its parts in order, backdated,
or one Intercom ticket (`conversation_options.target: tickets`).

Its preflight part: the mapping's conversation attributes against the workspace's (conversations), or the ticket type
(tickets). One history loader (thread.py) carries the thread logic for both, composed with the calls of one or the
other (conversation_calls.py, ticket_calls.py).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from typing import Any

from deskmigrate.core.ledger import Ledger
from deskmigrate.core.payload import AttributeDeclaration, Payload
from deskmigrate.loaders.intercom.client import IntercomClient
from deskmigrate.loaders.intercom.history.attributes import (
    ConversationAttributeCheck,
    attribute_tag,
    check_conversation_attributes,
    prepare_conversation_attributes,
)
from deskmigrate.loaders.intercom.history.common import (
    ENTITY,
    LEADS,
    MAPPING_TARGET,
    PHASE,
    TEAMMATES,
    TICKET_OUTCOMES,
    TICKETS,
    ThreadOptions,
    history_entity,
    prepared,
)
from deskmigrate.loaders.intercom.history.conversation_calls import ConversationCalls
from deskmigrate.loaders.intercom.history.readback import CONVERSATION, TICKET, thread_undo, thread_verifier
from deskmigrate.loaders.intercom.history.requesters import TEAMMATE_EMAIL
from deskmigrate.loaders.intercom.history.steps import SUPPORT_OPENER
from deskmigrate.loaders.intercom.history.thread import HistoryLoader, ThreadCalls
from deskmigrate.loaders.intercom.history.ticket_calls import TicketCalls
from deskmigrate.loaders.intercom.history.ticket_types import TICKET_TYPE_UNDO, ensure_ticket_type
from deskmigrate.loaders.intercom.loader import IntercomLoader, PhaseResult
from deskmigrate.loaders.intercom.persons import person_kind
from deskmigrate.loaders.intercom.phase import Phase
from deskmigrate.loaders.intercom.undo import Undo


def prepare(loader: IntercomLoader, declarations: list[AttributeDeclaration]) -> Callable[[], dict[str, Any]]:
    """Only when this run loads ticket history: conversation attributes, or the ticket type it goes into."""
    options = loader.mapping_options.get(MAPPING_TARGET)
    if options is None:
        return dict
    thread_options = ThreadOptions.from_options(options)
    if thread_options.target != TICKETS:
        return prepare_conversation_attributes(loader, declarations)

    def make_ticket_type() -> dict[str, Any]:
        prepared(loader).ticket_type = ensure_ticket_type(loader, thread_options.ticket_type, declarations)
        return {}

    return make_ticket_type


def load_history(loader: IntercomLoader, payloads: Iterable[Payload]) -> PhaseResult:
    """The phase's load: conversations, or tickets when the mapping's target says so (its payloads carry the options)."""
    stream = iter(payloads)
    first = next(stream, None)
    everything = itertools.chain([first] if first is not None else [], stream)
    return HistoryLoader(loader, thread_calls(loader, first)).load(everything)


def thread_calls(loader: IntercomLoader, first: Payload | None) -> ThreadCalls:
    if first is None or history_entity(first) != TICKETS:
        return ConversationCalls(loader)
    ticket_type = prepared(loader).ticket_type
    if ticket_type is None:  # preflight did not know this run loads tickets
        ticket_type = ensure_ticket_type(loader, ThreadOptions.from_refs(first.refs).ticket_type, loader.attribute_declarations)
        prepared(loader).ticket_type = ticket_type
    return TicketCalls(loader, ticket_type)


def plan_action(ledger: Ledger, payload: Payload) -> str:
    """create | update | unchanged, judged like the load judges it: the whole payload's hash, new comments included."""
    row = ledger.id_row(history_entity(payload), payload.source_id)
    if row is None or row.state != "done":
        return "create"
    return "unchanged" if row.payload_hash == payload.content_hash() else "update"


def attribute_check(client: IntercomClient, declarations: list[AttributeDeclaration],
                    mapping_options: dict[str, dict[str, Any]]) -> ConversationAttributeCheck | None:
    """`check` and `plan`: the mapping's conversation attributes against the workspace's (one read, nothing written);
    None when history goes to tickets or none are declared."""
    declared = [a for a in declarations if a.model == "conversation"]
    if not declared or ThreadOptions.from_options(mapping_options.get(MAPPING_TARGET) or {}).target == TICKETS:
        return None
    return check_conversation_attributes(client, declared)


def workspace_attributes(loader: IntercomLoader) -> set[str] | None:
    """The conversation attributes the workspace has, as preflight found them (None: not checked)."""
    return prepared(loader).conversation_attributes


HISTORY = Phase(
    PHASE, ENTITY, MAPPING_TARGET, load_history,
    # Tags: a conversation's tag that contacts or companies carry too is the tags phase's to create (or adopt), not its own.
    requires=("contacts", "tags"),
    prepare=prepare,
    plan_action=plan_action,
    undo=Undo(
        records=(thread_undo(CONVERSATION, PHASE), thread_undo(TICKET, PHASE), person_kind(LEADS, PHASE),
                 person_kind(TEAMMATES, PHASE, mapping_only=frozenset({"adopt"}))),
        settings=(TICKET_TYPE_UNDO,),
    ),
    verify=(thread_verifier(CONVERSATION), thread_verifier(TICKET)),
    lands_as=(ENTITY, TICKETS),
)

__all__ = [
    "HISTORY", "SUPPORT_OPENER", "TEAMMATES", "TEAMMATE_EMAIL", "TICKET_OUTCOMES", "ConversationAttributeCheck", "ConversationCalls",
    "HistoryLoader", "TicketCalls", "attribute_check", "attribute_tag", "check_conversation_attributes", "load_history", "plan_action", "workspace_attributes",
]
