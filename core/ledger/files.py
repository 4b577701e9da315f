"""The ledger's file: created private, found lost beside earlier runs' files, set aside to start over."""

from __future__ import annotations

import os
import sqlite3
import time
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from pathlib import Path

from deskmigrate.core.errors import LedgerLostError, StateError

# Files an earlier run leaves in the state folder: with any of them there, a missing ledger is lost, not new.
HISTORY_MARKERS = (("reports", "*.json", "run report"), ("logs", "*.log", "run log"), ("plan", "*.jsonl", "plan file"),
                   ("plans", "*/summary.json", "kept plan"))


def _create_private_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.chmod(path.parent, 0o700)
    except OSError:
        pass
    # An existing file is never opened outside SQLite: closing any descriptor of it drops the POSIX locks of this
    # process's open connections (https://www.sqlite.org/howtocorrupt.html, section 2.2).
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
    except FileExistsError:
        pass
    else:
        os.close(fd)
    os.chmod(path, 0o600)


def _deskmigrate_version() -> str:
    try:
        return package_version("deskmigrate")
    except PackageNotFoundError:
        return "unknown"


def _utc_stamp(moment: float) -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(moment))


def state_history(state_dir: Path) -> list[str]:
    """What earlier runs left in a state folder (reports, logs, plan files), as counted phrases; empty for a new folder."""
    found = []
    for folder, pattern, label in HISTORY_MARKERS:
        count = len(list((state_dir / folder).glob(pattern))) if (state_dir / folder).is_dir() else 0
        if count:
            found.append(f"{count} {label}{'s' if count != 1 else ''} in {folder}/")
    return found


def ledger_copies(path: Path) -> list[Path]:
    """Copies of the ledger beside it: taken before a schema migration (.bak), or set aside by --new-ledger (.lost-…)."""
    return sorted(p for p in path.parent.glob(path.name + ".*") if p.name.endswith(".bak") or ".lost-" in p.name)


def _lost(path: Path, reason: str, history: list[str]) -> LedgerLostError:
    copies = ledger_copies(path)
    where = f", or one of the copies beside it: {', '.join(p.name for p in copies)}" if copies else ""
    lines = [
        f"the ledger {path} is {reason}, but this state folder shows earlier runs ({', '.join(history)}).",
        "Without the ledger deskmigrate cannot tell what it created from what was there before, so nothing was done.",
        f"  • to go on: put the ledger back at {path} (from your backups{where}) and run the command again;",
        "  • to start over deliberately: run with --new-ledger. Records already in Intercom are then adopted as they are now:",
        "    their fields, tags and company links count as pre-existing, so no rollback will remove them.",
    ]
    return LedgerLostError("\n".join(lines), path=str(path), reason=reason, history=history, backups=[str(p) for p in copies])


def _set_aside(path: Path) -> None:
    """Start over (--new-ledger): a lost ledger and its sidecars are renamed aside, never deleted; a healthy one is refused."""
    if path.exists() and path.stat().st_size > 0:
        try:
            probe = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            try:
                runs = probe.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
            finally:
                probe.close()
        except sqlite3.DatabaseError:
            runs = 0
        if runs:
            raise StateError(f"the ledger {path} is not lost: it records {runs} run(s). --new-ledger only starts over when the "
                             "ledger is missing, empty or unreadable")
    stamp = _utc_stamp(time.time())
    for suffix in ("", "-wal", "-shm"):
        old = Path(str(path) + suffix)
        if old.exists():
            old.rename(path.with_name(f"{path.name}.lost-{stamp}{suffix}"))
