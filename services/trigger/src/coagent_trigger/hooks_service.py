"""Receiving signed webhook deliveries: verify, deduplicate by delivery id, fire once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from coagent_contracts.trigger import firing_key
from coagent_trigger.firing import record_firing
from coagent_trigger.hooks import (
    MAX_BODY_BYTES,
    Delivery,
    PayloadTooLarge,
    delivery_source_id,
    verify,
    webhook_payload,
)
from coagent_trigger.policies import Firing, TriggerInactive, TriggerNotFound
from coagent_trigger.ports import UnitOfWorkFactory
from coagent_trigger.secrets_box import SecretBox


@dataclass(frozen=True)
class Received:
    """The firing of a delivery; ``duplicate`` when an earlier identical delivery made it."""

    firing: Firing
    duplicate: bool


def _now() -> datetime:
    return datetime.now(UTC)


class WebhookService:
    """Turns a verified delivery into exactly one firing of its webhook policy."""

    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory,
        box: SecretBox,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self._uow = unit_of_work
        self._box = box
        self._clock = clock

    async def receive(
        self, policy_id: str, delivery: Delivery, content_type: str | None = None
    ) -> Received:
        """Fire ``policy_id`` for ``delivery``; a repeated delivery id returns the first firing.

        404 ``trigger_not_found`` for an unknown policy or one that is not a webhook, 401
        ``invalid_signature`` / ``stale_timestamp``, 400 ``invalid_delivery_id``, then 409
        ``trigger_inactive`` (only a correctly signed caller learns that the policy is off).
        """
        if len(delivery.body) > MAX_BODY_BYTES:
            raise PayloadTooLarge(f"Request body exceeds {MAX_BODY_BYTES} bytes")
        now = self._clock()
        async with self._uow() as uow:
            policy = await uow.policies.get(policy_id)
            if policy is None or policy.event_type != "webhook" or policy.secret_cipher is None:
                raise TriggerNotFound(f"Webhook {policy_id} not found")
            delivery_id = verify(self._box.open(policy.secret_cipher), delivery, now)
            if not policy.is_active:
                raise TriggerInactive(f"Trigger {policy_id} is not active")
            source = delivery_source_id(policy.id, delivery_id)
            earlier = await uow.firings.by_key(firing_key(policy.id, source_event_id=source))
            if earlier is not None:
                return Received(earlier, duplicate=True)
            firing = await record_firing(
                uow,
                policy,
                policy.scope_session_id,
                now=now,
                payload=webhook_payload(delivery.body, delivery_id, content_type),
                source_event_id=source,
                detail={"delivery_id": delivery_id},
            )
            if firing is None:  # an identical delivery committed while this one waited
                raced = await uow.firings.by_key(firing_key(policy.id, source_event_id=source))
                assert raced is not None
                return Received(raced, duplicate=True)
            await uow.commit()
        return Received(firing, duplicate=False)
