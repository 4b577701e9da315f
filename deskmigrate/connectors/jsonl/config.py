"""The `source:` section for JSON Lines files: where the export folder is, and any file named otherwise."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from deskmigrate.core.model import Entity

# The canonical entities in the order they are read; each is a file <entity>.jsonl (or .jsonl.gz) in the folder.
ENTITIES: tuple[Entity, ...] = ("companies", "contacts", "agents", "collections", "articles", "conversations")
SUFFIXES = (".jsonl", ".jsonl.gz")


class JsonlSourceConfig(BaseModel):
    """Validated by the connector; `type: jsonl` selects it in the config file."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["jsonl"] = "jsonl"
    folder: Path = Field(Path("."), description="the export folder, relative to the config file: an entity's records are in "
                                                "<entity>.jsonl or <entity>.jsonl.gz there, attachments given by relative paths too")
    files: dict[Entity, Path] = Field(default_factory=dict, description="an entity's file by another name or place (relative to the folder)")
    deltas: bool = Field(True, description="after a complete read, later runs skip records whose updated_at is older than the newest "
                                           "that read saw; false reads every line every run (the ledger still sends only what changed)")
    checkpoint_lines: int = Field(1000, ge=1, description="lines between saved read positions: a read cut short resumes at the last one")
