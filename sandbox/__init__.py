"""A local emulator of the Intercom REST API (2.15), persisted in SQLite, for tests and offline rehearsals."""

from deskmigrate.sandbox.server import SandboxServer
from deskmigrate.sandbox.settings import SandboxSettings
from deskmigrate.sandbox.store import SandboxStore

__all__ = ["SandboxServer", "SandboxSettings", "SandboxStore"]
