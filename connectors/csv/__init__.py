"""The CSV source: companies, contacts and tags from CSV files, streamed with pandas."""

from deskmigrate.connectors.csv.config import CsvSourceConfig
from deskmigrate.connectors.csv.connector import CsvConnector

__all__ = ["CsvConnector", "CsvSourceConfig"]
