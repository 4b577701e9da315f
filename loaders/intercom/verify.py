"""The verify contract: what a phase declares so that `validate` can read its records back (`Verifier`), and the
comparisons its checks share. The validate engine (validate.py) runs them over the registered phases without naming any.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from deskmigrate.core.ledger import IdMapRow, Ledger
from deskmigrate.loaders.intercom.client import IntercomClient

T = TypeVar("T")
# The id-map entity of the tags phase's objects: what a record's applied taggings name.
TAGS = "tags"


@dataclass(frozen=True)
class Mismatch:
    entity: str
    source_id: str
    intercom_id: str | None
    field: str
    expected: Any
    actual: Any


class VerifyContext:
    """What a check gets: the client and ledger, where a mismatch goes, and values computed once per validation."""

    def __init__(self, client: IntercomClient, ledger: Ledger) -> None:
        self.client = client
        self.ledger = ledger
        self.mismatches: list[Mismatch] = []
        self._lock = threading.Lock()
        self._memo: dict[str, Any] = {}
        self._memo_lock = threading.Lock()

    def add(self, entity: str, row: IdMapRow, field: str, expected: Any, actual: Any) -> None:
        with self._lock:
            self.mismatches.append(Mismatch(entity, row.source_id, row.intercom_id, field, expected, actual))

    def once(self, name: str, compute: Callable[[], T]) -> T:
        """A value computed the first time a check asks for it (labels, tag ids), shared by every later check."""
        with self._memo_lock:
            if name not in self._memo:
                self._memo[name] = compute()
            return self._memo[name]  # type: ignore[no-any-return]


@dataclass(frozen=True)
class ListedPage:
    """One page of a list or scroll endpoint: its objects, and how many the whole list holds when the endpoint says."""

    items: list[dict[str, Any]]
    total: int | None = None


def as_read(client: IntercomClient, remote: dict[str, Any]) -> dict[str, Any]:
    return remote


@dataclass(frozen=True)
class Verifier:
    """How `validate` checks one kind of record a phase wrote: which rows, how each is read, what is compared.

    `listing` reads every object of the kind a page at a time (list or scroll endpoints), instead of one read per record;
    `complete` fills in what an object as listed or read leaves out (a contact embeds its first 10 companies and tags)."""

    entity: str
    read: Callable[[IntercomClient, str], dict[str, Any]]
    check: Callable[[VerifyContext, IdMapRow, dict[str, Any]], None]
    rows: Callable[[Ledger, str], Iterable[IdMapRow]] = lambda ledger, entity: (r for r in ledger.iter_id_rows(entity) if r.state == "done")
    listing: Callable[[IntercomClient], Iterator[ListedPage]] | None = None
    complete: Callable[[IntercomClient, dict[str, Any]], dict[str, Any]] = as_read


def tag_ids(ctx: VerifyContext) -> dict[str, str | None]:
    """Tag key → Intercom tag id, for every tag the ledger holds as written."""
    return ctx.once("tag_ids", lambda: {row.source_id: row.intercom_id for row in ctx.ledger.iter_id_rows(TAGS) if row.state == "done"})


def tag_labels(ctx: VerifyContext) -> dict[str, str]:
    """Tag id → its name: mismatches name tags as people know them, not by Intercom ids nobody recognises."""
    return ctx.once("tag_labels", lambda: {row.intercom_id: str((row.body or {}).get("name") or row.source_id)
                                           for row in ctx.ledger.iter_id_rows(TAGS) if row.state == "done" and row.intercom_id})


def compare_tags(ctx: VerifyContext, entity: str, row: IdMapRow, remote: dict[str, Any], tags_of: str | None = None,
                 labelled: bool = True) -> None:
    """Every tag the ledger applied to the record (`tags_of`: the source id its taggings are kept under) is on it."""
    ids = tag_ids(ctx)
    expected = {ids.get(key) for key in ctx.ledger.applied_taggings(entity, tags_of or row.source_id)} - {None}
    actual = {str(t.get("id")) for t in list_data(remote.get("tags"))}
    if not expected <= actual:
        if labelled:
            ctx.add(entity, row, "tags", labels_of(expected, tag_labels(ctx)), labels_of(actual, tag_labels(ctx)))
        else:
            ctx.add(entity, row, "tags", sorted(e for e in expected if e), sorted(actual))


def compare_body(ctx: VerifyContext, entity: str, row: IdMapRow, remote: dict[str, Any]) -> None:
    """Every field the ledger says was written holds that value (custom attributes one by one, emails in any case)."""
    for key, expected in (row.body or {}).items():
        if key == "custom_attributes":
            actual_attributes = remote.get("custom_attributes") or {}
            for name, value in (expected or {}).items():
                if actual_attributes.get(name) != value:
                    ctx.add(entity, row, f"custom_attributes.{name}", value, actual_attributes.get(name))
        elif key in ("email",) and isinstance(expected, str):
            if str(remote.get(key) or "").lower() != expected.lower():
                ctx.add(entity, row, key, expected, remote.get(key))
        elif key in remote and _comparable(remote.get(key), expected) != expected:
            ctx.add(entity, row, key, expected, remote.get(key))


def labels_of(intercom_ids: Iterable[str | None], labels: dict[str, str]) -> list[str]:
    """Intercom ids as the user knows them (source id, tag name); an id the ledger does not know stays as it is."""
    return sorted(labels.get(i, i) for i in intercom_ids if i)


def _comparable(remote: Any, expected: Any) -> Any:
    """Intercom returns some written strings as objects, e.g. a company's plan as {type: plan, id, name}."""
    if isinstance(remote, dict) and not isinstance(expected, dict):
        return remote.get("name")
    return remote


def list_data(value: Any) -> list[dict[str, Any]]:
    """Intercom nests related objects as list objects ({type: list, data: [...]}) or, for companies' tags, {tags: [...]}."""
    if isinstance(value, dict):
        for key in ("data", "tags", "companies"):
            if isinstance(value.get(key), list):
                return value[key]
        return []
    return value if isinstance(value, list) else []
