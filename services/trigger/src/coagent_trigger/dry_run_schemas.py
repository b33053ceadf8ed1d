"""HTTP shapes of ``POST /api/v1/triggers/{id}/dry-run``."""

from __future__ import annotations

from datetime import datetime
from typing import Self

from pydantic import AwareDatetime, BaseModel, Field, model_validator

from coagent_contracts.chat import MessagePostedData, SenderKind
from coagent_trigger.dry_run import MAX_REPLAYED, DryRun, WouldFire


class ReplayedMessage(BaseModel):
    """A room message as chat's history returns it (the fields a policy can look at)."""

    id: str = Field(min_length=1, max_length=64)
    room_id: str = Field(min_length=1, max_length=64)
    seq: int = Field(ge=1)
    sender_kind: SenderKind
    sender_id: str | None = None
    sender_name: str | None = None
    agent_id: str | None = None
    agent_type: str | None = None
    mentions: list[str] = Field(default_factory=list)
    content: str = Field(max_length=32_000)
    created_at: AwareDatetime

    @model_validator(mode="after")
    def _fits_a_posted_message(self) -> Self:
        # Replayed through the same rules as a real ``message posted`` event; whatever that event
        # would refuse (a room id that is no subject token …) is a 422 here, not a 500 later.
        self.as_posted()
        return self

    def as_posted(self) -> MessagePostedData:
        """The message as the ``message posted`` event would have carried it."""
        return MessagePostedData(
            message_id=self.id,
            room_id=self.room_id,
            seq=self.seq,
            sender_id=self.sender_id,
            sender_kind=self.sender_kind,
            sender_name=self.sender_name,
            agent_id=self.agent_id,
            agent_type=self.agent_type,
            mentions=tuple(self.mentions),
            content=self.content,
            created_at=self.created_at,
        )


class DryRunRequest(BaseModel):
    """The room's recent messages to replay, oldest or newest first (replayed by ``seq``)."""

    messages: list[ReplayedMessage] = Field(max_length=MAX_REPLAYED)


class WouldFireRead(BaseModel):
    """A firing that would have happened."""

    fires_at: datetime
    message_id: str
    seq: int
    count: int
    coalesced: int
    pending: bool

    @classmethod
    def of(cls, firing: WouldFire) -> WouldFireRead:
        return cls(
            fires_at=firing.fires_at,
            message_id=firing.message_id,
            seq=firing.seq,
            count=firing.count,
            coalesced=firing.coalesced,
            pending=firing.pending,
        )


class DryRunRead(BaseModel):
    """What the policy would have done; nothing was started or logged."""

    policy_id: str
    replayed: int
    matched_message_ids: list[str]
    firings: list[WouldFireRead]
    overlap_applied: bool = False
    """Always false: whether a run would still be going depends on run times, not messages."""

    @classmethod
    def of(cls, policy_id: str, result: DryRun) -> DryRunRead:
        return cls(
            policy_id=policy_id,
            replayed=result.replayed,
            matched_message_ids=result.matched_message_ids,
            firings=[WouldFireRead.of(f) for f in result.firings],
        )
