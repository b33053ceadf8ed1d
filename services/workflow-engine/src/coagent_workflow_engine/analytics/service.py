"""Write course reports in the background with the system analytics agent.

The reference generated synchronously, one model call per room, inside the request; a slow
provider then held the HTTP request (and the gateway's connection) for minutes. Here a request
stores a ``queued`` report and returns at once; a tracked asyncio task reads each room's recent
history from this service's projection, asks the model and stores the outcome. Tasks are
cancelled at shutdown (``aclose``, a lifespan closer); a cancelled report is marked failed so
nothing stays "queued" because of a clean restart. Writing a report has a deadline
(``WRITE_TIMEOUT``), so a report still queued well after it (``ABANDONED_AFTER``) was left by a
process that died (kill -9, a lost node): listing marks it failed rather than queued forever.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from coagent_kit.logging import get_logger
from coagent_workflow_engine.agents.domain import Agent
from coagent_workflow_engine.agents.endpoints import AgentsApi
from coagent_workflow_engine.analytics.domain import AnalyticsReport, ReportStore
from coagent_workflow_engine.domain import HistoryMessage
from coagent_workflow_engine.llm import ChatMessage, ChatModel, ChatRequest, model_for
from coagent_workflow_engine.ports import UnitOfWorkFactory

log = get_logger(__name__)

#: Messages read per room (the reference's window).
MESSAGES_PER_ROOM = 50
#: Reports listed per course.
LIST_LIMIT = 50
MAX_ERROR = 500
#: Longest a report may take to write (every room's model call included).
WRITE_TIMEOUT = timedelta(minutes=10)
#: A queued report older than this has no writer left anywhere (beyond any writer's deadline).
ABANDONED_AFTER = WRITE_TIMEOUT + timedelta(minutes=5)
ABANDONED = "Abandoned: the service writing it stopped before finishing"
DEFAULT_ANALYTICS_PROMPT = (
    "You are a learning analytics assistant for a course's teaching staff. From the chat "
    "transcript of one course room, write a concise Markdown summary: the main topics, how "
    "actively and how well students engage, misconceptions or questions left open, and concrete "
    "suggestions for the teacher. Do not invent facts that are not in the transcript."
)
NO_MESSAGES = "No messages in this course's rooms yet: there is nothing to analyse."

ModelFactory = Callable[..., ChatModel]


class AnalyticsService:
    """Lists reports and runs their generation; one in-flight report per course at a time."""

    def __init__(
        self,
        reports: ReportStore,
        history: UnitOfWorkFactory,
        agents: AgentsApi,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        models: ModelFactory = model_for,
    ) -> None:
        self._reports = reports
        self._history = history
        self._agents = agents
        self._clock = clock
        self._models = models
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._running: dict[str, AnalyticsReport] = {}  # by course id

    async def of_course(self, course_id: str) -> list[AnalyticsReport]:
        """The course's latest reports, newest first; abandoned ones are settled as failed."""
        reports = await self._reports.of_course(course_id, LIST_LIMIT)
        return [await self._settle_abandoned(report) for report in reports]

    async def _settle_abandoned(self, report: AnalyticsReport) -> AnalyticsReport:
        if (
            report.status != "queued"
            or report.id in self._tasks
            or self._clock() - report.created_at < ABANDONED_AFTER
        ):
            return report
        failed = replace(report, status="failed", error=ABANDONED)
        await self._reports.finish(failed)
        return failed

    async def request(
        self,
        course_id: str,
        room_ids: Sequence[str],
        user_id: str,
        room_names: Mapping[str, str] | None = None,
    ) -> AnalyticsReport:
        """Queue a report on ``room_ids`` of ``course_id`` and start writing it.

        While one is being written for the course, that one is returned instead of a second:
        double clicks do not pay for two model calls.
        """
        running = self._running.get(course_id)
        if running is not None:
            return running
        report = AnalyticsReport(
            id=str(uuid.uuid4()),
            course_id=course_id,
            status="queued",
            created_by=user_id,
            created_at=self._clock(),
        )
        await self._reports.add(report)
        self._running[course_id] = report
        task = asyncio.create_task(self._write(report, list(room_ids), dict(room_names or {})))
        self._tasks[report.id] = task
        task.add_done_callback(lambda _: self._forget(report))
        return report

    def _forget(self, report: AnalyticsReport) -> None:
        self._tasks.pop(report.id, None)
        if self._running.get(report.course_id) is report:
            del self._running[report.course_id]

    async def wait_idle(self) -> None:
        """Wait for every report being written (tests, and an orderly drain)."""
        while self._tasks:
            await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    async def aclose(self) -> None:
        """Cancel the reports still being written (a lifespan closer, before the database)."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _write(
        self, report: AnalyticsReport, room_ids: list[str], names: dict[str, str]
    ) -> None:
        try:
            async with asyncio.timeout(WRITE_TIMEOUT.total_seconds()):
                content = await self._compose(report, room_ids, names)
            outcome = replace(report, status="succeeded", content=content)
        except asyncio.CancelledError:
            await self._store_failure(report, "Cancelled: the service stopped")
            raise
        except Exception as exc:  # any failure becomes the report's error, never its content
            log.warning("analytics_report_failed", report_id=report.id, error=str(exc))
            await self._store_failure(report, f"{type(exc).__name__}: {exc}")
            return
        await self._reports.finish(outcome)

    async def _store_failure(self, report: AnalyticsReport, error: str) -> None:
        try:
            await self._reports.finish(replace(report, status="failed", error=error[:MAX_ERROR]))
        except Exception as exc:  # the store itself is down: logged, the report stays queued
            log.error("analytics_report_unrecorded", report_id=report.id, error=str(exc))

    async def _compose(
        self, report: AnalyticsReport, room_ids: list[str], names: dict[str, str]
    ) -> str:
        """One model call per room with messages; the sections joined as Markdown."""
        transcripts: list[tuple[str, list[HistoryMessage]]] = []
        async with self._history() as uow:
            for room_id in room_ids:
                messages = await uow.history.recent(room_id, MESSAGES_PER_ROOM)
                if messages:
                    transcripts.append((room_id, messages))
        if not transcripts:
            return NO_MESSAGES
        prompt, model = await self._model(report)
        sections = []
        for room_id, messages in transcripts:
            request = ChatRequest(
                messages=[
                    ChatMessage(role="system", content=prompt),
                    ChatMessage(role="user", content=transcript(messages)),
                ]
            )
            completion = await model.complete(request)
            sections.append(f"## {names.get(room_id) or room_id}\n\n{completion.text.strip()}")
        return "\n\n".join(sections)

    async def _model(self, report: AnalyticsReport) -> tuple[str, ChatModel]:
        """The system analytics agent's prompt and model; the defaults (offline) without one."""
        agent = next((a for a in await self._agents.agents.system() if a.type == "analytics"), None)
        if agent is None:
            return DEFAULT_ANALYTICS_PROMPT, self._models(
                "offline", None, None, None, tenant_id=report.created_by or "system"
            )
        return agent.system_prompt or DEFAULT_ANALYTICS_PROMPT, await self._agent_model(
            agent, report
        )

    async def _agent_model(self, agent: Agent, report: AnalyticsReport) -> ChatModel:
        # The platform's key (not a wallet key): no user's personal key pays for course reports.
        key = await self._agents.keys.resolve_key(agent, None)
        provider, api_key = key if key is not None else (agent.model_provider, None)
        return self._models(
            provider, agent.model, api_key, None, tenant_id=report.created_by or "system"
        )


def transcript(messages: Sequence[HistoryMessage]) -> str:
    """The room's messages as ``sender: text`` lines, oldest first."""
    lines = []
    for m in messages:
        sender = m.sender_name or ("AI" if m.sender_kind == "agent" else m.sender_kind)
        lines.append(f"{sender}: {m.content}")
    return "Transcript:\n" + "\n".join(lines)
