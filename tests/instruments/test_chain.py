from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from optbot.core.enums import OptionType
from optbot.instruments.chain import OptionChain, OptionQuote
from optbot.instruments.scripmaster import parse_row
from optbot.test_kit.instruments import build_master, option_row

EXPIRY = date(2026, 8, 11)


@pytest.fixture
def chain() -> OptionChain:
    master = build_master()
    return OptionChain("NIFTY", EXPIRY, master.options("NIFTY", EXPIRY))


def test_atm_is_nearest_listed_strike(chain):
    assert chain.atm(24570.65) == 24550.0
    assert chain.atm(24580.0) == 24600.0
    assert chain.atm(24575.0) == 24550.0  # tie goes to the lower strike
    assert chain.atm(1.0) == chain.strikes[0]


def test_itm_otm_from_listed_strikes(chain):
    assert chain.itm(1, OptionType.CE, 24570) == 24500.0
    assert chain.itm(1, OptionType.PE, 24570) == 24600.0
    assert chain.otm(2, OptionType.CE, 24570) == 24650.0
    assert chain.otm(2, OptionType.PE, 24570) == 24450.0
    with pytest.raises(LookupError):
        chain.otm(100, OptionType.CE, 24570)


def test_uneven_strikes_are_respected():
    strikes = [24000, 24050, 24100, 24200, 24400]
    contracts = [parse_row(option_row(i, "NIFTY", EXPIRY, s, "CE")) for i, s in enumerate(strikes)]
    chain = OptionChain("NIFTY", EXPIRY, contracts)
    assert chain.atm(24290) == 24200
    assert chain.otm(1, OptionType.CE, 24290) == 24400
    assert chain.strikes_within(100, 24100) == [24000, 24050, 24100, 24200]


def test_liquidity_filter(chain):
    atm_row = chain.row(24550.0)
    quotes = {
        atm_row.call.token: OptionQuote(ltp=120.0, open_interest=5000, volume=100),
        chain.row(24600.0).call.token: OptionQuote(ltp=90.0, open_interest=10, volume=100),
    }
    quoted = chain.with_quotes(quotes)
    liquid = quoted.liquid(OptionType.CE, min_open_interest=1000)
    assert [row.strike for row in liquid] == [24550.0]
    assert quoted.is_liquid(24550.0, OptionType.CE, 1000, 50)
    assert not quoted.is_liquid(24550.0, OptionType.CE, 1000, 500)


@given(st.floats(min_value=23000, max_value=26000, allow_nan=False))
def test_atm_minimises_distance(ltp):
    master = build_master()
    chain = OptionChain("NIFTY", EXPIRY, master.options("NIFTY", EXPIRY))
    atm = chain.atm(ltp)
    assert all(abs(atm - ltp) <= abs(strike - ltp) + 1e-9 for strike in chain.strikes)


def test_a_quote_lookup_prices_only_the_quotes_read_and_matches_eager_quotes(chain):
    """A strategy reading one strike must not pay for pricing the whole chain, and one picking a
    contract from a row (its instrument, not its quote) pays for no pricing at all."""
    asked: list[str] = []

    def lookup(contract):
        asked.append(contract.token)
        return OptionQuote(ltp=float(contract.strike or 0) / 100, open_interest=len(contract.token))

    lazy = chain.with_quote_lookup(lookup)
    assert asked == [] and lazy.strikes == chain.strikes and len(lazy) == len(chain)
    row = lazy.row(lazy.atm(24570.0))
    assert row.call is not None and row.put is not None and asked == []
    assert row.call_quote == lookup(row.call) and asked == [row.call.token, row.call.token]
    asked.clear()
    assert row.call_quote is row.call_quote and asked == []  # each side is quoted once
    assert row.quote(OptionType.PE) == lookup(row.put) and asked == [row.put.token, row.put.token]
    asked.clear()
    assert lazy.row(row.strike) is row and row.put_quote is not None and asked == []
    eager = chain.with_quotes(
        {contract.token: lookup(contract) for r in chain.rows for contract in (r.call, r.put) if contract}
    )
    assert list(lazy.rows) == list(eager.rows)
    assert lazy.rows[-1] == eager.rows[-1] and lazy.rows[1:3] == list(eager.rows[1:3])
    assert [r.strike for r in lazy.liquid(OptionType.CE, 1)] == [
        r.strike for r in eager.liquid(OptionType.CE, 1)
    ]
    with pytest.raises(IndexError):
        lazy.rows[len(lazy)]


def _ranked_nearest(strikes: list[float], count: int, around: float) -> list[float]:
    """The definition: every strike ranked by (distance, strike), the first `count` in strike order."""
    return sorted(sorted(strikes, key=lambda strike: (abs(strike - around), strike))[:count])


@given(
    st.lists(st.integers(min_value=1, max_value=120), min_size=1, max_size=60, unique=True),
    st.integers(min_value=-2, max_value=12),
    st.floats(min_value=-10.0, max_value=130.0, allow_nan=False),
    st.sampled_from([0.5, 1.0, 50.0]),
)
def test_nearest_strikes_are_the_first_of_every_strike_ranked_by_distance(
    units: list[int], count: int, around: float, step: float
) -> None:
    """Ranking only the strikes near `around` picks what ranking all of them picks: ties at equal
    distance (a midpoint, repeated distances at the window's edge), either end, counts beyond the
    listing and non-positive counts."""
    strikes = [unit * step for unit in units]
    around *= step
    contracts = [parse_row(option_row(i, "NIFTY", EXPIRY, s, "CE")) for i, s in enumerate(strikes)]
    chain = OptionChain("NIFTY", EXPIRY, contracts)
    assert chain.nearest_strikes(count, around) == _ranked_nearest(chain.strikes, count, around)
    midpoint = (chain.strikes[0] + chain.strikes[-1]) / 2  # a tie between two strikes, often
    assert chain.nearest_strikes(count, midpoint) == _ranked_nearest(chain.strikes, count, midpoint)


def test_nearest_strikes_rank_strikes_whose_distances_round_alike_by_strike() -> None:
    """Far from every strike, distances round to one float: the tie goes to the lowest strikes even
    when they lie beyond the few places either side of `around`."""
    contracts = [parse_row(option_row(i, "NIFTY", EXPIRY, s, "CE")) for i, s in enumerate([1, 2, 3, 4])]
    chain = OptionChain("NIFTY", EXPIRY, contracts)
    assert chain.nearest_strikes(1, 1e17) == [1.0] == _ranked_nearest(chain.strikes, 1, 1e17)
    assert chain.nearest_strikes(2, -1e17) == [1.0, 2.0]
