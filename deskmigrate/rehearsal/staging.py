"""What the sample needs, staged into the rehearsal's ledger: the linked articles, the people, companies and collections."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from deskmigrate.core.ledger import SKIPPED, Ledger
from deskmigrate.core.model import Article, Contact, Conversation, Record, SourceNotice, SourceRejection
from deskmigrate.core.source import Connector, SourceCheckpoint, StreamItem
from deskmigrate.rehearsal.sample import Sample, Sampled

LINKED_ARTICLE_PAIRS = 3


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



def reread(connector: Connector, sample: Sample) -> tuple[Sampled, list[Article]]:
    """A stored sample's tickets and articles read again by id (their content may have changed since)."""
    wanted = {pick.source_id for pick in sample.tickets}
    tickets: Sampled = {item.source_id: item for item in connector.read_selected(sample.entity, wanted)
                        if isinstance(item, (Conversation, Contact)) and item.entity == sample.entity}
    article_ids = {article["source_id"] for article in sample.articles}
    articles = [item for item in connector.read_selected("articles", article_ids) if isinstance(item, Article)] if article_ids else []
    return tickets, articles
