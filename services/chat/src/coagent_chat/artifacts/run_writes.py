"""Artifact writes requested by workflow runs (``update_artifact`` actions).

Each request is applied in one transaction with its inbox claim, so a redelivered event changes
nothing. A request without ``artifact_id`` is filed under its ``write_key`` (one artifact per
run and node): the first creates the artifact, later ones update that same artifact. A request
that cannot apply (unknown artifact, another room's artifact, invalid content) is logged and
dropped: retrying cannot fix it, and the run has already moved on.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final

from coagent_chat.artifacts.domain import (
    Artifact,
    ArtifactVersion,
    InvalidArtifact,
    check_content,
    check_title,
    patched_content,
)
from coagent_chat.artifacts.service import artifact_changed
from coagent_chat.ports import UnitOfWork, UnitOfWorkFactory
from coagent_contracts.chat import ArtifactType
from coagent_contracts.envelope import uuid7
from coagent_contracts.workflow import ArtifactWriteRequestedV1
from coagent_kit.logging import get_logger

RUN_WRITES_CONSUMER: Final = "chat-run-artifact-writes"
DEFAULT_TITLE: Final = "Workflow output"
log = get_logger(__name__)


def _paragraph(text: str) -> dict[str, Any]:
    return {"type": "paragraph", "content": [{"type": "text", "text": text}] if text else []}


def as_content(kind: ArtifactType, value: Any) -> dict[str, Any]:
    """The content a run's value stands for: text becomes a document paragraph, a task's
    description or a process note; an object is the content itself."""
    if isinstance(value, dict):
        return value
    text = str(value)
    if kind == "doc":
        return {"type": "doc", "content": [_paragraph(line) for line in text.split("\n")]}
    if kind == "task":
        return {"description": text}
    return {"nodes": [], "edges": [], "notes": text}


def appended(current: dict[str, Any], addition: dict[str, Any]) -> dict[str, Any]:
    """A document with ``addition``'s blocks after its own (a non-document is one block)."""
    blocks: list[Any] = [addition]
    if addition.get("type") == "doc" and isinstance(addition.get("content"), list):
        blocks = addition["content"]
    return {**current, "type": "doc", "content": [*(current.get("content") or []), *blocks]}


class RunArtifactWriter:
    """Applies ``ArtifactWriteRequestedV1`` events exactly once."""

    def __init__(
        self, unit_of_work: UnitOfWorkFactory, clock: Callable[[], datetime] | None = None
    ) -> None:
        self._uow = unit_of_work
        self._clock = clock or (lambda: datetime.now(UTC))

    async def apply(self, event: ArtifactWriteRequestedV1) -> Artifact | None:
        """The artifact as written, or ``None`` (already applied, or dropped as unusable)."""
        async with self._uow() as uow:
            if not await uow.claim(RUN_WRITES_CONSUMER, event.event_id):
                return None
            try:
                written = await self._write(uow, event)
            except InvalidArtifact as exc:
                log.warning("run_artifact_write_dropped", event_id=event.event_id, error=str(exc))
                written = None
            if written is not None:
                await uow.publish(artifact_changed(written))
            await uow.commit()  # the claim is kept for dropped requests too
        return written

    async def _write(self, uow: UnitOfWork, event: ArtifactWriteRequestedV1) -> Artifact | None:
        data = event.data
        if data.artifact_id is not None:
            current = await uow.artifacts.get(data.artifact_id, lock="update")
        else:
            found = await uow.artifacts.by_idempotency_key(
                data.room_id, data.written_by, data.write_key
            )
            current = None if found is None else await uow.artifacts.get(found.id, lock="update")
            if current is None:
                return await self._create(uow, event)
        if current is None or current.is_deleted or current.room_id != data.room_id:
            raise InvalidArtifact(f"no artifact {data.artifact_id} in room {data.room_id}")
        return await self._revise(uow, current, event)

    async def _create(self, uow: UnitOfWork, event: ArtifactWriteRequestedV1) -> Artifact:
        data, now = event.data, self._clock()
        kind: ArtifactType = data.artifact_type
        artifact = Artifact(
            id=str(uuid7()),
            room_id=data.room_id,
            type=kind,
            title=check_title(data.title or DEFAULT_TITLE),
            content=check_content(kind, as_content(kind, data.content)),
            version=1,
            created_by=data.written_by,
            last_modified_by=data.written_by,
            parent_artifact_id=None,
            created_at=now,
            updated_at=now,
        )
        if not await uow.artifacts.add(artifact, data.write_key):
            # Another delivery for the same key is committing: retry once it has (redelivery).
            raise RuntimeError(f"artifact {data.write_key} is being created concurrently")
        await uow.artifacts.add_version(ArtifactVersion.of(artifact))
        return artifact

    async def _revise(
        self, uow: UnitOfWork, current: Artifact, event: ArtifactWriteRequestedV1
    ) -> Artifact:
        data = event.data
        addition = as_content(current.type, data.content)
        if data.mode == "append" and current.type == "doc":
            content = check_content(current.type, appended(current.content, addition))
        else:
            content = patched_content(current.type, current.content, addition)
        title = check_title(data.title) if data.title else current.title
        revised = current.changed(title, content, data.written_by, self._clock())
        # The row is locked for this transaction, so the conditional update cannot miss.
        if not await uow.artifacts.update_if_version(revised, current.version):
            raise RuntimeError(f"artifact {current.id} changed under a row lock")
        await uow.artifacts.add_version(ArtifactVersion.of(revised))
        return revised
