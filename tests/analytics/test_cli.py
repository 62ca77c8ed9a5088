"""`optbot greeks` / `optbot iv`: JSON output and exit-2 validation."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from optbot.analytics import greeks
from optbot.analytics.cli import register
from optbot.core.enums import OptionType
from optbot.test_kit.analytics import SNAPSHOT_SPOT, SNAPSHOT_YEARS_TO_EXPIRY

runner = CliRunner()


def _app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


@pytest.fixture(autouse=True)
def _no_user_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPTBOT_CONFIG", raising=False)


def test_greeks_json_has_every_greek() -> None:
    args = ["greeks", "--spot", "42", "--strike", "40", "--rate", "0.1", "--vol", "0.2", "--years", "0.5"]
    result = runner.invoke(_app(), [*args, "--type", "call"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["price"] == pytest.approx(4.7594, abs=1e-4)  # Hull example 15.6
    expected = greeks("bs", 42, 40, 0.5, 0.2, 0.1, OptionType.CE).as_dict()
    for key, value in expected.items():
        assert payload[key] == pytest.approx(value)
    put = json.loads(runner.invoke(_app(), [*args, "--type", "put", "--model", "black76"]).output)
    assert put["model"] == "black76" and put["type"] == "PE" and put["delta"] < 0


def test_default_rate_comes_from_config() -> None:
    result = runner.invoke(
        _app(),
        ["greeks", "--spot", "100", "--strike", "100", "--vol", "0.2", "--years", "0.1", "--type", "put"],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["inputs"]["rate"] == 0.10


def test_iv_solves_snapshot_atm_and_explains_stale_itm() -> None:
    common = ["--spot", str(SNAPSHOT_SPOT), "--years", str(SNAPSHOT_YEARS_TO_EXPIRY), "--rate", "0.10"]
    atm = runner.invoke(_app(), ["iv", "--price", "109.9", "--strike", "24600", "--type", "call", *common])
    assert atm.exit_code == 0, atm.output
    payload = json.loads(atm.output)
    assert payload["solved"] and 0.05 < payload["implied_volatility"] < 0.2
    stale = runner.invoke(_app(), ["iv", "--price", "2965.15", "--strike", "21600", "--type", "ce", *common])
    assert stale.exit_code == 0
    payload = json.loads(stale.output)
    assert payload["implied_volatility"] is None and "no-arbitrage lower bound" in payload["reason"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--vol", "15"], "fraction"),
        (["--vol", "-0.1"], "--vol"),
        (["--years", "-1"], "--years"),
        (["--spot", "0"], "--spot"),
        (["--rate", "7"], "fraction"),
    ],
)
def test_bad_inputs_exit_2(extra: list[str], message: str) -> None:
    base = {"--spot": "100", "--strike": "100", "--vol": "0.2", "--years": "0.5", "--type": "call"}
    for flag, value in zip(extra[::2], extra[1::2], strict=True):
        base[flag] = value
    args = ["greeks"] + [item for pair in base.items() for item in pair]
    result = runner.invoke(_app(), args)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_dividend_yield_with_black76_is_refused() -> None:
    args = ["greeks", "--spot", "100", "--strike", "100", "--vol", "0.2", "--years", "0.5", "--type", "call"]
    result = runner.invoke(_app(), [*args, "--model", "black76", "--dividend-yield", "0.01"])
    assert result.exit_code == 2 and "black76" in result.output
    with_yield = json.loads(runner.invoke(_app(), [*args, "--dividend-yield", "0.02"]).output)
    without = json.loads(runner.invoke(_app(), args).output)
    assert with_yield["inputs"]["dividend_yield"] == 0.02
    assert with_yield["price"] < without["price"]  # a yield lowers the forward, so the call is cheaper
