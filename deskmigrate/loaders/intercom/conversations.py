"""Loader phase `conversations`: each source ticket → one Intercom conversation with its parts in order, backdated.

Per ticket: create (started by the requester, plain text, original `created_at`) → one reply or note per later
comment (`created_at` each, `skip_notifications`) → assignment → attributes → tags → state, the close last.
Every part is recorded in the ledger before and after it is sent, so a killed run resumes at the next part and
never sends one twice; a re-run appends only new comments and moves the state.
"""

from __future__ import annotations

import html
import json
import logging
import math
import re
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from deskmigrate.core.errors import AmbiguousWriteError, LoadError
from deskmigrate.core.payload import Payload
from deskmigrate.core.state import PartRow, tag_key
from deskmigrate.loaders.intercom.phases import RECONCILE_SKEW_S, IntercomLoader, PhaseResult, body_hash

log = logging.getLogger(__name__)

ENTITY = "conversations"
LEADS = "leads"
# attachment_urls / attachment_files: "You can include up to 10" per part (2.15 spec, maxItems: 10).
MAX_ATTACHMENTS_PER_PART = 10
TRANSCRIPT_PARTS_PER_NOTE = 100
IMG_TAG = re.compile(r"<img\b[^>]*\bsrc=\"([^\"]+)\"[^>]*>", re.IGNORECASE)
CONTINUATION = "{conversation:%d}"

StepKind = Literal["start", "user", "admin"]


@dataclass(frozen=True)
class Step:
    """One Intercom write that carries ticket content, in send order. `key` is stable across runs (it names the ledger row)."""

    key: str
    thread: int
    kind: StepKind
    message_type: str  # comment | note (start: comment)
    author_kind: str  # contact | agent | system
    author_id: str | None
    body: str
    created_at: int | None
    attachment_urls: tuple[str, ...] = ()


@dataclass
class TicketPlan:
    steps: list[Step]
    threads: int
    notices: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ThreadOptions:
    long_threads: str = "transcript"
    max_parts: int = 500
    missing_requester: str = "create_lead"
    source_attachment_hosts: tuple[str, ...] = ()
    snooze_days: int = 7

    @classmethod
    def from_refs(cls, refs: dict[str, Any]) -> ThreadOptions:
        options = dict(refs.get("options") or {})
        options["source_attachment_hosts"] = tuple(options.get("source_attachment_hosts") or ())
        return cls(**{key: value for key, value in options.items() if key in cls.__dataclass_fields__})


# -- planning: payload → ordered steps (pure) -----------------------------------------------------


def plan_ticket(payload: Payload, options: ThreadOptions) -> TicketPlan:
    """The ordered Intercom writes for one ticket: attachments split by 10, long threads folded or continued."""
    notices: dict[str, str] = {}
    steps: list[Step] = []
    dead_links = 0
    for index, part in enumerate(payload.parts):
        part_steps, dead = _steps_for_part(part, index == 0, options)
        steps.extend(part_steps)
        dead_links += dead
    if dead_links:
        notices["attachments_on_source"] = f"{dead_links} attachment(s) or inline image(s) need the source login; kept as links"
    lost = payload.refs.get("content_lost")
    if lost:
        notices["content_lost"] = json.dumps(lost, sort_keys=True)
    if len(payload.parts) and len(steps) > len(payload.parts):
        notices["attachments_split"] = f"{len(steps) - len(payload.parts)} extra part(s) for attachments beyond 10 per part"
    budget = options.max_parts - _state_parts(payload)
    if len(steps) - 1 > budget:
        if options.long_threads == "continuation":
            steps, threads = _continue(steps, budget)
            notices["long_thread"] = f"{len(payload.parts)} comments: continued over {threads} conversations"
            return TicketPlan(steps, threads, notices)
        steps, folded = _fold_into_transcripts(steps, budget)
        notices["long_thread"] = f"{len(payload.parts)} comments: the {folded} oldest replies are in transcript notes"
    return TicketPlan(steps, 1, notices)


def _state_parts(payload: Payload) -> int:
    """Parts the ticket's state and assignee add after its content (close or snooze, assignment)."""
    state = payload.body.get("state", "open")
    return (1 if state in ("closed", "snoozed") else 0) + (1 if payload.refs.get("assignee_id") else 0)


def _steps_for_part(part: dict[str, Any], first: bool, options: ThreadOptions) -> tuple[list[Step], int]:
    body = part.get("body") or {}
    author_kind = str(part.get("author_kind") or "system")
    created_at = body.get("created_at", part.get("created_at"))
    text = str(body.get("text") or part.get("body_text") or "").strip()
    rich = str(body.get("body") or "").strip() or html.escape(text)
    public_urls, source_links = _split_attachments(part.get("attachments") or [], options.source_attachment_hosts)
    rich, dead_images = _unlink_source_images(rich, options.source_attachment_hosts)
    if first or author_kind == "contact":
        kind: StepKind = "start" if first else "user"
        message_type = "comment"
        content = text + "".join(f"\n[attachment: {name} {url}]" for name, url in source_links)
    else:
        kind, message_type = "admin", "note" if author_kind == "system" or not part.get("public", True) else "comment"
        if body.get("message_type") in ("comment", "note") and author_kind != "system":
            message_type = body["message_type"]
        content = rich + "".join(f'<p>Attachment (not migrated): <a href="{html.escape(url)}">{html.escape(name)}</a></p>'
                                 for name, url in source_links)
    if not content.strip() and not public_urls:
        content = "(empty message)" if kind != "admin" else "<p>(empty message)</p>"
    chunks = [public_urls[i:i + MAX_ATTACHMENTS_PER_PART] for i in range(0, len(public_urls), MAX_ATTACHMENTS_PER_PART)] or [[]]
    source_id = str(part["source_id"])
    author_id = part.get("author_id")
    steps = [Step(source_id, 0, kind, message_type, author_kind, author_id, content, created_at, tuple(chunks[0]))]
    for number, chunk in enumerate(chunks[1:], start=2):
        label = f"Attachments {(number - 1) * MAX_ATTACHMENTS_PER_PART + 1}–{(number - 1) * MAX_ATTACHMENTS_PER_PART + len(chunk)} of {len(public_urls)}"
        extra_kind: StepKind = "user" if kind in ("start", "user") else "admin"
        extra_body = label if extra_kind == "user" else f"<p>{label}</p>"
        steps.append(Step(f"{source_id}#files{number}", 0, extra_kind, message_type, author_kind, author_id, extra_body, created_at, tuple(chunk)))
    return steps, len(source_links) + dead_images


def _split_attachments(attachments: list[dict[str, Any]], source_hosts: tuple[str, ...]) -> tuple[list[str], list[tuple[str, str]]]:
    """Public URLs Intercom can fetch, and (name, url) of those that die with the source account or need its login."""
    public_urls: list[str] = []
    source_links: list[tuple[str, str]] = []
    for attachment in attachments:
        url = str(attachment.get("url") or "")
        if not url:
            continue
        if _on_source_host(url, source_hosts) or urlsplit(url).scheme not in ("http", "https"):
            if not attachment.get("inline"):
                source_links.append((str(attachment.get("filename") or "attachment"), url))
        else:
            public_urls.append(url)
    return public_urls, source_links


def _on_source_host(url: str, source_hosts: tuple[str, ...]) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    return any(host == h.lower() or host.endswith("." + h.lower()) for h in source_hosts)


def _unlink_source_images(rich: str, source_hosts: tuple[str, ...]) -> tuple[str, int]:
    """Inline images on the source's hosts become links: Intercom cannot fetch them once the account closes."""
    count = 0

    def to_link(match: re.Match[str]) -> str:
        nonlocal count
        if not _on_source_host(html.unescape(match.group(1)), source_hosts):
            return match.group(0)
        count += 1
        return f'<a href="{match.group(1)}">[image, not migrated]</a>'

    return IMG_TAG.sub(to_link, rich), count


def _fold_into_transcripts(steps: list[Step], budget: int) -> tuple[list[Step], int]:
    """Fold the oldest replies (after the start) into transcript notes so the newest stay real parts within the budget."""
    replies = steps[1:]
    folded = len(replies) - budget
    while folded < len(replies) and len(replies) - folded + math.ceil(folded / TRANSCRIPT_PARTS_PER_NOTE) > budget:
        folded += 1
    notes = []
    for start in range(0, folded, TRANSCRIPT_PARTS_PER_NOTE):
        group = replies[start:min(start + TRANSCRIPT_PARTS_PER_NOTE, folded)]
        lines = "".join(
            f"<p><b>{html.escape(_who(s))}</b> · {_when(s.created_at)}{' · note' if s.message_type == 'note' else ''}</p>"
            f"{s.body if s.kind == 'admin' else '<p>' + html.escape(s.body).replace(chr(10), '<br>') + '</p>'}"
            for s in group
        )
        header = f"<p>Transcript of {len(group)} earlier messages (Intercom shows at most 500 parts)</p>"
        notes.append(Step(f"transcript:{group[0].key}..{group[-1].key}", 0, "admin", "note", "system", None, header + lines, group[0].created_at))
    return [steps[0], *notes, *replies[folded:]], folded


def _continue(steps: list[Step], budget: int) -> tuple[list[Step], int]:
    """Split into linked conversations of at most `budget` parts; each continuation is started by the requester."""
    ordered: list[Step] = [steps[0]]
    remaining = steps[1:]
    thread = 0
    per_thread = max(1, budget - 1)  # room for the "continued in" note
    first_chunk, remaining = remaining[:per_thread], remaining[per_thread:]
    ordered.extend(first_chunk)
    while remaining:
        thread += 1
        chunk, remaining = remaining[:per_thread], remaining[per_thread:]
        start = chunk[0]
        ordered.append(Step(f"continued-from:{thread}", thread, "start", "comment", "contact", None,
                            f"(continued from conversation {CONTINUATION % (thread - 1)})", start.created_at))
        ordered.append(Step(f"continued-in:{thread - 1}", thread - 1, "admin", "note", "system", None,
                            f"<p>Continued in conversation {CONTINUATION % thread}</p>", start.created_at))
        ordered.extend(Step(s.key, thread, s.kind if s.kind != "start" else "user", s.message_type, s.author_kind, s.author_id,
                            s.body, s.created_at, s.attachment_urls) for s in chunk)
    return ordered, thread + 1


def _who(step: Step) -> str:
    return {"contact": "Customer", "agent": "Agent", "system": "System"}.get(step.author_kind, "Agent") + (
        f" {step.author_id}" if step.author_id else "")


def _when(created_at: int | None) -> str:
    return datetime.fromtimestamp(created_at, UTC).strftime("%Y-%m-%d %H:%M UTC") if created_at else "unknown time"


def thread_source_id(ticket_id: str, thread: int) -> str:
    """The id-map key of a ticket's conversation (thread 0) or of its continuations."""
    return ticket_id if thread == 0 else f"{ticket_id}#{thread + 1}"


# -- loading ----------------------------------------------------------------------------------------


class ConversationLoader:
    """Loads tickets concurrently; the parts of one ticket strictly in order."""

    def __init__(self, loader: IntercomLoader) -> None:
        self.loader = loader
        self.client = loader.client
        self.ledger = loader.ledger
        self.run_id = loader.run_id
        self.result = PhaseResult(ENTITY)
        self._tags: dict[str, dict[str, Any]] | None = None
        self._tags_lock = threading.Lock()

    def load(self, payloads: Iterable[Payload]) -> PhaseResult:
        self.loader.run_phase(ENTITY, payloads, self.load_ticket, self.result)
        return self.result

    def load_ticket(self, payload: Payload) -> None:
        digest = payload.content_hash()
        row = self.ledger.id_row(ENTITY, payload.source_id)
        if row is not None and row.state == "done" and row.payload_hash == digest:
            self.result.add("unchanged")
            return
        options = ThreadOptions.from_refs(payload.refs)
        contact_id = self._requester(payload, options)
        if contact_id is None:
            self.result.add("skipped")
            return
        plan = plan_ticket(payload, options)
        for kind, detail in plan.notices.items():
            self.ledger.record_notice(self.run_id, ENTITY, payload.source_id, kind, detail)
            self.result.add(f"tickets_{kind}")
        created = row is None or row.state != "done"
        conversations, user_replied = self._send_steps(payload, plan, contact_id)
        applied = self._apply_rest(payload, conversations, (row.body or {}) if row and row.state == "done" else {}, user_replied)
        self.ledger.set_applied(ENTITY, payload.source_id, digest, applied)
        self.result.add("created" if created else "updated")

    # -- requester ----------------------------------------------------------------------------

    def _requester(self, payload: Payload, options: ThreadOptions) -> str | None:
        requester = payload.refs.get("requester_id")
        found = self.ledger.intercom_id("contacts", str(requester)) if requester else None
        if found:
            return found
        lead_key = str(requester) if requester else f"ticket:{payload.source_id}"
        lead = self.ledger.intercom_id(LEADS, lead_key)
        if lead:
            return lead
        if options.missing_requester == "skip":
            self.ledger.record_notice(self.run_id, ENTITY, payload.source_id, "requester_missing",
                                      f"requester {requester} was not migrated; ticket skipped (missing_requester: skip)")
            return None
        source = payload.refs.get("source") or "source"
        body = {"role": "lead", "name": f"{source} requester {requester}" if requester else f"{source} ticket {payload.source_id} requester"}
        self.ledger.mark_pending(self.run_id, LEADS, lead_key)
        contact = self.client.create_contact(body)
        self.ledger.record_write(self.run_id, ENTITY, LEADS, lead_key, intercom_id=str(contact["id"]), action="create",
                                 origin="created", payload_hash=body_hash(body), body=body)
        self.ledger.record_notice(self.run_id, ENTITY, payload.source_id, "requester_created",
                                  f"requester {requester} was not migrated; a lead {contact['id']} starts the conversation")
        self.result.add("leads_created")
        return str(contact["id"])

    # -- content ------------------------------------------------------------------------------

    def _send_steps(self, payload: Payload, plan: TicketPlan, contact_id: str) -> tuple[dict[int, str], bool]:
        conversations: dict[int, str] = {}
        for thread in range(plan.threads):
            existing = self.ledger.intercom_id(ENTITY, thread_source_id(payload.source_id, thread))
            if existing:
                conversations[thread] = existing
        done = self.ledger.parts(payload.source_id)
        user_replied = False
        for position, step in enumerate(plan.steps):
            row = done.get(step.key)
            if row is not None and row.state == "done":
                continue
            if step.kind == "start":
                conversations[step.thread] = self._start(payload, step, position, contact_id, conversations, row)
                continue
            self._reply(payload, step, position, contact_id, conversations, row)
            user_replied = user_replied or step.kind == "user"
            self.result.add("parts_sent")
        return conversations, user_replied

    def _start(self, payload: Payload, step: Step, position: int, contact_id: str, conversations: dict[int, str],
               row: PartRow | None) -> str:
        source_id = thread_source_id(payload.source_id, step.thread)
        body: dict[str, Any] = {"from": {"type": "user", "id": contact_id}, "body": self._fill(step.body, conversations)}
        if step.created_at:
            body["created_at"] = step.created_at
        if step.attachment_urls:
            body["attachment_urls"] = list(step.attachment_urls)
        pending = self.ledger.id_row(ENTITY, source_id)
        conversation_id = None
        if pending is not None and pending.state == "pending":
            conversation_id = self._find_started(contact_id, step.created_at, pending.pending_since or 0.0)
        if conversation_id is None:
            self.ledger.mark_pending(self.run_id, ENTITY, source_id)
            self.ledger.mark_part_pending(self.run_id, payload.source_id, step.key, position, source_id, {"created_at": step.created_at})
            try:
                conversation_id = str(self.client.create_conversation(body)["conversation_id"])
            except AmbiguousWriteError:
                conversation_id = self._find_started(contact_id, step.created_at, time.time() - RECONCILE_SKEW_S)
                if conversation_id is None:
                    raise
        self.ledger.record_write(self.run_id, ENTITY, ENTITY, source_id, intercom_id=conversation_id, action="create",
                                 origin="created", payload_hash="", body={})
        self.ledger.record_part(self.run_id, payload.source_id, step.key, position, source_id, None)
        return conversation_id

    def _find_started(self, contact_id: str, created_at: int | None, since: float) -> str | None:
        """A create whose answer was lost: look for the requester's conversation with that created_at (search lags a little)."""
        if created_at is None:
            return None
        query = {"operator": "AND", "value": [{"field": "contact_ids", "operator": "=", "value": contact_id},
                                              {"field": "created_at", "operator": "=", "value": created_at}]}
        found = self.client.search_conversations(query)
        known = {row.intercom_id for row in self.ledger.iter_id_rows(ENTITY)}
        for conversation in found:
            if str(conversation["id"]) not in known and float(conversation.get("updated_at") or 0) >= since - RECONCILE_SKEW_S:
                return str(conversation["id"])
        return None

    def _reply(self, payload: Payload, step: Step, position: int, contact_id: str, conversations: dict[int, str],
               row: PartRow | None) -> None:
        thread_id = thread_source_id(payload.source_id, step.thread)
        conversation_id = conversations.get(step.thread)
        if conversation_id is None:
            raise LoadError(f"ticket {payload.source_id}: conversation {thread_id} was never started")
        body = self._reply_body(step, contact_id, conversations)
        expected = {"created_at": step.created_at, "author_id": body.get("admin_id") or body.get("intercom_user_id"),
                    "part_type": "note" if body["message_type"] == "note" else "comment"}
        if row is not None and row.state == "pending":
            part_id = self._find_part(conversation_id, expected, body.get("body"))
            if part_id is not None:
                self.ledger.record_part(self.run_id, payload.source_id, step.key, position, thread_id, part_id)
                return
        self.ledger.mark_part_pending(self.run_id, payload.source_id, step.key, position, thread_id, expected)
        try:
            conversation = self.client.reply_to_conversation(conversation_id, body)
            part_id = _last_part_id(conversation)
        except AmbiguousWriteError:
            part_id = self._find_part(conversation_id, expected, body.get("body"))
            if part_id is None:
                conversation = self.client.reply_to_conversation(conversation_id, body)
                part_id = _last_part_id(conversation)
        self.ledger.record_part(self.run_id, payload.source_id, step.key, position, thread_id, part_id)

    def _reply_body(self, step: Step, contact_id: str, conversations: dict[int, str]) -> dict[str, Any]:
        body: dict[str, Any]
        if step.kind == "user":
            author = self.ledger.intercom_id("contacts", str(step.author_id)) if step.author_id else None
            body = {"message_type": "comment", "type": "user", "intercom_user_id": author or contact_id, "body": step.body}
        else:
            agent = step.author_id if step.author_kind == "agent" else None
            admin_id = self.loader.admin_for_agent(agent)
            if admin_id is None:
                raise LoadError("no Intercom admin to author agent replies (set load.fallback_admin_email)")
            if agent is not None and agent not in self.loader.agent_admins:
                self.result.add("parts_by_fallback_admin")
            # skip_notifications (2.15+): importing history must never email or message the customer.
            body = {"message_type": step.message_type, "type": "admin", "admin_id": admin_id,
                    "body": self._fill(step.body, conversations), "skip_notifications": True}
        if step.created_at:
            body["created_at"] = step.created_at
        if step.attachment_urls:
            body["attachment_urls"] = list(step.attachment_urls)
        return body

    def _find_part(self, conversation_id: str, expected: dict[str, Any], sent_body: Any) -> str | None:
        """Was this part sent before the crash? The newest parts are returned, so the last one sent is among them."""
        parts = (self.client.get_conversation(conversation_id).get("conversation_parts") or {}).get("conversation_parts") or []
        for part in reversed(parts):
            author = str((part.get("author") or {}).get("id") or "")
            same_time = expected.get("created_at") is not None and part.get("created_at") == expected["created_at"]
            same_body = expected.get("created_at") is None and part.get("body") == sent_body
            if (same_time or same_body) and author == str(expected.get("author_id")) and part.get("part_type") == expected["part_type"]:
                return str(part["id"])
        return None

    @staticmethod
    def _fill(text: str, conversations: dict[int, str]) -> str:
        for thread, conversation_id in conversations.items():
            text = text.replace(CONTINUATION % thread, conversation_id)
        return text

    # -- assignee, attributes, tags, state -----------------------------------------------------

    def _apply_rest(self, payload: Payload, conversations: dict[int, str], applied: dict[str, Any], user_replied: bool) -> dict[str, Any]:
        """At most one call each for assignee, attributes and state, plus one per new tag; returns what now holds."""
        now_applied = dict(applied)
        last = max(conversations)
        admin_id = self.loader.admin_for_agent(None)
        assignee = payload.refs.get("assignee_id")
        wanted_assignee = self.loader.agent_admins.get(str(assignee)) if assignee else None
        if assignee and wanted_assignee is None:
            self.ledger.record_notice(self.run_id, ENTITY, payload.source_id, "assignee_unmatched",
                                      f"assignee agent {assignee} has no Intercom admin; left unassigned")
        if wanted_assignee and wanted_assignee != applied.get("admin_assignee_id"):
            self.client.manage_conversation(conversations[last], {"message_type": "assignment", "type": "admin",
                                                                  "admin_id": admin_id, "assignee_id": wanted_assignee})
            now_applied["admin_assignee_id"] = wanted_assignee
        update = {key: payload.body[key] for key in ("title", "custom_attributes") if key in payload.body}
        if update and any(update[key] != applied.get(key) for key in update):
            for conversation_id in conversations.values():
                self.client.update_conversation(conversation_id, update)
            now_applied.update(update)
        self._tag(payload, conversations, admin_id)
        now_applied["state"] = self._set_state(payload, conversations, applied, user_replied, admin_id)
        return now_applied

    def _tag(self, payload: Payload, conversations: dict[int, str], admin_id: str | None) -> None:
        applied = self.ledger.applied_taggings(ENTITY, payload.source_id)
        for name in payload.tags:
            key = tag_key(name)
            if not key or key in applied:
                continue
            tag_id = self._tag_id(key, name.strip())
            for conversation_id in conversations.values():
                self.client.tag_conversation(conversation_id, tag_id, str(admin_id))
            self.ledger.record_taggings(self.run_id, key, tag_id, ENTITY, [payload.source_id], present=True)

    def _tag_id(self, key: str, name: str) -> str:
        with self._tags_lock:
            row = self.ledger.id_row("tags", key)
            if row is not None and row.state == "done" and row.intercom_id:
                return row.intercom_id
            if self._tags is None:
                self._tags = {tag_key(t["name"]): t for t in self.client.list_tags().get("data", [])}
            existing = self._tags.get(key)
            tag = existing or self.client.create_tag(name)
            self.ledger.record_write(self.run_id, ENTITY, "tags", key, intercom_id=str(tag["id"]),
                                     action="adopt" if existing else "create", origin="adopted" if existing else "created",
                                     payload_hash=body_hash({"name": name}), body={"name": name})
            self._tags[key] = tag
            return str(tag["id"])

    def _set_state(self, payload: Payload, conversations: dict[int, str], applied: dict[str, Any], user_replied: bool,
                   admin_id: str | None) -> str:
        """Earlier conversations of a continued ticket end closed; the last takes the ticket's state, the close as its last part."""
        wanted = str(payload.body.get("state") or "open")
        last = max(conversations)
        for thread, conversation_id in conversations.items():
            if thread != last and applied.get("state") is None:
                self.client.manage_conversation(conversation_id, {"message_type": "close", "type": "admin", "admin_id": admin_id})
        current = "open" if user_replied or not applied.get("state") else str(applied["state"])
        if wanted == current:
            return wanted
        conversation_id = conversations[last]
        if wanted == "closed":
            self.client.manage_conversation(conversation_id, {"message_type": "close", "type": "admin", "admin_id": admin_id})
        elif wanted == "snoozed":
            days = ThreadOptions.from_refs(payload.refs).snooze_days
            until = int(time.time()) + days * 86400
            self.client.manage_conversation(conversation_id, {"message_type": "snoozed", "admin_id": admin_id, "snoozed_until": until})
        else:
            self.client.manage_conversation(conversation_id, {"message_type": "open", "admin_id": admin_id})
        return wanted


def _last_part_id(conversation: dict[str, Any]) -> str | None:
    parts = (conversation.get("conversation_parts") or {}).get("conversation_parts") or []
    return str(parts[-1]["id"]) if parts else None


def load_conversations(loader: IntercomLoader, payloads: Iterable[Payload]) -> PhaseResult:
    """The `conversations` phase entry point."""
    return ConversationLoader(loader).load(payloads)


__all__ = ["ConversationLoader", "Step", "ThreadOptions", "TicketPlan", "load_conversations", "plan_ticket", "thread_source_id"]
