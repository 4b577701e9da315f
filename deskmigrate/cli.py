"""The `deskmigrate` command: one Typer app with every command registered on it — the setup commands (init, check,
sandbox serve), the migration commands (extract, plan, load, run, validate, rollback), the switch (sync, cutover-check) and the inspection commands
(status, report, schema, mappings) of deskmigrate.commands. Importing it loads what --help and --version need, no more.
"""

from __future__ import annotations

import gc
import logging
import sys

import typer

from deskmigrate import __version__
from deskmigrate.commands import inspection, migration, setup, switch
from deskmigrate.exits import EXIT_UNEXPECTED
from deskmigrate.screen import err_console

# Plain help (rich_markup_mode=None): readable when piped, and flags without a "<bool>" beside them.
app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False, rich_markup_mode=None,
                  help="Move a support organisation into Intercom, repeatably and reversibly.",
                  epilog="\b\nStart with:\n  deskmigrate check -c config.yaml    # config, mapping, source and token\n"
                         "  deskmigrate plan -c config.yaml     # what would change; writes nothing to Intercom\n"
                         "  deskmigrate run -c config.yaml      # the migration (run it again for deltas)")
app.add_typer(setup.commands)
app.add_typer(migration.commands)
app.add_typer(switch.commands)
app.add_typer(inspection.commands)
app.add_typer(inspection.mappings_app, name="mappings")
app.add_typer(setup.sandbox_app, name="sandbox")


def _print_version(wanted: bool) -> None:
    if wanted:
        sys.stdout.write(f"deskmigrate {__version__}\n")
        raise typer.Exit(0)


@app.callback()
def _options(version: bool = typer.Option(False, "--version", is_eager=True, callback=_print_version,
                                          help="Print the version and exit.")) -> None:
    """Move a support organisation into Intercom, repeatably and reversibly."""


def main() -> None:
    # A command starts by importing and building thousands of long-lived objects (modules, pydantic models) and makes
    # few reference cycles after: collecting the youngest generation every 10,000 allocations instead of 700 spares it
    # collections that find nothing (0.06-0.08 s of a 500-contact run), and cycles are still freed.
    gc.set_threshold(10_000, 20, 20)
    try:
        app()
    except SystemExit:
        raise
    except Exception as error:  # the last resort: exit 1, without a traceback that may hold data
        logging.getLogger("deskmigrate").exception("unexpected error")
        err_console.print(f"[bold red]unexpected error:[/] {type(error).__name__}: {error}")
        sys.exit(EXIT_UNEXPECTED)
    finally:
        # Whatever the command made is freed by reference counting as the interpreter ends; freezing spares its last
        # collections a walk over every object (pandas, pydantic, the run's): 0.1 s of every command's exit.
        gc.freeze()
