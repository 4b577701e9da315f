"""A migration project opened: its config, source section and mapping validated together, its connector, its state
folder (ledger, reports) — and how the steps of a command (deskmigrate.extraction, .planning, .loading) report progress."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from deskmigrate.core.config import LoadedConfig, load_config, validate_section
from deskmigrate.core.errors import MappingError, Problem
from deskmigrate.core.files import SourceFiles
from deskmigrate.core.ledger import Ledger
from deskmigrate.core.source import Connector, SourceContext
from deskmigrate.core.yamlfile import LocatedYaml
from deskmigrate.registry import connector_class
from deskmigrate.transforms import MappingSpec, load_mapping


class Progress(Protocol):
    """How the pipeline reports progress; the CLI draws bars, tests pass a silent one."""

    def start(self, task: str, total: int | None) -> None: ...
    def advance(self, task: str, n: int = 1) -> None: ...
    def count(self, task: str, outcome: str, n: int = 1) -> None: ...  # "rejected", "failed": shown beside the bar
    def finish(self, task: str) -> None: ...


class SilentProgress:
    def start(self, task: str, total: int | None) -> None:
        pass

    def count(self, task: str, outcome: str, n: int = 1) -> None:
        pass

    def advance(self, task: str, n: int = 1) -> None:
        pass

    def finish(self, task: str) -> None:
        pass


@dataclass
class Project:
    """A validated config with its connector and mapping: everything a command needs."""

    loaded: LoadedConfig
    connector: Connector
    spec: MappingSpec

    @property
    def state_dir(self) -> Path:
        return self.loaded.resolve(self.loaded.config.state)

    @property
    def secrets(self) -> list[str]:
        return self.loaded.secrets

    def ledger(self) -> Ledger:
        return Ledger(self.state_dir / "ledger.db")


def read_project(config_path: Path) -> Project:
    """Validate the config, the source section and the mapping; raise one error listing every problem."""
    checked: dict[str, Any] = {}

    def check_source_and_mapping(data: dict[str, Any], located: LocatedYaml, base_dir: Path) -> list[Problem]:
        source = data.get("source") if isinstance(data.get("source"), dict) else None
        if source is None or not isinstance(source.get("type"), str):
            return []
        try:
            connector_type = connector_class(source["type"])
        except KeyError as unknown:
            return [located.problem(("source", "type"), str(unknown.args[0]))]
        source_config, problems = validate_section(connector_type.config_model, source, located, ("source",))
        mapping_ref = data.get("mapping")
        if isinstance(mapping_ref, str) and ("/" in mapping_ref or mapping_ref.endswith((".yaml", ".yml"))):
            mapping_ref = base_dir / mapping_ref
        overrides = data.get("overrides") or []
        overrides = [overrides] if isinstance(overrides, str) else overrides
        try:
            checked["spec"] = load_mapping(source["type"], mapping_ref, [base_dir / str(p) for p in overrides])
        except MappingError as error:
            problems.extend(error.problems)
        checked["connector_type"], checked["source_config"] = connector_type, source_config
        return problems

    loaded = load_config(config_path, check_source_and_mapping)
    connector = checked["connector_type"](checked["source_config"], SourceContext(base_dir=loaded.base_dir, cursors=None))
    return Project(loaded=loaded, connector=connector, spec=checked["spec"])


def bind_cursors(project: Project, ledger: Ledger) -> None:
    """The connector keeps its source cursors (for deltas) in the project's ledger."""
    project.connector.context.cursors = ledger


def source_files(project: Project) -> SourceFiles | None:
    """The source's own file access (credentials kept to its hosts), for Help Center images and attachments."""
    return project.connector.source_files()


def write_report(project: Project, run_id: str, report: dict[str, Any]) -> Path:
    """The machine-readable report of one run, in the state folder (0600: it names customer records)."""
    folder = project.state_dir / "reports"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = folder / f"{run_id}.json"
    text = json.dumps(report, indent=2, default=str, ensure_ascii=False)
    for secret in project.secrets:
        text = text.replace(secret, "***")
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    return path
