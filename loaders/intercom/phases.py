"""Intercom load phases: preflight → companies → contacts (+ company links) → tags, each idempotent and resumable.

The ledger, not Intercom search, decides what exists (search is eventually consistent). Every
write is recorded with what it replaced, so a run can be rolled back.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from deskmigrate.core.config import LoadConfig
from deskmigrate.core.errors import (
    AmbiguousWriteError,
    AuthError,
    ConfigError,
    ConflictError,
    LoadError,
    Problem,
    RejectedError,
    RetriableError,
)
from deskmigrate.core.ledger import IdMapRow, Ledger, SharedEmailContact, merge_marker, tag_key
from deskmigrate.core.ledger.schema import request_shape
from deskmigrate.core.payload import AttributeDeclaration, Payload
from deskmigrate.loaders.intercom.client import IntercomClient
from deskmigrate.loaders.intercom.facts import TagNames, company_tag_keys, contact_company_ids, contact_tag_keys

if TYPE_CHECKING:
    from deskmigrate.core.files import SourceFiles
from deskmigrate.core.helpcenter_urls import HelpCenterUrls

log = logging.getLogger(__name__)

T = TypeVar("T")
ProgressCallback = Callable[[str, int], None]

# A contact found by external_id after a crash mid-create is ours if Intercom created it no earlier
# than this many seconds before we marked the create as pending (allows for clock skew).
RECONCILE_SKEW_S = 120.0

CONTACT_COMPARED_FIELDS = ("email", "external_id", "name", "phone", "role")
# A phone Intercom refuses (400) is re-sent without it, its text kept in this contact attribute (string).
PHONE_ORIGINAL = "phone_original"
# Every outcome of a contacts-phase record; with `rejected_duplicate_email` they add up to the records it read.
CONTACT_OUTCOMES = ("created", "updated", "adopted", "unchanged", "failed", "merged", "rejected_duplicate_email")
COMPANY_COMPARED_FIELDS = ("company_id", "name", "plan", "size", "website", "industry")


def body_hash(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()


@dataclass
class PhaseResult:
    phase: str
    created: int = 0
    updated: int = 0
    adopted: int = 0
    unchanged: int = 0
    failed: int = 0
    extra: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, outcome: str, n: int = 1) -> None:
        with self._lock:
            if outcome in ("created", "updated", "adopted", "unchanged", "failed"):
                setattr(self, outcome, getattr(self, outcome) + n)
            else:
                self.extra[outcome] = self.extra.get(outcome, 0) + n

    def ensure(self, *outcomes: str) -> None:
        """Outcome keys that are always reported, zero or not, so reports keep the same keys run after run."""
        with self._lock:
            for outcome in outcomes:
                if outcome not in self.__dataclass_fields__:
                    self.extra.setdefault(outcome, 0)

    def as_dict(self) -> dict[str, Any]:
        return {
            "phase": self.phase, "created": self.created, "updated": self.updated, "adopted": self.adopted,
            "unchanged": self.unchanged, "failed": self.failed, **self.extra,
        }


@dataclass(frozen=True)
class TagBatch:
    """Up to `tag_batch_size` records of one entity to receive one tag in a single POST /tags."""

    key: str
    name: str
    entity: str
    targets: list[tuple[str, str | None]]


@dataclass
class PreflightResult:
    workspace: str
    region: str
    admins: list[dict[str, Any]]
    attributes_created: list[str]
    attributes_existing: list[str]
    agents_matched: int = 0
    agents_unmatched: list[str] = field(default_factory=list)
    fallback_admin: str | None = None
    # The mapping's conversation attributes against the workspace's (created on 2.16+, else kept as tags): see conversations.py.
    conversation_attributes: dict[str, Any] = field(default_factory=dict)


def run_concurrently(items: Iterable[T], work: Callable[[T], None], workers: int) -> None:
    """Run `work` over a stream with at most `workers` in flight and a bounded backlog (flat memory).

    The first AuthError stops the phase: nothing else can succeed with that token.
    """
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="load") as pool:
        pending: set[Future[None]] = set()
        for item in items:
            if len(pending) >= workers * 2:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                _raise_fatal(done)
            pending.add(pool.submit(work, item))
        done, _ = wait(pending)
        _raise_fatal(done)


def _raise_fatal(done: Iterable[Future[None]]) -> None:
    for future in done:
        error = future.exception()
        if error is not None:
            raise error


class IntercomLoader:
    """Writes payloads into Intercom (or the sandbox) phase by phase, keeping the ledger in step."""

    def __init__(
        self, client: IntercomClient, ledger: Ledger, run_id: str, settings: LoadConfig,
        on_progress: ProgressCallback | None = None,
    ) -> None:
        self.client = client
        self.ledger = ledger
        self.run_id = run_id
        self.settings = settings
        self.on_progress = on_progress or (lambda phase, n: None)
        self.agent_admins: dict[str, str] = {}
        self.fallback_admin_id: str | None = None
        # Set by the pipeline for the help center phases: files behind the source's login, where to save them, and the
        # source's public URL forms (to point links between articles at Intercom).
        self.source_files: SourceFiles | None = None
        self.asset_dir: Path | None = None
        self.help_center_urls = HelpCenterUrls()
        # What phases report beyond counts, by name (the help center's content-loss report), for the run report.
        self.details: dict[str, Any] = {}
        # The mapping's attribute declarations, as preflight received them (ticket types take the conversation ones).
        self.attribute_declarations: list[AttributeDeclaration] = []
        # Set by the pipeline when ticket history is staged: conversations | tickets (the mapping's conversation_options.target).
        self.history_target: str | None = None
        # The conversation attributes the workspace has, once preflight checked them (None: not checked, send all).
        self.conversation_attributes: set[str] | None = None
        # Contact attributes a load found it needs mid-phase (phone_original, teammate_email): known to exist once ensured.
        self._contact_attributes: set[str] = set()
        self._contact_attributes_lock = threading.Lock()
        # Tag ids → keys, read once when an adopted contact's tags are recorded as pre-existing.
        self.tag_names = TagNames(client)

    # -- preflight -----------------------------------------------------------------------------

    def preflight(self, attributes: list[AttributeDeclaration]) -> PreflightResult:
        """Check the token and workspace, read admins, create the data attributes the mapping declares."""
        self.attribute_declarations = list(attributes)
        me = self.client.me()
        app = me.get("app") or {}
        admins = self.client.admins().get("admins", [])
        # Every check that can stop the run comes before the first write (strict_agents, strict_attributes).
        matched, unmatched = self._match_agents(me, admins)
        conversation_attributes: dict[str, Any] = {}
        if self.history_target == "conversations" and any(a.model == "conversation" for a in attributes):
            # First, so that strict_attributes stops before anything is written. Late import: conversations builds on this module.
            from deskmigrate.loaders.intercom.conversations import prepare_conversation_attributes

            conversation_attributes = prepare_conversation_attributes(self, attributes).as_dict()
        created: list[str] = []
        existing: list[str] = []
        for model in ("contact", "company"):
            wanted = [a for a in attributes if a.model == model]
            if not wanted:
                continue
            present = {a["name"]: a for a in self.client.list_data_attributes(model, include_archived=True).get("data", [])}
            for declaration in wanted:
                found = present.get(declaration.name)
                if found is not None and found.get("archived"):
                    # Archived (e.g. by an earlier rollback): a new one with that name would clash, so bring it back,
                    # logged as a create so that a rollback of this run archives it again.
                    self.client.unarchive_data_attribute(str(found["id"]))
                    self.ledger.log_write(
                        self.run_id, "preflight", "data_attributes", f"{model}.{declaration.name}", str(found["id"]), "create",
                    )
                    created.append(f"{model}.{declaration.name}")
                    continue
                if found is not None:
                    existing.append(f"{model}.{declaration.name}")
                    continue
                if not declaration.create_if_missing:
                    raise LoadError(f"{model} attribute {declaration.name!r} does not exist in Intercom and create_if_missing is false")
                body: dict[str, Any] = {
                    "name": declaration.name, "model": model, "data_type": declaration.data_type,
                    "description": declaration.description or "Created by deskmigrate",
                }
                if declaration.options:
                    body["options"] = [{"value": o} for o in declaration.options]
                attribute = self._create_attribute(model, body)
                self.ledger.log_write(
                    self.run_id, "preflight", "data_attributes", f"{model}.{declaration.name}", str(attribute.get("id")), "create",
                )
                created.append(f"{model}.{declaration.name}")
        return PreflightResult(
            workspace=str(app.get("name") or app.get("id_code") or "?"), region=str(app.get("region") or "?"),
            admins=admins, attributes_created=created, attributes_existing=existing,
            agents_matched=matched, agents_unmatched=unmatched, fallback_admin=self.fallback_admin_id,
            conversation_attributes=conversation_attributes,
        )

    def _match_agents(self, me: dict[str, Any], admins: list[dict[str, Any]]) -> tuple[int, list[str]]:
        """Source agents → Intercom admins by email; the unmatched get the fallback admin (or stop the run in strict mode)."""
        by_email = {str(a.get("email") or "").lower(): str(a["id"]) for a in admins if a.get("email")}
        wanted = (self.settings.fallback_admin_email or "").lower()
        if wanted and wanted not in by_email:
            raise ConfigError([Problem(path="load.fallback_admin_email", message=f"no Intercom admin has the email {wanted!r}")])
        self.fallback_admin_id = by_email.get(wanted) or (str(me["id"]) if me.get("id") else None)
        unmatched: list[str] = []
        for agent in self.ledger.iter_staged("agents"):
            email = str(getattr(agent, "email", None) or "").lower()
            if email in by_email:
                self.agent_admins[agent.source_id] = by_email[email]
            else:
                unmatched.append(f"{agent.source_id} <{email or 'no email'}>")
        if unmatched and self.settings.strict_agents:
            raise ConfigError(
                [Problem(path="load.strict_agents", message=f"source agent {agent} has no Intercom admin with that email")
                 for agent in unmatched],
                title="agents without an Intercom admin (strict_agents is on; nothing was loaded)",
            )
        return len(self.agent_admins), unmatched

    def admin_for_agent(self, agent_source_id: str | None) -> str | None:
        """The Intercom admin id for a source agent: matched by email, else the fallback admin."""
        if agent_source_id is not None and agent_source_id in self.agent_admins:
            return self.agent_admins[agent_source_id]
        return self.fallback_admin_id

    def _create_attribute(self, model: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            return self.client.create_data_attribute(body)
        except AmbiguousWriteError:
            # The create may have landed: look before sending it again.
            for attribute in self.client.list_data_attributes(model).get("data", []):
                if attribute.get("name") == body["name"]:
                    return attribute
            return self.client.create_data_attribute(body)

    # -- companies -----------------------------------------------------------------------------

    def load_companies(self, payloads: Iterable[Payload]) -> PhaseResult:
        return self._load_each("companies", payloads, self._load_company)

    def _load_company(self, payload: Payload, result: PhaseResult) -> None:
        digest, row = self._desire(payload, "companies")
        if row is not None and row.state == "done":
            self.record_legacy_facts("companies", row)
            if row.payload_hash == digest:
                result.add("unchanged")
                return
        if row is None or row.origin is None:
            # POST /companies is an upsert that cannot say whether it created; one consistent lookup by
            # company_id first tells us, and gives the before-image of a pre-existing company.
            existing = self.client.find_company(str(payload.body["company_id"]))
            origin = "adopted" if existing else "created"
            before = _before_image("companies", existing, payload.body) if existing else None
            self.ledger.mark_pending(
                self.run_id, "companies", payload.source_id, origin=origin, before=before,
                intercom_id=existing.get("id") if existing else None, intent=payload.body,
            )
            if existing:
                # Its tags were there before us: no delta or rollback removes them.
                self.ledger.record_found(self.run_id, "companies", payload.source_id, tags=company_tag_keys(existing))
            row = self.ledger.id_row("companies", payload.source_id)
        assert row is not None
        company = self.client.upsert_company(payload.body)
        first_write = row.state == "pending"
        before = row.before if first_write else _before_image("companies", row.body or {}, payload.body)
        action = ("create" if row.origin == "created" else "adopt") if first_write else "update"
        self.ledger.record_write(
            self.run_id, "companies", "companies", payload.source_id, intercom_id=str(company["id"]), action=action,
            origin=row.origin or "created", payload_hash=digest, body=payload.body, before=before if action != "create" else None,
        )
        result.add({"create": "created", "adopt": "adopted", "update": "updated"}[action])

    # -- contacts ------------------------------------------------------------------------------

    def load_contacts(self, payloads: Iterable[Payload]) -> PhaseResult:
        """Every contact, one Intercom contact per email: staged records sharing one email are held back, then each
        group lands as one contact (`load.on_duplicate_email`: merge, the newest record's fields written; or reject_later)."""
        result = PhaseResult("contacts")
        result.ensure(*CONTACT_OUTCOMES)
        groups = self.ledger.contacts_sharing_email()
        member_of = {member.source_id: index for index, group in enumerate(groups) for member in group}
        held: dict[int, list[Payload]] = {}

        def singles() -> Iterator[Payload]:
            for payload in payloads:
                index = member_of.get(payload.source_id)
                if index is None or not payload.body.get("email"):
                    yield payload
                else:
                    held.setdefault(index, []).append(payload)

        self.ledger.start_phase(self.run_id, "contacts", None)
        run_concurrently(singles(), lambda p: self._attempt("contacts", p, lambda q: self._load_contact(q, result), result),
                         self.settings.concurrency)
        shared = [(groups[index], arrived) for index, arrived in sorted(held.items())]
        run_concurrently(shared, lambda group: self._load_email_group(group[0], group[1], result), self.settings.concurrency)
        self._finish_phase("contacts", result)
        return result

    def _load_email_group(self, members: list[SharedEmailContact], arrived: list[Payload], result: PhaseResult) -> None:
        """Source contacts sharing one email (ignoring case): Intercom keeps a user's email unique, so one contact."""
        by_id = {payload.source_id: payload for payload in arrived}
        present = [member for member in members if member.source_id in by_id]

        def load(payload: Payload) -> bool:
            return self._attempt("contacts", payload, lambda p: self._load_contact(p, result), result)

        if len(present) == 1:
            load(by_id[present[0].source_id])
            return
        if self.settings.on_duplicate_email == "reject_later":
            first, *later = present
            load(by_id[first.source_id])
            for member in later:
                self._reject_duplicate(by_id[member.source_id], first, result)
            return
        survivor = newest(present)
        others = [member for member in present if member is not survivor]
        landed = load(by_id[survivor.source_id])
        intercom_id = self.ledger.intercom_id("contacts", survivor.source_id) if landed else None
        for member in others:
            payload = by_id[member.source_id]
            if intercom_id is None:
                self._attempt("contacts", payload, lambda p: _raise(LoadError(
                    f"same email as contact {survivor.source_id} (the newest of them, whose fields are written), which did not "
                    "land; retried with it")), result)
                continue
            self._attempt("contacts", payload, lambda p: self._merge_contact(p, survivor, intercom_id, result), result)

    def _merge_contact(self, payload: Payload, survivor: SharedEmailContact, intercom_id: str, result: PhaseResult) -> None:
        """Map a record to the contact its newer namesake landed as: its tickets, tags and company links go there too."""
        self.ledger.set_desired_tags("contacts", payload.source_id, payload.tags)
        row = self.ledger.id_row("contacts", payload.source_id)
        already = (row is not None and row.state == "done" and row.origin == "merged" and row.intercom_id == intercom_id
                   and row.payload_hash == merge_marker(survivor.source_id))
        if not already:
            self.ledger.record_merge(self.run_id, "contacts", "contacts", payload.source_id, intercom_id=intercom_id,
                                     into=survivor.source_id)
            self.ledger.record_notice(
                self.run_id, "contacts", payload.source_id, "merged_duplicate_email",
                f"same email as contact {survivor.source_id}{_where(survivor)}, the newer record: merged into its Intercom "
                f"contact {intercom_id}, whose fields are {survivor.source_id}'s; this record's tickets, tags and companies go there",
            )
        self._sync_company_links(payload)
        result.add("unchanged" if already else "merged")

    def _reject_duplicate(self, payload: Payload, first: SharedEmailContact, result: PhaseResult) -> None:
        reason = (f"same email as contact {first.source_id}{_where(first)}, staged first: left out "
                  "(load.on_duplicate_email: reject_later)")
        self.ledger.record_failure(self.run_id, "contacts", "contacts", payload.source_id, reason, field="email")
        result.add("rejected_duplicate_email")
        self.on_progress("contacts", 1)

    def _load_contact(self, payload: Payload, result: PhaseResult) -> None:
        digest, row = self._desire(payload, "contacts")
        if row is not None and row.state == "done":
            self.record_legacy_facts("contacts", row)
            if row.payload_hash == digest:
                outcome = "unchanged"
            else:
                previous = row.body
                if row.origin == "merged":
                    # It was merged into a namesake and is now written itself: what the contact holds is the before-image.
                    previous = self.client.get_contact(row.intercom_id or "")
                outcome = self._update_contact(payload, row.intercom_id or "", row.origin or "created", previous, digest)
        elif row is not None and row.state == "pending":
            outcome = self._resume_pending_contact(payload, row.pending_since or 0.0, digest)
        else:
            outcome = self._create_contact(payload, digest)
        self._sync_company_links(payload)
        result.add(outcome)

    def _create_contact(self, payload: Payload, digest: str) -> str:
        self.ledger.mark_pending(self.run_id, "contacts", payload.source_id, intent=payload.body)
        try:
            contact, sent = self._send_contact(payload, self.client.create_contact)
        except ConflictError as conflict:
            if not conflict.existing_id:
                raise
            if "archived" in str(conflict).lower():
                self.client.request("POST", f"/contacts/{conflict.existing_id}/unarchive")
            return self._adopt_contact(payload, conflict.existing_id, digest)
        except AmbiguousWriteError:
            row = self.ledger.id_row("contacts", payload.source_id)
            return self._resume_pending_contact(payload, row.pending_since if row and row.pending_since else 0.0, digest)
        self.ledger.record_write(
            self.run_id, "contacts", "contacts", payload.source_id, intercom_id=str(contact["id"]), action="create",
            origin="created", payload_hash=digest, body=sent,
        )
        return "created"

    def _resume_pending_contact(self, payload: Payload, pending_since: float, digest: str) -> str:
        """A create whose outcome is unknown (crash or dropped connection): find it by external_id before any re-send."""
        external_id = payload.body.get("external_id")
        found = self.client.find_contact_by_external_id(str(external_id)) if external_id else None
        if found is None:
            return self._create_contact_after_reconcile(payload, digest)
        ours = float(found.get("created_at") or 0) >= pending_since - RECONCILE_SKEW_S
        if ours:
            updated, sent = self._send_contact(payload, lambda body: self.client.update_contact(str(found["id"]), body))
            self.ledger.record_write(
                self.run_id, "contacts", "contacts", payload.source_id, intercom_id=str(updated.get("id", found["id"])),
                action="create", origin="created", payload_hash=digest, body=sent,
            )
            return "created"
        return self._adopt_contact(payload, str(found["id"]), digest, existing=found)

    def _create_contact_after_reconcile(self, payload: Payload, digest: str) -> str:
        try:
            contact, sent = self._send_contact(payload, self.client.create_contact)
        except ConflictError as conflict:
            if not conflict.existing_id:
                raise
            return self._adopt_contact(payload, conflict.existing_id, digest)
        self.ledger.record_write(
            self.run_id, "contacts", "contacts", payload.source_id, intercom_id=str(contact["id"]), action="create",
            origin="created", payload_hash=digest, body=sent,
        )
        return "created"

    def _adopt_contact(self, payload: Payload, intercom_id: str, digest: str, existing: dict[str, Any] | None = None) -> str:
        """A pre-existing contact: keep its before-image, then update it. It is never deleted by rollback."""
        current = existing if existing is not None else self.client.get_contact(intercom_id)
        before = _before_image("contacts", current, payload.body)
        self.ledger.mark_pending(self.run_id, "contacts", payload.source_id, origin="adopted", before=before, intercom_id=intercom_id,
                                 intent=payload.body)
        # Before the first write: the tags and company links it has now are not ours, and no delta or rollback removes them.
        self._record_contact_facts(payload.source_id, current, set(), set())
        _, sent = self._send_contact(payload, lambda body: self.client.update_contact(intercom_id, body))
        self.ledger.record_write(
            self.run_id, "contacts", "contacts", payload.source_id, intercom_id=intercom_id, action="adopt",
            origin="adopted", payload_hash=digest, body=sent, before=_before_image("contacts", current, sent),
        )
        return "adopted"

    def _update_contact(self, payload: Payload, intercom_id: str, origin: str, previous: dict[str, Any] | None, digest: str) -> str:
        try:
            _, sent = self._send_contact(payload, lambda body: self.client.update_contact(intercom_id, body))
        except RejectedError as error:
            if error.status != 404:
                raise
            # Deleted in Intercom behind our back: forget it and create it again.
            self.ledger.forget("contacts", payload.source_id)
            return self._create_contact(payload, digest)
        self.ledger.record_write(
            self.run_id, "contacts", "contacts", payload.source_id, intercom_id=intercom_id, action="update",
            origin=origin, payload_hash=digest, body=sent, before=_before_image("contacts", previous or {}, sent),
        )
        return "updated"

    def _send_contact(self, payload: Payload, call: Callable[[dict[str, Any]], dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
        """Send the contact; a 400 about its phone sends it again without, the text kept in `phone_original`.

        Returns Intercom's answer and the body that it accepted (what the ledger compares and validates against).
        """
        try:
            return call(payload.body), payload.body
        except RejectedError as error:
            phone = payload.body.get("phone")
            if error.status != 400 or not phone or not names_field(error, "phone"):
                raise
            body = {key: value for key, value in payload.body.items() if key != "phone"}
            body["custom_attributes"] = {**(payload.body.get("custom_attributes") or {}), PHONE_ORIGINAL: str(phone)}
            self.ensure_contact_attribute(PHONE_ORIGINAL, "Phone number as the source had it, which Intercom refused")
            log.warning("contact %s: Intercom refused its phone number (HTTP 400); sent without it", payload.source_id)
            answer = call(body)
            self.ledger.record_notice(
                self.run_id, "contacts", payload.source_id, "phone_refused",
                f"Intercom refused the phone number (HTTP 400, {error.code or 'no code'}); the contact was sent without it and "
                f"the text kept in the contact attribute {PHONE_ORIGINAL}",
            )
            return answer, body

    def ensure_contact_attribute(self, name: str, description: str) -> None:
        """A string contact attribute a load needs that the mapping may not declare: found, brought back, or created once."""
        with self._contact_attributes_lock:
            if name in self._contact_attributes:
                return
            present = {a["name"]: a for a in self.client.list_data_attributes("contact", include_archived=True).get("data", [])}
            found = present.get(name)
            if found is not None and found.get("archived"):
                self.client.unarchive_data_attribute(str(found["id"]))
                self.ledger.log_write(self.run_id, "preflight", "data_attributes", f"contact.{name}", str(found["id"]), "create")
            elif found is None:
                body = {"name": name, "model": "contact", "data_type": "string", "description": description}
                attribute = self._create_attribute("contact", body)
                self.ledger.log_write(self.run_id, "preflight", "data_attributes", f"contact.{name}", str(attribute.get("id")), "create")
            self._contact_attributes.add(name)

    def _record_contact_facts(self, source_id: str, contact: dict[str, Any], known_tags: set[str], known_links: set[str]) -> None:
        """A pre-existing contact's tags and company links (those of companies in the source) as found, minus what the ledger
        knows already (what an older deskmigrate applied to it)."""
        tags = contact_tag_keys(self.client, contact, self.tag_names) - known_tags
        companies = {sid for company_id in contact_company_ids(self.client, contact)
                     for sid in self.ledger.source_ids_for("companies", company_id)} - known_links
        self.ledger.record_found(self.run_id, "contacts", source_id, tags=tags, companies=companies)

    def record_legacy_facts(self, entity: str, row: IdMapRow) -> None:
        """A record adopted by a ledger of schema 1, which never recorded what it carried before: read it once and record
        its tags and links that the ledger does not know as found (what schema 1 applied stays of unknown owner: legacy)."""
        if row.origin != "adopted" or row.facts is not None or not row.intercom_id:
            return
        known_tags, known_links = self.ledger.known_facts(entity, row.source_id)
        if entity == "contacts":
            self._record_contact_facts(row.source_id, self.client.get_contact(row.intercom_id), known_tags, known_links)
        else:
            company = self.client.get_company(row.intercom_id)
            self.ledger.record_found(self.run_id, entity, row.source_id, tags=company_tag_keys(company) - known_tags)

    def _sync_company_links(self, payload: Payload) -> None:
        contact_id = self.ledger.intercom_id("contacts", payload.source_id)
        if contact_id is None:
            return
        wanted = set(payload.company_source_ids)
        applied = self.ledger.applied_links(payload.source_id)
        for company_source_id in sorted(wanted - applied):
            company_id = self.ledger.intercom_id("companies", company_source_id)
            if company_id is None:
                self.ledger.record_failure(
                    self.run_id, "links", "contacts", payload.source_id,
                    f"company {company_source_id!r} is not in Intercom (not in the source, or it failed to load)",
                    field="company_ids",
                )
                continue
            self.ledger.mark_link_pending(self.run_id, payload.source_id, company_source_id)
            self.client.attach_company(contact_id, company_id)
            self.ledger.set_link(self.run_id, payload.source_id, company_source_id, present=True,
                                 contact_intercom_id=contact_id, company_intercom_id=company_id)
        # Only links deskmigrate made go when the source drops them; those the contact had before us stay.
        for company_source_id in sorted(self.ledger.owned_links(payload.source_id) - wanted):
            company_id = self.ledger.intercom_id("companies", company_source_id)
            if company_id is not None and not self._sibling_has(payload.source_id, contact_id, self.ledger.applied_links, company_source_id):
                self.client.detach_company(contact_id, company_id)
            self.ledger.set_link(self.run_id, payload.source_id, company_source_id, present=False,
                                 contact_intercom_id=contact_id, company_intercom_id=company_id or "")
        if wanted <= self.ledger.applied_links(payload.source_id):
            self.ledger.clear_failure("contacts", payload.source_id, "links")

    def _sibling_has(self, source_id: str, contact_id: str, applied: Callable[[str], set[str]], key: str) -> bool:
        """Whether another source record merged into the same Intercom contact still carries this link or tag."""
        return any(key in applied(other) for other in self.ledger.source_ids_for("contacts", contact_id) if other != source_id)

    # -- tags ------------------------------------------------------------------------------------

    def load_tags(self) -> PhaseResult:
        """Apply every wanted tagging in bulk (POST /tags with up to `tag_batch_size` targets), remove unwanted ones.

        Batches run concurrently; a tag new to Intercom is created by its first batch, so every tag's first
        batch goes in a round of its own before the rest.
        """
        result = PhaseResult("tags")
        wanted = self.ledger.tag_names_wanted()
        self.ledger.start_phase(self.run_id, "tags", None)
        existing = {tag_key(t["name"]): t for t in self.client.list_tags().get("data", [])}
        known = {key for key in wanted if self.ledger.intercom_id("tags", key) is not None}
        for key, name in wanted.items():
            self._tag_id(key, name, existing)  # adopts a tag that already exists in Intercom, without a call
        firsts: list[TagBatch] = []
        rest: list[TagBatch] = []
        for key, name in wanted.items():
            batches = self._tag_batches(key, name)
            if batches and self.ledger.intercom_id("tags", key) is None:
                # Its first batch creates it: a crash before the ledger hears back leaves this trace for rollback.
                self.ledger.mark_pending(self.run_id, "tags", key, intent={"name": name})
                firsts.append(batches.pop(0))
            rest.extend(batches)
        workers = self.settings.concurrency
        run_concurrently(firsts, lambda batch: self._send_tag_batch(batch, result), workers)
        run_concurrently(rest, lambda batch: self._send_tag_batch(batch, result), workers)
        for key in wanted:
            if key not in known and self.ledger.intercom_id("tags", key) is not None:
                origin = self.ledger.id_row("tags", key).origin  # type: ignore[union-attr]
                result.add("adopted" if origin == "adopted" else "created")
        for entity in ("contacts", "companies"):
            self._remove_unwanted_taggings(entity, existing, result)
        self.ledger.finish_phase(self.run_id, "tags")
        return result

    def _tag_id(self, key: str, name: str, existing: dict[str, dict[str, Any]]) -> str | None:
        row = self.ledger.id_row("tags", key)
        if row is not None and row.state == "done" and row.intercom_id:
            return row.intercom_id
        if key in existing:
            tag_id = str(existing[key]["id"])
            self.ledger.record_write(
                self.run_id, "tags", "tags", key, intercom_id=tag_id, action="adopt", origin="adopted",
                payload_hash=body_hash({"name": name}), body={"name": name},
            )
            return tag_id
        return None

    def _tag_batches(self, key: str, name: str) -> list[TagBatch]:
        """The taggings still to apply for one tag, in batches of `tag_batch_size`; records not in Intercom wait."""
        batches: list[TagBatch] = []
        size = self.settings.tag_batch_size
        for entity in ("contacts", "companies"):
            targets = [(sid, self.ledger.intercom_id(entity, sid)) for sid in self.ledger.taggings_to_add(key, entity)]
            ready = [(sid, iid) for sid, iid in targets if iid]
            batches.extend(TagBatch(key, name, entity, ready[i:i + size]) for i in range(0, len(ready), size))
        return batches

    def _send_tag_batch(self, batch: TagBatch, result: PhaseResult) -> None:
        ids = list(dict.fromkeys(iid for _, iid in batch.targets))  # records merged into one contact: tagged once
        source_ids = [sid for sid, _ in batch.targets]
        self.ledger.mark_taggings_pending(self.run_id, batch.key, batch.entity, source_ids)
        try:
            tag = self.client.tag_contacts(batch.name, ids) if batch.entity == "contacts" else self.client.tag_companies(batch.name, ids)
        except (RejectedError, RetriableError) as error:
            for sid in source_ids:
                self.fail("tags", batch.entity, sid, error)
            result.add("failed", len(source_ids))
            return
        tag_id = self.ledger.intercom_id("tags", batch.key)
        if tag_id is None:
            tag_id = str(tag["id"])
            self.ledger.record_write(
                self.run_id, "tags", "tags", batch.key, intercom_id=tag_id, action="create", origin="created",
                payload_hash=body_hash({"name": batch.name}), body={"name": batch.name},
            )
        self.ledger.record_taggings(self.run_id, batch.key, tag_id, batch.entity, source_ids, present=True)
        for sid in source_ids:
            self.ledger.clear_failure(batch.entity, sid, "tags")
        result.add("taggings_added", len(source_ids))
        self.on_progress("tags", len(source_ids))

    def _remove_unwanted_taggings(self, entity: str, existing: dict[str, dict[str, Any]], result: PhaseResult) -> None:
        for key, source_id in self.ledger.taggings_to_remove(entity):
            tag_row = self.ledger.id_row("tags", key)
            intercom_id = self.ledger.intercom_id(entity, source_id)
            if tag_row is None or not tag_row.intercom_id or intercom_id is None:
                self.ledger.record_taggings(self.run_id, key, "", entity, [source_id], present=False)
                continue
            if entity == "contacts" and self._sibling_has(source_id, intercom_id, lambda sid: self.ledger.applied_taggings("contacts", sid), key):
                pass  # another record merged into this contact still wants the tag: only this record's tagging goes
            elif entity == "contacts":
                self.client.untag_contact(intercom_id, tag_row.intercom_id)
            else:
                name = (tag_row.body or {}).get("name") or key
                self.client.untag_companies(name, [intercom_id])
            self.ledger.record_taggings(self.run_id, key, tag_row.intercom_id, entity, [source_id], present=False)
            result.add("taggings_removed")

    # -- shared ----------------------------------------------------------------------------------

    def _load_each(self, phase: str, payloads: Iterable[Payload], load_one: Callable[[Payload, PhaseResult], None]) -> PhaseResult:
        result = PhaseResult(phase)
        self.run_phase(phase, payloads, lambda p: load_one(p, result), result)
        return result

    def _desire(self, payload: Payload, entity: str) -> tuple[str, IdMapRow | None]:
        """Records the tags a payload wants; returns its body's hash and its ledger row."""
        self.ledger.set_desired_tags(entity, payload.source_id, payload.tags)
        return body_hash(payload.body), self.ledger.id_row(entity, payload.source_id)

    def run_phase(self, phase: str, payloads: Iterable[Payload], work: Callable[[Payload], None], result: PhaseResult) -> None:
        """Run `work` over every payload concurrently; a LoadError fails that record only, an AuthError stops the phase."""
        self.ledger.start_phase(self.run_id, phase, None)
        run_concurrently(payloads, lambda payload: self._attempt(phase, payload, work, result), self.settings.concurrency)
        self._finish_phase(phase, result)

    def _attempt(self, phase: str, payload: Payload, work: Callable[[Payload], None], result: PhaseResult) -> bool:
        """One record's work: True when it went through; a LoadError fails that record only (recorded, counted)."""
        try:
            work(payload)
        except AuthError:
            raise
        except LoadError as error:
            self.fail(phase, payload.entity, payload.source_id, error)
            result.add("failed")
            return False
        finally:
            self.on_progress(phase, 1)
        return True

    def _finish_phase(self, phase: str, result: PhaseResult) -> None:
        if result.unchanged:
            self.ledger.count_unchanged(self.run_id, phase, result.unchanged)
        self.ledger.finish_phase(self.run_id, phase)

    def fail(self, phase: str, entity: str, source_id: str, error: LoadError) -> None:
        log.warning("%s %s failed: %s", entity, source_id, error)
        self.ledger.record_failure(
            self.run_id, phase, entity, source_id, str(error), request_id=error.request_id, excerpt=error.excerpt,
        )


def newest(members: list[SharedEmailContact]) -> SharedEmailContact:
    """The record whose fields win among namesakes: the latest updated_at (else created_at); staged last when any has neither."""
    moments = [_moment(m.updated_at) or _moment(m.created_at) for m in members]
    if all(moment is not None for moment in moments):
        ranked = sorted(zip(moments, members, strict=True), key=lambda pair: (pair[0], pair[1].seq))
        return ranked[-1][1]
    return max(members, key=lambda member: member.seq)


def _moment(text: str | None) -> datetime | None:
    """A staged time (ISO 8601 as the model writes it); raw source text that was never read as a date counts as none."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _where(member: SharedEmailContact) -> str:
    return f" ({member.location})" if member.location else ""


def names_field(error: LoadError, name: str) -> bool:
    """Whether an Intercom error is about one request field: `errors[].field` when the body says, else its message."""
    try:
        body = json.loads(error.excerpt or "")
    except ValueError:
        body = None
    errors = body.get("errors") if isinstance(body, dict) else None
    if isinstance(errors, list) and any(isinstance(e, dict) and e.get("field") == name for e in errors):
        return True
    return re.search(rf"(?<![\w.]){re.escape(name)}(?![\w])", str(error), re.IGNORECASE) is not None


def _raise(error: LoadError) -> None:
    raise error


def _before_image(entity: str, current: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
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


def chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def plan_action(ledger: Ledger, payload: Payload) -> str:
    """create | update | unchanged: what loading this payload would do, judged from the id map like the load judges it."""
    row = ledger.id_row(payload.entity, payload.source_id)
    if row is None or row.state != "done":
        return "create"
    if row.origin == "merged":
        return "unchanged"  # mapped to a namesake's contact: the load sends nothing for it while it stays the older one
    return "unchanged" if row.payload_hash == body_hash(payload.body) else "update"


@dataclass(frozen=True)
class Phase:
    """One load phase. `entity` names the staged records it consumes (None: it works from the ledger alone)."""

    name: str
    entity: str | None
    mapping_target: str | None
    load: Callable[[IntercomLoader, Iterable[Payload]], PhaseResult]
    plan_action: Callable[[Ledger, Payload], str] = plan_action


def _help_center_phase(name: str) -> Callable[[IntercomLoader, Iterable[Payload]], PhaseResult]:
    def load(loader: IntercomLoader, payloads: Iterable[Payload]) -> PhaseResult:
        # late import: the help center module builds on this one
        from deskmigrate.loaders.intercom import help_center

        phase: Callable[[IntercomLoader, Iterable[Payload]], PhaseResult] = getattr(help_center, name)
        return phase(loader, payloads)

    return load


def _load_conversations(loader: IntercomLoader, payloads: Iterable[Payload]) -> PhaseResult:
    # late import: the conversations module builds on this one
    from deskmigrate.loaders.intercom.conversations import load_conversations

    return load_conversations(loader, payloads)


def _conversation_plan_action(ledger: Ledger, payload: Payload) -> str:
    from deskmigrate.loaders.intercom.conversations import plan_action as conversation_plan_action

    return conversation_plan_action(ledger, payload)


# The phases in the order Intercom needs them; rollback undoes them in reverse. A new phase is one entry.
PHASES: tuple[Phase, ...] = (
    Phase("companies", "companies", "company", lambda loader, payloads: loader.load_companies(payloads)),
    Phase("contacts", "contacts", "contact", lambda loader, payloads: loader.load_contacts(payloads)),
    Phase("tags", None, None, lambda loader, payloads: loader.load_tags()),
    Phase("collections", "collections", "collection", _help_center_phase("load_collections")),
    Phase("articles", "articles", "article", _help_center_phase("load_articles")),
    Phase("article_links", None, None, _help_center_phase("rewrite_article_links")),
    Phase("conversations", "conversations", "conversation", _load_conversations, _conversation_plan_action),
)


def phase_order() -> list[str]:
    return ["preflight", *(phase.name for phase in PHASES)]
