"""Reads of file sources that need not happen again: an entity whose files (and source settings) are byte for byte
what its last complete read staged is not re-read, so a re-plan after a mapping edit only maps.

The ledger's meta keeps, per source and entity, a fingerprint (the content hash of every file the read depends on,
the source section with secrets masked, the deskmigrate version) and what that read found, to be said again.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deskmigrate import __version__
from deskmigrate.core.ledger import Ledger

READ_KEY = "extract.read.{source}.{entity}"


def fingerprint(source_settings: dict[str, Any], files: list[Path], secrets: list[str]) -> str:
    """What the read of an entity depends on, as one hash: the files' content, the source settings, this version."""
    settings = json.dumps(source_settings, sort_keys=True, default=str)
    for secret in secrets:
        settings = settings.replace(secret, "***")
    digest = hashlib.sha256(f"{__version__}\n{settings}\n".encode())
    for path in files:
        with path.open("rb") as handle:
            digest.update(f"{path.name}\n".encode())
            digest.update(hashlib.file_digest(handle, "sha256").digest())
    return digest.hexdigest()


@dataclass
class EntityRead:
    """What one complete read of an entity added to the extract's counts and notices."""

    run_id: str
    fingerprint: str
    at: float = field(default_factory=time.time)
    staged: dict[str, int] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)
    duplicates: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    notices: list[dict[str, Any]] = field(default_factory=list)
    notice_count: int = 0

    def as_json(self) -> str:
        return json.dumps(self.__dict__, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> EntityRead | None:
        try:
            return cls(**json.loads(text))
        except (ValueError, TypeError):
            return None


def last_read(ledger: Ledger, source: str, entity: str) -> EntityRead | None:
    stored = ledger.get_meta(READ_KEY.format(source=source, entity=entity))
    return EntityRead.from_json(stored) if stored else None


def remember_read(ledger: Ledger, source: str, entity: str, read: EntityRead) -> None:
    ledger.set_meta(READ_KEY.format(source=source, entity=entity), read.as_json())


def forget_read(ledger: Ledger, source: str, entity: str) -> None:
    """A read that did not complete (or read only changes) says nothing about the files: the next one reads them."""
    if ledger.get_meta(READ_KEY.format(source=source, entity=entity)) is not None:
        ledger.set_meta(READ_KEY.format(source=source, entity=entity), "")
