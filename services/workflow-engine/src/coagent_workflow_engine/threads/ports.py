"""Where threads are kept (PostgreSQL in the service, memory in unit tests)."""

from __future__ import annotations

from typing import Protocol

from coagent_workflow_engine.threads.domain import Thread, ThreadMessage


class ThreadStore(Protocol):
    """Each method is its own short transaction."""

    async def add_thread(self, thread: Thread) -> None: ...

    async def thread(self, thread_id: str) -> Thread | None: ...

    async def threads_of(self, user_id: str, limit: int) -> list[Thread]:
        """The user's threads, most recently active first."""
        ...

    async def messages(self, thread_id: str, limit: int) -> list[ThreadMessage]:
        """The newest ``limit`` messages of the thread, oldest first."""
        ...

    async def count(self, thread_id: str) -> int: ...

    async def add_turn(
        self, thread: Thread, question: ThreadMessage, answer: ThreadMessage
    ) -> None:
        """Store a user message and its reply together and mark the thread active."""
        ...
