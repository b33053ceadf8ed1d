"""In-memory time-trigger state: armed schedules, clocks and debounce windows."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from coagent_trigger.schedules import Arm, Burst, ClockState


@dataclass
class TimerMemory:
    """Committed time-trigger state; ``armed`` is every schedule published, in order."""

    armed: list[Arm] = field(default_factory=list)
    clocks: dict[str, ClockState] = field(default_factory=dict)
    bursts: dict[tuple[str, str], Burst] = field(default_factory=dict)
    cancelled: list[str] = field(default_factory=list)

    def pending(self) -> dict[str, Arm]:
        """The schedule each subject holds now (a later arm replaces an earlier one)."""
        return {arm.subject: arm for arm in self.armed}

    def forget_policy(self, policy_id: str) -> None:
        """What deleting a policy cascades to."""
        self.clocks.pop(policy_id, None)
        self.bursts = {k: v for k, v in self.bursts.items() if k[0] != policy_id}


class MemoryScheduleQueue:
    """Arms staged until commit."""

    def __init__(self, memory: TimerMemory) -> None:
        self._memory = memory
        self.staged: list[Arm] = []

    async def arm(self, arm: Arm) -> None:
        self.staged.append(arm)

    def apply(self) -> None:
        self._memory.armed.extend(self.staged)


class MemoryClockRepository:
    """Staged clock writes over the committed ones (``None`` marks a deletion)."""

    def __init__(self, memory: TimerMemory) -> None:
        self._memory = memory
        self.staged: dict[str, ClockState | None] = {}

    async def get(self, policy_id: str, *, for_update: bool = False) -> ClockState | None:
        if policy_id in self.staged:
            return self.staged[policy_id]
        return self._memory.clocks.get(policy_id)

    async def save(self, state: ClockState) -> None:
        self.staged[state.policy_id] = state

    async def delete(self, policy_id: str) -> None:
        self.staged[policy_id] = None

    def apply(self) -> None:
        for policy_id, state in self.staged.items():
            if state is None:
                self._memory.clocks.pop(policy_id, None)
            else:
                self._memory.clocks[policy_id] = state


class MemoryBurstRepository:
    """Staged debounce windows over the committed ones (``None`` marks a closed window)."""

    def __init__(self, memory: TimerMemory) -> None:
        self._memory = memory
        self.staged: dict[tuple[str, str], Burst | None] = {}

    def _get(self, key: tuple[str, str]) -> Burst | None:
        return self.staged[key] if key in self.staged else self._memory.bursts.get(key)

    async def observe(
        self,
        policy_id: str,
        room_id: str,
        now: datetime,
        seq: int,
        event_id: str,
        payload: dict[str, Any],
    ) -> Burst:
        key = (policy_id, room_id)
        current = self._get(key)
        if current is None:
            burst = Burst(policy_id, room_id, now, now, 1, event_id, seq, payload)
        elif seq > current.last_seq:
            burst = replace(
                current,
                count=current.count + 1,
                last_event_id=event_id,
                last_seq=seq,
                payload=payload,
            )
        else:
            burst = replace(current, count=current.count + 1)
        self.staged[key] = burst
        return burst

    async def set_due(self, policy_id: str, room_id: str, due_at: datetime) -> None:
        key = (policy_id, room_id)
        current = self._get(key)
        if current is not None:
            self.staged[key] = replace(current, due_at=due_at)

    async def take(self, policy_id: str, room_id: str) -> Burst | None:
        return self._get((policy_id, room_id))

    async def delete(self, policy_id: str, room_id: str) -> None:
        self.staged[(policy_id, room_id)] = None

    def apply(self) -> None:
        for key, burst in self.staged.items():
            if burst is None:
                self._memory.bursts.pop(key, None)
            else:
                self._memory.bursts[key] = burst


class MemoryCanceller:
    """Records which policies' schedules were cancelled and drops them from ``pending``."""

    def __init__(self, memory: TimerMemory) -> None:
        self._memory = memory

    async def cancel(self, policy_id: str) -> None:
        self._memory.cancelled.append(policy_id)
        self._memory.armed = [a for a in self._memory.armed if a.due.policy_id != policy_id]
