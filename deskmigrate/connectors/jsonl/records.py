"""One JSON object → one canonical record. A value the model refuses costs that value (or that part, attachment or
translation), with a note naming it; only a record without its id, or without what its kind cannot do without (an
article's title, a collection's name), is rejected. Notes describe values by kind, never repeat them."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from pydantic import BaseModel, ValidationError

from deskmigrate.core.files import FolderFiles
from deskmigrate.core.model import (
    RECORD_TYPES,
    Attachment,
    CollectionTranslation,
    Part,
    Record,
    SourceRejection,
    Translation,
)
from deskmigrate.core.timeparse import UnreadableTime, iso_utc, parse_loose_time

SOURCE = "jsonl"
CUSTOM_FIELDS = "custom_fields"
MAX_REPAIRS = 200  # values one record may cost before it is rejected as unreadable
NOUNS = {"companies": "company", "contacts": "contact", "agents": "agent", "collections": "collection", "articles": "article",
         "conversations": "conversation", "parts": "part", "attachments": "attachment", "translations": "translation"}
# The objects that sit in a record's lists, by the list's name, for telling which of their keys they cannot do without.
ELEMENT_MODELS: dict[str, type[BaseModel]] = {"parts": Part, "attachments": Attachment, "translations": Translation}

Path_ = list[str | int]


@dataclass
class Built:
    """A record (or the rejection of the line), and the notes on what it cost."""

    item: Record | SourceRejection
    notes: list[str] = field(default_factory=list)


def build_record(entity: str, data: dict[str, Any], location: str, attachment_url: Callable[[str], tuple[str, str | None]]) -> Built:
    """The `entity` record a line holds, read at `location`; `attachment_url` turns an attachment's path into a URL."""
    model = RECORD_TYPES[entity]
    notes: list[str] = []
    source_id, problem = _identity(data.get("source_id"))
    if source_id is None:
        return Built(SourceRejection(entity=entity, location=location, field="source_id", reason=problem or "no source_id"))
    named = data.get("entity")
    if named is not None and named != entity:
        return Built(SourceRejection(entity=entity, source_id=source_id, location=location, field="entity",
                                     reason=f"a record of {_kind(named) if not isinstance(named, str) else repr(named)} in the {entity} file"))
    record = {**_with_reader_fields(model, {**data, "source_id": source_id, "entity": entity}, notes), "location": location}
    _resolve_attachments(record, attachment_url, notes)
    for _ in range(MAX_REPAIRS):
        try:
            return Built(model.model_validate(record), notes)
        except ValidationError as error:
            rejected = _repair(entity, record, error.errors()[0], notes)
            if rejected is not None:
                field_name, reason = rejected
                return Built(SourceRejection(entity=entity, source_id=source_id, location=location, field=field_name, reason=reason), notes)
    return Built(SourceRejection(entity=entity, source_id=source_id, location=location, reason="too many values the model refuses"), notes)


def _identity(value: Any) -> tuple[str | None, str | None]:
    """The source id as text: text or a whole number; anything else is no id."""
    if isinstance(value, str) and value.strip():
        return value.strip(), None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value), None
    if isinstance(value, float):
        return None, "source_id is a number with a fraction or an exponent: write ids as text or whole numbers"
    if value is None or value == "":
        return None, "no source_id: every record needs its id in the source"
    return None, f"source_id is {_kind(value)}, not text or a whole number"


def _with_reader_fields(model: type[Record], data: dict[str, Any], notes: list[str]) -> dict[str, Any]:
    """`source` defaults to this reader's name; keys the model does not have (and a `location`, which names where the
    record was read) are kept in custom_fields."""
    record = dict(data)
    source = record.get("source")
    if not (isinstance(source, str) and source.strip()):
        if source is not None:
            notes.append(f"source is {_kind(source)}, not a name: read as {SOURCE!r}")
        record["source"] = SOURCE
    custom = record.get(CUSTOM_FIELDS, {})
    if not isinstance(custom, dict):
        notes.append(f"custom_fields is {_kind(custom)}, not an object: kept as custom_fields.custom_fields")
        custom = {CUSTOM_FIELDS: custom}
    custom = dict(custom)
    known = set(model.model_fields) - {"location"}
    for key in [key for key in record if key not in known and key != CUSTOM_FIELDS]:
        kept_as = key if key not in custom else f"{key} (top level)"
        custom[kept_as] = record.pop(key)
        if key == "location":
            notes.append(f"location names where a record was read: the line's own kept in custom_fields.{kept_as}")
        else:
            notes.append(f"{key!r} is not a field of the canonical {model.__name__}{_did_you_mean(key, known)}: kept in custom_fields.{kept_as}")
    if custom:
        record[CUSTOM_FIELDS] = custom
    return record


def _resolve_attachments(record: dict[str, Any], attachment_url: Callable[[str], tuple[str, str | None]], notes: list[str]) -> None:
    places: list[tuple[str, Any]] = [("attachments", record.get("attachments"))]
    parts = record.get("parts")
    if isinstance(parts, list):
        places += [(f"parts[{i}].attachments", part.get("attachments")) for i, part in enumerate(parts) if isinstance(part, dict)]
    for where, attachments in places:
        if not isinstance(attachments, list):
            continue
        for index, attachment in enumerate(attachments):
            if isinstance(attachment, dict) and isinstance(attachment.get("url"), str) and attachment["url"].strip():
                attachment["url"], problem = attachment_url(attachment["url"].strip())
                if problem is not None:
                    notes.append(f"{where}[{index}]: {problem}")


def _repair(entity: str, record: dict[str, Any], error: Any, notes: list[str]) -> tuple[str, str] | None:
    """Make the first error go away at the least cost; (field, reason) when only rejecting the record will do."""
    loc, kind, value, message = error["loc"], error["type"], error.get("input"), error["msg"]
    path = _path_in(record, loc)
    if kind == "missing":
        path, value = [*path, loc[len(path)]], None
    where = _dotted(path)
    if kind == "string_type" and isinstance(value, (int, float)) and not isinstance(value, bool):
        _put(record, path, _number_text(value))  # a number where text is expected: its text, as JSON wrote it
        return None
    if kind == "list_type" and isinstance(value, str):
        _put(record, path, [value])
        notes.append(f"{where}: text where a list is expected: read as a list of one")
        return None
    if len(path) == 3 and path[0] == "parts" and path[2] == "created_at" and isinstance(value, str):
        _read_part_time(record, path, value, notes)
        return None
    fallback = _fallback(record, path, value)
    if fallback is not None:
        _put(record, path, fallback[0])
        notes.append(f"{where}: {fallback[1]}")
        return None
    element = _element_needing(record, path, kind)
    if element is not None:
        _drop(record, element)
        noun = NOUNS.get(str(element[-2]), "item")
        detail = f"no {path[-1]}" if kind == "missing" else f"{_dotted(path[len(element):]) or noun}: {message}"
        notes.append(f"{_dotted(element)}: {detail}; that {noun} is left out, the {NOUNS[entity]} is kept")
        return None
    if len(path) == 1 and RECORD_TYPES[entity].model_fields[str(path[0])].is_required():
        detail = "missing" if kind == "missing" else f"{message} (it is {_kind(value)})"
        return str(path[0]), f"{where}: {detail}; {_a(NOUNS[entity])} cannot do without it"
    _drop(record, path)
    notes.append(f"{where}: {message} (it is {_kind(value)}); left out, the {NOUNS[entity]} is kept")
    return None


def _fallback(record: dict[str, Any], path: Path_, value: Any) -> tuple[Any, str] | None:
    """A value that keeps a part, an attachment or an article whole where the model refuses the one given: (value, why)."""
    leaf = path[-1]
    in_list = str(path[-3]) if len(path) >= 3 and isinstance(path[-2], int) else None
    if in_list == "parts" and len(path) == 3 and leaf == "author_kind":
        return "system", f"{_kind(value)} is not contact, agent or system: kept as a system part (an internal note)"
    if in_list == "parts" and len(path) == 3 and leaf == "source_id":
        return f"#{path[1] + 1}", f"no usable id ({_kind(value)}): its place in the conversation is its id"  # type: ignore[operator]
    if leaf == "state" and (len(path) == 1 or in_list == "translations"):
        return "draft", f"{_kind(value)} is neither published nor draft: kept as a draft"
    if in_list == "attachments" and leaf == "filename":
        url = _parent(record, path).get("url")
        name = url.rstrip("/").rsplit("/", 1)[-1] if isinstance(url, str) else ""
        if name:
            return unquote(name), f"no usable filename ({_kind(value)}): named after its URL"
    return None


def _read_part_time(record: dict[str, Any], path: Path_, value: str, notes: list[str]) -> None:
    """A part's time written the way people write dates: read as core reads them, else left out."""
    try:
        moment = parse_loose_time(value)
    except UnreadableTime as exc:
        _drop(record, path)
        notes.append(f"{_dotted(path)}: {exc}; left out, the part is kept")
        return None
    _put(record, path, iso_utc(moment.moment))
    if moment.ambiguous:
        notes.append(f"{_dotted(path)}: a numeric date in either order: read month-first (write ISO 8601 to be sure)")
    return None


def _element_needing(record: dict[str, Any], path: Path_, kind: str) -> Path_ | None:
    """The part, attachment or translation that cannot do without the value at `path` (or is no object), if it is in one."""
    for depth in range(len(path) - 1, 0, -1):
        if isinstance(path[depth], int) and isinstance(path[depth - 1], str):
            container = str(path[depth - 1])
            element = path[: depth + 1]
            model = CollectionTranslation if container == "translations" and record.get("entity") == "collections" else ELEMENT_MODELS.get(container)
            if model is None:
                continue
            inner = path[depth + 1 :]
            if not inner:
                return element  # the element itself is unusable: not an object, or missing a key it needs
            if len(inner) == 1 and (kind == "missing" or (str(inner[0]) in model.model_fields and model.model_fields[str(inner[0])].is_required())):
                return element
            return None
    return None


def _path_in(record: dict[str, Any], loc: tuple[Any, ...]) -> Path_:
    """The part of an error's location that exists in the record (pydantic adds union member names and missing keys)."""
    path: Path_ = []
    current: Any = record
    for step in loc:
        if isinstance(current, dict) and step in current:
            current = current[step]
        elif isinstance(current, list) and isinstance(step, int) and 0 <= step < len(current):
            current = current[step]
        else:
            break
        path.append(step)
    return path


def _put(record: dict[str, Any], path: Path_, value: Any) -> None:
    parent = _parent(record, path)
    parent[path[-1]] = value  # type: ignore[index]


def _drop(record: dict[str, Any], path: Path_) -> None:
    parent = _parent(record, path)
    del parent[path[-1]]  # type: ignore[arg-type]


def _parent(record: dict[str, Any], path: Path_) -> Any:
    current: Any = record
    for step in path[:-1]:
        current = current[step]
    return current


def _dotted(path: Path_) -> str:
    text = ""
    for step in path:
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else str(step))
    return text


def _number_text(value: int | float) -> str:
    """A number as JSON writes it: 12, 4155550123, 1.5."""
    return str(value) if isinstance(value, int) else repr(value)


def _a(noun: str) -> str:
    return f"an {noun}" if noun[0] in "aeiou" else f"a {noun}"


def _kind(value: Any) -> str:
    """What a value looks like, for notes that must not repeat customer data."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return f"{len(value)}-character text"
    return "a list" if isinstance(value, list) else "an object"


def _did_you_mean(key: str, known: set[str]) -> str:
    close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.75)
    return f" (did you mean {close[0]!r}?)" if close else ""


def attachment_url_in(files: FolderFiles) -> Callable[[str], tuple[str, str | None]]:
    """Attachment URLs as written; a path (relative to the export folder) becomes a file URI, with a note when the loader
    will not be able to read it there."""

    def resolve(url: str) -> tuple[str, str | None]:
        if "://" in url and not url.startswith("file://"):
            return url, None
        uri = url if url.startswith("file://") else (files.folder / url).resolve().as_uri()
        path = files.path_of(uri)
        if path is None:
            return uri, "the file is outside the export folder: it is not read, the part names it instead"
        if not path.is_file():
            return uri, "no such file in the export folder: the part names it instead"
        return uri, None

    return resolve
