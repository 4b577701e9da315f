"""`deskmigrate init` (issue 12, item 8): a first-time user starts from a commented config and an override mapping,
written for CSV from the files' real headers, for an API source from its settings."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from deskmigrate.cli import app
from deskmigrate.sandbox import SandboxStore

CONTACTS = ("Contact ID,E-mail,Full Name,Mobile,Company ID,Seats,Newsletter,Signup Date,Notes\n"
            "1,ann@example.com,Ann Lee,+44 20 7946 0101,c1,3,yes,2021-03-04,first\n"
            "2,bob@example.com,Bob Roe,,c2,12,no,2022-11-30,\n")
COMPANIES = "Company ID,Company Name,Tier,Renewal\nc1,Acme,gold,2025-01-01\nc2,Globex,silver,2025-02-01\n"


def test_init_csv_writes_a_config_from_the_headers_that_runs_as_it_is(tmp_path: Path) -> None:
    (tmp_path / "contacts.csv").write_text(CONTACTS, encoding="utf-8")
    (tmp_path / "companies.csv").write_text(COMPANIES, encoding="utf-8")
    runner = CliRunner()
    made = runner.invoke(app, ["init", "csv", "--contacts", str(tmp_path / "contacts.csv"), "--companies",
                               str(tmp_path / "companies.csv"), "--dir", str(tmp_path)])
    assert made.exit_code == 0, made.stderr
    config = yaml.safe_load((tmp_path / "config.yaml").read_text())
    assert config["source"]["contacts"]["columns"] == {"Contact ID": "source_id", "E-mail": "email", "Full Name": "name",
                                                      "Mobile": "phone", "Signup Date": "signed_up_at"}
    assert config["source"]["contacts"]["company_column"] == "Company ID"
    mapping = yaml.safe_load((tmp_path / "mapping.yaml").read_text())
    assert {a["name"]: a["type"] for a in mapping["contact"]["attributes"]} == {"seats": "integer", "newsletter": "boolean", "notes": "string"}
    assert {a["name"]: a["type"] for a in mapping["company"]["attributes"]} == {"tier": "string", "renewal": "date"}

    ran = runner.invoke(app, ["run", "-c", str(tmp_path / "config.yaml")])
    assert ran.exit_code == 0, ran.stdout + ran.stderr
    store = SandboxStore(tmp_path / ".deskmigrate" / "sandbox.db")
    ann = next(c for c in store.objects("contacts") if c.get("external_id") == "1")
    assert ann["email"] == "ann@example.com" and ann["custom_attributes"]["seats"] == 3 and ann["custom_attributes"]["newsletter"] is True

    again = runner.invoke(app, ["init", "csv", "--contacts", str(tmp_path / "contacts.csv"), "--dir", str(tmp_path)])
    assert again.exit_code == 2 and "--force" in again.stderr  # never overwrites without being told


@pytest.mark.parametrize("source", ["zendesk", "freshdesk", "helpscout", "jsonl"])
def test_init_for_an_api_source_writes_its_settings_with_secrets_from_the_environment(tmp_path: Path, source: str) -> None:
    made = CliRunner().invoke(app, ["init", source, "--dir", str(tmp_path)])
    assert made.exit_code == 0, made.stderr
    text = (tmp_path / "config.yaml").read_text()
    config = yaml.safe_load(text)
    assert config["source"]["type"] == source and config["overrides"] == ["mapping.yaml"]
    secrets = [value for value in config["source"].values() if isinstance(value, str) and value.startswith("${")]
    if source != "jsonl":
        assert secrets and all(value.startswith(f"${{{source.upper()}_") for value in secrets)
    assert (tmp_path / "mapping.yaml").is_file()


def test_init_for_an_unknown_source_is_exit_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["init", "zenddesk", "--dir", str(tmp_path)])
    assert result.exit_code == 2 and "zendesk" in result.stderr


def test_init_fields_declares_the_zendesk_catalog_with_its_types_and_they_land_typed(tmp_path: Path) -> None:
    from tests.app.vendor_e2e import INTERCOM_TOKEN_VARIABLE, write_project_config
    from tests.fakes.zendesk import FAKE_EMAIL, FAKE_SUBDOMAIN, FAKE_TOKEN, FakeZendesk

    with FakeZendesk() as fake:
        source = {"type": "zendesk", "subdomain": FAKE_SUBDOMAIN, "email": FAKE_EMAIL, "token": "${E2E_ZENDESK_TOKEN}",
                  "base_url": fake.base_url, "incremental_requests_per_minute": 100_000, "retry_backoff_s": 0}
        config = write_project_config(tmp_path, source, "zendesk", overrides=["mapping.yaml"])
        env = {"E2E_ZENDESK_TOKEN": FAKE_TOKEN, INTERCOM_TOKEN_VARIABLE: "init-fields-token"}
        runner = CliRunner()
        (tmp_path / "mapping.yaml").write_text("# mine\n", encoding="utf-8")
        refused = runner.invoke(app, ["init", "zendesk", "--dir", str(tmp_path), "--fields"], env=env)
        assert refused.exit_code == 2 and "--force" in refused.stderr  # an edited mapping is never overwritten unasked

        made = runner.invoke(app, ["init", "zendesk", "--dir", str(tmp_path), "--fields", "--force"], env=env)
        assert made.exit_code == 0, made.stdout + made.stderr
        assert "contacts 2" in made.stdout and "companies 2" in made.stdout and "conversations 4" in made.stdout
        text = (tmp_path / "mapping.yaml").read_text()
        mapping = yaml.safe_load(text)
        declared = {target: {a["name"]: a["type"] for a in mapping[target]["attributes"]} for target in ("contact", "company", "conversation")}
        assert declared == {
            "contact": {"plan_tier": "string", "signup_source": "string"},
            "company": {"account_manager": "string", "region": "string"},
            # the system field "Subject" is the ticket's own, not a custom field
            "conversation": {"order_number": "string", "product": "string", "refund_amount": "float", "urgent_customer": "boolean"},
        }
        assert "choices: Enterprise, Free" in text  # listed for the reader, not enforced: old tickets keep retired options
        assert FAKE_TOKEN not in text

        checked = runner.invoke(app, ["check", "-c", str(config)], env=env)
        assert checked.exit_code == 0, checked.stdout + checked.stderr
        ran = runner.invoke(app, ["run", "--accept-rejections", "-c", str(config)], env=env)
        assert ran.exit_code in (0, 3), ran.stdout + ran.stderr
        types = {(a["model"], a["name"]): a["data_type"] for a in SandboxStore(tmp_path / "sandbox.db").objects("data_attributes")}
        assert types[("contact", "plan_tier")] == "string" and types[("company", "region")] == "string"


def test_init_fields_needs_the_config_first(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["init", "zendesk", "--dir", str(tmp_path), "--fields"])
    assert result.exit_code == 2 and "deskmigrate init zendesk --dir" in result.stderr
