"""The CSV source on real exports' mess: mixed encodings, invalid bytes, short rows, dates in a file's own format.

Nothing is lost: every row with an id becomes a record carrying its file:line, and what it cost is a notice naming
the exact physical line (quoted multi-line cells included).
"""

from __future__ import annotations

import importlib.util
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from deskmigrate.connectors.csv import CsvConnector, CsvSourceConfig
from deskmigrate.core.errors import SourceError
from deskmigrate.core.model import Company, Contact, SourceNotice, SourceRejection
from deskmigrate.core.source import SourceContext

FIXTURES = Path(__file__).parent / "fixtures" / "csv"
MIXED_COLUMNS = {
    "Contact ID": "source_id", "Name": "name", "Email": "email", "Phone": "phone", "Country": "country", "Created Date": "created_at",
}


def read(base_dir: Path, entity: str = "contacts", **source: Any) -> list[Any]:
    config = CsvSourceConfig.model_validate({"type": "csv", **source})
    return list(CsvConnector(config, SourceContext(base_dir=base_dir)).read(entity))


def records(found: list[Any]) -> dict[str, Any]:
    return {item.source_id: item for item in found if isinstance(item, (Company, Contact))}


def notices(found: list[Any]) -> list[SourceNotice]:
    return [item for item in found if isinstance(item, SourceNotice)]


def rejections(found: list[Any]) -> list[SourceRejection]:
    return [item for item in found if isinstance(item, SourceRejection)]


# --- a real export mixing UTF-8 and cp1252 rows ------------------------------------------------------------------


@pytest.mark.parametrize("chunk_size", [1, 3, 50_000])
def test_mixed_encoding_export_reads_each_row_in_its_own_encoding(tmp_path: Path, chunk_size: int) -> None:
    shutil.copy(FIXTURES / "mixed_encoding_contacts.csv", tmp_path / "contacts.csv")
    found = read(tmp_path, contacts={"path": "contacts.csv", "columns": MIXED_COLUMNS}, chunk_size=chunk_size)

    contact = records(found)
    assert list(contact) == ["1001", "1002", "1003", "1004", "1005", "1006", "1007"]
    assert rejections(found) == []
    assert [contact[i].name for i in ("1001", "1002", "1003", "1007")] == ["Chloé Dubois", "Zoë Ångström", "Chloé Martin", "José García"]
    assert contact["1003"].custom_fields["Notes"] == "Café – rendez-vous"
    assert "Ã" not in repr(found)
    assert contact["1005"].name == "Ren\ufffd Lefèvre"  # damaged bytes replaced, the rest of the row intact
    assert contact["1005"].email == "rene@example.fr"
    assert contact["1004"].custom_fields["Notes"] == "Called twice.\r\nPrefers email."
    assert [(c.source_id, c.location) for c in contact.values()] == [
        ("1001", "contacts.csv:2"), ("1002", "contacts.csv:3"), ("1003", "contacts.csv:4"), ("1004", "contacts.csv:5"),
        ("1005", "contacts.csv:7"), ("1006", "contacts.csv:9"), ("1007", "contacts.csv:10"),
    ]
    assert [(n.location, n.source_id, n.message) for n in notices(found)] == [
        ("contacts.csv:4", "1003", "not valid UTF-8; read as Windows-1252 (cp1252) text"),
        ("contacts.csv:7", "1005", "invalid UTF-8 bytes replaced with U+FFFD; the rest of the line is read"),
        ("contacts.csv:9", "1006", "the row has 3 fields but the header has 8; the missing cells are empty"),
    ]


def test_country_locale_and_time_zone_columns_map_by_default(tmp_path: Path) -> None:
    (tmp_path / "contacts.csv").write_text("id,email,phone,country,Locale,Time Zone\n1,a@example.com,020 7946 0958,GB,en-GB,Europe/London\n")
    [contact] = records(read(tmp_path, contacts={"path": "contacts.csv"})).values()
    assert (contact.country, contact.locale, contact.time_zone) == ("GB", "en-GB", "Europe/London")
    assert contact.custom_fields == {}


# --- invalid bytes: exact lines, never the whole file ------------------------------------------------------------


def big_file(rows: int, bad_rows: dict[int, bytes], newline: bytes = b"\n") -> bytes:
    """Rows 1..rows with a quoted two-line note every 7th row; `bad_rows` replaces a row's name with raw bytes."""
    lines = [b"id,name,email,notes"]
    for n in range(1, rows + 1):
        name = bad_rows.get(n, f"Name {n}".encode())
        note = b'"first' + newline + b'second"' if n % 7 == 0 else b"plain"
        lines.append(b"%d,%s,n%d@example.com,%s" % (n, name, n, note))
    return newline.join(lines) + newline


def physical_line(data: bytes, row_id: int) -> int:
    """The 1-based line where the row with `row_id` starts, counted independently of the reader."""
    text = data.decode("utf-8", "replace").replace("\r\n", "\n")
    return text[: text.index(f"\n{row_id},") + 1].count("\n") + 1


@pytest.mark.parametrize("newline", [b"\n", b"\r\n"])
@pytest.mark.parametrize("chunk_size", [997, 50_000])
def test_invalid_bytes_are_replaced_and_named_by_their_exact_line_across_read_blocks(tmp_path: Path, newline: bytes, chunk_size: int) -> None:
    # ~600 KB: spans several of the stream's read blocks; quoted two-line notes before the bad rows shift the lines.
    # 0x81 and 0x9D are undefined in cp1252 too: damaged bytes, not a Windows row.
    data = big_file(12_000, {5_000: b"Jo\x81se", 11_999: b"\x9d"}, newline)
    (tmp_path / "contacts.csv").write_bytes(data)
    found = read(tmp_path, contacts={"path": "contacts.csv"}, chunk_size=chunk_size)

    contact = records(found)
    assert len(contact) == 12_000 and rejections(found) == []
    assert contact["5000"].name == "Jo\ufffdse" and contact["5000"].email == "n5000@example.com"
    assert contact["11999"].name == "\ufffd"
    assert [(n.location, n.source_id) for n in notices(found)] == [
        (f"contacts.csv:{physical_line(data, 5_000)}", "5000"),
        (f"contacts.csv:{physical_line(data, 11_999)}", "11999"),
    ]
    assert physical_line(data, 5_000) > 5_001 + 700  # the multi-line notes before it count
    assert contact["5000"].location == f"contacts.csv:{physical_line(data, 5_000)}"
    assert contact["12000"].location == f"contacts.csv:{physical_line(data, 12_000)}"


def test_invalid_byte_inside_a_quoted_multiline_cell_names_that_line(tmp_path: Path) -> None:
    (tmp_path / "contacts.csv").write_bytes(b'id,name,notes\n1,Ann,"line one\nline \xff two"\n2,Bob,ok\n')
    found = read(tmp_path, contacts={"path": "contacts.csv"})
    assert records(found)["1"].custom_fields["notes"] == "line one\nline \ufffd two"
    [notice] = notices(found)
    assert (notice.location, notice.source_id) == ("contacts.csv:3", "1")
    assert "in the row starting at line 2" in notice.message
    assert records(found)["2"].location == "contacts.csv:4"


def test_row_with_too_many_fields_and_a_bad_byte_is_rejected_with_its_line_and_named(tmp_path: Path) -> None:
    (tmp_path / "contacts.csv").write_bytes(b"id,name\n1,Ann\n2,Caf\xe9,Bar\n3,Cy\n")
    found = read(tmp_path, contacts={"path": "contacts.csv"})
    assert list(records(found)) == ["1", "3"]
    [rejection] = rejections(found)
    assert (rejection.location, rejection.source_id) == ("contacts.csv:3", "2")
    assert "3 fields but the header has 2" in rejection.reason
    [notice] = notices(found)
    assert (notice.location, notice.source_id) == ("contacts.csv:3", "2") and "cp1252" in notice.message


def test_declared_encoding_keeps_its_codec_and_replaces_only_undefined_bytes(tmp_path: Path) -> None:
    (tmp_path / "contacts.csv").write_bytes("id,name\n1,Zoë – €\n".encode("cp1252") + b"2,Ab\x81c\n")
    found = read(tmp_path, contacts={"path": "contacts.csv", "encoding": "cp1252"})
    assert {i: c.name for i, c in records(found).items()} == {"1": "Zoë – €", "2": "Ab\ufffdc"}
    [notice] = notices(found)
    assert (notice.location, notice.message) == ("contacts.csv:3", "invalid cp1252 bytes replaced with U+FFFD; the rest of the line is read")


def test_utf16_file_is_still_read_when_declared(tmp_path: Path) -> None:
    (tmp_path / "contacts.csv").write_bytes("id,name,notes\n1,Zoë,\"two\nlines\"\n2,Ann,\n".encode("utf-16"))
    found = read(tmp_path, contacts={"path": "contacts.csv", "encoding": "utf-16"})
    assert {i: (c.name, c.location) for i, c in records(found).items()} == {"1": ("Zoë", "contacts.csv:2"), "2": ("Ann", "contacts.csv:4")}
    assert notices(found) == []


def test_short_row_with_a_quoted_multiline_cell_is_counted_by_its_fields(tmp_path: Path) -> None:
    (tmp_path / "contacts.csv").write_text('id,notes,name,email\n1,"a, b\nc",\n2,"x\ny",Bo,b@example.com\n')
    found = read(tmp_path, contacts={"path": "contacts.csv"})
    assert [(n.location, n.source_id, n.message) for n in notices(found)] == [
        ("contacts.csv:2", "1", "the row has 3 fields but the header has 4; the missing cells are empty"),
    ]
    assert records(found)["2"].location == "contacts.csv:4"


# --- dates in a file's own format --------------------------------------------------------------------------------


def test_date_format_reads_the_files_dates_and_a_misfit_is_passed_on_as_written(tmp_path: Path) -> None:
    (tmp_path / "contacts.csv").write_text("id,signed_up_at,last_seen_at\n1,03/04/2021,13/04/2021\n2,2021-04-05,not yet\n")
    found = read(tmp_path, contacts={"path": "contacts.csv", "date_format": "%d/%m/%Y"})
    contact = records(found)
    assert (contact["1"].signed_up_at, contact["1"].last_seen_at) == (datetime(2021, 4, 3, tzinfo=UTC), datetime(2021, 4, 13, tzinfo=UTC))
    # ISO 8601 needs no format (the model reads it); other text is passed on for the mapping, noted.
    assert (contact["2"].signed_up_at, contact["2"].last_seen_at) == (datetime(2021, 4, 5, tzinfo=UTC), "not yet")
    assert rejections(found) == []
    [notice] = notices(found)
    assert (notice.location, notice.source_id) == ("contacts.csv:3", "2")
    assert "column 'last_seen_at'" in notice.message and "does not match date_format '%d/%m/%Y'" in notice.message
    assert "passed on as written" in notice.message and "not yet" not in notice.message


def test_date_formats_per_column_win_and_reach_custom_columns(tmp_path: Path) -> None:
    (tmp_path / "companies.csv").write_text("id,created_at,updated_at,renewal\nc1,20210304 0930,03/04/2021,4 March 2022\nc2,,,soon\n")
    source = {"path": "companies.csv", "date_format": "%m/%d/%Y", "date_formats": {"created_at": "%Y%m%d %H%M", "renewal": "%d %B %Y"}}
    found = read(tmp_path, "companies", companies=source)
    company = records(found)
    assert company["c1"].created_at == datetime(2021, 3, 4, 9, 30, tzinfo=UTC)
    assert company["c1"].updated_at == datetime(2021, 3, 4, tzinfo=UTC)
    assert company["c1"].custom_fields == {"renewal": "2022-03-04T00:00:00Z"}
    assert company["c2"].custom_fields == {"renewal": "soon"}
    [notice] = notices(found)
    assert (notice.location, notice.source_id) == ("companies.csv:3", "c2") and "column 'renewal'" in notice.message


@pytest.mark.parametrize(("dayfirst", "expected"), [(True, datetime(2021, 4, 3, tzinfo=UTC)), (False, datetime(2021, 3, 4, tzinfo=UTC))])
def test_dayfirst_reads_numeric_dates_and_leaves_other_forms_for_the_mapping(tmp_path: Path, dayfirst: bool, expected: datetime) -> None:
    (tmp_path / "contacts.csv").write_text('id,signed_up_at,last_seen_at\n1,03/04/2021,"4 March 2021"\n2,31/12/2021,1614816000000\n')
    found = read(tmp_path, contacts={"path": "contacts.csv", "dayfirst": dayfirst})
    contact = records(found)
    assert contact["1"].signed_up_at == expected
    assert (contact["1"].last_seen_at, contact["2"].last_seen_at) == ("4 March 2021", "1614816000000")
    if dayfirst:
        assert contact["2"].signed_up_at == datetime(2021, 12, 31, tzinfo=UTC) and notices(found) == []
    else:
        assert contact["2"].signed_up_at == "31/12/2021"
        [notice] = notices(found)
        assert notice.location == "contacts.csv:3" and "not a valid month-first date" in notice.message


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ({"date_format": "%d/%m/%Q"}, r"date_format\n.*bad directive"),
        ({"date_format": "dd/mm/yyyy"}, r"date_format\n.*no strptime directive"),
        ({"date_formats": {"renewal": "%Y-%"}}, r"date_formats\n.*renewal: .*stray %"),
    ],
)
def test_bad_date_format_is_a_config_error_naming_the_key(source: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        CsvSourceConfig.model_validate({"contacts": {"path": "c.csv", **source}})


def test_date_formats_for_a_missing_column_fail_before_any_record(tmp_path: Path) -> None:
    (tmp_path / "contacts.csv").write_text("id,renewal\n1,2021\n")
    with pytest.raises(SourceError, match=r"date_formats column\(s\) 'renewel' are not in the header"):
        read(tmp_path, contacts={"path": "contacts.csv", "date_formats": {"renewel": "%Y"}})


# --- location on every record --------------------------------------------------------------------------------------


def test_every_record_of_both_files_carries_its_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "companies.csv").write_text('id,name\n\nc1,"Acme\nLtd"\nc2,Globex\n')
    (tmp_path / "contacts.csv").write_text("id,email\n1,a@example.com\n2,b@example.com\n")
    companies = read(tmp_path, "companies", companies={"path": "companies.csv"})
    contacts = read(tmp_path, contacts={"path": "contacts.csv"})
    assert {i: c.location for i, c in records(companies).items()} == {"c1": "companies.csv:3", "c2": "companies.csv:5"}
    assert {i: c.location for i, c in records(contacts).items()} == {"1": "contacts.csv:2", "2": "contacts.csv:3"}


# --- the messy export generator (benchmarks/messy_csv.py) ---------------------------------------------------------


def test_messy_export_generator_plants_what_it_says_and_the_connector_keeps_every_row_with_an_id(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("messy_csv", Path(__file__).resolve().parents[2] / "benchmarks" / "messy_csv.py")
    assert spec is not None and spec.loader is not None
    messy_csv = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(messy_csv)
    planted = messy_csv.write_files(300, 7, tmp_path)
    assert planted == messy_csv.write_files(300, 7, tmp_path / "again")  # deterministic
    assert (tmp_path / "contacts.csv").read_bytes() == (tmp_path / "again" / "contacts.csv").read_bytes()

    source = {"companies": {"path": "companies.csv"}, "contacts": {"path": "contacts.csv", "company_column": "company_id"}}
    companies, contacts = read(tmp_path, "companies", **source), read(tmp_path, **source)
    assert len(records(companies)) == planted["companies"]
    assert len(records(contacts)) == planted["contacts"] - planted["no_id"]
    assert [r.field for r in rejections(contacts)] == ["source_id"] * planted["no_id"]
    messages = [n.message for n in notices(contacts)]
    assert sum("fields but the header has 13" in m for m in messages) == planted["too_few_fields"]
    assert sum("read as Windows-1252" in m for m in messages) == planted["cp1252_row"] == 1
    assert sum("invalid UTF-8 bytes replaced" in m for m in messages) == planted["invalid_utf8_byte"] == 1
    assert sum("column 'size'" in n.message for n in notices(companies)) == planted.get("company_size:not_a_number", 0)
    assert any(c.name == "Chloé Lefèvre" and c.custom_fields["notes"] == "Café – rendez-vous à 10h" for c in records(contacts).values())
    assert all(c.location and c.country in ("US", "GB", "DE") for c in records(contacts).values())
    emails = [c.email.lower() for c in records(contacts).values() if c.email and re.search(r"\.\d+@example\.com$", c.email, re.IGNORECASE)]
    assert len(emails) - len(set(emails)) == planted["duplicate_email_other_case"]
