"""End to end: awkward CSV files (BOM, declared encoding, quoted newlines, duplicate ids, a bad row) → `deskmigrate run` → the sandbox."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.app.vendor_e2e import INTERCOM_TOKEN_VARIABLE, VendorProject, write_project_config

CsvProject = VendorProject[None]

# cp1252, declared in the config: é, ë and € are single bytes that are not valid UTF-8.
COMPANIES_CP1252 = "id,name,tier\nc1,Café Zoë,gold €\nc2,Globex,silver\n"
# UTF-8 with a BOM (Excel's "CSV UTF-8"), a value spanning two lines, a row with one field too many (line 5),
# and u2 twice: the second occurrence (line 7) wins.
CONTACTS_BOM = (
    "\ufeffid,email,name,company_id,notes\r\n"
    'u1,ann@example.com,Ann Ångström,c1,"first line\r\nsecond line"\r\n'
    "u2,bob@example.com,Bob,c2,first version\r\n"
    "u3,cid@example.com,Cid,c1,a,b\r\n"
    "u4,dee@example.com,Dee,c2,\r\n"
    "u2,bob.last@example.com,Bob Last,c1,second version\r\n"
)


@pytest.fixture
def awkward(tmp_path: Path) -> CsvProject:
    (tmp_path / "companies.csv").write_bytes(COMPANIES_CP1252.encode("cp1252"))
    (tmp_path / "contacts.csv").write_bytes(CONTACTS_BOM.encode("utf-8"))
    source = {
        "type": "csv",
        "companies": {"path": "companies.csv", "encoding": "cp1252"},
        "contacts": {"path": "contacts.csv", "company_column": "company_id", "company_by": "id"},
    }
    config = write_project_config(tmp_path, source, "csv")
    return CsvProject(root=tmp_path, config=config, fake=None, env={INTERCOM_TOKEN_VARIABLE: "csv-e2e-token-2b7d"})


def company_ids_of(project: CsvProject, contact: dict[str, Any]) -> set[str]:
    by_intercom_id = {c["id"]: c["company_id"] for c in project.store().objects("companies")}
    return {by_intercom_id[link["id"]] for link in contact["companies"]["data"]}


def test_awkward_files_load_and_the_bad_row_is_reported_with_file_and_line(awkward: CsvProject) -> None:
    result = awkward.cli("run", "--accept-rejections")  # the bad row is 1 of 4 contacts: over load.max_rejected's 5%
    assert result.exit_code == 3, result.output

    companies = {c["company_id"]: c for c in awkward.store().objects("companies")}
    assert companies["c1"]["name"] == "Café Zoë" and companies["c1"]["custom_attributes"]["tier"] == "gold €"
    contacts = awkward.contacts_by_external_id()
    assert set(contacts) == {"u1", "u2", "u4"}, "the bad row is skipped and every other row loads"
    assert contacts["u1"]["name"] == "Ann Ångström", "the BOM is not part of the first header"
    assert contacts["u1"]["custom_attributes"]["notes"] == "first line\r\nsecond line"
    assert (contacts["u2"]["email"], contacts["u2"]["name"]) == ("bob.last@example.com", "Bob Last")
    assert contacts["u2"]["custom_attributes"]["notes"] == "second version"
    assert company_ids_of(awkward, contacts["u2"]) == {"c1"}, "the last occurrence wins, company link included"
    assert "notes" not in contacts["u4"]["custom_attributes"], "an empty cell sends nothing"

    [report] = awkward.reports()
    [failure] = report["failures"]
    assert (failure["phase"], failure["source_id"]) == ("extract", "u3")
    assert failure["reason"].startswith("contacts.csv:5: the row has 6 fields but the header has 5")
    assert report["extract"]["duplicates"] == {"contacts": 1}
    assert report["extract"]["staged"] == {"companies": 2, "contacts": 3}, "a duplicate is one record staged"
    [duplicate] = report["extract"]["notices"]
    assert duplicate["source_id"] == "u2" and "last occurrence wins" in duplicate["message"]
    assert "contacts.csv:4 and contacts.csv:7" in duplicate["message"], "both occurrences named by their real lines"
    assert "contacts.csv:5" in result.output and "last occurrence wins" in result.output


def test_the_fixed_bad_row_loads_on_the_next_run(awkward: CsvProject) -> None:
    assert awkward.cli("run", "--accept-rejections").exit_code == 3
    fixed = CONTACTS_BOM.replace("u3,cid@example.com,Cid,c1,a,b", 'u3,cid@example.com,Cid,c1,"a,b"')
    (awkward.root / "contacts.csv").write_bytes(fixed.encode("utf-8"))
    result = awkward.cli("run")
    assert result.exit_code == 0, result.output
    contacts = awkward.contacts_by_external_id()
    assert contacts["u3"]["custom_attributes"]["notes"] == "a,b"
    assert json.loads(json.dumps(awkward.reports()[-1]["failures"])) == []
