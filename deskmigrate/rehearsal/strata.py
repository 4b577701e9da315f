"""The strata a ticket or a person shows: from a list endpoint's profile, from a whole history, or from a contact."""

from __future__ import annotations

from deskmigrate.core.model import Contact
from deskmigrate.core.sampling import INTERCOM_PART_LIMIT, ContentFacts, TicketProfile

# Strata keys: "status: open" and the like per value, and these fixed ones.
LONGEST = "one of the longest threads"
OVER_LIMIT = f"over Intercom's {INTERCOM_PART_LIMIT}-part limit"
MOST_ATTACHMENTS = "one of the most attachments"
MOST_INLINE = "one of the most inline images"
TABLES, CODE, MEDIA = "HTML tables", "code blocks", "embedded media"
NOTES = "private notes"
BY_SUPPORT, BY_TEAMMATE = "opened by the support team", "opened by a teammate"
REQUESTER_DELETED, REQUESTER_SUSPENDED = "requester deleted in the source", "requester suspended"
MERGED = "requester shares an email with another person (merged contact)"


def profile_strata(profile: TicketProfile) -> dict[str, str]:
    """The strata a list endpoint shows a ticket in (stratum → detail)."""
    found: dict[str, str] = {}
    for name, value in (("status", profile.status), ("priority", profile.priority), ("ticket form", profile.form),
                        ("type", profile.kind), ("language", profile.language), ("brand/mailbox", profile.brand)):
        if value:
            found[f"{name}: {value}"] = ""
    if profile.requester_state == "deleted":
        found[REQUESTER_DELETED] = ""
    elif profile.requester_state == "suspended":
        found[REQUESTER_SUSPENDED] = ""
    if profile.opened_by == "teammate":
        found[BY_TEAMMATE] = ""
    elif profile.opened_by == "support team":
        found[BY_SUPPORT] = ""
    return found


def content_strata(facts: ContentFacts) -> dict[str, str]:
    """The strata a whole history shows, except the rankings (longest, most attachments), decided among candidates."""
    found: dict[str, str] = {}
    if facts.parts > INTERCOM_PART_LIMIT:
        found[OVER_LIMIT] = f"{facts.parts} messages"
    for key, present in ((TABLES, facts.tables), (CODE, facts.code), (MEDIA, facts.media)):
        if present:
            found[key] = ""
    if facts.private_notes:
        found[NOTES] = f"{facts.private_notes}"
    if facts.first_author == "agent":
        found[BY_SUPPORT] = ""
    return found


def contact_strata(contact: Contact) -> dict[str, str]:
    """The strata of a person, for a source without tickets (the rankings and merged emails are decided apart)."""
    found: dict[str, str] = {}
    if contact.locale:
        found[f"language: {contact.locale}"] = ""
    if not contact.email:
        found["no email"] = ""
    if len(contact.company_ids) > 1:
        found["several companies"] = f"{len(contact.company_ids)}"
    if not contact.active:
        found["inactive in the source"] = ""
    if contact.role == "lead":
        found["a lead"] = ""
    return found
