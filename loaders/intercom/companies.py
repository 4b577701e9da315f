"""Phase `companies`: each source company → one Intercom company, upserted by its company_id.

`POST /companies` creates or updates by company_id and cannot say which it did, so what is there must be known before
the first write (a pre-existing company's before-image and tags stay its own). On a first load (the ledger knows no
company) preflight lists the workspace's companies once with `GET /companies/scroll` and keeps those that exist as
they are: a company not in the listing is new and costs its upsert alone. Otherwise — a delta, a resumed load, a
listing cut short — one consistent lookup by company_id before each first write tells us. (A company someone creates
between the listing and our upsert of it is taken for ours: the window is the load itself.)
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from typing import Any

from deskmigrate.core.errors import AuthError, LoadError
from deskmigrate.core.ledger import IdMapRow
from deskmigrate.core.payload import AttributeDeclaration, Payload
from deskmigrate.loaders.intercom.attributes import DATA_ATTRIBUTE_UNDO, prepare_data_attributes
from deskmigrate.loaders.intercom.client import IntercomClient
from deskmigrate.loaders.intercom.drift import before_image, judge_fields, judge_found_fields, unknown_tags
from deskmigrate.loaders.intercom.facts import company_tag_keys, tag_ids_of
from deskmigrate.loaders.intercom.loader import IntercomLoader, PhaseResult, body_hash, side_by_side
from deskmigrate.loaders.intercom.phase import Phase
from deskmigrate.loaders.intercom.undo import RecordKind, RecordUndo, TagCalls, Undo, UndoContext, created_since
from deskmigrate.loaders.intercom.verify import ListedPage, Verifier, VerifyContext, compare_body, compare_tags
from deskmigrate.loaders.intercom.write import Found, ObjectKind, adopted_before_facts, write_object

NAME = ENTITY = "companies"
log = logging.getLogger(__name__)


def prepare_companies(loader: IntercomLoader, declarations: list[AttributeDeclaration]) -> Callable[[], dict[str, Any]]:
    """The company attributes, and beside them (first load only) the workspace's companies as they are, by company_id."""

    def list_companies() -> None:
        to_write = loader.ledger.count_staged(ENTITY)
        if to_write and not any(loader.ledger.count_id_rows(ENTITY, state) for state in ("done", "pending")):
            listing = list_existing_companies(loader.client, max_pages=to_write)
            if listing is not None:
                loader.prepared[NAME] = listing

    create_attributes, _ = side_by_side([partial(prepare_data_attributes("company"), loader, declarations), list_companies],
                                        loader.settings.concurrency)
    return create_attributes


def list_existing_companies(client: IntercomClient, max_pages: int) -> dict[str, dict[str, Any]] | None:
    """Every company in the workspace by company_id, or None when the listing would cost more calls than a lookup per
    company written (`max_pages`) or failed (an open scroll, an expired one): then each company is looked up."""
    existing: dict[str, dict[str, Any]] = {}
    try:
        for pages, page in enumerate(client.scroll_companies(), start=1):
            if pages > max_pages:
                log.info("the workspace holds more companies than listing them is worth: each is looked up instead")
                return None
            existing.update({str(company["company_id"]): company for company in page if company.get("company_id")})
    except AuthError:
        raise
    except LoadError as error:
        log.info("listing the workspace's companies failed (%s): each is looked up instead", error)
        return None
    return existing


def load_companies(loader: IntercomLoader, payloads: Iterable[Payload]) -> PhaseResult:
    return loader.load_each(NAME, payloads, lambda payload, result: result.add(_write(loader, payload)))


def _write(loader: IntercomLoader, payload: Payload) -> str:
    loader.ledger.set_desired_tags(ENTITY, payload.source_id, payload.tags)
    return write_object(loader, company_kind(loader, payload), payload.source_id, body_hash(payload.body), lambda: payload.body)


def company_kind(loader: IntercomLoader, payload: Payload) -> ObjectKind:
    client = loader.client

    def upsert(body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        return client.upsert_company(body), body

    listed: dict[str, dict[str, Any]] | None = loader.prepared.get(NAME)

    def look_first(body: dict[str, Any]) -> Found | None:
        company_id = str(body["company_id"])
        existing = client.find_company(company_id) if listed is None else listed.get(company_id)
        return Found(str(existing["id"]), ours=False, current=existing) if existing else None

    def look_up(body: dict[str, Any]) -> Found | None:
        existing = client.find_company(str(body["company_id"]))
        return Found(str(existing["id"]), ours=False, current=existing) if existing else None

    def reconcile(row: IdMapRow, body: dict[str, Any]) -> Found | None:
        """A write a crash interrupted: the lookup before it decided what it is; the upsert is simply sent again."""
        if row.origin == "adopted" and row.intercom_id:
            return Found(row.intercom_id, ours=False, before=row.before)
        return None if row.origin == "created" else look_up(body)

    def found_before(company: dict[str, Any]) -> None:
        # Its tags were there before us: no delta or rollback removes them.
        loader.ledger.record_found(loader.run_id, ENTITY, payload.source_id, tags=company_tag_keys(company))

    return ObjectKind(
        ENTITY, create=upsert, update=lambda intercom_id, body: upsert(body), seen=lambda row: _record_legacy_facts(loader, row),
        before=lambda current, sent: before_image(ENTITY, current, sent), look_first=look_first, reconcile=reconcile,
        read=client.get_company, found_before=found_before, pending_origin="created", keeps_their_edits=True,
    )


def _record_legacy_facts(loader: IntercomLoader, row: IdMapRow) -> None:
    """A company adopted by a schema-1 ledger: read it once and record its tags the ledger does not know as found (what
    schema 1 applied stays of unknown owner: legacy)."""
    if not adopted_before_facts(row):
        return
    known_tags, _ = loader.ledger.known_facts(ENTITY, row.source_id)
    company = loader.client.get_company(str(row.intercom_id))
    loader.ledger.record_found(loader.run_id, ENTITY, row.source_id, tags=company_tag_keys(company) - known_tags)


# -- rollback and validate -------------------------------------------------------------------------------------


def _foreign(ctx: UndoContext, record: RecordUndo, remote: dict[str, Any]) -> list[str]:
    carried = {key for tag_id in tag_ids_of(remote) if (key := ctx.tag_names.key_of(tag_id))}
    return unknown_tags(ctx, record, carried)


def _judge(ctx: UndoContext, record: RecordUndo, remote: dict[str, Any]) -> None:
    record.company_id = str(remote.get("company_id") or record.source_id)
    judge_fields(ctx, record, remote, phase=NAME, foreign=_foreign)


def _find(ctx: UndoContext, record: RecordUndo, row: IdMapRow) -> dict[str, Any] | None:
    found = ctx.client.find_company(str((row.intent or {}).get("company_id") or record.source_id))
    return found if created_since(row)(found) else None


def _judge_found(ctx: UndoContext, record: RecordUndo, row: IdMapRow, found: dict[str, Any]) -> None:
    record.company_id = str(found.get("company_id") or record.source_id)
    judge_found_fields(ctx, record, row, found, phase=NAME, foreign=_foreign)


def _restore(ctx: UndoContext, record: RecordUndo) -> None:
    # POST /companies updates by company_id and takes every field we write (PUT has no remote_created_at).
    body = {key: value for key, value in record.restore.items() if key != "company_id"}
    ctx.ignore_missing(lambda: ctx.client.upsert_company({"company_id": record.company_id or record.source_id, **body}))


def _tag(ctx: UndoContext, company_id: str, tag_id: str, key: str) -> None:
    ctx.client.tag_companies(ctx.tag_name(key), [company_id])


def _untag(ctx: UndoContext, company_id: str, tag_id: str, key: str) -> None:
    ctx.ignore_missing(lambda: ctx.client.untag_companies(ctx.tag_name(key), [company_id]))


def _tagged(client: IntercomClient, tag_id: str) -> tuple[int, set[str]]:
    return client.tagged(ENTITY, tag_id)


def _listing(client: IntercomClient) -> Iterator[ListedPage]:
    return (ListedPage(page) for page in client.scroll_companies())


def _check(ctx: VerifyContext, row: IdMapRow, remote: dict[str, Any]) -> None:
    compare_body(ctx, ENTITY, row, remote)
    compare_tags(ctx, ENTITY, row, remote)


COMPANY_UNDO = RecordKind(
    ENTITY, NAME, read=lambda client, intercom_id: client.get_company(intercom_id),
    delete=lambda client, intercom_id: client.delete_company(intercom_id), judge=_judge, find=_find, judge_found=_judge_found,
    restore=_restore, tags=TagCalls(_tag, _untag, _tagged),
)

COMPANIES = Phase(
    NAME, ENTITY, "company", load_companies,
    prepare=prepare_companies,
    undo=Undo(records=(COMPANY_UNDO,), settings=(DATA_ATTRIBUTE_UNDO,)),
    verify=(Verifier(ENTITY, read=lambda client, intercom_id: client.get_company(intercom_id), check=_check, listing=_listing),),
)
