"""`optbot audit verify | prune`: the audit hash chain, its archives and its retention."""

from __future__ import annotations

import typer

from optbot.cli.common import console, fail, settings_from
from optbot.config.settings import Settings
from optbot.core.clock import LiveClock
from optbot.persistence.db import DatabaseError, open_database, state_db_path
from optbot.persistence.retention import (
    RetentionError,
    apply_audit_retention,
    audit_archive_dir,
    verify_audit_trail,
)
from optbot.persistence.store import Store

audit_app = typer.Typer(help="The tamper-evident audit trail.", no_args_is_help=True)


def _open_store(settings: Settings) -> Store:
    try:
        connection = open_database(state_db_path(settings), create=False)
    except DatabaseError as exc:
        fail(str(exc))
    return Store(connection, LiveClock())


@audit_app.command("verify")
def verify(
    ctx: typer.Context,
    live_only: bool = typer.Option(
        False, "--live-only", help="check the live table only, not the archive files of pruned rows"
    ),
) -> None:
    """Check the archives and every live audit row's hash chain; exit 1 naming the first bad row."""
    settings = settings_from(ctx)
    path = state_db_path(settings)
    store = _open_store(settings)
    try:
        result = verify_audit_trail(store, audit_archive_dir(settings), check_archives=not live_only)
    finally:
        store.close()
    if result.ok:
        archived = f" ({result.archived_rows} of them archived)" if result.archived_rows else ""
        console.print(f"audit chain OK: {result.rows} rows{archived} in {path}", soft_wrap=True)
        return
    console.print(
        f"[red]audit chain BROKEN[/red] at seq {result.first_bad_seq}: {result.problem} ({path})",
        soft_wrap=True,
    )
    raise typer.Exit(1)


@audit_app.command("prune")
def prune(
    ctx: typer.Context,
    dry_run: bool = typer.Option(False, "--dry-run", help="only report what would be archived"),
) -> None:
    """Archive audit rows older than execution.audit_retention_days to a verified file, then delete them."""
    settings = settings_from(ctx)
    store = _open_store(settings)
    try:
        result = apply_audit_retention(store, LiveClock(), settings, dry_run=dry_run)
    except RetentionError as exc:
        fail(str(exc), code=1)
    finally:
        store.close()
    horizon = f"older than {result.cutoff_utc.isoformat()} ({settings.execution.audit_retention_days} days)"
    if result.rows_archived == 0:
        console.print(f"nothing to prune: no audit rows {horizon}", soft_wrap=True)
        return
    span = f"{result.rows_archived} audit rows (seq {result.first_seq}..{result.last_seq}) {horizon}"
    if result.dry_run:
        console.print(f"dry run: would archive and prune {span}", soft_wrap=True)
        return
    console.print(f"archived and pruned {span}", soft_wrap=True)
    console.print(f"archive: {result.archive_path} (sha256 {result.archive_sha256})", soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")
