from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ennio.core.events import Event, EventType
from ennio.core.session import Session
from ennio.db.codec import (
    SESSION_COLUMNS,
    dumps_json,
    event_from_values,
    event_to_values,
    from_sqlite_time,
    session_from_values,
    session_to_values,
    to_sqlite_time,
)
from ennio.db.schema import sessions
from tests.helpers.sessions import make_session

aware = st.datetimes(
    min_value=datetime(1970, 1, 2),
    max_value=datetime(9998, 12, 30),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=-7, minutes=-30)), timezone(timedelta(hours=13))]),
)


@given(aware)
def test_sqlite_time_roundtrips_to_the_same_instant_in_utc(value: datetime) -> None:
    text = to_sqlite_time(value)
    assert len(text) == 26
    back = from_sqlite_time(text)
    assert back == value and back is not None and back.tzinfo is UTC


@given(aware, aware)
def test_sqlite_time_text_orders_like_time(a: datetime, b: datetime) -> None:
    assert (to_sqlite_time(a) < to_sqlite_time(b)) == (a < b)


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        to_sqlite_time(datetime(2026, 1, 1))


def test_session_columns_are_the_table_columns_and_the_model_fields() -> None:
    assert set(SESSION_COLUMNS) == set(sessions.c.keys()) == set(Session.model_fields)


def test_session_values_roundtrip() -> None:
    session = make_session(metadata={"a": 1}, runtime_handle={"x": "y"})
    values = session_to_values(session)
    assert values["status"] == "spawning" and type(values["status"]) is str
    assert session_from_values(values) == session


def test_event_values_roundtrip() -> None:
    event = Event.of(EventType.CI_FAILING, "x", project_id="p", session_id="s", data={"k": [1]})
    values = event_to_values(event)
    stored = event_from_values(
        7,
        values["event_id"],
        values["type"],
        values["priority"],
        values["project_id"],
        values["session_id"],
        values["occurred_at"],
        values["message"],
        values["data"],
    )
    assert stored is not None and stored.seq == 7 and stored.event == event


def test_json_of_non_json_values_is_their_text() -> None:
    assert dumps_json({"at": datetime(2026, 1, 1, tzinfo=UTC)}) == '{"at": "2026-01-01 00:00:00+00:00"}'
