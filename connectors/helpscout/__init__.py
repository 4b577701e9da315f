"""Help Scout source connector: Mailbox API 2.0 (OAuth2 client credentials) and Docs API v1 → canonical records."""

from deskmigrate.connectors.helpscout.config import HelpScoutSourceConfig
from deskmigrate.connectors.helpscout.connector import HelpScoutConnector

__all__ = ["HelpScoutConnector", "HelpScoutSourceConfig"]
