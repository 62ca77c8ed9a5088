"""The one built-in leg engine: runs any validated legs file on the Strategy interface.

It decides only: when the entry conditions hold it picks each leg's strike from the listed chain and
hands the legs to the context as one basket (the execution layer orders hedges first and unwinds a
basket that cannot complete); it then watches each leg's premium (and the underlying) for the leg and
combined exits and re-enters as the file says. Positions change only on fills (`on_fill`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time

import structlog

from optbot.config import Settings
from optbot.core.enums import IntentPurpose, OptionType, ProductType, Side, Timeframe
from optbot.core.events import BASKET_UNWOUND, Bar, Fill, OrderIntent, Tick
from optbot.core.instrument import Instrument
from optbot.core.timeutil import ist_date, to_ist
from optbot.instruments.chain import OptionChain
from optbot.instruments.expiry_choice import ExpiryChoice, ExpiryUnavailable, NoWeeklyExpiries
from optbot.instruments.master import index_name
from optbot.strategy.base import Strategy
from optbot.strategy.categorise import categorise
from optbot.strategy.context import StrategyContext
from optbot.strategy.intents import build_intent
from optbot.strategy.legs.fields import with_overrides
from optbot.strategy.legs.schema import WEEKDAYS, LegSpec, LegStrategyFile, Level
from optbot.strategy.regime import detect_regime

DAILY_BARS = 500

log = structlog.get_logger("optbot.strategy.legs")


@dataclass
class LegState:
    """One leg of today's position: what was bought/sold, its levels, and how it ended."""

    spec: LegSpec
    side: Side
    contract: Instrument
    quantity: int
    filled: int = 0  # entered quantity
    open_quantity: int = 0
    exit_value: float = 0.0  # premium of the exit fills
    entry_price: float = 0.0
    underlying_at_entry: float = 0.0
    stop: float | None = None
    target: float | None = None
    best: float | None = None
    closing: bool = False
    closed: bool = False
    exit_reason: str = ""

    @property
    def sign(self) -> int:
        return 1 if self.side is Side.BUY else -1

    def pnl(self, price: float) -> float:
        """Rupee P&L (before charges): exits at their fills, what is still open at `price`."""
        value_now = self.exit_value + self.open_quantity * price
        return self.sign * (value_now - self.filled * self.entry_price)


@dataclass
class DayState:
    day: date
    entered: bool = False
    legs: dict[str, LegState] = field(default_factory=dict)
    realised: float = 0.0  # P&L of leg states a re-entry replaced (they still count in the combined MTM)
    waiting: dict[str, tuple[Instrument, float]] = field(default_factory=dict)  # leg -> (contract, ref)
    reentries: dict[str, int] = field(default_factory=dict)
    pending_reentry: dict[str, tuple[str, float]] = field(default_factory=dict)  # leg -> (mode, anchor)
    entry_underlying: float | None = None  # momentum anchor at the entry time
    range_high: float | None = None
    range_low: float | None = None
    vix_at_entry: float | None = None
    locked_profit: float | None = None
    category: int | None = None  # today's ADX category, computed once a day
    regime_ok: bool | None = None
    all_closed_reason: str = ""
    notes: list[str] = field(default_factory=list)


def _at(now: datetime) -> time:
    return to_ist(now).time().replace(tzinfo=None)


class LegStrategy(Strategy):
    """Runs a legs file (entry rules, strike rules, per-leg and combined exits, re-entries)."""

    name = "legs"
    plan: LegStrategyFile

    def __init__(self, settings: Settings, plan: LegStrategyFile | None = None) -> None:
        super().__init__(settings)
        if plan is not None:
            self.plan = plan
        name = self.plan.strategy.name
        overrides = settings.strategy.leg_overrides.get(name)
        if overrides:
            self.plan = with_overrides(self.plan, overrides, f"strategy.leg_overrides.{name}")
        self.underlying = self.plan.strategy.underlying
        self.day: DayState | None = None
        self.spot: float | None = None
        self._pending: dict[str, str] = {}  # intent id -> leg id
        self._chains_now: dict[str, OptionChain | None] = {}

    def underlyings_traded(self) -> tuple[str, ...]:
        """The file's own underlying: a legs file trades it whatever the universe is."""
        return (self.underlying,)

    def expiries_watched(self) -> dict[str, tuple[ExpiryChoice, ...]]:
        """Every expiry a leg trades, so the feed quotes its strikes near the money."""
        return {self.underlying: tuple(dict.fromkeys(leg.expiry for leg in self.plan.legs))}

    # ---------------------------------------------------------------- view
    def leg_view(self) -> list[LegState]:
        """Today's legs (open, closing or closed), for dashboards and reports."""
        return list(self.day.legs.values()) if self.day is not None else []

    def combined_mtm(self, prices: dict[str, float]) -> float:
        """Rupee P&L of today's legs with open ones at `prices` (token -> premium; else entry)."""
        realised = self.day.realised if self.day is not None else 0.0
        return realised + sum(
            leg.pnl(prices.get(leg.contract.token, leg.entry_price)) for leg in self.leg_view() if leg.filled
        )

    # ---------------------------------------------------------------- inputs
    def on_tick(self, ctx: StrategyContext, tick: Tick) -> None:
        """Steps on the underlying's and VIX's ticks and on its own contracts' ticks; the feed's other
        contracts change nothing this strategy reads."""
        name = index_name(tick.symbol)
        if name == self.underlying:
            self.spot = tick.ltp
        elif name != index_name(self.settings.universe.vix_symbol) and tick.token not in self._tokens():
            return
        self._step(ctx)

    def _tokens(self) -> set[str]:
        day = self.day
        if day is None:
            return set()
        held = {leg.contract.token for leg in day.legs.values()}
        return held | {contract.token for contract, _ in day.waiting.values()}

    def on_bar(self, ctx: StrategyContext, bar: Bar) -> None:
        if index_name(bar.symbol) == self.underlying and bar.timeframe is not Timeframe.D1:
            self.spot = bar.close
            self._track_range(bar)
        self._step(ctx)

    def on_fill(self, ctx: StrategyContext, fill: Fill) -> None:
        day = self.day
        leg_id = self._pending.get(fill.intent_id)
        if day is None or leg_id is None or leg_id not in day.legs:
            return
        leg = day.legs[leg_id]
        if fill.side is leg.side:
            total = leg.filled + fill.quantity
            leg.entry_price = (leg.entry_price * leg.filled + fill.price * fill.quantity) / total
            leg.filled = total
            leg.open_quantity += fill.quantity
            leg.best = leg.entry_price
            leg.stop = self._level(leg, leg.spec.stop, adverse=True)
            leg.target = self._level(leg, leg.spec.target, adverse=False)
            return
        leg.open_quantity = max(leg.open_quantity - fill.quantity, 0)
        leg.exit_value += fill.price * fill.quantity
        if leg.open_quantity == 0:
            leg.closed = True
            leg.closing = False

    def on_reject(self, ctx: StrategyContext, intent: OrderIntent, reasons: tuple[str, ...]) -> None:
        day = self.day
        leg_id = self._pending.pop(intent.intent_id, None)
        if day is None or leg_id is None or leg_id not in day.legs:
            return
        leg = day.legs[leg_id]
        unwound = any(reason.startswith(BASKET_UNWOUND) for reason in reasons)
        if intent.purpose is IntentPurpose.ENTRY and (leg.filled == 0 or unwound):
            del day.legs[leg_id]  # an unwound leg is closed by the execution layer, not by this strategy
            day.notes.append(f"{leg_id} entry refused: {'; '.join(reasons)}")
        else:
            leg.closing = False  # an exit refused: try again on the next step

    def on_exit_capped(
        self, ctx: StrategyContext, intent: OrderIntent, approved_quantity: int, reasons: tuple[str, ...]
    ) -> None:
        """Only part of a leg's exit was sent (another working exit covers the rest): the leg stops
        counting as closing, so the next step checks it again and, if its exit still holds, sends one
        for what is open; risk caps that to what no working exit covers, so nothing is sold twice and
        the rest is exited once the other exit ends without filling."""
        day = self.day
        leg_id = self._pending.get(intent.intent_id)
        if day is None or leg_id is None or leg_id not in day.legs:
            return
        leg = day.legs[leg_id]
        if leg.open_quantity and not leg.closed:
            leg.closing = False
            day.notes.append(
                f"{leg_id} exit sent for {approved_quantity} of {intent.quantity}: {'; '.join(reasons)}"
            )

    def on_timer(self, ctx: StrategyContext, name: str) -> None:
        if name == "flatten" and self.day is not None:
            self._exit_all(ctx, "session flatten time")

    # ---------------------------------------------------------------- the step
    def _step(self, ctx: StrategyContext) -> None:
        self._chains_now = {}  # one chain per expiry per step, however many legs read it
        now = ctx.now_utc()
        today = ist_date(now)
        if self.day is None or self.day.day != today:
            self.day = DayState(today)
        day = self.day
        if self.spot is None:
            return
        if not day.entered:
            if self._entry_ready(ctx, day, now):
                self._enter(ctx, day, [leg for leg in self.plan.legs if self._leg_applies(ctx, leg, today)])
            return
        self._manage(ctx, day, now)

    def _entry_ready(self, ctx: StrategyContext, day: DayState, now: datetime) -> bool:
        entry = self.plan.entry
        clock = _at(now)
        if clock < entry.time:
            return False
        if day.entry_underlying is None:
            day.entry_underlying = self.spot
        if entry.until is not None and clock > entry.until:
            return False
        weekday = to_ist(now).weekday()
        if weekday >= len(WEEKDAYS) or WEEKDAYS[weekday] not in entry.days:
            return False
        if not (self._momentum_ready(day) and self._breakout_ready(day, now)):
            return False
        vix = ctx.vix()
        if entry.vix_min is not None and (vix is None or vix < entry.vix_min):
            return False
        if entry.vix_max is not None and (vix is None or vix > entry.vix_max):
            return False
        if entry.adx_categories and self._category(ctx, day.day) not in entry.adx_categories:
            return False
        if entry.regimes and not self._regime_matches(ctx, day.day):
            return False
        # the chains last: each one solves implied volatilities and Greeks near the money
        expiries = self._leg_expiries(ctx, day)
        if not expiries:
            return False
        dte = (min(expiries) - day.day).days  # days to the nearest expiry a leg trades
        return (entry.dte_min is None or dte >= entry.dte_min) and (
            entry.dte_max is None or dte <= entry.dte_max
        )

    def _momentum_ready(self, day: DayState) -> bool:
        momentum = self.plan.entry.momentum
        if momentum is None or day.entry_underlying is None or self.spot is None:
            return True
        move = self.spot - day.entry_underlying
        needed = (
            momentum.points
            if momentum.points is not None
            else day.entry_underlying * (momentum.pct or 0) / 100
        )
        if momentum.direction == "up":
            return move >= needed
        if momentum.direction == "down":
            return -move >= needed
        return abs(move) >= needed

    def _breakout_ready(self, day: DayState, now: datetime) -> bool:
        breakout = self.plan.entry.range_breakout
        if breakout is None:
            return True
        if _at(now) <= breakout.end or day.range_high is None or day.range_low is None or self.spot is None:
            return False
        return self.spot > day.range_high or self.spot < day.range_low

    def _track_range(self, bar: Bar) -> None:
        breakout = self.plan.entry.range_breakout
        if breakout is None or self.day is None:
            return
        start = _at(bar.start_utc)
        if breakout.start <= start and _at(bar.end_utc) <= breakout.end:
            day = self.day
            day.range_high = bar.high if day.range_high is None else max(day.range_high, bar.high)
            day.range_low = bar.low if day.range_low is None else min(day.range_low, bar.low)

    def _daily(self, ctx: StrategyContext, today: date) -> list[Bar]:
        return [
            b for b in ctx.bars(self.underlying, Timeframe.D1, DAILY_BARS) if ist_date(b.start_utc) < today
        ]

    def _category(self, ctx: StrategyContext, today: date) -> int:
        """The §3.3 category from the daily bars closed before today, computed once a day."""
        day = self.day
        if day is not None and day.day == today and day.category is not None:
            return day.category
        category = int(categorise(self.underlying, self._daily(ctx, today), self.settings.strategy).category)
        if day is not None and day.day == today:
            day.category = category
        return category

    def _regime_matches(self, ctx: StrategyContext, today: date) -> bool:
        """§10.1 regimes from the daily bars and VIX, assessed once a day."""
        day = self.day
        if day is not None and day.day == today and day.regime_ok is not None:
            return day.regime_ok
        assessment = detect_regime(self._daily(ctx, today), ctx.vix(), self.settings.strategy)
        matches = any(str(regime) in self.plan.entry.regimes for regime in assessment.regimes)
        if day is not None and day.day == today:
            day.regime_ok = matches
        return matches

    def _leg_applies(self, ctx: StrategyContext, leg: LegSpec, today: date) -> bool:
        return not leg.only_in_category or self._category(ctx, today) in leg.only_in_category

    # ---------------------------------------------------------------- strikes and entries
    def _chain(self, ctx: StrategyContext, day: DayState, choice: ExpiryChoice) -> OptionChain | None:
        """The chain of one expiry choice; None (noted once a day) when that expiry is not listed.

        An underlying without weekly contracts for a weekly leg is the strategy's error, not the
        data's: it is raised, so the runner pauses the strategy and the journal and alert say why."""
        if choice in self._chains_now:
            return self._chains_now[choice]
        try:
            chain = ctx.chain(self.underlying, choice)
        except NoWeeklyExpiries as exc:
            legs = ", ".join(leg.id for leg in self.plan.legs if leg.expiry == choice)
            raise NoWeeklyExpiries(f"{self.name}: leg {legs}: {exc}") from None
        except ExpiryUnavailable as exc:
            if str(exc) not in day.notes:
                day.notes.append(str(exc))
                log.warning("legs_expiry_unavailable", strategy=self.name, reason=str(exc))
            chain = None
        self._chains_now[choice] = chain
        return chain

    def _leg_expiries(self, ctx: StrategyContext, day: DayState) -> list[date]:
        """Every leg's expiry today, or [] while any leg's chain is missing or empty."""
        found: list[date] = []
        for choice in dict.fromkeys(leg.expiry for leg in self.plan.legs):
            chain = self._chain(ctx, day, choice)
            if chain is None or not chain.strikes:
                return []
            found.append(chain.expiry)
        return found

    def _quoted(self, chain: OptionChain, contract: Instrument) -> float | None:
        if contract.strike is None or contract.option_type is None or contract.strike not in chain.strikes:
            return None
        quote = chain.row(contract.strike).quote(contract.option_type)
        return quote.ltp if quote is not None and quote.ltp else None

    def _contract_price(
        self, ctx: StrategyContext, day: DayState, choice: ExpiryChoice, contract: Instrument
    ) -> float | None:
        """A contract's last price: from the position when held, else from its expiry's chain."""
        for position in ctx.positions():
            if position.token == contract.token:
                return position.last_price
        chain = self._chain(ctx, day, choice)
        return None if chain is None else self._quoted(chain, contract)

    def _pick(self, ctx: StrategyContext, day: DayState, leg: LegSpec) -> tuple[Instrument, float] | None:
        """The leg's contract by its strike rule and its live premium (None: not yet)."""
        chain = self._chain(ctx, day, leg.expiry)
        if chain is None or not chain.strikes or self.spot is None:
            return None
        contract = self.select_contract(chain, leg, self.spot)
        premium = None if contract is None else self._quoted(chain, contract)
        return None if contract is None or premium is None else (contract, premium)

    def select_contract(self, chain: OptionChain, leg: LegSpec, spot: float) -> Instrument | None:
        """The leg's contract from the listed strikes (None when its rule finds no quoted strike)."""
        option_type = OptionType(leg.option)
        rule = leg.strike
        atm = chain.atm_index(spot)
        if rule.mode == "atm":
            index = min(max(atm + rule.offset, 0), len(chain.strikes) - 1)
            return chain.rows[index].contract(option_type)
        if rule.mode == "pct_from_spot":
            target = spot * (1 + rule.value / 100)
            return chain.rows[chain.atm_index(target)].contract(option_type)
        if rule.mode == "straddle_width":
            row = chain.rows[atm]
            call, put = row.quote(OptionType.CE), row.quote(OptionType.PE)
            if call is None or put is None or call.ltp is None or put.ltp is None:
                return None
            width = (call.ltp + put.ltp) * rule.value
            target = chain.strikes[atm] + (width if option_type is OptionType.CE else -width)
            return chain.rows[chain.atm_index(target)].contract(option_type)
        eligible: list[tuple[float, Instrument]] = []
        for row in chain.rows:
            quote, contract = row.quote(option_type), row.contract(option_type)
            if quote is None or contract is None:
                continue
            score: float | None = None
            if rule.mode == "delta_nearest":
                score = None if quote.delta is None else abs(abs(quote.delta) - rule.value)
            elif quote.ltp is not None and quote.ltp > 0:
                score = self._premium_score(rule.mode, quote.ltp, rule.value)
            if score is not None:
                eligible.append((score, contract))
        if not eligible:
            return None
        return min(eligible, key=lambda pair: (pair[0], pair[1].strike or 0))[1]

    @staticmethod
    def _premium_score(mode: str, premium: float, value: float) -> float | None:
        if mode == "premium_at_least":
            return premium - value if premium >= value else None
        if mode == "premium_at_most":
            return value - premium if premium <= value else None
        return abs(premium - value)

    def _enter(self, ctx: StrategyContext, day: DayState, legs: Sequence[LegSpec]) -> None:
        """The day's entry: every leg's contract chosen now; legs with a `wait` start waiting, the
        rest go out as one basket. Nothing is sent until every leg has a listed, quoted contract."""
        picked: list[tuple[LegSpec, Instrument, float]] = []
        for leg in legs:
            found = self._pick(ctx, day, leg)
            if found is None:
                return  # no listed strike matches the rule yet (or no quote): try again on the next step
            picked.append((leg, *found))
        if not picked:
            return
        for leg, contract, premium in picked:
            if leg.wait is not None:
                day.waiting[leg.id] = (contract, premium)
                day.notes.append(
                    f"{leg.id} waits for {contract.symbol} to move {leg.wait.direction} from {premium:.2f}"
                )
        day.entered = True
        day.vix_at_entry = ctx.vix()
        now_legs = [(leg, contract, Side(leg.side)) for leg, contract, _ in picked if leg.wait is None]
        self._send(ctx, day, now_legs, "entry")

    def _send(
        self,
        ctx: StrategyContext,
        day: DayState,
        legs: Sequence[tuple[LegSpec, Instrument, Side]],
        reason: str,
    ) -> None:
        """Open these legs as one basket; a leg id entered again keeps its earlier P&L in `realised`."""
        if not legs:
            return
        intents = []
        for leg, contract, side in legs:
            earlier = day.legs.get(leg.id)
            if earlier is not None and earlier.filled:
                day.realised += earlier.pnl(earlier.entry_price)  # closed: its exits are all filled
            quantity = leg.lots * contract.lot_size
            state = LegState(leg, side, contract, quantity, underlying_at_entry=self.spot or 0.0)
            day.legs[leg.id] = state
            intents.append(
                self._intent(ctx, state, side, quantity, IntentPurpose.ENTRY, f"{reason} {leg.id}")
            )
        ctx.submit_basket(intents, f"{self.name} {reason}")

    def _release_waits(self, ctx: StrategyContext, day: DayState, now: datetime) -> None:
        """Wait-and-trade legs: enter each once its premium moved as asked; stop waiting at the cut-off."""
        if not day.waiting:
            return
        cutoff = self.plan.entry.until or self.plan.exits.time
        if cutoff is not None and _at(now) > cutoff:
            day.notes.extend(f"{leg_id} never reached its wait-and-trade move" for leg_id in day.waiting)
            day.waiting.clear()
            return
        specs = {leg.id: leg for leg in self.plan.legs}
        for leg_id, (contract, reference) in list(day.waiting.items()):
            spec = specs[leg_id]
            price = self._contract_price(ctx, day, spec.expiry, contract)
            if price is None or spec.wait is None or not spec.wait.reached(reference, price):
                continue
            del day.waiting[leg_id]
            self._send(ctx, day, [(spec, contract, Side(spec.side))], f"wait-and-trade {price:.2f}")

    def _intent(
        self,
        ctx: StrategyContext,
        leg: LegState,
        side: Side,
        quantity: int,
        purpose: IntentPurpose,
        reason: str,
    ) -> OrderIntent:
        intent = build_intent(
            ctx,
            self.name,
            leg.contract,
            side,
            quantity,
            purpose,
            f"{self.name}: {reason}",
            product=ProductType(self.plan.strategy.product),
            underlying_price=self.spot,
        )
        self._pending[intent.intent_id] = leg.spec.id
        return intent

    # ---------------------------------------------------------------- exits
    def _level(self, leg: LegState, level: Level | None, adverse: bool) -> float | None:
        """A premium level for points/% rules (underlying-point rules are checked on the underlying)."""
        if level is None or level.underlying_points is not None:
            return None
        distance = level.points if level.points is not None else leg.entry_price * (level.pct or 0) / 100
        towards_loss = -leg.sign if adverse else leg.sign
        return leg.entry_price + towards_loss * distance

    def _price(self, ctx: StrategyContext, leg: LegState) -> float | None:
        for position in ctx.positions():
            if position.token == leg.contract.token:
                return position.last_price
        return None

    def _manage(self, ctx: StrategyContext, day: DayState, now: datetime) -> None:
        exits = self.plan.exits
        open_legs = [leg for leg in day.legs.values() if leg.open_quantity and not leg.closing]
        prices = {leg.spec.id: self._price(ctx, leg) for leg in day.legs.values()}
        if exits.time is not None and _at(now) >= exits.time:
            self._exit_all(ctx, f"time exit {exits.time:%H:%M}")
            return
        vix = ctx.vix()
        jump = None if vix is None or day.vix_at_entry is None else vix - day.vix_at_entry
        if exits.vix_jump_points is not None and jump is not None and jump >= exits.vix_jump_points:
            self._exit_all(ctx, f"VIX jumped {jump:.2f} points since entry")
            return
        if self._combined_exit(ctx, day, prices):
            return
        self._release_waits(ctx, day, now)
        for leg in open_legs:
            price = prices.get(leg.spec.id)
            if price is None:
                continue
            self._trail(leg, price)
            hit = self._leg_exit(leg, price)
            if hit is not None:
                purpose, why = hit
                self._close(ctx, leg, purpose, why)
                if purpose is IntentPurpose.STOP:
                    self._after_stop(day, leg, price)
        self._reenter(ctx, day, now)

    def _combined_exit(self, ctx: StrategyContext, day: DayState, prices: dict[str, float | None]) -> bool:
        exits = self.plan.exits
        mtm = day.realised + sum(
            leg.pnl(prices.get(leg.spec.id) or leg.entry_price) for leg in day.legs.values() if leg.filled
        )
        limit = ctx.account_value() * self.settings.risk.max_strategy_loss_pct / 100
        stop = min(exits.mtm_stop, limit) if exits.mtm_stop is not None else limit
        if mtm <= -stop:
            self._exit_all(ctx, f"combined MTM {mtm:,.0f} <= stop -{stop:,.0f}")
            return True
        if exits.mtm_target is not None and mtm >= exits.mtm_target:
            self._exit_all(ctx, f"combined MTM {mtm:,.0f} >= target {exits.mtm_target:,.0f}")
            return True
        lock = exits.lock_and_trail
        if lock is not None:
            if day.locked_profit is None and mtm >= lock.at:
                day.locked_profit = lock.lock
            if day.locked_profit is not None and lock.every is not None and lock.by is not None:
                steps = int(max(mtm - lock.at, 0) // lock.every)
                day.locked_profit = max(day.locked_profit, lock.lock + steps * lock.by)
            if day.locked_profit is not None and mtm <= day.locked_profit:
                self._exit_all(ctx, f"combined MTM {mtm:,.0f} fell to the locked {day.locked_profit:,.0f}")
                return True
        return False

    def _trail(self, leg: LegState, price: float) -> None:
        trail = leg.spec.trail
        if trail is None or leg.stop is None or leg.best is None:
            return
        favourable = (price - leg.best) * leg.sign
        if favourable >= trail.every:
            steps = int(favourable // trail.every)
            leg.best += steps * trail.every * leg.sign
            leg.stop += steps * trail.by * leg.sign

    def _leg_exit(self, leg: LegState, price: float) -> tuple[IntentPurpose, str] | None:
        if leg.stop is not None and (price - leg.stop) * leg.sign <= 0:
            return IntentPurpose.STOP, f"{leg.spec.id} stop {leg.stop:.2f} hit at {price:.2f}"
        if leg.target is not None and (price - leg.target) * leg.sign >= 0:
            return IntentPurpose.TARGET, f"{leg.spec.id} target {leg.target:.2f} hit at {price:.2f}"
        spot = self.spot
        if spot is None:
            return None
        # underlying points: the move that hurts a bought CE / written PE is down, and vice versa
        hurts_when_down = (leg.contract.option_type is OptionType.CE) == (leg.side is Side.BUY)
        move = spot - leg.underlying_at_entry
        adverse = -move if hurts_when_down else move
        for level, purpose, against in (
            (leg.spec.stop, IntentPurpose.STOP, True),
            (leg.spec.target, IntentPurpose.TARGET, False),
        ):
            if level is None or level.underlying_points is None:
                continue
            if (adverse if against else -adverse) >= level.underlying_points:
                return (
                    purpose,
                    f"{leg.spec.id} underlying moved {move:+.2f} (limit {level.underlying_points:g})",
                )
        return None

    def _after_stop(self, day: DayState, leg: LegState, price: float) -> None:
        """Move the other legs of the same side to cost (a bought hedge keeps its own stop: selling a
        wing at cost while its written leg is open would leave that leg naked), then queue a re-entry."""
        if self.plan.exits.move_others_to_cost:
            for other in day.legs.values():
                if other is not leg and other.side is leg.side and other.open_quantity and not other.closing:
                    other.stop = other.entry_price
                    day.notes.append(f"{other.spec.id} stop moved to cost {other.entry_price:.2f}")
                    log.info(
                        "legs_stop_moved_to_cost",
                        strategy=self.name,
                        leg=other.spec.id,
                        stop=other.entry_price,
                        after=leg.spec.id,
                    )
        reentry = self.plan.reentry
        if reentry is not None and day.reentries.get(leg.spec.id, 0) < reentry.max_per_leg:
            anchor = leg.entry_price if reentry.mode == "at_cost" else (self.spot or 0.0)
            day.pending_reentry[leg.spec.id] = (reentry.mode, anchor)

    def _reenter(self, ctx: StrategyContext, day: DayState, now: datetime) -> None:
        """asap: at once, at the strike rule's contract now; at_cost: the same contract once its
        premium is back at the stopped entry price; momentum: once the underlying moved
        `momentum_points` from where the leg stopped; reversed: at once, the opposite side of the leg
        that stopped. Each leg at most `max_per_leg` times, none after `not_after`."""
        reentry = self.plan.reentry
        if reentry is None or not day.pending_reentry:
            return
        if reentry.not_after is not None and _at(now) > reentry.not_after:
            day.pending_reentry.clear()
            return
        for leg_id, (mode, anchor) in list(day.pending_reentry.items()):
            leg = day.legs.get(leg_id)
            if leg is None or not leg.closed:
                continue
            chosen: tuple[Instrument, float] | None = None
            side = leg.side if mode != "reversed" else (Side.SELL if leg.side is Side.BUY else Side.BUY)
            if mode == "at_cost":
                price = self._contract_price(ctx, day, leg.spec.expiry, leg.contract)
                if price is not None and (price - anchor) * leg.sign >= 0:
                    chosen = (leg.contract, price)
            elif mode != "momentum" or (
                self.spot is not None and abs(self.spot - anchor) >= (reentry.momentum_points or 0)
            ):
                chosen = self._pick(ctx, day, leg.spec)
            if chosen is None:
                continue
            del day.pending_reentry[leg_id]
            day.reentries[leg_id] = day.reentries.get(leg_id, 0) + 1
            self._send(ctx, day, [(leg.spec, chosen[0], side)], f"re-entry {mode}")

    def _close(self, ctx: StrategyContext, leg: LegState, purpose: IntentPurpose, why: str) -> None:
        leg.closing = True
        leg.exit_reason = why
        side = Side.SELL if leg.side is Side.BUY else Side.BUY
        ctx.submit(self._intent(ctx, leg, side, leg.open_quantity, purpose, why))

    def _exit_all(self, ctx: StrategyContext, why: str) -> None:
        day = self.day
        if day is None:
            return
        day.all_closed_reason = day.all_closed_reason or why
        day.pending_reentry.clear()
        day.waiting.clear()
        # written legs are bought back before their hedges are sold, so no naked short is left
        legs = sorted(day.legs.values(), key=lambda leg: leg.side is Side.BUY)
        for leg in legs:
            if leg.open_quantity and not leg.closed and not leg.closing:
                self._close(ctx, leg, IntentPurpose.EXIT, why)
