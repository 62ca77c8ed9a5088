"""`optbot audit verify`: recompute the audit hash chain of the state database."""

from __future__ import annotations

import typer

from optbot.cli.common import console, fail, settings_from
from optbot.core.clock import LiveClock
from optbot.persistence.db import DatabaseError, open_database, state_db_path
from optbot.persistence.store import Store

audit_app = typer.Typer(help="The tamper-evident audit trail.", no_args_is_help=True)


@audit_app.command("verify")
def verify(ctx: typer.Context) -> None:
    """Check every audit row's hash chain; exit 1 and name the first bad row if it was tampered with."""
    settings = settings_from(ctx)
    path = state_db_path(settings)
    try:
        connection = open_database(path, create=False)
    except DatabaseError as exc:
        fail(str(exc))
    store = Store(connection, LiveClock())
    try:
        result = store.verify_chain()
    finally:
        store.close()
    if result.ok:
        console.print(f"audit chain OK: {result.rows} rows in {path}")
        return
    console.print(f"[red]audit chain BROKEN[/red] at seq {result.first_bad_seq}: {result.problem} ({path})")
    raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")
