"""EDIS (selling demat holdings without a POA) and the cautionary-scrips list (reference §2).

The request shapes are the reference's: verifyDis `{isin, quantity}`, generateTPIN
`{dpId, ReqId, boid, pan}`, getTranStatus `{ReqId}`. Their replies were never captured **[U]**; the
simulator answers in the standard success envelope with the fields Angel One's EDIS page documents
(`ReqId, ReturnURL, DPId, BOID, TransDtls, version` for verifyDis) and a status object of its own
for getTranStatus (docs/simulator.md, "EDIS"). There is no CDSL page to enter the TPIN on, so with
`sim.edis_auto_authorise` a verified request is authorised at once (as if the user finished the CDSL
step); otherwise it stays pending. Authorised shares show as the holding's `authorisedquantity`
until the session ends.
"""

from __future__ import annotations

import base64
import random
import re
import zlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from aiohttp import web

from optbot.core.clock import Clock
from optbot.core.timeutil import to_ist
from optbot.sim.auth import SimAccount
from optbot.sim.exchange import SimExchange
from optbot.sim.exchange.holdings import is_valid_isin
from optbot.sim.rest.envelope import business_failure, ok
from optbot.sim.rest.framework import Call, Endpoint

EDIS_ROOT = "/rest/secure/angelbroking/edis/v1"
CAUTIONARY_PATH = "/rest/secure/angelbroking/securities/v1/cautionaryScrips"
DP_ID = "33200"
DP_ID_PREFIX = "12033200"  # CDSL BO ids are the 8-digit DP id followed by 8 client digits
RETURN_URL = "https://trade.angelbroking.com/"
PAN_PATTERN = re.compile(r"^[A-Z]{5}[0-9]{4}[A-Z]$")
REQUEST_ID_DIGITS = 16


class EdisError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class EdisRequest:
    request_id: str
    client_code: str
    isin: str
    quantity: int
    created_at: datetime
    tpin_sent: bool = False
    authorised: bool = False


def bo_id(client_code: str) -> str:
    """A stable 16-digit CDSL beneficiary-owner id for a simulator account."""
    return f"{DP_ID_PREFIX}{zlib.crc32(client_code.encode()) % 10**8:08d}"


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise EdisError("AB1007", f"Bad input: {name} is required")
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise EdisError("AB1007", f"Bad input: {name} must be text")
    return str(value).strip()


def _quantity(body: dict[str, Any]) -> int:
    text = _text(body, "quantity")
    if not text.isdigit() or int(text) <= 0:
        raise EdisError("AB1007", f"Bad input: quantity must be a positive whole number, got {text!r}")
    return int(text)


class EdisDesk:
    """Per-simulator EDIS requests; deterministic request ids from the simulator's seed."""

    def __init__(
        self,
        exchange: SimExchange,
        clock: Clock,
        accounts: list[SimAccount],
        auto_authorise: bool,
        seed: int = 0,
    ) -> None:
        self.exchange = exchange
        self.clock = clock
        self.accounts = {account.client_code: account for account in accounts}
        self.auto_authorise = auto_authorise
        self.requests: dict[str, EdisRequest] = {}
        self._random = random.Random(seed)

    def verify(self, client_code: str, body: dict[str, Any]) -> dict[str, Any]:
        isin = _text(body, "isin").upper()
        if not is_valid_isin(isin):
            raise EdisError("AB1007", f"Bad input: isin {isin!r} is not a valid 12-character ISIN")
        quantity = _quantity(body)
        self.exchange.holdings(client_code)  # session roll, seeds
        holding = self.exchange.ledger(client_code).holdings.by_isin(isin)
        if holding is None:
            raise EdisError("AB1015", "Holding not found")
        free = holding.quantity - holding.authorised_quantity
        if quantity > free:
            raise EdisError(
                "AB1007",
                f"Bad input: quantity {quantity} exceeds the {free} shares of {isin} "
                "not yet authorised today",
            )
        request_id = str(self._random.randrange(10 ** (REQUEST_ID_DIGITS - 1), 10**REQUEST_ID_DIGITS))
        request = EdisRequest(request_id, client_code, isin, quantity, self.clock.now_utc())
        self.requests[request_id] = request
        if self.auto_authorise:
            request.authorised = True
            holding.authorised_quantity += quantity
        details = {"ReqId": request_id, "isin": isin, "quantity": quantity, "boid": bo_id(client_code)}
        return {
            "ReqId": request_id,
            "ReturnURL": RETURN_URL,
            "DPId": DP_ID,
            "BOID": bo_id(client_code),
            "TransDtls": base64.b64encode(orjson.dumps(details)).decode(),
            "version": "1.0",
        }

    def _request(self, client_code: str, body: dict[str, Any]) -> EdisRequest:
        request_id = _text(body, "ReqId")
        request = self.requests.get(request_id)
        if request is None or request.client_code != client_code:
            raise EdisError("AB1007", f"Bad input: no EDIS request {request_id} for this client")
        return request

    def generate_tpin(self, client_code: str, body: dict[str, Any]) -> None:
        dp_id = _text(body, "dpId")
        boid = _text(body, "boid")
        pan = _text(body, "pan").upper()
        request = self._request(client_code, body)
        if dp_id != DP_ID or boid != bo_id(client_code):
            raise EdisError("AB1007", "Bad input: dpId/boid do not match the verifyDis reply")
        if not PAN_PATTERN.fullmatch(pan):
            raise EdisError("AB1007", "Bad input: pan must be 5 letters, 4 digits and a letter")
        if pan != self.accounts[client_code].pan.upper():
            raise EdisError("AB1007", "Bad input: pan does not match the account")
        request.tpin_sent = True

    def status(self, client_code: str, body: dict[str, Any]) -> dict[str, Any]:
        request = self._request(client_code, body)
        return {
            "ReqId": request.request_id,
            "ReqType": "D",
            "ResStatus": "0" if request.authorised else "1",
            "ResTime": to_ist(request.created_at).strftime("%H:%M:%S"),
            "ResRsn": "" if request.authorised else "Awaiting TPIN/OTP authorisation at CDSL",
            "Remarks": "Authorised" if request.authorised else "Pending",
            "isin": request.isin,
            "quantity": request.quantity,
        }


def _desk(call: Call) -> EdisDesk:
    desk = call.state.extras.get("edis")
    if not isinstance(desk, EdisDesk):
        raise RuntimeError("the simulator was built without an EDIS desk")
    return desk


async def verify_dis(call: Call) -> web.StreamResponse:
    try:
        return ok(_desk(call).verify(call.client_code, call.body))
    except EdisError as exc:
        return business_failure(exc.code, exc.message)


async def generate_tpin(call: Call) -> web.StreamResponse:
    try:
        _desk(call).generate_tpin(call.client_code, call.body)
    except EdisError as exc:
        return business_failure(exc.code, exc.message)
    return ok(None)


async def transaction_status(call: Call) -> web.StreamResponse:
    try:
        return ok(_desk(call).status(call.client_code, call.body))
    except EdisError as exc:
        return business_failure(exc.code, exc.message)


async def cautionary_scrips(call: Call) -> web.StreamResponse:
    return ok([entry.model_dump() for entry in call.state.settings.cautionary_scrips])


ENDPOINTS = [
    Endpoint("verifyDis", "POST", (f"{EDIS_ROOT}/verifyDis",), verify_dis),
    Endpoint("generateTPIN", "POST", (f"{EDIS_ROOT}/generateTPIN",), generate_tpin),
    Endpoint("getTranStatus", "POST", (f"{EDIS_ROOT}/getTranStatus",), transaction_status),
    Endpoint("cautionaryScrips", "GET", (CAUTIONARY_PATH,), cautionary_scrips),
]
