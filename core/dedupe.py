"""Reading the same thing twice: records met again within one read, and cursors or next links a source repeats."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from deskmigrate.core.errors import SourceError

RECENT_IDS_KEPT = 10_000


class RecentIds:
    """Record ids met recently in one read (page boundaries, overlapping windows), with their updated_at; memory bounded."""

    def __init__(self, capacity: int = RECENT_IDS_KEPT) -> None:
        self._capacity = capacity
        self._seen: OrderedDict[str, str] = OrderedDict()

    def is_new_or_newer(self, record_id: Any, updated_at: Any) -> bool:
        """True for an id not met yet, or met with an older updated_at: the newest version of a record wins."""
        key, stamp = str(record_id), str(updated_at or "")
        previous = self._seen.get(key)
        if previous is not None and previous >= stamp:
            return False
        self._seen[key] = stamp
        self._seen.move_to_end(key)
        if len(self._seen) > self._capacity:
            self._seen.popitem(last=False)
        return True

    def first_time(self, record_id: Any) -> bool:
        """True for an id not met yet, whatever its version: for sources whose lists carry no usable updated_at."""
        return self.is_new_or_newer(record_id, None)


class SeenCursors:
    """The cursors (or next-page links) one listing returned: one coming back is a SourceError, never an endless loop."""

    def __init__(self, where: str, vendor: str, what: str = "cursor") -> None:
        self.where = where
        self.vendor = vendor
        self.what = what
        self._seen: set[str] = set()

    def check(self, cursor: str) -> None:
        if cursor in self._seen:
            raise SourceError(f"{self.where}: {self.vendor} returned {self.what} {cursor!r} twice; stopping instead of looping")
        self._seen.add(cursor)
