"""The rehearsal's sample: the tickets (or contacts) picked and why, kept in the rehearsal folder as sample.json."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from deskmigrate.core.model import Contact, Conversation

log = logging.getLogger(__name__)


REHEARSAL_FOLDER = "rehearsal"
SAMPLE_FILE = "sample.json"


Sampled = dict[str, Conversation | Contact]  # the sampled records by source id: tickets, or contacts for a source without tickets


@dataclass
class Pick:
    """One sampled ticket: the strata it was picked to cover first, and the others it also shows."""

    source_id: str
    subject: str | None
    picked_for: list[str]
    also: list[str] = field(default_factory=list)

    @property
    def reasons(self) -> list[str]:
        return self.picked_for + self.also


@dataclass
class Sample:
    size: int
    seed: str
    chosen_at: str
    tickets: list[Pick]
    articles: list[dict[str, Any]] = field(default_factory=list)  # {source_id, title, reasons}
    uncovered: list[str] = field(default_factory=list)  # strata found but not covered: more than N to cover
    target: str | None = None  # sandbox or intercom: where it was last rehearsed
    entity: str = "conversations"  # contacts for a source without tickets (a CSV of people and companies)
    profiled: int = 0  # tickets profiled from list endpoints
    read_whole: int = 0  # candidates whose whole history was read
    reused: bool = False

    def as_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k != "reused"}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Sample:
        tickets = [Pick(**t) for t in data["tickets"]]
        return cls(**{**data, "tickets": tickets, "reused": True})


def rehearsal_dir(state_dir: Path) -> Path:
    return state_dir / REHEARSAL_FOLDER


def stored_sample(folder: Path) -> Sample | None:
    path = folder / SAMPLE_FILE
    if not path.is_file():
        return None
    try:
        return Sample.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, TypeError, KeyError) as error:
        log.warning("the stored rehearsal sample %s is unreadable (%s): a new one is chosen", path, error)
        return None


def keep_sample(folder: Path, sample: Sample) -> Path:
    """sample.json, 0600: it names customer tickets."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = folder / SAMPLE_FILE
    path.write_text(json.dumps(sample.as_json(), indent=2, ensure_ascii=False), encoding="utf-8")
    path.chmod(0o600)
    return path
