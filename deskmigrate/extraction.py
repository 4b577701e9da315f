"""Extraction: every entity the source has streamed into the ledger's staging, page by page with its cursor; an entity
whose files are unchanged since this project's last complete read of them is not read again (deskmigrate.source_reads)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from deskmigrate.core.ledger import SKIPPED, Ledger
from deskmigrate.core.model import Record, SourceNotice, SourceRejection
from deskmigrate.core.source import SourceCheckpoint
from deskmigrate.project import Progress, Project, bind_cursors
from deskmigrate.source_reads import EntityRead, fingerprint, forget_read, last_read, remember_read

log = logging.getLogger(__name__)

STAGE_BATCH = 500
NOTICE_EXAMPLES = 20


@dataclass
class ExtractResult:
    staged: dict[str, int] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)
    duplicates: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)  # left out on purpose by the source (deleted there)
    notices: list[dict[str, Any]] = field(default_factory=list)
    notice_count: int = 0
    # entities not read again, their files unchanged since the complete read of this run: their counts are that read's
    unchanged: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "staged": self.staged, "rejected": self.rejected, "duplicates": self.duplicates, "skipped": self.skipped,
            "notices": self.notices, "notice_count": self.notice_count, "unchanged": self.unchanged,
        }

    def counts(self) -> tuple[dict[str, int], ...]:
        return self.staged, self.rejected, self.duplicates, self.skipped


def describe_source_reading(project: Project, ledger: Ledger) -> dict[str, Any] | None:
    """How the next extract will read the source (endpoints, strategy, estimated calls), for connectors that can say."""
    bind_cursors(project, ledger)
    return project.connector.describe_plan()


def extract(project: Project, ledger: Ledger, run_id: str, progress: Progress, since: datetime | None = None) -> ExtractResult:
    """Stream every entity the source has into the ledger, page by page, with its cursor in the same transaction."""
    bind_cursors(project, ledger)
    result = ExtractResult()
    source = project.connector.name
    for entity in project.connector.entities():
        files = project.connector.files_read(entity) if since is None else None
        marker = fingerprint(project.loaded.config.source.model_dump(mode="json"), files, project.secrets) if files is not None else None
        earlier = last_read(ledger, source, entity) if marker is not None else None
        if earlier is not None and earlier.fingerprint == marker:
            _said_again(result, earlier)
            result.unchanged[entity] = earlier.run_id
            log.info("%s: not read again, its files are unchanged since run %s", entity, earlier.run_id)
            continue
        before = [dict(counts) for counts in result.counts()], len(result.notices), result.notice_count
        forget_read(ledger, source, entity)
        fresh = ledger.get_cursor(source, entity) is None and since is None
        if fresh:
            ledger.clear_failures(entity, "extract")
        progress.start(f"extract {entity}", None)
        batch: list[Record] = []
        produced: set[str] = set()
        for item in project.connector.read(entity, since=since):
            if not isinstance(item, SourceCheckpoint):
                produced.add(item.entity)
            if isinstance(item, SourceCheckpoint):
                _stage(ledger, run_id, batch, result, (source, item.entity, item.cursor))
                batch = []
            elif isinstance(item, SourceRejection):
                key = item.source_id or item.location
                ledger.record_failure(run_id, "extract", item.entity, key, f"{item.location}: {item.reason}", field=item.field)
                result.rejected[item.entity] = result.rejected.get(item.entity, 0) + 1
            elif isinstance(item, SourceNotice):
                if item.skip_reason and item.source_id:
                    ledger.record_notice(run_id, item.entity, item.source_id, SKIPPED, item.skip_reason)
                    result.skipped[item.entity] = result.skipped.get(item.entity, 0) + 1
                _notice(result, item.entity, item.source_id, item.location, item.message)
            else:
                batch.append(item)
                progress.advance(f"extract {entity}")
                if len(batch) >= STAGE_BATCH:
                    _stage(ledger, run_id, batch, result, None)
                    batch = []
        _stage(ledger, run_id, batch, result, None)
        if fresh:
            # One read can yield several kinds (Zendesk users: contacts and agents): a full re-read settles the
            # old extract failures of every kind it produced that it did not report again.
            for other in produced - {entity}:
                ledger.clear_stale_failures(other, "extract", run_id)
        progress.finish(f"extract {entity}")
        if marker is not None:
            remember_read(ledger, source, entity, _what_the_read_added(result, before, run_id, marker))
    return result


def _what_the_read_added(result: ExtractResult, before: tuple[list[dict[str, int]], int, int], run_id: str, marker: str) -> EntityRead:
    counts_before, notices_before, notice_count_before = before
    added = [{kind: n - earlier.get(kind, 0) for kind, n in now.items() if n != earlier.get(kind, 0)}
             for now, earlier in zip(result.counts(), counts_before, strict=True)]
    return EntityRead(run_id, marker, staged=added[0], rejected=added[1], duplicates=added[2], skipped=added[3],
                      notices=result.notices[notices_before:], notice_count=result.notice_count - notice_count_before)


def _said_again(result: ExtractResult, earlier: EntityRead) -> None:
    """An entity not read again counts what its last read found, and says its notices again."""
    for mine, theirs in zip(result.counts(), (earlier.staged, earlier.rejected, earlier.duplicates, earlier.skipped), strict=True):
        for kind, n in theirs.items():
            mine[kind] = mine.get(kind, 0) + n
    result.notice_count += earlier.notice_count
    result.notices.extend(earlier.notices[: max(0, NOTICE_EXAMPLES - len(result.notices))])


def _stage(ledger: Ledger, run_id: str, batch: list[Record], result: ExtractResult, cursor: tuple[str, str, str] | None) -> None:
    if not batch and cursor is None:
        return
    for duplicate in ledger.stage(run_id, batch, cursor):
        entity = duplicate.entity
        result.duplicates[entity] = result.duplicates.get(entity, 0) + 1
        result.staged[entity] = result.staged.get(entity, 0) - 1  # the record replaces one staged earlier: not one more
        places = [place for place in (duplicate.previous_location, duplicate.record.location) if place]
        where = f" ({' and '.join(places)})" if places else ""
        _notice(result, entity, duplicate.source_id, duplicate.record.location,
                f"duplicate source id {duplicate.source_id!r}{where}: the last occurrence wins")
    for record in batch:
        entity = record.entity  # type: ignore[attr-defined]
        result.staged[entity] = result.staged.get(entity, 0) + 1


def _notice(result: ExtractResult, entity: str, source_id: str | None, location: str | None, message: str) -> None:
    result.notice_count += 1
    if len(result.notices) < NOTICE_EXAMPLES:
        result.notices.append({"entity": entity, "source_id": source_id, "location": location, "message": message})

