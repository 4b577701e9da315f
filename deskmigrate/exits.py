"""Exit codes, and the one place the error tree meets them: a command decorated with `exits`.

0 all good; 2 bad config or mapping, or the command refused to start (state folder busy, lost ledger, unconfirmed
rollback, more records rejected than load.max_rejected allows); 3 finished but some records failed or were rejected
(listed, retried next run) or validation found mismatches; 1 anything unexpected.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec

import typer
from rich.markup import escape

from deskmigrate.core.errors import AuthError, MigrationError, ProblemsError, RetriableError, SourceError, StateError
from deskmigrate.screen import console, err_console

EXIT_OK, EXIT_UNEXPECTED, EXIT_CONFIG, EXIT_FAILURES = 0, 1, 2, 3
P = ParamSpec("P")


class Exit(Exception):
    def __init__(self, code: int) -> None:
        self.code = code


def exits(command: Callable[P, None]) -> Callable[P, None]:
    """A command whose errors become exit codes: the one place the error tree meets them (see the module docstring)."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            command(*args, **kwargs)
        except Exit as done:
            raise typer.Exit(done.code) from None
        except ProblemsError as error:
            err_console.print(f"[bold red]{error.title}[/] ({len(error.problems)} problem{'s' if len(error.problems) != 1 else ''}):")
            for problem in error.problems:
                console.print(f"  • {problem}", markup=False)
            raise typer.Exit(EXIT_CONFIG) from None
        except AuthError as error:
            err_console.print(f"[bold red]Intercom refused the token:[/] {escape(str(error))}\n"
                              "check `target.token` in the config (and the environment variable it names): the token of a "
                              "private app of the right workspace, with read and write scopes")
            raise typer.Exit(EXIT_CONFIG) from None
        except SourceError as error:
            err_console.print(f"[bold red]the source:[/] {escape(str(error))}")
            raise typer.Exit(EXIT_UNEXPECTED) from None
        except StateError as error:
            err_console.print(f"[bold red]the state folder:[/] {escape(str(error))}")
            raise typer.Exit(EXIT_UNEXPECTED) from None
        except RetriableError as error:
            err_console.print(f"[bold red]cannot reach the target:[/] {escape(str(error))}")
            raise typer.Exit(EXIT_UNEXPECTED) from None
        except MigrationError as error:
            err_console.print(f"[bold red]error:[/] {escape(str(error))}")
            raise typer.Exit(EXIT_UNEXPECTED) from None
        except KeyboardInterrupt:
            err_console.print("[yellow]interrupted: run the same command again to resume[/]")
            raise typer.Exit(130) from None

    return run
