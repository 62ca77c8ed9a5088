from __future__ import annotations

import dataclasses
import inspect
from datetime import UTC, date, datetime, time, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from optbot.core import events
from optbot.core.ids import ORDERTAG_MAX_LENGTH, new_id, new_trace_id, ordertag_for
from optbot.core.timeutil import (
    IST,
    epoch_ms_to_utc,
    iso_utc,
    ist_date,
    ist_datetime,
    parse_iso,
    require_aware,
    to_ist,
    to_utc,
    utc_to_epoch_ms,
)

EVENT_CLASSES = [
    value
    for value in vars(events).values()
    if isinstance(value, type) and issubclass(value, events.Event) and dataclasses.is_dataclass(value)
]


@pytest.mark.parametrize("event_class", EVENT_CLASSES, ids=lambda cls: cls.__name__)
def test_events_are_frozen_and_slotted(event_class: type) -> None:
    params = event_class.__dataclass_params__  # type: ignore[attr-defined]
    assert params.frozen
    assert "__slots__" in event_class.__dict__
    assert "ts_utc" in {field.name for field in dataclasses.fields(event_class)}


def test_event_cannot_be_mutated() -> None:
    tick = events.Tick(ts_utc=datetime(2024, 1, 1, tzinfo=UTC), token="1", exchange=events.Exchange.NSE,
                       symbol="X", ltp=1.0)  # fmt: skip
    with pytest.raises(dataclasses.FrozenInstanceError):
        tick.ltp = 2.0  # type: ignore[misc]
    with pytest.raises((AttributeError, TypeError)):
        tick.extra = 1  # type: ignore[attr-defined]


def _by_setattr(event_class: type, values: dict[str, object]) -> object:
    """An event built field by field the way the dataclass' own frozen __init__ stores them."""
    built = object.__new__(event_class)
    for name, value in values.items():
        object.__setattr__(built, name, value)
    return built


@pytest.mark.parametrize(
    "event_class", [events.Tick, events.Bar, events.PositionChanged], ids=lambda c: c.__name__
)
@given(data=st.data())
def test_a_fast_constructor_builds_the_dataclass_instance(event_class: type, data: st.DataObject) -> None:
    """The hot events' slot-storing __init__: same parameters and defaults as the fields, the same
    instance from positional, keyword and defaulted arguments; still frozen, hashable, replaceable."""
    declared = dataclasses.fields(event_class)
    parameters = list(inspect.signature(event_class).parameters.values())
    assert [parameter.name for parameter in parameters] == [item.name for item in declared]
    assert [parameter.default for parameter in parameters] == [
        inspect.Parameter.empty if item.default is dataclasses.MISSING else item.default for item in declared
    ]
    values = {
        item.name: data.draw(st.one_of(st.none(), st.integers(), st.text(max_size=3))) for item in declared
    }
    expected = _by_setattr(event_class, values)
    assert event_class(*values.values()) == expected
    assert event_class(**values) == expected
    required = {item.name: values[item.name] for item in declared if item.default is dataclasses.MISSING}
    defaulted = {item.name: item.default for item in declared if item.default is not dataclasses.MISSING}
    assert event_class(**required) == _by_setattr(event_class, {**required, **defaulted})
    built = event_class(**values)
    assert hash(built) == hash(expected) and repr(built) == repr(expected)
    assert dataclasses.replace(built, ts_utc="later") == _by_setattr(
        event_class, {**values, "ts_utc": "later"}
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.ts_utc = None
    with pytest.raises(TypeError):
        event_class(*values.values(), "one too many")


def test_critical_events_are_not_sheddable() -> None:
    for critical in (
        events.Fill,
        events.OrderUpdate,
        events.OrderIntent,
        events.RiskStateChanged,
        events.Alert,
    ):
        assert not issubclass(critical, events.SHEDDABLE_EVENTS)


@given(intent_id=st.text(min_size=1, max_size=200), child=st.integers(min_value=0, max_value=998))
def test_ordertag_is_short_deterministic_and_distinct_per_child(intent_id: str, child: int) -> None:
    tag = ordertag_for(intent_id, child)
    assert len(tag) < 20 and len(tag) <= ORDERTAG_MAX_LENGTH
    assert tag == ordertag_for(intent_id, child)
    assert tag.isalnum()
    assert tag != ordertag_for(intent_id, child + 1)


def test_ordertag_differs_per_intent() -> None:
    tags = {ordertag_for(f"intent-{number}") for number in range(2000)}
    assert len(tags) == 2000


def test_ids_are_unique_and_sized() -> None:
    assert len({new_id() for _ in range(500)}) == 500
    assert len(new_trace_id()) == 16


def test_require_aware_and_conversions() -> None:
    with pytest.raises(ValueError, match="naive"):
        require_aware(datetime(2024, 1, 1))
    moment = datetime(2024, 5, 21, 9, 15, tzinfo=IST)
    assert to_utc(moment) == datetime(2024, 5, 21, 3, 45, tzinfo=UTC)
    assert to_ist(datetime(2024, 5, 20, 20, 0, tzinfo=UTC)).date() == date(2024, 5, 21)
    assert ist_date(datetime(2024, 5, 20, 18, 29, tzinfo=UTC)) == date(2024, 5, 20)
    assert ist_date(datetime(2024, 5, 20, 18, 30, tzinfo=UTC)) == date(2024, 5, 21)
    assert ist_datetime(date(2024, 5, 21), time(15, 30)) == datetime(2024, 5, 21, 10, 0, tzinfo=UTC)


def test_iso_utc_and_parse() -> None:
    moment = datetime(2024, 5, 21, 9, 15, 1, 234567, tzinfo=IST)
    assert iso_utc(moment) == "2024-05-21T03:45:01.234Z"
    assert parse_iso("2024-05-21T03:45:01.234Z") == datetime(2024, 5, 21, 3, 45, 1, 234000, tzinfo=UTC)
    with pytest.raises(ValueError):
        parse_iso("2024-05-21T03:45:01")


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)))
def test_epoch_ms_round_trip(moment: datetime) -> None:
    truncated = moment.replace(microsecond=(moment.microsecond // 1000) * 1000)
    assert epoch_ms_to_utc(utc_to_epoch_ms(truncated)) == truncated


@given(
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)),
    st.integers(min_value=-720, max_value=840),
)
def test_iso_utc_parses_back_to_the_same_millisecond(naive: datetime, offset_minutes: int) -> None:
    moment = naive.replace(tzinfo=timezone(timedelta(minutes=offset_minutes)))
    parsed = parse_iso(iso_utc(moment))
    assert abs(parsed - moment) < timedelta(milliseconds=1)


def test_relabel_bar_is_replace_of_token_and_symbol() -> None:
    """Every field but token and symbol is carried over; a field added to Bar fails the count until
    relabel_bar copies it too."""
    from optbot.core.enums import Timeframe
    from optbot.core.events import Bar, relabel_bar

    start = datetime(2025, 1, 2, 3, 45, tzinfo=UTC)
    end = start + timedelta(minutes=1)
    bar = Bar(end, "", "NIFTY50", Timeframe.M1, start, end, 1.0, 2.0, 0.5, 1.5, 7, 9, 3, True, False)
    assert len(dataclasses.fields(Bar)) == 15
    assert relabel_bar(bar, "99926000", "NIFTY") == dataclasses.replace(bar, token="99926000", symbol="NIFTY")
