"""Loading contacts: one Intercom contact per email. Staged records sharing one email are held back while the rest
load, then each group lands as one contact (merged into the newest, or the later ones rejected, reported)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from deskmigrate.core.errors import LoadError
from deskmigrate.core.ledger import SharedEmailContact, merge_marker
from deskmigrate.core.payload import Payload
from deskmigrate.loaders.intercom.contacts.links import sync_company_links
from deskmigrate.loaders.intercom.contacts.namesakes import newest, where
from deskmigrate.loaders.intercom.contacts.writes import contact_kind
from deskmigrate.loaders.intercom.loader import IntercomLoader, PhaseResult, body_hash, run_concurrently
from deskmigrate.loaders.intercom.write import write_object

NAME = ENTITY = "contacts"
# Every outcome of a contacts-phase record; with `rejected_duplicate_email` they add up to the records it read.
CONTACT_OUTCOMES = ("created", "updated", "adopted", "unchanged", "failed", "merged", "rejected_duplicate_email")


def load_contacts(loader: IntercomLoader, payloads: Iterable[Payload]) -> PhaseResult:
    """Every contact, one Intercom contact per email (`load.on_duplicate_email`)."""
    result = PhaseResult(NAME)
    result.ensure(*CONTACT_OUTCOMES)
    groups = loader.ledger.contacts_sharing_email()
    member_of = {member.source_id: index for index, group in enumerate(groups) for member in group}
    held: dict[int, list[Payload]] = {}

    def singles() -> Iterator[Payload]:
        for payload in payloads:
            index = member_of.get(payload.source_id)
            if index is None or not payload.body.get("email"):
                yield payload
            else:
                held.setdefault(index, []).append(payload)

    workers = loader.settings.concurrency
    loader.ledger.start_phase(loader.run_id, NAME, None)
    run_concurrently(singles(), lambda p: loader.attempt(NAME, p, lambda q: _load_contact(loader, q, result), result), workers)
    shared = [(groups[index], arrived) for index, arrived in sorted(held.items())]
    run_concurrently(shared, lambda group: _load_email_group(loader, group[0], group[1], result), workers)
    loader.finish_phase(NAME, result)
    return result


def _load_contact(loader: IntercomLoader, payload: Payload, result: PhaseResult) -> None:
    loader.ledger.set_desired_tags(ENTITY, payload.source_id, payload.tags)
    outcome = write_object(loader, contact_kind(loader, payload), payload.source_id, body_hash(payload.body), lambda: payload.body)
    sync_company_links(loader, payload)
    result.add(outcome)


def _load_email_group(loader: IntercomLoader, members: list[SharedEmailContact], arrived: list[Payload], result: PhaseResult) -> None:
    """Source contacts sharing one email (ignoring case): Intercom keeps a user's email unique, so one contact."""
    by_id = {payload.source_id: payload for payload in arrived}
    present = [member for member in members if member.source_id in by_id]

    def load(payload: Payload) -> bool:
        return loader.attempt(NAME, payload, lambda p: _load_contact(loader, p, result), result)

    if len(present) == 1:
        load(by_id[present[0].source_id])
        return
    if loader.settings.on_duplicate_email == "reject_later":
        first, *later = present
        load(by_id[first.source_id])
        for member in later:
            _reject_duplicate(loader, by_id[member.source_id], first, result)
        return
    survivor = newest(present)
    others = [member for member in present if member is not survivor]
    landed = load(by_id[survivor.source_id])
    intercom_id = loader.ledger.intercom_id(ENTITY, survivor.source_id) if landed else None
    for member in others:
        payload = by_id[member.source_id]
        if intercom_id is None:
            loader.attempt(NAME, payload, lambda p: _raise(LoadError(
                f"same email as contact {survivor.source_id} (the newest of them, whose fields are written), which did not "
                "land; retried with it")), result)
            continue
        loader.attempt(NAME, payload, lambda p: _merge_contact(loader, p, survivor, intercom_id, result), result)


def _merge_contact(loader: IntercomLoader, payload: Payload, survivor: SharedEmailContact, intercom_id: str, result: PhaseResult) -> None:
    """Map a record to the contact its newer namesake landed as: its tickets, tags and company links go there too."""
    ledger = loader.ledger
    ledger.set_desired_tags(ENTITY, payload.source_id, payload.tags)
    row = ledger.id_row(ENTITY, payload.source_id)
    already = (row is not None and row.state == "done" and row.origin == "merged" and row.intercom_id == intercom_id
               and row.payload_hash == merge_marker(survivor.source_id))
    if not already:
        ledger.record_merge(loader.run_id, NAME, ENTITY, payload.source_id, intercom_id=intercom_id, into=survivor.source_id)
        ledger.record_notice(
            loader.run_id, ENTITY, payload.source_id, "merged_duplicate_email",
            f"same email as contact {survivor.source_id}{where(survivor)}, the newer record: merged into its Intercom "
            f"contact {intercom_id}, whose fields are {survivor.source_id}'s; this record's tickets, tags and companies go there",
        )
    sync_company_links(loader, payload)
    result.add("unchanged" if already else "merged")


def _reject_duplicate(loader: IntercomLoader, payload: Payload, first: SharedEmailContact, result: PhaseResult) -> None:
    reason = (f"same email as contact {first.source_id}{where(first)}, staged first: left out "
              "(load.on_duplicate_email: reject_later)")
    loader.ledger.record_failure(loader.run_id, NAME, ENTITY, payload.source_id, reason, field="email")
    result.add("rejected_duplicate_email")
    loader.on_progress(NAME, 1)


def _raise(error: LoadError) -> None:
    raise error
