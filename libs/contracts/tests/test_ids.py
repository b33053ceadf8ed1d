"""Event ids (UUIDv7), clocks and trigger firing keys."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from coagent_contracts import envelope as envelope_module
from coagent_contracts import firing_key, new_event_id, utc_now, uuid7

# ---------------------------------------------------------------- ids and clocks


def _timestamp_ms(value: uuid.UUID) -> int:
    return value.int >> 80


def test_uuid7_layout() -> None:
    before = time.time_ns() // 1_000_000
    value = uuid7()
    after = time.time_ns() // 1_000_000
    assert value.version == 7
    assert value.variant == uuid.RFC_4122
    assert before <= _timestamp_ms(value) <= after


def test_uuid7_sorts_by_creation_time() -> None:
    first = uuid7()
    time.sleep(0.002)
    second = uuid7()
    assert _timestamp_ms(first) < _timestamp_ms(second)
    assert first < second
    assert str(first) < str(second)


def test_uuid7_is_unique_and_monotonic_over_10k_draws() -> None:
    draws = [uuid7() for _ in range(10_000)]
    assert len(set(draws)) == len(draws)
    assert draws == sorted(draws)
    assert [str(d) for d in draws] == sorted(str(d) for d in draws)
    assert all(d.version == 7 and d.variant == uuid.RFC_4122 for d in draws)


def test_uuid7_stays_monotonic_when_the_clock_stalls_or_steps_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now_ns = [time.time_ns() + 10_000_000_000]  # ahead of any id minted so far
    monkeypatch.setattr(envelope_module, "time", SimpleNamespace(time_ns=lambda: now_ns[0]))
    stalled = [uuid7() for _ in range(100)]
    now_ns[0] -= 5_000_000_000
    stepped_back = [uuid7() for _ in range(100)]
    assert stalled + stepped_back == sorted(stalled + stepped_back)
    assert len(set(stalled + stepped_back)) == 200


def test_uuid7_borrows_the_next_millisecond_when_the_counter_runs_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now_ns = time.time_ns() + 20_000_000_000
    monkeypatch.setattr(envelope_module, "time", SimpleNamespace(time_ns=lambda: now_ns))
    first = uuid7()
    monkeypatch.setattr(envelope_module, "_last_rand", envelope_module._RAND_LIMIT - 1)
    second = uuid7()
    assert first < second
    assert _timestamp_ms(second) == _timestamp_ms(first) + 1
    assert second.version == 7
    assert second.variant == uuid.RFC_4122


def test_new_event_id_is_a_uuid7_string() -> None:
    value = new_event_id()
    assert isinstance(value, str)
    assert uuid.UUID(value).version == 7
    assert str(uuid.UUID(value)) == value


def test_utc_now_is_aware_utc() -> None:
    now = utc_now()
    assert now.tzinfo is not None
    assert now.utcoffset() == timedelta(0)
    assert abs(now - datetime.now(UTC)) < timedelta(seconds=5)


# ---------------------------------------------------------------- firing keys


def test_firing_key_for_a_scheduled_instant() -> None:
    at = datetime(2025, 3, 14, 9, 0, tzinfo=UTC)
    assert firing_key("p1", scheduled_for=at) == "p1:at:2025-03-14T09:00:00Z"
    paris = datetime(2025, 3, 14, 10, 0, tzinfo=timezone(timedelta(hours=1)))
    assert firing_key("p1", scheduled_for=paris) == "p1:at:2025-03-14T09:00:00Z"
    precise = at.replace(microsecond=250_000)
    assert firing_key("p1", scheduled_for=precise) == "p1:at:2025-03-14T09:00:00.250000Z"


def test_firing_key_for_a_source_event() -> None:
    assert firing_key("p1", source_event_id="e1") == "p1:event:e1"
    # One message can fire several policies: each firing needs its own key.
    assert firing_key("p1", source_event_id="e1") != firing_key("p2", source_event_id="e1")


def test_firing_keys_of_distinct_firings_differ() -> None:
    at = datetime(2025, 3, 14, 9, 0, tzinfo=UTC)
    keys = {
        firing_key("p1", scheduled_for=at),
        firing_key("p1", scheduled_for=at + timedelta(seconds=1)),
        firing_key("p2", scheduled_for=at),
        firing_key("p1", source_event_id="e1"),
        firing_key("p1", source_event_id="e2"),
    }
    assert len(keys) == 5


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"scheduled_for": datetime(2025, 1, 1, tzinfo=UTC), "source_event_id": "e1"},
        {"scheduled_for": datetime(2025, 1, 1)},  # naive: ambiguous instant
        {"source_event_id": ""},
    ],
    ids=["neither", "both", "naive", "empty-source"],
)
def test_firing_key_rejects_ambiguous_input(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="exactly one|aware|empty"):
        firing_key("p1", **kwargs)  # type: ignore[arg-type]


def test_firing_key_needs_a_policy() -> None:
    with pytest.raises(ValueError, match="policy_id"):
        firing_key("", source_event_id="e1")
