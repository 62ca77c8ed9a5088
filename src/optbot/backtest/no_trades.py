"""Why a backtest closed no trade, in one line: a trader reading "0 closed trades" must not have to
dig through the log to learn whether the strategy never fired, the risk engine refused every entry
(and why), orders never filled, or the data could not carry entries."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from optbot.persistence.store import Store

if TYPE_CHECKING:
    from optbot.backtest.coverage import CoverageRow

#: How many distinct refusal reasons the line names (the most frequent first).
SHOWN_REASONS = 3


def refusal_counts(store: Store) -> dict[str, int]:
    """Each reason an intent was rejected before sending (risk, session block, order checks), with
    how many intents it stopped."""
    rows = store.connection.execute(
        "SELECT reason, COUNT(*) FROM intents WHERE status = 'REJECTED' GROUP BY reason"
    ).fetchall()
    return {str(reason or "no reason recorded"): int(count) for reason, count in rows}


_NUMBER = re.compile(r"\d[\d,.]*")


def _reasons_text(refusals: Mapping[str, int]) -> str:
    """The most frequent kinds of reason: reasons that differ only in their numbers (a margin per lot,
    a premium) are one kind, named by its first example."""
    kinds: dict[str, tuple[str, int]] = {}
    for reason, count in sorted(refusals.items()):
        key = _NUMBER.sub("#", reason)
        example, seen = kinds.get(key, (reason, 0))
        kinds[key] = (example, seen + count)
    ranked = sorted(kinds.values(), key=lambda item: (-item[1], item[0]))
    shown = [f"{count} x {example!r}" for example, count in ranked[:SHOWN_REASONS]]
    more = len(ranked) - SHOWN_REASONS
    return ", ".join(shown) + (f" and {more} other kind(s) of reason" if more > 0 else "")


def no_trade_reason(
    *,
    closed_trades: int,
    fills: int,
    signals: int,
    intents: int,
    refused: int,
    refusals: Mapping[str, int],
    sessions: int,
    bars: int,
    coverage: Sequence[CoverageRow],
) -> str | None:
    """The one line that says why nothing traded, or None when a trade closed."""
    if closed_trades:
        return None
    if fills:
        return f"no closed trade: {fills} fill(s), but the position(s) they opened were still open at the end"
    coarse = sum(1 for row in coverage if row.entries_refused)
    coarse_note = (
        f"; on {coarse} underlying-day(s) the bars were too coarse to enter (see the coverage table)"
        if coarse
        else ""
    )
    if intents == 0:
        if signals == 0:
            return (
                f"no trades: the strategies gave no entry signal in {sessions} session(s) "
                f"({bars:,} bars replayed){coarse_note}"
            )
        return f"no trades: {signals} signal(s), but the strategies submitted no order{coarse_note}"
    if refused >= intents:
        recorded = sum(refusals.values())
        basket = refused - recorded
        why = _reasons_text(refusals) if refusals else ""
        if basket > 0:
            why = (why + ", " if why else "") + f"{basket} basket leg(s) refused before their first order"
        return f"no trades: all {intents} order intent(s) were refused: {why}"
    sent = intents - refused
    refused_text = f" ({refused} refused: {_reasons_text(refusals)})" if refused and refusals else ""
    return (
        f"no trades: {sent} order(s) sent but none filled (limits not reached, or no traded volume "
        f"in the option bars){refused_text}"
    )


__all__ = ["SHOWN_REASONS", "no_trade_reason", "refusal_counts"]
