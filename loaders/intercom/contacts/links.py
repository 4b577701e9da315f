"""Company links: a contact is attached to the companies its source record names; links deskmigrate made go when the
source drops them, links the contact had before us stay. On rollback, a link deskmigrate added is removed."""

from __future__ import annotations

from deskmigrate.core.ledger import Fact, Ledger
from deskmigrate.core.payload import Payload
from deskmigrate.loaders.intercom.loader import IntercomLoader
from deskmigrate.loaders.intercom.persons import sibling_has
from deskmigrate.loaders.intercom.undo import FactKind, FactUndo, UndoContext

ENTITY = "contacts"
COMPANIES = "companies"
LINKS_PHASE = "links"  # the failures of a contact's links are kept apart from the contact's own


def sync_company_links(loader: IntercomLoader, payload: Payload) -> None:
    ledger, client = loader.ledger, loader.client
    contact_id = ledger.intercom_id(ENTITY, payload.source_id)
    if contact_id is None:
        return
    wanted = set(payload.company_source_ids)
    applied = ledger.applied_links(payload.source_id)
    for company_source_id in sorted(wanted - applied):
        company_id = ledger.intercom_id(COMPANIES, company_source_id)
        if company_id is None:
            ledger.record_failure(
                loader.run_id, LINKS_PHASE, ENTITY, payload.source_id,
                f"company {company_source_id!r} is not in Intercom (not in the source, or it failed to load)",
                field="company_ids",
            )
            continue
        ledger.mark_link_pending(loader.run_id, payload.source_id, company_source_id)
        client.attach_company(contact_id, company_id)
        ledger.set_link(loader.run_id, payload.source_id, company_source_id, present=True,
                        contact_intercom_id=contact_id, company_intercom_id=company_id)
    # Only links deskmigrate made go when the source drops them; those the contact had before us stay.
    for company_source_id in sorted(ledger.owned_links(payload.source_id) - wanted):
        company_id = ledger.intercom_id(COMPANIES, company_source_id)
        if company_id is not None and not sibling_has(ledger, payload.source_id, contact_id, ledger.applied_links, company_source_id):
            client.detach_company(contact_id, company_id)
        ledger.set_link(loader.run_id, payload.source_id, company_source_id, present=False,
                        contact_intercom_id=contact_id, company_intercom_id=company_id or "")
    if wanted <= ledger.applied_links(payload.source_id):
        ledger.clear_failure(ENTITY, payload.source_id, LINKS_PHASE)


def _current(ledger: Ledger, entity: str, source_id: str, company_source_id: str) -> Fact | None:
    return ledger.link(source_id, company_source_id)


def _remove(ctx: UndoContext, fact: FactUndo) -> None:
    ctx.ignore_missing(lambda: ctx.client.detach_company(str(fact.record_id), str(fact.other_id)))


def _put_back(ctx: UndoContext, fact: FactUndo) -> None:
    ctx.client.attach_company(str(fact.record_id), str(fact.other_id))
    ctx.ledger.restore_link(fact.run_id, fact.source_id, fact.key)


def _drop(ledger: Ledger, fact: FactUndo) -> None:
    ledger.drop_link(fact.source_id, fact.key)


def link_facts(phase: str) -> FactKind:
    return FactKind(
        name="link", phase=phase, actions=("link", "unlink"), detail_key="company_source_id", other_entity=COMPANIES,
        other_id_key="company_intercom_id", counters=("unlinked", "relinked"), current=_current, remove=_remove,
        put_back=_put_back, drop=_drop, pending_entity="links", record_entity=ENTITY,
    )
