"""Dead letters of the whole fleet: what a consumer gave up on, readable and replayable by admins.

Consumers keep what they cannot process on the ``DEAD_LETTERS`` stream (coagent_kit.broker).
An admin can read those messages, hand one back to the consumer that failed it (a core-NATS
request only that consumer answers, once its handler has run) or discard it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Path, Query, Request, Response

from coagent_gateway.auth.dependencies import CurrentUser
from coagent_gateway.policy import Action, require
from coagent_kit.errors import Conflict, DependencyUnavailable, NotFound, ServiceError

router = APIRouter(prefix="/api/v1/admin/dead-letters", tags=["admin"])


@dataclass(frozen=True)
class DeadLetter:
    """One message a consumer gave up on, with why and where it came from."""

    seq: int
    consumer: str
    subject: str
    reason: str
    error: str
    attempts: int
    event_type: str | None
    stored_at: datetime | None
    body: bytes

    def view(self) -> dict[str, Any]:
        """The admin API's shape; the payload is shown as JSON when it is JSON."""
        try:
            payload: Any = json.loads(self.body)
        except ValueError:
            payload = self.body.decode("utf-8", "replace")
        return {
            "seq": self.seq,
            "consumer": self.consumer,
            "subject": self.subject,
            "reason": self.reason,
            "error": self.error,
            "attempts": self.attempts,
            "event_type": self.event_type,
            "stored_at": self.stored_at,
            "payload": payload,
        }


class ReplayRefused(Exception):
    """The consumer could not process the message it was handed back."""


class ConsumerUnreachable(Exception):
    """No replica of the consumer answered."""


class DeadLetterStore(Protocol):
    """Where dead letters live and how one is handed back."""

    async def recent(
        self, consumer: str | None, before_seq: int | None, limit: int
    ) -> list[DeadLetter]:
        """Newest first, optionally of one consumer and older than ``before_seq``."""
        ...

    async def get(self, seq: int) -> DeadLetter | None:
        """One dead letter by its sequence on the dead-letter stream."""
        ...

    async def discard(self, seq: int) -> bool:
        """Remove it; False if it was not there."""
        ...

    async def hand_back(self, letter: DeadLetter) -> None:
        """Ask its consumer to process it now; raises ReplayRefused / ConsumerUnreachable."""
        ...


def _store(request: Request) -> DeadLetterStore:
    store: DeadLetterStore = request.app.state.dead_letters
    return store


async def _existing(request: Request, seq: int) -> DeadLetter:
    letter = await _store(request).get(seq)
    if letter is None:
        raise NotFound(f"No dead letter {seq}", code="dead_letter_not_found")
    return letter


@router.get("")
async def list_dead_letters(
    request: Request,
    user: CurrentUser,
    consumer: Annotated[str | None, Query(max_length=100, pattern=r"^[A-Za-z0-9_-]+$")] = None,
    before_seq: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[dict[str, Any]]:
    """Dead letters, newest first; page with ``before_seq`` = the last ``seq`` seen."""
    require(user, Action.DEAD_LETTERS_MANAGE)
    letters = await _store(request).recent(consumer, before_seq, limit)
    return [letter.view() for letter in letters]


@router.get("/{seq}")
async def read_dead_letter(
    request: Request, user: CurrentUser, seq: Annotated[int, Path(ge=1, le=2**63 - 1)]
) -> dict[str, Any]:
    """One dead letter."""
    require(user, Action.DEAD_LETTERS_MANAGE)
    return (await _existing(request, seq)).view()


@router.post("/{seq}/replay")
async def replay_dead_letter(
    request: Request, user: CurrentUser, seq: Annotated[int, Path(ge=1, le=2**63 - 1)]
) -> dict[str, Any]:
    """Hand the message back to the consumer that failed it; removed once it was processed."""
    require(user, Action.DEAD_LETTERS_MANAGE)
    letter = await _existing(request, seq)
    try:
        await _store(request).hand_back(letter)
    except ConsumerUnreachable as exc:
        raise DependencyUnavailable(str(exc), code="consumer_unavailable") from exc
    except ReplayRefused as exc:
        raise Conflict(str(exc), code="replay_failed") from exc
    except TimeoutError as exc:
        raise ServiceError(
            f"{letter.consumer} did not answer in time; the dead letter is kept",
            code="replay_timeout",
            status=504,
        ) from exc
    await _store(request).discard(seq)
    return {"seq": seq, "consumer": letter.consumer, "status": "processed"}


@router.delete("/{seq}", status_code=204)
async def discard_dead_letter(
    request: Request, user: CurrentUser, seq: Annotated[int, Path(ge=1, le=2**63 - 1)]
) -> Response:
    """Drop a dead letter for good."""
    require(user, Action.DEAD_LETTERS_MANAGE)
    if not await _store(request).discard(seq):
        raise NotFound(f"No dead letter {seq}", code="dead_letter_not_found")
    return Response(status_code=204)
