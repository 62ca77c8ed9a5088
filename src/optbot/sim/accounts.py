"""Loading simulator accounts from a JSON file (`optbot sim serve --accounts FILE`)."""

from __future__ import annotations

from pathlib import Path

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from optbot.core.errors import UserError
from optbot.sim.auth import HoldingSeed, SimAccount


class HoldingEntry(BaseModel):
    """Shares the account starts with; `exchange` NSE or BSE, symbol as in the scrip master."""

    model_config = ConfigDict(extra="forbid")

    exchange: str = Field(pattern=r"^(NSE|BSE)$")
    tradingsymbol: str = Field(min_length=1)
    quantity: int = Field(gt=0)
    average_price: float = Field(gt=0)
    isin: str = Field(default="", pattern=r"^([A-Z]{2}[A-Z0-9]{9}[0-9])?$")
    symboltoken: str = Field(default="", pattern=r"^[0-9]*$")


class AccountEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    client_code: str = Field(min_length=1)
    pin: str = Field(min_length=4)
    totp_secret: str = Field(min_length=16, pattern=r"^[A-Z2-7]+=*$")
    api_key: str = Field(min_length=1)
    name: str = "SIM TRADER"
    funds: float = Field(default=500000.0, ge=0)
    email: str = ""
    mobile: str = ""
    pan: str = Field(default="ABCDE1234F", pattern=r"^[A-Z]{5}[0-9]{4}[A-Z]$")
    holdings: list[HoldingEntry] = Field(default_factory=list)


def load_accounts(path: Path) -> list[SimAccount]:
    """Accounts from a JSON array of objects; every problem names the file and the entry."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UserError(f"cannot read accounts file {path}: {exc.strerror}") from None
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise UserError(f"accounts file {path} is not valid JSON: {exc}") from None
    if not isinstance(parsed, list) or not parsed:
        raise UserError(f"accounts file {path} must hold a non-empty JSON array of accounts")
    accounts: list[SimAccount] = []
    for index, item in enumerate(parsed):
        try:
            entry = AccountEntry.model_validate(item)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(part) for part in error['loc']) or 'entry'}: {error['msg']}"
                for error in exc.errors()
            )
            raise UserError(f"accounts file {path}, entry {index}: {problems}") from None
        fields = entry.model_dump(exclude={"holdings"})
        seeds = tuple(HoldingSeed(**holding.model_dump()) for holding in entry.holdings)
        accounts.append(SimAccount(**fields, holdings=seeds))
    codes = [account.client_code for account in accounts]
    duplicates = sorted({code for code in codes if codes.count(code) > 1})
    if duplicates:
        raise UserError(f"accounts file {path}: duplicate client_code {', '.join(duplicates)}")
    return accounts
