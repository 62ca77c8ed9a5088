"""In-memory portfolio/market views and intent builders for risk-engine tests (any package may reuse)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path

from optbot.config import Settings
from optbot.core.enums import Exchange, IntentPurpose, OptionType, Side
from optbot.core.events import OrderIntent
from optbot.core.ids import new_id
from optbot.core.timeutil import ist_datetime, to_utc
from optbot.risk.views import PositionSnapshot, SessionWindow

#: A fixed trading day (Tuesday) used by risk tests; 10:00 IST is inside the entry window.
TEST_DAY_OPEN = ist_datetime(date(2024, 5, 21), time(9, 15))


def session_for(open_ist: datetime, minutes: float = 375) -> SessionWindow:
    return SessionWindow(to_utc(open_ist), to_utc(open_ist + timedelta(minutes=minutes)))


@dataclass
class FakePortfolio:
    positions: list[PositionSnapshot] = field(default_factory=list)
    account: float = 1_000_000.0
    realised: float = 0.0
    unrealised: float = 0.0
    used_margin: float = 0.0
    free_margin: float = 1_000_000.0
    trade_results: list[float] = field(default_factory=list)
    #: units still open on working orders, by (token, side)
    working: dict[tuple[str, Side], int] = field(default_factory=dict)

    def open_positions(self) -> Sequence[PositionSnapshot]:
        return list(self.positions)

    def net_quantity(self, token: str) -> int:
        return sum(p.net_quantity for p in self.positions if p.token == token)

    def working_quantity(self, token: str, side: Side) -> int:
        return self.working.get((token, side), 0)

    def account_value(self) -> float:
        return self.account

    def day_realised_pnl(self) -> float:
        return self.realised

    def day_unrealised_pnl(self) -> float:
        return self.unrealised

    def margin_used(self) -> float:
        return self.used_margin

    def margin_available(self) -> float:
        return self.free_margin

    def recent_trade_results(self) -> Sequence[float]:
        return list(self.trade_results)


@dataclass
class FakeMarket:
    vix_value: float | None = 14.0
    prices: dict[str, float] = field(default_factory=lambda: {"NIFTY": 22500.0, "BANKNIFTY": 48000.0})
    option_prices: dict[str, float] = field(default_factory=dict)
    oi: dict[str, int] = field(default_factory=dict)
    lots: dict[str, int] = field(default_factory=dict)
    default_lot: int = 25
    default_price: float = 100.0
    default_oi: int = 50_000
    session_window: SessionWindow | None = field(default_factory=lambda: session_for(TEST_DAY_OPEN))
    margin_per_lot: float | None = None
    option_types: dict[str, str] = field(default_factory=dict)
    default_option_type: str = "CE"

    def vix(self) -> float | None:
        return self.vix_value

    def underlying_price(self, underlying: str) -> float | None:
        return self.prices.get(underlying)

    def last_price(self, token: str) -> float | None:
        return self.option_prices.get(token, self.default_price)

    def open_interest(self, token: str) -> int | None:
        return self.oi.get(token, self.default_oi)

    def lot_size(self, token: str) -> int | None:
        return self.lots.get(token, self.default_lot)

    def is_option(self, token: str) -> bool:
        return True

    def option_type(self, token: str) -> str | None:
        return self.option_types.get(token, self.default_option_type)

    def margin_required(self, token: str, side: str, quantity: int, price: float) -> float | None:
        return self.margin_per_lot

    def session(self) -> SessionWindow | None:
        return self.session_window


def make_intent(
    when: datetime,
    quantity: int = 25,
    side: Side = Side.BUY,
    purpose: IntentPurpose = IntentPurpose.ENTRY,
    token: str = "35001",
    underlying: str = "NIFTY",
    limit_price: float | None = 100.0,
    reason: str = "test",
) -> OrderIntent:
    return OrderIntent(
        ts_utc=when,
        intent_id=new_id(),
        strategy="test",
        token=token,
        exchange=Exchange.NFO,
        symbol=f"{underlying}TEST{token}",
        side=side,
        quantity=quantity,
        purpose=purpose,
        limit_price=limit_price,
        underlying=underlying,
        option_type=OptionType.CE,
        reason=reason,
    )


def make_position(
    token: str = "35001",
    net_quantity: int = 25,
    price: float = 100.0,
    underlying: str = "NIFTY",
    delta: float | None = 0.5,
) -> PositionSnapshot:
    return PositionSnapshot(
        token, Exchange.NFO, f"{underlying}TEST{token}", underlying, net_quantity, price, delta
    )


def risk_settings(data_root: Path, **risk_overrides: object) -> Settings:
    """Settings rooted in a temporary directory so kill-flag files never touch a real data root."""
    return Settings(paths={"data_root": data_root}, risk=risk_overrides)
