"""Conditions validation by event type: every key of CONTRACTS.md, and what is refused."""

from __future__ import annotations

from typing import Any

import pytest

from coagent_contracts.trigger import TriggerEventType
from coagent_trigger.conditions import MAX_REGEX_LENGTH, ConditionsError, validate_conditions

VALID: list[tuple[TriggerEventType, dict[str, Any]]] = [
    ("user_message", {}),
    ("user_message", {"keyword": "help"}),
    ("user_message", {"keyword": ["help", "urgent"]}),
    ("user_message", {"regex": r"^\d{3}-\w+$"}),
    ("user_message", {"sender_kind": "human"}),
    ("user_message", {"sender_kind": "agent", "sender_roles": ["teacher"]}),
    ("user_message", {"sender_kind": "any"}),
    ("user_message", {"mention": "tutor-bot"}),
    ("user_message", {"message_count": 3}),
    ("user_message", {"debounce": {"period_s": 0.5, "max_wait_s": 0.5}}),
    ("user_message", {"debounce": {"period_s": 2, "max_wait_s": 30}, "overlap": "buffer_one"}),
    ("silence", {}),
    ("silence", {"threshold_mins": 0.05}),
    ("silence", {"threshold_mins": 12.5, "overlap": "cancel_running"}),
    ("timer", {"interval_mins": 0.05}),
    ("timer", {"interval_mins": 1.5, "jitter_s": 0, "catch_up": "once", "overlap": "allow"}),
    ("cron", {"cron": "0 9 * * 1-5"}),
    ("cron", {"cron": "30 */5 * * * *", "timezone": "Europe/Paris", "catch_up": "skip"}),
    ("cron", {"cron": "0 9 * * 1-5", "end_at": "2027-01-01T00:00:00+01:00"}),
    ("timer", {"interval_mins": 1, "end_at": "2027-01-01T00:00:00Z"}),
    ("webhook", {}),
    ("webhook", {"overlap": "skip"}),
    ("manual", {}),
]


@pytest.mark.parametrize(("event_type", "conditions"), VALID)
def test_valid_conditions_are_accepted_unchanged(
    event_type: TriggerEventType, conditions: dict[str, Any]
) -> None:
    assert validate_conditions(event_type, conditions) == conditions


def _refused(event_type: TriggerEventType, conditions: dict[str, Any]) -> ConditionsError:
    with pytest.raises(ConditionsError) as caught:
        validate_conditions(event_type, conditions)
    return caught.value


@pytest.mark.parametrize(
    ("event_type", "key"),
    [
        ("user_message", "keywords"),
        ("user_message", "threshold_mins"),
        ("silence", "keyword"),
        ("timer", "cron"),
        ("cron", "interval_mins"),
        ("webhook", "secret"),
        ("manual", "keyword"),
    ],
)
def test_unknown_keys_are_refused_with_their_location(
    event_type: TriggerEventType, key: str
) -> None:
    base: dict[str, Any] = {"interval_mins": 1} if event_type == "timer" else {}
    if event_type == "cron":
        base = {"cron": "* * * * *"}
    error = _refused(event_type, {**base, key: 1})
    assert [e["loc"] for e in error.errors] == [["conditions", key]]
    assert error.errors[0]["type"] == "extra_forbidden"


@pytest.mark.parametrize(
    ("event_type", "conditions", "loc"),
    [
        ("user_message", {"regex": "(unclosed"}, ["conditions", "regex"]),
        ("user_message", {"regex": "(a+)+$"}, ["conditions", "regex"]),
        ("user_message", {"regex": r"(\w*)*x"}, ["conditions", "regex"]),
        ("user_message", {"regex": "(a|aa){2,}"}, ["conditions", "regex"]),
        ("user_message", {"regex": "a" * (MAX_REGEX_LENGTH + 1)}, ["conditions", "regex"]),
        ("user_message", {"keyword": ""}, ["conditions", "keyword"]),
        ("user_message", {"sender_kind": "robot"}, ["conditions", "sender_kind"]),
        ("user_message", {"sender_roles": "teacher"}, ["conditions", "sender_roles"]),
        ("user_message", {"message_count": 0}, ["conditions", "message_count"]),
        ("user_message", {"mention": ""}, ["conditions", "mention"]),
        ("user_message", {"overlap": "queue"}, ["conditions", "overlap"]),
        ("silence", {"threshold_mins": 0.04}, ["conditions", "threshold_mins"]),
        ("silence", {"threshold_mins": "five"}, ["conditions", "threshold_mins"]),
        ("timer", {}, ["conditions", "interval_mins"]),
        ("timer", {"interval_mins": 0.01}, ["conditions", "interval_mins"]),
        ("timer", {"interval_mins": 1, "jitter_s": -1}, ["conditions", "jitter_s"]),
        ("timer", {"interval_mins": 1, "catch_up": "all"}, ["conditions", "catch_up"]),
        ("cron", {}, ["conditions", "cron"]),
        ("cron", {"cron": "not a cron"}, ["conditions", "cron"]),
        ("cron", {"cron": "61 * * * *"}, ["conditions", "cron"]),
        ("cron", {"cron": "* * * *"}, ["conditions", "cron"]),
        ("cron", {"cron": "0 0 * * * 0 2026"}, ["conditions", "cron"]),
        ("cron", {"cron": "* * * * *", "timezone": "Mars/Olympus"}, ["conditions", "timezone"]),
        ("cron", {"cron": "* * * * *", "timezone": "../etc/passwd"}, ["conditions", "timezone"]),
        ("cron", {"cron": "* * * * *", "catch_up": "twice"}, ["conditions", "catch_up"]),
    ],
)
def test_bad_values_are_refused_at_their_key(
    event_type: TriggerEventType, conditions: dict[str, Any], loc: list[str]
) -> None:
    error = _refused(event_type, conditions)
    assert [e["loc"] for e in error.errors] == [loc]
    assert error.errors[0]["msg"]


@pytest.mark.parametrize(
    ("debounce", "loc"),
    [
        ({"period_s": 0, "max_wait_s": 5}, ["conditions", "debounce", "period_s"]),
        ({"period_s": -1, "max_wait_s": 5}, ["conditions", "debounce", "period_s"]),
        ({"period_s": 5, "max_wait_s": 4.9}, ["conditions", "debounce"]),
        ({"period_s": 5}, ["conditions", "debounce", "max_wait_s"]),
        ({"period_s": 1, "max_wait_s": 2, "extra": 1}, ["conditions", "debounce", "extra"]),
    ],
)
def test_debounce_bounds(debounce: dict[str, Any], loc: list[str]) -> None:
    error = _refused("user_message", {"debounce": debounce})
    assert [e["loc"] for e in error.errors] == [loc]


def test_a_catastrophic_regex_is_refused_for_its_shape() -> None:
    error = _refused("user_message", {"regex": "^(a+)+$"})
    assert "backtrack" in error.errors[0]["msg"]
