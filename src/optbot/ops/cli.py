"""`optbot notify test`: prove the configured notification targets work."""

from __future__ import annotations

import asyncio

import typer

from optbot.cli.common import console, fail, settings_from
from optbot.core.enums import AlertPriority

# The notifier (apprise, structlog) is imported when the command runs, so `optbot notify --help` and a
# bad argument answer without loading it.

notify_app = typer.Typer(help="Notifications (Apprise).", no_args_is_help=True)


@notify_app.command("test")
def notify_test(
    ctx: typer.Context,
    priority: AlertPriority = typer.Option(AlertPriority.INFO, help="priority of the test alert"),
) -> None:
    """Send one test alert to every configured target and report the result."""
    from optbot.core.clock import LiveClock
    from optbot.core.events import Alert
    from optbot.ops.notifications import NOTIFY_URLS_ENV, Notifier, notification_urls

    settings = settings_from(ctx)
    urls = notification_urls(settings.notifications)
    if not urls:
        fail(f"no notification targets: set notifications.urls in the config or {NOTIFY_URLS_ENV}")
    notification_settings = settings.notifications.model_copy(update={"urls": urls, "retry_attempts": 1})
    clock = LiveClock()
    try:
        notifier = Notifier(notification_settings, clock)
    except ValueError as exc:
        fail(str(exc))

    async def send() -> None:
        await notifier.start()
        notifier.submit(
            Alert(
                ts_utc=clock.now_utc(),
                priority=priority,
                title="optbot test notification",
                message="If you can read this, optbot can reach you.",
                action_required="None",
                dedupe_key="notify-test",
            )
        )
        await notifier.stop(drain_seconds=notification_settings.delivery_timeout_seconds * 3)

    asyncio.run(send())
    if notifier.stats.delivered:
        console.print(f"[green]delivered[/green] to {len(urls)} target(s)")
        return
    fail(f"delivery failed ({notifier.stats.last_error or 'no target accepted it'})", code=1)


def register(app: typer.Typer) -> None:
    app.add_typer(notify_app, name="notify")
