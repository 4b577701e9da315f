"""Freshdesk source connector (API v2 on requests): updated_since windows → canonical records."""

from deskmigrate.connectors.freshdesk.config import FreshdeskSourceConfig
from deskmigrate.connectors.freshdesk.connector import FreshdeskConnector

__all__ = ["FreshdeskConnector", "FreshdeskSourceConfig"]
