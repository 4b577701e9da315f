"""Rows exported on stdout for other tools: CSV with a header, or one JSON array (rejections, failures)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from enum import StrEnum
from typing import Any, TextIO


class ExportFormat(StrEnum):
    csv = "csv"
    json = "json"


def export_rows(rows: Iterable[dict[str, Any]], columns: list[str], form: ExportFormat, out: TextIO) -> int:
    """Every row, streamed: CSV with a header, or one JSON document (an array of objects); returns how many."""
    count = 0
    if form is ExportFormat.csv:
        writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({column: "" if row.get(column) is None else row.get(column) for column in columns})
            count += 1
        return count
    out.write("[")
    for row in rows:
        out.write(("\n  " if count == 0 else ",\n  ") + json.dumps({column: row.get(column) for column in columns}, ensure_ascii=False))
        count += 1
    out.write("\n]\n" if count else "]\n")
    return count
