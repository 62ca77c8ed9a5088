from __future__ import annotations

from datetime import date

from optbot.broker.models import Quote
from optbot.core.enums import OptionType
from optbot.instruments.chain import OptionChain
from optbot.instruments.chain_quotes import quote_chain
from optbot.test_kit.instruments import build_master

EXPIRY = date(2026, 8, 11)


class Source:
    def __init__(self):
        self.requests = []

    async def quotes(self, mode, tokens):
        self.requests.append((mode, {k: list(v) for k, v in tokens.items()}))
        ((exchange, batch),) = tokens.items()
        return [
            Quote(
                exchange=exchange,
                token=t,
                symbol=t,
                ltp=0.0 if t.endswith("0") else 12.5,
                volume=100,
                open_interest=int(t),
            )
            for t in batch
            if not t.endswith("7")  # the broker leaves some unfetched
        ]


async def test_batches_of_fifty_and_unfetched_stay_unknown():
    master = build_master()
    chain = OptionChain("NIFTY", EXPIRY, master.options("NIFTY", EXPIRY))
    source = Source()
    quoted = await quote_chain(source, chain)
    assert [len(next(iter(r[1].values()))) for r in source.requests] == [50, 32]
    assert all(mode == "FULL" for mode, _ in source.requests)
    contracts = [(row, t) for row in quoted.rows for t in (OptionType.CE, OptionType.PE)]
    for row, option_type in contracts:
        token = row.contract(option_type).token
        quote = row.quote(option_type)
        if token.endswith("7"):
            assert quote is None  # unfetched: unknown, not zero
        elif token.endswith("0"):
            assert quote.ltp is None and quote.open_interest == int(token)  # LTP 0 = no trade
        else:
            assert quote.ltp == 12.5 and quote.volume == 100


async def test_only_requested_strikes():
    master = build_master()
    chain = OptionChain("NIFTY", EXPIRY, master.options("NIFTY", EXPIRY))
    source = Source()
    await quote_chain(source, chain, chain.nearest_strikes(3, 24550.0))
    assert len(next(iter(source.requests[0][1].values()))) == 6
