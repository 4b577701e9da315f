"""Phase `contacts` (+ company links): each source contact → one Intercom contact per email, linked to its companies."""

from __future__ import annotations

from deskmigrate.core.payload import Payload
from deskmigrate.loaders.intercom.attributes import DATA_ATTRIBUTE_UNDO, prepare_data_attributes
from deskmigrate.loaders.intercom.contacts.links import COMPANIES, link_facts
from deskmigrate.loaders.intercom.contacts.load import CONTACT_OUTCOMES, NAME, load_contacts
from deskmigrate.loaders.intercom.contacts.namesakes import CONFLICT_EXAMPLES, email_conflicts, newest
from deskmigrate.loaders.intercom.contacts.readback import check_contact, complete_contact, contact_undo, list_contacts
from deskmigrate.loaders.intercom.contacts.writes import PHONE_ORIGINAL
from deskmigrate.loaders.intercom.phase import Phase
from deskmigrate.loaders.intercom.undo import Undo
from deskmigrate.loaders.intercom.verify import Verifier


def companies_of(payload: Payload) -> list[tuple[str, str]]:
    """What a contact waits for: its companies in Intercom (to link it to them), not every company."""
    return [(COMPANIES, source_id) for source_id in payload.company_source_ids]


CONTACTS = Phase(
    NAME, "contacts", "contact", load_contacts,
    requires=(COMPANIES,),
    streams_after=(COMPANIES,),
    needs=companies_of,
    prepare=prepare_data_attributes("contact"),
    undo=Undo(records=(contact_undo(NAME),), facts=(link_facts(NAME),), settings=(DATA_ATTRIBUTE_UNDO,)),
    verify=(Verifier("contacts", read=lambda client, intercom_id: client.get_contact(intercom_id), check=check_contact,
                     listing=list_contacts, complete=complete_contact),),
    plan_report=email_conflicts,
)

__all__ = ["CONFLICT_EXAMPLES", "CONTACTS", "CONTACT_OUTCOMES", "PHONE_ORIGINAL", "load_contacts", "newest"]
