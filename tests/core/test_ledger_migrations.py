"""Ledger schema migrations against a ledger the previous release wrote, and a lost ledger that must not pass for a new one."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from deskmigrate.core.errors import LedgerLostError, StateError
from deskmigrate.core.ledger import Ledger
from deskmigrate.core.ledger import schema as ledger_schema
from deskmigrate.core.ledger.schema import SCHEMA_VERSION, Migration

SCHEMA1 = Path(__file__).parent / "fixtures" / "ledger_schema1" / "state" / "ledger.db"


@pytest.fixture
def old_ledger(tmp_path: Path) -> Path:
    path = tmp_path / "state" / "ledger.db"
    path.parent.mkdir()
    shutil.copy(SCHEMA1, path)
    return path


def read(path: Path, sql: str) -> list[tuple]:
    connection = sqlite3.connect(path)
    try:
        return connection.execute(sql).fetchall()
    finally:
        connection.close()


def test_the_fixture_is_a_schema_1_ledger() -> None:
    assert read(SCHEMA1, "SELECT value FROM meta WHERE key='schema_version'") == [("1",)]


def test_a_schema_1_ledger_is_copied_aside_then_migrated_and_the_step_recorded(old_ledger: Path) -> None:
    ledger = Ledger(old_ledger)
    assert ledger.schema_version() == SCHEMA_VERSION == 2
    [step] = ledger.migrations()
    assert step["version"] == 2 and step["deskmigrate"]
    backup = Path(step["backup"])
    assert backup.parent == old_ledger.parent and backup.name.startswith("ledger.db.schema1-") and backup.suffix == ".bak"
    assert read(backup, "SELECT value FROM meta WHERE key='schema_version'") == [("1",)], "the copy is the ledger as it was"
    assert backup.stat().st_mode & 0o777 == 0o600
    # What schema 1 knew survives: runs, staged records, the id map (the pending create too), the write log.
    assert [r["command"] for r in ledger.runs()] == ["run"]
    assert ledger.count_staged("contacts") == 12
    assert ledger.id_row("contacts", "u008").state == "pending"
    assert ledger.intercom_id("contacts", "u007")
    # Schema 1 could not tell what an adopted contact had before: its links are of unknown owner, kept by rollback.
    assert ledger.link("u001", "c2").origin == "legacy"
    assert ledger.link("u002", "c3").origin == "created"
    # Before-images become what Intercom's requests take: a company's plan as its name.
    assert ledger.id_row("companies", "c2").before["plan"] == "enterprise"
    [adopt] = [w for w in ledger.writes() if w.entity == "companies" and w.source_id == "c2"]
    assert adopt.before["plan"] == "enterprise" and adopt.after["company_id"] == "c2"
    # Opening it again migrates nothing more.
    ledger.close()
    again = Ledger(old_ledger)
    assert again.migrated_to == [] and len(again.migrations()) == 1
    assert len(list(old_ledger.parent.glob("*.bak"))) == 1


def test_a_migration_that_fails_leaves_the_ledger_as_it_was(old_ledger: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(db: sqlite3.Connection) -> None:
        raise sqlite3.OperationalError("disk I/O error while migrating")

    broken = tuple(Migration(m.version, m.name, m.statements, explode) for m in ledger_schema.MIGRATIONS)
    monkeypatch.setattr(ledger_schema, "MIGRATIONS", broken)
    with pytest.raises(StateError, match="disk I/O error"):
        Ledger(old_ledger)
    assert read(old_ledger, "SELECT value FROM meta WHERE key='schema_version'") == [("1",)]
    assert "origin" not in {row[1] for row in read(old_ledger, "PRAGMA table_info(taggings)")}, "the ALTERs were rolled back too"
    monkeypatch.undo()
    assert Ledger(old_ledger).schema_version() == 2


def test_a_ledger_from_a_newer_deskmigrate_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    Ledger(path).close()
    connection = sqlite3.connect(path)
    connection.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    connection.commit()
    connection.close()
    with pytest.raises(StateError, match="newer deskmigrate"):
        Ledger(path)


def test_a_new_ledger_goes_through_every_migration_without_a_copy(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "state" / "ledger.db")
    assert [(m["version"], m["backup"]) for m in ledger.migrations()] == [(2, None)]
    assert not list((tmp_path / "state").glob("*.bak"))


def with_history(state: Path) -> None:
    (state / "reports").mkdir(parents=True, exist_ok=True)
    (state / "reports" / "20250101T000000.000Z-abcd.json").write_text(json.dumps({"exit_code": 0}))


@pytest.mark.parametrize("damage", ["missing", "zero bytes", "not a database", "no runs"])
def test_a_lost_ledger_beside_earlier_runs_is_not_a_fresh_start(tmp_path: Path, damage: str) -> None:
    state = tmp_path / "state"
    path = state / "ledger.db"
    if damage != "missing":
        state.mkdir()
        if damage == "zero bytes":
            path.write_bytes(b"")
        elif damage == "not a database":
            path.write_bytes(b"this is not SQLite" * 64)
        else:
            Ledger(path).close()
    with_history(state)
    with pytest.raises(LedgerLostError) as lost:
        Ledger(path)
    message = str(lost.value)
    assert "1 run report in reports/" in message and "--new-ledger" in message and "put the ledger back" in message
    assert (path.exists() and path.stat().st_size > 0) == (damage in ("not a database", "no runs")), "nothing was created in its place"


def test_start_over_sets_the_lost_ledger_aside_and_refuses_a_healthy_one(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    path = state / "ledger.db"
    path.write_bytes(b"garbage" * 100)
    with_history(state)
    fresh = Ledger(path, start_over=True)
    fresh.start_run("run")
    [aside] = list(state.glob("ledger.db.lost-*"))
    assert aside.read_bytes() == b"garbage" * 100
    fresh.close()
    with pytest.raises(StateError, match="not lost"):
        Ledger(path, start_over=True)
    assert Ledger(path).runs()


def test_without_history_a_missing_ledger_is_simply_new(tmp_path: Path) -> None:
    assert Ledger(tmp_path / "state" / "ledger.db").runs() == []
