"""Loader phase `conversations`: each source ticket → one Intercom conversation with its parts in order, backdated.

Per ticket: create (started by the requester, plain text, original `created_at`; a neutral opening line when the support
team wrote the first message, which then follows as an admin part) → one reply or note per later comment (`created_at`
each, `skip_notifications`) → assignment → attributes → tags → state, the close last.
Every part is recorded in the ledger before and after it is sent, so a killed run resumes at the next part and
never sends one twice; a re-run appends only new comments, removes tags gone from the source and moves the state.
With `conversation_options.target: tickets` the same history becomes Intercom tickets (tickets.py).
"""

from __future__ import annotations

import base64
import html
import itertools
import json
import logging
import math
import mimetypes
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from deskmigrate.core.errors import (
    AmbiguousWriteError,
    ConfigError,
    ConflictError,
    LoadError,
    MigrationError,
    Problem,
    RejectedError,
)
from deskmigrate.core.ledger import SKIPPED, Ledger, PartRow, tag_key
from deskmigrate.core.model import Agent
from deskmigrate.core.payload import AttributeDeclaration, Payload
from deskmigrate.loaders.intercom.client import IntercomClient
from deskmigrate.loaders.intercom.phases import RECONCILE_SKEW_S, IntercomLoader, PhaseResult, body_hash, names_field

log = logging.getLogger(__name__)

PHASE = "conversations"
ENTITY = "conversations"
LEADS = "leads"
# Contacts made for teammates (source agents, admins, Help Scout users) who requested tickets, keyed by agent source id.
TEAMMATES = "teammates"
# A teammate's email Intercom refuses on a contact (400) is kept in this contact attribute (string).
TEAMMATE_EMAIL = "teammate_email"
# Every outcome of a ticket in this phase; they add up to the tickets it read.
TICKET_OUTCOMES = ("created", "updated", "unchanged", "failed", "skipped_requester_deleted", "skipped_no_requester")
# attachment_urls / attachment_files: "You can include up to 10" per part (2.15 spec, maxItems: 10).
MAX_ATTACHMENTS_PER_PART = 10
TRANSCRIPT_PARTS_PER_NOTE = 100
IMG_TAG = re.compile(r"<img\b[^>]*\bsrc=\"([^\"]+)\"[^>]*>", re.IGNORECASE)
CONTINUATION = "{conversation:%d}"
# Conversation and ticket search are eventually consistent: a create from a moment ago may be missing
# (https://developers.intercom.com/docs/references/rest-api/api.intercom.io/conversations/searchconversations).
# The 2.15 API has no consistent read of a contact's conversations (GET /conversations lists the whole
# workspace in an undocumented order), so a create whose answer was lost is looked up by search until this
# long after it was sent; only then is a miss trusted and the create sent again.
SEARCH_SETTLE_S = 30.0
SEARCH_POLL_S = 2.0

StepKind = Literal["start", "user", "admin"]
# Opens a conversation whose first source message is the support team's (see _opener_step).
SUPPORT_OPENER = "Conversation started by the support team"
CUSTOMER_PRIVATE_PREFIX = "Private message from a contact:"

# Where a workspace admin makes conversation attributes before 2.16 (https://www.intercom.com/help/en/articles/4323898).
CONVERSATION_DATA_SETTINGS = "Settings → Data → Conversation data"
# The mapping's data types → conversation attribute types (2.16 create_conversation_attribute_request.data_type).
CONVERSATION_ATTRIBUTE_TYPES = {"string": "string", "integer": "integer", "float": "decimal", "boolean": "boolean",
                                "date": "datetime", "datetime": "datetime"}


# -- conversation attributes: the mapping's against the workspace's --------------------------------


@dataclass
class ConversationAttributeCheck:
    """Which conversation attributes the mapping writes that Intercom has, lacks, and whether the pinned version can create them."""

    version: str
    existing: list[str]
    missing: list[str]
    can_create: bool
    created: list[str] = field(default_factory=list)

    @property
    def kept_as_tags(self) -> list[str]:
        """Missing attributes whose values a run keeps as `name:value` tags (2.15: nothing can create them)."""
        return [] if self.can_create else self.missing

    def advice(self) -> str | None:
        """What the user has to do, in one sentence; None when nothing."""
        if not self.missing:
            return None
        names = ", ".join(self.missing)
        if self.can_create:
            return f"conversation attributes missing in Intercom, created by `run` (Intercom-Version {self.version}): {names}"
        return (f"conversation attributes missing in Intercom: {names}. Intercom-Version {self.version} cannot create them by API: "
                f"create them in {CONVERSATION_DATA_SETTINGS} (or pin version 2.16). Until then `run` keeps their values "
                "as tags name:value (load.strict_attributes: true stops instead)")

    def as_dict(self) -> dict[str, Any]:
        return {"version": self.version, "existing": self.existing, "missing": self.missing, "can_create": self.can_create,
                "created": self.created, "kept_as_tags": self.kept_as_tags, "advice": self.advice()}


def check_conversation_attributes(client: IntercomClient, declarations: Iterable[AttributeDeclaration]) -> ConversationAttributeCheck:
    """Read the workspace's conversation attributes (one call) and compare them with the mapping's declarations."""
    wanted = sorted({d.name for d in declarations if d.model == "conversation"})
    present = {str(a.get("name")) for a in client.list_conversation_attributes() if not a.get("archived")}
    return ConversationAttributeCheck(
        version=client.version, existing=[name for name in wanted if name in present],
        missing=[name for name in wanted if name not in present], can_create=client.creates_conversation_attributes,
    )


def prepare_conversation_attributes(loader: IntercomLoader, declarations: list[AttributeDeclaration]) -> ConversationAttributeCheck:
    """Preflight: create the missing conversation attributes (2.16+); on 2.15 stop when strict, else their values go to tags."""
    check = check_conversation_attributes(loader.client, declarations)
    if check.missing and check.can_create:
        by_name = {d.name: d for d in declarations if d.model == "conversation"}
        for name in check.missing:
            created = _create_conversation_attribute(loader.client, by_name[name])
            loader.ledger.log_write(loader.run_id, "preflight", "conversation_attributes", name, str(created.get("id")), "create")
            check.created.append(name)
    elif check.missing and loader.settings.strict_attributes:
        raise ConfigError(
            [Problem(path="load.strict_attributes", message=f"conversation attribute {name!r} does not exist in Intercom; create it in "
                     f"{CONVERSATION_DATA_SETTINGS} (Intercom-Version {check.version} cannot create it by API)") for name in check.missing],
            title="conversation attributes missing in Intercom (strict_attributes is on; nothing was loaded)",
        )
    loader.conversation_attributes = set(check.existing) | set(check.created)
    if check.kept_as_tags:
        log.warning("%s", check.advice())
    return check


def _create_conversation_attribute(client: IntercomClient, declaration: AttributeDeclaration) -> dict[str, Any]:
    """`POST /conversations/attributes` (2.16): declared options make a list attribute. A lost answer is looked up by name."""
    body: dict[str, Any] = {"name": declaration.name, "description": declaration.description or "Created by deskmigrate",
                            "data_type": "list" if declaration.options else CONVERSATION_ATTRIBUTE_TYPES[declaration.data_type]}
    if declaration.options:
        body["options"] = [{"label": option} for option in declaration.options]
    try:
        return client.create_conversation_attribute(body)
    except AmbiguousWriteError:
        found = next((a for a in client.list_conversation_attributes() if a.get("name") == declaration.name), None)
        return found if found is not None else client.create_conversation_attribute(body)


def attribute_tag(name: str, value: Any) -> str:
    """A conversation attribute value Intercom has no attribute for, kept as a tag: `name:value` on one line."""
    text = str(value).lower() if isinstance(value, bool) else str(value)
    return f"{name}:{' '.join(text.split())}"


@dataclass(frozen=True)
class SourceFile:
    """An attachment Intercom cannot fetch itself (behind the source's login, or saved to disk at extraction): uploaded."""

    name: str
    url: str
    content_type: str | None = None


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
    attachment_files: tuple[SourceFile, ...] = ()


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
    target: str = "conversations"
    ticket_type: str = "Migrated ticket"

    @classmethod
    def from_refs(cls, refs: dict[str, Any]) -> ThreadOptions:
        options = dict(refs.get("options") or {})
        options["source_attachment_hosts"] = tuple(options.get("source_attachment_hosts") or ())
        return cls(**{key: value for key, value in options.items() if key in cls.__dataclass_fields__})


# -- planning: payload → ordered steps (pure) -----------------------------------------------------


def never(url: str) -> bool:
    return False


def plan_ticket(payload: Payload, options: ThreadOptions, can_upload: Callable[[str], bool] = never,
                requester_agent: str | None = None) -> TicketPlan:
    """The ordered Intercom writes for one ticket: attachments split by 10, long threads folded or continued.

    `can_upload(url)` says whether the loader can fetch a file itself (the source's login, a saved copy) to upload it.
    `requester_agent`: the source id of the requester a contact was made for (a teammate, or a lead for a requester gone
    from the source): their own public first message opens the conversation as that contact's, with no support-team line.
    """
    notices: dict[str, str] = {}
    steps: list[Step] = []
    not_migrated: list[str] = []
    for index, part in enumerate(payload.parts):
        first = index == 0
        if first and opened_by_support(part) and not written_by_requester(part, requester_agent):
            steps.append(_opener_step(part))
            notices["opened_by_support"] = (f"the first message ({part.get('author_kind') or 'system'}, "
                                            f"{'public' if part.get('public', True) else 'private'}) follows as the support team's "
                                            f"{'reply' if _is_public_reply(part) else 'note'} after a line from the customer: "
                                            "Intercom starts a conversation from a contact only")
            first = False
        part_steps, missing = _steps_for_part(part, first, options, can_upload)
        steps.extend(part_steps)
        not_migrated.extend(missing)
    if not_migrated:
        notices["attachments_on_source"] = (f"{len(not_migrated)} attachment(s) or inline image(s) need the source login; "
                                            f"kept as links: {'; '.join(not_migrated)}")
    lost = payload.refs.get("content_lost")
    if lost:
        # counts per value-free kind (groupable), and a readable line naming what went ("html tags removed: script, table")
        detail = "; ".join(payload.refs.get("content_lost_detail") or [])
        notices["content_lost"] = json.dumps({**lost, **({"detail": detail} if detail else {})}, sort_keys=True)
    extra = len(steps) - len(payload.parts) - (1 if "opened_by_support" in notices else 0)
    if len(payload.parts) and extra > 0:
        notices["attachments_split"] = f"{extra} extra part(s) for attachments beyond what one part takes"
    budget = options.max_parts - _state_parts(payload)
    if len(steps) - 1 > budget:
        if options.long_threads == "continuation":
            steps, threads = _continue(steps, budget)
            notices["long_thread"] = f"{len(payload.parts)} comments: continued over {threads} conversations"
            return TicketPlan(steps, threads, notices)
        steps, folded = _fold_into_transcripts(steps, budget)
        notices["long_thread"] = f"{len(payload.parts)} comments: the {folded} oldest replies are in transcript notes"
    return TicketPlan(steps, 1, notices)


def opened_by_support(part: dict[str, Any]) -> bool:
    """A first message the customer did not write publicly (outbound email, call log, private note, agent on their behalf)."""
    return part.get("author_kind") != "contact" or not part.get("public", True)


def written_by_requester(part: dict[str, Any], requester_agent: str | None) -> bool:
    """A public message of the teammate who requested the ticket: theirs to open it with, as the contact they now are."""
    return (requester_agent is not None and part.get("author_kind") == "agent" and str(part.get("author_id")) == requester_agent
            and bool(part.get("public", True)))


def teammate_external_id(source: str, agent_id: str) -> str:
    """The external_id of a teammate's contact: namespaced by source and kind, so it never equals a customer's
    (`zd:123`, `fd:123`, `hs:123` or a CSV id)."""
    return f"{source}-agent:{agent_id}"


def _is_public_reply(part: dict[str, Any]) -> bool:
    return part.get("author_kind") != "system" and bool(part.get("public", True))


def _opener_step(part: dict[str, Any]) -> Step:
    """Intercom starts a conversation (or ticket) from a contact only: a neutral line from the requester, at the first
    message's time, opens it, and the message itself follows as the admin part it was
    (https://developers.intercom.com/docs/references/rest-api/api.intercom.io/conversations/createconversation)."""
    created_at = (part.get("body") or {}).get("created_at", part.get("created_at"))
    return Step(f"{part['source_id']}#opener", 0, "start", "comment", "contact", None, SUPPORT_OPENER, created_at)


def _state_parts(payload: Payload) -> int:
    """Parts the ticket's state and assignee add after its content (close or snooze, assignment)."""
    state = payload.body.get("state", "open")
    return (1 if state in ("closed", "snoozed") else 0) + (1 if payload.refs.get("assignee_id") else 0)


@dataclass
class _Attachments:
    urls: list[str] = field(default_factory=list)  # public: Intercom fetches them (attachment_urls)
    files: list[SourceFile] = field(default_factory=list)  # uploaded by us (attachment_files)
    links: list[tuple[str, str]] = field(default_factory=list)  # (name, url) left as links, reported
    inline_uploads: dict[str, str] = field(default_factory=dict)  # inline image URL → name, for the body


def _steps_for_part(part: dict[str, Any], first: bool, options: ThreadOptions,
                    can_upload: Callable[[str], bool]) -> tuple[list[Step], list[str]]:
    body = part.get("body") or {}
    author_kind = str(part.get("author_kind") or "system")
    created_at = body.get("created_at", part.get("created_at"))
    text = str(body.get("text") or part.get("body_text") or "").strip()
    rich = str(body.get("body") or "").strip() or html.escape(text)
    # Conversation replies (admin and user) take attachment_files; a conversation's create, and every ticket call, do not
    # (2.15 spec: create_conversation_request, admin_reply_ticket_request, contact_reply_ticket_request).
    uploads_possible = options.target == "conversations"
    found = _sort_attachments(part.get("attachments") or [], options.source_attachment_hosts, can_upload, uploads_possible)
    rich, dead_images = _unlink_source_images(
        rich, lambda url: _on_source_host(url, options.source_attachment_hosts) or can_upload(url), found.inline_uploads)
    public = bool(part.get("public", True))
    if first or (author_kind == "contact" and public):
        kind: StepKind = "start" if first else "user"
        message_type = "comment"
        content = text + "".join(f"\n[attachment: {name}{' ' + url if _is_web(url) else ''}]" for name, url in found.links)
    else:
        kind, message_type = "admin", "note" if author_kind == "system" or not public else "comment"
        if body.get("message_type") in ("comment", "note") and author_kind not in ("system", "contact"):
            message_type = body["message_type"]
        if author_kind == "contact":  # a customer's private comment: an admin note, since a user reply is always public
            rich = f"<p><i>{CUSTOMER_PRIVATE_PREFIX}</i></p>{rich}"
        content = rich + "".join(_link_html(name, url) for name, url in found.links)
    items: list[str | SourceFile] = [*found.urls, *found.files]
    if not content.strip() and not items:
        content = "(empty message)" if kind != "admin" else "<p>(empty message)</p>"
    if kind == "start":
        # the create takes public URLs only, and a ticket's create none: the rest follows in extra parts
        on_start = found.urls[:MAX_ATTACHMENTS_PER_PART] if options.target == "conversations" else []
        first_chunk: list[str | SourceFile] = list(on_start)
        rest = [item for item in items if item not in on_start]
    else:
        first_chunk, rest = items[:MAX_ATTACHMENTS_PER_PART], items[MAX_ATTACHMENTS_PER_PART:]
    chunks = [first_chunk] + [rest[i:i + MAX_ATTACHMENTS_PER_PART] for i in range(0, len(rest), MAX_ATTACHMENTS_PER_PART)]
    source_id = str(part["source_id"])
    author_id = part.get("author_id")
    steps = [_step(source_id, kind, message_type, author_kind, author_id, content, created_at, chunks[0])]
    done = len(chunks[0])
    for number, chunk in enumerate(chunks[1:], start=2):
        label = f"Attachments {done + 1}–{done + len(chunk)} of {len(items)}"
        done += len(chunk)
        extra_kind: StepKind = "user" if kind in ("start", "user") else "admin"
        extra_body = label if extra_kind == "user" else f"<p>{label}</p>"
        steps.append(_step(f"{source_id}#files{number}", extra_kind, message_type, author_kind, author_id, extra_body, created_at, chunk))
    missing = [f"{name} ({url})" for name, url in found.links] + [f"inline image ({url})" for url in dead_images]
    return steps, missing


def _step(key: str, kind: StepKind, message_type: str, author_kind: str, author_id: str | None, body: str,
          created_at: int | None, chunk: list[str | SourceFile]) -> Step:
    urls = tuple(item for item in chunk if isinstance(item, str))
    files = tuple(item for item in chunk if isinstance(item, SourceFile))
    return Step(key, 0, kind, message_type, author_kind, author_id, body, created_at, urls, files)


def _sort_attachments(attachments: list[dict[str, Any]], source_hosts: tuple[str, ...], can_upload: Callable[[str], bool],
                      uploads_possible: bool) -> _Attachments:
    """Public URLs Intercom can fetch, files we upload ourselves, and (name, url) of those left as links."""
    found = _Attachments()
    for attachment in attachments:
        url = str(attachment.get("url") or "")
        if not url:
            continue
        name = str(attachment.get("filename") or "attachment")
        ours = can_upload(url)
        if ours and uploads_possible:
            found.files.append(SourceFile(name, url, attachment.get("content_type")))
            if attachment.get("inline"):
                found.inline_uploads[url] = name
        elif ours or _on_source_host(url, source_hosts) or not _is_web(url):
            if not attachment.get("inline"):
                found.links.append((name, url))
        else:
            found.urls.append(url)
    return found


def _is_web(url: str) -> bool:
    return urlsplit(url).scheme in ("http", "https")


def _link_html(name: str, url: str) -> str:
    if not _is_web(url):  # a copy saved on this machine: its path means nothing in Intercom (the report lists it)
        return f"<p>Attachment (not migrated): {html.escape(name)}</p>"
    return f'<p>Attachment (not migrated): <a href="{html.escape(url)}">{html.escape(name)}</a></p>'


def _on_source_host(url: str, source_hosts: tuple[str, ...]) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    return any(host == h.lower() or host.endswith("." + h.lower()) for h in source_hosts)


def _unlink_source_images(rich: str, on_source: Callable[[str], bool], uploaded: dict[str, str]) -> tuple[str, list[str]]:
    """Inline images on the source's hosts become links (Intercom cannot fetch them once the account closes), or a
    pointer to the attachment when the image is uploaded with the part; returns the body and the images left behind."""
    dead: list[str] = []

    def to_link(match: re.Match[str]) -> str:
        url = html.unescape(match.group(1))
        if url in uploaded:
            return f"[image: {html.escape(uploaded[url])}, attached]"
        if not on_source(url):
            return match.group(0)
        dead.append(url)
        return f'<a href="{match.group(1)}">[image, not migrated]</a>'

    return IMG_TAG.sub(to_link, rich), dead


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
                            s.body, s.created_at, s.attachment_urls, s.attachment_files) for s in chunk)
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
    """Loads tickets concurrently; the parts of one ticket strictly in order. TicketLoader swaps in the ticket calls."""

    entity = ENTITY
    search_settle_s = SEARCH_SETTLE_S

    def __init__(self, loader: IntercomLoader) -> None:
        self.loader = loader
        self.client = loader.client
        self.ledger = loader.ledger
        self.run_id = loader.run_id
        self.result = PhaseResult(PHASE)
        self._tags: dict[str, dict[str, Any]] | None = None
        self._tags_lock = threading.Lock()
        self.clock: Callable[[], float] = time.time
        self.sleep: Callable[[float], None] = time.sleep
        # One lock per person a contact is made for (teammate, lead): many workers, one contact.
        self._person_locks: dict[str, threading.Lock] = {}
        self._person_locks_guard = threading.Lock()

    def load(self, payloads: Iterable[Payload]) -> PhaseResult:
        self.result.ensure(*TICKET_OUTCOMES)
        self.loader.run_phase(PHASE, payloads, self.load_ticket, self.result)
        return self.result

    def load_ticket(self, payload: Payload) -> None:
        digest = payload.content_hash()
        row = self.ledger.id_row(self.entity, payload.source_id)
        # Attributes kept as tags count too: once they exist in Intercom, a re-run moves their values there.
        as_tags = sorted(self._attributes_as_tags(payload))
        if row is not None and row.state == "done" and row.payload_hash == digest and (row.body or {}).get("attributes_as_tags", []) == as_tags:
            self.result.add("unchanged")
            return
        options = ThreadOptions.from_refs(payload.refs)
        requester = self._requester(payload, options)
        if requester is None:
            return
        contact_id, requester_agent = requester
        plan = plan_ticket(payload, options, self._can_upload, requester_agent)
        for kind, detail in plan.notices.items():
            self.ledger.record_notice(self.run_id, ENTITY, payload.source_id, kind, detail)
            self.result.add(f"tickets_{kind}")
        created = row is None or row.state != "done"
        conversations, user_replied = self._send_steps(payload, plan, contact_id)
        applied = self._apply_rest(payload, conversations, (row.body or {}) if row and row.state == "done" else {}, user_replied)
        self.ledger.set_applied(self.entity, payload.source_id, digest, applied)
        # A failure from an earlier run (its requester had not landed then) is over.
        self.ledger.clear_failure(payload.entity, payload.source_id, PHASE)
        self.result.add("created" if created else "updated")

    def _attributes_as_tags(self, payload: Payload) -> dict[str, Any]:
        """The payload's conversation attributes the workspace lacks (preflight found them missing on 2.15): kept as tags."""
        present = self.loader.conversation_attributes
        if present is None:
            return {}
        values = payload.body.get("custom_attributes") or {}
        return {name: value for name, value in values.items() if name not in present and value is not None}

    def _can_upload(self, url: str) -> bool:
        files = self.loader.source_files
        return files is not None and files.owns(url)

    # -- requester ----------------------------------------------------------------------------

    def _requester(self, payload: Payload, options: ThreadOptions) -> tuple[str, str | None] | None:
        """The Intercom contact who starts the ticket, and the source requester it was made for (a teammate or a gone
        requester's lead; None for a migrated contact); None when the ticket is skipped (counted). A staged requester that
        did not land fails the ticket with its own reason (LoadError), to be retried once it lands."""
        requester = str(payload.refs["requester_id"]) if payload.refs.get("requester_id") else None
        if requester is not None:
            found = self.ledger.intercom_id("contacts", requester)
            if found:
                return found, None
            if self.ledger.staged_record("contacts", requester) is not None:
                failure = self.ledger.failure_of("contacts", requester, "contacts")
                why = failure.reason if failure is not None else "it has no Intercom contact (the contacts phase did not load it)"
                raise LoadError(f"requester {requester} did not land: {why}")
            agent = self.ledger.staged_record("agents", requester)
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
            self.loader.ensure_contact_attribute(TEAMMATE_EMAIL, "Email of a teammate Intercom refused on their contact")
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

    # -- content ------------------------------------------------------------------------------

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
        body = self._start_body(payload, step, contact_id, conversations)
        pending = self.ledger.id_row(self.entity, source_id)
        conversation_id = None
        if pending is not None and pending.state == "pending":
            conversation_id = self._find_started(contact_id, step.created_at, pending.pending_since or 0.0)
        if conversation_id is None:
            self.ledger.mark_pending(self.run_id, self.entity, source_id, intent=_identifying(body))
            self.ledger.mark_part_pending(self.run_id, payload.source_id, step.key, position, source_id, {"created_at": step.created_at})
            sent_at = self.clock()
            try:
                conversation_id = self._create(body)
            except AmbiguousWriteError:
                conversation_id = self._find_started(contact_id, step.created_at, sent_at)
                if conversation_id is None:
                    conversation_id = self._create(body)
        self.ledger.record_write(self.run_id, PHASE, self.entity, source_id, intercom_id=conversation_id, action="create",
                                 origin="created", payload_hash="", body={})
        self.ledger.record_part(self.run_id, payload.source_id, step.key, position, source_id, None)
        return conversation_id

    def _start_body(self, payload: Payload, step: Step, contact_id: str, conversations: dict[int, str]) -> dict[str, Any]:
        body: dict[str, Any] = {"from": {"type": "user", "id": contact_id}, "body": self._fill(step.body, conversations)}
        if step.created_at:
            body["created_at"] = step.created_at
        if step.attachment_urls:
            body["attachment_urls"] = list(step.attachment_urls)
        return body

    def _create(self, body: dict[str, Any]) -> str:
        return str(self.client.create_conversation(body)["conversation_id"])

    def _search_started(self, contact_id: str, created_at: int) -> list[dict[str, Any]]:
        query = {"operator": "AND", "value": [{"field": "contact_ids", "operator": "=", "value": contact_id},
                                              {"field": "created_at", "operator": "=", "value": created_at}]}
        return self.client.search_conversations(query)

    def _find_started(self, contact_id: str, created_at: int | None, sent_at: float) -> str | None:
        """A create whose answer was lost: the requester's conversation (or ticket) with that created_at that the ledger
        does not know, searched for until SEARCH_SETTLE_S after the create was sent (search lags behind writes)."""
        if created_at is None:
            return None
        deadline = sent_at + self.search_settle_s
        while True:
            known = {row.intercom_id for row in self.ledger.iter_id_rows(self.entity)}
            for found in self._search_started(contact_id, created_at):
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
        body = self._reply_body(payload, step, contact_id, conversations)
        expected = {"created_at": step.created_at, "author_id": body.get("admin_id") or body.get("intercom_user_id"),
                    "part_type": "note" if body["message_type"] == "note" else "comment"}
        if row is not None and row.state == "pending":
            part_id = self._find_part(conversation_id, expected, body.get("body"))
            if part_id is not None:
                self.ledger.record_part(self.run_id, payload.source_id, step.key, position, thread_id, part_id)
                return
        self.ledger.mark_part_pending(self.run_id, payload.source_id, step.key, position, thread_id, expected)
        try:
            part_id = self._send_reply(conversation_id, body)
        except AmbiguousWriteError:
            part_id = self._find_part(conversation_id, expected, body.get("body"))
            if part_id is None:
                part_id = self._send_reply(conversation_id, body)
        self.ledger.record_part(self.run_id, payload.source_id, step.key, position, thread_id, part_id)

    def _send_reply(self, conversation_id: str, body: dict[str, Any]) -> str | None:
        return _last_part_id(self.client.reply_to_conversation(conversation_id, body))

    def _reply_body(self, payload: Payload, step: Step, contact_id: str, conversations: dict[int, str]) -> dict[str, Any]:
        body: dict[str, Any]
        text = self._fill(step.body, conversations)
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
        if step.created_at:
            body["created_at"] = step.created_at
        if step.attachment_urls:
            body["attachment_urls"] = list(step.attachment_urls)
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

    def _remote_parts(self, conversation_id: str) -> list[dict[str, Any]]:
        return (self.client.get_conversation(conversation_id).get("conversation_parts") or {}).get("conversation_parts") or []

    def _find_part(self, conversation_id: str, expected: dict[str, Any], sent_body: Any) -> str | None:
        """Was this part sent before the crash? The newest parts are returned, so the last one sent is among them."""
        for part in reversed(self._remote_parts(conversation_id)):
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
        """At most one call each for assignee, attributes and state, plus one per tag added or removed; returns what now holds."""
        now_applied = dict(applied)
        last = max(conversations)
        admin_id = self.loader.admin_for_agent(None)
        wanted_assignee = self._wanted_assignee(payload)
        if wanted_assignee and wanted_assignee != applied.get("admin_assignee_id"):
            self.client.manage_conversation(conversations[last], {"message_type": "assignment", "type": "admin",
                                                                  "admin_id": admin_id, "assignee_id": wanted_assignee})
            now_applied["admin_assignee_id"] = wanted_assignee
        update = {key: payload.body[key] for key in ("title", "custom_attributes") if key in payload.body}
        as_tags = self._attributes_as_tags(payload)
        if as_tags:
            kept = {k: v for k, v in update["custom_attributes"].items() if k not in as_tags}
            update = {k: v for k, v in update.items() if k != "custom_attributes"} | ({"custom_attributes": kept} if kept else {})
            self.ledger.record_notice(self.run_id, ENTITY, payload.source_id, "attributes_as_tags",
                                      f"conversation attributes missing in Intercom, kept as tags: {', '.join(sorted(as_tags))}")
            self.result.add("tickets_attributes_as_tags")
        now_applied["attributes_as_tags"] = sorted(as_tags)
        if update and any(update[key] != applied.get(key) for key in update):
            for conversation_id in conversations.values():
                self.client.update_conversation(conversation_id, update)
            now_applied.update(update)
        self._tag(payload, conversations, admin_id)
        now_applied["state"] = self._set_state(payload, conversations, applied, user_replied, admin_id)
        return now_applied

    def _wanted_assignee(self, payload: Payload) -> str | None:
        assignee = payload.refs.get("assignee_id")
        wanted = self.loader.agent_admins.get(str(assignee)) if assignee else None
        if assignee and wanted is None:
            self.ledger.record_notice(self.run_id, ENTITY, payload.source_id, "assignee_unmatched",
                                      f"assignee agent {assignee} has no Intercom admin; left unassigned")
        return wanted

    def _tag(self, payload: Payload, conversations: dict[int, str], admin_id: str | None) -> None:
        """Tags new in the source are added, tags gone from it removed, on every conversation of the ticket."""
        applied = self.ledger.applied_taggings(self.entity, payload.source_id)
        names = [*payload.tags, *(attribute_tag(k, v) for k, v in self._attributes_as_tags(payload).items())]
        wanted = {tag_key(name): name.strip() for name in names if tag_key(name)}
        for key, name in wanted.items():
            if key in applied:
                continue
            tag_id = self._tag_id(key, name)
            self.ledger.mark_taggings_pending(self.run_id, key, self.entity, [payload.source_id])
            for conversation_id in conversations.values():
                self._tag_call(conversation_id, tag_id, str(admin_id))
            self.ledger.record_taggings(self.run_id, key, tag_id, self.entity, [payload.source_id], present=True)
        for key in sorted(applied - set(wanted)):
            tag_row = self.ledger.id_row("tags", key)
            tag_id = tag_row.intercom_id if tag_row is not None else None
            if tag_id:
                for conversation_id in conversations.values():
                    self._untag_call(conversation_id, tag_id, str(admin_id))
                self.result.add("tags_removed")
            self.ledger.record_taggings(self.run_id, key, tag_id or "", self.entity, [payload.source_id], present=False)

    def _tag_call(self, conversation_id: str, tag_id: str, admin_id: str) -> None:
        self.client.tag_conversation(conversation_id, tag_id, admin_id)

    def _untag_call(self, conversation_id: str, tag_id: str, admin_id: str) -> None:
        self.client.untag_conversation(conversation_id, tag_id, admin_id)

    def _tag_id(self, key: str, name: str) -> str:
        with self._tags_lock:
            row = self.ledger.id_row("tags", key)
            if row is not None and row.state == "done" and row.intercom_id:
                return row.intercom_id
            if self._tags is None:
                self._tags = {tag_key(t["name"]): t for t in self.client.list_tags().get("data", [])}
            existing = self._tags.get(key)
            if existing is None:
                self.ledger.mark_pending(self.run_id, "tags", key, intent={"name": name})
            tag = existing or self.client.create_tag(name)
            self.ledger.record_write(self.run_id, PHASE, "tags", key, intercom_id=str(tag["id"]),
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


def _identifying(body: dict[str, Any]) -> dict[str, Any]:
    """What finds a conversation or ticket whose create's answer was lost: its requester and backdated time (not its text)."""
    return {key: body[key] for key in ("from", "contacts", "created_at", "ticket_type_id") if key in body}


def _last_part_id(conversation: dict[str, Any]) -> str | None:
    parts = (conversation.get("conversation_parts") or {}).get("conversation_parts") or []
    return str(parts[-1]["id"]) if parts else None


def _guess_type(name: str) -> str:
    return mimetypes.guess_type(unquote(name))[0] or "application/octet-stream"


def history_entity(payload: Payload) -> str:
    """The id-map entity a ticket's history lives under: `conversations`, or `tickets` with `target: tickets`."""
    return "tickets" if ThreadOptions.from_refs(payload.refs).target == "tickets" else ENTITY


def plan_action(ledger: Ledger, payload: Payload) -> str:
    """create | update | unchanged, judged like the load judges it: the whole payload's hash, new comments included."""
    row = ledger.id_row(history_entity(payload), payload.source_id)
    if row is None or row.state != "done":
        return "create"
    return "unchanged" if row.payload_hash == payload.content_hash() else "update"


def load_conversations(loader: IntercomLoader, payloads: Iterable[Payload]) -> PhaseResult:
    """The `conversations` phase entry point: conversations, or tickets when the mapping's target says so."""
    stream = iter(payloads)
    first = next(stream, None)
    everything = itertools.chain([first] if first is not None else [], stream)
    if first is not None and history_entity(first) == "tickets":
        from deskmigrate.loaders.intercom.tickets import TicketLoader  # late import: tickets.py builds on this module

        return TicketLoader.prepared(loader, ThreadOptions.from_refs(first.refs)).load(everything)
    return ConversationLoader(loader).load(everything)


__all__ = [
    "ConversationAttributeCheck", "ConversationLoader", "attribute_tag", "check_conversation_attributes",
    "prepare_conversation_attributes", "SourceFile", "Step", "ThreadOptions", "TicketPlan", "history_entity", "load_conversations",
    "plan_action", "plan_ticket", "thread_source_id",
]
