"""The official SDK's holding, allholding and EDIS methods against the simulator."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from optbot.core.clock import SimClock
from optbot.sim.auth import HoldingSeed
from optbot.sim.server import Simulator
from optbot.test_kit.sim import SBIN_TOKEN, TEST_ACCOUNT
from optbot.test_kit.smartapi_sdk import import_sdk_module
from tests.sim.conftest import totp_now
from tests.sim.test_sdk_fidelity import sdk

SBIN_ISIN = "INE062A01020"


@pytest.fixture(autouse=True)
def sdk_logs_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # the SDK writes ./logs/<date>/app.log on construction


@pytest.fixture
def connect(sim: Simulator) -> Any:
    module = import_sdk_module("smartConnect")
    return module.SmartConnect(api_key=TEST_ACCOUNT.api_key, root=sim.base_url, timeout=5)


async def test_sdk_holdings_and_edis(connect: Any, sim_clock: SimClock, sim: Simulator) -> None:
    await sdk(
        sim_clock, connect.generateSession, TEST_ACCOUNT.client_code, TEST_ACCOUNT.pin, totp_now(sim_clock)
    )
    assert (await sdk(sim_clock, connect.holding))["data"] == []  # recorded: [] not null
    sim.exchange.seed_holding(TEST_ACCOUNT.client_code, HoldingSeed("NSE", "SBIN-EQ", 10, 700.0, SBIN_ISIN))
    rows = (await sdk(sim_clock, connect.holding))["data"]
    assert [(r["symboltoken"], r["isin"], r["quantity"]) for r in rows] == [(SBIN_TOKEN, SBIN_ISIN, 10)]
    everything = (await sdk(sim_clock, connect.allholding))["data"]
    assert everything["holdings"] == rows and everything["totalholding"]["totalinvvalue"] == 7000.0

    verified = await sdk(sim_clock, connect.verifyDis, {"isin": SBIN_ISIN, "quantity": "3"})
    assert verified["status"] is True and verified["errorcode"] == ""
    data = verified["data"]
    tpin = await sdk(
        sim_clock,
        connect.generateTPIN,
        {"dpId": data["DPId"], "ReqId": data["ReqId"], "boid": data["BOID"], "pan": TEST_ACCOUNT.pan},
    )
    assert tpin["status"] is True
    status = await sdk(sim_clock, connect.getTranStatus, {"ReqId": data["ReqId"]})
    assert status["data"]["ReqId"] == data["ReqId"] and status["data"]["ResStatus"] == "0"
    refused = await sdk(sim_clock, connect.verifyDis, {"isin": "INE081A01020", "quantity": "1"})
    assert refused == {"status": False, "message": "Holding not found", "errorcode": "AB1015", "data": None}
