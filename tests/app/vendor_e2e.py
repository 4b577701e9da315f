"""What the end-to-end tests share: a project folder whose config reads a source into the local sandbox, and the CLI on it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import yaml
from typer.testing import CliRunner

from deskmigrate.cli import app
from deskmigrate.loaders.intercom.sandbox import SandboxStore

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
