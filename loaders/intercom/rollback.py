"""Rollback: undo what runs wrote, newest first, in reverse phase order — delete what they created, restore what they changed."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from deskmigrate.core.errors import LoadError, RejectedError
from deskmigrate.core.state import Ledger, WriteRow
from deskmigrate.loaders.intercom.client import IntercomClient
from deskmigrate.loaders.intercom.phases import phase_order

log = logging.getLogger(__name__)

IDENTIFIERS = ("external_id", "email", "role")
# Help center objects we updated go back to the body we sent before (we never touch ones we did not create).
HELP_CENTER_RESTORERS = {"articles": "update_article", "collections": "update_collection"}
# Ticket history tags are applied one conversation or ticket at a time: (tag method, untag method) of the client.
THREAD_TAGGERS = {"conversations": ("tag_conversation", "untag_conversation"), "tickets": ("tag_ticket", "untag_ticket")}


def _help_center_before(before: dict[str, Any] | None) -> dict[str, Any]:
    return {key: value for key, value in (before or {}).items() if key not in ("_intercom", "help_center_id")}


@dataclass
class RollbackReport:
    deleted: dict[str, int] = field(default_factory=dict)
    restored: dict[str, int] = field(default_factory=dict)
    untagged: int = 0
    unlinked: int = 0
    relinked: int = 0
    archived_attributes: list[str] = field(default_factory=list)
    kept_identifiers: int = 0
    already_gone: int = 0
    errors: list[str] = field(default_factory=list)

    def count(self, bucket: dict[str, int], entity: str) -> None:
        bucket[entity] = bucket.get(entity, 0) + 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "deleted": self.deleted, "restored": self.restored, "untagged": self.untagged, "unlinked": self.unlinked,
            "relinked": self.relinked, "archived_attributes": self.archived_attributes,
            "kept_identifiers": self.kept_identifiers, "already_gone": self.already_gone,
            "errors": self.errors,
        }


class Rollback:
    """Undo the writes of the given runs. Pre-existing (adopted) records are restored, never deleted."""

    def __init__(self, client: IntercomClient, ledger: Ledger) -> None:
        self.client = client
        self.ledger = ledger
        self.report = RollbackReport()
        self._admin: str | None = None
        # How to undo a create per entity; a phase that creates a new kind of object adds its delete here.
        self.deleters: dict[str, Callable[[str], Any]] = {
            "contacts": client.delete_contact,
            "companies": client.delete_company,
            "articles": client.delete_article,  # articles before collections: a later phase is undone first
            "collections": client.delete_collection,  # children first: they were created after their parents
            "conversations": client.delete_conversation,
            "tickets": client.delete_ticket,  # ticket history with conversation_options.target: tickets
            "leads": client.delete_contact,  # contacts created to start a ticket whose requester was not migrated
            "teammates": client.delete_contact,  # contacts created for teammates who requested tickets
        }

    def conflicts(self, run_ids: list[str]) -> list[str]:
        """Later runs that changed records these runs wrote: they must be rolled back first."""
        return self.ledger.later_writers(run_ids)

    def run(self, run_ids: list[str]) -> RollbackReport:
        writes = [w for run_id in run_ids for w in self.ledger.writes(run_id)]
        order = phase_order()
        writes.sort(key=lambda w: (-order.index(w.phase) if w.phase in order else 0, -w.seq))
        deleted_tags = {w.intercom_id for w in writes if w.entity == "tags" and w.action == "create"}
        deleted_records = {(w.entity, w.source_id) for w in writes if w.action == "create" and w.entity in self.deleters}
        for write in writes:
            try:
                self._undo(write, deleted_tags, deleted_records)
            except LoadError as error:
                self.report.errors.append(f"{write.entity} {write.source_id} ({write.action}): {error}")
                log.warning("rollback of %s %s failed: %s", write.entity, write.source_id, error)
                continue
            self.ledger.mark_undone([write.seq])
        return self.report

    def _undo(self, write: WriteRow, deleted_tags: set[str | None], deleted_records: set[tuple[str, str]]) -> None:
        detail = write.detail or {}
        if write.action == "tag":
            if detail.get("tag_id") not in deleted_tags and (write.entity, write.source_id) not in deleted_records and write.intercom_id:
                self._untag(write.entity, write.intercom_id, str(detail.get("tag_id")), detail.get("tag", ""))
                self.report.untagged += 1
            self.ledger.record_taggings(write.run_id, detail.get("tag", ""), str(detail.get("tag_id")), write.entity,
                                        [write.source_id], present=False)
        elif write.action == "untag":
            if write.intercom_id and detail.get("tag_id"):
                self._retag(write.entity, write.intercom_id, detail.get("tag", ""))
                if write.entity in THREAD_TAGGERS:
                    self.ledger.record_taggings(write.run_id, detail.get("tag", ""), str(detail["tag_id"]), write.entity,
                                                [write.source_id], present=True)
        elif write.entity == "tags" and write.action == "create":
            self._ignore_missing(lambda: self.client.delete_tag(str(write.intercom_id)))
            self.ledger.forget("tags", write.source_id)
            self.report.count(self.report.deleted, "tags")
        elif write.entity == "tags" and write.action == "adopt":
            self.ledger.forget("tags", write.source_id)
        elif write.action == "link":
            if (write.entity, write.source_id) not in deleted_records and write.intercom_id:
                self._ignore_missing(lambda: self.client.detach_company(str(write.intercom_id), str(detail["company_intercom_id"])))
                self.report.unlinked += 1
            self.ledger.set_link(write.run_id, write.source_id, detail["company_source_id"], present=False,
                                 contact_intercom_id=write.intercom_id or "", company_intercom_id=detail["company_intercom_id"])
        elif write.action == "unlink":
            if write.intercom_id and detail.get("company_intercom_id"):
                self.client.attach_company(write.intercom_id, detail["company_intercom_id"])
                self.ledger.set_link(write.run_id, write.source_id, detail["company_source_id"], present=True,
                                     contact_intercom_id=write.intercom_id, company_intercom_id=detail["company_intercom_id"])
                self.report.relinked += 1
        elif write.action == "create" and write.entity in self.deleters:
            delete = self.deleters[write.entity]
            self._ignore_missing(lambda: delete(str(write.intercom_id)))
            self.ledger.forget(write.entity, write.source_id)
            self.report.count(self.report.deleted, write.entity)
        elif write.action in ("adopt", "update") and write.entity in ("contacts", "companies"):
            self._restore(write)
            if write.action == "adopt":
                self.ledger.forget(write.entity, write.source_id)
            else:
                self.ledger.invalidate(write.entity, write.source_id)
            self.report.count(self.report.restored, write.entity)
        elif write.entity in HELP_CENTER_RESTORERS and write.action == "update":
            restore = getattr(self.client, HELP_CENTER_RESTORERS[write.entity])
            self._ignore_missing(lambda: restore(str(write.intercom_id), _help_center_before(write.before)))
            self.ledger.invalidate(write.entity, write.source_id)
            self.report.count(self.report.restored, write.entity)
        elif write.entity == "collections" and write.action in ("merge", "skip"):
            self.ledger.forget(write.entity, write.source_id)
        elif (write.entity, write.action) in (("contacts", "merge"), ("teammates", "adopt")):
            # Only a mapping to a contact another record (or the workspace) owns: nothing was written to undo.
            self.ledger.forget(write.entity, write.source_id)
        elif write.entity == "ticket_types" and write.action == "create":
            # Intercom cannot delete a ticket type either (2.15): it is archived, and its attributes with it.
            self._ignore_missing(lambda: self.client.archive_ticket_type(str(write.intercom_id)))
            self.report.archived_attributes.append(f"ticket type {write.source_id}")
        elif write.entity == "data_attributes" and write.action == "create":
            # Intercom cannot delete a data attribute; archiving is the closest undo.
            self._ignore_missing(
                lambda: self.client.request("PUT", f"/data_attributes/{write.intercom_id}", json={"archived": True})
            )
            self.report.archived_attributes.append(write.source_id)

    def _restore(self, write: WriteRow) -> None:
        before = dict(write.before or {})
        if write.entity == "contacts":
            # An identifier the contact did not have before cannot be cleared (Intercom refuses a null
            # external_id or email); it stays, and the report says so.
            unclearable = [k for k in IDENTIFIERS if k in before and before[k] is None]
            for key in unclearable:
                del before[key]
            if unclearable:
                self.report.kept_identifiers += 1
            self.client.update_contact(str(write.intercom_id), before)
        else:
            # company_id identifies the company and cannot change; everything else goes back.
            before.pop("company_id", None)
            self.client.update_company(str(write.intercom_id), before)

    def _admin_id(self) -> str:
        """Conversation and ticket tag calls name an admin: the token's owner."""
        if self._admin is None:
            self._admin = str(self.client.me()["id"])
        return self._admin

    def _untag(self, entity: str, intercom_id: str, tag_id: str, tag_key: str) -> None:
        if entity in THREAD_TAGGERS:
            untag = getattr(self.client, THREAD_TAGGERS[entity][1])
            self._ignore_missing(lambda: untag(intercom_id, tag_id, self._admin_id()))
        elif entity == "contacts":
            self._ignore_missing(lambda: self.client.untag_contact(intercom_id, tag_id))
        else:
            tag_row = self.ledger.id_row("tags", tag_key)
            name = (tag_row.body or {}).get("name") if tag_row and tag_row.body else tag_key
            self._ignore_missing(lambda: self.client.untag_companies(str(name), [intercom_id]))

    def _retag(self, entity: str, intercom_id: str, tag_key: str) -> None:
        tag_row = self.ledger.id_row("tags", tag_key)
        name = (tag_row.body or {}).get("name") if tag_row and tag_row.body else tag_key
        if entity in THREAD_TAGGERS:
            if tag_row is not None and tag_row.intercom_id:
                getattr(self.client, THREAD_TAGGERS[entity][0])(intercom_id, tag_row.intercom_id, self._admin_id())
        elif entity == "contacts":
            self.client.tag_contacts(str(name), [intercom_id])
        else:
            self.client.tag_companies(str(name), [intercom_id])

    def _ignore_missing(self, call: Any) -> None:
        try:
            call()
        except RejectedError as error:
            if error.status != 404:
                raise
            self.report.already_gone += 1
