"""Threads in process memory (unit tests)."""

from __future__ import annotations

from dataclasses import replace

from coagent_workflow_engine.threads.domain import Thread, ThreadMessage


class MemoryThreadStore:
    def __init__(self) -> None:
        self.threads: dict[str, Thread] = {}
        self.turns: dict[str, list[ThreadMessage]] = {}

    async def add_thread(self, thread: Thread) -> None:
        self.threads[thread.id] = thread
        self.turns[thread.id] = []

    async def thread(self, thread_id: str) -> Thread | None:
        return self.threads.get(thread_id)

    async def threads_of(self, user_id: str, limit: int) -> list[Thread]:
        own = [t for t in self.threads.values() if t.user_id == user_id]
        own.sort(key=lambda t: (t.updated_at, t.id), reverse=True)
        return own[:limit]

    async def messages(self, thread_id: str, limit: int) -> list[ThreadMessage]:
        return list(self.turns.get(thread_id, [])[-limit:])

    async def count(self, thread_id: str) -> int:
        return len(self.turns.get(thread_id, []))

    async def add_turn(
        self, thread: Thread, question: ThreadMessage, answer: ThreadMessage
    ) -> None:
        self.turns[thread.id] += [question, answer]
        self.threads[thread.id] = replace(thread, updated_at=answer.created_at)
