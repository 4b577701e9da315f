"""Contacts read back: what rollback judges of a contact deskmigrate wrote, and what validate compares."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from deskmigrate.core.ledger import IdMapRow, Ledger
from deskmigrate.loaders.intercom.client import IntercomClient
from deskmigrate.loaders.intercom.drift import owners, unknown_tags
from deskmigrate.loaders.intercom.facts import contact_company_ids, contact_tag_keys
from deskmigrate.loaders.intercom.persons import person_kind
from deskmigrate.loaders.intercom.transport import MAX_CONTACTS_PER_PAGE
from deskmigrate.loaders.intercom.undo import RecordKind, RecordUndo, TagCalls, UndoContext, found_tags
from deskmigrate.loaders.intercom.verify import ListedPage, VerifyContext, compare_body, compare_tags, labels_of, list_data

ENTITY = "contacts"
COMPANIES = "companies"


def _foreign(ctx: UndoContext, record: RecordUndo, remote: dict[str, Any]) -> list[str]:
    """Tags and company links on a created contact that the ledger does not know: people added them."""
    extra = unknown_tags(ctx, record, contact_tag_keys(ctx.client, remote, ctx.tag_names))
    known_links = {ctx.ledger.intercom_id(COMPANIES, company) for owner in owners(ctx, record)
                   for company in ctx.ledger.known_facts(ENTITY, owner)[1]}
    return extra + [f"company link {company}" for company in sorted(contact_company_ids(ctx.client, remote) - known_links)]


def _found_facts(ctx: UndoContext, record: RecordUndo) -> list[str]:
    facts = found_tags(ctx, record)
    for company in sorted(ctx.ledger.known_facts(ENTITY, record.source_id)[1]):
        fact = ctx.ledger.link(record.source_id, company)
        if fact is not None and fact.origin == "found":
            facts.append(f"company link {company}")
    return facts


def _holds(record: RecordUndo, ledger: Ledger) -> Callable[[RecordUndo], str | None]:
    """A kept contact keeps its companies: deleting them would change what is kept."""
    companies = ledger.known_facts(ENTITY, record.source_id)[1]
    return lambda other: ("linked to a contact kept (changed since the migration)"
                          if other.entity == COMPANIES and other.source_id in companies else None)


def _tag(ctx: UndoContext, contact_id: str, tag_id: str, key: str) -> None:
    ctx.client.tag_contacts(ctx.tag_name(key), [contact_id])


def _untag(ctx: UndoContext, contact_id: str, tag_id: str, key: str) -> None:
    ctx.ignore_missing(lambda: ctx.client.untag_contact(contact_id, tag_id))


def _tagged(client: IntercomClient, tag_id: str) -> tuple[int, set[str]]:
    return client.tagged(ENTITY, tag_id)


def contact_undo(phase: str) -> RecordKind:
    return person_kind(ENTITY, phase, foreign=_foreign, tags=TagCalls(_tag, _untag, _tagged), holds=_holds, found_facts=_found_facts,
                       mapping_only=frozenset({"merge"}), by_source_id=True)


def list_contacts(client: IntercomClient) -> Iterator[ListedPage]:
    """`GET /contacts`, 150 a page, each page with the workspace's contact count."""
    for page in client.contact_pages(MAX_CONTACTS_PER_PAGE):
        yield ListedPage(list(page.get("data") or []), page.get("total_count"))


def complete_contact(client: IntercomClient, contact: dict[str, Any]) -> dict[str, Any]:
    """A contact embeds its first 10 companies and tags (`has_more` says there are more): the rest are read apart."""
    completed = dict(contact)
    contact_id = str(contact.get("id"))
    if (contact.get("companies") or {}).get("has_more"):
        completed["companies"] = {"type": "list", "data": list(client.iter_contact_companies(contact_id))}
    if (contact.get("tags") or {}).get("has_more"):
        completed["tags"] = {"type": "list", "data": client.list_contact_tags(contact_id)}
    return completed


def check_contact(ctx: VerifyContext, row: IdMapRow, remote: dict[str, Any]) -> None:
    compare_body(ctx, ENTITY, row, remote)
    _compare_links(ctx, row, remote)
    compare_tags(ctx, ENTITY, row, remote)


def _compare_links(ctx: VerifyContext, row: IdMapRow, remote: dict[str, Any]) -> None:
    labels = ctx.once("company_labels", lambda: {r.intercom_id: r.source_id for r in ctx.ledger.iter_id_rows(COMPANIES) if r.intercom_id})
    # Records merged into one contact (one email) share its companies.
    sharing = (ctx.ledger.source_ids_for(ENTITY, row.intercom_id) if row.intercom_id else []) or [row.source_id]
    expected = {ctx.ledger.intercom_id(COMPANIES, sid) for owner in sharing for sid in ctx.ledger.applied_links(owner)}
    expected.discard(None)
    # Companies outside the migration (linked by hand, before or since) are not the ledger's to expect.
    actual = {str(c.get("id")) for c in list_data(remote.get("companies")) if str(c.get("id")) in labels}
    if expected != actual:
        ctx.add(ENTITY, row, "companies", labels_of(expected, labels), labels_of(actual, labels))
