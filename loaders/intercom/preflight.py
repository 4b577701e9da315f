"""Preflight: the token and workspace, admins matched to the source's agents, then every registered phase's preflight part.

Every check that can stop the run comes before the first write: the agents (strict_agents), then each phase's reads
(a declared attribute that may not be created, conversation attributes under strict_attributes); only then does each
phase create what it needs (data attributes, conversation attributes, the ticket type).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

from deskmigrate.core.errors import ConfigError, Problem
from deskmigrate.core.payload import AttributeDeclaration
from deskmigrate.loaders.intercom.loader import IntercomLoader, side_by_side
from deskmigrate.loaders.intercom.phase import Phase
from deskmigrate.loaders.intercom.registry import PHASES

AGENTS = "agents"


@dataclass
class PreflightResult:
    workspace: str
    region: str
    admins: list[dict[str, Any]]
    attributes_created: list[str] = field(default_factory=list)
    attributes_existing: list[str] = field(default_factory=list)
    agents_matched: int = 0
    agents_unmatched: list[str] = field(default_factory=list)
    fallback_admin: str | None = None
    # The mapping's conversation attributes against the workspace's (created on 2.16+, else kept as tags).
    conversation_attributes: dict[str, Any] = field(default_factory=dict)


def preflight(loader: IntercomLoader, declarations: list[AttributeDeclaration], phases: Iterable[Phase] = PHASES) -> PreflightResult:
    """Check the token and workspace, read admins, then prepare each phase (its sections of the result: lists add up).

    The reads (admins, each phase's part) go out side by side, and so do the phases' steps after them; a failing read
    stops the run before any step writes, and errors surface in the order the checks are listed above."""
    loader.attribute_declarations = list(declarations)
    me = loader.client.me()
    app = me.get("app") or {}
    workers = loader.settings.concurrency

    def agents() -> tuple[list[dict[str, Any]], int, list[str]]:
        admins = loader.client.admins().get("admins", [])
        return admins, *match_agents(loader, me, admins)

    (admins, matched, unmatched), *steps = side_by_side([agents, *(partial(phase.prepare, loader, declarations) for phase in phases)], workers)
    sections: dict[str, Any] = {}
    for made in side_by_side(steps, workers):
        for key, value in made.items():
            sections[key] = [*sections.get(key, []), *value] if isinstance(value, list) else value
    result = PreflightResult(
        workspace=str(app.get("name") or app.get("id_code") or "?"), region=str(app.get("region") or "?"), admins=admins,
        agents_matched=matched, agents_unmatched=unmatched, fallback_admin=loader.fallback_admin_id,
    )
    return replace(result, **sections)


def match_agents(loader: IntercomLoader, me: dict[str, Any], admins: list[dict[str, Any]]) -> tuple[int, list[str]]:
    """Source agents → Intercom admins by email; the unmatched get the fallback admin (or stop the run in strict mode)."""
    by_email = {str(a.get("email") or "").lower(): str(a["id"]) for a in admins if a.get("email")}
    wanted = (loader.settings.fallback_admin_email or "").lower()
    if wanted and wanted not in by_email:
        raise ConfigError([Problem(path="load.fallback_admin_email", message=f"no Intercom admin has the email {wanted!r}")])
    loader.fallback_admin_id = by_email.get(wanted) or (str(me["id"]) if me.get("id") else None)
    unmatched: list[str] = []
    for agent in loader.ledger.iter_staged(AGENTS):
        email = str(getattr(agent, "email", None) or "").lower()
        if email in by_email:
            loader.agent_admins[agent.source_id] = by_email[email]
        else:
            unmatched.append(f"{agent.source_id} <{email or 'no email'}>")
    if unmatched and loader.settings.strict_agents:
        raise ConfigError(
            [Problem(path="load.strict_agents", message=f"source agent {agent} has no Intercom admin with that email")
             for agent in unmatched],
            title="agents without an Intercom admin (strict_agents is on; nothing was loaded)",
        )
    return len(loader.agent_admins), unmatched
