"""The `source:` section for CSV files: which files to read and how their columns become canonical fields."""

from __future__ import annotations

import codecs
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

COMPANY_FIELDS = ("source_id", "name", "website", "plan", "size", "industry", "domains", "created_at", "updated_at")
CONTACT_FIELDS = (
    "source_id", "role", "email", "name", "phone", "signed_up_at", "last_seen_at", "active", "created_at", "updated_at",
    "country", "locale", "time_zone",
)
DATE_FIELDS = frozenset({"created_at", "updated_at", "signed_up_at", "last_seen_at"})
# A moment every strptime directive can write and read back: a format that cannot round-trip it is not usable.
FORMAT_PROBE = datetime(2021, 3, 4, 5, 6, 7, 890123, tzinfo=UTC)
LIST_FIELDS_WITH_OWN_KEY = {"tags": "tags_column", "company_ids": "company_column"}
TAG_FILE_ROLES = ("contact", "company", "tag")
DEFAULT_ID_COLUMN = "id"
DEFAULT_TAGS_COLUMN = "tags"
DEFAULT_COMPANY_COLUMNS = ("company_ids", "company_id")
DEFAULT_TAG_FILE_COLUMNS = {"contact_id": "contact", "company_id": "company", "tag": "tag"}
DELIMITER_WORDS = {"tab": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _known_encoding(value: str) -> str:
    try:
        codec = codecs.lookup(value)
    except LookupError:
        raise ValueError(f"unknown encoding {value!r}: use a Python codec name such as utf-8, cp1252 or latin-1") from None
    # Plain UTF-8 would keep a byte-order mark as part of the first column name; utf-8-sig reads both forms.
    return "utf-8-sig" if codec.name == "utf-8" else value


def checked_date_format(value: str) -> str:
    """A strptime format with at least one directive that reads back what it writes (`%d/%m/%Y`, `%Y%m%d %H:%M`)."""
    if "%" not in value:
        raise ValueError(f"{value!r} has no strptime directive: write e.g. %d/%m/%Y or %B %d, %Y")
    try:
        datetime.strptime(FORMAT_PROBE.strftime(value), value)
    except ValueError as error:
        raise ValueError(f"{value!r} is not a usable strptime format ({error}); see the directives of Python's datetime.strptime") from None
    return value


def _one_character(value: str, what: str) -> str:
    value = DELIMITER_WORDS.get(value.lower(), value) if len(value) > 1 else value
    if len(value) != 1:
        raise ValueError(f"{what} must be one character (or one of: {', '.join(DELIMITER_WORDS)})")
    return value


class CsvFile(_Strict):
    """One CSV file: where it is and how to parse it."""

    path: Path = Field(description="relative to the config file's folder")
    encoding: str = Field(
        "utf-8-sig",
        description="any Python codec name; the default reads UTF-8 with or without a BOM, and a line that is not UTF-8 "
                    "as cp1252 text or with its bad bytes replaced, each named in a notice",
    )
    delimiter: str = Field(",", description="one character, or tab / comma / semicolon / pipe")

    @field_validator("encoding")
    @classmethod
    def _encoding(cls, value: str) -> str:
        return _known_encoding(value)

    @field_validator("delimiter")
    @classmethod
    def _delimiter(cls, value: str) -> str:
        return _one_character(value, "delimiter")


class RecordFile(CsvFile):
    """A file of companies or contacts.

    `columns` maps CSV column → canonical field. When omitted, the column `id` is the source id, columns named like
    a canonical field map to it, a `tags` column is the tags column (and, for contacts, a `company_ids` or
    `company_id` column names the companies). When given, it is complete: nothing else is guessed. Either way every
    other column is kept in `custom_fields` under its own name.

    Dates are passed on as written (the mapping reads them, using what the column's other values show) unless this
    file says how to read them: `date_formats` for one column (canonical or custom), `date_format` for every date
    field, `dayfirst` for numeric dates such as 03/04/2021. A value that does not fit is passed on as written, noted.
    """

    CANONICAL_FIELDS: ClassVar[tuple[str, ...]]
    columns: dict[str, str] | None = None
    tags_column: str | None = None
    tag_delimiter: str = ";"
    dayfirst: bool | None = Field(None, description="read 03/04/2021 as 3 April (true) or March 4 (false) in this file's date fields")
    date_format: str | None = Field(None, description="strptime format of this file's date fields, e.g. %d/%m/%Y")
    date_formats: dict[str, str] = Field(default_factory=dict, description="column → strptime format, for any column")

    @field_validator("date_format")
    @classmethod
    def _date_format(cls, value: str | None) -> str | None:
        return None if value is None else checked_date_format(value)

    @field_validator("date_formats")
    @classmethod
    def _date_formats(cls, formats: dict[str, str]) -> dict[str, str]:
        for column, value in formats.items():
            try:
                checked_date_format(value)
            except ValueError as error:
                raise ValueError(f"{column}: {error}") from None
        return formats

    @field_validator("tag_delimiter")
    @classmethod
    def _tag_delimiter(cls, value: str) -> str:
        return _one_character(value, "tag_delimiter")

    @field_validator("columns")
    @classmethod
    def _columns_name_known_fields(cls, columns: dict[str, str] | None) -> dict[str, str] | None:
        if columns is None:
            return None
        seen: dict[str, str] = {}
        for column, target in columns.items():
            if target in LIST_FIELDS_WITH_OWN_KEY:
                raise ValueError(f"{column}: map the {target} column with `{LIST_FIELDS_WITH_OWN_KEY[target]}: {column}`")
            if target not in cls.CANONICAL_FIELDS:
                raise ValueError(f"{column}: unknown field {target!r}; known fields: {', '.join(cls.CANONICAL_FIELDS)}")
            if target in seen:
                raise ValueError(f"columns {seen[target]!r} and {column!r} both map to {target}")
            seen[target] = column
        if "source_id" not in seen:
            raise ValueError("one column must map to source_id (the record's id in the file)")
        return columns


class CompaniesFile(RecordFile):
    CANONICAL_FIELDS: ClassVar[tuple[str, ...]] = COMPANY_FIELDS


class ContactsFile(RecordFile):
    CANONICAL_FIELDS: ClassVar[tuple[str, ...]] = CONTACT_FIELDS
    company_column: str | None = Field(None, description="the column naming the contact's companies")
    company_by: Literal["id", "name"] = Field("id", description="companies named by their source id or by their name")
    company_delimiter: str = Field(";", description="separates several companies in one cell")

    @field_validator("company_delimiter")
    @classmethod
    def _company_delimiter(cls, value: str) -> str:
        return _one_character(value, "company_delimiter")


class TagsFile(CsvFile):
    """A file with one row per (record, tag). `columns` maps CSV column → contact | company | tag.

    When omitted: `contact_id` → contact, `company_id` → company, `tag` → tag (those present in the header).
    """

    columns: dict[str, Literal["contact", "company", "tag"]] | None = None

    @field_validator("columns")
    @classmethod
    def _one_tag_and_a_record(cls, columns: dict[str, str] | None) -> dict[str, str] | None:
        if columns is None:
            return None
        roles = list(columns.values())
        for role in TAG_FILE_ROLES:
            if roles.count(role) > 1:
                raise ValueError(f"only one column may be the {role} column")
        if "tag" not in roles:
            raise ValueError("one column must be the tag column (`<column>: tag`)")
        if "contact" not in roles and "company" not in roles:
            raise ValueError("name the contact column, the company column or both (`<column>: contact`)")
        return columns


class CsvSourceConfig(_Strict):
    """`source: {type: csv, companies?, contacts?, tags?, chunk_size}`; paths are relative to the config file."""

    type: Literal["csv"] = "csv"
    companies: CompaniesFile | None = None
    contacts: ContactsFile | None = None
    tags: TagsFile | None = None
    chunk_size: int = Field(50_000, ge=1, le=5_000_000, description="rows parsed at a time; memory grows with it")

    @model_validator(mode="after")
    def _coherent(self) -> CsvSourceConfig:
        if self.companies is None and self.contacts is None:
            raise ValueError("configure at least one of companies or contacts")
        if self.contacts is not None and self.contacts.company_by == "name" and self.companies is None:
            raise ValueError("contacts.company_by: name needs the companies file to look names up")
        return self
