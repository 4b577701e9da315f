"""Choosing the sample: every ticket profiled, the few best candidates per stratum read whole, and a greedy set cover
picking N of them (or N contacts, for a source without tickets)."""

from __future__ import annotations

import hashlib
import heapq
import secrets
from collections.abc import Callable
from datetime import UTC, datetime

from deskmigrate.core.model import Contact, Conversation
from deskmigrate.core.sampling import ContentFacts, TicketProfile, content_facts
from deskmigrate.core.source import Connector
from deskmigrate.rehearsal.sample import Pick, Sample
from deskmigrate.rehearsal.strata import (
    BY_SUPPORT,
    BY_TEAMMATE,
    LONGEST,
    MERGED,
    MOST_ATTACHMENTS,
    MOST_INLINE,
    contact_strata,
    content_strata,
    profile_strata,
)

# Candidates kept per stratum value while profiling: enough that a resample can pick another one.
PER_STRATUM = 3
# The longest, most attached, most illustrated: this many tickets among the candidates carry the reason.
TOP = 2
POOL_SEED = "candidates"


def _ranked(seed: str, source_id: str) -> int:
    """A stable pseudo-random order per seed: ties between equal tickets are broken by it."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{source_id}".encode()).digest()[:8], "big")


class _Candidates:
    """The few best tickets per stratum while profiles stream by: memory grows with the strata, not the account."""

    def __init__(self, seed: str, size: int) -> None:
        self.seed = seed
        self.size = size
        self.per_stratum: dict[str, list[tuple[int, int, str]]] = {}
        self.emails: dict[str, dict[str, str]] = {}  # lower-case email → requester id → a ticket of theirs
        self.profiled = 0
        self.profiles: dict[str, TicketProfile] = {}

    def add(self, profile: TicketProfile) -> None:
        self.profiled += 1
        strata = profile_strata(profile)
        if profile.content is not None:
            facts = profile.content
            strata |= content_strata(facts)
            strata[LONGEST] = ""
            if facts.attachments:
                strata[MOST_ATTACHMENTS] = ""
            if facts.inline_images:
                strata[MOST_INLINE] = ""
        strata["hardest"] = ""  # the fill: the biggest tickets by the list's size hint
        for stratum in strata:
            weight = self._weight(stratum, profile)
            self._keep(stratum, (weight, _ranked(self.seed, profile.source_id), profile.source_id), profile,
                       self.size * 2 if stratum in ("hardest", LONGEST) else PER_STRATUM)
        # A stable pseudo-random probe of 2N more: what lists cannot show (tables, media, files) is also found among them.
        self._keep("probe", (0, _ranked(f"{self.seed}:probe", profile.source_id), profile.source_id), profile, self.size * 2)
        if profile.requester_email and profile.requester_id:
            people = self.emails.setdefault(profile.requester_email.strip().lower(), {})
            if profile.requester_id not in people and len(people) < PER_STRATUM:
                people[profile.requester_id] = profile.source_id
                self.profiles.setdefault(profile.source_id, profile)

    @staticmethod
    def _weight(stratum: str, profile: TicketProfile) -> int:
        facts = profile.content
        if facts is not None:
            if stratum == MOST_ATTACHMENTS:
                return facts.attachments
            if stratum == MOST_INLINE:
                return facts.inline_images
        return profile.size_hint or 0

    def _keep(self, stratum: str, entry: tuple[int, int, str], profile: TicketProfile, limit: int) -> None:
        kept = self.per_stratum.setdefault(stratum, [])
        if len(kept) < limit:
            heapq.heappush(kept, entry)
        elif entry > kept[0]:
            heapq.heapreplace(kept, entry)
        else:
            return
        self.profiles.setdefault(profile.source_id, profile)

    def merged_requesters(self) -> dict[str, str]:
        """Ticket id → its requester's email, for requesters sharing an email with another person."""
        return {ticket: email for email, people in self.emails.items() if len(people) > 1 for ticket in people.values()}

    def ids(self) -> set[str]:
        chosen = {source_id for kept in self.per_stratum.values() for _, _, source_id in kept}
        return chosen | set(self.merged_requesters())


def choose(connector: Connector, size: int, *, seed: str, avoid: set[str] = frozenset(),  # type: ignore[assignment]
           on_profile: Callable[[], None] | None = None) -> tuple[Sample, dict[str, Conversation]]:
    """Profile every ticket, read the candidates whole, and pick `size` covering as many strata as they can; tickets in
    `avoid` (the previous sample, when resampling) are taken only where no other covers as much."""
    # The candidates do not depend on the seed: a resample chooses differently among the same ones, so it finds (and
    # covers) the same strata the sample before it did.
    candidates = _Candidates(POOL_SEED, size)
    for profile in connector.ticket_profiles():
        candidates.add(profile)
        if on_profile is not None:
            on_profile()
    merged = candidates.merged_requesters()
    records = {item.source_id: item for item in connector.read_selected("conversations", candidates.ids())
               if isinstance(item, Conversation)}
    strata: dict[str, dict[str, str]] = {}
    facts: dict[str, ContentFacts] = {}
    for source_id, record in records.items():
        profile = candidates.profiles.get(source_id) or TicketProfile(source_id=source_id)
        facts[source_id] = content_facts(record)
        found = profile_strata(profile) | content_strata(facts[source_id])
        if source_id in merged:
            found[MERGED] = merged[source_id]
        if BY_TEAMMATE in found:  # a teammate's own ticket is theirs, not one the support team opened for a customer
            found.pop(BY_SUPPORT, None)
        strata[source_id] = found
    for key, measure, unit in ((LONGEST, "parts", "messages"), (MOST_ATTACHMENTS, "attachments", "files"),
                               (MOST_INLINE, "inline_images", "images")):
        ranked = sorted((getattr(f, measure), _ranked(seed, sid), sid) for sid, f in facts.items() if getattr(f, measure))
        for value, _, source_id in ranked[-TOP:]:
            strata[source_id][key] = f"{value} {unit}"
    picks, uncovered = _cover(strata, {sid: f.parts for sid, f in facts.items()}, size, seed, avoid)
    sample = Sample(size=size, seed=seed, chosen_at=datetime.now(UTC).isoformat(timespec="seconds"),
                    tickets=[Pick(sid, records[sid].subject, picked_for, also) for sid, picked_for, also in picks],
                    uncovered=uncovered, profiled=candidates.profiled, read_whole=len(records))
    return sample, {sid: records[sid] for sid, _, _ in picks}


def _cover(strata: dict[str, dict[str, str]], weights: dict[str, int], size: int, seed: str,
           avoid: set[str]) -> tuple[list[tuple[str, list[str], list[str]]], list[str]]:
    """Greedy set cover: the ticket covering most strata not covered yet, then the hardest, until `size` are picked."""
    uncovered = {stratum for found in strata.values() for stratum in found}
    left = set(strata)
    picks: list[tuple[str, list[str], list[str]]] = []

    def label(source_id: str, stratum: str) -> str:
        detail = strata[source_id][stratum]
        return f"{stratum} ({detail})" if detail else stratum

    def key(sid: str, still: set[str]) -> tuple[int, bool, int, int]:
        return (len(still & strata[sid].keys()), sid not in avoid, weights[sid], _ranked(seed, sid))

    while left and len(picks) < size:
        best = max(left, key=lambda sid: key(sid, uncovered))
        left.discard(best)
        first = sorted(uncovered & strata[best].keys())
        uncovered -= strata[best].keys()
        picked_for = [label(best, s) for s in first] or ["among the hardest left (longest history, most fields)"]
        also = [label(best, s) for s in sorted(strata[best].keys() - set(first))]
        picks.append((best, picked_for, also))
    return picks, sorted(uncovered)


def choose_contacts(connector: Connector, size: int, *, seed: str, avoid: set[str]) -> tuple[Sample, dict[str, Contact]]:
    """For a source without tickets: N contacts covering each language, no email, several companies, inactive, leads,
    people sharing an email (merged), the most custom fields and tags; candidates kept per stratum, then read by id."""
    kept: dict[str, list[tuple[int, int, str]]] = {}
    emails: dict[str, set[str]] = {}
    profiled = 0

    def keep(stratum: str, weight: int, source_id: str, limit: int = PER_STRATUM) -> None:
        heap = kept.setdefault(stratum, [])
        entry = (weight, _ranked(POOL_SEED, source_id), source_id)
        if len(heap) < limit:
            heapq.heappush(heap, entry)
        elif entry > heap[0]:
            heapq.heapreplace(heap, entry)

    for item in connector.read("contacts"):
        if not isinstance(item, Contact):
            continue
        profiled += 1
        richness = len(item.custom_fields) + len(item.tags)
        for stratum in contact_strata(item):
            keep(stratum, richness, item.source_id)
        keep("hardest", richness, item.source_id, size * 2)
        keep("probe", _ranked(f"{POOL_SEED}:probe", item.source_id), item.source_id, size * 2)
        if item.email:
            people = emails.setdefault(item.email.strip().lower(), set())
            if len(people) < PER_STRATUM:
                people.add(item.source_id)
    merged = {sid: email for email, people in emails.items() if len(people) > 1 for sid in people}
    wanted = {sid for heap in kept.values() for _, _, sid in heap} | set(merged)
    records = {item.source_id: item for item in connector.read_selected("contacts", wanted) if isinstance(item, Contact)}
    strata = {sid: contact_strata(record) | ({MERGED.replace("requester", "person"): merged[sid]} if sid in merged else {})
              for sid, record in records.items()}
    for key, measure in (("most custom fields", "custom_fields"), ("most tags", "tags")):
        ranked = sorted((len(getattr(r, measure)), _ranked(seed, sid), sid) for sid, r in records.items() if getattr(r, measure))
        for value, _, sid in ranked[-TOP:]:
            strata[sid][key] = f"{value}"
    weights = {sid: len(r.custom_fields) + len(r.tags) for sid, r in records.items()}
    picks, uncovered = _cover(strata, weights, size, seed, avoid)
    sample = Sample(size=size, seed=seed, chosen_at=datetime.now(UTC).isoformat(timespec="seconds"), entity="contacts",
                    tickets=[Pick(sid, records[sid].name or records[sid].email, picked_for, also) for sid, picked_for, also in picks],
                    uncovered=uncovered, profiled=profiled, read_whole=len(records))
    return sample, {sid: records[sid] for sid, _, _ in picks}



def new_seed() -> str:
    return secrets.token_hex(4)
