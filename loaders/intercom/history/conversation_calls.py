"""Ticket history as Intercom conversations: each ticket → a conversation started by its requester (plain text, the
original `created_at`), replies and notes (`created_at` each, `skip_notifications`), then at most one call each for
assignment, attributes and state (the close last), plus one per tag added or removed. Conversation attributes the
workspace lacks (2.15, preflight found them missing) are kept as `name:value` tags."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from deskmigrate.core.payload import Payload
from deskmigrate.loaders.intercom.history.common import ENTITY, ThreadOptions, prepared, wanted_assignee
from deskmigrate.loaders.intercom.history.steps import Step, stamped
from deskmigrate.loaders.intercom.loader import IntercomLoader, PhaseResult


class ConversationCalls:
    """The conversation calls a `HistoryLoader` is composed with."""

    entity = ENTITY

    def __init__(self, loader: IntercomLoader) -> None:
        self.loader = loader
        self.client = loader.client

    def attributes_as_tags(self, payload: Payload) -> dict[str, Any]:
        """The payload's conversation attributes the workspace lacks (preflight found them missing on 2.15): kept as tags."""
        present = prepared(self.loader).conversation_attributes
        if present is None:
            return {}
        values = payload.body.get("custom_attributes") or {}
        return {name: value for name, value in values.items() if name not in present and value is not None}

    def start_body(self, payload: Payload, step: Step, contact_id: str, text: str) -> dict[str, Any]:
        return stamped({"from": {"type": "user", "id": contact_id}, "body": text}, step)

    def create(self, body: dict[str, Any]) -> str:
        return str(self.client.create_conversation(body)["conversation_id"])

    def search_started(self, contact_id: str, created_at: int) -> list[dict[str, Any]]:
        query = {"operator": "AND", "value": [{"field": "contact_ids", "operator": "=", "value": contact_id},
                                              {"field": "created_at", "operator": "=", "value": created_at}]}
        return self.client.search_conversations(query)

    def reply_body(self, body: dict[str, Any]) -> dict[str, Any]:
        return body

    def send_reply(self, thread_id: str, body: dict[str, Any]) -> str | None:
        conversation = self.client.reply_to_conversation(thread_id, body)
        parts = (conversation.get("conversation_parts") or {}).get("conversation_parts") or []
        return str(parts[-1]["id"]) if parts else None

    def remote_parts(self, thread_id: str) -> list[dict[str, Any]]:
        return (self.client.get_conversation(thread_id).get("conversation_parts") or {}).get("conversation_parts") or []

    def tag(self, thread_id: str, tag_id: str, admin_id: str) -> None:
        self.client.tag_conversation(thread_id, tag_id, admin_id)

    def untag(self, thread_id: str, tag_id: str, admin_id: str) -> None:
        self.client.untag_conversation(thread_id, tag_id, admin_id)

    def settle(self, payload: Payload, threads: dict[int, str], applied: dict[str, Any], user_replied: bool,
               tag_all: Callable[[str | None], None], result: PhaseResult) -> dict[str, Any]:
        """At most one call each for assignee, attributes and state, plus one per tag added or removed; returns what now holds."""
        ledger, run_id = self.loader.ledger, self.loader.run_id
        now_applied = dict(applied)
        last = max(threads)
        admin_id = self.loader.admin_for_agent(None)
        assignee = wanted_assignee(self.loader, payload)
        if assignee and assignee != applied.get("admin_assignee_id"):
            self.client.manage_conversation(threads[last], {"message_type": "assignment", "type": "admin",
                                                            "admin_id": admin_id, "assignee_id": assignee})
            now_applied["admin_assignee_id"] = assignee
        update = {key: payload.body[key] for key in ("title", "custom_attributes") if key in payload.body}
        as_tags = self.attributes_as_tags(payload)
        if as_tags:
            kept = {k: v for k, v in update["custom_attributes"].items() if k not in as_tags}
            update = {k: v for k, v in update.items() if k != "custom_attributes"} | ({"custom_attributes": kept} if kept else {})
            ledger.record_notice(run_id, ENTITY, payload.source_id, "attributes_as_tags",
                                 f"conversation attributes missing in Intercom, kept as tags: {', '.join(sorted(as_tags))}")
            result.add("tickets_attributes_as_tags")
        now_applied["attributes_as_tags"] = sorted(as_tags)
        if update and any(update[key] != applied.get(key) for key in update):
            for conversation_id in threads.values():
                self.client.update_conversation(conversation_id, update)
            now_applied.update(update)
        tag_all(admin_id)
        now_applied["state"] = self._set_state(payload, threads, applied, user_replied, admin_id)
        return now_applied

    def _set_state(self, payload: Payload, threads: dict[int, str], applied: dict[str, Any], user_replied: bool,
                   admin_id: str | None) -> str:
        """Earlier conversations of a continued ticket end closed; the last takes the ticket's state, the close as its last part."""
        wanted = str(payload.body.get("state") or "open")
        last = max(threads)
        for thread, conversation_id in threads.items():
            if thread != last and applied.get("state") is None:
                self.client.manage_conversation(conversation_id, {"message_type": "close", "type": "admin", "admin_id": admin_id})
        current = "open" if user_replied or not applied.get("state") else str(applied["state"])
        if wanted == current:
            return wanted
        conversation_id = threads[last]
        if wanted == "closed":
            self.client.manage_conversation(conversation_id, {"message_type": "close", "type": "admin", "admin_id": admin_id})
        elif wanted == "snoozed":
            days = ThreadOptions.from_refs(payload.refs).snooze_days
            until = int(time.time()) + days * 86400
            self.client.manage_conversation(conversation_id, {"message_type": "snoozed", "admin_id": admin_id, "snoozed_until": until})
        else:
            self.client.manage_conversation(conversation_id, {"message_type": "open", "admin_id": admin_id})
        return wanted
