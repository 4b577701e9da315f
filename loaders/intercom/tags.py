"""Phase `tags`: every wanted tagging of contacts and companies applied in bulk (`POST /tags` with up to `tag_batch_size`
targets), every tagging deskmigrate applied that no record wants any more removed. Tags on ticket history are the
history phase's own (one conversation or ticket at a time); their undo comes here too (`TAGGINGS`, `TAG_OBJECTS`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from deskmigrate.core.errors import AuthError, LoadError, RejectedError, RetriableError
from deskmigrate.core.ledger import Fact, IdMapRow, Ledger, WriteRow, tag_key
from deskmigrate.core.payload import Payload
from deskmigrate.loaders.intercom.loader import IntercomLoader, PhaseResult, body_hash, run_concurrently
from deskmigrate.loaders.intercom.persons import sibling_has
from deskmigrate.loaders.intercom.phase import Phase
from deskmigrate.loaders.intercom.undo import FactKind, FactUndo, RecordUndo, TagCalls, TagObjects, TagUndo, Undo, UndoContext

NAME = ENTITY = "tags"
CONTACTS, COMPANIES = "contacts", "companies"
TAGGED_IN_BULK = (CONTACTS, COMPANIES)


@dataclass(frozen=True)
class TagBatch:
    """Up to `tag_batch_size` records of one entity to receive one tag in a single POST /tags."""

    key: str
    name: str
    entity: str
    targets: list[tuple[str, str | None]]


def load_tags(loader: IntercomLoader, payloads: Iterable[Payload] = ()) -> PhaseResult:
    """Batches run concurrently; a tag new to Intercom is created by its first batch, so every tag's first batch goes in
    a round of its own before the rest."""
    ledger = loader.ledger
    result = PhaseResult(NAME)
    wanted = ledger.tag_names_wanted()
    ledger.start_phase(loader.run_id, NAME, None)
    existing = {tag_key(t["name"]): t for t in loader.client.list_tags().get("data", [])}
    known = {key for key in wanted if ledger.intercom_id(ENTITY, key) is not None}
    for key, name in wanted.items():
        _adopt_existing(loader, key, name, existing)
    firsts: list[TagBatch] = []
    rest: list[TagBatch] = []
    for key, name in wanted.items():
        batches = _tag_batches(loader, key, name)
        if batches and ledger.intercom_id(ENTITY, key) is None:
            # Its first batch creates it: a crash before the ledger hears back leaves this trace for rollback.
            ledger.mark_pending(loader.run_id, ENTITY, key, intent={"name": name})
            firsts.append(batches.pop(0))
        rest.extend(batches)
    workers = loader.settings.concurrency
    run_concurrently(firsts, lambda batch: _send_tag_batch(loader, batch, result), workers)
    run_concurrently(rest, lambda batch: _send_tag_batch(loader, batch, result), workers)
    for key in wanted:
        if key not in known and ledger.intercom_id(ENTITY, key) is not None:
            origin = ledger.id_row(ENTITY, key).origin  # type: ignore[union-attr]
            result.add("adopted" if origin == "adopted" else "created")
    for entity in TAGGED_IN_BULK:
        _remove_unwanted_taggings(loader, entity, result)
    ledger.finish_phase(loader.run_id, NAME)
    return result


def taggings_to_add(ledger: Ledger) -> int:
    """The phase's work: taggings of contacts and companies not applied yet."""
    return sum(len(ledger.taggings_to_add(key, entity)) for key in ledger.tag_names_wanted() for entity in TAGGED_IN_BULK)


def _adopt_existing(loader: IntercomLoader, key: str, name: str, existing: dict[str, dict[str, Any]]) -> None:
    """A tag that already exists in Intercom is adopted, without a call."""
    row = loader.ledger.id_row(ENTITY, key)
    if row is not None and row.state == "done" and row.intercom_id:
        return
    if key in existing:
        loader.ledger.record_write(
            loader.run_id, NAME, ENTITY, key, intercom_id=str(existing[key]["id"]), action="adopt", origin="adopted",
            payload_hash=body_hash({"name": name}), body={"name": name},
        )


def _tag_batches(loader: IntercomLoader, key: str, name: str) -> list[TagBatch]:
    """The taggings still to apply for one tag, in batches of `tag_batch_size`; records not in Intercom wait."""
    batches: list[TagBatch] = []
    size = loader.settings.tag_batch_size
    for entity in TAGGED_IN_BULK:
        targets = [(sid, loader.ledger.intercom_id(entity, sid)) for sid in loader.ledger.taggings_to_add(key, entity)]
        ready = [(sid, iid) for sid, iid in targets if iid]
        batches.extend(TagBatch(key, name, entity, ready[i:i + size]) for i in range(0, len(ready), size))
    return batches


def _send_tag_batch(loader: IntercomLoader, batch: TagBatch, result: PhaseResult) -> None:
    ledger, client = loader.ledger, loader.client
    ids = list(dict.fromkeys(iid for _, iid in batch.targets))  # records merged into one contact: tagged once
    source_ids = [sid for sid, _ in batch.targets]
    ledger.mark_taggings_pending(loader.run_id, batch.key, batch.entity, source_ids)
    try:
        tag = client.tag_contacts(batch.name, ids) if batch.entity == CONTACTS else client.tag_companies(batch.name, ids)
    except (RejectedError, RetriableError) as error:
        for sid in source_ids:
            loader.fail(NAME, batch.entity, sid, error)
        result.add("failed", len(source_ids))
        return
    tag_id = ledger.intercom_id(ENTITY, batch.key)
    if tag_id is None:
        tag_id = str(tag["id"])
        ledger.record_write(
            loader.run_id, NAME, ENTITY, batch.key, intercom_id=tag_id, action="create", origin="created",
            payload_hash=body_hash({"name": batch.name}), body={"name": batch.name},
        )
    ledger.record_taggings(loader.run_id, batch.key, tag_id, batch.entity, source_ids, present=True)
    for sid in source_ids:
        ledger.clear_failure(batch.entity, sid, NAME)
    result.add("taggings_added", len(source_ids))
    loader.on_progress(NAME, len(source_ids))


def _remove_unwanted_taggings(loader: IntercomLoader, entity: str, result: PhaseResult) -> None:
    ledger, client = loader.ledger, loader.client
    for key, source_id in ledger.taggings_to_remove(entity):
        tag_row = ledger.id_row(ENTITY, key)
        intercom_id = ledger.intercom_id(entity, source_id)
        if tag_row is None or not tag_row.intercom_id or intercom_id is None:
            ledger.record_taggings(loader.run_id, key, "", entity, [source_id], present=False)
            continue
        if entity == CONTACTS and sibling_has(ledger, source_id, intercom_id, lambda sid: ledger.applied_taggings(CONTACTS, sid), key):
            pass  # another record merged into this contact still wants the tag: only this record's tagging goes
        elif entity == CONTACTS:
            client.untag_contact(intercom_id, tag_row.intercom_id)
        else:
            name = (tag_row.body or {}).get("name") or key
            client.untag_companies(name, [intercom_id])
        ledger.record_taggings(loader.run_id, key, tag_row.intercom_id, entity, [source_id], present=False)
        result.add("taggings_removed")


# -- rollback: taggings, and the tags deskmigrate created ---------------------------------------------------------


def _carrier(ctx: UndoContext, entity: str) -> TagCalls:
    kind = ctx.kind(entity)
    if kind is None or kind.tags is None:
        raise LoadError(f"{entity} carry no tags deskmigrate knows how to remove")
    return kind.tags


def _current(ledger: Ledger, entity: str, source_id: str, key: str) -> Fact | None:
    return ledger.tagging(entity, source_id, key)


def _remove(ctx: UndoContext, fact: FactUndo) -> None:
    _carrier(ctx, fact.entity).untag(ctx, str(fact.record_id), str(fact.other_id), fact.key)


def _put_back(ctx: UndoContext, fact: FactUndo) -> None:
    _carrier(ctx, fact.entity).tag(ctx, str(fact.record_id), str(fact.other_id), fact.key)
    ctx.ledger.restore_tagging(fact.run_id, fact.entity, fact.source_id, fact.key)


def _drop(ledger: Ledger, fact: FactUndo) -> None:
    ledger.drop_tagging(fact.entity, fact.source_id, fact.key)


TAGGINGS = FactKind(
    name="tagging", phase=NAME, actions=("tag", "untag"), detail_key="tag", other_entity=ENTITY, other_id_key="tag_id",
    counters=("untagged", "retagged"), current=_current, remove=_remove, put_back=_put_back, drop=_drop,
)


def _plan_tags(ctx: UndoContext, run_ids: list[str], tag_writes: dict[str, list[WriteRow]], records: list[RecordUndo],
               facts: list[FactUndo]) -> list[TagUndo]:
    """A tag deskmigrate created goes unless something it did not tag carries it; one it adopted is only forgotten."""
    pending = {row.source_id: row for row in ctx.ledger.pending_rows(run_ids) if row.entity == ENTITY}
    listed: dict[str, dict[str, Any]] | None = None
    tags: list[TagUndo] = []
    for key, writes in tag_writes.items():
        writes.sort(key=lambda w: -w.seq)
        created = any(w.action == "create" for w in writes)
        row: IdMapRow | None = pending.get(key)
        name = str(((row.intent if row else None) or {}).get("name") or ctx.tag_name(key))
        tag_id = next((w.intercom_id for w in writes if w.intercom_id), None)
        if not writes and row is not None:
            if listed is None:
                listed = {tag_key(str(t["name"])): t for t in ctx.client.list_tags().get("data", [])}
            found = listed.get(key)
            if found is None:
                tags.append(TagUndo(key, None, name, [], NAME, row, action="forget"))
                continue
            tag_id, created = str(found["id"]), True
            ctx.count("pending_found")
        undo = TagUndo(key, tag_id, name, writes, NAME, row, action="delete" if created else "forget")
        if created and tag_id:
            undo.carriers = _other_carriers(ctx, records, facts, key, tag_id)
            if undo.carriers:
                undo.action = "keep"
        tags.append(undo)
    deleted = {t.key for t in tags if t.action == "delete"}
    for fact in facts:
        if fact.kind == TAGGINGS.name and fact.key in deleted and fact.action in ("remove", "put_back"):
            fact.action = "with_tag"  # deleting the tag removes every tagging of it at once
    return tags


def _other_carriers(ctx: UndoContext, records: list[RecordUndo], facts: list[FactUndo], key: str, tag_id: str) -> dict[str, int]:
    """What carries the tag besides the taggings this rollback removes (and records it deletes): kinds → how many."""
    leaving: dict[str, set[str]] = {}
    for fact in facts:
        if fact.kind == TAGGINGS.name and fact.key == key and fact.action in ("remove", "with_record") and fact.record_id:
            leaving.setdefault(fact.entity, set()).add(fact.record_id)
    deleting = {(r.entity, r.source_id): r.intercom_id for r in records if r.action == "delete"}
    for tagging in ctx.ledger.taggings_with(key):
        intercom_id = deleting.get((tagging.entity, tagging.source_id))
        if intercom_id:
            leaving.setdefault(tagging.entity, set()).add(intercom_id)
    others: dict[str, int] = {}
    for kind in ctx.carriers():
        assert kind.tags is not None
        try:
            tagged = kind.tags.tagged(ctx.client, tag_id)
        except AuthError:
            raise
        if tagged is None:
            continue
        total, ids = tagged
        ours = leaving.get(kind.entity, set())
        count = max(len(ids - ours), total - len(ours))
        if count > 0:
            others[kind.entity] = count
    return others


def _apply_tag(ctx: UndoContext, tag: TagUndo) -> None:
    if tag.action == "delete" and tag.tag_id:
        ctx.ignore_missing(lambda: ctx.client.delete_tag(str(tag.tag_id)))
        ctx.count_in("deleted", ENTITY)
    ctx.ledger.forget(ENTITY, tag.key)
    outcome = {"delete": "deleted", "keep": "kept_shared", "forget": "forgotten"}[tag.action]
    ctx.log_undo(NAME, ENTITY, tag.key, tag.tag_id, tag.action, outcome, tag.writes, {"still_on": tag.carriers} if tag.carriers else None)


TAG_OBJECTS = TagObjects(ENTITY, NAME, plan=_plan_tags, apply=_apply_tag)

TAGS = Phase(
    NAME, None, None, load_tags,
    requires=("companies", "contacts"),
    undo=Undo(facts=(TAGGINGS,), tags=TAG_OBJECTS),
    work=taggings_to_add,
)
