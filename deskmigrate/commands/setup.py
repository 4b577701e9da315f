"""The commands that set a migration up: `init` (a config and mapping to start from), `check` (config, mapping, source
and token) and `sandbox serve` (the local Intercom, for rehearsals with other tools)."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.markup import escape

from deskmigrate import screen
from deskmigrate.commands.options import ConfigOption, JsonOption, QuietOption, VerboseOption, examples
from deskmigrate.core.errors import SourceError
from deskmigrate.exits import EXIT_CONFIG, EXIT_OK, Exit, exits
from deskmigrate.report import key_value_table
from deskmigrate.screen import console, err_console

commands = typer.Typer()
sandbox_app = typer.Typer(help="The local Intercom sandbox.", no_args_is_help=True)


@commands.command(epilog=examples("deskmigrate check -c config.yaml", "deskmigrate check --json | jq .target"))
@exits
def check(config: Path = ConfigOption, verbose: bool = VerboseOption, as_json: bool = JsonOption, quiet: bool = QuietOption) -> None:
    """Validate the config and the mapping, then check the target answers and the token works (GET /me)."""
    from deskmigrate import lifecycle
    from deskmigrate.core.http import RetryPolicy
    from deskmigrate.plan_screen import print_source_fields
    from deskmigrate.planning import conversation_attribute_check, source_field_check_before_staging
    from deskmigrate.target import open_target
    from deskmigrate.transforms import Mapper

    screen.quiet(quiet or as_json)
    project = lifecycle.open_project(config)
    lifecycle.setup_logging(None, verbose)
    console.print(f"[green]✓[/] config and mapping are valid ({config})")
    try:
        checked = project.connector.check()
    except SourceError as error:
        err_console.print(f"[bold red]the source cannot be read:[/] {error}", markup=True)
        raise Exit(EXIT_CONFIG) from None
    if checked:
        console.print(f"[green]✓[/] source readable ({project.connector.name})")
    field_problems = source_field_check_before_staging(project, sample_source=checked)
    if field_problems is None:
        console.print("source fields the mapping reads are checked against the records at `plan`")
    print_source_fields(field_problems or [])
    # check answers within 10 s whatever the network does: two tries, four seconds each.
    with open_target(project, RetryPolicy(max_attempts=2, deadline_s=8.0, base_delay_s=0.2), timeout_s=4.0) as target:
        me = target.client.me()
        if target.client.token_count > 1:
            _one_workspace(target.client.token_workspaces())
        app_info = me.get("app") or {}
        target_facts = {
            "type": project.loaded.config.target.type,
            "url": target.base_url,
            "workspace": app_info.get("name") or app_info.get("id_code"),
            "region": app_info.get("region"),
            "token belongs to": f"{me.get('name')} <{me.get('email')}>",
            "Intercom-Version": project.loaded.config.target.version,
        }
        console.print(key_value_table("Target", target_facts))
        expected_region = project.loaded.config.target.region.upper()
        region = str(app_info.get("region") or "").upper()
        if project.loaded.config.target.type == "intercom" and region and region != expected_region:
            err_console.print(f"[yellow]! the workspace is in region {region} but the config says {expected_region}[/]")
        declared = Mapper(project.spec).attribute_declarations()
        attributes = conversation_attribute_check(project, target, declared)
    console.print("[green]✓[/] target reachable, token accepted")
    screen.print_conversation_attributes(attributes)
    code = EXIT_CONFIG if attributes is not None and attributes.kept_as_tags and project.loaded.config.load.strict_attributes else EXIT_OK
    if as_json:
        screen.print_json({
            "config": str(config), "valid": True, "source": {"type": project.connector.name, "read": checked},
            "source_fields": [{"path": path, "problem": message} for path, message in field_problems or []],
            "target": target_facts, "conversation_attributes": attributes.as_dict() if attributes is not None else None,
            "exit_code": code,
        })
    raise Exit(code)


def _one_workspace(workspaces: list[tuple[int, str | None, str | None]]) -> None:
    """`target.tokens` must all be private apps of one workspace (their `GET /me` names the same `app.id_code`); exit 2 if not."""
    if len({workspace for _, workspace, _ in workspaces}) == 1:
        console.print(f"[green]✓[/] {len(workspaces)} tokens, all of workspace {escape(str(workspaces[0][1]))}")
        return
    first = workspaces[0][1]
    err_console.print("[bold red]target.tokens do not all belong to one workspace[/] (each must be a private app of the same one):")
    for position, workspace, name in workspaces:
        mark = "" if workspace == first else "   ← not token 1's workspace"
        err_console.print(f"  token {position}: workspace {escape(str(workspace))} ({escape(str(name))}){mark}")
    raise Exit(EXIT_CONFIG)


@commands.command(epilog=examples("deskmigrate init csv --contacts export/contacts.csv --companies export/companies.csv",
                                  "deskmigrate init zendesk --dir zendesk-migration",
                                  "deskmigrate init zendesk --dir zendesk-migration --fields   # once its credentials are set"))
@exits
def init(source: str = typer.Argument(..., help="The source: csv, zendesk, freshdesk, helpscout or any other registered source (an unknown name lists them)."),
         contacts: Path | None = typer.Option(None, "--contacts", help="csv: the contacts file, to read its header and rows."),
         companies: Path | None = typer.Option(None, "--companies", help="csv: the companies file."),
         folder: Path = typer.Option(Path("."), "--dir", help="Where to write config.yaml and mapping.yaml."),
         force: bool = typer.Option(False, "--force", help="Overwrite config.yaml and mapping.yaml if they exist."),
         fields: bool = typer.Option(False, "--fields", help="API sources, once DIR/config.yaml has credentials: read the source's "
                                     "field catalog and write mapping.yaml declaring every custom field with its type.")) -> None:
    """Write a commented config.yaml and an override mapping.yaml to start from: for CSV from the files' own headers
    (columns suggested, the other columns declared with the types their values show), for an API source from its settings;
    then, with --fields, the mapping from the source's own field catalog."""
    from deskmigrate import starter
    from deskmigrate.registry import SOURCES

    if source not in SOURCES:
        err_console.print(f"[red]no source {source!r}; they are {', '.join(sorted(SOURCES))}[/]")
        raise Exit(EXIT_CONFIG)
    if fields:
        _init_fields(source, folder, force)
        return
    written = [folder / "config.yaml", folder / "mapping.yaml"]
    existing = [str(path) for path in written if path.exists()]
    if existing and not force:
        err_console.print(f"[red]{', '.join(existing)} already exist; --force overwrites them[/]")
        raise Exit(EXIT_CONFIG)
    config_text, mapping_text = (starter.csv_starter(contacts, companies, folder) if source == "csv" else starter.api_starter(source))
    folder.mkdir(parents=True, exist_ok=True)
    written[0].write_text(config_text, encoding="utf-8")
    written[1].write_text(mapping_text, encoding="utf-8")
    console.print(f"wrote {written[0]} and {written[1]}: read them, then `deskmigrate check -c {written[0]}`")


def _init_fields(source: str, folder: Path, force: bool) -> None:
    """`init SOURCE --fields`: mapping.yaml from the field catalog of the source DIR/config.yaml reads."""
    from deskmigrate import lifecycle, starter

    config_path, mapping_path = folder / "config.yaml", folder / "mapping.yaml"
    if not config_path.is_file():
        err_console.print(f"[red]no {config_path}: run `deskmigrate init {source} --dir {folder}` first, set its credentials, "
                          "then add --fields[/]")
        raise Exit(EXIT_CONFIG)
    project = lifecycle.open_project(config_path)
    if project.loaded.config.source.type != source:
        err_console.print(f"[red]{config_path} reads {project.loaded.config.source.type}, not {source}[/]")
        raise Exit(EXIT_CONFIG)
    untouched = mapping_path.is_file() and mapping_path.read_text(encoding="utf-8") == starter.api_starter(source)[1]
    if mapping_path.exists() and not untouched and not force:
        err_console.print(f"[red]{mapping_path} already exists and was edited; --force overwrites it[/]")
        raise Exit(EXIT_CONFIG)
    definitions = project.connector.field_definitions()
    mapping_path.write_text(starter.catalog_mapping(source, definitions), encoding="utf-8")
    counts = {entity: sum(1 for d in definitions if d.entity == entity) for entity in ("companies", "contacts", "conversations")}
    console.print(f"wrote {mapping_path}: {len(definitions)} custom field(s) declared with their types "
                  f"({', '.join(f'{entity} {n}' for entity, n in counts.items())}); `deskmigrate plan -c {config_path}` shows "
                  "what lands")


@sandbox_app.command("serve", epilog=examples("deskmigrate sandbox serve -c config.yaml --port 8765"))
@exits
def sandbox_serve(config: Path = ConfigOption, port: int = typer.Option(8765)) -> None:
    """Serve the config's sandbox over HTTP until interrupted (for rehearsals with other tools)."""
    from deskmigrate import lifecycle
    from deskmigrate.sandbox import SandboxServer, SandboxSettings

    project = lifecycle.open_project(config)
    target = project.loaded.config.target
    if target.type != "sandbox":
        err_console.print("[red]the config's target is not a sandbox[/]")
        raise Exit(EXIT_CONFIG)
    path = project.loaded.resolve(target.path) if target.path else project.state_dir / "sandbox.db"
    tokens = target.access_tokens()
    server = SandboxServer(SandboxSettings(path=path, token=tokens[0], extra_tokens=tokens[1:], rate_limit=target.rate_limit,
                                           workspace_rate_limit=target.workspace_rate_limit if target.rate_limit else None,
                                           latency_ms=target.latency_ms, error_rate=target.error_rate,
                                           drop_rate=target.drop_rate, search_delay_s=target.search_delay_s,
                                           conversation_attributes=dict(target.conversation_attributes)), port=port)
    try:
        url = server.start()
    except OSError as error:
        err_console.print(f"[red]cannot serve the sandbox on port {port}: {escape(error.strerror or str(error))} "
                          f"(another program listens there?): choose another with --port[/]")
        raise Exit(EXIT_CONFIG) from None
    console.print(f"sandbox serving {path} at {url} (Ctrl-C to stop)")
    try:
        while True:
            time.sleep(3600)
    finally:
        server.stop()
