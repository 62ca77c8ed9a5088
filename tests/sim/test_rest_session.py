"""Plain-HTTP tests of login, tokens, profile, logout, RMS and the envelope dialects."""

from __future__ import annotations

import httpx

from optbot.core.clock import SimClock
from optbot.sim.server import Simulator
from optbot.test_kit.sim import TEST_ACCOUNT
from tests.sim.conftest import totp_now
from tests.sim.helpers import LOGIN, SECURE, client_for, headers, login

PROFILE = f"{SECURE}/user/v1/getProfile"
REFRESH = "/rest/auth/angelbroking/jwt/v1/generateTokens"


async def test_login_profile_and_query_string_ignored(sim: Simulator, sim_clock: SimClock) -> None:
    async with client_for(sim) as client:
        tokens = await login(client, sim_clock)
        assert set(tokens) == {"jwtToken", "refreshToken", "feedToken", "state"}
        assert tokens["state"] is None
        reply = await client.get(
            PROFILE + "?%7B%22refreshToken%22:%20%22x%22%7D", headers=headers(tokens["jwtToken"])
        )
        body = reply.json()
        assert body["status"] is True and body["message"] == "SUCCESS" and body["errorcode"] == ""
        assert body["data"]["clientcode"] == TEST_ACCOUNT.client_code
        assert body["data"]["lastlogintime"] == "2026-11-18 10:00:00"
        raw = await client.get(PROFILE, headers=headers(tokens["jwtToken"], bearer=False))
        assert raw.json()["status"] is True  # Authorization accepted without "Bearer "


async def test_login_failures_use_ab_codes(sim: Simulator, sim_clock: SimClock) -> None:
    async with client_for(sim) as client:
        bad_totp = await client.post(
            LOGIN,
            headers=headers(),
            json={
                "clientcode": TEST_ACCOUNT.client_code,
                "password": TEST_ACCOUNT.pin,
                "totp": "123456" if totp_now(sim_clock) != "123456" else "654321",
            },
        )
        assert bad_totp.json() == {
            "status": False,
            "message": "Invalid totp and client combination",
            "errorcode": "AB1050",
            "data": None,
        }
        sim_clock.advance(1.0)  # login is 1/s per client code
        bad_pin = await client.post(
            LOGIN,
            headers=headers(),
            json={"clientcode": TEST_ACCOUNT.client_code, "password": "0000", "totp": totp_now(sim_clock)},
        )
        assert bad_pin.json()["errorcode"] == "AB1007" and bad_pin.json()["status"] is False
        sim_clock.advance(1.0)
        with_state = await client.post(
            LOGIN,
            headers=headers(),
            json={
                "clientcode": TEST_ACCOUNT.client_code,
                "password": TEST_ACCOUNT.pin,
                "totp": totp_now(sim_clock),
                "state": "xyz",
            },
        )
        assert with_state.json()["data"]["state"] == "xyz"


async def test_login_rate_limit_is_plain_text_403(sim: Simulator, sim_clock: SimClock) -> None:
    async with client_for(sim) as client:
        await login(client, sim_clock)
        second = await client.post(
            LOGIN,
            headers=headers(),
            json={
                "clientcode": TEST_ACCOUNT.client_code,
                "password": TEST_ACCOUNT.pin,
                "totp": totp_now(sim_clock),
            },
        )
        assert second.status_code == 403
        assert second.text == "Access denied because of exceeding access rate"
        assert second.headers["content-type"].startswith("text/plain")


async def test_gateway_dialect_for_missing_invalid_and_expired_tokens(
    sim: Simulator, sim_clock: SimClock
) -> None:
    async with client_for(sim) as client:
        missing = await client.get(PROFILE, headers=headers())
        assert missing.status_code == 200
        assert missing.json() == {
            "success": False,
            "message": "Token missing",
            "errorCode": "AG8003",
            "data": "",
        }
        invalid = await client.get(PROFILE, headers=headers("not-a-token"))
        assert invalid.json() == {
            "success": False,
            "message": "Invalid Token",
            "errorCode": "AG8001",
            "data": "",
        }
        tokens = await login(client, sim_clock)
        sim_clock.advance(15 * 3600)  # 10:00 IST + 15 h is past midnight IST
        expired = await client.get(PROFILE, headers=headers(tokens["jwtToken"]))
        assert expired.json()["errorCode"] == "AG8002"
        bad_key = await client.get(PROFILE, headers=headers(tokens["jwtToken"], api_key="nope"))
        assert bad_key.json()["errorCode"] == "AG8004"


async def test_refresh_and_logout(sim: Simulator, sim_clock: SimClock) -> None:
    async with client_for(sim) as client:
        tokens = await login(client, sim_clock)
        jwt = tokens["jwtToken"]
        renewed = await client.post(
            REFRESH, headers=headers(jwt), json={"refreshToken": tokens["refreshToken"]}
        )
        data = renewed.json()["data"]
        assert data["jwtToken"] != jwt and data["feedToken"]
        sim_clock.advance(1.0)
        again = await client.post(
            REFRESH, headers=headers(jwt), json={"refreshToken": tokens["refreshToken"]}
        )
        assert again.json()["errorcode"] == "AB8050"
        new_jwt = data["jwtToken"]
        out = await client.post(
            f"{SECURE}/user/v1/logout",
            headers=headers(new_jwt),
            json={"clientcode": TEST_ACCOUNT.client_code},
        )
        assert out.json()["data"] == "Logout Successfully"
        after = await client.get(PROFILE, headers=headers(new_jwt))
        assert after.json()["errorCode"] == "AG8001"


async def test_rms_strings_and_non_json_body(sim: Simulator, sim_clock: SimClock) -> None:
    async with client_for(sim) as client:
        jwt = (await login(client, sim_clock))["jwtToken"]
        rms = (await client.get(f"{SECURE}/user/v1/getRMS", headers=headers(jwt))).json()["data"]
        assert rms["net"] == "500000.00" and rms["availablecash"] == "500000.00"
        assert rms["utilisedturnover"] is None
        broken = await client.post(
            f"{SECURE}/order/v1/placeOrder", headers=headers(jwt), content=b"{not json"
        )
        assert broken.json()["errorcode"] == "AB1007" and "JSON" in broken.json()["message"]


async def test_session_ttl_for_tests(sim_clock: SimClock, sim_market: object) -> None:
    from datetime import timedelta

    from optbot.test_kit.sim import StaticMarket

    assert isinstance(sim_market, StaticMarket)
    simulator = Simulator(sim_market, sim_clock, [TEST_ACCOUNT], session_ttl=timedelta(seconds=30))
    await simulator.start()
    try:
        async with httpx.AsyncClient(base_url=simulator.base_url) as client:
            jwt = (await login(client, sim_clock))["jwtToken"]
            sim_clock.advance(31)
            assert (await client.get(PROFILE, headers=headers(jwt))).json()["errorCode"] == "AG8002"
    finally:
        await simulator.stop()
