"""JsonlConnector: each entity's JSON Lines file streamed line by line as canonical records, deltas by updated_at."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import ClassVar

from deskmigrate.connectors.jsonl.config import ENTITIES, SUFFIXES, JsonlSourceConfig
from deskmigrate.connectors.jsonl.lines import Line, open_lines, read_lines
from deskmigrate.connectors.jsonl.records import attachment_url_in, build_record
from deskmigrate.core.errors import SourceError
from deskmigrate.core.files import FolderFiles
from deskmigrate.core.model import Record, SourceNotice, SourceRejection, as_utc
from deskmigrate.core.source import Connector, SourceCheckpoint, SourceContext, StreamItem
from deskmigrate.core.timeparse import iso_utc, parse_iso_time

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReadPosition:
    """Where the read of one file stands, saved as the entity's cursor.

    `since`: records updated before it are not read again (None: read all). While a read is under way, `line` lines
    of the file `file` (its size and modification time) are staged and `newest` is the newest updated_at among
    them; once it completes, `newest` becomes the next read's `since`.
    """

    since: str | None = None
    line: int = 0
    newest: str | None = None
    file: str | None = None

    def encode(self) -> str:
        values = {"since": self.since} | ({"line": self.line, "newest": self.newest, "file": self.file} if self.file else {})
        return json.dumps(values, sort_keys=True)

    @classmethod
    def decode(cls, text: str) -> ReadPosition:
        try:
            values = json.loads(text)
            return cls(since=values.get("since"), line=int(values.get("line", 0)), newest=values.get("newest"), file=values.get("file"))
        except (ValueError, TypeError, AttributeError):
            raise SourceError(f"the saved JSON Lines cursor {text[:80]!r} is unreadable; run with --since or reset the state") from None


class JsonlConnector(Connector):
    """Reads <entity>.jsonl files (see JsonlSourceConfig); each line is one record in the canonical model's shape."""

    name: ClassVar[str] = "jsonl"
    config_model: ClassVar[type[JsonlSourceConfig]] = JsonlSourceConfig

    def __init__(self, config: JsonlSourceConfig, context: SourceContext) -> None:
        self.config = config
        self.context = context
        self._configured: dict[str, Path] = dict(config.files)

    def folder(self) -> Path:
        folder = self.config.folder
        return folder if folder.is_absolute() else self.context.base_dir / folder

    def file_of(self, entity: str) -> Path | None:
        """The entity's file: as configured (it must exist), else <entity>.jsonl or .jsonl.gz in the folder when there."""
        configured = self._configured.get(entity)
        if configured is not None:
            return configured if configured.is_absolute() else self.folder() / configured
        return next((path for path in (self.folder() / f"{entity}{suffix}" for suffix in SUFFIXES) if path.is_file()), None)

    def entities(self) -> list[str]:
        found = [entity for entity in ENTITIES if self.file_of(entity) is not None]
        if not found:
            names = ", ".join(f"{entity}.jsonl" for entity in ENTITIES)
            raise SourceError(f"no JSON Lines file in {self.folder()}: name them {names} (or .jsonl.gz), or list them under source.files")
        return found

    def check(self) -> bool:
        """Every configured file exists and opens, and the folder holds at least one entity's file."""
        problems = []
        if not self.folder().is_dir():
            problems.append(f"{self.folder()}: no such folder (source.folder)")
        for entity in self._configured:
            file = self.file_of(entity)
            if file is not None and not file.is_file():
                problems.append(f"{file}: no such file (source.files.{entity})")
        if not problems:
            try:
                for entity in self.entities():
                    with open_lines(self.file_of(entity) or self.folder()) as handle:
                        handle.read(1)
            except (SourceError, OSError, EOFError) as error:
                problems.append(str(error))
        if problems:
            raise SourceError("\n".join(problems))
        return True

    def files_read(self, entity: str) -> list[Path] | None:
        path = self.file_of(entity)
        return [path] if path is not None and path.is_file() else None

    def source_files(self) -> FolderFiles:
        """Attachments given by paths: read from the export folder, and from nowhere else on this machine."""
        return FolderFiles(self.folder())

    def read(self, entity: str, since: datetime | None = None) -> Iterator[StreamItem]:
        """Stream the entity's file: records, rejected lines, notices, and a checkpoint every `checkpoint_lines` lines.

        A missing file raises SourceError before any record. `since` wins over the saved cursor.
        """
        if entity not in ENTITIES:
            raise SourceError(f"the JSON Lines source has no entity {entity!r}; it reads {', '.join(ENTITIES)}")
        path = self.file_of(entity)
        if path is None or not path.is_file():
            raise SourceError(f"{path or self.folder() / f'{entity}.jsonl'}: no such file")
        return self._stream(entity, path, self._start(entity, since))

    def _start(self, entity: str, since: datetime | None) -> ReadPosition:
        if since is not None:
            return ReadPosition(since=iso_utc(since))
        saved = self.context.cursors.get_cursor(self.name, entity) if self.context.cursors else None
        if not saved:
            return ReadPosition()
        position = ReadPosition.decode(saved)
        return position if self.config.deltas or position.file else ReadPosition()

    def _stream(self, entity: str, path: Path, position: ReadPosition) -> Iterator[StreamItem]:
        stat = path.stat()
        file = f"{stat.st_size}:{stat.st_mtime_ns}"
        label = path.name
        resume_after = position.line if position.file == file else 0
        if position.file and not resume_after:
            log.info("%s changed since the read that was cut short: reading it from the start", label)
        newest = as_utc(parse_iso_time(position.newest)) if resume_after else None
        cutoff = as_utc(parse_iso_time(position.since))
        attachment_url = attachment_url_in(self.source_files())
        counts = {"records": 0, "rejected": 0, "unchanged": 0}
        lines_since_checkpoint = 0
        for line in read_lines(path):
            if line.number <= resume_after:
                continue
            items = _items_of(entity, line, f"{label}:{line.number}", attachment_url)
            record = items[-1]
            updated = record.updated_at if isinstance(record, Record) and isinstance(record.updated_at, datetime) else None
            newest = max(newest, updated) if newest is not None and updated is not None else newest or updated
            if cutoff is not None and updated is not None and updated < cutoff:
                counts["unchanged"] += 1
            else:
                counts["rejected" if isinstance(record, SourceRejection) else "records"] += 1
                yield from items
            lines_since_checkpoint += 1
            if lines_since_checkpoint >= self.config.checkpoint_lines:
                lines_since_checkpoint = 0
                yield SourceCheckpoint(entity=entity, cursor=ReadPosition(position.since, line.number, iso_utc(newest) if newest else None, file).encode())
        if counts["unchanged"]:
            yield SourceNotice(entity=entity, location=label, message=f"{counts['unchanged']} record(s) not updated since {position.since}: not read again")
        after = ReadPosition(since=(iso_utc(newest) if newest else position.since) if self.config.deltas else None)
        yield SourceCheckpoint(entity=entity, cursor=after.encode())
        log.info("%s: %d records, %d rejected, %d not updated since the last read", label, counts["records"], counts["rejected"], counts["unchanged"])


def _items_of(entity: str, line: Line, location: str, attachment_url: Callable[[str], tuple[str, str | None]]) -> list[StreamItem]:
    """What one line gives: notes on what reading it cost, then its record or the rejection naming why there is none."""
    if line.value is None:
        return [SourceRejection(entity=entity, source_id=line.source_id, location=location, reason=line.problem or "unreadable")]
    built = build_record(entity, line.value, location, attachment_url)
    source_id = built.item.source_id
    notices = [SourceNotice(entity=entity, source_id=source_id, location=location, message=note) for note in (*line.notes, *built.notes)]
    return [*notices, built.item]
