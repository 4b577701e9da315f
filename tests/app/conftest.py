"""A migration project in a temporary folder: CSV files, a config pointing at a sandbox file, and helpers to run the CLI."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from deskmigrate.cli import app
from deskmigrate.sandbox import SandboxStore
from tests.app.vendor_e2e import contacts_by_external_id, write_project_config

TOKEN = "tok_e2e_Secret_7f3a9c2d41b8"

COMPANIES = [
    {"id": "c1", "name": "Acme Ltd", "website": "https://acme.example.com", "plan": "pro", "size": "120", "tier": "gold", "tags": "key-account"},
    {"id": "c2", "name": "Globex", "website": "https://globex.example.org", "plan": "basic", "size": "15", "tier": "silver", "tags": ""},
    {"id": "c3", "name": "Initech", "website": "", "plan": "", "size": "", "tier": "", "tags": "churn-risk;key-account"},
]


def contact_rows(n: int = 12) -> list[dict[str, str]]:
    rows = []
    for i in range(1, n + 1):
        rows.append({
            "id": f"u{i:03d}",
            "email": f"person{i}@example.com",
            "name": f"Person Nümber {i}",
            "phone": "",
            "company_id": ["c1", "c2", "c3", "c1;c2", ""][i % 5],
            "plan_tier": str(i % 4),
            "newsletter": ["yes", "no"][i % 2],
            "tags": ["vip", "beta;vip", "", "beta", "newsletter"][i % 5],
        })
    return rows


def write_csv(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


@dataclass
class Project:
    root: Path
    config: Path
    contacts: list[dict[str, str]]
    runner: CliRunner = field(default_factory=CliRunner)

    @property
    def sandbox_path(self) -> Path:
        return self.root / "sandbox.db"

    @property
    def state(self) -> Path:
        return self.root / "state"

    def store(self) -> SandboxStore:
        return SandboxStore(self.sandbox_path)

    def cli(self, *args: str) -> Any:
        result = self.runner.invoke(app, [*args, "-c", str(self.config)], env={"E2E_TOKEN": TOKEN}, catch_exceptions=False)
        return result

    def cli_subprocess(self, *args: str, **kwargs: Any) -> subprocess.Popen[bytes]:
        env = {**os.environ, "E2E_TOKEN": TOKEN}
        return subprocess.Popen([sys.executable, "-m", "deskmigrate", *args, "-c", str(self.config)], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **kwargs)

    def set_target(self, **values: Any) -> None:
        data = yaml.safe_load(self.config.read_text())
        data["target"].update(values)
        self.config.write_text(yaml.safe_dump(data, sort_keys=False))

    def plan_folder(self, back: int = 0) -> Path:
        """The newest kept plan's folder (`back`: that many plans before it)."""
        folders = sorted(path for path in (self.state / "plans").iterdir() if (path / "summary.json").is_file())
        return folders[-1 - back]

    def write_contacts(self, rows: list[dict[str, str]]) -> None:
        self.contacts = rows
        write_csv(self.root / "contacts.csv", rows)

    def contacts_in_sandbox(self) -> dict[str, dict[str, Any]]:
        return contacts_by_external_id(self.store())

    def writes(self) -> int:
        return self.store().count_requests(writes_only=True)


@pytest.fixture
def project(tmp_path: Path) -> Project:
    write_csv(tmp_path / "companies.csv", COMPANIES)
    rows = contact_rows()
    write_csv(tmp_path / "contacts.csv", rows)
    write_csv(tmp_path / "tags.csv", [{"contact_id": "u001", "tag": "early-adopter"}, {"contact_id": "u002", "tag": "early-adopter"}])
    source = {
        "type": "csv",
        "companies": {"path": "companies.csv", "tags_column": "tags"},
        "contacts": {"path": "contacts.csv", "company_column": "company_id", "company_by": "id", "tags_column": "tags"},
        "tags": {"path": "tags.csv"},
    }
    config = write_project_config(tmp_path, source, "csv", token_variable="E2E_TOKEN")
    return Project(root=tmp_path, config=config, contacts=rows)
