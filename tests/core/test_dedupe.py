"""Records and cursors met twice in one read: the newest record version is kept once, a repeated cursor stops the read."""

from __future__ import annotations

import pytest

from deskmigrate.core.dedupe import RecentIds, SeenCursors
from deskmigrate.core.errors import SourceError


def test_a_record_met_again_passes_only_when_it_is_newer() -> None:
    recent = RecentIds()
    assert recent.is_new_or_newer(7, "2024-03-01T09:00:00Z")
    assert not recent.is_new_or_newer("7", "2024-03-01T09:00:00Z")  # ids compare as text
    assert not recent.is_new_or_newer(7, "2024-02-01T09:00:00Z")
    assert recent.is_new_or_newer(7, "2024-03-02T09:00:00Z")


def test_first_time_ignores_versions() -> None:
    recent = RecentIds()
    assert recent.first_time(200)
    assert not recent.first_time(200)
    assert recent.first_time(201)


def test_memory_is_bounded_by_forgetting_the_oldest_ids() -> None:
    recent = RecentIds(capacity=2)
    for record_id in (1, 2, 3):
        assert recent.first_time(record_id)
    assert recent.first_time(1)  # forgotten
    assert not recent.first_time(3)


def test_a_repeated_cursor_is_an_error_naming_the_listing() -> None:
    seen = SeenCursors("GET /tickets", "Freshdesk", "next page")
    seen.check("https://acme.freshdesk.com/api/v2/tickets?page=2")
    with pytest.raises(SourceError, match=r"GET /tickets: Freshdesk returned next page .*page=2' twice"):
        seen.check("https://acme.freshdesk.com/api/v2/tickets?page=2")
