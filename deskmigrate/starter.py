"""`deskmigrate init`: a commented config and an override mapping to start from.

For CSV files it reads their real headers and a sample of their rows: columns named like a canonical field (with the
names exports use: "E-mail", "Full Name", "Contact ID") are suggested in `columns:`, the others are declared as custom
attributes with the type their values show. For an API source it writes the source's settings from its config model,
credentials as ${ENVIRONMENT} references; once they are set, `init SOURCE --fields` reads the source's field catalog
and declares every custom field with the Intercom type its values fit.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr

from deskmigrate.core.errors import ConfigError, Problem
from deskmigrate.core.source import FieldDefinition
from deskmigrate.registry import connector_class
from deskmigrate.transforms import sanitize_attribute_name

SAMPLE_ROWS = 500
# The mapping target that holds each entity's custom fields.
TARGET_OF_ENTITY = {"companies": "company", "contacts": "contact", "conversations": "conversation"}
# Header names real exports use for canonical fields (matched after lower-casing and dropping punctuation).
SYNONYMS: dict[str, tuple[str, ...]] = {
    "source_id": ("id", "contact id", "customer id", "company id", "organization id", "user id", "external id", "record id"),
    "email": ("email", "e mail", "email address", "mail", "primary email"),
    "name": ("name", "full name", "contact name", "customer name", "company name", "organization", "organisation"),
    "phone": ("phone", "phone number", "telephone", "mobile", "mobile phone", "work phone"),
    "role": ("role", "type", "contact type"),
    "signed_up_at": ("signed up at", "signup date", "sign up date", "created", "created at", "created date", "date created"),
    "last_seen_at": ("last seen at", "last seen", "last login", "last activity", "last active"),
    "website": ("website", "url", "web site", "homepage", "domain"),
    "plan": ("plan", "subscription", "plan name"),
    "size": ("size", "employees", "company size", "headcount", "number of employees"),
    "industry": ("industry", "sector", "vertical"),
    "created_at": ("created at", "created", "created date", "date created"),
    "country": ("country", "country code"),
    "locale": ("locale", "language"),
    "time_zone": ("time zone", "timezone", "tz"),
    "tags": ("tags", "labels", "segments"),
}
TRUE_FALSE = {"true", "false", "yes", "no", "y", "n", "1", "0"}
DATE_SHAPE = re.compile(r"^\d{4}-\d{2}-\d{2}|^\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}$")


@dataclass
class CsvLayout:
    """What init learnt from one CSV file."""

    entity: str
    path: Path
    columns: dict[str, str] = field(default_factory=dict)  # header → canonical field
    attributes: dict[str, str] = field(default_factory=dict)  # header → Intercom data type
    company_column: str | None = None


def key(text: str) -> str:
    return " ".join(re.sub(r"[^0-9a-z]+", " ", text.lower()).split())


def read_sample(path: Path) -> tuple[list[str], list[list[str]]]:
    """The header and the first SAMPLE_ROWS rows (UTF-8 with or without BOM, else cp1252); ConfigError naming the file."""
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            with path.open(encoding=encoding, newline="") as handle:
                reader = csv.reader(handle)
                header = next(reader, None)
                rows = [row for _, row in zip(range(SAMPLE_ROWS), reader, strict=False)]
            break
        except UnicodeDecodeError:
            continue
        except OSError as error:
            raise ConfigError([Problem(path="", message=f"cannot read it: {error.strerror}", file=str(path))]) from None
    else:
        raise ConfigError([Problem(path="", message="neither UTF-8 nor cp1252 text", file=str(path))])
    if not header:
        raise ConfigError([Problem(path="", message="the file is empty: a header line is needed", file=str(path))])
    return [column.strip() for column in header], rows


def value_type(values: Iterable[str]) -> str:
    """The Intercom data type every non-empty value fits: integer, float, boolean, date, else string."""
    present = [v.strip() for v in values if v and v.strip()]
    if not present:
        return "string"
    if all(re.fullmatch(r"[+-]?\d{1,15}", v) for v in present) and not all(v.lower() in TRUE_FALSE for v in present):
        return "integer"
    if all(v.lower() in TRUE_FALSE for v in present):
        return "boolean"
    if all(re.fullmatch(r"[+-]?\d+(\.\d+)?", v) for v in present):
        return "float"
    if all(DATE_SHAPE.match(v) for v in present):
        return "date"
    return "string"


def layout_of(entity: str, path: Path) -> CsvLayout:
    header, rows = read_sample(path)
    layout = CsvLayout(entity, path)
    claimed: set[str] = set()
    wanted = ("source_id", "email", "name", "phone", "role", "signed_up_at", "last_seen_at", "country", "locale", "time_zone", "tags") \
        if entity == "contacts" else ("source_id", "name", "website", "plan", "size", "industry", "created_at", "tags")
    for position, column in enumerate(header):
        found = next((f for f in wanted if f not in claimed and key(column) in SYNONYMS.get(f, ())), None)
        if entity == "contacts" and key(column) in ("company id", "company ids", "company", "organization id", "account id") \
                and layout.company_column is None and found in (None, "source_id"):
            layout.company_column = column
            continue
        if found is not None:
            claimed.add(found)
            layout.columns[column] = found
        else:
            layout.attributes[column] = value_type(row[position] for row in rows if position < len(row))
    return layout


def csv_starter(contacts: Path | None, companies: Path | None, base: Path) -> tuple[str, str]:
    """(config.yaml, mapping.yaml) for CSV files, paths written relative to `base` (where the config will live)."""
    if contacts is None and companies is None:
        raise ConfigError([Problem(path="", message="give --contacts FILE and/or --companies FILE")])
    layouts = [layout_of(entity, path) for entity, path in (("companies", companies), ("contacts", contacts)) if path is not None]
    problems = [Problem(path="", message="no column looks like an id: name it in `columns:` (e.g. `Customer No: source_id`)",
                        file=str(layout.path)) for layout in layouts if "source_id" not in layout.columns.values()]
    lines = ["# deskmigrate config, written by `deskmigrate init csv` from your files' headers. Check every `columns:` entry:",
             "# each maps a CSV column to a canonical field (`deskmigrate schema contacts` lists them); columns not listed",
             "# arrive as custom attributes, declared with their types in mapping.yaml.", "source:", "  type: csv"]
    for layout in layouts:
        lines += [f"  {layout.entity}:", f"    path: {_relative(layout.path, base)}", "    columns:"]
        lines += [f"      {_yaml_key(column)}: {canonical}" for column, canonical in layout.columns.items() if canonical != "tags"]
        tags = next((column for column, canonical in layout.columns.items() if canonical == "tags"), None)
        if tags:
            lines.append(f"    tags_column: {_yaml_key(tags)}")
        if layout.company_column:
            lines += [f"    company_column: {_yaml_key(layout.company_column)}", "    company_by: id"]
        lines.append("    # dayfirst: true           # if numeric dates are day-first (31/12/2024) and no value shows it")
    lines += _target_and_rest()
    mapping = ["# Your overrides, merged over the built-in csv mapping (`deskmigrate mappings show csv`): rules by `to`,",
               "# attributes by `name`. Types were guessed from the first rows; a value that does not fit its type costs",
               "# only that attribute (noted in `plan`), or add `on_error: keep_raw` to keep it as text in <name>_raw."]
    for layout in layouts:
        if not layout.attributes:
            continue
        model = "company" if layout.entity == "companies" else "contact"
        mapping += [f"{model}:", "  attributes:"]
        mapping += [f"    - {{name: {sanitize_attribute_name(column)}, type: {kind}, description: {_yaml_key('From the CSV column ' + column)}}}"
                    for column, kind in layout.attributes.items()]
    if problems:
        raise ConfigError(problems, title="init could not read every file")
    return "\n".join(lines) + "\n", "\n".join(mapping) + "\n"


def api_starter(source: str) -> tuple[str, str]:
    """(config.yaml, mapping.yaml) for an API or JSON Lines source, from its config model; secrets as ${SOURCE_NAME}."""
    model: type[BaseModel] = connector_class(source).config_model
    lines = [f"# deskmigrate config for {source}, written by `deskmigrate init {source}`. Secrets come from the environment:",
             "# export the variables named below, then `deskmigrate check -c config.yaml`.", "source:", f"  type: {source}"]
    for name, info in model.model_fields.items():
        if name == "type":
            continue
        comment = f"  # {info.description}" if info.description else ""
        if _is_secret(info.annotation):
            lines.append(f"  {name}: ${{{source.upper()}_{name.upper()}}}{comment}")
        elif info.is_required():
            lines.append(f"  {name}: CHANGE-ME{comment}")
        elif info.default not in (None, [], {}) and not callable(info.default):
            lines.append(f"  # {name}: {_scalar(info.default)}{comment}")
        else:
            lines.append(f"  # {name}:{comment}")
    lines += _target_and_rest()
    mapping = [f"# Your overrides, merged over the built-in {source} mapping (`deskmigrate mappings show {source}`).",
               "# Run `deskmigrate plan`: its mapping report lists the source fields no rule reads, to map here, e.g.",
               "# contact:", "#   rules:", "#     - {to: custom_attributes.tier, from: custom_fields.Tier}"]
    return "\n".join(lines) + "\n", "\n".join(mapping) + "\n"


def catalog_mapping(source: str, definitions: Iterable[FieldDefinition]) -> str:
    """mapping.yaml declaring each custom field of the source's catalog as the attribute its unmapped values land in,
    with the type they fit. Choices are listed, not declared: old records keep values an option list no longer has."""
    by_target: dict[str, list[FieldDefinition]] = {}
    for definition in definitions:
        if definition.entity in TARGET_OF_ENTITY:
            by_target.setdefault(TARGET_OF_ENTITY[definition.entity], []).append(definition)
    lines = [f"# Your overrides, merged over the built-in {source} mapping (`deskmigrate mappings show {source}`), written by",
             f"# `deskmigrate init {source} --fields` from the source's field catalog. Each custom field arrives as the custom",
             "# attribute named below (unmapped: custom_attribute), created in Intercom with this type when a record has a value;",
             "# a value that does not fit its type is left out of that attribute with a note, the record lands. Delete a line",
             "# to let the field arrive as text, or add rules (`deskmigrate mappings transforms`) to map it elsewhere."]
    if not by_target:
        lines.append("# The source's catalog defines no custom fields.")
    for target, found in by_target.items():
        lines += ["", f"{target}:", "  attributes:"]
        named: set[str] = set()
        for definition in sorted(found, key=lambda d: d.name.casefold()):
            label = f"{definition.name} ({definition.source_type})"
            name = sanitize_attribute_name(definition.name)
            if name in named:
                lines.append(f"    # {label} lands in {name} too (declared above)")
                continue
            named.add(name)
            choices = f"; choices: {', '.join(definition.options[:12])}{', …' if len(definition.options) > 12 else ''}" if definition.options else ""
            lines.append(f"    - {{name: {name}, type: {definition.data_type}, "
                         f"description: {_yaml_key(f'From the {source} field {label}'[:250])}}}" + (f"  #{choices[1:]}" if choices else ""))
    return "\n".join(lines) + "\n"


def _target_and_rest() -> list[str]:
    return ["", "target:", "  type: sandbox                   # rehearse here; for the real run: intercom",
            "  token: ${INTERCOM_TOKEN:-sandbox-token}", "  # region: us                    # us | eu | au (type: intercom)",
            "", "overrides: [mapping.yaml]", "state: .deskmigrate", "", "load:", "  concurrency: 8",
            "  # on_duplicate_email: merge     # or reject_later"]


def _is_secret(annotation: Any) -> bool:
    return "SecretStr" in str(annotation) or annotation is SecretStr


def _relative(path: Path, base: Path) -> str:
    try:
        return str(path.resolve().relative_to(base.resolve()))
    except ValueError:
        return str(path.resolve())


def _yaml_key(text: str) -> str:
    return text if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", text) else '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _scalar(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)
