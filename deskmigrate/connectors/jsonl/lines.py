"""Reading a JSON Lines file one line at a time (plain or gzip): each line an object, or the reason it is not one.

What a line's text costs is said, never hidden: bytes that are not UTF-8 are replaced, a key given twice keeps
its last value, NaN and Infinity (not JSON) are read as null. Only a line that is no JSON object at all is lost.
"""

from __future__ import annotations

import gzip
import json
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

BYTE_ORDER_MARK = b"\xef\xbb\xbf"
# A broken line may still show whose it was: its source_id, for the rejection's record.
SOURCE_ID_IN_TEXT = re.compile(r'"source_id"\s*:\s*(?:"((?:[^"\\]|\\.){1,200})"|(-?\d{1,40})\b)')


@dataclass(frozen=True)
class Line:
    """One non-blank line: the object it holds, or why it holds none; and what reading its text cost."""

    number: int
    value: dict[str, Any] | None
    problem: str | None = None
    notes: tuple[str, ...] = ()
    source_id: str | None = None


def open_lines(path: Path) -> IO[bytes]:
    """The file's bytes, decompressed when its name ends in .gz."""
    return gzip.open(path, "rb") if path.name.endswith(".gz") else path.open("rb")


def read_lines(path: Path) -> Iterator[Line]:
    """Every non-blank line of `path`, numbered from 1 as an editor numbers them."""
    number = 0
    with open_lines(path) as handle:
        try:
            for number, raw in enumerate(handle, start=1):
                if number == 1 and raw.startswith(BYTE_ORDER_MARK):
                    raw = raw[len(BYTE_ORDER_MARK):]
                text, notes = _decoded(raw)
                if text.strip():
                    yield parse_line(number, text, notes)
        except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
            yield Line(number + 1, None, f"the compressed file is damaged after line {number} ({type(exc).__name__}): the rest cannot be read")


def parse_line(number: int, text: str, notes: tuple[str, ...] = ()) -> Line:
    """The line's object; a key given twice or a NaN is noted, anything but one JSON object is the line's problem."""
    repeated: list[str] = []
    constants: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for key, value in items:
            if key in found:
                repeated.append(key)
            found[key] = value
        return found

    def constant(name: str) -> None:
        constants.append(name)

    try:
        value = json.loads(text, object_pairs_hook=pairs, parse_constant=constant)
    except json.JSONDecodeError as exc:
        return Line(number, None, f"not JSON: {exc.msg} at column {exc.colno}", notes, _source_id_in(text))
    except RecursionError:
        return Line(number, None, "not readable: nested too deeply", notes, _source_id_in(text))
    if not isinstance(value, dict):
        return Line(number, None, f"a JSON object is expected on each line, not {_json_kind(value)}", notes)
    notes += tuple(f"key {key!r} is given twice in one object: the last value is read" for key in dict.fromkeys(repeated))
    notes += tuple(f"{name} is not a JSON value: read as null" for name in dict.fromkeys(constants))
    return Line(number, value, None, notes)


def _decoded(raw: bytes) -> tuple[str, tuple[str, ...]]:
    line = raw.rstrip(b"\r\n")
    try:
        return line.decode("utf-8"), ()
    except UnicodeDecodeError:
        return line.decode("utf-8", errors="replace"), ("bytes that are not UTF-8 were replaced by �",)


def _source_id_in(text: str) -> str | None:
    found = SOURCE_ID_IN_TEXT.search(text)
    if found is None:
        return None
    return found.group(1) if found.group(1) is not None else found.group(2)


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "text"
    if value is None:
        return "null"
    return "a true/false value" if isinstance(value, bool) else "a number"
