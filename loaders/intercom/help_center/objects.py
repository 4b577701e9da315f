"""Collections and articles as Intercom objects: how the write sequence writes one (a create whose answer was lost is
found in the Help Center's lists, which are read straight from the database, unlike search), how rollback judges and
undoes one, and what validate compares. The ledger keeps each one's new public URLs beside the body sent."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from deskmigrate.core.ledger import IdMapRow
from deskmigrate.loaders.intercom.client import IntercomClient
from deskmigrate.loaders.intercom.drift import help_center_changes
from deskmigrate.loaders.intercom.loader import RECONCILE_SKEW_S, IntercomLoader
from deskmigrate.loaders.intercom.undo import RecordKind, RecordUndo, UndoContext, created_since, unclaimed
from deskmigrate.loaders.intercom.verify import ListedPage, Verifier, VerifyContext
from deskmigrate.loaders.intercom.write import Found, ObjectKind

Body = dict[str, Any]
MAX_CREATE_ATTEMPTS = 3  # creates whose answer was lost, each followed by a look at what Intercom holds
# Body keys the mapping writes for the loader, never sent: merge/skip a collection, a footer line for an article.
LOADER_KEYS = ("merge_into", "skip", "footer")
INTERCOM_KEY = "_intercom"  # where the id map keeps the new URLs next to the body we sent
HELP_CENTER_ID = "help_center_id"
# The 2.15 spec names no page size for the help center lists; Intercom's list maximum is 150 (a smaller one is followed
# through `pages.total_pages` all the same).
LIST_PER_PAGE = 150


@dataclass(frozen=True)
class HelpCenterObject:
    """One of the two kinds: its entity, list path, the field that names it, and its client calls."""

    entity: str
    path: str  # the page-numbered list of every one
    label: str  # name | title
    create: Callable[[IntercomClient], Callable[[Body], Body]]
    update: Callable[[IntercomClient], Callable[[str, Body], Body]]
    read: Callable[[IntercomClient, str], Body]
    delete: Callable[[IntercomClient, str], Any]
    # What an update sends of the body (a collection's help center is fixed at creation; no parent: top level).
    update_body: Callable[[Body], Body] = lambda body: body


def sendable(body: Body) -> Body:
    return {key: value for key, value in body.items() if key not in LOADER_KEYS}


def with_urls(body: Body, answer: Body) -> Body:
    urls = {locale: content.get("url") for locale, content in (answer.get("translated_content") or {}).items()
            if isinstance(content, dict) and content.get("url")}
    return {**body, INTERCOM_KEY: {"url": answer.get("url"), "urls": urls, "locale": answer.get("default_locale")}}


def without_urls(body: Body | None) -> Body:
    return {key: value for key, value in (body or {}).items() if key != INTERCOM_KEY}


def same_parent(item: Body, body: Body) -> bool:
    return str(item.get("parent_id") or "") == str(body.get("parent_id") or "")


def object_kind(loader: IntercomLoader, kind: HelpCenterObject, *, unchanged: Callable[[IdMapRow, str, Callable[[], Body]], bool],
                updatable: Callable[[IdMapRow], bool]) -> ObjectKind:
    """The write sequence's view of a collection or an article."""
    client = loader.client
    update = kind.update(client)
    create = kind.create(client)

    def reconcile(row: IdMapRow, body: Body) -> Found | None:
        """What a pending create made: created after we marked it pending, matching the body, and not another record's."""
        if row.state != "pending" or row.pending_since is None:
            return None
        since = row.pending_since - RECONCILE_SKEW_S
        claimed = {other.intercom_id for other in loader.ledger.iter_id_rows(kind.entity) if other.intercom_id and other.source_id != row.source_id}
        candidates = [item for item in client.iter_pages(kind.path)
                      if float(item.get("created_at") or 0) >= since and str(item.get("id")) not in claimed
                      and item.get(kind.label) == body[kind.label] and same_parent(item, body)]
        found = min(candidates, key=lambda item: int(str(item["id"])) if str(item["id"]).isdigit() else 0, default=None)
        return Found(str(found["id"]), ours=True, current=found) if found is not None else None

    return ObjectKind(
        kind.entity,
        create=lambda body: (create(body), body),
        update=lambda intercom_id, body: (update(intercom_id, kind.update_body(body)), body),
        unchanged=unchanged, updatable=updatable, previous=lambda row: without_urls(row.body), stored=with_urls,
        intent=lambda body: {key: value for key, value in body.items() if key != "body"}, reconcile=reconcile,
        creates=MAX_CREATE_ATTEMPTS,
    )


# -- rollback ------------------------------------------------------------------------------------------------


def _judge(ctx: UndoContext, record: RecordUndo, remote: Body) -> None:
    """Ours to delete or restore unless people changed what we wrote; never written to unless we created it."""
    for write in record.writes:
        changed = help_center_changes(write.after or {}, remote)
        if changed and not ctx.force:
            record.changed, record.action = changed, "keep"
            return
        record.changed += changed
        record.forced = record.forced or bool(changed)
        if write.action == "create":
            record.action = "delete"
            return
        remote = {**remote, **(write.before or {})}
        record.restore = _restorable(write.before)
    record.restored_fields = sorted(record.restore)
    record.action = "restore"


def _restorable(before: Body | None) -> Body:
    return {key: value for key, value in (before or {}).items() if not key.startswith("_") and key != HELP_CENTER_ID}


def _finder(kind: HelpCenterObject) -> Callable[[UndoContext, RecordUndo, IdMapRow], Body | None]:
    def find(ctx: UndoContext, record: RecordUndo, row: IdMapRow) -> Body | None:
        intent = row.intent or {}
        ours = created_since(row)
        candidates = [item for item in ctx.client.iter_pages(kind.path) if ours(item) and item.get(kind.label) == intent.get(kind.label)
                      and str(item.get("parent_id") or "") == str(intent.get("parent_id") or "")]
        return unclaimed(ctx, record.entity, candidates)

    return find


def _restorer(kind: HelpCenterObject) -> Callable[[UndoContext, RecordUndo], None]:
    def restore(ctx: UndoContext, record: RecordUndo) -> None:
        update = kind.update(ctx.client)
        ctx.ignore_missing(lambda: update(str(record.intercom_id), dict(record.restore)))

    return restore


def undo_kind(kind: HelpCenterObject, phase: str, *, mapping_only: frozenset[str] = frozenset(), one_at_a_time: bool = False) -> RecordKind:
    return RecordKind(kind.entity, phase, read=kind.read, delete=kind.delete, judge=_judge, find=_finder(kind), restore=_restorer(kind),
                      mapping_only=mapping_only, one_at_a_time=one_at_a_time)


# -- validate ------------------------------------------------------------------------------------------------


def verifier(kind: HelpCenterObject, *, parent_required: bool = False) -> Verifier:
    """Name, parent and help center of a collection; title, author, state, parent and languages of an article.
    `parent_required`: one written without a parent must have none (a collection at the top level)."""

    def check(ctx: VerifyContext, row: IdMapRow, remote: Body) -> None:
        sent = row.body or {}
        for key in ("name", "title", "author_id", "state", "parent_id", HELP_CENTER_ID):
            if key in sent and str(remote.get(key)) != str(sent[key]):
                ctx.add(kind.entity, row, key, sent[key], remote.get(key))
        if parent_required and "parent_id" not in sent and remote.get("parent_id"):
            ctx.add(kind.entity, row, "parent_id", None, remote.get("parent_id"))
        missing_locales = set(sent.get("translated_content") or {}) - set(remote.get("translated_content") or {})
        if missing_locales:
            ctx.add(kind.entity, row, "translated_content", sorted(sent["translated_content"]), sorted(remote.get("translated_content") or {}))

    def listing(client: IntercomClient) -> Iterator[ListedPage]:
        for page in client.numbered_pages(kind.path, LIST_PER_PAGE):
            yield ListedPage(list(page.get("data") or []), page.get("total_count"))

    return Verifier(kind.entity, read=kind.read, check=check, listing=listing,
                    rows=lambda ledger, entity: (r for r in ledger.iter_id_rows(entity) if r.state == "done" and r.origin == "created"))
