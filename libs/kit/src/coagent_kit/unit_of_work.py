"""Units of work: one transaction holding state changes, their events and consumed-event marks.

Services subclass these and only add their repositories; the outbox and inbox handling is the same
everywhere, and the in-memory variant follows the same commit rules so unit tests can trust it.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import ClassVar, Protocol, Self

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from coagent_contracts.envelope import Event
from coagent_kit.outbox import add_event, claim_event


class UnitOfWorkPort(Protocol):
    """What every service's unit-of-work port shares; services add their repositories."""

    async def publish(self, event: Event) -> None:
        """Queue ``event``; it is sent only if the transaction commits."""
        ...

    async def claim(self, consumer: str, event_id: str) -> bool:
        """False if ``consumer`` already applied ``event_id`` (a redelivery)."""
        ...

    async def commit(self) -> None:
        """Make everything done in this unit durable; otherwise it is rolled back on exit."""
        ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class SqlUnitOfWork:
    """One database transaction; ``on_commit`` runs after a successful commit (wakes the relay).

    Subclasses set ``OUTBOX`` (and ``INBOX`` if they consume events) and build their repositories
    on the transaction's session in :meth:`bind`.
    """

    OUTBOX: ClassVar[Table]
    INBOX: ClassVar[Table | None] = None

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], on_commit: Callable[[], None]
    ) -> None:
        self._sessions = sessions
        self._on_commit = on_commit

    def bind(self, session: AsyncSession) -> None:
        """Create this transaction's repositories."""

    async def __aenter__(self) -> Self:
        self._session = self._sessions()
        self._queued_events = False
        await self._session.begin()
        self.bind(self._session)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._session.close()  # rolls back anything not committed

    async def publish(self, event: Event) -> None:
        """Queue ``event`` in the outbox of this transaction."""
        await add_event(self._session, self.OUTBOX, event)
        self._queued_events = True

    async def claim(self, consumer: str, event_id: str) -> bool:
        """False if ``consumer`` already applied ``event_id``."""
        if self.INBOX is None:
            raise TypeError(f"{type(self).__name__} has no inbox table")
        return await claim_event(self._session, self.INBOX, consumer, event_id)

    async def commit(self) -> None:
        """Commit, then signal the relay if this transaction queued events.

        A commit without events (an inbox claim, a read-modify-write) does not wake the relay:
        waking it costs an outbox query on another connection for nothing.
        """
        await self._session.commit()
        if self._queued_events:
            self._queued_events = False
            self._on_commit()


class MemoryEventLog:
    """Committed events and consumed-event marks of an in-memory store."""

    def __init__(self) -> None:
        self.published: list[Event] = []
        self.claimed: set[tuple[str, str]] = set()


class MemoryUnitOfWork:
    """Buffers events and claims until ``commit``; subclasses stage and apply their own state."""

    def __init__(self, log: MemoryEventLog) -> None:
        self._log = log

    def begin(self) -> None:
        """Create this unit's repositories with empty staging."""

    def apply(self) -> None:
        """Merge staged state into the store (called by :meth:`commit`)."""

    async def __aenter__(self) -> Self:
        self._events: list[Event] = []
        self._claims: set[tuple[str, str]] = set()
        self.begin()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    async def publish(self, event: Event) -> None:
        """Queue ``event``; it becomes visible on commit."""
        self._events.append(event)

    async def claim(self, consumer: str, event_id: str) -> bool:
        """False if ``consumer`` already applied ``event_id`` here or in a committed unit."""
        key = (consumer, event_id)
        if key in self._log.claimed or key in self._claims:
            return False
        self._claims.add(key)
        return True

    async def commit(self) -> None:
        """Make staged state, events and claims visible."""
        self.apply()
        self._log.published.extend(self._events)
        self._log.claimed |= self._claims
        self._events, self._claims = [], set()
        self.begin()
