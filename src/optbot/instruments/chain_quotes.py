"""Fill an option chain with live quotes (spec §2.1 'Fetch option chain data periodically', §10.7).

Quotes come from `Broker.quotes("FULL", ...)` in batches of at most 50 tokens (reference §4); LTP,
open interest and traded volume are kept. A token the broker did not return stays unquoted, which the
liquidity filter treats as "not known liquid" rather than as zero.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

from optbot.broker.base import QuoteMode
from optbot.broker.models import Quote
from optbot.core.enums import Exchange
from optbot.instruments.chain import OptionChain, OptionQuote

#: Reference §4: the Quote API takes up to 50 tokens per request.
MAX_TOKENS_PER_QUOTE_REQUEST = 50


class QuoteSource(Protocol):
    async def quotes(self, mode: QuoteMode, tokens: dict[Exchange, Sequence[str]]) -> list[Quote]: ...


async def quote_chain(
    source: QuoteSource, chain: OptionChain, strikes: Iterable[float] | None = None
) -> OptionChain:
    """A copy of `chain` with quotes for the given strikes (default: every listed strike)."""
    wanted = set(strikes) if strikes is not None else set(chain.strikes)
    by_exchange: dict[Exchange, list[str]] = {}
    for row in chain.rows:
        if row.strike not in wanted:
            continue
        for contract in (row.call, row.put):
            if contract is not None:
                by_exchange.setdefault(contract.exchange, []).append(contract.token)
    quotes: dict[str, OptionQuote] = {}
    for exchange, tokens in by_exchange.items():
        for first in range(0, len(tokens), MAX_TOKENS_PER_QUOTE_REQUEST):
            batch = tokens[first : first + MAX_TOKENS_PER_QUOTE_REQUEST]
            for quote in await source.quotes("FULL", {exchange: batch}):
                quotes[quote.token] = OptionQuote(
                    ltp=quote.ltp if quote.ltp > 0 else None,
                    open_interest=quote.open_interest,
                    volume=quote.volume,
                )
    return chain.with_quotes(quotes)
