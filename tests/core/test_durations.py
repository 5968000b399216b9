from __future__ import annotations

import math
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from ennio.core.durations import Duration, format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30),
        ("5m", 300),
        ("2h", 7200),
        ("1d", 86400),
        ("1h30m", 5400),
        ("1h 30m", 5400),
        ("250ms", 0.25),
        ("1.5h", 5400),
        (" 2H ", 7200),
        ("45", 45),
        ("0", 0),
        ("0s", 0),
        (90, 90),
        (2.5, 2.5),
        (timedelta(minutes=3), 180),
    ],
)
def test_parse_duration(text: object, seconds: float) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "empty duration"),
        ("   ", "empty duration"),
        ("5 minutes", "cannot read"),
        ("m5", "cannot read"),
        ("5x", "cannot read"),
        ("1h-30m", "cannot read"),
        ("-5", "negative"),
        ("-5s", "cannot read"),
        (-1, "negative"),
        ("nan", "negative"),
        (float("nan"), "negative"),
        ("inf", "longer than a year"),
        (float("inf"), "longer than a year"),
        ("367d", "longer than a year"),
        ("1e400", "longer than a year"),
        (True, "must be a number"),
        (None, "must be a number"),
        ([30], "must be a number"),
    ],
)
def test_bad_durations_raise_value_error_with_a_readable_message(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_duration(value)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0ms"), (0.25, "250ms"), (1, "1s"), (90, "1m30s"), (3600, "1h"), (5400, "1h30m"), (90061, "1d1h1m1s")],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(timedelta(seconds=seconds)) == text


@given(st.integers(min_value=1, max_value=366 * 86400))
def test_format_then_parse_round_trips_whole_seconds(seconds: int) -> None:
    value = timedelta(seconds=seconds)
    assert parse_duration(format_duration(value)) == value


@given(st.one_of(st.text(max_size=30), st.floats(allow_nan=True), st.integers(), st.none(), st.booleans()))
def test_parse_duration_returns_a_bounded_duration_or_raises_value_error(value: object) -> None:
    try:
        result = parse_duration(value)
    except ValueError as exc:
        assert str(exc)
    else:
        assert timedelta(0) <= result <= timedelta(days=366)
        assert not math.isnan(result.total_seconds())


@given(
    st.lists(
        st.tuples(st.integers(min_value=0, max_value=99), st.sampled_from(["ms", "s", "m", "h", "d"])),
        min_size=1,
        max_size=4,
    )
)
def test_compound_durations_add_up(parts: list[tuple[int, str]]) -> None:
    unit = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
    text = "".join(f"{n}{u}" for n, u in parts)
    expected = sum(n * unit[u] for n, u in parts)
    if expected > 366 * 86400:
        with pytest.raises(ValueError, match="longer than a year"):
            parse_duration(text)
    else:
        assert parse_duration(text).total_seconds() == pytest.approx(expected)


class _Timeouts(BaseModel):
    every: Duration


def test_duration_field_in_a_model_and_its_json_form() -> None:
    model = _Timeouts.model_validate({"every": "1h30m"})
    assert model.every == timedelta(minutes=90)
    assert model.model_dump(mode="json") == {"every": "1h30m"}
    assert model.model_dump()["every"] == timedelta(minutes=90)
    with pytest.raises(ValidationError, match="cannot read duration"):
        _Timeouts.model_validate({"every": "soon"})
    schema = _Timeouts.model_json_schema()["properties"]["every"]
    assert "duration" in schema["description"]
