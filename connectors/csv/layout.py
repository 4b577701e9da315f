"""Where each canonical field, the tags, the companies and the custom fields sit in a CSV file's rows."""

from __future__ import annotations

from dataclasses import dataclass

from deskmigrate.connectors.csv.config import (
    DATE_FIELDS,
    DEFAULT_COMPANY_COLUMNS,
    DEFAULT_ID_COLUMN,
    DEFAULT_TAG_FILE_COLUMNS,
    DEFAULT_TAGS_COLUMN,
    ContactsFile,
    RecordFile,
    TagsFile,
)
from deskmigrate.connectors.csv.reader import CsvTable
from deskmigrate.core.errors import SourceError


@dataclass(frozen=True)
class RowLayout:
    """The positions, in a record file's rows, of everything the connector reads."""

    table: CsvTable
    header: tuple[str, ...]
    entity: str
    id_position: int
    id_column: str
    fields: tuple[tuple[int, str, str], ...]  # (position, canonical field, column name), source id excluded
    custom: tuple[tuple[int, str], ...]  # (position, custom_fields key)
    tags_position: int | None
    tag_delimiter: str
    company_position: int | None
    company_delimiter: str
    company_by: str
    date_formats: dict[int, str]  # position → strptime format: the file's date fields and the columns it names
    dayfirst: bool | None = None

    def position_of(self, field: str) -> int | None:
        return next((position for position, name, _ in self.fields if name == field), None)


@dataclass(frozen=True)
class TagFileLayout:
    table: CsvTable
    header: tuple[str, ...]
    tag_position: int
    record_positions: dict[str, int]  # "contact" / "company" → position


def normalized(column: str) -> str:
    """How header names are matched to canonical fields when `columns` is omitted: `Signed Up At` → signed_up_at."""
    return "_".join(column.strip().lower().replace("-", " ").split())


def plan_record_layout(entity: str, config: RecordFile, header: list[str], table: CsvTable) -> RowLayout:
    """Match the configured (or guessed) columns to the header; every missing column is named in one SourceError."""
    columns = config.columns if config.columns is not None else guess_columns(config, header, table)
    tags_column = config.tags_column
    company_column = config.company_column if isinstance(config, ContactsFile) else None
    if config.columns is None:
        tags_column = tags_column or _first_present(header, [DEFAULT_TAGS_COLUMN])
        if isinstance(config, ContactsFile):
            company_column = company_column or _first_present(header, list(DEFAULT_COMPANY_COLUMNS))
    wanted = list(columns) + [name for name in (tags_column, company_column) if name]
    _require_columns(table, header, wanted)
    _require_single_use(table, wanted)
    _require_columns(table, header, list(config.date_formats), what="date_formats column(s)")

    position = {name: index for index, name in enumerate(header)}
    id_column = next(column for column, field in columns.items() if field == "source_id")
    fields = tuple((position[column], field, column) for column, field in columns.items() if field != "source_id")
    used = set(wanted)
    custom = tuple((index, name if name.strip() else f"column_{index + 1}") for index, name in enumerate(header) if name not in used)
    contacts = config if isinstance(config, ContactsFile) else None
    date_formats = {position[column]: fmt for column, fmt in config.date_formats.items()}
    if config.date_format is not None:
        for index, field, _ in fields:
            if field in DATE_FIELDS:
                date_formats.setdefault(index, config.date_format)
    return RowLayout(
        table=table,
        header=tuple(header),
        entity=entity,
        id_position=position[id_column],
        id_column=id_column,
        fields=fields,
        custom=custom,
        tags_position=position[tags_column] if tags_column else None,
        tag_delimiter=config.tag_delimiter,
        company_position=position[company_column] if company_column else None,
        company_delimiter=contacts.company_delimiter if contacts else ";",
        company_by=contacts.company_by if contacts else "id",
        date_formats=date_formats,
        dayfirst=config.dayfirst,
    )


def guess_columns(config: RecordFile, header: list[str], table: CsvTable) -> dict[str, str]:
    """`id` → source_id and every column named like a canonical field → that field."""
    guessed: dict[str, str] = {}
    claimed: dict[str, str] = {}
    for column in header:
        key = normalized(column)
        field = "source_id" if key == DEFAULT_ID_COLUMN else key
        if field not in config.CANONICAL_FIELDS:
            continue
        if field in claimed:
            raise SourceError(f"{table.path}: columns {claimed[field]!r} and {column!r} both look like {field}; say which in `columns:`")
        claimed[field] = column
        guessed[column] = field
    if "source_id" not in claimed:
        raise SourceError(
            f"{table.path}: no `id` column in the header ({_listing(header)}); "
            "name the id column in `columns:`, e.g. `customer_number: source_id`"
        )
    return guessed


def plan_tag_file_layout(config: TagsFile, header: list[str], table: CsvTable) -> TagFileLayout:
    """Match the tags file's columns (configured, or ones named like contact_id / company_id / tag) to its header."""
    if config.columns is not None:
        _require_columns(table, header, list(config.columns))
        roles = {role: column for column, role in config.columns.items()}
    else:
        found = {role: _first_present(header, [default]) for default, role in DEFAULT_TAG_FILE_COLUMNS.items()}
        roles = {role: column for role, column in found.items() if column is not None}
        if "tag" not in roles or len(roles) < 2:
            raise SourceError(
                f"{table.path}: expected a `tag` column and a `contact_id` or `company_id` column (found {_listing(header)}); "
                "name them in `columns:`, e.g. `{customer: contact, label: tag}`"
            )
    position = {name: index for index, name in enumerate(header)}
    records = {role: position[column] for role, column in roles.items() if role != "tag"}
    return TagFileLayout(table=table, header=tuple(header), tag_position=position[roles["tag"]], record_positions=records)


def _first_present(header: list[str], candidates: list[str]) -> str | None:
    by_key = {normalized(column): column for column in reversed(header)}
    return next((by_key[name] for name in candidates if name in by_key), None)


def _require_columns(table: CsvTable, header: list[str], wanted: list[str], what: str = "configured column(s)") -> None:
    missing = [column for column in wanted if column not in header]
    if missing:
        names = ", ".join(repr(column) for column in missing)
        raise SourceError(f"{table.path}: the {what} {names} are not in the header ({_listing(header)})")


def _require_single_use(table: CsvTable, wanted: list[str]) -> None:
    repeated = sorted({column for column in wanted if wanted.count(column) > 1})
    if repeated:
        raise SourceError(f"{table.path}: column(s) {', '.join(map(repr, repeated))} are configured for more than one use")


def _listing(header: list[str], limit: int = 30) -> str:
    shown = ", ".join(repr(column) for column in header[:limit])
    return f"{shown}, …" if len(header) > limit else shown or "no columns"
