"""PostgreSQL adapter of room artifacts and their version history.

The tables live on the chat service's one ``metadata`` (migrations compare against it); every
write is conditional so the service sees a concurrent writer rather than overwriting it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    UniqueConstraint,
    false,
    select,
)
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession

from coagent_chat.adapters.postgres import metadata
from coagent_chat.artifacts.domain import Artifact, ArtifactVersion
from coagent_chat.artifacts.ports import LockMode
from coagent_contracts.chat import ArtifactType

artifacts = Table(
    "artifacts",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("room_id", String(64), nullable=False),
    Column("type", String(16), nullable=False),
    Column("title", String(500), nullable=False),
    Column("content", JSONB, nullable=False),
    Column("version", Integer, nullable=False),
    # A parent erased for good leaves its children in place, without a parent.
    Column(
        "parent_artifact_id",
        String(64),
        ForeignKey("artifacts.id", ondelete="SET NULL"),
        nullable=True,
        index=True,
    ),
    Column("created_by", String(64), nullable=False),
    Column("last_modified_by", String(64), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("is_deleted", Boolean, nullable=False, server_default=false()),
    Column("idempotency_key", String(255), nullable=True),
    # NULL keys never collide, so only keyed creations are deduplicated.
    UniqueConstraint(
        "room_id", "created_by", "idempotency_key", name="uq_artifacts_idempotency_key"
    ),
    Index("ix_artifacts_room_created", "room_id", "created_at"),
)

artifact_versions = Table(
    "artifact_versions",
    metadata,
    Column(
        "artifact_id",
        String(64),
        ForeignKey("artifacts.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("version", Integer, nullable=False),
    Column("title", String(500), nullable=False),
    Column("content", JSONB, nullable=False),
    Column("changed_by", String(64), nullable=True),
    Column("changed_at", DateTime(timezone=True), nullable=False),
    # One row per revision: two writers can never both record the same version.
    PrimaryKeyConstraint("artifact_id", "version", name="pk_artifact_versions"),
)


class PostgresArtifactRepository:
    """Artifacts in the unit of work's transaction (READ COMMITTED)."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, artifact: Artifact, idempotency_key: str | None) -> bool:
        # ON CONFLICT waits for a concurrent insert of the same key and yields only if it commits.
        statement = (
            insert(artifacts)
            .values(**_row(artifact), idempotency_key=idempotency_key)
            .on_conflict_do_nothing(
                index_elements=[
                    artifacts.c.room_id,
                    artifacts.c.created_by,
                    artifacts.c.idempotency_key,
                ]
            )
            .returning(artifacts.c.id)
        )
        return (await self._session.execute(statement)).first() is not None

    async def by_idempotency_key(
        self, room_id: str, created_by: str, idempotency_key: str
    ) -> Artifact | None:
        row = (
            (
                await self._session.execute(
                    select(artifacts).where(
                        artifacts.c.room_id == room_id,
                        artifacts.c.created_by == created_by,
                        artifacts.c.idempotency_key == idempotency_key,
                    )
                )
            )
            .mappings()
            .first()
        )
        return None if row is None else _to_artifact(row)

    async def get(self, artifact_id: str, *, lock: LockMode | None = None) -> Artifact | None:
        query = select(artifacts).where(artifacts.c.id == artifact_id)
        if lock == "share":
            query = query.with_for_update(read=True, key_share=True)
        elif lock == "update":
            query = query.with_for_update()
        row = (await self._session.execute(query)).mappings().first()
        return None if row is None else _to_artifact(row)

    async def list_room(
        self, room_id: str, artifact_type: ArtifactType | None, limit: int, include_deleted: bool
    ) -> list[Artifact]:
        query = select(artifacts).where(artifacts.c.room_id == room_id)
        if artifact_type is not None:
            query = query.where(artifacts.c.type == artifact_type)
        if not include_deleted:
            query = query.where(artifacts.c.is_deleted.is_(False))
        query = query.order_by(artifacts.c.created_at.desc(), artifacts.c.id.desc()).limit(limit)
        return [_to_artifact(row) for row in (await self._session.execute(query)).mappings()]

    async def update_if_version(self, artifact: Artifact, read_version: int) -> bool:
        # Under READ COMMITTED a concurrent writer's row lock makes this wait, then re-check the
        # WHERE on the committed row: the version moved, so no row matches and the caller retries.
        statement = (
            artifacts.update()
            .where(
                artifacts.c.id == artifact.id,
                artifacts.c.version == read_version,
                artifacts.c.is_deleted.is_(False),
            )
            .values(
                title=artifact.title,
                content=artifact.content,
                version=artifact.version,
                last_modified_by=artifact.last_modified_by,
                updated_at=artifact.updated_at,
            )
            .returning(artifacts.c.id)
        )
        return (await self._session.execute(statement)).first() is not None

    async def soft_delete(self, artifact_id: str) -> bool:
        statement = (
            artifacts.update()
            .where(artifacts.c.id == artifact_id, artifacts.c.is_deleted.is_(False))
            .values(is_deleted=True)
            .returning(artifacts.c.id)
        )
        return (await self._session.execute(statement)).first() is not None

    async def hard_delete(self, artifact_id: str) -> bool:
        # History rows go with the artifact (ON DELETE CASCADE).
        statement = (
            artifacts.delete().where(artifacts.c.id == artifact_id).returning(artifacts.c.id)
        )
        return (await self._session.execute(statement)).first() is not None

    async def add_version(self, version: ArtifactVersion) -> None:
        await self._session.execute(
            artifact_versions.insert().values(
                artifact_id=version.artifact_id,
                version=version.version,
                title=version.title,
                content=version.content,
                changed_by=version.changed_by,
                changed_at=version.changed_at,
            )
        )

    async def versions(self, artifact_id: str) -> list[ArtifactVersion]:
        rows = await self._session.execute(
            select(artifact_versions)
            .where(artifact_versions.c.artifact_id == artifact_id)
            .order_by(artifact_versions.c.version.desc())
        )
        return [ArtifactVersion(**dict(row)) for row in rows.mappings()]

    async def version(self, artifact_id: str, version: int) -> ArtifactVersion | None:
        row = (
            (
                await self._session.execute(
                    select(artifact_versions).where(
                        artifact_versions.c.artifact_id == artifact_id,
                        artifact_versions.c.version == version,
                    )
                )
            )
            .mappings()
            .first()
        )
        return None if row is None else ArtifactVersion(**dict(row))


def _row(artifact: Artifact) -> dict[str, Any]:
    return {
        "id": artifact.id,
        "room_id": artifact.room_id,
        "type": artifact.type,
        "title": artifact.title,
        "content": artifact.content,
        "version": artifact.version,
        "parent_artifact_id": artifact.parent_artifact_id,
        "created_by": artifact.created_by,
        "last_modified_by": artifact.last_modified_by,
        "created_at": artifact.created_at,
        "updated_at": artifact.updated_at,
        "is_deleted": artifact.is_deleted,
    }


def _to_artifact(row: Any) -> Artifact:
    r = dict(row)
    r.pop("idempotency_key", None)
    return Artifact(**r)
