"""Dead letters on JetStream: read from the ``DEAD_LETTERS`` stream, handed back over core NATS."""

from __future__ import annotations

import json
from datetime import datetime

import nats
from nats.aio.client import Client as NatsClient
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout
from nats.js.api import RawStreamMsg
from nats.js.errors import APIError, NotFoundError

from coagent_contracts.streams import DEAD_LETTERS, replay_subject
from coagent_gateway.admin.dead_letters import ConsumerUnreachable, DeadLetter, ReplayRefused
from coagent_kit.broker import (
    DL_ATTEMPTS,
    DL_CONSUMER,
    DL_ERROR,
    DL_REASON,
    DL_SUBJECT,
)

#: JetStream API error codes for "no message with this sequence" (deleted or never stored).
NO_MESSAGE_CODES = frozenset({10037, 10043, 10057})
#: How far a listing scans past deleted or filtered-out sequences before it stops.
SCAN_FACTOR = 20
REPLAY_TIMEOUT_S = 15.0


def _letter(msg: RawStreamMsg) -> DeadLetter:
    headers = msg.headers or {}
    stored = msg.time if isinstance(msg.time, datetime) else None
    return DeadLetter(
        seq=int(msg.seq or 0),
        consumer=headers.get(DL_CONSUMER, (msg.subject or "").rsplit(".", 1)[-1]),
        subject=headers.get(DL_SUBJECT, ""),
        reason=headers.get(DL_REASON, "unknown"),
        error=headers.get(DL_ERROR, ""),
        attempts=int(headers.get(DL_ATTEMPTS, "1") or 1),
        event_type=headers.get("Coagent-Event-Type"),
        stored_at=stored,
        body=msg.data or b"",
    )


def _no_message(exc: APIError) -> bool:
    return isinstance(exc, NotFoundError) or exc.err_code in NO_MESSAGE_CODES


class NatsDeadLetters:
    """The fleet's dead letters, through one NATS connection opened at start-up."""

    def __init__(self, nats_url: str, replay_timeout_s: float = REPLAY_TIMEOUT_S) -> None:
        self._url = nats_url
        self._timeout = replay_timeout_s
        self._nc: NatsClient | None = None

    async def start(self) -> None:
        self._nc = await nats.connect(self._url, max_reconnect_attempts=-1)

    async def stop(self) -> None:
        if self._nc is not None:
            await self._nc.close()
            self._nc = None

    def _client(self) -> NatsClient:
        if self._nc is None:
            raise RuntimeError("dead-letter store used before start()")
        return self._nc

    async def recent(
        self, consumer: str | None, before_seq: int | None, limit: int
    ) -> list[DeadLetter]:
        js = self._client().jetstream()
        state = (await js.stream_info(DEAD_LETTERS.name)).state
        seq = min(state.last_seq, (before_seq or state.last_seq + 1) - 1)
        found: list[DeadLetter] = []
        budget = limit * SCAN_FACTOR
        while seq >= max(state.first_seq, 1) and len(found) < limit and budget > 0:
            budget -= 1
            letter = await self.get(seq)
            seq -= 1
            if letter is not None and consumer in (None, letter.consumer):
                found.append(letter)
        return found

    async def get(self, seq: int) -> DeadLetter | None:
        js = self._client().jetstream()
        try:
            return _letter(await js.get_msg(DEAD_LETTERS.name, seq))
        except APIError as exc:
            if _no_message(exc):
                return None
            raise

    async def discard(self, seq: int) -> bool:
        js = self._client().jetstream()
        try:
            return await js.delete_msg(DEAD_LETTERS.name, seq)
        except APIError as exc:
            if _no_message(exc):
                return False
            raise

    async def hand_back(self, letter: DeadLetter) -> None:
        try:
            reply = await self._client().request(
                replay_subject(letter.consumer), letter.body, timeout=self._timeout
            )
        except NoRespondersError as exc:
            raise ConsumerUnreachable(f"No replica of {letter.consumer} is running") from exc
        except NatsTimeout as exc:
            raise TimeoutError(str(exc)) from exc
        outcome = json.loads(reply.data or b"{}")
        if outcome.get("status") != "processed":
            raise ReplayRefused(
                f"{letter.consumer} could not process it ({outcome.get('status')}): "
                f"{outcome.get('error', '')}"
            )
