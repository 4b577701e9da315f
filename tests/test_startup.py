"""Start-up stays light: importing the CLI pulls in none of the heavy parts a command may not need (issue 14, item 1)."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("zenpy", "pandas", "nh3", "deskmigrate.sandbox")


def test_importing_the_cli_imports_nothing_heavy() -> None:
    probe = f"import sys, deskmigrate.cli; print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == ""
