"""sources and extractions: the text ingest reads and the delta keys it has written

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 20:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the source text table and the extraction ledger."""
    op.create_table(
        "ingest_sources",
        sa.Column("room_id", sa.String(length=64), nullable=False),
        sa.Column("source_id", sa.String(length=64), nullable=False),
        sa.Column("source_kind", sa.String(length=16), nullable=False),
        sa.Column("seq", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("speaker", sa.String(length=200), nullable=False),
        sa.Column("speaker_kind", sa.String(length=16), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "source_kind in ('message', 'artifact')",
            name=op.f("ck_ingest_sources_source_kind"),
        ),
        sa.PrimaryKeyConstraint("room_id", "source_id", name=op.f("pk_ingest_sources")),
    )
    op.create_table(
        "ingest_extractions",
        sa.Column("room_id", sa.String(length=64), nullable=False),
        sa.Column("extraction_key", sa.String(length=64), nullable=False),
        sa.Column("chunk_id", sa.String(length=64), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint(
            "room_id", "extraction_key", name=op.f("pk_ingest_extractions")
        ),
    )
    op.create_index(
        "ix_ingest_extractions_room_chunk",
        "ingest_extractions",
        ["room_id", "chunk_id"],
        unique=False,
    )


def downgrade() -> None:
    """Drop everything ``upgrade`` created."""
    op.drop_index("ix_ingest_extractions_room_chunk", table_name="ingest_extractions")
    op.drop_table("ingest_extractions")
    op.drop_table("ingest_sources")
