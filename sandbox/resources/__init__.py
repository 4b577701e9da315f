"""One module per Intercom resource group; each exposes `register(router)`. Add a group by listing its module here."""

from __future__ import annotations

from types import ModuleType

from deskmigrate.sandbox.resources import (
    admins,
    articles,
    companies,
    contact_links,
    contacts,
    conversations,
    data_attributes,
    help_center,
    tags,
    tickets,
)

RESOURCE_MODULES: tuple[ModuleType, ...] = (admins, data_attributes, contacts, contact_links, companies, tags, help_center, articles, conversations, tickets)
