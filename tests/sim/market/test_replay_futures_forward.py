"""The simulator's replay quotes options off the near future where the data root has its bars, as the
bar backtest does (one `FuturesForward`): on the bundled November 2022 store (NIFTY index and NIFTY-I
minute bars) a contract's replay quote at a minute is the backtest's quote of it at that minute, and
not the quote the index and the fitted carry give."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from pathlib import Path

import pytest

from optbot.analytics.futures_forward import FuturesForward
from optbot.analytics.synthetic import SyntheticOptionModel, model_for
from optbot.backtest.option_bars import OptionPrices
from optbot.backtest.store_data import StoreHistory
from optbot.calendar import get_calendar
from optbot.config.sections.replay import ReplaySettings
from optbot.core.clock import SimClock
from optbot.core.timeutil import ist_datetime
from optbot.sim.market import IndexHistory, ReplayMarket
from optbot.sim.market.history import StoredFutures
from optbot.sim.market.instruments import OptionContract
from optbot.sim.market.options import MarketState, value_option
from optbot.sim.market.pricing import round_to_tick
from optbot.sim.market.replay import INDEX_TOKENS, VIX_NAME, open_store
from tests.conftest import SAMPLE_STORE

DAY = date(2022, 11, 2)
MOMENTS = [ist_datetime(DAY, time(hour, minute, 30)) for hour, minute in ((9, 40), (11, 0), (14, 5))]


@pytest.fixture(scope="module")
def model() -> SyntheticOptionModel:
    return model_for(None, get_calendar())


@pytest.fixture(scope="module")
def backtest_forward(model: SyntheticOptionModel) -> FuturesForward:
    return FuturesForward(StoreHistory(SAMPLE_STORE, get_calendar()), model)


def replay_at(
    moment: datetime,
    histories: dict[str, IndexHistory],
    model: SyntheticOptionModel,
    forward: FuturesForward | None = None,
) -> ReplayMarket:
    return ReplayMarket(
        SimClock(moment),
        ReplaySettings(data_dir=SAMPLE_STORE),
        get_calendar(),
        histories,
        option_model=model,
        forward=forward,
    )


def nifty_contract(market: ReplayMarket, strike: float, is_call: bool) -> OptionContract:
    return next(
        contract
        for contract in market.contracts()
        if contract.underlying == "NIFTY"
        and contract.expiry == date(2022, 11, 3)
        and contract.strike == strike
        and contract.is_call is is_call
    )


def backtest_quote(
    contract: OptionContract, moment: datetime, index: float, vix: float, forward: FuturesForward
) -> float:
    """What the bar backtest's option prices give for the contract at `moment` (no real bars)."""
    calendar = get_calendar()
    prices = OptionPrices(
        calendar, ReplaySettings(), None, lambda _: index, lambda: vix, forward.model, forward
    )
    prices.open_day("NIFTY", DAY, index)
    found = prices.last_price(contract.token, moment)
    assert found is not None
    return found[0]


@pytest.mark.parametrize("moment", MOMENTS, ids=lambda moment: f"{moment:%H%M}")
@pytest.mark.parametrize(("strike", "is_call"), [(18100.0, True), (18200.0, False), (18400.0, True)])
def test_a_replay_quote_is_the_backtests_quote_at_the_same_minute(
    histories: dict[str, IndexHistory],
    model: SyntheticOptionModel,
    backtest_forward: FuturesForward,
    moment: datetime,
    strike: float,
    is_call: bool,
) -> None:
    market = replay_at(moment, histories, model)
    contract = nifty_contract(market, strike, is_call)
    quote = market.quote("NFO", contract.token)
    assert quote is not None and quote.exchange_time == moment
    index = market.quote("NSE", INDEX_TOKENS["NIFTY"])
    vix = market.quote("NSE", INDEX_TOKENS[VIX_NAME])
    assert index is not None and vix is not None
    # The replay's INDIA VIX is its own path through the 15-minute bar, the backtest's the last bar's
    # close: both are handed the same VIX here, so only the spot (the forward) is compared.
    assert quote.ltp == backtest_quote(contract, moment, index.ltp, vix.ltp, backtest_forward)

    from_index = value_option(contract, MarketState(moment, index.ltp, vix.ltp), model)
    future_spot = backtest_forward.spot_at("NIFTY", moment)
    assert future_spot is not None
    assert abs(future_spot - index.ltp) > 2.0  # the basis is not the carry model's on this day
    assert quote.ltp != round_to_tick(from_index.value, contract.tick_size)


def test_without_the_futures_bars_the_replay_quotes_from_the_index_as_before(
    histories: dict[str, IndexHistory], model: SyntheticOptionModel, tmp_path: Path
) -> None:
    moment = MOMENTS[1]
    no_futures = FuturesForward(StoredFutures(open_store(tmp_path)), model)
    market = replay_at(moment, histories, model, no_futures)
    contract = nifty_contract(market, 18200.0, True)
    quote = market.quote("NFO", contract.token)
    index = market.quote("NSE", INDEX_TOKENS["NIFTY"])
    vix = market.quote("NSE", INDEX_TOKENS[VIX_NAME])
    assert quote is not None and index is not None and vix is not None
    from_index = value_option(contract, MarketState(moment, index.ltp, vix.ltp), model)
    assert quote.ltp == round_to_tick(from_index.value, contract.tick_size)
    assert not no_futures.source.future_bars("NIFTY", DAY)


def test_the_replays_future_bars_are_the_backtests(model: SyntheticOptionModel) -> None:
    """Both read the same NIFTY-I minute bars from the store, so the forward has one source."""
    stored = StoredFutures(open_store(SAMPLE_STORE))
    history = StoreHistory(SAMPLE_STORE, get_calendar())
    for day in (DAY, date(2022, 11, 10)):
        replayed = stored.future_bars("NIFTY", day)
        assert len(replayed) == 375
        assert [(bar.start_utc, bar.close) for bar in replayed] == [
            (bar.start_utc, bar.close) for bar in history.future_bars("NIFTY", day)
        ]
    assert stored.future_bars("NIFTY", date(2025, 9, 8)) == ()
    assert stored.future_bars("SENSEX", DAY) == ()


def test_option_candles_follow_the_futures_bars_and_never_show_what_has_not_closed(
    histories: dict[str, IndexHistory], model: SyntheticOptionModel, backtest_forward: FuturesForward
) -> None:
    now = ist_datetime(DAY, time(11, 0, 30))
    market = replay_at(now, histories, model)
    contract = nifty_contract(market, 18200.0, True)
    start = ist_datetime(DAY, time(10, 45))
    rows = market.candles("NFO", contract.token, "FIVE_MINUTE", start, now)
    assert [row[0][11:16] for row in rows] == ["10:45", "10:50", "10:55", "11:00"]
    vix_rows = market.candles("NSE", INDEX_TOKENS[VIX_NAME], "FIVE_MINUTE", start, now)
    index_rows = market.candles("NSE", INDEX_TOKENS["NIFTY"], "FIVE_MINUTE", start, now)
    for row, vix_row, index_row in zip(rows, vix_rows, index_rows, strict=True):
        bucket_start = datetime.fromisoformat(row[0])
        bucket_end = min(bucket_start + timedelta(minutes=5), now)
        levels = backtest_forward.bar_levels("NIFTY", bucket_start, bucket_end)
        if bucket_end - bucket_start < timedelta(minutes=1):
            # 11:00-11:00:30: the 11:00 future bar has not closed, so the candle is the index's so far.
            assert levels is None
            spot = index_row[4]
        else:
            assert levels is not None
            spot = levels[3]
        close = value_option(contract, MarketState(bucket_start, spot, vix_row[4]), model)
        assert row[4] == round_to_tick(close.value, contract.tick_size)
