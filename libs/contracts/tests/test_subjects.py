"""Subject grammar and tokens, wildcard matching, streams, trigger schedules and live subjects."""

from __future__ import annotations

import re
from itertools import combinations

import pytest

from coagent_contracts import (
    ALL_EVENT_TYPES,
    ALL_STREAMS,
    LIVE_FILTER,
    LIVE_ROOM_FILTER,
    LIVE_RUN_FILTER,
    TRIGGER,
    Event,
    InvalidSubjectToken,
    StreamSpec,
    TriggerFiredV1,
    UnknownSubject,
    join_subject,
    room_live,
    run_live,
    schedule_subject,
    schedule_target,
    stream_for_subject,
    subject_matches,
    subjects_overlap,
    token,
)
from coagent_contracts.chat import room_filter
from coagent_contracts.streams import (
    DEAD_LETTERS,
    FLEET_STREAMS,
    dead_letter_subject,
    replay_subject,
)
from coagent_contracts.trigger import DUE_FILTER, SCHEDULE_FILTER
from coagent_contracts.workflow import run_filter

# Past participles that do not end in "ed"; each one is a deliberate, reviewed exception.
IRREGULAR_VERBS = ("forgotten",)
# <context>.<entity>.<id>.<…noun>.<past-tense-verb>.v<major>
GRAMMAR = re.compile(
    r"^(gateway|chat|workflow|trigger|graphrag)"
    r"\.[a-z][a-z_]*"
    r"\.[^.*>\s]+"
    r"(\.[a-z][a-z_]*)*"
    r"\.([a-z][a-z_]*ed|" + "|".join(IRREGULAR_VERBS) + ")"
    r"\.v[1-9][0-9]*$"
)
GIB = 1024**3
DAY = 24 * 3600.0

# ---------------------------------------------------------------- event subjects


def test_subject_follows_the_grammar(sample: Event) -> None:
    assert GRAMMAR.match(sample.subject), sample.subject


def test_subject_ends_with_the_major_version(sample: Event) -> None:
    assert sample.subject.endswith(f".v{sample.version}")


def test_type_names_the_subject_without_its_id(sample: Event) -> None:
    # type = context + the nouns after the id (or the entity when there are none) + the verb.
    tokens = sample.subject.split(".")
    context, entity, tail = tokens[0], tokens[1], tokens[3:-1]
    nouns = tail if len(tail) > 1 else [entity, *tail]
    assert sample.type == ".".join([context, *nouns])


def test_subject_falls_into_exactly_one_stream(sample: Event) -> None:
    matching = [
        spec
        for spec in ALL_STREAMS
        if any(subject_matches(pattern, sample.subject) for pattern in spec.subjects)
    ]
    assert len(matching) == 1
    assert stream_for_subject(sample.subject) is matching[0]
    assert matching[0].name == sample.type.split(".")[0].upper()


def test_subject_matches_its_own_filter_only(sample: Event) -> None:
    assert subject_matches(type(sample).FILTER, sample.subject)
    others = [cls for cls in ALL_EVENT_TYPES if cls is not type(sample)]
    assert not [cls.__name__ for cls in others if subject_matches(cls.FILTER, sample.subject)]


def test_filter_is_the_subject_with_its_id_wildcarded(sample: Event) -> None:
    tokens = sample.subject.split(".")
    tokens[2] = "*"
    assert ".".join(tokens) == type(sample).FILTER


def test_event_filters_do_not_overlap() -> None:
    for first, second in combinations(ALL_EVENT_TYPES, 2):
        assert not subjects_overlap(first.FILTER, second.FILTER), (first, second)


def test_subject_rejects_ids_that_would_break_it(sample: Event) -> None:
    # Ids are validated when the event is built, so building the subject never fails later.
    wire = sample.model_dump()
    id_field = next(name for name, value in wire["data"].items() if value in sample.subject)
    wire["data"][id_field] = "room.with.dots"
    with pytest.raises(ValueError, match="subject token"):
        type(sample).model_validate(wire)


def test_room_and_run_filters_select_one_tenant(all_samples: list[Event]) -> None:
    room_id = next(e.subject.split(".")[2] for e in all_samples if e.subject.startswith("chat."))
    run_id = next(e.subject.split(".")[2] for e in all_samples if e.subject.startswith("workflow."))
    for event in all_samples:
        in_room = event.subject.startswith(f"chat.room.{room_id}.")
        in_run = event.subject.startswith(f"workflow.run.{run_id}.")
        assert subject_matches(room_filter(room_id), event.subject) is in_room
        assert subject_matches(run_filter(run_id), event.subject) is in_run
        assert not subject_matches(room_filter("other-room"), event.subject)
        assert not subject_matches(run_filter("other-run"), event.subject)


# ---------------------------------------------------------------- tokens


@pytest.mark.parametrize(
    "value",
    [
        "",
        "a.b",
        ".",
        "*",
        "a*",
        ">",
        "a>",
        "a b",
        " ",
        "\t",
        "a\nb",
        "\x00",
        "\x7f",
        "\x85",
        "\xa0",
    ],
)
def test_invalid_tokens_are_rejected(value: str) -> None:
    with pytest.raises(InvalidSubjectToken):
        token(value)
    with pytest.raises(ValueError, match="subject token"):
        token(value)


@pytest.mark.parametrize(
    "value", ["abc", "0190b1c2-7a3e-7c4d-8e5f-0a1b2c3d4e5f", "Room_1", "ü-é", "a:b"]
)
def test_valid_tokens_pass_unchanged(value: str) -> None:
    assert token(value) == value


def test_join_subject_validates_every_token() -> None:
    assert join_subject("chat", "room", "r1") == "chat.room.r1"
    with pytest.raises(InvalidSubjectToken):
        join_subject("chat", "room", "r.1")
    with pytest.raises(InvalidSubjectToken):
        join_subject()


# ---------------------------------------------------------------- wildcard matching


@pytest.mark.parametrize(
    ("pattern", "subject", "expected"),
    [
        ("a.b.c", "a.b.c", True),
        ("a.b.c", "a.b.d", False),
        ("a.b", "a.b.c", False),
        ("a.b.c", "a.b", False),
        ("a.*.c", "a.x.c", True),
        ("a.*.c", "a.x.y.c", False),
        ("a.*", "a", False),
        ("*", "a", True),
        ("*", "a.b", False),
        ("*.*", "a.b", True),
        ("a.>", "a.b", True),
        ("a.>", "a.b.c.d", True),
        ("a.>", "a", False),
        ("a.>", "b.c", False),
        (">", "a", True),
        (">", "a.b.c", True),
        ("a.*.>", "a.b", False),
        ("a.*.>", "a.b.c", True),
        ("chat.>", "chatter.x", False),
        ("chat.room.*.message.posted.v1", "chat.room.r1.message.posted.v1", True),
        ("chat.room.*.message.posted.v1", "chat.room.r1.message.posted.v2", False),
    ],
)
def test_subject_matches(pattern: str, subject: str, expected: bool) -> None:
    assert subject_matches(pattern, subject) is expected


@pytest.mark.parametrize(
    ("pattern", "subject"),
    [
        ("a.>.b", "a.x.b"),
        ("a..b", "a.x.b"),
        ("", "a"),
        ("a*", "a"),
        ("a.b>", "a.b"),
        ("a.b", "a..b"),
        ("a.b", ""),
        ("a.*", "a.*"),
        ("a.>", "a.>"),
    ],
)
def test_subject_matches_rejects_malformed_input(pattern: str, subject: str) -> None:
    with pytest.raises(ValueError, match="malformed|wildcards"):
        subject_matches(pattern, subject)


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        ("a.>", "b.>", False),
        ("a.>", "a.b", True),
        ("a.>", "a", False),
        ("a.*", "a.b", True),
        ("a.*", "a.b.c", False),
        ("a.*.c", "a.b.*", True),
        ("a.*.c", "a.b.d", False),
        (">", "x.y", True),
        ("a.b.c", "a.b.c", True),
        ("*.b", "a.>", True),
    ],
)
def test_subjects_overlap(first: str, second: str, expected: bool) -> None:
    assert subjects_overlap(first, second) is expected
    assert subjects_overlap(second, first) is expected


# ---------------------------------------------------------------- streams


def test_one_stream_per_context_capturing_the_context() -> None:
    contexts = {cls.model_fields["type"].default.split(".")[0] for cls in ALL_EVENT_TYPES}
    assert {spec.name for spec in ALL_STREAMS} == {context.upper() for context in contexts}
    for spec in ALL_STREAMS:
        assert spec.subjects == (f"{spec.name.lower()}.>",)


def test_stream_subjects_do_not_overlap() -> None:
    patterns = [pattern for spec in ALL_STREAMS for pattern in spec.subjects]
    for first, second in combinations(patterns, 2):
        assert not subjects_overlap(first, second), (first, second)


@pytest.mark.parametrize("spec", ALL_STREAMS, ids=lambda spec: spec.name)
def test_stream_limits_are_explicit_and_sane(spec: StreamSpec) -> None:
    assert spec.duplicate_window_s >= 120
    assert spec.duplicate_window_s <= spec.max_age_s  # the server refuses a longer window
    assert 7 * DAY <= spec.max_age_s <= 90 * DAY
    assert 1 * GIB <= spec.max_bytes <= 8 * GIB
    assert spec.description
    assert spec.allow_msg_schedules is (spec is TRIGGER)


def test_chat_history_is_kept_for_thirty_days() -> None:
    assert stream_for_subject("chat.room.r.message.posted.v1").max_age_s >= 30 * DAY


@pytest.mark.parametrize("subject", ["chat", "chatter.room.r", "live.room.r", "events.x", "x"])
def test_unknown_subjects_raise(subject: str) -> None:
    with pytest.raises(UnknownSubject) as info:
        stream_for_subject(subject)
    assert isinstance(info.value, KeyError)
    assert subject in str(info.value)


# ---------------------------------------------------------------- trigger schedules


def test_schedules_and_their_targets_share_the_trigger_stream() -> None:
    schedule, target = schedule_subject("p1", "room-9"), schedule_target("p1")
    assert (schedule, target) == ("trigger.schedule.p1.room-9", "trigger.policy.p1.due.v1")
    assert stream_for_subject(schedule) is TRIGGER is stream_for_subject(target)
    assert TRIGGER.allow_msg_schedules
    assert schedule != target  # the server rejects a schedule targeting itself
    assert subject_matches(SCHEDULE_FILTER, schedule)
    assert subject_matches(DUE_FILTER, target)
    assert not subject_matches(DUE_FILTER, schedule)
    assert not subject_matches(TriggerFiredV1.FILTER, target)
    assert not subjects_overlap(DUE_FILTER, TriggerFiredV1.FILTER)
    assert not subjects_overlap(SCHEDULE_FILTER, TriggerFiredV1.FILTER)


@pytest.mark.parametrize(
    ("policy_id", "key"), [("p.1", "k"), ("p1", "k.2"), ("p1", ""), ("*", "k")]
)
def test_schedule_subjects_validate_their_tokens(policy_id: str, key: str) -> None:
    with pytest.raises(InvalidSubjectToken):
        schedule_subject(policy_id, key)


# ---------------------------------------------------------------- live subjects


def test_live_subjects() -> None:
    assert room_live("r1") == "live.room.r1"
    assert run_live("x1") == "live.run.x1"
    assert subject_matches(LIVE_ROOM_FILTER, room_live("r1"))
    assert not subject_matches(LIVE_ROOM_FILTER, run_live("x1"))
    assert subject_matches(LIVE_RUN_FILTER, run_live("x1"))
    assert subject_matches(LIVE_FILTER, room_live("r1"))
    with pytest.raises(InvalidSubjectToken):
        room_live("r.1")


@pytest.mark.parametrize("subject", [room_live("r1"), run_live("x1")])
def test_live_subjects_match_no_stream(subject: str) -> None:
    with pytest.raises(UnknownSubject):
        stream_for_subject(subject)


def test_dead_letters_have_their_own_stream_apart_from_events() -> None:
    assert (*ALL_STREAMS, DEAD_LETTERS) == FLEET_STREAMS
    subject = dead_letter_subject("chat-agent-messages")
    assert subject == "deadletter.chat-agent-messages"
    assert subject_matches(DEAD_LETTERS.subjects[0], subject)
    with pytest.raises(UnknownSubject):
        stream_for_subject(subject)  # events never land there by accident
    for spec in ALL_STREAMS:
        assert not subjects_overlap(spec.subjects[0], DEAD_LETTERS.subjects[0])
    with pytest.raises(InvalidSubjectToken):
        dead_letter_subject("two.tokens")
    replay = replay_subject("chat-agent-messages")
    assert replay == "replay.chat-agent-messages"
    for spec in FLEET_STREAMS:  # a request, never stored
        assert not subject_matches(spec.subjects[0], replay)


def test_no_stream_can_capture_live_frames() -> None:
    for spec in FLEET_STREAMS:
        for pattern in spec.subjects:
            assert not subjects_overlap(pattern, LIVE_FILTER), spec.name
