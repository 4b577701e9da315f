"""What the end-to-end tests share: a project folder whose config reads a source into the local sandbox, and the CLI on it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Generic, TypeVar

import yaml
from typer.testing import CliRunner

from deskmigrate.cli import app
from deskmigrate.core.ledger import Ledger
from deskmigrate.sandbox import SandboxStore
from deskmigrate.sandbox.db import Database
from deskmigrate.sandbox.resources.conversations import conversation_view

INTERCOM_TOKEN_VARIABLE = "E2E_INTERCOM_TOKEN"

Fake = TypeVar("Fake")


def write_project_config(root: Path, source: dict[str, Any], mapping: str, *, token_variable: str = INTERCOM_TOKEN_VARIABLE,
                         **extra: Any) -> Path:
    """config.yaml in `root`: `source` into the sandbox file root/sandbox.db, state in root/state, `extra` keys (overrides…) added."""
    config = {
        "source": source,
        "target": {"type": "sandbox", "token": f"${{{token_variable}}}", "path": "sandbox.db", "search_delay_s": 0},
        "mapping": mapping,
        **extra,
        "state": "state",
        "load": {"concurrency": 4},
    }
    path = root / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def declare_conversation_attributes(config: Path, attributes: dict[str, str]) -> None:
    """The sandbox workspace starts with these conversation attributes, as if made in Settings → Data → Conversation data."""
    data = yaml.safe_load(config.read_text())
    data["target"]["conversation_attributes"] = attributes
    config.write_text(yaml.safe_dump(data, sort_keys=False))


def unix(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp())


def message_parts(conversation: dict[str, Any]) -> list[dict[str, Any]]:
    """The replies and notes of a sandbox conversation (not the close, snooze or assignment parts the load adds)."""
    return [p for p in conversation["conversation_parts"]["conversation_parts"] if p["part_type"] in ("comment", "note")]


def contacts_by_external_id(store: SandboxStore) -> dict[str, dict[str, Any]]:
    """The sandbox's contacts by external_id; a second contact for one external_id fails the test."""
    found: dict[str, dict[str, Any]] = {}
    for contact in store.objects("contacts"):
        assert contact["external_id"] not in found, f"duplicate contact for {contact['external_id']}"
        found[contact["external_id"]] = contact
    return found


def assert_no_secret_in(folder: Path, secrets: list[str]) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            for secret in secrets:
                assert secret.encode() not in content, (path, secret)


@dataclass
class VendorProject(Generic[Fake]):
    """A project reading a fake vendor account: `env` holds the variables its config refers to (the secrets)."""

    root: Path
    config: Path
    fake: Fake
    env: dict[str, str]
    runner: CliRunner = field(default_factory=CliRunner)

    @property
    def state(self) -> Path:
        return self.root / "state"

    def store(self) -> SandboxStore:
        return SandboxStore(self.root / "sandbox.db")

    def cli(self, *args: str) -> Any:
        return self.runner.invoke(app, [*args, "-c", str(self.config)], env=self.env, catch_exceptions=False)

    def writes(self) -> int:
        return self.store().count_requests(writes_only=True)

    def reports(self) -> list[dict[str, Any]]:
        return [json.loads(p.read_text()) for p in sorted((self.state / "reports").glob("*.json"))]

    def contacts_by_external_id(self) -> dict[str, dict[str, Any]]:
        return contacts_by_external_id(self.store())

    def raw(self, kind: str) -> list[dict[str, Any]]:
        """The sandbox's stored objects of `kind` as they are (conversations with their parts)."""
        database = Database(self.root / "sandbox.db")
        try:
            with database.transaction() as db:
                if kind == "conversations":
                    return [conversation_view(db, c) for c in db.all("conversations")]
                return db.all(kind)
        finally:
            database.close()

    def conversations_by(self, attribute: str) -> dict[str, dict[str, Any]]:
        """Sandbox conversations by the custom attribute holding their source id; two for one id fail the test."""
        found: dict[str, dict[str, Any]] = {}
        for conversation in self.raw("conversations"):
            key = conversation["custom_attributes"][attribute]
            assert key not in found, f"two conversations for {attribute} {key}"
            found[key] = conversation
        return found

    def saved_cursor(self, entity: str) -> str | None:
        """The cursor the ledger holds for `entity` of this project's source."""
        source = yaml.safe_load(self.config.read_text())["source"]["type"]
        ledger = Ledger(self.state / "ledger.db")
        try:
            return ledger.get_cursor(source, entity)
        finally:
            ledger.close()


REQUESTER_DELETED = "requester deleted in the source: neither a contact nor a teammate there (missing_requester: skip)"
RECONCILED_OUTCOMES = ("created", "adopted", "merged", "updated", "unchanged", "skipped", "failed", "rejected", "pending")


def reconciliation(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A run report's reconciliation per entity, after checking that every entity's numbers add up to what was read."""
    rows = {row["entity"]: row for row in report["reconciliation"]["entities"]}
    for row in rows.values():
        assert row["read"] == sum(row[outcome] for outcome in RECONCILED_OUTCOMES), row
        for outcome in ("skipped", "failed", "rejected", "pending"):
            assert sum(r["count"] for r in row["reasons"] if r["outcome"] == outcome) == row[outcome], (outcome, row)
    return rows


def outcome_table(rows: dict[str, dict[str, Any]]) -> dict[str, dict[str, int]]:
    """entity → the non-zero outcomes and `read`, for comparing a whole reconciliation at once."""
    return {entity: {key: row[key] for key in ("read", *RECONCILED_OUTCOMES) if row[key]} for entity, row in rows.items()}
