"""PaperBroker trading-day roll: what Angel One's books look like the morning after, and on disk."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from optbot.broker.daybook import BookPosition
from optbot.broker.models import BrokerOrder, DepthLevel, OrderRequest, Quote
from optbot.broker.paper import FillModel, PaperBroker, PaperFunds
from optbot.broker.paper.broker import DAY_ORDER_EXPIRED_TEXT
from optbot.core.clock import SimClock
from optbot.core.enums import Exchange, InstrumentKind, OptionType, OrderType, ProductType, Side
from optbot.core.instrument import Instrument
from optbot.execution.reconciliation import broker_day_book
from optbot.instruments.master import InstrumentMaster, MasterInfo
from optbot.persistence.records import FillRecord
from tests.broker_paper.builders import nifty_24800_option

DAY1 = date(2025, 9, 4)
DAY2 = date(2025, 9, 5)
AFTER_EXPIRY = date(2025, 9, 10)
OPEN_DAY1 = datetime(2025, 9, 4, 4, 0, tzinfo=UTC)  # 09:30 IST
OPEN_DAY2 = datetime(2025, 9, 5, 3, 30, tzinfo=UTC)  # 09:00 IST
CASH = 1_000_000.0


CALL = nifty_24800_option("45000", OptionType.CE)
PUT = nifty_24800_option("45001", OptionType.PE)
INDEX = Instrument(
    token="99926000",
    exchange=Exchange.NSE,
    symbol="Nifty 50",
    underlying="NIFTY",
    kind=InstrumentKind.INDEX,
    lot_size=1,
    tick_size=0.05,
)
MASTER = InstrumentMaster([CALL, PUT, INDEX], MasterInfo(as_of=DAY1, source="test"))


class Quotes:
    def __init__(self) -> None:
        self.latest: dict[str, Quote] = {}

    def quote(self, token: str) -> Quote | None:
        return self.latest.get(token)

    def set(self, instrument: Instrument, price: float, at: datetime) -> None:
        self.latest[instrument.token] = Quote(
            exchange=instrument.exchange,
            token=instrument.token,
            symbol=instrument.symbol,
            ltp=price,
            exchange_time=at,
            bids=(DepthLevel(price, 1500, 1),),
            asks=(DepthLevel(price, 1500, 1),),
        )


def make(
    state_path: Path | None = None, clock: SimClock | None = None
) -> tuple[PaperBroker, Quotes, SimClock]:
    clock = clock or SimClock(OPEN_DAY1)
    quotes = Quotes()
    model = FillModel(slippage_ticks=0, latency=timedelta(0))
    broker = PaperBroker(clock, quotes, model, PaperFunds(CASH), MASTER, state_path=state_path)
    return broker, quotes, clock


def order(
    instrument: Instrument,
    side: Side,
    quantity: int,
    order_type: OrderType = OrderType.MARKET,
    price: float = 0.0,
) -> OrderRequest:
    return OrderRequest(
        exchange=instrument.exchange,
        token=instrument.token,
        symbol=instrument.symbol,
        side=side,
        quantity=quantity,
        order_type=order_type,
        product=ProductType.CARRYFORWARD,
        ordertag=f"{instrument.token}-{side.value}-{quantity}",
        price=price,
    )


async def trade(
    broker: PaperBroker,
    quotes: Quotes,
    clock: SimClock,
    instrument: Instrument,
    side: Side,
    quantity: int,
    price: float,
) -> None:
    clock.advance(5)
    await broker.place_order(order(instrument, side, quantity))
    clock.advance(1)
    quotes.set(instrument, price, clock.now_utc())
    assert broker.match() == 1


async def first_day(broker: PaperBroker, quotes: Quotes, clock: SimClock) -> None:
    """CE: buy 150 @100, sell 75 @110 (75 carried at 100). PE: bought and sold the same day.
    A limit buy that never fills is still working at the close."""
    await trade(broker, quotes, clock, CALL, Side.BUY, 150, 100.0)
    await trade(broker, quotes, clock, CALL, Side.SELL, 75, 110.0)
    await trade(broker, quotes, clock, PUT, Side.BUY, 75, 50.0)
    await trade(broker, quotes, clock, PUT, Side.SELL, 75, 60.0)
    await broker.place_order(order(CALL, Side.BUY, 75, OrderType.LIMIT, price=50.0))
    broker.match()


async def test_day_one_books_hold_the_whole_day() -> None:
    broker, quotes, clock = make()
    await first_day(broker, quotes, clock)
    assert len(await broker.order_book()) == 5 and len(await broker.trade_book()) == 4
    funds = await broker.funds()
    assert funds.realised_m2m == pytest.approx(75 * 10.0 + 75 * 10.0)
    rows = {row.token: row for row in await broker.positions()}
    assert rows[PUT.token].net_quantity == 0 and rows[CALL.token].net_quantity == 75


async def test_overnight_roll_cancels_day_orders_empties_books_carries_open_positions() -> None:
    broker, quotes, clock = make()
    updates: list[BrokerOrder] = []
    broker.subscribe(updates.append)
    await first_day(broker, quotes, clock)
    cash_before = broker.cash
    clock.advance_to(OPEN_DAY2)
    # the first call of the new day rolls the books (no explicit roll_day needed)
    assert await broker.order_book() == [] and await broker.trade_book() == []
    assert broker.trading_day == DAY2
    expired = updates[-1]
    assert expired.status == "cancelled" and expired.text == DAY_ORDER_EXPIRED_TEXT
    assert expired.order_type is OrderType.LIMIT and expired.filled_quantity == 0
    (carried,) = await broker.positions()  # the PE, flat since yesterday, left the book
    assert carried.token == CALL.token and carried.net_quantity == 75
    assert (carried.buy_quantity, carried.sell_quantity) == (75, 0)  # cfbuyqty only
    assert carried.buy_amount == pytest.approx(75 * 100.0) and carried.sell_amount == 0.0
    assert carried.average_net_price == pytest.approx(100.0)
    funds = await broker.funds()
    assert funds.realised_m2m == 0.0  # realised M2M starts the day at zero
    assert broker.cash == cash_before  # nothing expired: the roll moves no money
    assert broker.roll_day(DAY2) is False and broker.roll_day(DAY1) is False  # idempotent
    # day two: sell the carried 75 at 120; the realised M2M is against the carry price
    await trade(broker, quotes, clock, CALL, Side.SELL, 75, 120.0)
    assert (await broker.funds()).realised_m2m == pytest.approx(75 * 20.0)
    (row,) = await broker.positions()
    assert row.net_quantity == 0 and row.sell_amount - row.buy_amount == pytest.approx(75 * 20.0)
    assert [order.order_id for order in await broker.order_book()] == ["P000000006"]  # ids keep counting


async def test_explicit_roll_and_expired_option_settles_at_intrinsic() -> None:
    broker, quotes, clock = make()
    await first_day(broker, quotes, clock)
    cash_before = broker.cash
    clock.advance_to(datetime(2025, 9, 10, 3, 30, tzinfo=UTC))
    quotes.set(INDEX, 24830.0, clock.now_utc())  # the index's last price: CE intrinsic 30
    assert broker.roll_day(AFTER_EXPIRY) is True
    assert await broker.positions() == []
    assert broker.cash == pytest.approx(cash_before + 75 * 30.0)
    assert (await broker.funds()).utilised_margin == 0.0


async def test_books_and_trading_day_survive_a_restart_before_and_after_the_roll(tmp_path: Path) -> None:
    path = tmp_path / "paper_broker.pickle"
    broker, quotes, clock = make(path)
    await first_day(broker, quotes, clock)
    before = (await broker.order_book(), await broker.trade_book(), await broker.positions(), broker.cash)
    # a restart on day one finds the day's books
    again, _, _ = make(path, SimClock(clock.now_utc()))
    assert again.trading_day == DAY1
    assert (await again.order_book(), await again.trade_book(), await again.positions(), again.cash) == before
    # restarted the next morning from yesterday's file: the first call rolls, and the roll is persisted
    morning, _, morning_clock = make(path, SimClock(OPEN_DAY2))
    assert await morning.order_book() == []
    rolled = (await morning.positions(), morning.cash, (await morning.funds()).realised_m2m)
    assert [(row.token, row.net_quantity) for row in rolled[0]] == [(CALL.token, 75)]
    third, _, _ = make(path, SimClock(morning_clock.now_utc()))
    assert third.trading_day == DAY2
    assert (await third.positions(), third.cash, (await third.funds()).realised_m2m) == rolled
    assert await third.order_book() == [] and await third.trade_book() == []


def test_state_without_the_trading_day_is_refused(tmp_path: Path) -> None:
    import pickle

    from optbot.broker.paper.broker import _PERSISTED_STATE
    from optbot.core.errors import UserError

    path = tmp_path / "old.pickle"
    broker, _, _ = make(path)
    broker._save_state()
    state = pickle.loads(path.read_bytes())
    assert "_trading_day" in _PERSISTED_STATE and state["_trading_day"] == DAY1
    del state["_trading_day"]
    path.write_bytes(pickle.dumps(state))
    with pytest.raises(UserError, match="_trading_day"):
        make(path)


async def test_reconciliations_day_book_model_matches_the_paper_broker_across_days() -> None:
    """`broker_day_book` replays the bot's fills through the same roll: what the broker's rows show."""
    broker, quotes, clock = make()
    fills: list[FillRecord] = []

    async def record() -> None:
        for index, row in enumerate(await broker.trade_book()):
            key = f"{row.order_id}/{row.fill_id}"
            if all(f"{f.broker_order_id}/{f.fill_id}" != key for f in fills):
                fills.append(
                    FillRecord(
                        row.fill_id,
                        row.order_id,
                        None,
                        f"i{index}",
                        row.exchange,
                        row.token,
                        row.symbol,
                        row.side,
                        row.quantity,
                        row.price,
                        broker.trading_day,
                        row.fill_time or clock.now_utc(),
                    )
                )

    await first_day(broker, quotes, clock)
    await record()
    clock.advance_to(OPEN_DAY2)
    await trade(broker, quotes, clock, CALL, Side.BUY, 75, 90.0)  # adds to the carried 75
    await trade(broker, quotes, clock, PUT, Side.SELL, 75, 40.0)  # opens a short
    await record()
    model = broker_day_book(fills, DAY2)
    rows = {row.token: row for row in await broker.positions()}
    assert set(rows) == {token for (_, token) in model}
    for (_, token), expected in model.items():
        assert rows[token].net_quantity == expected.net
        assert rows[token].sell_amount - rows[token].buy_amount == pytest.approx(
            expected.total_sell_amount - expected.total_buy_amount
        )
    assert rows[CALL.token].buy_amount == pytest.approx(75 * 100.0 + 75 * 90.0)
    assert (await broker.funds()).realised_m2m == 0.0


def test_book_position_average_cost_netting_and_roll() -> None:
    row = BookPosition()
    row.apply_fill(True, 150, 100.0)
    assert row.apply_fill(False, 225, 110.0) == pytest.approx(150 * 10.0)  # closes 150, opens 75 short
    assert (row.net, row.open_quantity, row.open_average) == (-75, -75, 110.0)
    carried = row.rolled()
    assert carried is not None
    assert (carried.cf_quantity, carried.cf_price, carried.realised, carried.buy_quantity) == (
        -75,
        110.0,
        0.0,
        0,
    )
    assert (carried.total_sell_quantity, carried.total_sell_amount) == (75, 75 * 110.0)
    carried.apply_fill(True, 75, 100.0)
    assert carried.rolled() is None and carried.realised == pytest.approx(75 * 10.0)


async def test_intraday_positions_open_at_the_roll_are_squared_off_at_the_last_price() -> None:
    broker, quotes, clock = make()
    intraday = replace(order(CALL, Side.BUY, 75), product=ProductType.INTRADAY)
    clock.advance(5)
    await broker.place_order(intraday)
    clock.advance(1)
    quotes.set(CALL, 100.0, clock.now_utc())
    assert broker.match() == 1
    cash = broker.cash
    quotes.set(CALL, 104.0, clock.now_utc())  # the last price before the close
    clock.advance_to(OPEN_DAY2)
    assert await broker.positions() == []
    assert broker.cash == pytest.approx(cash + 75 * 104.0)


async def test_the_tick_path_rolls_at_ist_midnight_exactly() -> None:
    """match_token runs on every tick and keeps the next IST midnight instead of re-deriving the date:
    the books must still roll at 00:00 IST (18:30 UTC) to the second, and not a second before."""
    broker, quotes, clock = make()
    await first_day(broker, quotes, clock)
    clock.advance_to(datetime(2025, 9, 4, 18, 29, 59, tzinfo=UTC))
    assert broker.match_token(CALL.token) == 0 and broker.trading_day == DAY1
    assert len(await broker.order_book()) == 5
    clock.advance(1)
    assert broker.match_token(PUT.token) == 0 and broker.trading_day == DAY2
    assert await broker.order_book() == []
