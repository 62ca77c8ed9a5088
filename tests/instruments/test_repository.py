from __future__ import annotations

import os
from datetime import UTC, datetime

import httpx
import orjson
import pytest

from optbot.core.clock import SimClock
from optbot.instruments.repository import MasterRepository, MasterUnavailable
from optbot.test_kit.instruments import sample_master_rows

URL = "https://example.invalid/OpenAPI_File/files/OpenAPIScripMaster.json"


def transport(payload: bytes | None, status: int = 200) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        if payload is None:
            raise httpx.ConnectError("down", request=request)
        return httpx.Response(status, content=payload)

    return httpx.MockTransport(handler)


def repo(tmp_path, clock, payload, status=200, **kw):
    return MasterRepository(tmp_path, URL, clock, transport=transport(payload, status), **kw)


async def test_refresh_writes_versioned_artifact_and_purges_expired(tmp_path):
    clock = SimClock(datetime(2026, 8, 12, 3, 0, tzinfo=UTC))  # 08:30 IST, after the 11 Aug expiry
    rows = sample_master_rows() + [{"token": "bad"}]
    result = await repo(tmp_path, clock, orjson.dumps(rows)).refresh()
    assert result.downloaded and result.artifact.name == "scripmaster-2026-08-12.json"
    assert result.report.rejected_total == 1
    assert result.purged_expired == 82
    assert result.master.index_token("NIFTY") == "99926000"
    again = await repo(tmp_path, clock, None).refresh()
    assert not again.downloaded and len(again.master) == len(result.master)


async def test_failed_download_uses_recent_cache_then_refuses_when_stale(tmp_path):
    clock = SimClock(datetime(2026, 8, 7, 3, 0, tzinfo=UTC))
    await repo(tmp_path, clock, orjson.dumps(sample_master_rows())).refresh()
    clock.advance_to(datetime(2026, 8, 10, 3, 0, tzinfo=UTC))
    recent = await repo(tmp_path, clock, None).refresh()
    assert recent.error and not recent.master.info.stale and recent.master.info.age_days == 3
    key = recent.master.options("NIFTY", recent.master.expiries("NIFTY")[-1])[0].key
    assert recent.master.is_tradeable(key, clock.now_utc().date())
    clock.advance_to(datetime(2026, 8, 15, 3, 0, tzinfo=UTC))
    stale = await repo(tmp_path, clock, b"<html>", 500).refresh()
    assert stale.master.info.stale
    assert not stale.master.is_tradeable(key, clock.now_utc().date())


async def test_no_cache_and_no_download_is_a_clear_error(tmp_path):
    clock = SimClock(datetime(2026, 8, 7, 3, 0, tzinfo=UTC))
    with pytest.raises(MasterUnavailable, match="instruments refresh"):
        await repo(tmp_path, clock, None).refresh()


async def test_missing_tokens_logged_for_review(tmp_path):
    clock = SimClock(datetime(2026, 8, 7, 3, 0, tzinfo=UTC))
    result = await repo(tmp_path, clock, orjson.dumps(sample_master_rows())).refresh()
    with pytest.raises(LookupError):
        result.master.by_symbol("NOPE")
    assert "NOPE" in (tmp_path / "missing-tokens.jsonl").read_text()


async def test_cached_master_drops_contracts_expired_since(tmp_path):
    clock = SimClock(datetime(2026, 8, 7, 3, 0, tzinfo=UTC))
    first = await repo(tmp_path, clock, orjson.dumps(sample_master_rows())).refresh()
    assert first.master.expiries("NIFTY")[0].isoformat() == "2026-08-11"
    clock.advance_to(datetime(2026, 8, 12, 3, 0, tzinfo=UTC))
    cached = await repo(tmp_path, clock, None).refresh()
    assert cached.error and cached.master.expiries("NIFTY")[0].isoformat() == "2026-08-18"


def _fallback(tmp_path, rows, modified: datetime):
    path = tmp_path / "my-master.json"
    path.write_bytes(orjson.dumps(rows))
    os.utime(path, (modified.timestamp(), modified.timestamp()))
    return path


async def test_no_download_and_no_cache_uses_the_operators_fallback_file(tmp_path):
    """Spec §8.1: 'fallback to a manual token list if all else fails'."""
    clock = SimClock(datetime(2026, 8, 7, 3, 0, tzinfo=UTC))
    fallback = _fallback(tmp_path, sample_master_rows(), datetime(2026, 8, 5, 12, 0, tzinfo=UTC))
    result = await repo(tmp_path / "instruments", clock, None, fallback_file=fallback).refresh()
    assert result.error and not result.downloaded and result.artifact == fallback
    assert result.master.info.source == str(fallback) and result.master.info.age_days == 2
    assert not result.master.info.stale and result.master.index_token("NIFTY") == "99926000"
    assert not list((tmp_path / "instruments").glob("scripmaster-*.json"))  # never passed off as a download


async def test_an_old_fallback_file_is_stale_and_an_unusable_one_a_clear_error(tmp_path):
    clock = SimClock(datetime(2026, 8, 7, 3, 0, tzinfo=UTC))
    fallback = _fallback(tmp_path, sample_master_rows(), datetime(2026, 7, 20, 12, 0, tzinfo=UTC))
    stale = await repo(tmp_path / "instruments", clock, None, fallback_file=fallback).refresh()
    assert stale.master.info.stale and stale.master.info.age_days == 18
    _fallback(tmp_path, [{"token": "bad"}], datetime(2026, 8, 6, 12, 0, tzinfo=UTC))
    with pytest.raises(MasterUnavailable, match="fallback master file .* has no usable rows"):
        await repo(tmp_path / "instruments", clock, None, fallback_file=fallback).refresh()
