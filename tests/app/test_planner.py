"""The plan made by worker processes is the plan one process makes, record for record; remembered phone verdicts never
stand in for a different question."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from deskmigrate import planner
from deskmigrate.cli import app
from tests.app.vendor_e2e import INTERCOM_TOKEN_VARIABLE, write_project_config

ROWS = 61


def contact(index: int) -> dict[str, str]:
    return {
        "id": f"u{index:03d}",
        "email": "not-an-email" if index in (9, 40) else f"person{index}@example.com",
        "name": f"Person {index}",
        "phone": f"+44 20 3{index:03d} {index:04d}" if index % 3 else "555-01",
        # 03/04/2021 reads either way; 13/04/2021 (row 50, in a late chunk) proves the column is day first
        "signed_up_at": "13/04/2021" if index == 50 else "03/04/2021" if index % 2 else "2021-05-06",
        "plan_tier": str(index % 4),
        # a column only late rows fill: its attribute is first declared in a later chunk
        "referrer": "newsletter" if index > 45 else "",
    }


def project_folder(root: Path, workers: int) -> Path:
    root.mkdir()
    with (root / "contacts.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(contact(1)))
        writer.writeheader()
        writer.writerows(contact(i) for i in range(1, ROWS + 1))
    config = write_project_config(root, {"type": "csv", "contacts": {"path": "contacts.csv"}}, "csv")
    data = yaml.safe_load(config.read_text())
    data["plan"] = {"workers": workers}
    data["defaults"] = {"phone_region": "GB"}
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    return config


def plan(config: Path, *args: str) -> dict[str, Any]:
    result = CliRunner().invoke(app, ["plan", *args, "-c", str(config)], env={INTERCOM_TOKEN_VARIABLE: "planner-test-token"},
                                catch_exceptions=False)
    assert result.exit_code in (0, 3), result.output
    report = json.loads(sorted((config.parent / "state" / "reports").glob("*.json"))[-1].read_text())
    folder = Path(report["plan"]["folder"])
    return {
        "payloads": (folder / "contacts.jsonl").read_text(), "rejected": (folder / "rejected.jsonl").read_text(),
        **{key: report["plan"][key] for key in ("counts", "mapping_report", "attributes", "date_orders", "rejected_by_reason")},
    }


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(planner, "CHUNK_RECORDS", 7)
    monkeypatch.setattr(planner, "PARALLEL_FROM", 10)


def test_workers_make_the_plan_one_process_makes(tmp_path: Path, small_chunks: None, monkeypatch: pytest.MonkeyPatch) -> None:
    started = tmp_path / "workers.txt"
    original = planner._start_worker

    def noting_pid() -> None:
        original()
        with started.open("a") as handle:
            handle.write(f"{os.getpid()}\n")

    monkeypatch.setattr(planner, "_start_worker", noting_pid)
    alone = plan(project_folder(tmp_path / "alone", workers=1))
    assert not started.exists(), "one worker: mapped here"
    together = plan(project_folder(tmp_path / "together", workers=2))
    assert len(set(started.read_text().split())) == 2 and str(os.getpid()) not in started.read_text(), "two worker processes"

    assert together["payloads"] == alone["payloads"], "the same payloads, in the same order"
    assert together["rejected"] == alone["rejected"]
    for key in ("counts", "mapping_report", "attributes", "date_orders", "rejected_by_reason"):
        assert together[key] == alone[key], key
    assert alone["date_orders"] == {"contact.signed_up_at": "dayfirst"}
    # every 03/04/2021 after the chunk that proved the order is read day first, as one process reads it
    # (u051 shares the proving row's chunk; u059 is in the next one, which a worker mapped before it knew: mapped again)
    signed_up = {line["source_id"]: line["body"]["signed_up_at"] for line in map(json.loads, alone["payloads"].splitlines())}
    assert signed_up["u051"] == signed_up["u059"] == 1617408000  # 3 April 2021
    assert alone["counts"]["contacts"]["rejected"] == 2
    assert {a["name"] for a in alone["attributes"]} >= {"referrer", "plan_tier"}


def test_a_remembered_phone_verdict_answers_only_the_same_question(tmp_path: Path) -> None:
    config = project_folder(tmp_path / "p", workers=1)
    rows = [contact(i) for i in range(1, 4)]
    rows[0]["phone"] = "020 7946 0018"  # no +country: read in defaults.phone_region
    with (config.parent / "contacts.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)

    def phone_of_u001() -> Any:
        payloads = plan(config)["payloads"]
        return next(json.loads(line) for line in payloads.splitlines() if json.loads(line)["source_id"] == "u001")["body"].get("phone")

    assert phone_of_u001() == "+442079460018"
    assert (config.parent / "state" / "cache" / "values.db").stat().st_mode & 0o777 == 0o600
    assert phone_of_u001() == "+442079460018", "remembered: the same text in the same region"
    data = yaml.safe_load(config.read_text())
    data["defaults"] = {"phone_region": "US"}
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    assert phone_of_u001() == "020 7946 0018", "in the US the text is no valid number: sent as written, as without a memo"
