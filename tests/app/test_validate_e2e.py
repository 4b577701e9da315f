"""End to end: `deskmigrate validate` notices each kind of change made in Intercom behind the migration's back."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests

from deskmigrate.cli import app
from tests.app.conftest import TOKEN, Project
from tests.app.test_e2e import requests_session

# u006 (see conftest.contact_rows): company c2, tags beta and vip, plan_tier 2
Change = Callable[[requests.Session, str, dict[str, Any]], Any]


def change_email(session: requests.Session, url: str, contact: dict[str, Any]) -> Any:
    return session.put(f"{url}/contacts/{contact['id']}", json={"email": "someone.else@example.com"})


def change_attribute(session: requests.Session, url: str, contact: dict[str, Any]) -> Any:
    return session.put(f"{url}/contacts/{contact['id']}", json={"custom_attributes": {"plan_tier": 99}})


def remove_company_link(session: requests.Session, url: str, contact: dict[str, Any]) -> Any:
    [company] = contact["companies"]["data"]
    return session.delete(f"{url}/contacts/{contact['id']}/companies/{company['id']}")


def remove_tag(session: requests.Session, url: str, contact: dict[str, Any]) -> Any:
    tag = next(t for t in contact["tags"]["data"] if session.get(f"{url}/tags/{t['id']}").json()["name"] == "beta")
    return session.delete(f"{url}/contacts/{contact['id']}/tags/{tag['id']}")


def delete_contact(session: requests.Session, url: str, contact: dict[str, Any]) -> Any:
    return session.delete(f"{url}/contacts/{contact['id']}")


@pytest.mark.parametrize(("change", "field", "shown"), [
    (change_email, "email", "someone.else@example.com"),
    (change_attribute, "plan_tier", "99"),
    (remove_company_link, "compan", "c2"),
    (remove_tag, "tags", "beta"),
    (delete_contact, "", "u006"),
], ids=["email", "custom attribute", "company link", "tag", "deleted"])
def test_validate_reports_a_change_made_in_intercom(project: Project, change: Change, field: str, shown: str) -> None:
    assert project.cli("run").exit_code == 0
    assert project.cli("validate").exit_code == 0
    with requests_session(project) as (session, url):
        response = change(session, url, project.contacts_in_sandbox()["u006"])
        assert response.ok, response.text

    result = project.runner.invoke(app, ["validate", "-c", str(project.config)], env={"E2E_TOKEN": TOKEN, "COLUMNS": "250"})
    assert result.exit_code == 3, result.output
    assert "Mismatches (1)" in result.output
    assert "u006" in result.output and field in result.output and shown in result.output
