"""What the ticket history modules share: the phase's names, the mapping's thread options, thread keys, and the
assignee a ticket wants."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from deskmigrate.core.payload import Payload
from deskmigrate.loaders.intercom.history.ticket_types import TicketType
from deskmigrate.loaders.intercom.loader import IntercomLoader

PHASE = "conversations"
ENTITY = "conversations"  # the staged entity; notices about a ticket go under it, whatever it lands as
TICKETS = "tickets"
MAPPING_TARGET = "conversation"
LEADS = "leads"
# Contacts made for teammates (source agents, admins, Help Scout users) who requested tickets, keyed by agent source id.
TEAMMATES = "teammates"
# Every outcome of a ticket in this phase; they add up to the tickets it read.
TICKET_OUTCOMES = ("created", "updated", "unchanged", "failed", "skipped_requester_deleted", "skipped_no_requester")
# A placeholder for the Intercom id of a ticket's n-th conversation, filled once it exists.
CONTINUATION = "{conversation:%d}"


@dataclass(frozen=True)
class ThreadOptions:
    long_threads: str = "transcript"
    max_parts: int = 500
    missing_requester: str = "create_lead"
    source_attachment_hosts: tuple[str, ...] = ()
    snooze_days: int = 7
    target: str = "conversations"
    ticket_type: str = "Migrated ticket"

    @classmethod
    def from_refs(cls, refs: dict[str, Any]) -> ThreadOptions:
        return cls.from_options(refs.get("options") or {})

    @classmethod
    def from_options(cls, values: dict[str, Any]) -> ThreadOptions:
        options = dict(values)
        options["source_attachment_hosts"] = tuple(options.get("source_attachment_hosts") or ())
        return cls(**{key: value for key, value in options.items() if key in cls.__dataclass_fields__})


@dataclass
class Prepared:
    """What the phase's preflight part found: the conversation attributes the workspace has (None: not checked, every
    one is sent) and the ticket type history goes into (target tickets)."""

    conversation_attributes: set[str] | None = None
    ticket_type: TicketType | None = None


def prepared(loader: IntercomLoader) -> Prepared:
    found = loader.prepared.setdefault(PHASE, Prepared())
    assert isinstance(found, Prepared)
    return found


def history_entity(payload: Payload) -> str:
    """The id-map entity a ticket's history lives under: `conversations`, or `tickets` with `target: tickets`."""
    return TICKETS if ThreadOptions.from_refs(payload.refs).target == TICKETS else ENTITY


def thread_source_id(ticket_id: str, thread: int) -> str:
    """The id-map key of a ticket's conversation (thread 0) or of its continuations."""
    return ticket_id if thread == 0 else f"{ticket_id}#{thread + 1}"


def fill(text: str, threads: dict[int, str]) -> str:
    """The text with each continuation placeholder replaced by its conversation's Intercom id."""
    for thread, conversation_id in threads.items():
        text = text.replace(CONTINUATION % thread, conversation_id)
    return text


def wanted_assignee(loader: IntercomLoader, payload: Payload) -> str | None:
    """The admin the ticket's assignee was matched to; an unmatched assignee leaves it unassigned (noted)."""
    assignee = payload.refs.get("assignee_id")
    wanted = loader.agent_admins.get(str(assignee)) if assignee else None
    if assignee and wanted is None:
        loader.ledger.record_notice(loader.run_id, ENTITY, payload.source_id, "assignee_unmatched",
                                    f"assignee agent {assignee} has no Intercom admin; left unassigned")
    return wanted
