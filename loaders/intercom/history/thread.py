"""A ticket's history into Intercom, whatever it lands as: tickets concurrently, the parts of one ticket strictly in order.

Per ticket: its requester's contact → create (started by the requester, backdated) → one reply or note per later
comment → what the ticket's state, assignee and attributes want → tags. Every part is recorded in the ledger before and
after it is sent, so a killed run resumes at the next part and never sends one twice; a re-run appends only new
comments, removes tags gone from the source and moves the state. What differs between conversations and tickets is
the `ThreadCalls` object a `HistoryLoader` is composed with (conversation_calls.py, ticket_calls.py).
"""

from __future__ import annotations

import base64
import html
import logging
import mimetypes
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, Protocol
from urllib.parse import unquote

from deskmigrate.core.errors import AmbiguousWriteError, LoadError, MigrationError
from deskmigrate.core.ledger import PartRow, tag_key
from deskmigrate.core.payload import Payload
from deskmigrate.loaders.intercom.history.attributes import attribute_tag
from deskmigrate.loaders.intercom.history.common import ENTITY, PHASE, TICKET_OUTCOMES, ThreadOptions, fill, thread_source_id
from deskmigrate.loaders.intercom.history.requesters import Requesters
from deskmigrate.loaders.intercom.history.steps import SourceFile, Step, TicketPlan, plan_ticket, stamped
from deskmigrate.loaders.intercom.loader import RECONCILE_SKEW_S, IntercomLoader, PhaseResult, body_hash

log = logging.getLogger(__name__)

TAGS = "tags"
# Conversation and ticket search are eventually consistent: a create from a moment ago may be missing
# (https://developers.intercom.com/docs/references/rest-api/api.intercom.io/conversations/searchconversations).
# The 2.15 API has no consistent read of a contact's conversations (GET /conversations lists the whole
# workspace in an undocumented order), so a create whose answer was lost is looked up by search until this
# long after it was sent; only then is a miss trusted and the create sent again.
SEARCH_SETTLE_S = 30.0
SEARCH_POLL_S = 2.0


class ThreadCalls(Protocol):
    """The Intercom calls of one kind of thread (a conversation, a ticket), for a `HistoryLoader` to be composed with."""

    entity: str  # the id-map entity its threads are recorded under

    def attributes_as_tags(self, payload: Payload) -> dict[str, Any]:
        """The ticket's attributes this kind of thread cannot hold, kept as `name:value` tags."""
        ...

    def start_body(self, payload: Payload, step: Step, contact_id: str, text: str) -> dict[str, Any]: ...

    def create(self, body: dict[str, Any]) -> str:
        """Create a thread; its Intercom id."""
        ...

    def search_started(self, contact_id: str, created_at: int) -> list[dict[str, Any]]:
        """The requester's threads with that backdated time (search: eventually consistent)."""
        ...

    def reply_body(self, body: dict[str, Any]) -> dict[str, Any]:
        """A reply or note as this kind of thread takes it."""
        ...

    def send_reply(self, thread_id: str, body: dict[str, Any]) -> str | None:
        """Send a reply or note; the new part's id when the answer says."""
        ...

    def remote_parts(self, thread_id: str) -> list[dict[str, Any]]: ...
    def tag(self, thread_id: str, tag_id: str, admin_id: str) -> None: ...
    def untag(self, thread_id: str, tag_id: str, admin_id: str) -> None: ...

    def settle(self, payload: Payload, threads: dict[int, str], applied: dict[str, Any], user_replied: bool,
               tag_all: Callable[[str | None], None], result: PhaseResult) -> dict[str, Any]:
        """Assignee, attributes, tags (through `tag_all`) and state after the content; returns what now holds."""
        ...


class HistoryLoader:
    """Loads tickets concurrently; the parts of one ticket strictly in order, through its thread calls."""

    search_settle_s = SEARCH_SETTLE_S

    def __init__(self, loader: IntercomLoader, calls: ThreadCalls) -> None:
        self.loader = loader
        self.calls = calls
        self.entity = calls.entity
        self.client = loader.client
        self.ledger = loader.ledger
        self.run_id = loader.run_id
        self.result = PhaseResult(PHASE)
        self.requesters = Requesters(loader, self.result)
        self._tags: dict[str, dict[str, Any]] | None = None
        self._tags_lock = threading.Lock()
        self.clock: Callable[[], float] = time.time
        self.sleep: Callable[[float], None] = time.sleep

    def load(self, payloads: Iterable[Payload]) -> PhaseResult:
        self.result.ensure(*TICKET_OUTCOMES)
        self.loader.run_phase(PHASE, payloads, self.load_ticket, self.result)
        return self.result

    def load_ticket(self, payload: Payload) -> None:
        digest = payload.content_hash()
        row = self.ledger.id_row(self.entity, payload.source_id)
        # Attributes kept as tags count too: once they exist in Intercom, a re-run moves their values there.
        as_tags = sorted(self.calls.attributes_as_tags(payload))
        if row is not None and row.state == "done" and row.payload_hash == digest and (row.body or {}).get("attributes_as_tags", []) == as_tags:
            self.result.add("unchanged")
            return
        options = ThreadOptions.from_refs(payload.refs)
        requester = self.requesters.requester(payload, options)
        if requester is None:
            return
        contact_id, requester_agent = requester
        plan = plan_ticket(payload, options, self._can_upload, requester_agent)
        for kind, detail in plan.notices.items():
            self.ledger.record_notice(self.run_id, ENTITY, payload.source_id, kind, detail)
            self.result.add(f"tickets_{kind}")
        created = row is None or row.state != "done"
        conversations, user_replied = self._send_steps(payload, plan, contact_id)
        previous = (row.body or {}) if row and row.state == "done" else {}
        applied = self.calls.settle(payload, conversations, previous, user_replied,
                                    lambda admin_id: self._tag(payload, conversations, admin_id), self.result)
        self.ledger.set_applied(self.entity, payload.source_id, digest, applied)
        # A failure from an earlier run (its requester had not landed then) is over.
        self.ledger.clear_failure(payload.entity, payload.source_id, PHASE)
        self.result.add("created" if created else "updated")

    def _can_upload(self, url: str) -> bool:
        files = self.loader.source_files
        return files is not None and files.owns(url)

    def _send_steps(self, payload: Payload, plan: TicketPlan, contact_id: str) -> tuple[dict[int, str], bool]:
        conversations: dict[int, str] = {}
        for thread in range(plan.threads):
            existing = self.ledger.intercom_id(self.entity, thread_source_id(payload.source_id, thread))
            if existing:
                conversations[thread] = existing
        done = self.ledger.parts(payload.source_id)
        user_replied = False
        for position, step in enumerate(plan.steps):
            row = done.get(step.key)
            if row is not None and row.state == "done":
                continue
            if step.kind == "start" and step.thread in conversations:
                # Started already: a crash between the create and its part row, or a start keyed otherwise by an older
                # version (a support-opened ticket's first message was once its start). Never a second conversation.
                self.ledger.record_part(self.run_id, payload.source_id, step.key, position,
                                        thread_source_id(payload.source_id, step.thread), None)
                continue
            if step.kind == "start":
                conversations[step.thread] = self._start(payload, step, position, contact_id, conversations)
                continue
            self._reply(payload, step, position, contact_id, conversations, row)
            user_replied = user_replied or step.kind == "user"
            self.result.add("parts_sent")
        return conversations, user_replied

    def _start(self, payload: Payload, step: Step, position: int, contact_id: str, conversations: dict[int, str]) -> str:
        source_id = thread_source_id(payload.source_id, step.thread)
        body = self.calls.start_body(payload, step, contact_id, fill(step.body, conversations))
        pending = self.ledger.id_row(self.entity, source_id)
        conversation_id = None
        if pending is not None and pending.state == "pending":
            conversation_id = self._find_started(contact_id, step.created_at, pending.pending_since or 0.0)
        if conversation_id is None:
            self.ledger.mark_pending(self.run_id, self.entity, source_id, intent=_identifying(body))
            self.ledger.mark_part_pending(self.run_id, payload.source_id, step.key, position, source_id, {"created_at": step.created_at})
            sent_at = self.clock()
            try:
                conversation_id = self.calls.create(body)
            except AmbiguousWriteError:
                conversation_id = self._find_started(contact_id, step.created_at, sent_at)
                if conversation_id is None:
                    conversation_id = self.calls.create(body)
        self.ledger.record_write(self.run_id, PHASE, self.entity, source_id, intercom_id=conversation_id, action="create",
                                 origin="created", payload_hash="", body={})
        self.ledger.record_part(self.run_id, payload.source_id, step.key, position, source_id, None)
        return conversation_id

    def _find_started(self, contact_id: str, created_at: int | None, sent_at: float) -> str | None:
        """A create whose answer was lost: the requester's conversation (or ticket) with that created_at that the ledger
        does not know, searched for until SEARCH_SETTLE_S after the create was sent (search lags behind writes)."""
        if created_at is None:
            return None
        deadline = sent_at + self.search_settle_s
        while True:
            known = {row.intercom_id for row in self.ledger.iter_id_rows(self.entity)}
            for found in self.calls.search_started(contact_id, created_at):
                if str(found["id"]) not in known and float(found.get("updated_at") or 0) >= sent_at - RECONCILE_SKEW_S:
                    return str(found["id"])
            remaining = deadline - self.clock()
            if remaining <= 0:
                return None
            self.sleep(min(SEARCH_POLL_S, remaining))

    def _reply(self, payload: Payload, step: Step, position: int, contact_id: str, conversations: dict[int, str],
               row: PartRow | None) -> None:
        thread_id = thread_source_id(payload.source_id, step.thread)
        conversation_id = conversations.get(step.thread)
        if conversation_id is None:
            raise LoadError(f"ticket {payload.source_id}: conversation {thread_id} was never started")
        body = self.calls.reply_body(self._reply_body(payload, step, contact_id, conversations))
        expected = {"created_at": step.created_at, "author_id": body.get("admin_id") or body.get("intercom_user_id"),
                    "part_type": "note" if body["message_type"] == "note" else "comment"}
        if row is not None and row.state == "pending":
            part_id = self._find_part(conversation_id, expected, body.get("body"))
            if part_id is not None:
                self.ledger.record_part(self.run_id, payload.source_id, step.key, position, thread_id, part_id)
                return
        self.ledger.mark_part_pending(self.run_id, payload.source_id, step.key, position, thread_id, expected)
        try:
            part_id = self.calls.send_reply(conversation_id, body)
        except AmbiguousWriteError:
            part_id = self._find_part(conversation_id, expected, body.get("body"))
            if part_id is None:
                part_id = self.calls.send_reply(conversation_id, body)
        self.ledger.record_part(self.run_id, payload.source_id, step.key, position, thread_id, part_id)

    def _reply_body(self, payload: Payload, step: Step, contact_id: str, conversations: dict[int, str]) -> dict[str, Any]:
        body: dict[str, Any]
        text = fill(step.body, conversations)
        files, failed = self._upload(payload, step.attachment_files)
        if step.kind == "user":
            author = self.ledger.intercom_id("contacts", str(step.author_id)) if step.author_id else None
            text += "".join(f"\n[attachment: {name}]" for name in failed)
            body = {"message_type": "comment", "type": "user", "intercom_user_id": author or contact_id, "body": text}
        else:
            agent = step.author_id if step.author_kind == "agent" else None
            admin_id = self.loader.admin_for_agent(agent)
            if admin_id is None:
                raise LoadError("no Intercom admin to author agent replies (set load.fallback_admin_email)")
            if agent is not None and agent not in self.loader.agent_admins:
                self.result.add("parts_by_fallback_admin")
            text += "".join(f"<p>Attachment (not migrated): {html.escape(name)}</p>" for name in failed)
            # skip_notifications (2.15+): importing history must never email or message the customer.
            body = {"message_type": step.message_type, "type": "admin", "admin_id": admin_id, "body": text, "skip_notifications": True}
        stamped(body, step)
        if files:
            body["attachment_files"] = files
        return body

    def _upload(self, payload: Payload, wanted: tuple[SourceFile, ...]) -> tuple[list[dict[str, str]], list[str]]:
        """The files as attachment_files (base64), fetched through the source's own file access; names of those that failed."""
        files: list[dict[str, str]] = []
        failed: list[str] = []
        source = self.loader.source_files
        for item in wanted:
            try:
                if source is None:
                    raise LoadError("no access to the source's files")
                content, served_type = source.download(item.url)
            except MigrationError as error:
                log.warning("ticket %s: attachment %s not uploaded: %s", payload.source_id, item.name, error)
                self.ledger.record_notice(self.run_id, ENTITY, payload.source_id, f"attachment_failed:{item.name}"[:120],
                                          f"{item.name} ({item.url}) could not be fetched ({error}); named in the part instead")
                self.result.add("attachments_failed")
                failed.append(item.name)
                continue
            content_type = item.content_type or (served_type or "").split(";")[0].strip() or _guess_type(item.name)
            files.append({"content_type": content_type, "data": base64.b64encode(content).decode("ascii"), "name": item.name})
            self.result.add("attachments_uploaded")
        return files, failed

    def _find_part(self, conversation_id: str, expected: dict[str, Any], sent_body: Any) -> str | None:
        """Was this part sent before the crash? The newest parts are returned, so the last one sent is among them."""
        for part in reversed(self.calls.remote_parts(conversation_id)):
            author = str((part.get("author") or {}).get("id") or "")
            same_time = expected.get("created_at") is not None and part.get("created_at") == expected["created_at"]
            same_body = expected.get("created_at") is None and part.get("body") == sent_body
            if (same_time or same_body) and author == str(expected.get("author_id")) and part.get("part_type") == expected["part_type"]:
                return str(part["id"])
        return None

    def _tag(self, payload: Payload, conversations: dict[int, str], admin_id: str | None) -> None:
        """Tags new in the source are added, tags gone from it removed, on every conversation of the ticket."""
        applied = self.ledger.applied_taggings(self.entity, payload.source_id)
        names = [*payload.tags, *(attribute_tag(k, v) for k, v in self.calls.attributes_as_tags(payload).items())]
        wanted = {tag_key(name): name.strip() for name in names if tag_key(name)}
        for key, name in wanted.items():
            if key in applied:
                continue
            tag_id = self._tag_id(key, name)
            self.ledger.mark_taggings_pending(self.run_id, key, self.entity, [payload.source_id])
            for conversation_id in conversations.values():
                self.calls.tag(conversation_id, tag_id, str(admin_id))
            self.ledger.record_taggings(self.run_id, key, tag_id, self.entity, [payload.source_id], present=True)
        for key in sorted(applied - set(wanted)):
            tag_row = self.ledger.id_row(TAGS, key)
            tag_id = tag_row.intercom_id if tag_row is not None else None
            if tag_id:
                for conversation_id in conversations.values():
                    self.calls.untag(conversation_id, tag_id, str(admin_id))
                self.result.add("tags_removed")
            self.ledger.record_taggings(self.run_id, key, tag_id or "", self.entity, [payload.source_id], present=False)

    def _tag_id(self, key: str, name: str) -> str:
        with self._tags_lock:
            row = self.ledger.id_row(TAGS, key)
            if row is not None and row.state == "done" and row.intercom_id:
                return row.intercom_id
            if self._tags is None:
                self._tags = {tag_key(t["name"]): t for t in self.client.list_tags().get("data", [])}
            existing = self._tags.get(key)
            if existing is None:
                self.ledger.mark_pending(self.run_id, TAGS, key, intent={"name": name})
            tag = existing or self.client.create_tag(name)
            self.ledger.record_write(self.run_id, PHASE, TAGS, key, intercom_id=str(tag["id"]),
                                     action="adopt" if existing else "create", origin="adopted" if existing else "created",
                                     payload_hash=body_hash({"name": name}), body={"name": name})
            self._tags[key] = tag
            return str(tag["id"])


def _identifying(body: dict[str, Any]) -> dict[str, Any]:
    """What finds a conversation or ticket whose create's answer was lost: its requester and backdated time (not its text)."""
    return {key: body[key] for key in ("from", "contacts", "created_at", "ticket_type_id") if key in body}


def _guess_type(name: str) -> str:
    return mimetypes.guess_type(unquote(name))[0] or "application/octet-stream"
