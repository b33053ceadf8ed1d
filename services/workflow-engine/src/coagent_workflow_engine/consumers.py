"""Subscribers of the workflow engine: trigger firings, room history, rooms' attached workflows
and cancel requests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from faststream.nats import NatsBroker, NatsMessage

from coagent_contracts.chat import MessagePostedV1, MessagesErasedV1
from coagent_contracts.gateway import RoomChangedV1
from coagent_contracts.trigger import TriggerFiredV1, TriggerRunCancelRequestedV1
from coagent_kit.broker import subscribe_event
from coagent_workflow_engine.service import (
    FIRINGS_CONSUMER,
    HISTORY_CONSUMER,
    HISTORY_ERASURES_CONSUMER,
    POLICY_CANCELS_CONSUMER,
    WorkflowEngineService,
)
from coagent_workflow_engine.workflows.service import WorkflowService

ROOMS_CONSUMER = "workflow-engine-rooms"

CANCEL_SUBJECT = "control.workflow_engine.cancel"
"""Core NATS, captured by no stream: the id of a run to stop, wherever it runs."""


def register_consumers(
    broker: NatsBroker,
    engine: WorkflowEngineService,
    workflows: WorkflowService,
    *,
    cancel_local: Callable[[str], bool] | None = None,
) -> None:
    """Every trigger firing becomes exactly one queued run; chat's messages feed the room
    history agents read (and its tombstones take them out again); every engine process hears
    cancel requests (no queue group)."""

    async def on_trigger_fired(event: TriggerFiredV1) -> None:
        await engine.queue_run_for_firing(event)

    async def on_message_posted(event: MessagePostedV1) -> None:
        await engine.record_room_message(event)

    subscribe_event(broker, TriggerFiredV1, FIRINGS_CONSUMER, on_trigger_fired)
    subscribe_event(broker, MessagePostedV1, HISTORY_CONSUMER, on_message_posted)

    async def on_messages_erased(event: MessagesErasedV1) -> None:
        await engine.erase_room_messages(event)  # forgotten or pruned: agents must not read it

    subscribe_event(broker, MessagesErasedV1, HISTORY_ERASURES_CONSUMER, on_messages_erased)

    async def on_room_changed(event: RoomChangedV1) -> None:
        await workflows.follow_room(event.data)  # the gateway owns the room's attachment

    subscribe_event(broker, RoomChangedV1, ROOMS_CONSUMER, on_room_changed)

    async def on_policy_cancel(event: TriggerRunCancelRequestedV1) -> None:
        await engine.cancel_for_policy(event)  # a policy's cancel_running overlap rule

    subscribe_event(broker, TriggerRunCancelRequestedV1, POLICY_CANCELS_CONSUMER, on_policy_cancel)

    if cancel_local is not None:
        stop = cancel_local

        @broker.subscriber(CANCEL_SUBJECT, title="workflow-engine:cancel")
        async def on_cancel(body: Any, msg: NatsMessage) -> None:
            run_id = msg.body.decode(errors="replace").strip()
            if run_id:
                stop(run_id)

        _ = on_cancel
