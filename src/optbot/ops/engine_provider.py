"""The dashboard's view of a running `TradingEngine` (spec §11.9, §13.4).

`EngineDashboardProvider` reads the engine's own objects (portfolio, store, risk engine, market
state, schedule) on the engine's event loop and turns them into a `DashboardSnapshot` of plain
JSON values. The intraday P&L series is sampled on the engine's clock (simulated time in a replay,
wall time live), so a replay draws the same chart every time. Nothing secret is ever read here.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from optbot.core.events import Event, FeedHealth, RiskDecision
from optbot.core.timeutil import ist_date, to_ist, to_utc
from optbot.ops.dashboard.provider import DashboardSnapshot
from optbot.ops.run_mode import engine_mode
from optbot.ops.sentiment import SentimentMonitor
from optbot.portfolio.positions import net_realised_pnl, unrealised_pnl
from optbot.strategy.legs import LegStrategy

if TYPE_CHECKING:
    from optbot.engine.core import TradingEngine

REPORT_SUFFIXES = (".html", ".json")
#: The prefix of an operator's entry pause (only such a pause may be resumed remotely).
OPERATOR_PAUSE = "entries paused by operator"
#: The portfolio's vega is per unit of volatility (1.0 = 100 %); traders read it per vol point.
VOL_POINTS_PER_UNIT = 100.0


def iso_z(moment: datetime) -> str:
    return f"{to_utc(moment):%Y-%m-%dT%H:%M:%SZ}"


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


@dataclass
class FeedStatus:
    """What the feed last reported (live sessions publish FeedHealth; a replay never disconnects)."""

    connected: bool | None = None
    reconnects: int = 0
    detail: str = ""


class EngineDashboardProvider:
    """`DashboardProvider` over a live `TradingEngine`."""

    def __init__(
        self,
        engine: TradingEngine,
        reports_dir: Path,
        *,
        recent_decisions: int = 10,
        max_pnl_points: int = 2000,
        mode: str | None = None,
    ) -> None:
        """`mode`: what the badge calls the session (`ops.run_mode`), by default the engine's broker
        and endpoint (`engine_mode`)."""
        self.engine = engine
        self.mode = mode or engine_mode(engine)
        self.reports_dir = reports_dir
        self.feed = FeedStatus()
        self._decisions: deque[RiskDecision] = deque(engine.risk.decisions, recent_decisions)
        self._pnl: deque[tuple[str, float]] = deque(maxlen=max_pnl_points)
        self._pnl_day: str = ""
        self.ticks_per_second: float | None = None
        self.sentiment = SentimentMonitor(engine)

    # ----------------------------------------------------------------- inputs
    def attach(self) -> None:
        self.engine.bus.subscribe("dashboard", (RiskDecision, FeedHealth), self._on_event)

    def _on_event(self, event: Event) -> None:
        if isinstance(event, RiskDecision):
            self._decisions.append(event)
        elif isinstance(event, FeedHealth):
            self.feed = FeedStatus(event.connected, event.reconnects, event.detail)

    def day_pnl(self) -> float:
        """Today's net realised P&L (closed trades, after charges) plus open positions' unrealised."""
        realised, unrealised = self._pnl_parts()
        return realised + unrealised

    def _pnl_parts(self) -> tuple[float, float]:
        portfolio = self.engine.portfolio
        return portfolio.daily_pnl(ist_date(self.engine.clock.now_utc())), portfolio.unrealised_total()

    def sample_pnl(self) -> tuple[str, float]:
        """One point of the intraday P&L chart at the engine's clock; a new day starts a new series."""
        now = self.engine.clock.now_utc()
        day = ist_date(now).isoformat()
        if day != self._pnl_day:
            self._pnl.clear()
            self._pnl_day = day
        point = (iso_z(now), round(self.day_pnl(), 2))
        if self._pnl and self._pnl[-1][0] == point[0]:
            self._pnl[-1] = point
        else:
            self._pnl.append(point)
        return point

    @property
    def pnl_series(self) -> list[tuple[str, float]]:
        return list(self._pnl)

    # ---------------------------------------------------------------- snapshot
    def snapshot(self) -> DashboardSnapshot:
        engine = self.engine
        now = engine.clock.now_utc()
        return DashboardSnapshot(
            ts_utc=iso_z(now),
            mode=self.mode,
            session=self._session(),
            feed=self._feed(now),
            risk=self._risk(),
            exposure=self._exposure(),
            positions=self._positions(),
            orders=self._orders(),
            trades=self._trades(),
            legs=self._legs(),
            sentiment=self.sentiment.rows(),
            pnl_series=self.pnl_series,
        )

    def _session(self) -> dict[str, Any]:
        engine = self.engine
        schedule = engine.schedule
        session: dict[str, Any] = {
            "now_ist": f"{to_ist(engine.clock.now_utc()):%Y-%m-%d %H:%M:%S}",
            "phase": engine.phase().value,
            "trading_blocked": engine.trading_blocked or "",
            "paused_strategies": ", ".join(sorted(engine.runner.paused)) or "",
        }
        if schedule is not None and schedule.session is not None:
            session["day"] = schedule.day.isoformat()
            session["open_ist"] = f"{to_ist(schedule.session.open_utc):%H:%M}"
            session["close_ist"] = f"{to_ist(schedule.session.close_utc):%H:%M}"
        deadlines = engine.pending_deadlines()
        if deadlines:
            when, name = deadlines[0]
            session["next_deadline"] = f"{name.replace('_', ' ')} at {to_ist(when):%H:%M} IST"
        return session

    def _feed(self, now: datetime) -> dict[str, Any]:
        market = self.engine.market
        last = market.last_tick_utc
        feed: dict[str, Any] = {
            "connected": self.feed.connected if self.feed.connected is not None else last is not None,
            "last_tick_ist": f"{to_ist(last):%H:%M:%S}" if last is not None else "",
            "last_tick_age_seconds": _round((now - last).total_seconds(), 1) if last is not None else None,
            "reconnects": self.feed.reconnects,
            "ticks": self.engine.counters.ticks,
            "bars": self.engine.counters.bars,
            "bars_refused": self.engine.counters.bars_refused,
            "ticks_per_second": _round(self.ticks_per_second, 1),
            "vix": _round(market.vix()),
        }
        for underlying in self.engine.underlyings:
            feed[underlying] = _round(market.underlying_price(underlying))
        if self.feed.detail:
            feed["detail"] = self.feed.detail
        return feed

    def _risk(self) -> dict[str, Any]:
        engine = self.engine
        status = engine.risk.status()
        return {
            "state": status.state.value,
            "size_multiplier": status.size_multiplier,
            "latches": "; ".join(status.latches),
            "recent_decisions": [self._decision_row(decision) for decision in reversed(self._decisions)],
        }

    def _decision_row(self, decision: RiskDecision) -> dict[str, Any]:
        intent = self.engine.store.find_intent(decision.intent_id)
        return {
            "time": f"{to_ist(decision.ts_utc):%H:%M:%S}",
            "symbol": intent.symbol if intent is not None else "",
            "strategy": intent.strategy if intent is not None else "",
            "approved": decision.approved,
            "quantity": decision.approved_quantity,
            "reasons": "; ".join(decision.reasons),
        }

    def _exposure(self) -> dict[str, Any]:
        view = self.engine.risk_view
        used, available = view.margin_used(), view.margin_available()
        total = used + available
        greeks = self.engine.portfolio.greeks()
        realised, unrealised = self._pnl_parts()
        notional = sum(abs(position.notional) for position in view.open_positions())
        return {
            "account_value": _round(view.account_value()),
            "margin_used": _round(used),
            "margin_available": _round(available),
            "margin_used_pct": _round(100.0 * used / total if total > 0 else 0.0),
            "gross_notional": _round(notional),
            "net_delta": _round(greeks.delta),
            "net_gamma": _round(greeks.gamma, 4),
            "net_theta_per_day": _round(greeks.theta),
            "net_vega_per_vol_point": _round(greeks.vega / VOL_POINTS_PER_UNIT),
            "realised_today": _round(realised),
            "unrealised": _round(unrealised),
            "day_pnl": _round(realised + unrealised),
        }

    def _legs(self) -> list[dict[str, Any]]:
        """Each legs strategy's legs: levels, P&L, and the strategy's combined MTM and net delta."""
        engine = self.engine
        rows: list[dict[str, Any]] = []
        for strategy in engine.runner.strategies:
            if not isinstance(strategy, LegStrategy):
                continue
            legs = strategy.leg_view()
            prices: dict[str, float] = {}
            net_delta = 0.0
            for leg in legs:
                mark = engine.portfolio.mark(leg.contract.exchange, leg.contract.token)
                if mark is None:
                    continue
                prices[leg.contract.token] = mark
                unit = engine.market.position_greeks(leg.contract.exchange, leg.contract.token, mark)
                if unit is not None and leg.open_quantity:
                    net_delta += unit.delta * leg.open_quantity * leg.sign
            mtm = strategy.combined_mtm(prices)
            for leg in legs:
                price = prices.get(leg.contract.token)
                state = "closed" if leg.closed else ("closing" if leg.closing else "open")
                rows.append(
                    {
                        "strategy": strategy.name,
                        "leg": leg.spec.id,
                        "side": leg.side.value,
                        "symbol": leg.contract.symbol,
                        "open_quantity": leg.open_quantity,
                        "entry": _round(leg.entry_price),
                        "ltp": _round(price),
                        "stop": _round(leg.stop),
                        "target": _round(leg.target),
                        "state": state if leg.filled else "pending",
                        "leg_pnl": _round(leg.pnl(price if price is not None else leg.entry_price)),
                        "strategy_mtm": _round(mtm),
                        "strategy_delta": _round(net_delta),
                    }
                )
        return rows

    def _positions(self) -> list[dict[str, Any]]:
        engine = self.engine
        rows: list[dict[str, Any]] = []
        for position in engine.portfolio.open_positions():
            mark = engine.portfolio.mark(position.exchange, position.token)
            unit = engine.market.position_greeks(position.exchange, position.token, mark) if mark else None
            quantity = position.net_quantity
            rows.append(
                {
                    "symbol": position.symbol,
                    "quantity": quantity,
                    "average_price": _round(position.average_price),
                    "ltp": _round(mark),
                    "unrealised_pnl": _round(unrealised_pnl(position, mark)),
                    "realised_pnl": _round(net_realised_pnl(position)),
                    "delta": _round(unit.delta * quantity) if unit is not None else None,
                    "gamma": _round(unit.gamma * quantity, 4) if unit is not None else None,
                    "theta_per_day": _round(unit.theta * quantity) if unit is not None else None,
                    "vega_per_vol_point": _round(unit.vega * quantity / VOL_POINTS_PER_UNIT)
                    if unit is not None
                    else None,
                }
            )
        return sorted(rows, key=lambda row: str(row["symbol"]))

    def _orders(self) -> list[dict[str, Any]]:
        return [
            {
                "symbol": order.symbol,
                "side": order.side.value,
                "quantity": order.quantity,
                "filled_quantity": order.filled_quantity,
                "price": _round(order.price),
                "status": order.status.value,
                "purpose": order.purpose.value,
                "placed_ist": f"{to_ist(order.created_utc):%H:%M:%S}",
            }
            for order in self.engine.store.orders_in_flight()
        ]

    def _trades(self) -> list[dict[str, Any]]:
        engine = self.engine
        today = ist_date(engine.clock.now_utc())
        rows: list[dict[str, Any]] = []
        for fill in engine.store.fills(today, today):
            intent = engine.store.find_intent(fill.intent_id) if fill.intent_id else None
            rows.append(
                {
                    "time": f"{to_ist(fill.ts_utc):%H:%M:%S}",
                    "symbol": fill.symbol,
                    "side": fill.side.value,
                    "quantity": fill.quantity,
                    "price": _round(fill.price),
                    "charges": _round(fill.charges),
                    "strategy": intent.strategy if intent is not None else "",
                    "purpose": intent.purpose.value.lower() if intent is not None else "",
                    "reason": engine.intent_reasons.get(intent.intent_id, "") if intent is not None else "",
                }
            )
        return rows

    # ----------------------------------------------------------------- actions
    async def kill_switch(self, reason: str, actor: str) -> str:
        """Halt the engine: risk state HALTED, pending orders cancelled, positions flattened."""
        engine = self.engine
        pending = len(engine.store.orders_in_flight())
        open_positions = len(engine.portfolio.open_positions())
        await engine.kill_switch(reason, actor)
        await engine.process_pending()
        return (
            f"risk state {engine.risk.state.value}; {pending} pending order(s) cancelled; "
            f"{open_positions} position(s) being flattened"
        )

    def pause_entries(self, actor: str) -> str:
        """No new entries until resumed (exits, stops and the flatten still run)."""
        engine = self.engine
        if engine.trading_blocked and not engine.trading_blocked.startswith(OPERATOR_PAUSE):
            return f"entries already blocked: {engine.trading_blocked}"
        engine.pause_trading(f"{OPERATOR_PAUSE} {actor}")
        return f"new entries paused by {actor}; exits and the flatten still run"

    def resume_entries(self, actor: str) -> str:
        """Lift an operator's pause only: a block the engine set (a reconciliation mismatch, the
        session stopping) needs its own remedy and is never cleared from here."""
        engine = self.engine
        blocked = engine.trading_blocked
        if not blocked:
            return "entries are not paused"
        if not blocked.startswith(OPERATOR_PAUSE):
            return f"not resumed: entries are blocked by the engine ({blocked})"
        engine.resume_trading()
        engine.note("resumed", f"entries resumed by {actor}")
        return f"new entries resumed by {actor}"

    def open_position_symbols(self) -> list[str]:
        return sorted(position.symbol for position in self.engine.portfolio.open_positions())

    async def exit_position(self, symbol: str, actor: str) -> str:
        """Close one open position, named by its trading symbol (case-insensitive)."""
        engine = self.engine
        wanted = symbol.strip().upper()
        matches = [p for p in engine.portfolio.open_positions() if p.symbol.upper() == wanted]
        if not matches:
            held = ", ".join(self.open_position_symbols()) or "none"
            return f"no open position {symbol!r} (open: {held})"
        position = matches[0]
        started = await engine.exit_position(position.exchange, position.token, f"operator exit by {actor}")
        if not started:
            return f"{position.symbol}: already being closed by a working order"
        return f"{position.symbol}: closing {position.net_quantity:+d} at the market's bid/ask"

    def status_text(self) -> str:
        """One paragraph a phone screen can show: phase, risk, feed, book."""
        snapshot = self.snapshot()
        session, feed, risk = snapshot.session, snapshot.feed, snapshot.risk
        blocked = session.get("trading_blocked") or "no"
        return (
            f"{snapshot.mode} {session.get('now_ist', '')} IST, phase {session.get('phase', '')}\n"
            f"risk {risk['state']} (size x{risk['size_multiplier']:g}); entries blocked: {blocked}\n"
            f"feed {'connected' if feed.get('connected') else 'DOWN'}, "
            f"last tick {feed.get('last_tick_ist') or '-'}, VIX {feed.get('vix')}\n"
            f"open positions {len(snapshot.positions)}, orders in flight {len(snapshot.orders)}"
        )

    def positions_text(self) -> str:
        rows = self.snapshot().positions
        if not rows:
            return "no open positions"
        return "\n".join(
            f"{row['symbol']} {row['quantity']:+d} @ {row['average_price']:.2f}, LTP {row['ltp']}, "
            f"unrealised {row['unrealised_pnl']}"
            for row in rows
        )

    def pnl_text(self) -> str:
        exposure = self.snapshot().exposure
        return (
            f"today: realised {exposure['realised_today']:,.2f} (net of charges), "
            f"unrealised {exposure['unrealised']:,.2f}, total {exposure['day_pnl']:,.2f}"
        )

    def report_files(self) -> list[Path]:
        """Daily and backtest reports under the reports directory (newest name first, unique names)."""
        if not self.reports_dir.is_dir():
            return []
        seen: dict[str, Path] = {}
        for path in sorted(self.reports_dir.rglob("*"), key=lambda item: item.name, reverse=True):
            if path.is_file() and path.suffix in REPORT_SUFFIXES and not path.name.startswith("."):
                seen.setdefault(path.name, path)
        return list(seen.values())
