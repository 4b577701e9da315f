"""What a pre-existing Intercom record already carries (its tags and company links), read from the object in hand.

A contact object embeds at most 10 tags (ids only) and 10 companies, with `has_more` when it has more
(2.15 spec, `contact_tags` and `contact_companies`): only then are the full lists fetched. A company object
lists all its tags, with their names (`company.tags.tags`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from deskmigrate.core.ledger import tag_key
from deskmigrate.loaders.intercom.client import IntercomClient


def _embedded(value: Any) -> tuple[list[dict[str, Any]], bool]:
    """Items of an embedded list (`{data: [...], has_more}` on contacts, `{tags: [...]}` on companies) and whether it is cut short."""
    if not isinstance(value, dict):
        return [], False
    for key in ("data", "tags"):
        if isinstance(value.get(key), list):
            items = [item for item in value[key] if isinstance(item, dict)]
            total = value.get("total_count")
            cut = bool(value.get("has_more")) or (isinstance(total, int) and total > len(items))
            return items, cut
    return [], False


class TagNames:
    """Tag id → tag key, from one `GET /tags` per run, read again when a tag id is not in it (a tag made since)."""

    def __init__(self, client: IntercomClient) -> None:
        self.client = client
        self._keys: dict[str, str] | None = None
        self._unknown: set[str] = set()  # ids still missing after a fresh read: not read again for them
        self._lock = threading.Lock()

    def key_of(self, tag_id: str) -> str | None:
        with self._lock:
            if self._keys is None or (tag_id not in self._keys and tag_id not in self._unknown):
                self._keys = {str(t["id"]): tag_key(str(t["name"])) for t in self.client.list_tags().get("data", [])}
                if tag_id not in self._keys:
                    self._unknown.add(tag_id)
            return self._keys.get(tag_id)

    def learn(self, tags: Iterable[dict[str, Any]]) -> None:
        with self._lock:
            if self._keys is None:
                self._keys = {}
            for tag in tags:
                if tag.get("id") is not None and tag.get("name"):
                    self._keys[str(tag["id"])] = tag_key(str(tag["name"]))


def contact_tag_keys(client: IntercomClient, contact: dict[str, Any], names: TagNames) -> set[str]:
    """The keys of every tag the contact carries."""
    items, cut = _embedded(contact.get("tags"))
    if cut:
        items = client.list_contact_tags(str(contact["id"]))
        names.learn(items)
    keys = set()
    for item in items:
        key = tag_key(str(item["name"])) if item.get("name") else names.key_of(str(item.get("id")))
        if key:
            keys.add(key)
    return keys


def contact_company_ids(client: IntercomClient, contact: dict[str, Any]) -> set[str]:
    """The Intercom ids of every company the contact is attached to."""
    items, cut = _embedded(contact.get("companies"))
    if cut:
        items = list(client.iter_contact_companies(str(contact["id"])))
    return {str(item["id"]) for item in items if item.get("id") is not None}


def company_tag_keys(company: dict[str, Any]) -> set[str]:
    items, _ = _embedded(company.get("tags"))
    return {tag_key(str(item["name"])) for item in items if item.get("name")}


def tag_ids_of(record: dict[str, Any]) -> set[str]:
    """The tag ids an object embeds (a contact's first 10, a company's, a conversation's or ticket's)."""
    items, _ = _embedded(record.get("tags"))
    return {str(item["id"]) for item in items if item.get("id") is not None}
