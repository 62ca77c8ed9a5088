"""What the engine knows about the market right now, built only from ticks it was given.

`MarketState` is the risk engine's `RiskMarketView`, the strategies' option-chain source, the order
manager's quote source and the portfolio's Greeks source. It never asks the broker: in a backtest,
paper or live run it sees exactly the ticks the engine processed, so the same data gives the same view.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta

from optbot.analytics.pricing import Greeks, greeks, implied_volatility
from optbot.broker.models import DepthLevel, Quote
from optbot.calendar import NseCalendar, Segment, TradingSession
from optbot.config import Settings
from optbot.core.clock import Clock
from optbot.core.enums import Exchange, OptionType
from optbot.core.events import Bar, Tick
from optbot.core.instrument import Instrument, InstrumentKey
from optbot.core.timeutil import ist_date, ist_datetime
from optbot.engine.subscriptions import GapWindows, PricedChain
from optbot.instruments.chain import OptionChain, OptionQuote
from optbot.instruments.expiry_choice import ExpiryChoice, ExpiryUnavailable, choose_expiry
from optbot.instruments.master import InstrumentMaster, InstrumentNotFound
from optbot.portfolio.portfolio import Greeks as PositionGreeks

SECONDS_PER_YEAR = 365.0 * 86400
#: How far ahead the exchange rules are read to tell whether weekly contracts trade (two weeks and a day).
WEEKLY_LOOKAHEAD = timedelta(days=15)
MIN_YEARS_TO_EXPIRY = 60.0 / SECONDS_PER_YEAR
#: The `source` of a tick carrying a bar's close (the instrument's last price), not a traded print.
BAR_SOURCE = "bar"


#: (price, spot, strike, years to expiry, rate, option type, fallback volatility) -> the implied
#: volatility and Greeks solved from them, for the process: a pure function of those inputs, and an
#: optimisation's backtests solve the same marks at the same bars in every trial (Brent's method was
#: ~8 % of a trial). Bounded: full, it starts again empty.
_SOLVED: dict[
    tuple[float, float, float, float, float, OptionType, float | None], tuple[float | None, Greeks | None]
] = {}
SOLVED_LIMIT = 200_000


def forget_solved() -> None:
    """Empty the table of solved volatilities (a benchmark or a test timing or checking cold runs)."""
    _SOLVED.clear()


def _solve(
    price: float,
    spot: float,
    strike: float,
    years: float,
    rate: float,
    option_type: OptionType,
    fallback_vol: float | None,
) -> tuple[float | None, Greeks | None]:
    solved = implied_volatility(price, spot, strike, years, rate, option_type, model="black76")
    volatility = solved.volatility or fallback_vol
    if volatility is None:
        return None, None
    return solved.volatility, greeks("black76", spot, strike, years, volatility, rate, option_type)


#: Per-token state is keyed by (exchange, token) tuples: cheaper to build and hash per tick than
#: `InstrumentKey` (lookups by an `InstrumentKey` go through `_key`).
_Key = tuple[Exchange, str]


def _key(key: InstrumentKey) -> _Key:
    return (key.exchange, key.token)


class MarketState:
    """Latest prices per token, the underlyings and VIX, and option chains for the strategies."""

    def __init__(
        self, settings: Settings, clock: Clock, calendar: NseCalendar, instruments: InstrumentMaster
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.calendar = calendar
        self.instruments = instruments
        # The latest tick per token (its ltp, bid/ask, volume, OI and time are the market's view); a
        # bar-driven run keeps the bar whose close is the last price, as a tick only when read.
        self._last: dict[_Key, Tick | Bar] = {}
        self._underlying_by_key: dict[_Key, str] = {}
        self._underlying_price: dict[str, float] = {}
        self._vix_key: _Key | None = None
        self._vix: float | None = None
        self._chains: dict[tuple[str, date], OptionChain] = {}
        self._chosen_expiries: dict[tuple[str, date, str], date | ExpiryUnavailable] = {}
        self._session_day: date | None = None
        self._session: TradingSession | None = None
        self.last_tick_utc: datetime | None = None
        self.ticks_seen = 0
        # A bar-driven backtest prices options on demand (only the contracts something asks about):
        # when set, an option's last price comes from here instead of the last tick.
        self.option_source: Callable[[Instrument, datetime], Tick | None] | None = None
        # Spec §3.4: after an opening gap an underlying's window is wider until its ATM settles.
        self.gap_windows = GapWindows(settings.instruments)
        # Implied volatility and Greeks per (contract, spot, price, fallback vol) at one instant: risk
        # asks for every open position's Greeks several times while evaluating one intent.
        self._sensitivities_at: datetime | None = None
        self._sensitivities_memo: dict[
            tuple[Exchange, str, float, float, float | None], tuple[float | None, Greeks | None]
        ] = {}
        #: The quote last built per contract, with the tick and instrument row it was built from: the
        #: paper venue's margin checks ask for the index's quote once per option leg of the book, and
        #: a quote is the same while its tick is the same object (ticks and quotes are immutable).
        self._quotes: dict[_Key, tuple[Tick, Instrument, Quote]] = {}

    def _latest(self, instrument: Instrument, now: datetime | None = None) -> Tick | None:
        """The instrument's latest price: its last tick, or for an option the on-demand source's (as
        of `now`, default the clock's)."""
        if self.option_source is not None and instrument.is_option:
            return self.option_source(instrument, now or self.clock.now_utc())
        return self._last_tick((instrument.exchange, instrument.token))

    def _last_tick(self, key: _Key) -> Tick | None:
        """The token's latest price as a tick: a bar's close (`on_bar_close`) becomes the tick a feed
        would have carried, stamped at the bar's close, the first time something reads it."""
        last = self._last.get(key)
        if last is None or isinstance(last, Tick):
            return last
        tick = self._last[key] = Tick(
            last.end_utc,
            last.token,
            key[0],
            last.symbol,
            last.close,
            ts_exchange=last.end_utc,
            source=BAR_SOURCE,
        )
        return tick

    def last_tick(self, exchange: Exchange, token: str) -> Tick | None:
        """The token's latest price as a tick (None before its first price)."""
        return self._last_tick((exchange, token))

    # ------------------------------------------------------------------ setup
    def underlying_instrument(self, underlying: str) -> Instrument:
        """The index row (or equity row for a stock underlying) whose ticks give the underlying price."""
        try:
            return self.instruments.index_instrument(underlying)
        except InstrumentNotFound:
            found = self.instruments.by_symbol(underlying)
            if found.is_option:
                raise InstrumentNotFound(f"{underlying!r} resolves to an option, not an underlying") from None
            return found

    def forget(self, instruments: Iterable[Instrument]) -> None:
        """Drop the last ticks of contracts that left the master and every cached chain (the listing
        changed)."""
        for instrument in instruments:
            self._last.pop(_key(instrument.key), None)
            self._quotes.pop(_key(instrument.key), None)
        self._chains = {}
        self._chosen_expiries = {}

    def track_underlying(self, underlying: str) -> Instrument:
        instrument = self.underlying_instrument(underlying)
        self._underlying_by_key[_key(instrument.key)] = underlying.upper()
        return instrument

    def track_vix(self) -> Instrument:
        instrument = self.instruments.index_instrument(self.settings.universe.vix_symbol)
        self._vix_key = _key(instrument.key)
        return instrument

    def set_vix(self, value: float) -> None:
        """Seed VIX (e.g. the previous close) until the first VIX tick of the session arrives."""
        if value > 0:
            self._vix = value

    def set_underlying_price(self, underlying: str, price: float) -> None:
        if price > 0:
            self._underlying_price[underlying.upper()] = price

    # ------------------------------------------------------------------ ticks
    def on_tick(self, tick: Tick) -> str | None:
        """Keep the tick as the instrument's latest; returns the underlying it prices (`underlying_of`),
        so the engine's tick path looks the instrument up once."""
        return self._keep_last((tick.exchange, tick.token), tick, tick.ltp, tick.ts_utc)

    def on_bar_close(self, bar: Bar, exchange: Exchange) -> str | None:
        """A bar-driven market source's price event: the bar's close as the instrument's last price at
        the bar's close, exactly as `on_tick` keeps a tick carrying it (the tick itself is built only if
        something reads it: a backtest's index prices are read as numbers). Returns the underlying the
        instrument prices, as `on_tick` does."""
        return self._keep_last((exchange, bar.token), bar, bar.close, bar.end_utc)

    def _keep_last(self, key: _Key, latest: Tick | Bar, price: float, when: datetime) -> str | None:
        """`latest` (a tick, or a bar standing for the tick its close makes) as the instrument's last
        price; a price that is not positive is ignored. Returns the underlying the instrument prices."""
        underlying = self._underlying_by_key.get(key)
        if price <= 0:
            return underlying
        self._last[key] = latest  # immutable: kept as it is, not copied
        self.ticks_seen += 1
        self.last_tick_utc = when
        if underlying is not None:
            self._underlying_price[underlying] = price
        elif key == self._vix_key:
            self._vix = price
        return underlying

    def is_vix_token(self, exchange: Exchange, token: str) -> bool:
        return (exchange, token) == self._vix_key

    def underlying_of(self, tick: Tick) -> str | None:
        return self._underlying_by_key.get((tick.exchange, tick.token))

    def is_vix(self, tick: Tick) -> bool:
        return self.is_vix_token(tick.exchange, tick.token)

    # ---------------------------------------------------------- RiskMarketView
    def vix(self) -> float | None:
        return self._vix

    def underlying_price(self, underlying: str) -> float | None:
        return self._underlying_price.get(underlying.upper())

    def instrument_for_token(self, token: str) -> Instrument | None:
        """The master row for a bare token (ticks and position events carry no exchange)."""
        found = self.instruments.find_token(token)
        return found[0] if found else None

    def _last_for_token(self, token: str) -> Tick | None:
        instrument = self.instrument_for_token(token)
        return self._latest(instrument) if instrument else None

    def last_price(self, token: str) -> float | None:
        last = self._last_for_token(token)
        return last.ltp if last else None

    def open_interest(self, token: str) -> int | None:
        last = self._last_for_token(token)
        return last.open_interest if last else None

    def lot_size(self, token: str) -> int | None:
        instrument = self.instrument_for_token(token)
        return instrument.lot_size if instrument else None

    def is_option(self, token: str) -> bool:
        instrument = self.instrument_for_token(token)
        return bool(instrument and instrument.is_option)

    def option_type(self, token: str) -> str | None:
        instrument = self.instrument_for_token(token)
        return instrument.option_type.value if instrument is not None and instrument.option_type else None

    def margin_required(self, token: str, side: str, quantity: int, price: float) -> float | None:
        """A bought option needs its premium; a written one needs SPAN margin the broker must quote."""
        if side.upper() == "BUY" and self.is_option(token):
            return quantity * price
        return None

    def session(self) -> TradingSession | None:
        today = ist_date(self.clock.now_utc())
        if today != self._session_day:
            self._session_day = today
            self._session = self.calendar.session(today, Segment.FO) if self.calendar.covers(today) else None
        return self._session

    # ------------------------------------------------------------------ quotes
    def quote(self, exchange: Exchange, token: str) -> Quote | None:
        """The order manager's view of the book: last price and the best bid/ask from the feed."""
        instrument = self.instruments.get(exchange, token)
        last = self._latest(instrument) if instrument is not None else None
        if last is None or instrument is None:
            return None
        key = (exchange, token)
        held = self._quotes.get(key)
        if held is not None and held[0] is last and held[1] is instrument:
            return held[2]
        bids = (DepthLevel(last.bid, 0, 0),) if last.bid else ()
        asks = (DepthLevel(last.ask, 0, 0),) if last.ask else ()
        quote = Quote(
            exchange,
            token,
            instrument.symbol,
            last.ltp,
            volume=last.volume,
            open_interest=last.open_interest,
            bids=bids,
            asks=asks,
            exchange_time=last.ts_utc,
        )
        self._quotes[key] = (last, instrument, quote)
        return quote

    # ------------------------------------------------------------------ chains
    def trading_expiry(self, underlying: str, today: date) -> date | None:
        """The nearest listed expiry far enough away to hold a position (spec §10.5 close-before-expiry)."""
        strategy = self.settings.strategy
        is_stock = underlying.upper() in {name.upper() for name in self.settings.universe.stock_underlyings}
        keep_days = strategy.stock_close_days_before_expiry if is_stock else strategy.close_days_before_expiry
        listed = [expiry for expiry in self.instruments.expiries(underlying) if expiry >= today]
        for expiry in listed:
            if self.calendar.covers(expiry) and self._trading_days_until(today, expiry) > keep_days:
                return expiry
        return listed[-1] if listed else None

    def _trading_days_until(self, today: date, expiry: date) -> int:
        return len(self.calendar.trading_days(today + timedelta(days=1), expiry))

    def expiry_for(self, underlying: str, choice: ExpiryChoice) -> date:
        """The listed expiry a leg means by `choice` today (instruments.expiry_choice), remembered for
        the day; raises NoWeeklyExpiries / ExpiryUnavailable with a sentence saying why."""
        today = ist_date(self.clock.now_utc())
        key = (underlying.upper(), today, choice)
        found = self._chosen_expiries.get(key)
        if found is None:
            try:
                found = choose_expiry(
                    choice,
                    underlying.upper(),
                    today,
                    self.instruments.expiries(underlying),
                    self._rules_have_weeklies(underlying, today),
                )
            except ExpiryUnavailable as exc:
                found = exc
            self._chosen_expiries[key] = found
        if isinstance(found, ExpiryUnavailable):
            raise found
        return found

    def _rules_have_weeklies(self, underlying: str, today: date) -> bool:
        """The exchange rules (calendar) list a weekly expiry in the next two weeks (False where the
        calendar has no rules for the underlying or ends)."""
        end = min(today + WEEKLY_LOOKAHEAD, self.calendar.provisional_until)
        if not self.calendar.covers(today) or underlying.upper() not in self.calendar.underlyings:
            return False
        return bool(self.calendar.expiries(underlying, today, end, "weekly"))

    def _listed_chain(self, underlying: str, choice: ExpiryChoice | None = None) -> OptionChain | None:
        """The listed strikes of the trading expiry (or of `choice`), without quotes (cached per expiry)."""
        now = self.clock.now_utc()
        expiry = (
            self.trading_expiry(underlying, ist_date(now))
            if choice is None
            else self.expiry_for(underlying, choice)
        )
        if expiry is None:
            return None
        key = (underlying.upper(), expiry)
        base = self._chains.get(key)
        if base is None:
            base = OptionChain(underlying.upper(), expiry, self.instruments.options(underlying, expiry))
            self._chains = {k: v for k, v in self._chains.items() if k[1] >= ist_date(now)}
            self._chains[key] = base
        return base

    def chain(self, underlying: str, expiry: ExpiryChoice | None = None) -> OptionChain | None:
        """Listed strikes of the trading expiry (or of the `expiry` choice: current/next weekly,
        monthly, next monthly), quoted from ticks (with Greeks) near the money.

        A row is quoted when it is first read (at this moment's spot and prices): a strategy that
        picks one strike does not pay for solving implied volatility across the whole window."""
        base = self._listed_chain(underlying, expiry)
        spot = self.underlying_price(underlying)
        if base is None or spot is None or not base.strikes:
            return base
        now = self.clock.now_utc()
        near = {contract.token for contract in self._near_the_money(base, spot)}

        def quote(contract: Instrument) -> OptionQuote | None:
            return self._option_quote(contract, spot, now) if contract.token in near else None

        return base.with_quote_lookup(quote)

    def watch_list(self, underlying: str, expiry: ExpiryChoice | None = None) -> list[Instrument]:
        """Contracts the feed should carry for the chain (of the trading expiry, or of the `expiry`
        choice): both sides, ATM +/- the window. Only the listing is needed, so no implied volatility
        or Greeks are solved for it."""
        spot = self.underlying_price(underlying)
        chain = self._listed_chain(underlying, expiry)
        if chain is None or spot is None or not chain.strikes:
            return []
        return self._near_the_money(chain, spot)

    def priced_chain(self, underlying: str) -> PricedChain | None:
        """The trading expiry's listed chain and the underlying's last price, the two the feed window
        (`watch_list`) is centred on; None while either is unknown (then the window is empty)."""
        spot = self.underlying_price(underlying)
        chain = self._listed_chain(underlying)
        if chain is None or spot is None or spot <= 0 or not chain.strikes:
            return None
        return chain, spot

    def _near_the_money(self, chain: OptionChain, spot: float) -> list[Instrument]:
        window = self.settings.engine.atm_strike_window
        contracts: list[Instrument] = []
        for strike in self.gap_windows.strikes(chain, spot, self.clock.now_utc(), 2 * window + 1):
            row = chain.row(strike)
            contracts.extend(contract for contract in (row.call, row.put) if contract is not None)
        return contracts

    def years_to_expiry(self, contract: Instrument) -> float:
        """Years from the clock's now to the contract's expiry close, as its Greeks are priced with."""
        return self._years_to_expiry(contract, self.clock.now_utc())

    def _years_to_expiry(self, contract: Instrument, now: datetime) -> float:
        assert contract.expiry is not None
        session = (
            self.calendar.session(contract.expiry, Segment.FO)
            if self.calendar.covers(contract.expiry)
            else None
        )
        close = (
            session.close_utc if session is not None else ist_datetime(contract.expiry, datetime.min.time())
        )
        return max((close - now).total_seconds() / SECONDS_PER_YEAR, MIN_YEARS_TO_EXPIRY)

    def _sensitivities(
        self,
        contract: Instrument,
        spot: float,
        price: float,
        now: datetime,
        fallback_vol: float | None = None,
    ) -> tuple[float | None, Greeks | None]:
        """Black-76 implied volatility of `price` and the Greeks at it (or at `fallback_vol` when the
        price has no implied volatility); (None, None) when neither is available."""
        if now != self._sensitivities_at:
            self._sensitivities_memo.clear()
            self._sensitivities_at = now
        key = (contract.exchange, contract.token, spot, price, fallback_vol)
        found = self._sensitivities_memo.get(key)
        if found is None:
            found = self._sensitivities_memo[key] = self._solve_sensitivities(
                contract, spot, price, now, fallback_vol
            )
        return found

    def _solve_sensitivities(
        self, contract: Instrument, spot: float, price: float, now: datetime, fallback_vol: float | None
    ) -> tuple[float | None, Greeks | None]:
        assert contract.strike is not None and contract.option_type is not None
        years = self._years_to_expiry(contract, now)
        rate = self.settings.analytics.risk_free_rate
        key = (price, spot, contract.strike, years, rate, contract.option_type, fallback_vol)
        found = _SOLVED.get(key)
        if found is None:
            found = _solve(*key)
            if len(_SOLVED) >= SOLVED_LIMIT:
                _SOLVED.clear()
            _SOLVED[key] = found
        return found

    def _option_quote(self, contract: Instrument, spot: float, now: datetime) -> OptionQuote | None:
        last = self._latest(contract, now)
        if last is None or contract.strike is None or contract.option_type is None:
            return None
        volatility, values = self._sensitivities(contract, spot, last.ltp, now)
        if values is None:
            return OptionQuote(ltp=last.ltp, open_interest=last.open_interest, volume=last.volume)
        return OptionQuote(
            ltp=last.ltp,
            open_interest=last.open_interest,
            volume=last.volume,
            implied_volatility=volatility,
            delta=values.delta,
            gamma=values.gamma,
            theta=values.theta_per_day,
            vega=values.vega_per_unit,
        )

    def position_greeks(self, exchange: Exchange, token: str, mark: float) -> PositionGreeks | None:
        """Per-unit Greeks for the portfolio (options only), from the implied volatility of the mark."""
        instrument = self.instruments.get(exchange, token)
        if instrument is None or instrument.option_type is None or instrument.strike is None:
            return None
        spot = self.underlying_price(instrument.underlying)
        if spot is None or mark <= 0:
            return None
        fallback = (self._vix or 15.0) / 100
        _, values = self._sensitivities(instrument, spot, mark, self.clock.now_utc(), fallback)
        if values is None:
            return None
        return PositionGreeks(values.delta, values.gamma, values.theta_per_day, values.vega_per_unit)
