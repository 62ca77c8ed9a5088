"""Cross-check the bot's charges model against the simulator's estimateCharges over loopback."""

from __future__ import annotations

import random

import pytest

from optbot.broker.angelone.auth import AuthService
from optbot.broker.angelone.broker import AngelOneBroker
from optbot.broker.angelone.rest import AngelOneRestClient
from optbot.broker.angelone.secrets import SecretStore
from optbot.broker.models import OrderRequest
from optbot.charges import RateCard, option_charges
from optbot.config.sections.broker import BrokerSettings
from optbot.core.clock import SimClock
from optbot.core.enums import Exchange, OrderType, ProductType, Side
from optbot.core.timeutil import ist_date
from optbot.sim.server import Simulator
from optbot.test_kit.broker import MemoryKeyring
from optbot.test_kit.sim import NIFTY_CE_TOKEN, TEST_ACCOUNT, StaticMarket, market_hours_start


@pytest.mark.parametrize(
    ("side", "quantity", "price"),
    [(Side.BUY, 75, 150.0), (Side.SELL, 75, 150.0), (Side.SELL, 1800, 12.35), (Side.BUY, 300, 0.05)],
)
async def test_charges_match_simulator_estimate(side: Side, quantity: int, price: float) -> None:
    clock = SimClock(market_hours_start())
    market = StaticMarket(clock)
    sim = Simulator(market, clock, [TEST_ACCOUNT])
    await sim.start()
    settings = BrokerSettings(client_code=TEST_ACCOUNT.client_code, rest_base_url=sim.base_url)
    secrets = SecretStore(MemoryKeyring(), "optbot-charges", environ={})
    secrets.set("api_key", TEST_ACCOUNT.api_key)
    secrets.set("pin", TEST_ACCOUNT.pin)
    secrets.set("totp_secret", TEST_ACCOUNT.totp_secret)
    rest = AngelOneRestClient(settings, clock, TEST_ACCOUNT.api_key, rng=random.Random(2))
    try:
        await AuthService(settings, secrets, clock, rest).ensure_session_until()
        broker = AngelOneBroker(rest, clock, settings)
        request = OrderRequest(
            Exchange.NFO,
            NIFTY_CE_TOKEN,
            market.symbol("NFO", NIFTY_CE_TOKEN),
            side,
            quantity,
            OrderType.LIMIT,
            ProductType.INTRADAY,
            "chk",
            price=price,
        )
        estimate = await broker.estimate_charges([request])
    finally:
        await rest.aclose()
        await sim.stop()
    day = ist_date(clock.now_utc())
    ours = option_charges(RateCard.load(), Exchange.NFO, side, quantity, price, day, rounding="exact")
    assert estimate.trade_value == pytest.approx(ours.turnover, abs=0.005)
    assert estimate.total == pytest.approx(ours.total, abs=0.0051)  # the calculator rounds its total to paisa
