"""The CSV source connector: files in, canonical records, rejections with exact file:line, and notices out."""

from __future__ import annotations

import importlib.util
import shutil
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from deskmigrate.connectors.csv import CsvConnector, CsvSourceConfig
from deskmigrate.core.errors import SourceError
from deskmigrate.core.model import Company, Contact, SourceNotice, SourceRejection
from deskmigrate.core.source import SourceContext

REPO = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "fixtures" / "csv"
# The source section of config.example.yaml: the example headers use canonical names, so no `columns:`.
EXAMPLE_SOURCE = {
    "type": "csv",
    "companies": {"path": "examples/companies.csv", "tags_column": "tags"},
    "contacts": {"path": "examples/contacts.csv", "company_column": "company_id", "company_by": "id", "tags_column": "tags"},
    "tags": {"path": "examples/tags.csv"},
}
MESSY_COLUMNS = {"id": "source_id", "email": "email", "name": "name", "signed_up": "signed_up_at", "type": "role"}


def connector(base_dir: Path, **source: Any) -> CsvConnector:
    config = CsvSourceConfig.model_validate({"type": "csv", **source})
    return CsvConnector(config, SourceContext(base_dir=base_dir))


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def items(conn: CsvConnector, entity: str) -> list[Any]:
    return list(conn.read(entity))


def records(found: list[Any]) -> list[Any]:
    return [item for item in found if isinstance(item, (Company, Contact))]


def rejections(found: list[Any]) -> list[SourceRejection]:
    return [item for item in found if isinstance(item, SourceRejection)]


def notices(found: list[Any]) -> list[SourceNotice]:
    return [item for item in found if isinstance(item, SourceNotice)]


def by_id(found: list[Any]) -> dict[str, Any]:
    return {record.source_id: record for record in records(found)}


# --- encodings -------------------------------------------------------------------------------------------------


def test_utf8_with_bom_is_read_by_default(tmp_path: Path) -> None:
    write(tmp_path / "contacts.csv", "\ufeffid,name,email\n1,Zoë Çelik,zoe@example.com\n")
    [contact] = records(items(connector(tmp_path, contacts={"path": "contacts.csv"}), "contacts"))
    assert (contact.source_id, contact.name, contact.email) == ("1", "Zoë Çelik", "zoe@example.com")


def test_utf8_declared_explicitly_still_reads_a_bom(tmp_path: Path) -> None:
    write(tmp_path / "contacts.csv", "\ufeffid,name\n1,Zoë\n")
    [contact] = records(items(connector(tmp_path, contacts={"path": "contacts.csv", "encoding": "UTF-8"}), "contacts"))
    assert contact.source_id == "1"


@pytest.mark.parametrize(("encoding", "name"), [("latin-1", "Zoë Müller"), ("cp1252", "Zoë – café €")])
def test_declared_single_byte_encoding(tmp_path: Path, encoding: str, name: str) -> None:
    write(tmp_path / "contacts.csv", f"id,name\n1,{name}\n", encoding)
    [contact] = records(items(connector(tmp_path, contacts={"path": "contacts.csv", "encoding": encoding}), "contacts"))
    assert contact.name == name


def test_undeclared_latin1_file_is_read_row_by_row_with_a_notice_per_row(tmp_path: Path) -> None:
    write(tmp_path / "contacts.csv", "id,name\n1,Zoë\n2,Ann\n3,Müller\n", "latin-1")
    found = items(connector(tmp_path, contacts={"path": "contacts.csv"}), "contacts")
    assert [(c.source_id, c.name) for c in records(found)] == [("1", "Zoë"), ("2", "Ann"), ("3", "Müller")]
    assert [(n.location, n.source_id) for n in notices(found)] == [("contacts.csv:2", "1"), ("contacts.csv:4", "3")]
    assert all("read as Windows-1252" in n.message for n in notices(found))


def test_unknown_encoding_is_a_config_error() -> None:
    with pytest.raises(ValidationError, match="unknown encoding"):
        CsvSourceConfig.model_validate({"contacts": {"path": "c.csv", "encoding": "klingon-8"}})


# --- line numbers, bad rows, rejections ------------------------------------------------------------------------

MESSY_EXPECTED_RECORDS = ["001", "003", "004", "006", "007"]
MESSY_EXPECTED_REJECTIONS = [
    ("messy_contacts.csv:4", "002", None),
    ("messy_contacts.csv:9", "005", None),
    ("messy_contacts.csv:12", None, "source_id"),
]


@pytest.mark.parametrize("chunk_size", [1, 2, 3, 50_000])
@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_line_numbers_stay_exact_after_quoted_newlines_blank_lines_and_bad_rows(tmp_path: Path, chunk_size: int, newline: str) -> None:
    text = (FIXTURES / "messy_contacts.csv").read_text(encoding="utf-8")
    write(tmp_path / "messy_contacts.csv", text.replace("\n", newline))
    found = items(connector(tmp_path, contacts={"path": "messy_contacts.csv", "columns": MESSY_COLUMNS}, chunk_size=chunk_size), "contacts")

    assert [record.source_id for record in records(found)] == MESSY_EXPECTED_RECORDS
    assert [(r.location, r.source_id, r.field) for r in rejections(found)] == MESSY_EXPECTED_REJECTIONS
    contact = by_id(found)
    assert contact["001"].custom_fields["notes"] == f"first line{newline}second line"
    assert contact["003"].name == f"Cé{newline}cile"
    assert contact["003"].role == "lead"
    assert [(c.source_id, c.location) for c in records(found)] == [
        ("001", "messy_contacts.csv:2"), ("003", "messy_contacts.csv:6"), ("004", "messy_contacts.csv:8"),
        ("006", "messy_contacts.csv:11"), ("007", "messy_contacts.csv:13"),
    ]


def test_bad_row_rejections_say_what_is_wrong_and_bad_values_cost_only_their_field(tmp_path: Path) -> None:
    shutil.copy(FIXTURES / "messy_contacts.csv", tmp_path)
    found = items(connector(tmp_path, contacts={"path": "messy_contacts.csv", "columns": MESSY_COLUMNS}), "contacts")
    reasons = {r.location: r.reason for r in rejections(found)}
    assert "7 fields but the header has 6" in reasons["messy_contacts.csv:4"]
    assert "no id in column 'id'" in reasons["messy_contacts.csv:12"]
    assert all(r.entity == "contacts" for r in rejections(found))
    contact = by_id(found)
    assert contact["004"].signed_up_at == "not-a-date"  # passed on as written: the mapping drops it, with a note
    assert contact["006"].role == "user"
    [role_notice] = notices(found)
    assert (role_notice.location, role_notice.source_id) == ("messy_contacts.csv:11", "006")
    assert "column 'type'" in role_notice.message and "read as a user" in role_notice.message
    assert "admin" not in role_notice.message


def test_bad_rows_are_reported_and_every_other_row_is_read(tmp_path: Path) -> None:
    rows = [f"{n},n{n}@example.com" for n in range(1, 201)]
    rows[49] += ",oops"
    rows[149] += ",oops,again"
    write(tmp_path / "contacts.csv", "id,email\n" + "\n".join(rows) + "\n")
    found = items(connector(tmp_path, contacts={"path": "contacts.csv"}, chunk_size=32), "contacts")
    assert len(records(found)) == 198
    assert [(r.location, r.source_id) for r in rejections(found)] == [("contacts.csv:51", "50"), ("contacts.csv:151", "150")]


def test_unparsable_size_is_dropped_with_a_notice_and_the_company_kept(tmp_path: Path) -> None:
    write(tmp_path / "companies.csv", "id,name,size\nc1,Acme,12\nc2,Globex,twelve\nc3,Initech,-3\nc4,Umbrella,\n")
    found = items(connector(tmp_path, companies={"path": "companies.csv"}), "companies")
    assert rejections(found) == []
    assert {c.source_id: (c.name, c.size) for c in records(found)} == {
        "c1": ("Acme", 12), "c2": ("Globex", None), "c3": ("Initech", None), "c4": ("Umbrella", None),
    }
    assert [(n.location, n.source_id) for n in notices(found)] == [("companies.csv:3", "c2"), ("companies.csv:4", "c3")]
    first, second = (n.message for n in notices(found))
    assert "column 'size'" in first and "not a whole number" in first and "the record is kept" in first
    assert "twelve" not in first and "6-character text" in first
    assert "a number" in second


def test_fewer_fields_than_the_header_reads_the_missing_cells_as_empty_with_a_notice(tmp_path: Path) -> None:
    write(tmp_path / "contacts.csv", "id,email,name,phone\n1,a@example.com\n2,b@example.com,Bo,\n")
    found = items(connector(tmp_path, contacts={"path": "contacts.csv"}), "contacts")
    contact = by_id(found)
    assert (contact["1"].email, contact["1"].name, contact["1"].phone) == ("a@example.com", None, None)
    assert contact["2"].name == "Bo"
    [notice] = notices(found)  # row 2 ends with an empty cell but has all four fields: no notice
    assert (notice.location, notice.source_id) == ("contacts.csv:2", "1")
    assert notice.message == "the row has 2 fields but the header has 4; the missing cells are empty"


def test_whitespace_only_rows_are_skipped_silently(tmp_path: Path) -> None:
    write(tmp_path / "contacts.csv", "id,email\n1,a@example.com\n  ,  \n,\n2,b@example.com\n")
    found = items(connector(tmp_path, contacts={"path": "contacts.csv"}), "contacts")
    assert [r.source_id for r in records(found)] == ["1", "2"]
    assert rejections(found) == []


def test_unterminated_quote_is_a_source_error_naming_the_file(tmp_path: Path) -> None:
    write(tmp_path / "contacts.csv", 'id,name\n1,"Ann\n2,Bob\n')
    with pytest.raises(SourceError, match=r"contacts\.csv.*EOF inside string"):
        items(connector(tmp_path, contacts={"path": "contacts.csv"}), "contacts")


# --- values ----------------------------------------------------------------------------------------------------


def test_empty_cells_are_absent_never_nan(tmp_path: Path) -> None:
    write(tmp_path / "contacts.csv", "id,email,name,phone,signed_up_at,last_seen_at,NA,plan\n1,,,,,,,\n2,b@example.com,NA,null,,,,\n")
    found = by_id(items(connector(tmp_path, contacts={"path": "contacts.csv"}), "contacts"))
    assert (found["1"].email, found["1"].name, found["1"].phone, found["1"].signed_up_at) == (None, None, None, None)
    assert found["1"].custom_fields == {}
    assert (found["2"].name, found["2"].phone) == ("NA", "null")
    assert "nan" not in repr(found).lower()


def test_ids_with_leading_zeros_stay_text(tmp_path: Path) -> None:
    write(tmp_path / "contacts.csv", "id,company_ids,account_no\n007,0001;00020,000123\n9007199254740993,1e3,1.50\n")
    found = by_id(items(connector(tmp_path, contacts={"path": "contacts.csv"}), "contacts"))
    assert found["007"].company_ids == ["0001", "00020"]
    assert found["007"].custom_fields == {"account_no": "000123"}
    assert found["9007199254740993"].company_ids == ["1e3"]
    assert found["9007199254740993"].custom_fields == {"account_no": "1.50"}


def test_unknown_columns_land_in_custom_fields_verbatim(tmp_path: Path) -> None:
    write(tmp_path / "contacts.csv", 'id,email,Plan Tier,newsletter,notes\n1,a@example.com,3,yes,"  two\nlines "\n')
    [contact] = records(items(connector(tmp_path, contacts={"path": "contacts.csv"}), "contacts"))
    assert contact.custom_fields == {"Plan Tier": "3", "newsletter": "yes", "notes": "  two\nlines "}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-03-01T09:30:00Z", datetime(2024, 3, 1, 9, 30, tzinfo=UTC)),
        ("2024-03-01T09:30:00+02:00", datetime(2024, 3, 1, 7, 30, tzinfo=UTC)),
        ("2024-03-01 09:30:00", datetime(2024, 3, 1, 9, 30, tzinfo=UTC)),
        ("2024-03-01", datetime(2024, 3, 1, tzinfo=UTC)),
        ("20240301", datetime(2024, 3, 1, tzinfo=UTC)),
        # Everything else goes on as written, for the mapping to read with the column's other values.
        ("03/04/2021", "03/04/2021"),
        ("4 March 2021", "4 March 2021"),
        (" 1709285400 ", "1709285400"),
        ("1709285400000", "1709285400000"),
        ("not a date", "not a date"),
    ],
)
def test_dates_pass_as_written_and_iso_becomes_utc(tmp_path: Path, text: str, expected: datetime | str) -> None:
    write(tmp_path / "contacts.csv", f'id,signed_up_at\n1,"{text}"\n')
    found = items(connector(tmp_path, contacts={"path": "contacts.csv"}), "contacts")
    [contact] = records(found)
    assert contact.signed_up_at == expected
    assert notices(found) == [] and rejections(found) == []


def test_contact_fields_are_typed(tmp_path: Path) -> None:
    write(
        tmp_path / "contacts.csv",
        "id,role,active,signed_up_at,last_seen_at,created_at\n1, Lead ,no,2024-03-01,1709285400,2024-03-01T10:00:00-05:00\n2,user,maybe,,,\n",
    )
    found = items(connector(tmp_path, contacts={"path": "contacts.csv"}), "contacts")
    contact, maybe = records(found)
    assert (contact.role, contact.active) == ("lead", False)
    assert contact.signed_up_at == datetime(2024, 3, 1, tzinfo=UTC)
    assert contact.last_seen_at == "1709285400"
    assert contact.created_at == datetime(2024, 3, 1, 10, tzinfo=timezone(timedelta(hours=-5)))
    assert rejections(found) == []
    assert (maybe.source_id, maybe.active, maybe.role) == ("2", True, "user")
    [notice] = notices(found)
    assert (notice.location, notice.source_id) == ("contacts.csv:3", "2")
    assert "column 'active'" in notice.message and "not true or false" in notice.message and "maybe" not in notice.message


def test_company_domains_are_split_and_lowercased(tmp_path: Path) -> None:
    write(tmp_path / "companies.csv", 'id,name,domains\nc1,Acme,"Acme.example.com; acme.example.org, acme.example.com"\n')
    [company] = records(items(connector(tmp_path, companies={"path": "companies.csv"}), "companies"))
    assert company.domains == ["acme.example.com", "acme.example.org"]


# --- companies of contacts -------------------------------------------------------------------------------------

COMPANIES = "id,name\nc1,Acme Corp\nc2,  Globex   Logistics \nc3,Initech\nc4,Initech\n"


def test_company_by_id_with_several_per_cell(tmp_path: Path) -> None:
    write(tmp_path / "contacts.csv", "id,org\n1,c1\n2, c1 | c2 |c1\n3,\n")
    conn = connector(
        tmp_path, contacts={"path": "contacts.csv", "columns": {"id": "source_id"}, "company_column": "org", "company_delimiter": "|"}
    )
    found = by_id(items(conn, "contacts"))
    assert [found[n].company_ids for n in "123"] == [["c1"], ["c1", "c2"], []]


def test_company_by_name_matches_case_and_whitespace_insensitively(tmp_path: Path) -> None:
    write(tmp_path / "companies.csv", COMPANIES)
    write(tmp_path / "contacts.csv", "id,company\n1,acme corp\n2,GLOBEX LOGISTICS;Acme Corp\n")
    conn = connector(
        tmp_path,
        companies={"path": "companies.csv"},
        contacts={"path": "contacts.csv", "columns": {"id": "source_id"}, "company_column": "company", "company_by": "name"},
    )
    found = items(conn, "contacts")
    assert {c.source_id: c.company_ids for c in records(found)} == {"1": ["c1"], "2": ["c2", "c1"]}
    assert notices(found) == []


def test_unknown_or_ambiguous_company_name_is_a_notice_and_the_contact_is_kept(tmp_path: Path) -> None:
    write(tmp_path / "companies.csv", COMPANIES)
    write(tmp_path / "contacts.csv", "id,company\n1,Hooli;Acme Corp\n2,initech\n")
    conn = connector(
        tmp_path,
        companies={"path": "companies.csv"},
        contacts={"path": "contacts.csv", "columns": {"id": "source_id"}, "company_column": "company", "company_by": "name"},
    )
    found = items(conn, "contacts")
    assert {c.source_id: c.company_ids for c in records(found)} == {"1": ["c1"], "2": []}
    [unknown, ambiguous] = notices(found)
    assert (unknown.source_id, unknown.location) == ("1", "contacts.csv:2")
    assert "'Hooli' is not in companies.csv" in unknown.message
    assert (ambiguous.source_id, ambiguous.location) == ("2", "contacts.csv:3")
    assert "c3, c4" in ambiguous.message
    assert rejections(found) == []


def test_company_names_come_from_well_formed_rows_whatever_the_column_order(tmp_path: Path) -> None:
    write(tmp_path / "companies.csv", 'name,country,id\nAcme,FR,c1\nBroken,FR,c2,extra\n"Multi\nLine",DE,c3\n')
    write(tmp_path / "contacts.csv", "id,company\n1,acme;broken;multi line\n")
    conn = connector(
        tmp_path,
        companies={"path": "companies.csv"},
        contacts={"path": "contacts.csv", "columns": {"id": "source_id"}, "company_column": "company", "company_by": "name"},
    )
    found = items(conn, "contacts")
    assert [c.company_ids for c in records(found)] == [["c1", "c3"]]
    assert ["'broken' is not in companies.csv" in n.message for n in notices(found)] == [True]


def test_company_by_name_needs_the_companies_file() -> None:
    with pytest.raises(ValidationError, match="company_by: name needs the companies file"):
        CsvSourceConfig.model_validate({"contacts": {"path": "c.csv", "company_column": "company", "company_by": "name"}})


# --- tags ------------------------------------------------------------------------------------------------------


def test_tags_column_and_tags_file_are_merged_trimmed_and_deduplicated(tmp_path: Path) -> None:
    write(tmp_path / "contacts.csv", "id,labels\n1, vip ;;beta;VIP\n2,\n3,trial\n")
    write(tmp_path / "companies.csv", "id,name\nc1,Acme\n")
    write(tmp_path / "tags.csv", "who,org,label\n1,,renewal\n1,,Beta\n2,,  churn-risk  \n2,,\n,c1,key-account\n")
    conn = connector(
        tmp_path,
        companies={"path": "companies.csv"},
        contacts={"path": "contacts.csv", "columns": {"id": "source_id"}, "tags_column": "labels"},
        tags={"path": "tags.csv", "columns": {"who": "contact", "org": "company", "label": "tag"}},
    )
    contacts = items(conn, "contacts")
    assert {c.source_id: c.tags for c in records(contacts)} == {"1": ["vip", "beta", "renewal"], "2": ["churn-risk"], "3": ["trial"]}
    assert notices(contacts) == [] and rejections(contacts) == []
    [company] = records(items(conn, "companies"))
    assert company.tags == ["key-account"]


def test_tags_file_rows_for_unknown_records_are_one_notice(tmp_path: Path) -> None:
    write(tmp_path / "contacts.csv", "id\n1\n")
    write(tmp_path / "tags.csv", "contact_id,tag\n1,vip\n99,vip\n98,beta\n99,beta\n")
    conn = connector(tmp_path, contacts={"path": "contacts.csv"}, tags={"path": "tags.csv"})
    found = items(conn, "contacts")
    assert [c.tags for c in records(found)] == [["vip"]]
    [notice] = notices(found)
    assert notice.location == "tags.csv"
    assert "2 contacts named in tags.csv are not in contacts.csv" in notice.message
    assert "'99' (tags.csv:3)" in notice.message


def test_unusable_tags_file_rows_are_reported_once(tmp_path: Path) -> None:
    write(tmp_path / "contacts.csv", "id\n1\n")
    write(tmp_path / "companies.csv", "id\nc1\n")
    write(tmp_path / "tags.csv", "contact_id,company_id,tag\n1,,vip\n1,,a,b\n,,orphan\n")
    conn = connector(tmp_path, companies={"path": "companies.csv"}, contacts={"path": "contacts.csv"}, tags={"path": "tags.csv"})
    first = rejections(items(conn, "contacts"))
    assert [(r.location, r.field) for r in first] == [("tags.csv:3", None), ("tags.csv:4", "tag")]
    assert rejections(items(conn, "companies")) == []


def test_tags_file_without_recognisable_columns_is_a_source_error(tmp_path: Path) -> None:
    write(tmp_path / "contacts.csv", "id\n1\n")
    write(tmp_path / "tags.csv", "customer,label\n1,vip\n")
    with pytest.raises(SourceError, match=r"tags\.csv.*`tag` column"):
        connector(tmp_path, contacts={"path": "contacts.csv"}, tags={"path": "tags.csv"}).read("contacts")


# --- columns and config ----------------------------------------------------------------------------------------


def test_missing_configured_column_fails_before_any_record(tmp_path: Path) -> None:
    write(tmp_path / "contacts.csv", "id,email\n1,a@example.com\n")
    conn = connector(
        tmp_path, contacts={"path": "contacts.csv", "columns": {"id": "source_id", "e_mail": "email"}, "tags_column": "labels"}
    )
    with pytest.raises(SourceError) as raised:
        conn.read("contacts")  # raised by the call itself, before iteration starts
    message = str(raised.value)
    assert "contacts.csv" in message and "'e_mail'" in message and "'labels'" in message


def test_missing_file_fails_before_any_record(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"nowhere\.csv: file not found"):
        connector(tmp_path, contacts={"path": "nowhere.csv"}).read("contacts")


def test_empty_file_and_repeated_header_names_are_source_errors(tmp_path: Path) -> None:
    write(tmp_path / "empty.csv", "")
    write(tmp_path / "twice.csv", "id,email,email\n1,a,b\n")
    with pytest.raises(SourceError, match="empty"):
        connector(tmp_path, contacts={"path": "empty.csv"}).read("contacts")
    with pytest.raises(SourceError, match="more than once: email"):
        connector(tmp_path, contacts={"path": "twice.csv"}).read("contacts")


def test_file_without_an_id_column_says_how_to_name_it(tmp_path: Path) -> None:
    write(tmp_path / "contacts.csv", "customer_number,email\n1,a@example.com\n")
    with pytest.raises(SourceError, match=r"no `id` column.*customer_number: source_id"):
        connector(tmp_path, contacts={"path": "contacts.csv"}).read("contacts")


def test_check_lists_the_problems_of_every_file(tmp_path: Path) -> None:
    write(tmp_path / "contacts.csv", "id,email\n1,a@example.com\n")
    conn = connector(tmp_path, companies={"path": "gone.csv"}, contacts={"path": "contacts.csv", "tags_column": "labels"})
    with pytest.raises(SourceError) as raised:
        conn.check()
    assert "gone.csv: file not found" in str(raised.value) and "'labels'" in str(raised.value)


def test_columns_omitted_maps_canonical_names_tags_and_companies(tmp_path: Path) -> None:
    write(
        tmp_path / "contacts.csv", "ID,E-mail,Name,Signed Up At,Tags,Company IDs,shoe_size\n1,a@example.com,Ann,2024-01-02,x;y,c1;c2,42\n"
    )
    [contact] = records(items(connector(tmp_path, contacts={"path": "contacts.csv"}), "contacts"))
    assert contact.source_id == "1" and contact.name == "Ann"
    assert contact.signed_up_at == datetime(2024, 1, 2, tzinfo=UTC)
    assert (contact.tags, contact.company_ids) == (["x", "y"], ["c1", "c2"])
    assert contact.custom_fields == {"E-mail": "a@example.com", "shoe_size": "42"}


def test_columns_given_are_complete_and_nothing_is_guessed(tmp_path: Path) -> None:
    write(tmp_path / "contacts.csv", "key,email,tags\n1,a@example.com,x\n")
    conn = connector(tmp_path, contacts={"path": "contacts.csv", "columns": {"key": "source_id"}})
    [contact] = records(items(conn, "contacts"))
    assert (contact.email, contact.tags) == (None, [])
    assert contact.custom_fields == {"email": "a@example.com", "tags": "x"}


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        ({"id": "source_id", "mail": "e-mail"}, "unknown field 'e-mail'"),
        ({"id": "source_id", "a": "email", "b": "email"}, "'a' and 'b' both map to email"),
        ({"mail": "email"}, "must map to source_id"),
        ({"id": "source_id", "labels": "tags"}, "tags_column: labels"),
    ],
)
def test_column_mapping_mistakes_are_config_errors(columns: dict[str, str], message: str) -> None:
    with pytest.raises(ValidationError, match=message) as raised:
        CsvSourceConfig.model_validate({"contacts": {"path": "c.csv", "columns": columns}})
    assert raised.value.errors()[0]["loc"][:2] == ("contacts", "columns")


def test_config_needs_a_record_file_and_forbids_unknown_keys() -> None:
    with pytest.raises(ValidationError, match="at least one of companies or contacts"):
        CsvSourceConfig.model_validate({"type": "csv"})
    with pytest.raises(ValidationError, match="Extra inputs"):
        CsvSourceConfig.model_validate({"contacts": {"path": "c.csv", "seperator": ";"}})


def test_delimiter_by_name_or_character(tmp_path: Path) -> None:
    write(tmp_path / "tabbed.csv", "id\tname\n1\tAnn, Jr.\n")
    write(tmp_path / "semi.csv", "id;name\n1;Ann, Jr.\n")
    for path, delimiter in [("tabbed.csv", "tab"), ("semi.csv", ";")]:
        [contact] = records(items(connector(tmp_path, contacts={"path": path, "delimiter": delimiter}), "contacts"))
        assert contact.name == "Ann, Jr."


def test_entities_are_the_configured_files_and_since_is_ignored(tmp_path: Path) -> None:
    write(tmp_path / "contacts.csv", "id,signed_up_at\n1,2020-01-01\n")
    conn = connector(tmp_path, contacts={"path": "contacts.csv"})
    assert conn.entities() == ["contacts"]
    assert conn.name == "csv" and conn.config_model is CsvSourceConfig
    assert items(conn, "contacts") == list(conn.read("contacts", since=datetime(2030, 1, 1, tzinfo=UTC)))
    with pytest.raises(SourceError, match="no file for 'companies'"):
        conn.read("companies")


def test_absolute_paths_are_used_as_given(tmp_path: Path) -> None:
    path = write(tmp_path / "contacts.csv", "id\n1\n")
    conn = connector(Path("/nonexistent-base"), contacts={"path": str(path)})
    assert [c.source_id for c in records(items(conn, "contacts"))] == ["1"]


# --- the bundled examples and the benchmark generator ----------------------------------------------------------


def example_connector(chunk_size: int = 50_000) -> CsvConnector:
    config = CsvSourceConfig.model_validate({**EXAMPLE_SOURCE, "chunk_size": chunk_size})
    return CsvConnector(config, SourceContext(base_dir=REPO))


def test_examples_read_without_rejections_or_notices() -> None:
    conn = example_connector()
    companies, contacts = items(conn, "companies"), items(conn, "contacts")
    assert (len(records(companies)), len(records(contacts))) == (8, 25)
    assert rejections(companies) + rejections(contacts) == []
    assert notices(companies) + notices(contacts) == []

    company = by_id(companies)["0001"]
    assert (company.name, company.size, company.tags) == ("Northwind Traders", 1200, ["key-account", "emea"])
    assert company.created_at == datetime(2019, 3, 14, tzinfo=UTC)
    assert company.custom_fields == {"tier": "gold", "renewal_date": "2025-03-31"}

    contact = by_id(contacts)
    assert contact["00103"].company_ids == ["0002", "0005"]
    assert contact["00103"].tags == ["vip", "renewal-2025"]
    assert contact["00109"].custom_fields["notes"].count("\n") == 2
    assert contact["00117"].role == "lead" and contact["00117"].company_ids == []
    assert contact["00101"].signed_up_at == datetime(2019, 3, 20, tzinfo=UTC)
    assert contact["00101"].custom_fields == {"plan_tier": "3", "newsletter": "yes", "notes": "Primary admin for the Northwind account."}
    assert sum(c.role == "lead" for c in contact.values()) == 4
    assert {c.custom_fields["newsletter"] for c in contact.values()} == {"yes", "no"}
    company_ids = {c.source_id for c in records(companies)}
    assert all(set(c.company_ids) <= company_ids for c in contact.values())


@pytest.mark.parametrize("chunk_size", [1, 2, 7])
def test_chunk_size_does_not_change_what_is_read(chunk_size: int) -> None:
    whole, chunked = example_connector(), example_connector(chunk_size)
    for entity in ("companies", "contacts"):
        assert items(chunked, entity) == items(whole, entity)


def test_benchmark_generator_writes_files_the_connector_reads_cleanly(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("make_csv", REPO / "benchmarks" / "make_csv.py")
    assert spec is not None and spec.loader is not None
    make_csv = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_csv)
    make_csv.make_csv(120, tmp_path, chunk_rows=50)

    conn = connector(tmp_path, companies={"path": "companies.csv"}, contacts={"path": "contacts.csv"}, chunk_size=25)
    companies, contacts = items(conn, "companies"), items(conn, "contacts")
    assert (len(records(companies)), len(records(contacts))) == (12, 120)
    assert rejections(companies) + rejections(contacts) + notices(contacts) == []
    assert any(c.tags for c in records(contacts))
    assert all(c.company_ids and "plan_tier" in c.custom_fields for c in records(contacts))
