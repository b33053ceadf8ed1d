"""Dry runs: which firings a policy would have made over a room's messages, decided from the
messages alone (nothing is started, counted or logged).

``user_message`` policies replay every condition, ``message_count`` (counted from the first
replayed message) and ``debounce`` (a burst fires ``period_s`` after its last qualifying message,
at most ``max_wait_s`` after its first). ``silence`` policies fire wherever the gap after a human
message reaches the threshold. The overlap rule depends on how long runs take, which messages do
not tell, so it is not applied.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from coagent_contracts.chat import MessagePostedData
from coagent_kit.errors import Unprocessable
from coagent_trigger.conditions import SilenceConditions, UserMessageConditions
from coagent_trigger.policies import Policy, matches_message

#: Most messages one dry run replays.
MAX_REPLAYED = 500


class DryRunUnsupported(Unprocessable):
    code = "dry_run_unsupported"


@dataclass(frozen=True)
class WouldFire:
    """One firing the policy would have made.

    ``message_id``/``seq`` name the message the firing carries (the last of a debounced burst;
    for a silence, the human message the silence followed); ``pending`` is true when the firing
    is still in the future at ``now`` (a burst or a silence that is not over yet).
    """

    fires_at: datetime
    message_id: str
    seq: int
    count: int
    coalesced: int = 1
    pending: bool = False


@dataclass
class DryRun:
    """The replay's result."""

    replayed: int
    matched_message_ids: list[str] = field(default_factory=list)
    firings: list[WouldFire] = field(default_factory=list)


def replay(policy: Policy, messages: list[MessagePostedData], now: datetime) -> DryRun:
    """What ``policy`` would have fired over ``messages`` (any order; replayed by ``seq``)."""
    ordered = sorted(messages, key=lambda m: m.seq)[-MAX_REPLAYED:]
    if policy.event_type == "user_message":
        conditions = UserMessageConditions.model_validate(policy.conditions)
        return _replay_messages(conditions, ordered, now)
    if policy.event_type == "silence":
        threshold = SilenceConditions.model_validate(policy.conditions).threshold_mins
        return _replay_silence(timedelta(minutes=threshold), ordered, now)
    raise DryRunUnsupported(
        f"A {policy.event_type} policy does not depend on messages: nothing to replay"
    )


@dataclass
class _Burst:
    """A debounce burst being collected."""

    first_at: datetime
    deadline: datetime
    last: MessagePostedData
    count: int
    coalesced: int = 1


def _replay_messages(
    conditions: UserMessageConditions, messages: list[MessagePostedData], now: datetime
) -> DryRun:
    result = DryRun(replayed=len(messages))
    every = conditions.message_count or 1
    debounce = conditions.debounce
    burst: _Burst | None = None
    for message in messages:
        if not matches_message(conditions, message):
            continue
        result.matched_message_ids.append(message.message_id)
        count = len(result.matched_message_ids)
        if count % every:
            continue
        if debounce is None:
            result.firings.append(
                WouldFire(message.created_at, message.message_id, message.seq, count)
            )
            continue
        at = message.created_at
        if burst is not None and at < burst.deadline:
            max_end = burst.first_at + timedelta(seconds=debounce.max_wait_s)
            burst.deadline = min(at + timedelta(seconds=debounce.period_s), max_end)
            burst.last, burst.count, burst.coalesced = message, count, burst.coalesced + 1
            continue
        if burst is not None:
            result.firings.append(_burst_firing(burst, now))
        period = timedelta(seconds=debounce.period_s)
        burst = _Burst(first_at=at, deadline=at + period, last=message, count=count)
    if burst is not None:
        result.firings.append(_burst_firing(burst, now))
    return result


def _burst_firing(burst: _Burst, now: datetime) -> WouldFire:
    return WouldFire(
        fires_at=burst.deadline,
        message_id=burst.last.message_id,
        seq=burst.last.seq,
        count=burst.count,
        coalesced=burst.coalesced,
        pending=burst.deadline > now,
    )


def _replay_silence(
    threshold: timedelta, messages: list[MessagePostedData], now: datetime
) -> DryRun:
    """A silence fires once, ``threshold`` after a human message not followed by another one
    within the threshold (agent replies do not break a silence)."""
    result = DryRun(replayed=len(messages))
    humans = [m for m in messages if m.sender_kind == "human"]
    result.matched_message_ids = [m.message_id for m in humans]
    for index, message in enumerate(humans):
        due = message.created_at + threshold
        following = humans[index + 1] if index + 1 < len(humans) else None
        if following is not None and following.created_at < due:
            continue
        result.firings.append(
            WouldFire(due, message.message_id, message.seq, count=index + 1, pending=due > now)
        )
    return result
