"""A 200-request candle download against the local simulator (issue 4 numbers).

Target: >= 95 % of the documented getCandleData rate (3/s, 180/min; reference §7) with zero
rate-limit rejections. The baseline is the documented rate itself; the run takes ~70 s of real time.
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

from optbot.broker.angelone.auth import AuthService
from optbot.broker.angelone.broker import AngelOneBroker
from optbot.broker.angelone.ratelimit import ENDPOINT_LIMITS
from optbot.broker.angelone.rest import AngelOneRestClient
from optbot.broker.angelone.secrets import SecretStore
from optbot.config.sections.broker import BrokerSettings
from optbot.core.clock import LiveClock
from optbot.core.enums import Exchange
from optbot.sim.server import Simulator
from optbot.test_kit.broker import MemoryKeyring
from optbot.test_kit.sim import NIFTY_TOKEN, TEST_ACCOUNT, StaticMarket

REQUESTS = 200


async def run() -> None:
    clock = LiveClock()
    market = StaticMarket(clock)
    start = clock.now_utc().replace(second=0, microsecond=0) - timedelta(days=2)
    market.add_minute_candles("NSE", NIFTY_TOKEN, start, 375, 24500.0)
    sim = Simulator(market, clock, [TEST_ACCOUNT])
    await sim.start()
    settings = BrokerSettings(
        client_code=TEST_ACCOUNT.client_code, rest_base_url=sim.base_url, read_retry_attempts=0
    )
    secrets = SecretStore(MemoryKeyring(), "bench", environ={})
    for name, value in (
        ("api_key", TEST_ACCOUNT.api_key),
        ("pin", TEST_ACCOUNT.pin),
        ("totp_secret", TEST_ACCOUNT.totp_secret),
    ):
        secrets.set(name, value)
    rest = AngelOneRestClient(settings, clock, TEST_ACCOUNT.api_key)
    broker = AngelOneBroker(rest, clock, settings)
    try:
        await AuthService(settings, secrets, clock, rest).login()
        rejected_before = sim.limiter.rejected
        begin = time.perf_counter()
        results = await asyncio.gather(
            *(
                broker.candles(Exchange.NSE, NIFTY_TOKEN, "ONE_MINUTE", start, start + timedelta(minutes=374))
                for _ in range(REQUESTS)
            ),
            return_exceptions=True,
        )
        elapsed = time.perf_counter() - begin
    finally:
        await rest.aclose()
        await sim.stop()
    failures = [r for r in results if isinstance(r, BaseException)]
    documented = ENDPOINT_LIMITS["candles"].per_second
    # n requests at the documented rate need (n - 1) / rate seconds between first and last send.
    ideal = (REQUESTS - 1) / documented
    achieved = (REQUESTS - 1) / elapsed
    print(f"requests:                 {REQUESTS} (ok {REQUESTS - len(failures)}, failed {len(failures)})")
    print(f"elapsed:                  {elapsed:.2f} s (documented-rate baseline {ideal:.2f} s)")
    share = achieved / documented
    rejected = sim.limiter.rejected - rejected_before
    print(f"achieved rate:            {achieved:.3f} req/s vs documented {documented}/s = {share:.1%}")
    print(f"server 403 rejections:    {rejected}")
    print(f"client RateLimited count: {rest.counters['candles:RateLimited']}")
    met = share >= 0.95 and rejected == 0 and not failures
    print(f"target >= 95% with zero 403s: {'met' if met else 'NOT met'}")


def main() -> None:
    asyncio.run(run())


if __name__ == "__main__":
    main()
