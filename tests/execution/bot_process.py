"""The bot-side order path as a separate process, for crash tests with real SIGKILLs.

Usage: python bot_process.py BASE_URL DB_PATH INTENTS PAUSE_SECONDS
Prints markers (flushed) the test kills on: BEFORE_SEND <tag> (persisted, not yet sent),
AFTER_REPLY <tag> (broker replied, reply not yet persisted), then SETTLED when nothing is in flight.
"""

from __future__ import annotations

import asyncio
import faulthandler
import random
import sys
from pathlib import Path
from typing import Any

from optbot.broker.angelone.auth import AuthService
from optbot.broker.angelone.broker import AngelOneBroker
from optbot.broker.angelone.rest import AngelOneRestClient
from optbot.broker.angelone.secrets import SecretStore
from optbot.broker.models import OrderRequest, PlaceResult
from optbot.config.sections.broker import BrokerSettings
from optbot.config.settings import Settings
from optbot.core.clock import LiveClock
from optbot.core.enums import IntentPurpose, OrderType, Side
from optbot.execution.order_manager import OrderManager
from optbot.persistence.store import Store
from optbot.test_kit.broker import MemoryKeyring
from optbot.test_kit.execution import option_instrument, option_intent
from optbot.test_kit.sim import NIFTY_CE_TOKEN, TEST_ACCOUNT

#: past the bot's 30 s pending-order timeout: what still rests then is cancelled, as at end of day
END_OF_RUN_CANCEL_SECONDS = 40.0
#: the polling stops here (before the 170 s hang dump); the test then finds what is still in flight
END_OF_RUN_GIVE_UP_SECONDS = 120.0


class KillPointBroker:
    """Delegates to the real client; pauses at the two kill points so a SIGKILL lands inside them."""

    def __init__(self, inner: AngelOneBroker, pause: float) -> None:
        self._inner = inner
        self._pause = pause

    async def place_order(self, request: OrderRequest) -> PlaceResult:
        print(f"BEFORE_SEND {request.ordertag}", flush=True)
        await asyncio.sleep(self._pause)
        result = await self._inner.place_order(request)
        print(f"AFTER_REPLY {request.ordertag}", flush=True)
        await asyncio.sleep(self._pause)
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


async def main(base_url: str, db_path: str, intents: int, pause: float) -> None:
    clock = LiveClock()
    settings = BrokerSettings(
        client_code=TEST_ACCOUNT.client_code, rest_base_url=base_url, http_timeout_seconds=1.0
    )
    secrets = SecretStore(MemoryKeyring(), "optbot-e2e", environ={})
    secrets.set("api_key", TEST_ACCOUNT.api_key)
    secrets.set("pin", TEST_ACCOUNT.pin)
    secrets.set("totp_secret", TEST_ACCOUNT.totp_secret)
    rest = AngelOneRestClient(settings, clock, TEST_ACCOUNT.api_key, rng=random.Random(1))
    broker = AngelOneBroker(rest, clock, settings)
    auth = AuthService(settings, secrets, clock, rest)
    await auth.ensure_session_until()
    instrument = option_instrument(token=NIFTY_CE_TOKEN, symbol="ignored")
    quotes = await broker.quotes("FULL", {instrument.exchange: [NIFTY_CE_TOKEN]})
    instrument = option_instrument(token=NIFTY_CE_TOKEN, symbol=quotes[0].symbol)
    app_settings = Settings(
        execution={
            "unresolved_not_found_grace_seconds": 3.0,
            "duplicate_intent_window_seconds": 0.0,
            "pending_order_timeout_seconds": 30.0,
        }
    )
    store = Store.open(Path(db_path), clock, wal=app_settings.persistence)  # as a session opens it
    manager = OrderManager(
        KillPointBroker(broker, pause),  # type: ignore[arg-type]
        store,
        clock,
        app_settings,
        lambda exchange, token: instrument if token == instrument.token else None,
    )
    report = await manager.recover()
    print(f"RECOVERED {report.in_flight} {report.adopted} {report.settled_not_found}", flush=True)
    for index in range(intents):
        side = Side.BUY if index % 2 == 0 else Side.SELL
        intent = option_intent(
            f"e2e-{index}",
            side=side,
            limit_price=None,
            order_type=OrderType.LIMIT,
            purpose=IntentPurpose.ENTRY if side is Side.BUY else IntentPurpose.EXIT,
            instrument=instrument,
            when=clock.now_utc(),
        )
        result = await manager.submit(intent)
        print(f"DONE {index} {'dup' if result.duplicate else 'new'}", flush=True)
    # Polls until nothing is in flight. Past the 30 s pending-order timeout (resting entries are
    # cancelled after it) it cancels what still rests, once, as the session's end of day does: an
    # exit is chased, not cancelled, and may rest at its limit all day. Timed on the clock, not by a
    # count of polls: a poll asks the broker about each order in flight (10 details a second), so
    # with many exits resting a pass takes a second or more.
    started = clock.monotonic()
    cancelled_at_end = False
    attempt = 0
    while clock.monotonic() - started < END_OF_RUN_GIVE_UP_SECONDS:
        print(f"POLL {attempt} in_flight={len(store.orders_in_flight())}", flush=True)
        await manager.poll_once()
        await manager.check_auto_cancel()
        if not store.orders_in_flight() and not store.orders_awaiting_fills():
            break
        if not cancelled_at_end and clock.monotonic() - started >= END_OF_RUN_CANCEL_SECONDS:
            cancelled_at_end = True
            print(f"END_OF_DAY cancelled {await manager.cancel_all('end of the run')}", flush=True)
        attempt += 1
        await asyncio.sleep(0.1)
    print(f"SETTLED {len(store.orders_in_flight())}", flush=True)
    store.close()
    await rest.aclose()


if __name__ == "__main__":
    faulthandler.dump_traceback_later(170, exit=True)  # a hung bot explains itself on stderr, then exits
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])))
