"""ReplayMarket quotes through the paper broker: synthetic options fill only on later replayed prints."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from optbot.backtest.replay_quotes import ReplayQuoteSource
from optbot.broker.models import OrderRequest
from optbot.broker.paper import FillModel, PaperBroker, PaperFunds
from optbot.calendar import get_calendar
from optbot.config.sections.replay import ReplaySettings
from optbot.core.clock import SimClock
from optbot.core.enums import Exchange, InstrumentKind, OptionType, OrderType, ProductType, Side
from optbot.core.instrument import Instrument
from optbot.core.timeutil import IST
from optbot.instruments.master import InstrumentMaster, MasterInfo
from optbot.sim.market import INDEX_TOKENS, ReplayMarket
from tests.conftest import SAMPLE_DATA


async def test_paper_broker_fills_a_synthetic_atm_option_from_the_replay() -> None:
    clock = SimClock(datetime(2025, 9, 8, 10, 0, tzinfo=IST))
    market = ReplayMarket(clock, ReplaySettings(data_dir=SAMPLE_DATA), get_calendar())
    source = ReplayQuoteSource(market)
    spot = source.quote(INDEX_TOKENS["NIFTY"])
    assert spot is not None and spot.ltp > 20_000
    contracts = [c for c in market.contracts() if c.underlying == "NIFTY" and c.option_type == "CE"]
    nearest = min(c.expiry for c in contracts)
    atm = min((c for c in contracts if c.expiry == nearest), key=lambda c: abs(c.strike - spot.ltp))
    instrument = Instrument(
        token=atm.token,
        exchange=Exchange.NFO,
        symbol=atm.symbol,
        underlying="NIFTY",
        kind=InstrumentKind.OPTIDX,
        lot_size=atm.lot_size,
        tick_size=0.05,
        expiry=atm.expiry,
        strike=atm.strike,
        option_type=OptionType.CE,
    )
    master = InstrumentMaster([instrument], MasterInfo(as_of=date(2025, 9, 8), source="replay"))
    broker = PaperBroker(clock, source, FillModel(), PaperFunds(1_000_000.0), master)
    first = source.quote(atm.token)
    assert first is not None and atm.token in source.synthetic_tokens
    await broker.place_order(
        OrderRequest(
            exchange=Exchange.NFO,
            token=atm.token,
            symbol=atm.symbol,
            side=Side.BUY,
            quantity=atm.lot_size,
            order_type=OrderType.MARKET,
            product=ProductType.INTRADAY,
            ordertag="r1",
        )
    )
    assert broker.match() == 0  # the quote in hand predates the order
    clock.advance_to(clock.now_utc() + timedelta(minutes=2))
    assert broker.match() == 1
    trade = (await broker.trade_book())[0]
    assert trade.price > 0 and trade.quantity == atm.lot_size
