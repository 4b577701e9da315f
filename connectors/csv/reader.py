"""Stream a CSV file with pandas in bounded memory, giving each row the physical line it starts on."""

from __future__ import annotations

import csv
import logging
import re
import warnings
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import NamedTuple

from deskmigrate.connectors.csv.decoding import DecodingStream
from deskmigrate.core.errors import SourceError

logger = logging.getLogger(__name__)

# The C parser (about 4x faster here than engine="python", the only one taking an on_bad_lines callable) reports a
# row with too many fields only as this ParserWarning (https://github.com/pandas-dev/pandas/issues/54296), and its
# "line" is the 1-based record number counting the header and blank lines, not the physical line
# (no structured report exists: https://github.com/pandas-dev/pandas/issues/9294).
BAD_LINE_WARNING = re.compile(r"Skipping line (\d+): expected (\d+) fields?, saw (\d+)")
FIRST_DATA_RECORD = 2


def _pandas() -> ModuleType:
    """pandas, imported when a file is first read: a plan whose files are unchanged reads none and starts faster."""
    import pandas

    return pandas


@dataclass(frozen=True)
class CsvTable:
    """One CSV file and how to parse it. `label` names it in locations ("contacts.csv:17")."""

    path: Path
    encoding: str = "utf-8-sig"
    delimiter: str = ","
    chunk_size: int = 50_000

    @property
    def label(self) -> str:
        return self.path.name


class CsvRow(NamedTuple):
    """A data row, the physical line it starts on, and what the user should know about it: (line, message) pairs
    for lines that were not valid text, and for a row with fewer fields than the header."""

    line: int
    cells: tuple[str, ...]
    notes: tuple[tuple[int, str], ...] = ()


class BadCsvRow(NamedTuple):
    """A row pandas skipped because it has more fields than the header; `fields` as Python's csv module splits it."""

    line: int
    reason: str
    fields: list[str]
    notes: tuple[tuple[int, str], ...] = ()


def open_stream(table: CsvTable, *, keep_lines: bool = True) -> DecodingStream:
    return DecodingStream(table.path, table.encoding, keep_lines=keep_lines)


def read_header(table: CsvTable) -> list[str]:
    """The column names exactly as written in the first row; a missing, empty or undecodable file is a SourceError."""
    with _source_errors(table), open_stream(table, keep_lines=False) as stream:
        frame = _pandas().read_csv(
            stream,
            header=None,
            nrows=1,
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=False,
            sep=table.delimiter,
            encoding="utf-8",
        )
    names = [str(name) for name in frame.iloc[0].tolist()]
    repeated = sorted({name for name in names if names.count(name) > 1 and name.strip()})
    if repeated:
        raise SourceError(f"{table.path}: the header names these columns more than once: {', '.join(repeated)}")
    return names


def iter_rows(table: CsvTable, header: list[str]) -> Iterator[CsvRow | BadCsvRow]:
    """Every data row in file order with its first physical line; rows with too many fields come as BadCsvRow.

    Blank lines are skipped. Line numbers stay exact across quoted line breaks and skipped rows: pandas gives each
    skipped row's record number, and the span of a skipped row is measured by re-splitting just that row. A row
    whose last cell is empty may be one pandas padded (it fills missing cells with ""): its fields are counted.
    """
    next_line = 2 + sum(newlines_in(name) for name in header)
    next_record = FIRST_DATA_RECORD
    width = len(header)
    with _source_errors(table, lambda: next_line), open_stream(table) as stream:
        for columns, bad_records in _chunks(table, stream):
            pending = deque(bad_records)
            extra_lines = _extra_lines_per_row(columns)
            last_cells = columns[-1] if width > 1 else None
            for position, cells in enumerate(zip(*columns, strict=True)):
                while pending and pending[0][0] <= next_record:
                    bad_row, span = _bad_row(stream, table, pending.popleft(), next_record, next_line)
                    yield bad_row
                    next_line += span
                    next_record += 1
                line = next_line
                span = 1 + (extra_lines[position] if extra_lines else 0)
                next_line += span
                next_record += 1
                if not any(cells):
                    continue
                notes: tuple[tuple[int, str], ...] = ()
                if stream.events and stream.events[0].line < next_line:
                    notes = tuple(stream.take_events(next_line))
                if last_cells is not None and not last_cells[position]:
                    count = _field_count(stream, table.delimiter, line, span)
                    if count < width:
                        notes += ((line, f"the row has {count} fields but the header has {width}; the missing cells are empty"),)
                yield CsvRow(line, cells, notes)
            while pending:
                bad_row, span = _bad_row(stream, table, pending.popleft(), next_record, next_line)
                yield bad_row
                next_line += span
                next_record += 1
            stream.window.release_before(next_line)


def newlines_in(text: str) -> int:
    """Physical line breaks inside a cell: \\n, \\r\\n and a lone \\r each count once."""
    if "\r" not in text:
        return text.count("\n")
    return text.count("\n") + text.count("\r") - text.count("\r\n")


def _extra_lines_per_row(columns: list[list[str]]) -> list[int] | None:
    """Line breaks inside each row's cells, or None when the chunk has none (the usual case, checked column-wise)."""
    counts: list[int] | None = None
    for values in columns:
        joined = "".join(values)
        if "\n" not in joined and "\r" not in joined:
            continue
        if counts is None:
            counts = [0] * len(values)
        for position, value in enumerate(values):
            if "\n" in value or "\r" in value:
                counts[position] += newlines_in(value)
    return counts


def _field_count(stream: DecodingStream, delimiter: str, line: int, span: int) -> int:
    """How many fields the row at physical `line` really has (a one-line row without quotes: its delimiters + 1)."""
    if span == 1:
        text = stream.window.line(line)
        if '"' not in text:
            return text.count(delimiter) + 1
    return len(next(csv.reader(stream.window.lines_from(line), delimiter=delimiter, strict=False), []))


def _chunks(table: CsvTable, stream: DecodingStream) -> Iterator[tuple[list[list[str]], list[tuple[int, str]]]]:
    """Each chunk as a list of column value lists, with the (record number, reason) of the rows pandas skipped in it."""
    with _source_errors(table):
        reader = _pandas().read_csv(
            stream,
            header=0,
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=False,
            index_col=False,
            sep=table.delimiter,
            encoding="utf-8",
            on_bad_lines="warn",
            chunksize=table.chunk_size,
            engine="c",
        )
    with reader:
        while True:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    frame = next(reader)
                except StopIteration:
                    return
            columns = [frame.iloc[:, index].tolist() for index in range(frame.shape[1])]
            yield columns, _bad_records(caught)


def _bad_records(caught: list[warnings.WarningMessage]) -> list[tuple[int, str]]:
    bad = []
    for warning in caught:
        for message in str(warning.message).splitlines():
            match = BAD_LINE_WARNING.search(message)
            if match:
                record, expected, seen = (int(group) for group in match.groups())
                bad.append((record, f"the row has {seen} fields but the header has {expected}"))
            elif message.strip():
                logger.warning("CSV parser: %s", message.strip())
    return sorted(bad)


def _bad_row(stream: DecodingStream, table: CsvTable, bad: tuple[int, str], next_record: int, next_line: int) -> tuple[BadCsvRow, int]:
    """The skipped row starting at `next_line`, re-split by Python's csv module from the decoded lines, and its span."""
    record, reason = bad
    if record != next_record:
        logger.warning("CSV line accounting lost track at record %d (expected %d): later line numbers may be off", record, next_record)
    stream.window.release_before(next_line)
    reader = csv.reader(stream.window.lines_from(next_line), delimiter=table.delimiter, strict=False)
    fields = next(reader, [])
    span = max(1, reader.line_num)
    notes = tuple(stream.take_events(next_line + span))
    return BadCsvRow(next_line, reason, fields, notes), span


@contextmanager
def _source_errors(table: CsvTable, current_line: Callable[[], int] | None = None) -> Iterator[None]:
    """Turn the ways reading a file can fail into one SourceError that names the file and says what to do."""
    path = table.path
    pd = _pandas()
    try:
        yield
    except FileNotFoundError:
        raise SourceError(f"{path}: file not found") from None
    except UnicodeDecodeError as error:
        where = f" at or after line {current_line()}" if current_line else ""
        raise SourceError(
            f"{path}: not valid {table.encoding} text{where} ({error.reason}); set `encoding:` for this file, e.g. cp1252"
        ) from None
    except pd.errors.EmptyDataError:
        raise SourceError(f"{path}: the file is empty; it needs at least a header row") from None
    except pd.errors.ParserError as error:
        raise SourceError(f"{path}: cannot parse the CSV: {str(error).strip()}") from None
    except OSError as error:
        raise SourceError(f"{path}: cannot read the file: {error.strerror or error}") from None
