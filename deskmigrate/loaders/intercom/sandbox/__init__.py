"""A local emulator of the Intercom REST API (2.15), persisted in SQLite, for tests and offline rehearsals."""

from deskmigrate.loaders.intercom.sandbox.server import SandboxServer
from deskmigrate.loaders.intercom.sandbox.settings import SandboxSettings
from deskmigrate.loaders.intercom.sandbox.store import SandboxStore

__all__ = ["SandboxServer", "SandboxSettings", "SandboxStore"]
