"""Wiring for the live Angel One stack from settings (used by the CLI and the lifecycle)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from optbot.broker.angelone.auth import AuthService, CloseTimeProvider
from optbot.broker.angelone.broker import AngelOneBroker
from optbot.broker.angelone.feed import (
    CircuitCallback,
    FallbackTokens,
    HealthCallback,
    MarketFeed,
    MarketHours,
)
from optbot.broker.angelone.order_socket import OrderUpdateSocket
from optbot.broker.angelone.rest import AngelOneRestClient
from optbot.broker.angelone.secrets import SecretStore, choose_backend
from optbot.broker.angelone.wsbase import FeedCredentials, ReconnectCircuitPolicy
from optbot.broker.errors import TokenExpired
from optbot.calendar import load_calendar
from optbot.config.sections.broker import BrokerSettings
from optbot.config.settings import Settings
from optbot.core.bus import EventBus
from optbot.core.clock import Clock
from optbot.core.errors import UserError


@dataclass
class AngelOneStack:
    secrets: SecretStore
    rest: AngelOneRestClient
    broker: AngelOneBroker
    auth: AuthService
    settings: BrokerSettings

    def credentials(self) -> FeedCredentials:
        """For MarketFeed / OrderUpdateSocket: the current session's socket credentials."""
        tokens = self.auth.tokens
        if tokens is None:
            raise TokenExpired("no broker session: log in first")
        return FeedCredentials(tokens.client_code, self.rest.api_key, tokens.jwt_token, tokens.feed_token)

    def market_feed(
        self,
        clock: Clock,
        bus: EventBus | None = None,
        *,
        market_hours: MarketHours | None = None,
        on_health: HealthCallback | None = None,
        fallback_tokens: FallbackTokens | None = None,
        on_circuit: CircuitCallback | None = None,
        circuit: ReconnectCircuitPolicy | None = None,
    ) -> MarketFeed:
        """A MarketFeed wired to this session: REST quote fallback and auth-failure checks included.
        (Typed options, not **kwargs: a callback of the wrong shape must fail the type check, not kill
        the feed's watchdog in market hours.)"""
        return MarketFeed(
            self.settings,
            clock,
            self.credentials,
            bus=bus,
            quote_fallback=lambda tokens: self.broker.quotes("FULL", tokens),
            on_auth_error=self.auth.report_auth_failure,
            market_hours=market_hours,
            on_health=on_health,
            fallback_tokens=fallback_tokens,
            on_circuit=on_circuit,
            circuit=circuit,
        )

    def order_socket(self, clock: Clock, bus: EventBus | None = None, **options: Any) -> OrderUpdateSocket:
        return OrderUpdateSocket(self.settings, clock, self.credentials, bus=bus, **options)

    async def aclose(self) -> None:
        await self.rest.aclose()


def open_secret_store(settings: Settings, prompt_password: Callable[[], str] | None = None) -> SecretStore:
    broker = settings.broker
    backend = choose_backend(
        broker.keyring_backend, settings.paths.resolve(broker.keyring_file), prompt_password=prompt_password
    )
    return SecretStore(backend, broker.keyring_service)


def calendar_close_provider(settings: Settings) -> CloseTimeProvider | None:
    """Each day's F&O close from the configured NSE calendar (15:30, or 15:40 from 2026-08-03).

    None when the calendar cannot be loaded; the session check then falls back to
    `broker.market_close_time_ist`.
    """
    configured = settings.calendar.overrides_file
    try:
        calendar = load_calendar(
            None if configured is None else settings.paths.resolve(configured),
            settings.paths.resolve(settings.calendar.synced_dir),
            settings.calendar.provisional_years,
        )
    except (UserError, OSError, ValueError):
        return None

    def close_for(day: date) -> datetime | None:
        try:
            session = calendar.session(day)
        except UserError:
            return None
        return session.close_utc if session is not None else None

    return close_for


def build_stack(
    settings: Settings,
    clock: Clock,
    secrets: SecretStore,
    close_time_provider: CloseTimeProvider | None = None,
    totp_clock: Clock | None = None,
) -> AngelOneStack:
    """The client stack; session checks use the calendar's close unless a provider is given."""
    rest = AngelOneRestClient(settings.broker, clock, secrets.get("api_key") or "")
    broker = AngelOneBroker(rest, clock, settings.broker)
    closes = close_time_provider if close_time_provider is not None else calendar_close_provider(settings)
    auth = AuthService(settings.broker, secrets, clock, rest, closes, totp_clock=totp_clock)
    rest.on_token_expired = auth.report_auth_failure
    return AngelOneStack(secrets, rest, broker, auth, settings.broker)
