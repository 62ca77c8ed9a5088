"""Shared helpers for the Angel One client tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx

from optbot.broker.angelone.rest import AngelOneRestClient
from optbot.config.sections.broker import BrokerSettings
from optbot.core.clock import SimClock

T = TypeVar("T")
START = datetime(2026, 1, 5, 4, 0, tzinfo=UTC)  # Monday 09:30 IST


async def drive(
    clock: SimClock, coroutine: Coroutine[Any, Any, T], step: float = 0.05, limit: float = 600
) -> T:
    """Run `coroutine`, advancing simulated time whenever it waits on the clock."""
    task = asyncio.ensure_future(coroutine)
    waited = 0.0
    while not task.done():
        await clock.settle()
        if task.done():
            break
        clock.advance(step)
        waited += step
        if waited > limit:
            task.cancel()
            raise AssertionError("coroutine did not finish within the simulated time limit")
    return task.result()


class Recorder:
    """An httpx MockTransport handler that records requests and answers from a function."""

    def __init__(self, answer: Callable[[httpx.Request], httpx.Response]) -> None:
        self.answer = answer
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answer(request)

    def paths(self) -> list[str]:
        return [request.url.path for request in self.requests]


def make_client(
    answer: Callable[[httpx.Request], httpx.Response],
    clock: SimClock | None = None,
    token: str | None = "jwt-abc",
    **overrides: Any,
) -> tuple[AngelOneRestClient, Recorder, SimClock]:
    clock = clock or SimClock(START)
    recorder = Recorder(answer)
    settings = BrokerSettings(**overrides)
    import random

    client = AngelOneRestClient(
        settings, clock, "api-key-123", transport=httpx.MockTransport(recorder), rng=random.Random(7)
    )
    client.set_access_token(token)
    return client, recorder, clock
