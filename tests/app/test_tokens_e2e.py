"""End to end: `target.tokens` — one token per private app of one workspace — through `check` and `run` into the sandbox."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from deskmigrate.sandbox import SandboxServer, SandboxSettings
from tests.app.vendor_e2e import VendorProject, assert_no_secret_in, declare_conversation_attributes, message_parts, write_project_config

TOKENS = {"E2E_TOKEN_A": "tokens-e2e-app-a-5c1f9e", "E2E_TOKEN_B": "tokens-e2e-app-b-8d2a0b", "E2E_TOKEN_C": "tokens-e2e-app-c-3e7b44"}
OTHER_WORKSPACE_TOKEN = "tokens-e2e-other-workspace-71aa"
CONTACTS = 40
PARTS = 12
ATTRIBUTES = dict.fromkeys(
    ["original_status", "original_priority", "original_channel", "original_group", "original_conversation_id"], "string")


def jsonl_lines(records: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(record) + "\n" for record in records)


def write_export(folder: Path) -> None:
    folder.mkdir()
    (folder / "companies.jsonl").write_text(jsonl_lines([{"source_id": "org-1", "name": "Acme Ltd"}]))
    (folder / "contacts.jsonl").write_text(jsonl_lines([
        {"source_id": f"u-{n}", "email": f"person{n}@acme.example", "name": f"Person {n}", "company_ids": ["org-1"] if n % 4 == 0 else []}
        for n in range(CONTACTS)
    ]))
    (folder / "agents.jsonl").write_text(jsonl_lines([{"source_id": "ag-1", "email": "agent@sandbox.example.com", "name": "Support Agent"}]))
    (folder / "conversations.jsonl").write_text(jsonl_lines([
        {"source_id": f"t-{t}", "subject": f"Question {t}", "requester_id": f"u-{t}", "assignee_id": "ag-1", "status": "open",
         "created_at": "2024-01-05T10:00:00Z",
         "parts": [{"source_id": f"t-{t}-p{n}", "author_kind": "contact" if n % 2 == 0 else "agent", "author_id": f"u-{t}" if n % 2 == 0 else "ag-1",
                    "body_text": f"ticket {t} part {n}", "created_at": f"2024-01-05T10:{n:02d}:00Z"} for n in range(PARTS)]}
        for t in range(3)
    ]))


@pytest.fixture
def tokens_project(tmp_path: Path) -> VendorProject[None]:
    write_export(tmp_path / "export")
    config = write_project_config(tmp_path, {"type": "jsonl", "folder": "export"}, "jsonl")
    declare_conversation_attributes(config, ATTRIBUTES)
    set_tokens(config, [f"${{{name}}}" for name in TOKENS])
    return VendorProject(root=tmp_path, config=config, fake=None, env=dict(TOKENS))


def set_tokens(config: Path, tokens: list[str], **target: Any) -> None:
    data = yaml.safe_load(config.read_text())
    data["target"].pop("token", None)
    data["target"].update({"tokens": tokens, **target})
    config.write_text(yaml.safe_dump(data, sort_keys=False))


def test_a_run_over_three_tokens_lands_everything_spreading_calls_over_all(tokens_project: VendorProject[None]) -> None:
    result = tokens_project.cli("run")
    assert result.exit_code == 0, result.output

    assert len(tokens_project.contacts_by_external_id()) == CONTACTS
    log = tokens_project.store().request_log()
    per_app = Counter(entry["app"] for entry in log)
    assert set(per_app) == {1, 2, 3}, per_app  # every call came with one of the three tokens
    assert min(per_app.values()) >= len(log) / 6, per_app  # and each carried a fair share
    assert not [entry for entry in log if entry["status"] == 429]
    report = tokens_project.reports()[-1]
    calls_by_token = {row["token"]: row["calls"] for row in report["api"]["tokens"]}
    assert sorted(calls_by_token) == [1, 2, 3] and all(calls_by_token[app] <= per_app[app] for app in (1, 2, 3)), calls_by_token
    assert sum(calls_by_token.values()) == report["api"]["calls"]

    for conversation in tokens_project.conversations_by("original_conversation_id").values():
        ticket = conversation["custom_attributes"]["original_conversation_id"]
        bodies = [part["body"] for part in message_parts(conversation)]
        assert [body.replace("<p>", "").replace("</p>", "") for body in bodies] == [f"ticket {ticket[2:]} part {n}" for n in range(1, PARTS)]
    replies = [entry for entry in log if entry["route"] == "POST /conversations/{id}/reply"]
    assert len({entry["app"] for entry in replies}) == 3  # the parts kept their order while the tokens carrying them changed


def test_no_token_reaches_the_screen_the_report_the_log_or_the_ledger(tokens_project: VendorProject[None]) -> None:
    set_tokens(tokens_project.config, [f"${{{name}}}" for name in TOKENS], error_rate=0.05, fault_seed=5)
    outputs = [tokens_project.cli(command).output for command in ("check", "plan", "run", "validate", "status")]

    for text in outputs:
        assert not any(token in text for token in TOKENS.values()), text
    assert_no_secret_in(tokens_project.state, list(TOKENS.values()))


def test_check_accepts_tokens_of_one_workspace(tokens_project: VendorProject[None]) -> None:
    result = tokens_project.cli("check")

    assert result.exit_code == 0, result.output
    assert "3 tokens, all of workspace" in result.output


def test_check_refuses_tokens_of_two_workspaces_naming_which(tokens_project: VendorProject[None]) -> None:
    tokens = list(TOKENS.values())
    settings = SandboxSettings(path=tokens_project.root / "served.db", token=tokens[0], extra_tokens=tokens[1:2],
                               foreign_tokens={OTHER_WORKSPACE_TOKEN: "otherws9"})
    with SandboxServer(settings) as server:
        set_tokens(tokens_project.config, ["${E2E_TOKEN_A}", "${E2E_TOKEN_B}", "${E2E_OTHER}"], base_url=server.base_url)
        tokens_project.env["E2E_OTHER"] = OTHER_WORKSPACE_TOKEN
        result = tokens_project.cli("check")

    assert result.exit_code == 2, result.output
    assert "do not all belong to one workspace" in result.output
    assert "token 3: workspace otherws9" in result.output and "not token 1's workspace" in result.output
    assert not any(token in result.output for token in [*tokens, OTHER_WORKSPACE_TOKEN])


def test_check_names_a_refused_token_by_its_position(tokens_project: VendorProject[None]) -> None:
    tokens = list(TOKENS.values())
    with SandboxServer(SandboxSettings(path=tokens_project.root / "served.db", token=tokens[0], extra_tokens=tokens[1:])) as server:
        set_tokens(tokens_project.config, [f"${{{name}}}" for name in TOKENS], base_url=server.base_url)
        tokens_project.env["E2E_TOKEN_C"] = "tokens-e2e-unknown-app-0000"  # an app the workspace does not have
        result = tokens_project.cli("check")

    assert result.exit_code == 2, result.output
    assert "token 3 of target.tokens" in result.output
    assert "tokens-e2e-unknown-app-0000" not in result.output


@pytest.mark.parametrize(("target", "expected"), [
    ({"token": "${E2E_TOKEN_A}", "tokens": ["${E2E_TOKEN_B}"]}, "both token and tokens are set"),
    ({}, "no token: give token"),
    ({"tokens": []}, "the list is empty"),
    ({"tokens": ["${E2E_TOKEN_A}", "${E2E_TOKEN_B}", "${E2E_TOKEN_A}"]}, "tokens 1 and 3 are the same token"),
    ({"tokens": ["${E2E_TOKEN_A}", "${E2E_UNSET_TOKEN}"]}, "environment variable E2E_UNSET_TOKEN is not set"),
    ({"tokens": ["${E2E_TOKEN_A}"], "workspace_rate_limit": 0}, "workspace_rate_limit"),
])
def test_a_bad_tokens_config_is_exit_2_with_its_line(tokens_project: VendorProject[None], target: dict[str, Any], expected: str) -> None:
    data = yaml.safe_load(tokens_project.config.read_text())
    data["target"] = {key: value for key, value in data["target"].items() if key not in ("token", "tokens")} | target
    tokens_project.config.write_text(yaml.safe_dump(data, sort_keys=False))

    result = tokens_project.cli("check")

    assert result.exit_code == 2, result.output
    assert expected in result.output
    assert "config.yaml:" in result.output
    assert not any(token in result.output for token in TOKENS.values())


def test_sandbox_serve_accepts_every_configured_token_as_one_workspace(tokens_project: VendorProject[None]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "deskmigrate", "sandbox", "serve", "-c", str(tokens_project.config), "--port", str(port)],
                              env={**os.environ, **TOKENS}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.05)
        answers = [requests.get(f"http://127.0.0.1:{port}/me", headers={"Authorization": f"Bearer {token}"}, timeout=10)
                   for token in TOKENS.values()]
    finally:
        server.terminate()
        output = server.communicate(timeout=10)[0].decode()

    assert [answer.status_code for answer in answers] == [200, 200, 200]
    assert len({answer.json()["app"]["id_code"] for answer in answers}) == 1
    assert not any(token in output for token in TOKENS.values())
