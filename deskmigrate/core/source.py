"""The contract every source connector fulfils; connectors meet the rest of the tool only through it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, Protocol, Union

import requests
from pydantic import BaseModel, ConfigDict

from deskmigrate.core.model import CanonicalRecord, SourceNotice, SourceRejection


class SourceCheckpoint(BaseModel):
    """Yielded after the records of one source page: once they are staged, `cursor` is saved with them.

    A killed extraction resumes from the last saved cursor; a later run reads from it as a delta.
    """

    model_config = ConfigDict(extra="forbid")
    entity: str
    cursor: str


StreamItem = Union[CanonicalRecord, SourceRejection, SourceNotice, SourceCheckpoint]


class CursorStore(Protocol):
    """Where a connector finds the cursor it last checkpointed for an entity (the ledger implements it)."""

    def get_cursor(self, source: str, entity: str) -> str | None: ...


@dataclass
class SourceContext:
    """What the application hands a connector: where relative paths start, an HTTP session, saved cursors."""

    base_dir: Path
    session: requests.Session | None = None
    cursors: CursorStore | None = None
    options: dict[str, Any] = field(default_factory=dict)


class Connector(Protocol):
    """One class per source. `read` streams canonical records, rejections, notices and checkpoints."""

    name: ClassVar[str]
    config_model: ClassVar[type[BaseModel]]

    def entities(self) -> list[str]: ...

    def read(self, entity: str, since: datetime | None = None) -> Iterator[StreamItem]: ...
