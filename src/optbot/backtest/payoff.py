"""`optbot strategy payoff FILE|NAME --at ISO-TIME`: a legs strategy's payoff picture at a moment.

The moment's market comes from the replay (the sample index bars and the simulator's option pricing,
the same market a backtest trades), seen through the engine's own `MarketState` (the chain, IVs and
Greeks a strategy would see). The legs are chosen by the leg engine's strike rules; the chart shows
the expiry and today's payoff, the breakevens, max profit / loss, the net Greeks and the basket margin
(`[margin]` SPAN + exposure approximation, hedges counted). Written as self-contained HTML (Plotly,
script inlined: works offline) and, when headless Chromium is available through Playwright, a PNG.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from pathlib import Path

from optbot.analytics.payoff import Payoff, PayoffLeg, payoff
from optbot.backtest.runner import default_data_root
from optbot.calendar import Segment, get_calendar
from optbot.config import Settings
from optbot.core.atomic import atomic_write_text
from optbot.core.clock import SimClock
from optbot.core.enums import OptionType
from optbot.core.errors import UserError
from optbot.core.instrument import Instrument
from optbot.core.output_path import OutputTarget
from optbot.core.span import OptionLeg, SpanMargin, basket_margin
from optbot.core.timeutil import IST, ist_date, ist_datetime, to_ist
from optbot.engine.market import MarketState
from optbot.engine.replay import sim_quote_to_tick
from optbot.instruments.chain import OptionChain
from optbot.instruments.expiry_choice import ExpiryChoice, ExpiryUnavailable
from optbot.instruments.master import InstrumentMaster, MasterInfo
from optbot.instruments.scripmaster import parse_rows
from optbot.sim.market.replay import ReplayMarket
from optbot.strategy.legs import load_legs

PREMARKET = time(9, 0)
HTML_SUFFIX = ".html"
PNG_SUFFIX = ".png"
#: What `--out FILE` may name: the HTML chart, or the PNG (the HTML is written beside it).
CHART_SUFFIXES = (HTML_SUFFIX, PNG_SUFFIX)


@dataclass(frozen=True, slots=True)
class LegRow:
    leg_id: str
    side: str
    contract: Instrument
    quantity: int
    price: float
    iv: float | None
    delta: float | None
    gamma: float | None
    theta: float | None
    vega: float | None


@dataclass(frozen=True, slots=True)
class PayoffReport:
    strategy: str
    at: datetime
    spot: float
    legs: tuple[LegRow, ...]
    curve: Payoff
    margin: SpanMargin

    def net(self, field: str) -> float:
        """Net position Greek (per-unit Greek x signed quantity)."""
        total = 0.0
        for leg in self.legs:
            value = getattr(leg, field)
            if value is not None:
                total += value * (leg.quantity if leg.side == "BUY" else -leg.quantity)
        return total

    def summary_lines(self) -> list[str]:
        lines = [f"{self.strategy} at {to_ist(self.at):%Y-%m-%d %H:%M} IST, spot {self.spot:,.2f}"]
        for leg in self.legs:
            lines.append(
                f"  {leg.leg_id:10} {leg.side:4} {leg.quantity:>4} {leg.contract.symbol} @ {leg.price:.2f}"
                + (f" (IV {leg.iv:.1%})" if leg.iv else "")
            )
        lines.append(f"breakevens: {', '.join(f'{value:,.2f}' for value in self.curve.breakevens) or 'none'}")
        lines.append(f"max profit {_money(self.curve.max_profit)}, max loss {_money(self.curve.max_loss)}")
        lines.append(
            f"margin {self.margin.total:,.0f} (SPAN {self.margin.span:,.0f}, exposure "
            f"{self.margin.exposure:,.0f}, premium {self.margin.premium:,.0f})"
        )
        lines.append(
            f"net delta {self.net('delta'):,.1f}, gamma {self.net('gamma'):,.4f}, "
            f"theta {self.net('theta'):,.0f}/day, vega {self.net('vega') / 100:,.0f} per IV point"
        )
        return lines


def _money(value: float | None) -> str:
    return "unlimited" if value is None else f"{value:,.0f}"


def parse_moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UserError(f"--at: not an ISO date-time (e.g. 2025-09-08T09:20): {text!r}") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=IST)


def market_at(
    settings: Settings, underlying: str, at: datetime, expiry: ExpiryChoice = "current_weekly"
) -> tuple[float, OptionChain]:
    """Spot and the quoted chain (IVs, Greeks) of the `expiry` choice the engine would see at `at`."""
    calendar = get_calendar()
    if not calendar.covers(ist_date(at)):
        raise UserError(f"--at {to_ist(at):%Y-%m-%d %H:%M}: outside the market calendar")
    day = ist_date(at)
    if calendar.session(day, Segment.FO) is None:
        reason = calendar.holiday_name(day) or ("a weekend" if day.weekday() >= 5 else "no F&O session")
        raise UserError(
            f"--at {to_ist(at):%Y-%m-%d %H:%M}: {day} is not a trading day ({reason}); "
            f"the next one is {calendar.next_trading_day(day)}"
        )
    clock = SimClock(ist_datetime(ist_date(at), PREMARKET))  # the day's ticks are replayed up to `at`
    # the data root a backtest reads (replay.data_dir, else the user's own bars, else the bundled sample)
    replay_settings = settings.replay.model_copy(update={"data_dir": default_data_root(settings)})
    replay = ReplayMarket(clock, replay_settings, calendar, depth_levels=1)
    replay.advance_to(at)
    listing, _ = parse_rows(replay.scrip_master_rows())
    master = InstrumentMaster(listing, MasterInfo(as_of=ist_date(at), source="replay (synthetic options)"))
    market = MarketState(settings, clock, calendar, master)
    market.track_underlying(underlying)
    market.track_vix()
    indices = [
        market.underlying_instrument(underlying),
        master.index_instrument(settings.universe.vix_symbol),
    ]

    def feed(instruments: list[Instrument]) -> None:
        for instrument in instruments:
            found = replay.quote(instrument.exchange.value, instrument.token)
            if found is not None:
                market.on_tick(sim_quote_to_tick(found))

    feed(indices)
    spot = market.underlying_price(underlying)
    if spot is None:
        raise UserError(f"--at {to_ist(at):%Y-%m-%d %H:%M}: no {underlying} price in the replay data then")
    try:
        feed(market.watch_list(underlying, expiry))
        chain = market.chain(underlying, expiry)
    except ExpiryUnavailable as exc:
        raise UserError(f"--at {to_ist(at):%Y-%m-%d %H:%M}: {exc}") from None
    if chain is None:
        raise UserError(f"no listed {underlying} options at {to_ist(at):%Y-%m-%d %H:%M}")
    return spot, chain


def build_report(settings: Settings, source: str, at: datetime) -> PayoffReport:
    strategy_class = load_legs(source)
    plan = strategy_class.plan
    underlying = plan.strategy.underlying
    choices = sorted({leg.expiry for leg in plan.legs})
    if len(choices) > 1:
        raise UserError(
            f"{plan.strategy.name}: legs on different expiries ({', '.join(choices)}): the payoff at "
            "expiry is drawn for legs of one expiry only"
        )
    spot, chain = market_at(settings, underlying, at, plan.legs[0].expiry)
    engine = strategy_class(settings)
    rows: list[LegRow] = []
    for leg in plan.legs:
        contract = engine.select_contract(chain, leg, spot)
        if contract is None or contract.strike is None:
            raise UserError(f"leg {leg.id}: no listed strike matches {leg.strike.mode} at that time")
        quote = chain.row(contract.strike).quote(OptionType(leg.option))
        if quote is None or not quote.ltp:
            raise UserError(f"leg {leg.id}: {contract.symbol} has no quote at that time")
        rows.append(
            LegRow(
                leg.id,
                leg.side,
                contract,
                leg.lots * contract.lot_size,
                quote.ltp,
                quote.implied_volatility,
                quote.delta,
                quote.gamma,
                quote.theta,
                quote.vega,
            )
        )
    calendar = get_calendar()
    session = calendar.session(chain.expiry, Segment.FO) if calendar.covers(chain.expiry) else None
    close = session.close_utc if session is not None else None
    years = max(((close or at) - at).total_seconds(), 0.0) / (365 * 86400)
    legs = [
        PayoffLeg(
            row.contract.option_type.value if row.contract.option_type else "CE",
            row.contract.strike or 0.0,
            row.quantity if row.side == "BUY" else -row.quantity,
            row.price,
            row.iv or 0.0,
            years,
        )
        for row in rows
    ]
    curve = payoff(legs, spot, settings.analytics.risk_free_rate, width_pct=4.0)
    margin = basket_margin(
        settings.margin.span_parameters(),
        [
            OptionLeg(
                underlying, chain.expiry, leg.option_type, leg.strike, leg.quantity, leg.entry_price, spot
            )
            for leg in legs
        ],
    )
    return PayoffReport(plan.strategy.name, at, spot, tuple(rows), curve, margin)


def write_chart(report: PayoffReport, target: OutputTarget) -> list[Path]:
    """HTML always; PNG too when headless Chromium renders it (required when the user named a .png).
    Returns the files written."""
    import plotly.graph_objects as go

    curve = report.curve
    figure = go.Figure()
    figure.add_trace(go.Scatter(x=curve.spots, y=curve.at_expiry, name="at expiry", line={"width": 3}))
    figure.add_trace(go.Scatter(x=curve.spots, y=curve.today, name="today", line={"dash": "dash"}))
    figure.add_hline(y=0, line={"color": "grey", "width": 1})
    figure.add_vline(
        x=report.spot, line={"color": "black", "dash": "dot"}, annotation_text=f"spot {report.spot:,.0f}"
    )
    for value in curve.breakevens:
        figure.add_vline(x=value, line={"color": "red", "width": 1}, annotation_text=f"BE {value:,.0f}")
    figure.update_layout(
        title="<br>".join([report.summary_lines()[0], *report.summary_lines()[-4:]]),
        xaxis_title="underlying at expiry",
        yaxis_title="P&L (rupees)",
        width=1100,
        height=650,
        margin={"t": 200},
    )
    target.directory.mkdir(parents=True, exist_ok=True)
    stem = f"payoff-{report.strategy}-{to_ist(report.at):%Y%m%d-%H%M}"
    html = target.path(stem, HTML_SUFFIX)
    atomic_write_text(html, figure.to_html(include_plotlyjs=True, full_html=True))
    written = [html]
    png = target.path(stem, PNG_SUFFIX)
    if _render_png(html, png):
        written.append(png)
    elif target.suffix == PNG_SUFFIX:
        raise UserError(
            f"--out {png}: a PNG needs headless Chromium (pip install playwright; playwright install "
            f"chromium); the HTML chart is at {html}"
        )
    return written


def _render_png(html: Path, png: Path) -> bool:
    """Screenshot the HTML with headless Chromium (Playwright); False when it is not installed."""
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        return False
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=_chromium())
            page = browser.new_page(viewport={"width": 1120, "height": 680})
            page.goto(html.resolve().as_uri())
            page.wait_for_selector(".main-svg")
            page.screenshot(path=str(png))
            browser.close()
    except Error:
        return False
    return True


def _chromium() -> str | None:
    for candidate in (Path("/usr/bin/chromium"), Path("/usr/bin/chromium-browser")):
        if candidate.exists():
            return str(candidate)
    return None


__all__ = ["PayoffReport", "build_report", "parse_moment", "write_chart"]
