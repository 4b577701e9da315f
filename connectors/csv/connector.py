"""CsvConnector: companies and contacts CSV files (and an optional tags file) streamed as canonical records."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ValidationError

from deskmigrate.connectors.csv.config import DATE_FIELDS, CsvFile, CsvSourceConfig, RecordFile, TagsFile
from deskmigrate.connectors.csv.layout import RowLayout, TagFileLayout, plan_record_layout, plan_tag_file_layout
from deskmigrate.connectors.csv.reader import BadCsvRow, CsvRow, CsvTable, iter_rows, read_header
from deskmigrate.connectors.csv.values import FIELD_PARSERS, name_key, read_date, split_names, unique_names, value_kind
from deskmigrate.core.errors import SourceError
from deskmigrate.core.model import Company, Contact, SourceNotice, SourceRejection
from deskmigrate.core.source import Connector, SourceContext, StreamItem
from deskmigrate.core.timeparse import iso_utc

logger = logging.getLogger(__name__)

ENTITY_ORDER = ("companies", "contacts")
RECORD_CLASSES: dict[str, type[Company] | type[Contact]] = {"companies": Company, "contacts": Contact}
TAG_FILE_ROLE = {"companies": "company", "contacts": "contact"}
EXAMPLES_IN_NOTICES = 5
IDENTITY_KEYS = frozenset({"source", "source_id", "location"})


@dataclass
class CompanyLinks:
    """Turns a contact's company cell into company source ids, by id or through the companies file's names."""

    by: str
    delimiter: str
    companies_file: str = ""
    ids_by_name: dict[str, str] = field(default_factory=dict)
    ambiguous: dict[str, list[str]] = field(default_factory=dict)

    def resolve(self, cell: str, entity: str, source_id: str, location: str) -> tuple[list[str], list[SourceNotice]]:
        names = split_names(cell, self.delimiter)
        if self.by == "id":
            return names, []
        ids: list[str] = []
        notices = []
        for name in names:
            key = name_key(name)
            if key in self.ambiguous:
                message = (
                    f"company {name!r} matches several companies in {self.companies_file} "
                    f"(ids {', '.join(self.ambiguous[key])}); the link is dropped, the contact is kept"
                )
            elif key in self.ids_by_name:
                ids.append(self.ids_by_name[key])
                continue
            else:
                message = f"company {name!r} is not in {self.companies_file}; the link is dropped, the contact is kept"
            notices.append(SourceNotice(entity=entity, source_id=source_id, location=location, message=message))
        return unique_names(ids), notices


@dataclass
class TagIndex:
    """Tags from the tags file by record source id (its size grows with the tag rows), and which ids were found."""

    file: str
    tags: dict[str, list[str]] = field(default_factory=dict)
    first_location: dict[str, str] = field(default_factory=dict)
    matched: set[str] = field(default_factory=set)

    def add(self, record_id: str, tag: str, location: str) -> None:
        self.tags.setdefault(record_id, []).append(tag)
        self.first_location.setdefault(record_id, location)

    def tags_for(self, record_id: str) -> list[str]:
        found = self.tags.get(record_id)
        if found is None:
            return []
        self.matched.add(record_id)
        return found

    def unmatched_notice(self, entity: str, records_file: str) -> SourceNotice | None:
        unmatched = [record_id for record_id in self.tags if record_id not in self.matched]
        if not unmatched:
            return None
        examples = ", ".join(f"{record_id!r} ({self.first_location[record_id]})" for record_id in unmatched[:EXAMPLES_IN_NOTICES])
        more = f" and {len(unmatched) - EXAMPLES_IN_NOTICES} more" if len(unmatched) > EXAMPLES_IN_NOTICES else ""
        return SourceNotice(
            entity=entity,
            location=self.file,
            message=f"{len(unmatched)} {entity} named in {self.file} are not in {records_file}, their tags are ignored: {examples}{more}",
        )


class CsvConnector(Connector):
    """Reads the companies and contacts files named in the `source:` section; see CsvSourceConfig for the options."""

    name: ClassVar[str] = "csv"
    config_model: ClassVar[type[BaseModel]] = CsvSourceConfig

    def __init__(self, config: CsvSourceConfig, context: SourceContext) -> None:
        self.config = config
        self.context = context
        self._tag_file_problems_reported = False

    def entities(self) -> list[str]:
        return [entity for entity in ENTITY_ORDER if self._record_file(entity) is not None]

    def check(self) -> bool:
        """Open every configured file and match its columns; raise one SourceError listing every problem."""
        problems = []
        for entity in self.entities():
            try:
                self._layout(entity)
            except SourceError as error:
                problems.append(str(error))
        if self.config.tags is not None:
            try:
                self._tag_file_layout(self.config.tags)
            except SourceError as error:
                problems.append(str(error))
        if problems:
            raise SourceError("\n".join(problems))
        return True

    def files_read(self, entity: str) -> list[Path] | None:
        """The entity's file, the tags file, and for contacts naming companies by name the companies file."""
        file = self._record_file(entity)
        if file is None:
            return None
        files = [file]
        if self.config.tags is not None:
            files.append(self.config.tags)
        if entity == "contacts" and self.config.contacts is not None and self.config.contacts.company_by == "name" and self.config.companies:
            files.append(self.config.companies)
        return [self._table(each).path for each in files]

    def read(self, entity: str, since: datetime | None = None) -> Iterator[StreamItem]:
        """Stream `entity`'s rows in file order as records, SourceRejections (bad rows) and SourceNotices.

        Headers, configured columns and the lookup files are checked before this returns, so a missing file or
        column raises SourceError before any record. `since` is ignored: a CSV file has no reliable change date to
        filter on, so every row is read each time (the ledger then skips unchanged records). Duplicate ids are not
        tracked here; they are yielded in file order and the pipeline's staging reports them.
        """
        layout = self._layout(entity)
        links = self._company_links(layout)
        tag_index, tag_problems = self._tag_index(entity)
        return self._stream(layout, links, tag_index, tag_problems)

    def _stream(
        self, layout: RowLayout, links: CompanyLinks, tag_index: TagIndex | None, tag_problems: list[StreamItem]
    ) -> Iterator[StreamItem]:
        yield from tag_problems
        counts = {"rows": 0, "records": 0, "rejected": 0}
        logger.info("reading %s from %s in chunks of %d rows", layout.entity, layout.table.path, layout.table.chunk_size)
        for row in iter_rows(layout.table, list(layout.header)):
            counts["rows"] += 1
            if isinstance(row, BadCsvRow):
                counts["rejected"] += 1
                yield from row_notices(layout.entity, layout.table.label, row, bad_row_id(layout, row))
                yield bad_row_rejection(layout, row)
                continue
            item, notices = convert_row(layout, row, links, tag_index)
            yield from notices
            if item is None:
                continue
            counts["records" if not isinstance(item, SourceRejection) else "rejected"] += 1
            yield item
        if tag_index is not None:
            notice = tag_index.unmatched_notice(layout.entity, layout.table.label)
            if notice is not None:
                yield notice
        logger.info("%s: %d rows, %d records, %d rejected", layout.table.label, counts["rows"], counts["records"], counts["rejected"])

    def _record_file(self, entity: str) -> RecordFile | None:
        if entity == "companies":
            return self.config.companies
        if entity == "contacts":
            return self.config.contacts
        return None

    def _table(self, file: CsvFile) -> CsvTable:
        path = file.path if file.path.is_absolute() else self.context.base_dir / file.path
        return CsvTable(path=path, encoding=file.encoding, delimiter=file.delimiter, chunk_size=self.config.chunk_size)

    def _layout(self, entity: str) -> RowLayout:
        file = self._record_file(entity)
        if file is None:
            configured = ", ".join(self.entities())
            raise SourceError(f"the CSV source has no file for {entity!r} (configured: {configured})")
        table = self._table(file)
        return plan_record_layout(entity, file, read_header(table), table)

    def _tag_file_layout(self, tags: TagsFile) -> TagFileLayout:
        table = self._table(tags)
        return plan_tag_file_layout(tags, read_header(table), table)

    def _company_links(self, layout: RowLayout) -> CompanyLinks:
        """For company_by: name, stream the companies file once keeping only a name → id map (grows with companies)."""
        links = CompanyLinks(by=layout.company_by, delimiter=layout.company_delimiter)
        if layout.company_position is None or layout.company_by == "id":
            return links
        companies = self._layout("companies")
        name_position = companies.position_of("name")
        if name_position is None:
            raise SourceError(f"{companies.table.path}: contacts name their companies by name, but no column of this file maps to `name`")
        links.companies_file = companies.table.label
        # Rows the companies stream rejects as malformed are left out here too, so no contact links to them.
        for row in iter_rows(companies.table, list(companies.header)):
            if isinstance(row, BadCsvRow):
                continue
            source_id, key = row.cells[companies.id_position].strip(), name_key(row.cells[name_position])
            if not source_id or not key:
                continue
            if key in links.ambiguous:
                links.ambiguous[key].append(source_id)
            elif key in links.ids_by_name and links.ids_by_name[key] != source_id:
                links.ambiguous[key] = [links.ids_by_name.pop(key), source_id]
            else:
                links.ids_by_name[key] = source_id
        return links

    def _tag_index(self, entity: str) -> tuple[TagIndex | None, list[StreamItem]]:
        """Read the tags file once into memory for `entity`; its unusable rows are reported with the first entity read."""
        if self.config.tags is None:
            return None, []
        layout = self._tag_file_layout(self.config.tags)
        role_position = layout.record_positions.get(TAG_FILE_ROLE[entity])
        if role_position is None:
            return None, []
        report_problems = not self._tag_file_problems_reported
        self._tag_file_problems_reported = True
        index = TagIndex(file=layout.table.label)
        problems: list[StreamItem] = []
        for row in iter_rows(layout.table, list(layout.header)):
            location = f"{layout.table.label}:{row.line}"
            if report_problems:
                problems.extend(row_notices(entity, layout.table.label, row, None))
            if isinstance(row, BadCsvRow):
                if report_problems:
                    problems.append(SourceRejection(entity=entity, location=location, reason=f"tags file row skipped: {row.reason}"))
                continue
            tag = row.cells[layout.tag_position].strip()
            record_id = row.cells[role_position].strip()
            if tag and record_id:
                index.add(record_id, tag, location)
            elif tag and report_problems and not any(row.cells[position].strip() for position in layout.record_positions.values()):
                problems.append(SourceRejection(entity=entity, location=location, field="tag", reason=f"tag {tag!r} names no record"))
        return index, problems


def convert_row(
    layout: RowLayout, row: CsvRow, links: CompanyLinks, tag_index: TagIndex | None
) -> tuple[StreamItem | None, list[SourceNotice]]:
    """One data row → a Company or Contact and notices about what it cost; None for an empty row.

    Only a missing id rejects a row (a SourceRejection naming the line). A value that cannot be read costs its field,
    with a notice naming the line and column: a role falls back to user, a date the file's own format does not fit
    is passed on as written (the mapping reads it or drops it, with a note).
    """
    cells = row.cells
    entity = layout.entity
    location = f"{layout.table.label}:{row.line}"
    source_id = cells[layout.id_position].strip()
    if not source_id:
        if not any(cell.strip() for cell in cells):
            return None, []
        reason = f"the row has no id in column {layout.id_column!r}"
        rejection = SourceRejection(entity=entity, location=location, field="source_id", reason=reason)
        return rejection, row_notices(entity, layout.table.label, row, None)
    notices = row_notices(entity, layout.table.label, row, source_id)

    def notice(message: str) -> None:
        notices.append(SourceNotice(entity=entity, source_id=source_id, location=location, message=message))

    data: dict[str, Any] = {"source": "csv", "source_id": source_id, "location": location}
    for position, field_name, column in layout.fields:
        text = cells[position]
        if not text or text.isspace():
            continue
        if field_name in DATE_FIELDS:
            value, problem = read_date(text, layout.date_formats.get(position), layout.dayfirst)
            if problem is not None:
                notice(f"column {column!r}: {value_kind(text)} that {problem}; passed on as written for the mapping to read")
            data[field_name] = value
            continue
        try:
            data[field_name] = FIELD_PARSERS[field_name](text)
        except ValueError as error:
            outcome = "the contact is read as a user" if field_name == "role" else f"{field_name} is left empty, the record is kept"
            notice(f"column {column!r}: {value_kind(text)}, {error}; {outcome}")
    custom = custom_fields(layout, cells, notice)
    if custom:
        data["custom_fields"] = custom
    tags = split_names(cells[layout.tags_position], layout.tag_delimiter) if layout.tags_position is not None else []
    if tag_index is not None:
        tags = tags + tag_index.tags_for(source_id)
    if tags:
        data["tags"] = unique_names(tags, case_sensitive=False)
    if layout.company_position is not None and cells[layout.company_position].strip():
        data["company_ids"], link_notices = links.resolve(cells[layout.company_position], entity, source_id, location)
        notices.extend(link_notices)
    return build_record(entity, data, notice), notices


def custom_fields(layout: RowLayout, cells: tuple[str, ...], notice: Callable[[str], None]) -> dict[str, Any]:
    """Every other non-empty cell verbatim under its column name; a column with a date_format becomes ISO 8601 UTC."""
    custom: dict[str, Any] = {}
    for position, key in layout.custom:
        cell = cells[position]
        if not cell or cell.isspace():
            continue
        date_format = layout.date_formats.get(position)
        if date_format is None:
            custom[key] = cell
            continue
        value, problem = read_date(cell, date_format, None)
        if isinstance(value, datetime):
            custom[key] = iso_utc(value)
        else:
            custom[key] = cell
            notice(f"column {key!r}: {value_kind(cell)} that {problem}; kept as written")
    return custom


def build_record(entity: str, data: dict[str, Any], notice: Callable[[str], None]) -> Company | Contact | SourceRejection:
    """The record from `data`; a field the model refuses is left out with a notice. Only an unusable id rejects it."""
    while True:
        try:
            return RECORD_CLASSES[entity](**data)
        except ValidationError as error:
            first = error.errors()[0]
            field_name = str(first["loc"][0]) if first["loc"] else ""
            if field_name not in data or field_name in IDENTITY_KEYS:
                return SourceRejection(
                    entity=entity, source_id=data["source_id"], location=data["location"], field=field_name or None, reason=first["msg"]
                )
            del data[field_name]
            notice(f"{field_name}: {first['msg']}; left empty, the record is kept")


def row_notices(entity: str, label: str, row: CsvRow | BadCsvRow, source_id: str | None) -> list[SourceNotice]:
    """Notices for the lines of a row that were not valid text and for its missing cells, each at its own line."""
    notices = []
    for line, message in row.notes:
        if line > row.line:
            message = f"{message} (in the row starting at line {row.line})"
        elif line < row.line:
            message = f"{message} (before the row starting at line {row.line})"
        notices.append(
            SourceNotice(
                entity=entity,
                source_id=source_id if line >= row.line else None,
                location=f"{label}:{line}",
                message=message,
            )
        )
    return notices


def bad_row_rejection(layout: RowLayout, row: BadCsvRow) -> SourceRejection:
    """A row pandas could not split into the header's columns; its id is recovered when the id cell is there."""
    return SourceRejection(
        entity=layout.entity,
        source_id=bad_row_id(layout, row),
        location=f"{layout.table.label}:{row.line}",
        reason=f"{row.reason} (an unquoted delimiter in a value?); the row is skipped",
    )


def bad_row_id(layout: RowLayout, row: BadCsvRow) -> str | None:
    source_id = row.fields[layout.id_position].strip() if len(row.fields) > layout.id_position else ""
    return source_id or None
