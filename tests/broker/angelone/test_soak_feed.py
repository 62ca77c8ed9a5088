"""Soak: a feed under a random storm of drops and silent stalls keeps (re)connecting and ticking."""

from __future__ import annotations

import asyncio
import random

import pytest

from optbot.broker.angelone.feed import MarketFeed
from optbot.broker.angelone.feed_codec import MODE_QUOTE
from optbot.core.enums import Exchange
from optbot.core.events import Tick
from optbot.test_kit.sim import NIFTY_CE_TOKEN, SBIN_TOKEN

from .conftest import Live, pumping
from .test_sim_sockets import fast_settings, wait_for


@pytest.mark.soak
async def test_feed_survives_a_fault_storm(live: Live) -> None:
    rng = random.Random(42)
    ticks: list[Tick] = []
    async with pumping(live.clock):
        await live.auth.login()
        feed = MarketFeed(
            fast_settings(live),
            live.clock,
            live.credentials,
            on_tick=ticks.append,
            quote_fallback=lambda tokens: live.broker.quotes("LTP", tokens),
            rng=rng,
        )
        await feed.subscribe([(Exchange.NSE, SBIN_TOKEN), (Exchange.NFO, NIFTY_CE_TOKEN)], MODE_QUOTE)
        await feed.start()
        try:
            price = 800.0
            drops = stalls = 0
            for round_number in range(60):
                fault = rng.random()
                if fault < 0.2:
                    await live.sim.faults.drop_ws_connections()
                    drops += 1
                elif fault < 0.3:
                    stalls += 1
                    live.sim.faults.stall_feed(True)
                    await asyncio.sleep(0.6)
                    live.sim.faults.stall_feed(False)
                price = round(price + rng.choice((-0.05, 0.05)), 2)
                live.market.set_quote("NSE", SBIN_TOKEN, price)
                await asyncio.sleep(0.1)
                if round_number % 10 == 9:
                    expected = price
                    await wait_for(
                        lambda: any(t.token == SBIN_TOKEN and t.ltp == expected for t in ticks), 30
                    )
            from tests.soak.figures import CampaignRow, record, record_campaign

            record("feed fault storm (in process)", "drop_ws / feed_stall faults", f"{drops} / {stalls}")
            record_campaign(
                CampaignRow(
                    "feed fault storm (in process)",
                    runs=60,
                    faults=drops + stalls,
                    met=feed.stats.reconnects >= 5,
                    note=f"{feed.stats.reconnects} reconnects, 6/6 price checkpoints",
                )
            )
            record("feed fault storm (in process)", "reconnects", feed.stats.reconnects, ">= 5")
            record("feed fault storm (in process)", "price checkpoints seen after faults", 6, "6")
            assert feed.stats.reconnects >= 5
            assert sum(feed.decoder.skipped.values()) == 0
        finally:
            await feed.stop()
