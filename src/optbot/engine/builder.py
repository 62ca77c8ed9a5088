"""The one place a `TradingEngine` is wired to its ports (issue 15 part 1).

An engine has two ports besides its clock and store: where its market data comes from (the live
socket feed or a tick replay driving `on_tick` / `on_bar`, or the bar kernel driving `take_bar_close` /
`take_bar` over a data root's bars) and the venue its orders go to:

* `Venue.BROKER` - a real broker adapter (Angel One), reporting through its order-update socket;
* `Venue.PAPER` - the paper broker, filling from the engine's own quotes (paper trading, tick replays);
* `Venue.BARS` - the simulated backtest venue (`BarVenue`), filling only on bars, deterministically.

The live session, the paper session (and the demo, which runs one), the tick replay and the
bar-driven backtest (and the research harness on it) all call `build_engine`; a simulated venue is
filled from the engine's market view and reports every status change and fill through the same
order-update path a real broker's socket feeds (`on_order_update` semantics via
`TradingEngine.connect_paper`). Dispatch is the engine's own: one intent at a time in
submission order on a synchronous bus unless the caller hands in its bus.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from optbot.broker.base import Broker
from optbot.broker.paper.bar_venue import BarVenue
from optbot.broker.paper.broker import PaperBroker, PaperFunds
from optbot.broker.paper.fill_model import FillModel
from optbot.calendar import NseCalendar
from optbot.charges import RateCard
from optbot.config import Settings
from optbot.core.bus import EventBus
from optbot.core.clock import Clock
from optbot.engine.core import MarketQuoteSource, TradingEngine
from optbot.instruments.master import InstrumentMaster
from optbot.persistence.store import Store
from optbot.strategy.base import Strategy


class Venue(StrEnum):
    BROKER = "broker"
    PAPER = "paper"
    BARS = "bars"


@dataclass(frozen=True)
class VenueSpec:
    """Which venue, and for a simulated one its order-id prefix and (paper) where its books persist."""

    kind: Venue
    broker: Broker | None = None  # Venue.BROKER only
    order_id_prefix: str = "P"
    state_path: Path | None = None


@dataclass(frozen=True)
class BuiltEngine:
    engine: TradingEngine
    paper: PaperBroker | None  # the simulated venue (PaperBroker or BarVenue), None for a real broker


def _simulated_venue(
    settings: Settings, clock: Clock, instruments: InstrumentMaster, card: RateCard, spec: VenueSpec
) -> tuple[PaperBroker, MarketQuoteSource]:
    quotes = MarketQuoteSource(None)
    venue_type = BarVenue if spec.kind is Venue.BARS else PaperBroker
    venue = venue_type(
        clock,
        quotes,
        FillModel.from_settings(settings.backtest),
        PaperFunds(settings.backtest.initial_capital, settings.margin.span_parameters()),
        instruments,
        rate_card=card,
        order_id_prefix=spec.order_id_prefix,
        state_path=spec.state_path,
    )
    if isinstance(venue, BarVenue):
        venue.configure_bars(settings.backtest.bar_volume_share, settings.backtest.same_bar_stop_target)
    return venue, quotes


def build_engine(
    settings: Settings,
    clock: Clock,
    store: Store,
    instruments: InstrumentMaster,
    venue: VenueSpec,
    *,
    strategies: Sequence[Strategy] | None = None,
    underlyings: Sequence[str] | None = None,
    calendar: NseCalendar | None = None,
    bus: EventBus | None = None,
    rate_card: RateCard | None = None,
    margin_broker: Broker | None = None,
) -> BuiltEngine:
    """The engine on `venue`, its simulated venue (if any) filled from the engine's market view.

    `margin_broker` prices entries' margin (a paper session asks the real broker's calculator);
    default: the venue itself."""
    card = rate_card or RateCard.load(settings.execution.charges_rate_card_file)
    paper: PaperBroker | None = None
    quotes: MarketQuoteSource | None = None
    if venue.kind is Venue.BROKER:
        if venue.broker is None:
            raise ValueError("a broker venue needs its broker adapter")
        broker: Broker = venue.broker
    else:
        paper, quotes = _simulated_venue(settings, clock, instruments, card, venue)
        broker = paper
    engine = TradingEngine(
        settings,
        clock,
        broker,
        store,
        instruments,
        bus=bus,
        strategies=strategies,
        underlyings=underlyings,
        calendar=calendar,
        rate_card=card,
        margin_broker=margin_broker,
    )
    if paper is not None and quotes is not None:
        quotes.market = engine.market
        engine.connect_paper(paper)
    return BuiltEngine(engine, paper)


__all__ = ["BuiltEngine", "Venue", "VenueSpec", "build_engine"]
