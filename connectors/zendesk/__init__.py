"""Zendesk source connector (built on zenpy): incremental exports → canonical records."""

from deskmigrate.connectors.zendesk.config import ZendeskSourceConfig
from deskmigrate.connectors.zendesk.connector import ZendeskConnector

__all__ = ["ZendeskConnector", "ZendeskSourceConfig"]
