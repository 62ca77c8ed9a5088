"""Identifiers. Random ids never depend on the clock; order tags fit SmartAPI's ordertag (< 20 chars)."""

from __future__ import annotations

import hashlib
import uuid

ORDERTAG_MAX_LENGTH = 19


def new_id() -> str:
    return uuid.uuid4().hex


def new_trace_id() -> str:
    return uuid.uuid4().hex[:16]


def ordertag_for(intent_id: str, child_index: int = 0) -> str:
    """A deterministic broker ordertag for an intent (and its freeze-split child).

    Deterministic so that after a crash the same intent maps to the same tag and can be found in
    the order book instead of being sent again.
    """
    digest = hashlib.sha256(intent_id.encode()).hexdigest()[:14]
    tag = f"ob{digest}{child_index:02d}"
    if len(tag) > ORDERTAG_MAX_LENGTH:
        raise ValueError("ordertag too long")
    return tag
