"""Who starts a ticket's conversation: the requester's migrated contact; a contact made once for a teammate who
requested tickets; a lead standing in for a requester gone from the source (`missing_requester: create_lead`), or the
ticket is skipped (`skip`). One lock per person: many workers, one contact."""

from __future__ import annotations

import logging
import threading
from typing import Any

from deskmigrate.core.errors import AmbiguousWriteError, ConflictError, LoadError, RejectedError
from deskmigrate.core.ledger import SKIPPED
from deskmigrate.core.model import Agent
from deskmigrate.core.payload import Payload
from deskmigrate.loaders.intercom.attributes import ensure_contact_attribute
from deskmigrate.loaders.intercom.client import names_field
from deskmigrate.loaders.intercom.history.common import ENTITY, LEADS, PHASE, TEAMMATES, ThreadOptions
from deskmigrate.loaders.intercom.loader import IntercomLoader, PhaseResult, body_hash

log = logging.getLogger(__name__)

CONTACTS = "contacts"
AGENTS = "agents"
# A teammate's email Intercom refuses on a contact (400) is kept in this contact attribute (string).
TEAMMATE_EMAIL = "teammate_email"


class Requesters:
    """The contacts that start tickets, made at most once each."""

    def __init__(self, loader: IntercomLoader, result: PhaseResult) -> None:
        self.loader = loader
        self.client = loader.client
        self.ledger = loader.ledger
        self.run_id = loader.run_id
        self.result = result
        self._person_locks: dict[str, threading.Lock] = {}
        self._person_locks_guard = threading.Lock()

    def requester(self, payload: Payload, options: ThreadOptions) -> tuple[str, str | None] | None:
        """The Intercom contact who starts the ticket, and the source requester it was made for (a teammate or a gone
        requester's lead; None for a migrated contact); None when the ticket is skipped (counted). A staged requester that
        did not land fails the ticket with its own reason (LoadError), to be retried once it lands."""
        requester = str(payload.refs["requester_id"]) if payload.refs.get("requester_id") else None
        if requester is not None:
            found = self.ledger.intercom_id(CONTACTS, requester)
            if found:
                return found, None
            if self.ledger.staged_record(CONTACTS, requester) is not None:
                failure = self.ledger.failure_of(CONTACTS, requester, CONTACTS)
                why = failure.reason if failure is not None else "it has no Intercom contact (the contacts phase did not load it)"
                raise LoadError(f"requester {requester} did not land: {why}")
            agent = self.ledger.staged_record(AGENTS, requester)
            if isinstance(agent, Agent):
                contact_id = self._teammate_contact(agent, str(payload.refs.get("source") or agent.source))
                self.ledger.record_notice(self.run_id, ENTITY, payload.source_id, "requester_teammate",
                                          f"requester {requester} is a teammate: started by their contact {contact_id}")
                return contact_id, requester
        # A lead speaks for the gone requester: a first message of theirs opens the conversation as the lead's.
        lead_key = requester if requester else f"ticket:{payload.source_id}"
        lead = self.ledger.intercom_id(LEADS, lead_key)
        if lead:
            return lead, requester
        if options.missing_requester == "skip":
            self._skip_without_requester(payload, requester)
            return None
        return self._lead(payload, requester, lead_key), requester

    def _skip_without_requester(self, payload: Payload, requester: str | None) -> None:
        # The detail is the reason the reconciliation counts the ticket under: the same for every such ticket.
        if requester is None:
            detail, outcome = "no requester (missing_requester: skip)", "skipped_no_requester"
        else:
            detail = "requester deleted in the source: neither a contact nor a teammate there (missing_requester: skip)"
            outcome = "skipped_requester_deleted"
        self.ledger.record_notice(self.run_id, ENTITY, payload.source_id, SKIPPED, detail)
        self.result.add(outcome)

    def _person_lock(self, key: str) -> threading.Lock:
        with self._person_locks_guard:
            return self._person_locks.setdefault(key, threading.Lock())

    def _lead(self, payload: Payload, requester: str | None, lead_key: str) -> str:
        """A lead to start a ticket whose requester is gone (missing_requester: create_lead): one per requester."""
        with self._person_lock(f"{LEADS}:{lead_key}"):
            lead = self.ledger.intercom_id(LEADS, lead_key)
            if lead is None:
                source = payload.refs.get("source") or "source"
                name = f"{source} requester {requester}" if requester else f"{source} ticket {payload.source_id} requester"
                body = {"role": "lead", "name": name}
                self.ledger.mark_pending(self.run_id, LEADS, lead_key, intent=body)
                lead = str(self.client.create_contact(body)["id"])
                self.ledger.record_write(self.run_id, PHASE, LEADS, lead_key, intercom_id=lead, action="create",
                                         origin="created", payload_hash=body_hash(body), body=body)
                self.result.add("leads_created")
        self.ledger.record_notice(self.run_id, ENTITY, payload.source_id, "requester_created",
                                  f"requester {requester} was not migrated; a lead {lead} starts the conversation")
        return lead

    def _teammate_contact(self, agent: Agent, source: str) -> str:
        """The contact for a teammate who requested tickets: made once (role user, namespaced external_id, their email
        and name); an existing contact with that email is used as it is; an email Intercom refuses goes to an attribute."""
        with self._person_lock(f"{TEAMMATES}:{agent.source_id}"):
            found = self.ledger.intercom_id(TEAMMATES, agent.source_id)
            if found:
                return found
            body: dict[str, Any] = {"role": "user", "external_id": teammate_external_id(source, agent.source_id)}
            if agent.email:
                body["email"] = agent.email
            if agent.name:
                body["name"] = agent.name
            row = self.ledger.id_row(TEAMMATES, agent.source_id)
            if row is not None and row.state == "pending":
                again = self.client.find_contact_by_external_id(body["external_id"])
                if again is not None:
                    return self._record_teammate(agent, str(again["id"]), "create", body)
            self.ledger.mark_pending(self.run_id, TEAMMATES, agent.source_id, intent=body)
            try:
                contact = self._create_teammate(agent, body)
            except ConflictError as conflict:
                if not conflict.existing_id:
                    raise
                if "archived" in str(conflict).lower():
                    self.client.unarchive_contact(conflict.existing_id)
                return self._record_teammate(agent, conflict.existing_id, "adopt", body)
            except AmbiguousWriteError:
                again = self.client.find_contact_by_external_id(body["external_id"])
                contact = again if again is not None else self._create_teammate(agent, body)
            return self._record_teammate(agent, str(contact["id"]), "create", body)

    def _create_teammate(self, agent: Agent, body: dict[str, Any]) -> dict[str, Any]:
        try:
            return self.client.create_contact(body)
        except RejectedError as error:
            if error.status != 400 or "email" not in body or not names_field(error, "email"):
                raise
            ensure_contact_attribute(self.loader, TEAMMATE_EMAIL, "Email of a teammate Intercom refused on their contact")
            log.warning("teammate %s: Intercom refused their email on a contact (HTTP 400); created without it", agent.source_id)
            without = {key: value for key, value in body.items() if key != "email"}
            without["custom_attributes"] = {TEAMMATE_EMAIL: body["email"]}
            self.ledger.record_notice(self.run_id, TEAMMATES, agent.source_id, "teammate_email_refused",
                                      f"Intercom refused the teammate's email on a contact (HTTP 400, {error.code or 'no code'}); "
                                      f"the contact has none, the email is kept in the contact attribute {TEAMMATE_EMAIL}")
            return self.client.create_contact(without)

    def _record_teammate(self, agent: Agent, contact_id: str, action: str, body: dict[str, Any]) -> str:
        """`create`: a contact we made (rollback deletes it); `adopt`: a contact that had the teammate's email before,
        used as it is (nothing written to it, so nothing to restore)."""
        origin = "created" if action == "create" else "adopted"
        self.ledger.record_write(self.run_id, PHASE, TEAMMATES, agent.source_id, intercom_id=contact_id, action=action,
                                 origin=origin, payload_hash=body_hash(body), body=body if action == "create" else {})
        detail = (f"teammate {agent.source_id} requested tickets: a contact {contact_id} was made for them"
                  if action == "create" else
                  f"teammate {agent.source_id} requested tickets: the contact {contact_id} that has their email starts them")
        self.ledger.record_notice(self.run_id, TEAMMATES, agent.source_id, "teammate_contact", detail)
        self.result.add("teammates_created" if action == "create" else "teammates_adopted")
        return contact_id


def teammate_external_id(source: str, agent_id: str) -> str:
    """The external_id of a teammate's contact: namespaced by source and kind, so it never equals a customer's
    (`zd:123`, `fd:123`, `hs:123` or a CSV id)."""
    return f"{source}-agent:{agent_id}"
