"""Per-client, per-endpoint sliding-window rate limits (reference §7).

Windows are measured on the `Clock` the server gives them: real time for `optbot sim serve` (the broker
counts requests per real second, and a replay clock stops when the replay ends), the shared simulated
clock for in-process tests and the demo. Only accepted requests count: a rejected request does not
extend the penalty.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

from optbot.config.sections.sim import EndpointRateLimit
from optbot.core.clock import Clock

RATE_LIMIT_TEXT = "Access denied because of exceeding access rate"

_WINDOWS = (("per_second", 1.0), ("per_minute", 60.0), ("per_hour", 3600.0))


@dataclass
class RateLimiter:
    clock: Clock
    limits: Mapping[str, EndpointRateLimit]
    enabled: bool = True
    _history: dict[tuple[str, str], deque[float]] = field(default_factory=dict, init=False)
    rejected: int = field(default=0, init=False)

    def allow(self, client_key: str, bucket: str) -> bool:
        """Record and allow the request, or refuse it without recording."""
        if not self.enabled:
            return True
        limit = self.limits.get(bucket)
        if limit is None:
            return True
        now = self.clock.monotonic()
        history = self._history.setdefault((client_key, bucket), deque())
        longest = max((span for name, span in _WINDOWS if getattr(limit, name) is not None), default=0.0)
        while history and history[0] <= now - longest:
            history.popleft()
        for name, span in _WINDOWS:
            cap = getattr(limit, name)
            if cap is None:
                continue
            if self._count_since(history, now - span) >= cap:
                self.rejected += 1
                return False
        history.append(now)
        return True

    @staticmethod
    def _count_since(history: deque[float], start: float) -> int:
        count = 0
        for stamp in reversed(history):
            if stamp <= start:
                break
            count += 1
        return count

    def reset(self) -> None:
        self._history.clear()
        self.rejected = 0
