"""The stratified rehearsal (`run --sample N`): N tickets chosen to cover the hardest cases the source holds, staged
with the people, companies, collections and articles they need into a rehearsal state folder of their own, loaded,
and reported ticket by ticket with why each was picked and where it landed.

Choosing reads the source economically: the connector's `ticket_profiles` (list endpoints: status, priority, form,
brand, requester, a size hint) places every ticket in its strata; only a few candidates per stratum are read whole
(`read_selected`), and what their histories hold (thread length, attachments, inline images, tables, code, media,
notes) decides among them. The sample is kept in the rehearsal folder (sample.json) and chosen again unless resampled.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import logging
import re
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import SecretStr

from deskmigrate import lifecycle, progress_bars
from deskmigrate.core.config import TargetConfig
from deskmigrate.core.ledger import SKIPPED, Ledger
from deskmigrate.core.model import Article, Contact, Conversation, Record, SourceNotice, SourceRejection
from deskmigrate.core.sampling import INTERCOM_PART_LIMIT, ContentFacts, TicketProfile, content_facts
from deskmigrate.core.source import Connector, SourceCheckpoint, StreamItem
from deskmigrate.lifecycle import EXIT_CONFIG
from deskmigrate.screen import console, err_console

log = logging.getLogger(__name__)

REHEARSAL_FOLDER = "rehearsal"
SAMPLE_FILE = "sample.json"
# Candidates kept per stratum value while profiling: enough that a resample can pick another one.
PER_STRATUM = 3
# The longest, most attached, most illustrated: this many tickets among the candidates carry the reason.
TOP = 2
LINKED_ARTICLE_PAIRS = 3
PROFILE_TASK = "profile tickets"
POOL_SEED = "candidates"
SANDBOX_TOKEN = "rehearsal-sandbox"  # the local sandbox accepts the token it is started with; never a real secret

# Strata keys: "status: open" and the like per value, and these fixed ones.
LONGEST = "one of the longest threads"
OVER_LIMIT = f"over Intercom's {INTERCOM_PART_LIMIT}-part limit"
MOST_ATTACHMENTS = "one of the most attachments"
MOST_INLINE = "one of the most inline images"
TABLES, CODE, MEDIA = "HTML tables", "code blocks", "embedded media"
NOTES = "private notes"
BY_SUPPORT, BY_TEAMMATE = "opened by the support team", "opened by a teammate"
REQUESTER_DELETED, REQUESTER_SUSPENDED = "requester deleted in the source", "requester suspended"
MERGED = "requester shares an email with another person (merged contact)"


# -- the sample -------------------------------------------------------------------------------------

Sampled = dict[str, Conversation | Contact]  # the sampled records by source id: tickets, or contacts for a source without tickets


@dataclass
class Pick:
    """One sampled ticket: the strata it was picked to cover first, and the others it also shows."""

    source_id: str
    subject: str | None
    picked_for: list[str]
    also: list[str] = field(default_factory=list)

    @property
    def reasons(self) -> list[str]:
        return self.picked_for + self.also


@dataclass
class Sample:
    size: int
    seed: str
    chosen_at: str
    tickets: list[Pick]
    articles: list[dict[str, Any]] = field(default_factory=list)  # {source_id, title, reasons}
    uncovered: list[str] = field(default_factory=list)  # strata found but not covered: more than N to cover
    target: str | None = None  # sandbox or intercom: where it was last rehearsed
    entity: str = "conversations"  # contacts for a source without tickets (a CSV of people and companies)
    profiled: int = 0  # tickets profiled from list endpoints
    read_whole: int = 0  # candidates whose whole history was read
    reused: bool = False

    def as_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k != "reused"}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Sample:
        tickets = [Pick(**t) for t in data["tickets"]]
        return cls(**{**data, "tickets": tickets, "reused": True})


def rehearsal_dir(state_dir: Path) -> Path:
    return state_dir / REHEARSAL_FOLDER


def stored_sample(folder: Path) -> Sample | None:
    path = folder / SAMPLE_FILE
    if not path.is_file():
        return None
    try:
        return Sample.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, TypeError, KeyError) as error:
        log.warning("the stored rehearsal sample %s is unreadable (%s): a new one is chosen", path, error)
        return None


def keep_sample(folder: Path, sample: Sample) -> Path:
    """sample.json, 0600: it names customer tickets."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = folder / SAMPLE_FILE
    path.write_text(json.dumps(sample.as_json(), indent=2, ensure_ascii=False), encoding="utf-8")
    path.chmod(0o600)
    return path


# -- strata -----------------------------------------------------------------------------------------


def profile_strata(profile: TicketProfile) -> dict[str, str]:
    """The strata a list endpoint shows a ticket in (stratum → detail)."""
    found: dict[str, str] = {}
    for name, value in (("status", profile.status), ("priority", profile.priority), ("ticket form", profile.form),
                        ("type", profile.kind), ("language", profile.language), ("brand/mailbox", profile.brand)):
        if value:
            found[f"{name}: {value}"] = ""
    if profile.requester_state == "deleted":
        found[REQUESTER_DELETED] = ""
    elif profile.requester_state == "suspended":
        found[REQUESTER_SUSPENDED] = ""
    if profile.opened_by == "teammate":
        found[BY_TEAMMATE] = ""
    elif profile.opened_by == "support team":
        found[BY_SUPPORT] = ""
    return found


def content_strata(facts: ContentFacts) -> dict[str, str]:
    """The strata a whole history shows, except the rankings (longest, most attachments), decided among candidates."""
    found: dict[str, str] = {}
    if facts.parts > INTERCOM_PART_LIMIT:
        found[OVER_LIMIT] = f"{facts.parts} messages"
    for key, present in ((TABLES, facts.tables), (CODE, facts.code), (MEDIA, facts.media)):
        if present:
            found[key] = ""
    if facts.private_notes:
        found[NOTES] = f"{facts.private_notes}"
    if facts.first_author == "agent":
        found[BY_SUPPORT] = ""
    return found


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


def contact_strata(contact: Contact) -> dict[str, str]:
    """The strata of a person, for a source without tickets (the rankings and merged emails are decided apart)."""
    found: dict[str, str] = {}
    if contact.locale:
        found[f"language: {contact.locale}"] = ""
    if not contact.email:
        found["no email"] = ""
    if len(contact.company_ids) > 1:
        found["several companies"] = f"{len(contact.company_ids)}"
    if not contact.active:
        found["inactive in the source"] = ""
    if contact.role == "lead":
        found["a lead"] = ""
    return found


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


# -- what the sample needs ------------------------------------------------------------------------


_HREF = re.compile(r"""href\s*=\s*["']([^"']+)["']""", re.IGNORECASE)


def article_links(html: str, connector: Connector, by_url: dict[str, str]) -> set[str]:
    """Source ids of the articles `html` links to (by the source's Help Center URL forms, or an article's own URL)."""
    found: set[str] = set()
    for href in _HREF.findall(html or ""):
        if href.split("#")[0] in by_url:
            found.add(by_url[href.split("#")[0]])
            continue
        target = connector.help_center_urls.target_of(urlsplit(href).path)
        if target is not None and target[0] == "articles":
            found.add(target[1])
    return found


def choose_articles(connector: Connector, tickets: Iterable[Conversation]) -> tuple[list[dict[str, Any]], list[Article]]:
    """The articles the sampled tickets link to, and up to LINKED_ARTICLE_PAIRS articles linking to another with that
    other: one read of the Help Center (it is small), keeping only articles that link or are linked."""
    if "articles" not in connector.entities():
        return [], []
    articles: dict[str, Article] = {}
    outgoing: dict[str, set[str]] = {}
    by_url: dict[str, str] = {}
    for item in connector.read("articles"):
        if isinstance(item, Article):
            articles[item.source_id] = item
            if item.url:
                by_url[item.url] = item.source_id
    for article in articles.values():
        bodies = [article.body_html, *(t.body_html for t in article.translations)]
        links = set().union(*(article_links(body, connector, by_url) for body in bodies)) - {article.source_id}
        if links & articles.keys():
            outgoing[article.source_id] = links & articles.keys()
    reasons: dict[str, list[str]] = {}
    for ticket in tickets:
        for part in ticket.parts:
            for linked in article_links(part.body_html, connector, by_url) & articles.keys():
                reasons.setdefault(linked, []).append(f"linked from sampled ticket {ticket.source_id}")
    for source, targets in sorted(outgoing.items())[:LINKED_ARTICLE_PAIRS]:
        reasons.setdefault(source, []).append(f"links to article(s) {', '.join(sorted(targets))}")
        for target in sorted(targets):
            reasons.setdefault(target, []).append(f"linked from article {source}")
    chosen = [{"source_id": sid, "title": articles[sid].title, "reasons": why} for sid, why in sorted(reasons.items())]
    return chosen, [articles[sid] for sid in sorted(reasons)]


@dataclass
class Staged:
    counts: dict[str, int] = field(default_factory=dict)
    rejected: int = 0
    skipped: int = 0


def _stage_items(ledger: Ledger, run_id: str, items: Iterable[StreamItem | Record], staged: Staged) -> list[Record]:
    """Stage the records among `items`; a rejection is recorded as an extract failure, a deletion as a skip."""
    records: list[Record] = []
    for item in items:
        if isinstance(item, SourceCheckpoint):
            continue
        if isinstance(item, SourceRejection):
            ledger.record_failure(run_id, "extract", item.entity, item.source_id or item.location, f"{item.location}: {item.reason}", field=item.field)
            staged.rejected += 1
        elif isinstance(item, SourceNotice):
            if item.skip_reason and item.source_id:
                ledger.record_notice(run_id, item.entity, item.source_id, SKIPPED, item.skip_reason)
                staged.skipped += 1
        else:
            records.append(item)
    if records:
        ledger.stage(run_id, records, None)
        for record in records:
            entity = str(getattr(record, "entity", ""))
            staged.counts[entity] = staged.counts.get(entity, 0) + 1
    return records


def stage_sample(connector: Connector, ledger: Ledger, run_id: str, sampled: Sampled, articles: list[Article]) -> Staged:
    """The sampled tickets (or contacts) with the people who asked, answered and are assigned, their companies, every
    collection and the chosen articles (with their authors), into the rehearsal's ledger. No source cursor moves."""
    staged = Staged()
    found = _stage_items(ledger, run_id, sampled.values(), staged)
    people: set[str] = set()
    for ticket in (record for record in found if isinstance(record, Conversation)):
        people.update(filter(None, (ticket.requester_id, ticket.assignee_id, *(part.author_id for part in ticket.parts))))
    people.update(article.author_id for article in articles if article.author_id)
    people -= set(sampled)
    entities = connector.entities()
    if people and "contacts" in entities:
        found += _stage_items(ledger, run_id, connector.read_selected("contacts", people), staged)
    if "agents" in entities:
        _stage_items(ledger, run_id, connector.read_selected("agents", people), staged)
    companies = {cid for record in found if isinstance(record, Contact) for cid in record.company_ids}
    if companies and "companies" in entities:
        _stage_items(ledger, run_id, connector.read_selected("companies", companies), staged)
    if articles and "collections" in entities:
        _stage_items(ledger, run_id, connector.read("collections"), staged)
    _stage_items(ledger, run_id, articles, staged)
    return staged


# -- the target and the report --------------------------------------------------------------------


def rehearsal_target(configured: TargetConfig, wanted: str | None, folder: Path) -> TargetConfig:
    """The rehearsal's target. A sandbox one is always the rehearsal folder's own file (the config's sandbox settings kept,
    a served sandbox's base_url kept), so the main sandbox never holds rehearsed tickets; `--target sandbox` rehearses so
    even when the config targets Intercom. `--target intercom` needs the config's Intercom target. None: the config's type."""
    kind = wanted or configured.type
    if kind == "intercom":
        if configured.type != "intercom":
            raise ValueError("--target intercom needs an Intercom target (type: intercom, token, region) in the config; it names a sandbox")
        return configured
    if configured.type == "sandbox":
        return configured if configured.base_url else configured.model_copy(update={"path": folder / "sandbox.db"})
    return TargetConfig(type="sandbox", token=SecretStr(SANDBOX_TOKEN), path=folder / "sandbox.db", search_delay_s=0)


def rehearsal_project(project: Any, target: TargetConfig) -> Any:
    """The project as a rehearsal sees it: the same source and mapping, the rehearsal folder as its state, `target`."""
    folder = rehearsal_dir(project.state_dir)
    settings = project.loaded.config.model_copy(update={"state": folder, "target": target})
    return type(project)(loaded=project.loaded.model_copy(update={"config": settings}), connector=project.connector, spec=project.spec)


def last_target(project: Any) -> TargetConfig:
    """The target the last rehearsal wrote to (kept in sample.json), for rolling it back."""
    sample = stored_sample(rehearsal_dir(project.state_dir))
    wanted = sample.target if sample is not None else None
    return rehearsal_target(project.loaded.config.target, wanted, rehearsal_dir(project.state_dir))


def landed(ledger: Ledger, run_id: str, sample: Sample) -> dict[str, Any]:
    """The report's `rehearsal` section: every sampled ticket and article with its reasons and where it is in Intercom."""
    skipped: dict[str, str] = {}
    notes: dict[str, list[str]] = {}
    for notice in ledger.iter_notices(run_id):
        if notice.entity == sample.entity and notice.kind == SKIPPED:
            skipped[notice.source_id] = notice.detail
        elif notice.entity == sample.entity:
            notes.setdefault(notice.source_id, []).append(f"{notice.kind}: {notice.detail}")
    failed: dict[str, str] = {}
    for failure, _ in ledger.iter_failures(None):
        if failure.entity == sample.entity:
            failed.setdefault(failure.source_id, f"{failure.phase}: {failure.reason}")
    tickets = []
    for pick in sample.tickets:
        where = _where(ledger, sample.entity, pick.source_id)
        outcome = "landed" if where else ("skipped: " + skipped[pick.source_id] if pick.source_id in skipped
                                          else ("failed: " + failed[pick.source_id] if pick.source_id in failed else "not landed"))
        tickets.append({"source_id": pick.source_id, "subject": pick.subject, "picked_for": pick.picked_for, "also": pick.also,
                        "outcome": outcome, **where, "notes": notes.get(pick.source_id, [])})
    articles = [article | {"intercom_id": ledger.intercom_id("articles", article["source_id"])} for article in sample.articles]
    return {"entity": sample.entity, "size": sample.size, "chosen_at": sample.chosen_at, "reused": sample.reused, "profiled": sample.profiled,
            "read_whole": sample.read_whole, "uncovered": sample.uncovered, "tickets": tickets, "articles": articles}


def _where(ledger: Ledger, sampled: str, source_id: str) -> dict[str, Any]:
    kinds = (("conversations", "conversation"), ("tickets", "ticket")) if sampled == "conversations" else (("contacts", "contact"),)
    for entity, kind in kinds:
        intercom_id = ledger.intercom_id(entity, source_id)
        if intercom_id:
            continued = []
            for thread in range(2, 100):
                more = ledger.intercom_id(entity, f"{source_id}#{thread}")
                if not more:
                    break
                continued.append(more)
            return {"intercom_kind": kind, "intercom_id": intercom_id, **({"continued_in": continued} if continued else {})}
    return {}


def new_seed() -> str:
    return secrets.token_hex(4)


def reread(connector: Connector, sample: Sample) -> tuple[Sampled, list[Article]]:
    """A stored sample's tickets and articles read again by id (their content may have changed since)."""
    wanted = {pick.source_id for pick in sample.tickets}
    tickets: Sampled = {item.source_id: item for item in connector.read_selected(sample.entity, wanted)
                        if isinstance(item, (Conversation, Contact)) and item.entity == sample.entity}
    article_ids = {article["source_id"] for article in sample.articles}
    articles = [item for item in connector.read_selected("articles", article_ids) if isinstance(item, Article)] if article_ids else []
    return tickets, articles


# -- the command ------------------------------------------------------------------------------------

LoadAndReport = Callable[..., int]


def rehearse(config: Path, size: int | None, *, resample: bool, target: str | None, since: datetime | None, verbose: bool,
             accept_rejections: bool, load_and_report: LoadAndReport) -> int:
    """`run --sample N`: choose (or take the stored) sample, stage it with what it needs in the rehearsal folder, load it
    into the rehearsal's target and report every sampled ticket with its reasons and its Intercom id; the exit code."""
    if size is None:
        err_console.print("[red]--resample and --target are options of a rehearsal: give --sample N[/]")
        return EXIT_CONFIG
    if since is not None:
        err_console.print("[red]--since reads a delta; a rehearsal chooses among all tickets: give one of them[/]")
        return EXIT_CONFIG
    if target not in (None, "sandbox", "intercom"):
        err_console.print(f"[red]--target is sandbox or intercom, not {target!r}[/]")
        return EXIT_CONFIG
    project = lifecycle.open_project(config)
    folder = rehearsal_dir(project.state_dir)
    try:
        target_config = rehearsal_target(project.loaded.config.target, target, folder)
    except ValueError as error:
        err_console.print(f"[red]{error}[/]")
        return EXIT_CONFIG
    rehearsing = rehearsal_project(project, target_config)
    with lifecycle.holding(rehearsing, "rehearsal"), lifecycle.closing(lifecycle.open_ledger(rehearsing)) as ledger:
        run_id = ledger.start_run("rehearsal")
        lifecycle.setup_logging(rehearsing, verbose, run_id)
        started = time.time()
        with lifecycle.recorded(rehearsing, ledger, run_id, "rehearsal"):
            with progress_bars.bars() as progress:
                progress.start(PROFILE_TASK, None)
                sample, tickets, articles = _sample(project.connector, folder, size, resample, lambda: progress.advance(PROFILE_TASK))
                progress.finish(PROFILE_TASK)
            sample.target = target_config.type
            keep_sample(folder, sample)
            staged = stage_sample(project.connector, ledger, run_id, tickets, articles)
            console.print(f"rehearsal sample of {len(sample.tickets)} {'ticket' if sample.entity == 'conversations' else 'contact'}(s)" + (" (the stored one, read again)" if sample.reused else
                          f": {sample.profiled} profiled from list endpoints, {sample.read_whole} read whole") +
                          f"; staged {', '.join(f'{n} {e}' for e, n in staged.counts.items()) or 'nothing'}", markup=False)
            if sample.uncovered:
                err_console.print(f"[yellow]! {len(sample.uncovered)} stratum/strata not covered (more than N to cover): "
                                  f"{', '.join(sample.uncovered)}; a larger --sample covers them[/]")
            section: dict[str, Any] = {}

            def sections() -> dict[str, Any]:
                section.update(landed(ledger, run_id, sample) | {"target": target_config.type, "folder": str(folder),
                                                                 "staged": staged.counts, "sample_file": str(folder / SAMPLE_FILE)})
                return {"rehearsal": section}

            code = load_and_report(rehearsing, ledger, run_id, "rehearsal", started, extract=False,
                                   accept_rejections=accept_rejections, more=sections)
            if section:
                _print_sample(section)
            return code


def _sample(connector: Connector, folder: Path, size: int, resample: bool,
            on_profile: Callable[[], None]) -> tuple[Sample, Sampled, list[Article]]:
    """The stored sample when it is of this size and no resample is asked; else a new one, kept."""
    stored = stored_sample(folder)
    if stored is not None and stored.size == size and not resample:
        tickets, articles = reread(connector, stored)
        return stored, tickets, articles
    avoid = {pick.source_id for pick in stored.tickets} if stored is not None and resample else set()
    seed = new_seed() if resample else f"first-{size}"
    if "conversations" not in connector.entities():  # a CSV of people and companies: the hardest contacts
        contact_sample, contacts = choose_contacts(connector, size, seed=seed, avoid=avoid)
        return contact_sample, dict(contacts), []
    sample, tickets = choose(connector, size, seed=seed, avoid=avoid, on_profile=on_profile)
    sample.articles, articles = choose_articles(connector, tickets.values())
    return sample, dict(tickets), articles


def _print_sample(section: dict[str, Any]) -> None:
    from rich.table import Table

    noun = "ticket" if section["entity"] == "conversations" else "contact"
    table = Table(title=f"Rehearsal sample: why each {noun}, and where it is in Intercom", title_justify="left")
    for column in (noun, "picked for", "also", "in Intercom"):
        table.add_column(column, overflow="fold")
    for ticket in section["tickets"]:
        where = f"{ticket['intercom_kind']} {ticket['intercom_id']}" if ticket.get("intercom_id") else ticket["outcome"]
        table.add_row(ticket["source_id"], "; ".join(ticket["picked_for"]), "; ".join(ticket["also"]), where)
    console.print(table)
    for article in section["articles"]:
        console.print(f"article {article['source_id']} ({'; '.join(article['reasons'])}) → {article.get('intercom_id') or 'not landed'}",
                      markup=False)
