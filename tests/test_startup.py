"""Start-up stays light: importing the CLI, and building its --help, pull in none of the heavy parts a command may not
need (issue 14, item 1): each command imports what it runs when it runs."""

from __future__ import annotations

import subprocess
import sys

import pytest

# The source libraries, the CSV reader, HTML sanitising, the sandbox; HTTP, the config and canonical models (pydantic),
# YAML, progress bars, SQLite; and the application's own heavy modules, the floors below it included.
HEAVY = (
    "zenpy", "pandas", "nh3", "deskmigrate.sandbox",
    "requests", "urllib3", "pydantic", "yaml", "rich.progress", "sqlite3", "multiprocessing",
    "deskmigrate.core.config", "deskmigrate.core.model", "deskmigrate.core.ledger", "deskmigrate.core.http",
    "deskmigrate.connectors", "deskmigrate.transforms", "deskmigrate.loaders",
    "deskmigrate.lifecycle", "deskmigrate.project", "deskmigrate.target", "deskmigrate.extraction", "deskmigrate.planning",
    "deskmigrate.loading", "deskmigrate.planner", "deskmigrate.plans", "deskmigrate.triage", "deskmigrate.reconcile",
    "deskmigrate.progress_bars", "deskmigrate.plan_screen",
)

PROBES = {
    "import": "import deskmigrate.cli",
    # --help and --version build the click command from the Typer app: every option's type is resolved then.
    "help": "import typer.main, deskmigrate.cli; typer.main.get_command(deskmigrate.cli.app)",
}


def loaded_after(probe: str) -> list[str]:
    script = f"import sys; {probe}; print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.strip()
    return [name for name in loaded.split(",") if name]


@pytest.mark.parametrize("probe", sorted(PROBES))
def test_starting_the_cli_imports_nothing_heavy(probe: str) -> None:
    assert loaded_after(PROBES[probe]) == []


def test_the_probe_sees_a_heavy_import() -> None:
    loaded = loaded_after("import deskmigrate.cli, deskmigrate.planning")
    assert {"deskmigrate.planning", "deskmigrate.core.ledger", "pydantic", "yaml", "sqlite3"} <= set(loaded)
