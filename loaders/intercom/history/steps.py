"""Planning a ticket's history: payload → the ordered Intercom writes (pure, no HTTP).

Attachments go 10 to a part (the rest in extra parts), files behind the source's login are uploaded where Intercom
takes uploads and kept as links elsewhere, a ticket the support team opened starts with a neutral line from the
customer, and threads longer than Intercom shows are folded into transcript notes or continued in linked conversations.
"""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from deskmigrate.core.payload import Payload
from deskmigrate.loaders.intercom.history.common import CONTINUATION, TICKETS, ThreadOptions

# attachment_urls / attachment_files: "You can include up to 10" per part (2.15 spec, maxItems: 10).
MAX_ATTACHMENTS_PER_PART = 10
TRANSCRIPT_PARTS_PER_NOTE = 100
IMG_TAG = re.compile(r"<img\b[^>]*\bsrc=\"([^\"]+)\"[^>]*>", re.IGNORECASE)

StepKind = Literal["start", "user", "admin"]
# Opens a conversation whose first source message is the support team's (see _opener_step).
SUPPORT_OPENER = "Conversation started by the support team"
CUSTOMER_PRIVATE_PREFIX = "Private message from a contact:"


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


def stamped(body: dict[str, Any], step: Step) -> dict[str, Any]:
    """A create or reply body with the step's backdated time and its public attachment URLs (Intercom fetches them)."""
    if step.created_at:
        body["created_at"] = step.created_at
    if step.attachment_urls:
        body["attachment_urls"] = list(step.attachment_urls)
    return body


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
    uploads_possible = options.target != TICKETS
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
        on_start = found.urls[:MAX_ATTACHMENTS_PER_PART] if options.target != TICKETS else []
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
