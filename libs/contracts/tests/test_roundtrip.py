"""Every event survives the wire and rejects what it must reject."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, ClassVar, Literal
from uuid import UUID

import pytest
from pydantic import TypeAdapter, ValidationError

from coagent_contracts import (
    ALL_EVENT_TYPES,
    ANY_EVENT,
    CHAT_EVENTS,
    GATEWAY_EVENTS,
    GRAPHRAG_EVENTS,
    TRIGGER_EVENTS,
    WORKFLOW_EVENTS,
    Event,
    EventData,
    GraphBuildProgressData,
    GraphBuildRequestedData,
    GraphBuildRequestedV1,
    IngestCompletedData,
    MessagePostedData,
    MessagePostedV1,
    TriggerFiredData,
    TriggerFiredV1,
    event_type_for_tag,
    firing_key,
    parse_event,
)
from coagent_contracts.envelope import tagged_union
from coagent_contracts.graphrag import graph_build_progress_subject

ADAPTERS: dict[str, TypeAdapter[Any]] = {
    "gateway": GATEWAY_EVENTS,
    "chat": CHAT_EVENTS,
    "trigger": TRIGGER_EVENTS,
    "workflow": WORKFLOW_EVENTS,
    "graphrag": GRAPHRAG_EVENTS,
}


def _wire(event: Event) -> dict[str, Any]:
    wire: dict[str, Any] = json.loads(event.model_dump_json())
    return wire


def _datetime_fields(data: EventData) -> list[str]:
    return [name for name, value in data if isinstance(value, datetime)]


def test_every_event_class_has_a_sample(all_samples: list[Event]) -> None:
    assert [type(event) for event in all_samples] == list(ALL_EVENT_TYPES)


@pytest.mark.parametrize("as_bytes", [False, True], ids=["str", "bytes"])
def test_parse_event_roundtrip(sample: Event, as_bytes: bool) -> None:
    raw = sample.model_dump_json()
    parsed = parse_event(raw.encode() if as_bytes else raw)
    assert type(parsed) is type(sample)
    assert parsed == sample
    assert parsed.subject == sample.subject


def test_context_adapter_roundtrip(sample: Event) -> None:
    adapter = ADAPTERS[sample.type.split(".")[0]]
    parsed = adapter.validate_json(sample.model_dump_json())
    assert type(parsed) is type(sample)
    assert parsed == sample


def test_context_adapter_rejects_other_contexts(sample: Event) -> None:
    context = sample.type.split(".")[0]
    for name, adapter in ADAPTERS.items():
        if name != context:
            with pytest.raises(ValidationError):
                adapter.validate_json(sample.model_dump_json())


def test_python_mode_validation_accepts_instances_and_dicts(sample: Event) -> None:
    assert ANY_EVENT.validate_python(sample) == sample
    assert ANY_EVENT.validate_python(sample.model_dump()) == sample


def test_wire_carries_type_and_version(sample: Event) -> None:
    wire = _wire(sample)
    assert f"{wire['type']}.v{wire['version']}" == type(sample).TAG
    assert event_type_for_tag(type(sample).TAG) is type(sample)


def test_unknown_fields_are_ignored(sample: Event) -> None:
    wire = _wire(sample)
    wire["added_in_a_later_release"] = {"nested": True}
    wire["data"]["also_new"] = [1, 2, 3]
    parsed = parse_event(json.dumps(wire))
    assert parsed == sample
    assert "added_in_a_later_release" not in parsed.model_dump()
    assert "also_new" not in parsed.data.model_dump()


def test_naive_occurred_at_is_rejected(sample: Event) -> None:
    wire = _wire(sample)
    wire["occurred_at"] = "2025-03-14T09:26:53"
    with pytest.raises(ValidationError, match="timezone"):
        parse_event(json.dumps(wire))


def test_naive_data_datetimes_are_rejected(sample: Event) -> None:
    for name in _datetime_fields(sample.data):
        wire = _wire(sample)
        wire["data"][name] = "2025-03-14T09:26:53"
        with pytest.raises(ValidationError, match="timezone"):
            parse_event(json.dumps(wire))


def test_naive_datetime_rejected_at_construction() -> None:
    with pytest.raises(ValidationError):
        MessagePostedData(
            message_id="m",
            room_id="r",
            seq=1,
            sender_kind="system",
            content="x",
            created_at=datetime(2025, 1, 1),
        )


def test_offsets_are_normalised_to_utc(sample: Event) -> None:
    # Same instants, written in other offsets: they must come back as the same UTC values.
    plus_two, minus_five = timezone(timedelta(hours=2)), timezone(timedelta(hours=-5))
    wire = _wire(sample)
    wire["occurred_at"] = sample.occurred_at.astimezone(plus_two).isoformat()
    assert not wire["occurred_at"].endswith("Z")
    for name in _datetime_fields(sample.data):
        wire["data"][name] = getattr(sample.data, name).astimezone(minus_five).isoformat()
    parsed = parse_event(json.dumps(wire))
    assert parsed == sample
    assert parsed.occurred_at.utcoffset() == timedelta(0)
    for name in _datetime_fields(parsed.data):
        assert getattr(parsed.data, name).utcoffset() == timedelta(0)


def test_events_and_data_are_frozen(sample: Event) -> None:
    with pytest.raises(ValidationError, match="frozen"):
        sample.producer = "someone-else"  # type: ignore[misc]
    first_field = next(iter(type(sample.data).model_fields))
    with pytest.raises(ValidationError, match="frozen"):
        setattr(sample.data, first_field, "changed")


@pytest.mark.parametrize("version", [0, 2, 99, "1", True, None])
def test_wrong_version_is_rejected(sample: Event, version: object) -> None:
    wire = _wire(sample)
    wire["version"] = version
    with pytest.raises(ValidationError):
        parse_event(json.dumps(wire))
    with pytest.raises(ValidationError):
        type(sample).model_validate(wire)


@pytest.mark.parametrize("type_", ["", "chat.unknown.happened", "CHAT.MESSAGE.POSTED", None, 1])
def test_wrong_type_is_rejected(sample: Event, type_: object) -> None:
    wire = _wire(sample)
    wire["type"] = type_
    with pytest.raises(ValidationError):
        parse_event(json.dumps(wire))
    with pytest.raises(ValidationError):
        type(sample).model_validate(wire)


@pytest.mark.parametrize("key", ["type", "version", "producer", "data"])
def test_missing_required_key_is_rejected(sample: Event, key: str) -> None:
    wire = _wire(sample)
    del wire[key]
    with pytest.raises(ValidationError):
        parse_event(json.dumps(wire))


def test_another_events_type_does_not_fit_this_class(sample: Event) -> None:
    for other in ALL_EVENT_TYPES:
        if other is not type(sample):
            wire = _wire(sample)
            wire["type"] = other.model_fields["type"].default
            with pytest.raises(ValidationError):
                type(sample).model_validate(wire)


@pytest.mark.parametrize("raw", ["", "not json", "[]", "{}", '{"type": "chat.message.posted"}'])
def test_malformed_bodies_are_rejected(raw: str) -> None:
    with pytest.raises(ValidationError):
        parse_event(raw)


def test_defaults_fill_the_envelope() -> None:
    before = datetime.now(UTC)
    event = MessagePostedV1(
        producer="chat",
        data=MessagePostedData(
            message_id="m", room_id="r", seq=1, sender_kind="system", content="x", created_at=before
        ),
    )
    assert (event.type, event.version) == ("chat.message.posted", 1)
    assert UUID(event.event_id).version == 7
    assert before <= event.occurred_at <= datetime.now(UTC)
    assert event.occurred_at.tzinfo is not None
    assert event.correlation_id is None
    assert event.causation_id is None
    assert event.msg_id == event.event_id


def test_event_ids_differ_between_instances(sample: Event) -> None:
    other = type(sample)(**sample.model_dump(exclude={"event_id"}))
    assert other.event_id != sample.event_id


@pytest.mark.parametrize(
    ("field", "value"),
    [("room_id", "a.b"), ("room_id", "*"), ("room_id", ""), ("room_id", "a b"), ("seq", 0)],
)
def test_invalid_data_is_rejected(field: str, value: object) -> None:
    wire = {
        "message_id": "m",
        "room_id": "r",
        "seq": 1,
        "sender_kind": "human",
        "content": "x",
        "created_at": "2025-01-01T00:00:00Z",
    }
    MessagePostedData.model_validate(wire)
    with pytest.raises(ValidationError):
        MessagePostedData.model_validate({**wire, field: value})


class TestTriggerFired:
    """The firing key is the run's dedup identity, so the contract checks it."""

    AT: ClassVar[datetime] = datetime(2025, 3, 14, 9, 0, tzinfo=UTC)

    def _data(self, **changes: Any) -> dict[str, Any]:
        base: dict[str, Any] = {
            "policy_id": "p1",
            "workflow_id": "w1",
            "event_type": "timer",
            "firing_key": firing_key("p1", scheduled_for=self.AT),
            "scheduled_for": self.AT,
        }
        return {**base, **changes}

    def test_valid_timer_firing(self) -> None:
        data = TriggerFiredData.model_validate(self._data())
        assert data.firing_key == "p1:at:2025-03-14T09:00:00Z"

    def test_valid_source_event_firing(self) -> None:
        data = TriggerFiredData.model_validate(
            self._data(
                event_type="user_message",
                scheduled_for=None,
                source_event_id="e1",
                firing_key="p1:event:e1",
            )
        )
        assert data.source_event_id == "e1"

    def test_a_scheduled_firing_in_a_room_names_the_room(self) -> None:
        keyed = firing_key("p1", scheduled_for=self.AT, room_id="r1")
        data = TriggerFiredData.model_validate(
            self._data(event_type="silence", room_id="r1", firing_key=keyed)
        )
        assert data.firing_key == "p1:room:r1:at:2025-03-14T09:00:00Z"
        other_room = firing_key("p1", scheduled_for=self.AT, room_id="r2")
        assert other_room != keyed
        for wrong in (firing_key("p1", scheduled_for=self.AT), other_room):
            with pytest.raises(ValidationError):
                TriggerFiredData.model_validate(
                    self._data(event_type="silence", room_id="r1", firing_key=wrong)
                )

    def test_msg_id_is_the_firing_key(self) -> None:
        event = TriggerFiredV1(producer="trigger", data=TriggerFiredData(**self._data()))
        assert event.msg_id == event.data.firing_key != event.event_id

    @pytest.mark.parametrize(
        "changes",
        [
            {"firing_key": "p1:at:2025-03-14T09:00:01Z"},
            {"firing_key": "p2:at:2025-03-14T09:00:00Z"},
            {"source_event_id": "e1"},
            {"scheduled_for": None},
            {"scheduled_for": None, "source_event_id": "e1"},
        ],
        ids=["other-instant", "other-policy", "both-sources", "no-source", "key-from-other-source"],
    )
    def test_inconsistent_firing_is_rejected(self, changes: dict[str, Any]) -> None:
        with pytest.raises(ValidationError):
            TriggerFiredData.model_validate(self._data(**changes))

    def test_equivalent_offsets_give_the_same_key(self) -> None:
        paris = timezone(timedelta(hours=1))
        data = TriggerFiredData.model_validate(
            self._data(scheduled_for=datetime(2025, 3, 14, 10, 0, tzinfo=paris))
        )
        assert data.scheduled_for == self.AT


def test_failed_ingest_needs_an_error() -> None:
    base = {"room_id": "r", "job_id": "j", "status": "failed"}
    assert IngestCompletedData.model_validate({**base, "error": "extractor crashed"}).error
    with pytest.raises(ValidationError):
        IngestCompletedData.model_validate(base)


def test_failed_build_needs_an_error() -> None:
    base = {"room_id": "r", "build_id": "b", "step": 1, "stage": "ingest", "status": "failed"}
    assert GraphBuildProgressData.model_validate({**base, "error": "store down"}).error
    with pytest.raises(ValidationError):
        GraphBuildProgressData.model_validate(base)


def test_build_events_are_keyed_by_room() -> None:
    data = GraphBuildRequestedData(room_id="r-1", build_id="b-1")
    event = GraphBuildRequestedV1(producer="graphrag-query", data=data)
    assert event.subject == "graphrag.room.r-1.build.requested.v1"
    assert graph_build_progress_subject("r-1") == "graphrag.room.r-1.build.progressed.v1"


def test_the_envelope_base_is_abstract() -> None:
    with pytest.raises(TypeError):
        Event(type="x", version=1, producer="p", data=EventData())  # type: ignore[abstract]


def test_concrete_events_must_declare_a_filter() -> None:
    with pytest.raises(TypeError, match="FILTER"):

        class NoFilterV1(Event):
            type: Literal["test.nofilter.happened"] = "test.nofilter.happened"
            version: Literal[1] = 1

            @property
            def subject(self) -> str:
                return "test.x.y.happened.v1"


def test_concrete_events_must_pin_type_with_a_literal() -> None:
    with pytest.raises(TypeError, match="Literal"):

        class LooseTypeV1(Event):
            FILTER: ClassVar[str] = "test.x.*.happened.v1"
            type: str = "test.loose.happened"
            version: Literal[1] = 1

            @property
            def subject(self) -> str:
                return "test.x.y.happened.v1"


def test_union_refuses_duplicate_tags() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        tagged_union(MessagePostedV1, MessagePostedV1)
    with pytest.raises(ValueError, match="at least one"):
        tagged_union()
