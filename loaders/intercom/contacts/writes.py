"""How one contact is written (the write sequence's contact kind): a 409 names the existing contact to adopt, a create
whose answer was lost is found by external_id, a phone Intercom refuses is sent again without it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from deskmigrate.core.errors import ConflictError, RejectedError
from deskmigrate.core.ledger import IdMapRow
from deskmigrate.core.payload import Payload
from deskmigrate.loaders.intercom.attributes import ensure_contact_attribute
from deskmigrate.loaders.intercom.client import names_field
from deskmigrate.loaders.intercom.drift import before_image
from deskmigrate.loaders.intercom.facts import contact_company_ids, contact_tag_keys
from deskmigrate.loaders.intercom.loader import RECONCILE_SKEW_S, IntercomLoader
from deskmigrate.loaders.intercom.write import Found, ObjectKind, adopted_before_facts

log = logging.getLogger(__name__)

ENTITY = "contacts"
COMPANIES = "companies"
# A phone Intercom refuses (400) is re-sent without it, its text kept in this contact attribute (string).
PHONE_ORIGINAL = "phone_original"
Body = dict[str, Any]


def contact_kind(loader: IntercomLoader, payload: Payload) -> ObjectKind:
    client = loader.client

    def previous(row: IdMapRow) -> Body:
        if row.origin == "merged":
            # It was merged into a namesake and is now written itself: what the contact holds is the before-image.
            return client.get_contact(row.intercom_id or "")
        return row.body or {}

    def reconcile(row: IdMapRow, body: Body) -> Found | None:
        """A create whose outcome is unknown (crash or dropped connection): found by external_id, ours when Intercom
        created it after we marked it pending, else a contact that was there before (adopted)."""
        external_id = body.get("external_id")
        found = client.find_contact_by_external_id(str(external_id)) if external_id else None
        if found is None:
            return None
        ours = float(found.get("created_at") or 0) >= (row.pending_since or 0.0) - RECONCILE_SKEW_S
        return Found(str(found["id"]), ours=ours, current=found)

    def conflict(error: ConflictError) -> str | None:
        if error.existing_id and "archived" in str(error).lower():
            client.request("POST", f"/contacts/{error.existing_id}/unarchive")
        return error.existing_id

    return ObjectKind(
        ENTITY,
        create=lambda body: send_contact(loader, payload, body, client.create_contact),
        update=lambda contact_id, body: send_contact(loader, payload, body, lambda sent: client.update_contact(contact_id, sent)),
        seen=lambda row: record_legacy_facts(loader, row), previous=previous,
        before=lambda current, sent: before_image(ENTITY, current, sent), reconcile=reconcile, conflict=conflict,
        read=client.get_contact, found_before=lambda contact: record_contact_facts(loader, payload.source_id, contact, set(), set()),
        creates=2, keeps_their_edits=True,
    )


def send_contact(loader: IntercomLoader, payload: Payload, body: Body, call: Callable[[Body], Body]) -> tuple[Body, Body]:
    """Send the contact; a 400 about its phone sends it again without, the text kept in `phone_original`.

    Returns Intercom's answer and the body that it accepted (what the ledger compares and validates against).
    """
    try:
        return call(body), body
    except RejectedError as error:
        phone = body.get("phone")
        if error.status != 400 or not phone or not names_field(error, "phone"):
            raise
        without = {key: value for key, value in body.items() if key != "phone"}
        without["custom_attributes"] = {**(body.get("custom_attributes") or {}), PHONE_ORIGINAL: str(phone)}
        ensure_contact_attribute(loader, PHONE_ORIGINAL, "Phone number as the source had it, which Intercom refused")
        log.warning("contact %s: Intercom refused its phone number (HTTP 400); sent without it", payload.source_id)
        answer = call(without)
        loader.ledger.record_notice(
            loader.run_id, ENTITY, payload.source_id, "phone_refused",
            f"Intercom refused the phone number (HTTP 400, {error.code or 'no code'}); the contact was sent without it and "
            f"the text kept in the contact attribute {PHONE_ORIGINAL}",
        )
        return answer, without


def record_contact_facts(loader: IntercomLoader, source_id: str, contact: Body, known_tags: set[str], known_links: set[str]) -> None:
    """A pre-existing contact's tags and company links (those of companies in the source) as found, minus what the ledger
    knows already (what an older deskmigrate applied to it)."""
    loader.wait_for_every(COMPANIES)  # its links are known by the companies' source ids: every company must have landed
    tags = contact_tag_keys(loader.client, contact, loader.tag_names) - known_tags
    companies = {sid for company_id in contact_company_ids(loader.client, contact)
                 for sid in loader.ledger.source_ids_for(COMPANIES, company_id)} - known_links
    loader.ledger.record_found(loader.run_id, ENTITY, source_id, tags=tags, companies=companies)


def record_legacy_facts(loader: IntercomLoader, row: IdMapRow) -> None:
    """A contact adopted by a schema-1 ledger: read it once and record its tags and links the ledger does not know as
    found (what schema 1 applied stays of unknown owner: legacy)."""
    if not adopted_before_facts(row):
        return
    known_tags, known_links = loader.ledger.known_facts(ENTITY, row.source_id)
    record_contact_facts(loader, row.source_id, loader.client.get_contact(str(row.intercom_id)), known_tags, known_links)
