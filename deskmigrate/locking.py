"""One run per state folder: a lock file naming its holder (pid, host, command, start time), held for the whole command.

The operating system's advisory lock (flock) on the file is the truth: it is released when the holding process
dies, however it dies (kill -9 included), so a lock left behind by a dead process is taken over, with a notice.
The JSON inside only names the holder for the message a second command prints.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from deskmigrate.core.errors import StateError

try:
    import fcntl
except ImportError:  # Windows: no flock; the holder's pid is checked instead
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

LOCK_NAME = "deskmigrate.lock"


@dataclass(frozen=True)
class LockHolder:
    pid: int
    host: str
    command: str
    started_at: float
    process_start: str | None = None

    def describe(self) -> str:
        since = datetime.fromtimestamp(self.started_at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        return f"`deskmigrate {self.command}` (pid {self.pid} on {self.host}, started {since})"

    def as_json(self) -> str:
        return json.dumps({"pid": self.pid, "host": self.host, "command": self.command, "started_at": self.started_at,
                           "process_start": self.process_start})

    @staticmethod
    def parse(text: str) -> LockHolder | None:
        try:
            data: dict[str, Any] = json.loads(text)
            return LockHolder(int(data["pid"]), str(data["host"]), str(data["command"]), float(data["started_at"]),
                              data.get("process_start"))
        except (ValueError, KeyError, TypeError):
            return None


class StateLockedError(StateError):
    """Another deskmigrate command holds this state folder."""

    def __init__(self, path: Path, holder: LockHolder | None) -> None:
        self.path = path
        self.holder = holder
        who = holder.describe() if holder else "another deskmigrate command (its lock file names no holder)"
        super().__init__(
            f"{who} is using the state folder {path.parent}; one run at a time per state folder. Wait for it to finish"
            + (f", or, if no such process is running on {holder.host}, delete {path}" if holder and holder.host != socket.gethostname()
               else "")
            + "."
        )


def process_start(pid: int) -> str | None:
    """When the process started (Linux /proc), so a pid reused by another program is not taken for the holder."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return fields[19]
    except (OSError, IndexError):
        return None


def is_running(holder: LockHolder) -> bool:
    """Whether the holder still runs: only answerable on its own host."""
    if holder.host != socket.gethostname():
        return True
    try:
        os.kill(holder.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return holder.process_start is None or process_start(holder.pid) in (None, holder.process_start)


@contextmanager
def state_lock(state_dir: Path, command: str) -> Iterator[LockHolder | None]:
    """Hold the state folder for one command; yields the dead holder whose lock was taken over, if any."""
    state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = state_dir / LOCK_NAME
    me = LockHolder(os.getpid(), socket.gethostname(), command, time.time(), process_start(os.getpid()))
    fd, previous = _acquire(path) if fcntl is not None else _acquire_without_flock(path, me)
    try:
        if previous is not None:
            log.warning("took over the lock of %s, which is no longer running", previous.describe())
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, me.as_json().encode())
        os.fsync(fd)
        yield previous
    finally:
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        os.close(fd)  # closing releases the flock


def _acquire(path: Path) -> tuple[int, LockHolder | None]:
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = LockHolder.parse(_read(fd))
            os.close(fd)
            raise StateLockedError(path, holder) from None
        try:
            same_file = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same_file = False
        if not same_file:  # the holder released it (and removed the file) while we opened it: try again
            os.close(fd)
            continue
        previous = LockHolder.parse(_read(fd))
        if previous is not None and previous.pid != os.getpid() and is_running(previous):
            # The flock was free yet the holder runs: a lock from another machine (flock may not reach across hosts on a
            # shared drive) or a file system without flock. Never assumed dead.
            os.close(fd)
            raise StateLockedError(path, previous)
        return fd, previous


def _acquire_without_flock(path: Path, me: LockHolder) -> tuple[int, LockHolder | None]:
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600), None
    except FileExistsError:
        holder = LockHolder.parse(path.read_text(encoding="utf-8", errors="replace"))
        if holder is not None and is_running(holder):
            raise StateLockedError(path, holder) from None
        path.unlink(missing_ok=True)
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600), holder


def _read(fd: int) -> str:
    os.lseek(fd, 0, os.SEEK_SET)
    return os.read(fd, 65536).decode("utf-8", errors="replace")
