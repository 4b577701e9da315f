"""The rehearsal's choice: a greedy cover of the strata, the rest by size; a resample prefers other tickets."""

from __future__ import annotations

from deskmigrate.core.sampling import TicketProfile
from deskmigrate.rehearsal.choosing import _cover
from deskmigrate.rehearsal.strata import BY_SUPPORT, REQUESTER_DELETED, profile_strata


def test_every_stratum_is_covered_by_as_few_tickets_as_the_greedy_cover_finds() -> None:
    strata = {"a": {"x": "", "y": ""}, "b": {"y": ""}, "c": {"z": ""}, "d": {}}
    picks, uncovered = _cover(strata, {"a": 1, "b": 9, "c": 1, "d": 50}, 3, "seed", set())
    assert [p[0] for p in picks] == ["a", "c", "d"] and uncovered == []
    assert picks[0][1] == ["x", "y"] and picks[2][1] == ["among the hardest left (longest history, most fields)"]


def test_strata_beyond_n_are_reported_uncovered() -> None:
    picks, uncovered = _cover({"a": {"x": ""}, "b": {"y": ""}, "c": {"z": ""}}, {"a": 1, "b": 1, "c": 1}, 2, "s", set())
    assert len(picks) == 2 and len(uncovered) == 1


def test_a_resample_takes_another_ticket_covering_as_much() -> None:
    strata = {"a": {"x": ""}, "b": {"x": ""}}
    first, _ = _cover(strata, {"a": 5, "b": 1}, 1, "s", set())
    again, _ = _cover(strata, {"a": 5, "b": 1}, 1, "t", {first[0][0]})
    assert first[0][0] == "a" and again[0][0] == "b"


def test_what_a_list_endpoint_shows() -> None:
    profile = TicketProfile(source_id="1", status="open", priority="high", form="Refunds", kind="incident", language="de", brand="Acme",
                            requester_state="deleted", opened_by="support team")
    assert set(profile_strata(profile)) == {"status: open", "priority: high", "ticket form: Refunds", "type: incident", "language: de",
                                            "brand/mailbox: Acme", REQUESTER_DELETED, BY_SUPPORT}
