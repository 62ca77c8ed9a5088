"""Each exit, entry rule, strike rule and re-entry mode of the legs vocabulary, driven through closed
1-minute index bars over a Black-Scholes chain (positions marked at the chain's premiums each bar)."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest

from optbot.core.clock import SimClock
from optbot.core.enums import IntentPurpose, OptionType, Side, Timeframe
from optbot.core.events import Bar, OrderIntent
from optbot.research.harness import synthetic_chain
from optbot.risk.views import PositionSnapshot
from optbot.strategy.legs.engine import LegStrategy
from tests.strategy.legs.test_leg_engine import fill
from tests.strategy.legs.test_leg_vocabulary import EXPIRY, SPOT, at, context, premium, strategy

ONE_SELL = """
[[legs]]
id = "ce"
option = "CE"
side = "SELL"
strike = {{ mode = "atm" }}
{extra}
"""


class Market:
    """The chain and marks move with the index; every filled intent is held at the chain's premium."""

    def __init__(self, start_minute: int = 19) -> None:
        self.clock = SimClock(at(9, start_minute))
        self.ctx = context(self.clock)
        self.held: dict[str, tuple[OrderIntent, int]] = {}

    def bar(
        self, legs: LegStrategy, spot: float, high: float | None = None, low: float | None = None
    ) -> None:
        self.clock.advance(60)
        end = self.clock.now_utc()
        self.ctx.chains["NIFTY"] = synthetic_chain("NIFTY", spot, end, EXPIRY, 0.12, 75, 1800)
        for intent, net in self.held.values():
            self.ctx.set_position(
                PositionSnapshot(
                    intent.token, intent.exchange, intent.symbol, "NIFTY", net, premium(self.ctx, intent)
                )
            )
        bar = Bar(
            end,
            "26000",
            "NIFTY",
            Timeframe.M1,
            end - timedelta(minutes=1),
            end,
            spot,
            high or spot,
            low or spot,
            spot,
        )
        self.ctx.add_bar(bar)
        seen = len(self.ctx.intents)
        legs.on_bar(self.ctx, bar)
        for intent in self.ctx.intents[seen:]:  # everything sent fills at the chain's premium at once
            legs.on_fill(self.ctx, fill(intent, premium(self.ctx, intent)))
            before = self.held.get(intent.token, (intent, 0))[1]
            signed = intent.quantity if intent.side is Side.BUY else -intent.quantity
            self.held[intent.token] = (intent, before + signed)
            self.ctx.set_position(
                PositionSnapshot(
                    intent.token,
                    intent.exchange,
                    intent.symbol,
                    "NIFTY",
                    before + signed,
                    premium(self.ctx, intent),
                )
            )

    def last(self) -> OrderIntent:
        return self.ctx.intents[-1]


def run(body: str, path: list[float], start_minute: int = 19) -> tuple[Market, LegStrategy]:
    market = Market(start_minute)
    legs = strategy(body)
    for spot in path:
        market.bar(legs, spot)
    return market, legs


ENTRY = "\n[entry]\ntime = 09:20:00\n"


def test_trailing_stop_follows_a_falling_written_premium_and_exits_at_the_trailed_level() -> None:
    body = ENTRY + ONE_SELL.format(extra="stop = { points = 20 }\ntrail = { every = 5, by = 5 }")
    market, legs = run(body, [SPOT])
    day = legs.day
    assert day is not None
    leg = day.legs["ce"]
    first_stop = leg.stop
    assert first_stop == pytest.approx(leg.entry_price + 20)
    market.bar(legs, SPOT - 40)  # the call falls ~18: the stop trails down by whole 5-point steps
    assert leg.stop is not None and first_stop is not None and leg.stop < first_stop - 10
    assert len(market.ctx.intents) == 1
    market.bar(legs, SPOT + 30)  # back up through the trailed stop (still below the original)
    assert market.last().purpose is IntentPurpose.STOP and market.last().side is Side.BUY
    assert premium(market.ctx, market.last()) < first_stop


def test_an_underlying_points_stop_fires_on_the_index_move_not_the_premium() -> None:
    body = ENTRY + ONE_SELL.format(extra="stop = { underlying_points = 40 }")
    market, legs = run(body, [SPOT, SPOT + 39])
    assert len(market.ctx.intents) == 1
    market.bar(legs, SPOT + 41)
    assert market.last().purpose is IntentPurpose.STOP and "underlying moved +41" in market.last().reason


def test_targets_time_exit_vix_jump_and_combined_target() -> None:
    # a per-leg target in %, the time exit, a VIX jump and the combined MTM target, each alone
    body = ENTRY + ONE_SELL.format(extra="target = { pct = 30 }")
    market, legs = run(body, [SPOT, SPOT - 80])
    assert market.last().purpose is IntentPurpose.TARGET

    body = ENTRY + ONE_SELL.format(extra="") + "\n[exits]\ntime = 09:22:00\n"
    market, legs = run(body, [SPOT, SPOT])
    assert len(market.ctx.intents) == 1
    market.bar(legs, SPOT)  # 09:22
    assert market.last().purpose is IntentPurpose.EXIT and "time exit 09:22" in market.last().reason

    body = ENTRY + ONE_SELL.format(extra="") + "\n[exits]\nvix_jump_points = 3\n"
    market, legs = run(body, [SPOT])
    market.ctx.current_vix = 15.9
    market.bar(legs, SPOT)
    assert len(market.ctx.intents) == 1
    market.ctx.current_vix = 16.1
    market.bar(legs, SPOT)
    assert "VIX jumped 3.10" in market.last().reason

    body = ENTRY + ONE_SELL.format(extra="") + "\n[exits]\nmtm_target = 1000\n"
    market, legs = run(body, [SPOT, SPOT - 60])
    assert "combined MTM" in market.last().reason and ">= target 1,000" in market.last().reason


def test_lock_and_trail_locks_profit_raises_the_lock_and_exits_when_mtm_falls_back_to_it() -> None:
    body = (
        ENTRY
        + ONE_SELL.format(extra="")
        + "\n[exits]\nlock_and_trail = { at = 600, lock = 200, every = 300, by = 200 }\n"
    )
    market, legs = run(body, [SPOT])
    day = legs.day
    assert day is not None
    market.bar(legs, SPOT - 60)  # ~ +1,400 on 75 units
    assert day.locked_profit is not None and day.locked_profit >= 200 + 200  # raised at least once
    locked = day.locked_profit
    assert len(market.ctx.intents) == 1
    market.bar(legs, SPOT - 20)  # gives back most of it: below the lock
    assert market.last().purpose is IntentPurpose.EXIT and f"locked {locked:,.0f}" in market.last().reason


def test_momentum_entry_waits_for_the_index_to_move_from_the_entry_time() -> None:
    body = '\n[entry]\ntime = 09:20:00\nmomentum = { points = 30, direction = "up" }\n' + ONE_SELL.format(
        extra=""
    )
    market, legs = run(body, [SPOT, SPOT + 20, SPOT - 40])  # anchored at 09:20 on SPOT
    assert market.ctx.intents == []
    market.bar(legs, SPOT + 31)
    assert len(market.ctx.intents) == 1 and market.last().symbol.endswith("24850CE")


def test_range_breakout_enters_only_after_the_window_and_outside_its_range() -> None:
    body = (
        "\n[entry]\ntime = 09:15:00\nrange_breakout = { start = 09:15:00, end = 09:18:00 }\n"
        + ONE_SELL.format(extra="")
    )
    market = Market(start_minute=15)
    legs = strategy(body)
    for spot in (SPOT, SPOT + 15, SPOT - 10):  # bars 09:15-09:18: range [SPOT - 10, SPOT + 15]
        market.bar(legs, spot)
    market.bar(legs, SPOT + 10)  # inside the range
    assert market.ctx.intents == []
    market.bar(legs, SPOT + 16)  # closes above it
    assert len(market.ctx.intents) == 1


@pytest.mark.parametrize(
    ("rule", "option"),
    [
        ('{ mode = "premium_closest", value = 40 }', "CE"),
        ('{ mode = "premium_at_least", value = 40 }', "PE"),
        ('{ mode = "premium_at_most", value = 40 }', "CE"),
        ('{ mode = "delta_nearest", value = 0.25 }', "PE"),
        ('{ mode = "pct_from_spot", value = 1.0 }', "CE"),
        ('{ mode = "straddle_width", value = 1.0 }', "PE"),
    ],
)
def test_strike_rules_pick_the_listed_strike_an_independent_reading_of_the_chain_picks(
    rule: str, option: str
) -> None:
    body = ENTRY + f'[[legs]]\nid = "x"\noption = "{option}"\nside = "SELL"\nstrike = {rule}\n'
    market, _ = run(body, [SPOT])
    chosen = market.last()
    chain = market.ctx.chains["NIFTY"]
    kind = OptionType(option)
    quotes = [(row.strike, row.quote(kind)) for row in chain.rows]
    value = float(rule.split("value = ")[1].split()[0])
    if "premium_closest" in rule:
        expected = min(quotes, key=lambda q: (abs(q[1].ltp - value), q[0]))[0]  # type: ignore[union-attr,operator]
    elif "premium_at_least" in rule:
        expected = min((q for q in quotes if q[1].ltp >= value), key=lambda q: q[1].ltp)[0]  # type: ignore[union-attr,operator]
    elif "premium_at_most" in rule:
        expected = max((q for q in quotes if q[1].ltp <= value), key=lambda q: q[1].ltp)[0]  # type: ignore[union-attr,operator]
    elif "delta" in rule:
        expected = min(quotes, key=lambda q: abs(abs(q[1].delta) - value))[0]  # type: ignore[union-attr,arg-type]
    elif "pct_from_spot" in rule:
        expected = 50 * math.floor(SPOT * 1.01 / 50 + 0.5)
    else:
        atm = chain.row(chain.atm(SPOT))
        width = atm.quote(OptionType.CE).ltp + atm.quote(OptionType.PE).ltp  # type: ignore[union-attr,operator]
        expected = 50 * math.floor((chain.atm(SPOT) - width) / 50 + 0.5)
    assert chosen.symbol.endswith(f"{int(expected)}{option}"), (chosen.symbol, expected)


def test_entry_filters_block_on_vix_days_and_dte() -> None:
    for entry in ("vix_max = 12", "vix_min = 14", 'days = ["Tue"]', "dte_min = 2", "dte_max = 0"):
        market, _ = run(f"\n[entry]\ntime = 09:20:00\n{entry}\n" + ONE_SELL.format(extra=""), [SPOT, SPOT])
        assert market.ctx.intents == [], entry  # VIX 13, a Monday, expiry tomorrow (1 day)
    market, _ = run(
        "\n[entry]\ntime = 09:20:00\ndte_min = 1\ndte_max = 1\nvix_min = 12\n" + ONE_SELL.format(extra=""),
        [SPOT],
    )
    assert len(market.ctx.intents) == 1


@pytest.mark.parametrize("mode", ["asap", "momentum"])
def test_re_entry_asap_at_once_at_the_new_atm_and_on_momentum_after_the_move(mode: str) -> None:
    extra = "stop = { points = 10 }"
    reentry = f'\n[reentry]\nmode = "{mode}"\nmax_per_leg = 1\n' + (
        "momentum_points = 50\n" if mode == "momentum" else ""
    )
    market, legs = run(ENTRY + ONE_SELL.format(extra=extra) + reentry, [SPOT])
    first = market.last()
    market.bar(legs, SPOT + 30)  # the call gains > 10: stopped
    assert market.last().purpose is IntentPurpose.STOP
    count = len(market.ctx.intents)
    market.bar(legs, SPOT + 40)
    if mode == "asap":
        again = market.ctx.intents[count]
        assert again.purpose is IntentPurpose.ENTRY and again.token != first.token  # the new ATM
        assert again.symbol.endswith("24850CE")
        return
    assert len(market.ctx.intents) == count  # 10 points from the stop-out: not yet
    market.bar(legs, SPOT + 81)
    again = market.ctx.intents[count]
    assert again.purpose is IntentPurpose.ENTRY and "re-entry momentum" in again.reason


def test_a_capped_exit_leaves_the_leg_open_to_its_next_step() -> None:
    """Risk sent only part of a leg's stop (another working exit covered the rest): the leg no longer
    counts as closing, so while the stop still holds the next step sends an exit again (risk caps it to
    what no working exit covers); a leg still counted as closing would wait for the session flatten."""
    body = ENTRY + ONE_SELL.format(extra="stop = { underlying_points = 40 }")
    market, legs = run(body, [SPOT])
    day = legs.day
    assert day is not None
    leg = day.legs["ce"]
    seen = len(market.ctx.intents)
    market.clock.advance(60)
    stop_bar_spot = SPOT + 41
    market.ctx.chains["NIFTY"] = synthetic_chain(
        "NIFTY", stop_bar_spot, market.clock.now_utc(), EXPIRY, 0.12, 75, 1800
    )
    end = market.clock.now_utc()
    legs.on_bar(
        market.ctx,
        Bar(end, "26000", "NIFTY", Timeframe.M1, end - timedelta(minutes=1), end, *[stop_bar_spot] * 4),
    )
    [stop] = market.ctx.intents[seen:]
    assert stop.purpose is IntentPurpose.STOP and leg.closing
    legs.on_exit_capped(market.ctx, stop, 0, ("an exit is already working for the whole open 75",))
    assert not leg.closing and any("exit sent for 0 of" in note for note in day.notes)
    market.bar(legs, SPOT + 45)  # the stop still holds: the leg's exit is sent again
    assert market.last().purpose is IntentPurpose.STOP and market.last() is not stop
