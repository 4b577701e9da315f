"""Phase `collections`: the source's categories and sections → Help Center collections, nested at most three levels.

Parents before children, siblings in source order, one at a time (Intercom orders collections by creation). The
mapping may merge a collection into another or skip it (its articles stay behind); both are recorded as mappings only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from deskmigrate.core.errors import ConfigError, LoadError, Problem
from deskmigrate.core.ledger import IdMapRow
from deskmigrate.core.model import Collection
from deskmigrate.core.payload import Payload
from deskmigrate.loaders.intercom.help_center.locales import enabled_locales, intercom_locale
from deskmigrate.loaders.intercom.help_center.objects import (
    HELP_CENTER_ID,
    HelpCenterObject,
    object_kind,
    sendable,
    undo_kind,
    verifier,
    without_urls,
)
from deskmigrate.loaders.intercom.help_center.report import HelpCenterReport, report_of, settings_of
from deskmigrate.loaders.intercom.loader import IntercomLoader, PhaseResult, body_hash
from deskmigrate.loaders.intercom.phase import Phase
from deskmigrate.loaders.intercom.undo import Undo
from deskmigrate.loaders.intercom.write import write_object

NAME = ENTITY = "collections"
MAX_DEPTH = 3


def _update_body(body: dict[str, Any]) -> dict[str, Any]:
    update = {key: value for key, value in body.items() if key != HELP_CENTER_ID}
    update.setdefault("parent_id", None)
    return update


KIND = HelpCenterObject(
    ENTITY, "/help_center/collections", "name", create=lambda client: client.create_collection,
    update=lambda client: client.update_collection, read=lambda client, intercom_id: client.get_collection(intercom_id),
    delete=lambda client, intercom_id: client.delete_collection(intercom_id), update_body=_update_body,
)


@dataclass
class CollectionNode:
    payload: Payload
    record: Collection
    order: int
    parent: str | None = None
    depth: int = 1


def choose_help_center(loader: IntercomLoader) -> str:
    """The configured help center (by id, identifier or display name), else the workspace's first."""
    wanted = settings_of(loader).help_center
    centers = loader.client.list_help_centers()
    if not centers:
        raise LoadError("the workspace has no Help Center")
    if wanted is None:
        return str(centers[0]["id"])
    for center in centers:
        if wanted.lower() in {str(center.get(key) or "").lower() for key in ("id", "identifier", "display_name")}:
            return str(center["id"])
    names = ", ".join(f"{c['id']} ({c.get('identifier')})" for c in centers)
    raise ConfigError([Problem(path="load.help_center.help_center", message=f"no help center {wanted!r} in this workspace; it has {names}")])


def load_collections(loader: IntercomLoader, payloads: Iterable[Payload]) -> PhaseResult:
    """Create parents before children, siblings in source order, sequentially (Intercom orders collections by creation)."""
    result = PhaseResult(NAME)
    report = report_of(loader)
    nodes = _collection_nodes(loader, payloads)
    loader.ledger.start_phase(loader.run_id, NAME, len(nodes))
    help_center_id = report.help_center_id = choose_help_center(loader)
    for node in _in_creation_order(nodes, report):
        try:
            _load_collection(loader, node, nodes, help_center_id, result)
        except LoadError as error:
            loader.fail(NAME, ENTITY, node.record.source_id, error)
            result.add("failed")
        finally:
            loader.on_progress(NAME, 1)
    loader.finish_phase(NAME, result)
    return result


def _collection_nodes(loader: IntercomLoader, payloads: Iterable[Payload]) -> dict[str, CollectionNode]:
    nodes: dict[str, CollectionNode] = {}
    for index, payload in enumerate(payloads):
        record = loader.ledger.staged_record(ENTITY, payload.source_id)
        if isinstance(record, Collection):
            nodes[payload.source_id] = CollectionNode(payload, record, index, record.parent_id)
    return nodes


def _in_creation_order(nodes: dict[str, CollectionNode], report: HelpCenterReport) -> list[CollectionNode]:
    """Breadth first from the roots, siblings by source position; deeper than three levels moves up to the third."""
    children: dict[str | None, list[CollectionNode]] = {}
    for node in nodes.values():
        parent = node.parent if node.parent in nodes else None
        children.setdefault(parent, []).append(node)
    ordered: list[CollectionNode] = []
    level = sorted(children.get(None, []), key=_sibling_order)
    depth = 1
    while level:
        next_level: list[CollectionNode] = []
        for node in level:
            node.depth = depth
            ordered.append(node)
            next_level.extend(sorted(children.get(node.record.source_id, []), key=_sibling_order))
        level, depth = next_level, depth + 1
    for node in ordered:
        if node.depth > MAX_DEPTH:
            third = node
            while third.depth > MAX_DEPTH - 1:
                third = nodes[str(third.parent)]
            report.add_collection_line(
                f"{node.record.source_id} {node.record.name!r} was at level {node.depth}: placed at level {MAX_DEPTH} "
                f"under {third.record.name!r} (Intercom nests collections {MAX_DEPTH} deep)"
            )
            node.parent = third.record.source_id
    return ordered


def _sibling_order(node: CollectionNode) -> tuple[int, int]:
    return (node.record.position if node.record.position is not None else 1 << 30, node.order)


def _load_collection(loader: IntercomLoader, node: CollectionNode, nodes: dict[str, CollectionNode], help_center_id: str,
                     result: PhaseResult) -> None:
    payload, source_id = node.payload, node.record.source_id
    digest = body_hash(payload.body)
    if payload.body.get("skip"):
        return _record_alias(loader, source_id, "", "skip", digest, payload.body, result, f"{source_id} {node.record.name!r} skipped by the mapping")
    merge_into = payload.body.get("merge_into")
    if merge_into:
        target = loader.ledger.id_row(ENTITY, str(merge_into))
        if target is None or target.state != "done" or not target.intercom_id:
            raise LoadError(f"merge target collection {merge_into!r} is not in Intercom (not in the source, skipped, or failed)")
        return _record_alias(loader, source_id, target.intercom_id, "merge", digest, payload.body, result,
                             f"{source_id} {node.record.name!r} merged into {merge_into}")
    parent_id = _parent_collection_id(loader, node)
    if parent_id is None and node.parent is not None and node.parent in nodes:
        return _record_alias(loader, source_id, "", "skip", digest, payload.body, result,
                             f"{source_id} {node.record.name!r} skipped with its parent {node.parent}")
    body = sendable(payload.body) | {HELP_CENTER_ID: int(help_center_id) if help_center_id.isdigit() else help_center_id}
    if parent_id:
        body["parent_id"] = parent_id
    languages = _collection_languages(loader, node.record, body)
    body = {key: value for key, value in body.items() if key not in ("name", "description")} | languages
    _write_collection(loader, source_id, body, digest, result)


def _collection_languages(loader: IntercomLoader, record: Collection, body: dict[str, Any]) -> dict[str, Any]:
    """Name and description in the default language, and `translated_content` with the other languages the Help Center has.

    A collection named in another language takes its default-language translation as name, as articles do.
    """
    settings = settings_of(loader)
    default = intercom_locale(settings.default_locale) or "en"
    enabled = enabled_locales(settings)
    own = intercom_locale(record.locale) if record.locale else default
    versions = [(t.locale, intercom_locale(t.locale), {"name": t.name, "description": t.description}) for t in record.translations]
    main: dict[str, Any] = {"name": body["name"], "description": body.get("description")}
    label = f"{record.source_id} {record.name!r}"
    if own != default:
        swap = next((version for version in versions if version[1] == default), None)
        if swap is None:
            report_of(loader).add_collection_line(f"{label} is named in {record.locale} with no {default} name: its {record.locale} name is used")
        else:
            versions = [(str(record.locale), own, main), *(version for version in versions if version is not swap)]
            main = swap[2]
    translated: dict[str, Any] = {}
    left_out: list[str] = []
    for source_locale, locale, content in versions:
        if locale is None or locale not in enabled or locale in translated or locale == default:
            left_out.append(f"{source_locale} ({'Intercom has no such language' if locale is None else 'not enabled' if locale not in enabled else 'a second name in ' + locale})")
            continue
        translated[locale] = {"type": "group_content", "name": content["name"], **({"description": content["description"]} if content["description"] else {})}
    if left_out:
        report_of(loader).add_collection_line(f"{label}: names not imported: {', '.join(left_out)}")
    found: dict[str, Any] = {"name": main["name"]}
    if main.get("description"):
        found["description"] = main["description"]
    if translated:
        found["translated_content"] = translated
    return found


def _parent_collection_id(loader: IntercomLoader, node: CollectionNode) -> str | None:
    if node.parent is None:
        return None
    row = loader.ledger.id_row(ENTITY, node.parent)
    if row is None or row.state != "done":
        if loader.ledger.staged_record(ENTITY, node.parent) is None:
            return None  # the parent is not in the source: a top-level collection
        raise LoadError(f"parent collection {node.parent} is not in Intercom (it failed to load)")
    return row.intercom_id or None


def _record_alias(loader: IntercomLoader, source_id: str, intercom_id: str, action: str, digest: str, body: dict[str, Any],
                  result: PhaseResult, line: str) -> None:
    """A merged collection stands for its target; a skipped one for nothing (its articles stay behind)."""
    report_of(loader).add_collection_line(line)
    row = loader.ledger.id_row(ENTITY, source_id)
    if row is not None and row.state == "done" and row.payload_hash == digest and row.intercom_id == intercom_id:
        result.add("unchanged")
        return
    if row is not None and row.origin == "created" and row.intercom_id:
        loader.client.delete_collection(row.intercom_id)
    loader.ledger.record_write(loader.run_id, NAME, ENTITY, source_id, intercom_id=intercom_id, action=action,
                               origin="merged" if action == "merge" else "skipped", payload_hash=digest, body=body)
    result.add("merged" if action == "merge" else "skipped")


def _write_collection(loader: IntercomLoader, source_id: str, body: dict[str, Any], digest: str, result: PhaseResult) -> None:
    """Written through the one write sequence; a record merged or skipped until now gets its own collection."""

    def unchanged(row: IdMapRow, digest: str, build: Any) -> bool:
        return _created(row) and row.payload_hash == digest and without_urls(row.body) == build()

    kind = object_kind(loader, KIND, unchanged=unchanged, updatable=_created)
    result.add(write_object(loader, kind, source_id, digest, lambda: body))


def _created(row: IdMapRow) -> bool:
    return row.origin == "created" and bool(row.intercom_id)


COLLECTIONS = Phase(
    NAME, ENTITY, "collection", load_collections,
    undo=Undo(records=(undo_kind(KIND, NAME, mapping_only=frozenset({"merge", "skip"}), one_at_a_time=True),)),
    verify=(verifier(KIND, parent_required=True),),
)
