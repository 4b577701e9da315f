"""The Help Scout connector's rehearsal hooks: every conversation profiled from the list (no thread read), and
conversations read by id with their threads."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from deskmigrate.connectors.helpscout import convert
from deskmigrate.connectors.helpscout.pagination import mailbox_pages
from deskmigrate.connectors.helpscout.transport import MailboxApi
from deskmigrate.core.dedupe import RecentIds
from deskmigrate.core.model import SourceNotice
from deskmigrate.core.sampling import TicketProfile
from deskmigrate.core.source import StreamItem, convert_or_reject
from deskmigrate.core.sourcekit import SourceHttpError

# A conversation's threads (a chat's listed in full) and a notice when they could not be: the connector's own read.
ThreadsOf = Callable[[Mapping[str, Any], str], tuple[list[dict[str, Any]], SourceNotice | None]]


def ticket_profiles(mailbox: MailboxApi, mailboxes: list[int] | None, catalog: convert.MailboxCatalog) -> Iterator[TicketProfile]:
    """Every conversation from GET /conversations?status=all without embed=threads (pages of 25, no thread read)."""
    params: dict[str, Any] = {"status": "all", "sortField": "createdAt", "sortOrder": "desc"}
    if mailboxes:
        params["mailbox"] = ",".join(str(m) for m in mailboxes)
    recent = RecentIds()
    for page in mailbox_pages(mailbox, "conversations", "conversations", params):
        for conversation in page.items:
            if conversation.get("state") in ("deleted", "draft") or not recent.first_time(conversation.get("id")):
                continue
            customer = conversation.get("primaryCustomer") if isinstance(conversation.get("primaryCustomer"), dict) else {}
            created_by = conversation.get("createdBy") if isinstance(conversation.get("createdBy"), dict) else {}
            mailbox_id = str(conversation.get("mailboxId")) if conversation.get("mailboxId") is not None else None
            threads = conversation.get("threads")
            yield TicketProfile(
                source_id=str(conversation["id"]), subject=conversation.get("subject"), status=conversation.get("status"),
                kind=conversation.get("type"), brand=catalog.mailboxes.get(mailbox_id or "", mailbox_id), channel=conversation.get("type"),
                requester_id=str(customer["id"]) if customer.get("id") is not None else None, requester_email=customer.get("email"),
                opened_by="support team" if created_by.get("type") == "user" else None,
                size_hint=threads if isinstance(threads, int) else None,
            )


def selected_conversations(mailbox: MailboxApi, source_ids: set[str], catalog: convert.MailboxCatalog, *, keep_line_items: bool,
                           threads_of: ThreadsOf) -> Iterator[StreamItem]:
    """Conversations by id: GET /conversations/{id}?embed=threads; one deleted since it was listed is passed over."""
    for source_id in sorted(i for i in source_ids if i.isdigit()):
        location = f"GET /conversations/{source_id}"
        try:
            conversation = mailbox.get_json(f"conversations/{source_id}", {"embed": "threads"})
        except SourceHttpError as exc:
            if exc.status not in (404, 410):
                raise
            continue  # deleted since it was listed
        threads, notice = threads_of(conversation, location)
        if notice is not None:
            yield notice
        yield convert_or_reject("conversations", conversation, location, convert.conversation_from_json, threads, catalog,
                                keep_line_items=keep_line_items)
