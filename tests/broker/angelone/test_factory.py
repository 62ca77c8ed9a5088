from __future__ import annotations

import pytest

from optbot.broker.angelone.factory import build_stack
from optbot.broker.angelone.secrets import SecretStore
from optbot.broker.errors import TokenExpired
from optbot.config.settings import Settings
from optbot.core.clock import SimClock
from optbot.test_kit.broker import MemoryKeyring

from .conftest import Live, pumping
from .helpers import START


async def test_stack_wires_sockets_to_the_session(live: Live) -> None:
    settings = Settings(broker=live.settings)
    stack = build_stack(settings, live.clock, live.secrets)
    try:
        with pytest.raises(TokenExpired):
            stack.credentials()
        async with pumping(live.clock):
            await stack.auth.login()
        credentials = stack.credentials()
        assert credentials.client_code == live.settings.client_code and credentials.api_key
        feed = stack.market_feed(live.clock)
        assert feed.url == live.sim.market_ws_url and feed.quote_fallback is not None
        assert stack.order_socket(live.clock).url == live.sim.order_ws_url
    finally:
        await stack.aclose()


async def test_stack_without_api_key_still_builds() -> None:
    stack = build_stack(Settings(), SimClock(START), SecretStore(MemoryKeyring(), environ={}))
    assert stack.rest.api_key == ""
    await stack.aclose()
