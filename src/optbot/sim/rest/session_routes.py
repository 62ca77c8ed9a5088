"""Login, token refresh, profile, logout and RMS (reference §1, §2)."""

from __future__ import annotations

from aiohttp import web

from optbot.core.timeutil import to_ist
from optbot.sim.auth import LoginFailure, RefreshFailure
from optbot.sim.rest.envelope import business_failure, ok
from optbot.sim.rest.framework import Call, Endpoint

LOGIN_MESSAGES = {
    LoginFailure.BAD_CREDENTIALS: "Invalid clientcode or password",
    LoginFailure.BAD_TOTP: "Invalid totp and client combination",
}
REFRESH_MESSAGES = {
    RefreshFailure.INVALID: "Invalid refresh token",
    RefreshFailure.EXPIRED: "Refresh token expired",
}
PROFILE_EXCHANGES = ["nse_fo", "nse_cm", "cde_fo", "ncx_fo", "bse_fo", "bse_cm", "mcx_fo"]
PROFILE_PRODUCTS = ["MARGIN", "MIS", "NRML", "CNC", "CO", "BO"]


def _text(call: Call, name: str) -> str:
    value = call.body.get(name)
    return str(value).strip() if isinstance(value, str | int) and not isinstance(value, bool) else ""


def _tokens(call: Call, jwt: str, refresh: str, feed: str) -> dict[str, object]:
    state = call.body.get("state")
    return {"jwtToken": jwt, "refreshToken": refresh, "feedToken": feed, "state": state}


async def login(call: Call) -> web.StreamResponse:
    client_code = _text(call, "clientcode")
    pin = _text(call, "password")
    totp = _text(call, "totp")
    if not client_code or not pin:
        return business_failure("AB1007", "Invalid clientcode or password")
    if not totp:
        return business_failure("AB1050", LOGIN_MESSAGES[LoginFailure.BAD_TOTP])
    result = call.state.sessions.login(client_code, pin, totp)
    if isinstance(result, LoginFailure):
        return business_failure(str(result), LOGIN_MESSAGES[result])
    return ok(_tokens(call, result.jwt, result.refresh_token, result.feed_token))


async def generate_tokens(call: Call) -> web.StreamResponse:
    refresh = _text(call, "refreshToken")
    if not refresh:
        return business_failure("AB8050", REFRESH_MESSAGES[RefreshFailure.INVALID])
    result = call.state.sessions.refresh(refresh)
    if isinstance(result, RefreshFailure):
        return business_failure(str(result), REFRESH_MESSAGES[result])
    return ok(_tokens(call, result.jwt, result.refresh_token, result.feed_token))


async def profile(call: Call) -> web.StreamResponse:
    account = call.state.sessions.account(call.client_code)
    if account is None:
        return business_failure("AB1032", "User Not Found")
    last = call.state.sessions.last_login(call.client_code)
    return ok(
        {
            "clientcode": account.client_code,
            "name": account.name,
            "email": account.email,
            "mobileno": account.mobile,
            "exchanges": list(PROFILE_EXCHANGES),
            "products": list(PROFILE_PRODUCTS),
            "lastlogintime": to_ist(last).strftime("%Y-%m-%d %H:%M:%S") if last else "",
            "broker": "",
        }
    )


async def logout(call: Call) -> web.StreamResponse:
    client_code = _text(call, "clientcode")
    if client_code and client_code != call.client_code:
        return business_failure("AB1007", "Invalid clientcode for this session")
    assert call.session is not None
    call.state.sessions.logout(call.session)
    return ok("Logout Successfully")


async def rms(call: Call) -> web.StreamResponse:
    return ok(call.state.exchange.rms(call.client_code))


def _login_rate_key(call: Call) -> str:
    return _text(call, "clientcode") or call.request.headers.get("X-PrivateKey", "")


def _refresh_rate_key(call: Call) -> str:
    refresh = _text(call, "refreshToken")
    for account in call.state.sessions.accounts:
        for session in call.state.sessions.sessions(account.client_code):
            if session.refresh_token == refresh:
                return account.client_code
    return call.request.headers.get("X-PrivateKey", "")


ROOT = "/rest/secure/angelbroking/user/v1"
ENDPOINTS = [
    Endpoint(
        "loginByPassword",
        "POST",
        ("/rest/auth/angelbroking/user/v1/loginByPassword",),
        login,
        auth="api_key",
        bucket="login",
        rate_key=_login_rate_key,
    ),
    Endpoint(
        "generateTokens",
        "POST",
        ("/rest/auth/angelbroking/jwt/v1/generateTokens",),
        generate_tokens,
        auth="api_key",
        bucket="generate_tokens",
        rate_key=_refresh_rate_key,
    ),
    Endpoint("getProfile", "GET", (f"{ROOT}/getProfile",), profile, bucket="profile"),
    Endpoint("logout", "POST", (f"{ROOT}/logout",), logout, bucket="logout"),
    Endpoint("getRMS", "GET", (f"{ROOT}/getRMS",), rms, bucket="rms"),
]
