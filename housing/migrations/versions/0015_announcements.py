"""Announcements: the announcement, its texts per language, its targets, who read it.

Revision ID: 0015_announcements
Revises: 0014_notifications
Create Date: 2026-12-04 23:30:31.742942
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import housing.db

revision: str = "0015_announcements"
down_revision: str | None = "0014_notifications"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "announcement",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=True),
        sa.Column("reach", sa.String(length=10), nullable=False),
        sa.Column("district_id", sa.Integer(), nullable=True),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("pinned_until", sa.Date(), nullable=True),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.Column("attachment_file", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("attachment_type", sqlmodel.sql.sqltypes.AutoString(length=50), nullable=True),
        sa.Column("attachment_bytes", sa.Integer(), nullable=True),
        sa.Column("created_at", housing.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"], ["user_account.id"], name=op.f("fk_announcement_author_id_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["management_company.id"],
            name=op.f("fk_announcement_company_id_management_company"),
        ),
        sa.ForeignKeyConstraint(
            ["district_id"], ["district.id"], name=op.f("fk_announcement_district_id_district")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_announcement")),
        sa.UniqueConstraint("attachment_file", name=op.f("uq_announcement_attachment_file")),
    )
    with op.batch_alter_table("announcement", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_announcement_company_id_created_at"), ["company_id", "created_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_announcement_created_at_id"), ["created_at", "id"], unique=False)

    op.create_table(
        "announcement_read",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("announcement_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("read_at", housing.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["announcement_id"],
            ["announcement.id"],
            name=op.f("fk_announcement_read_announcement_id_announcement"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_announcement_read_user_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_announcement_read")),
        sa.UniqueConstraint(
            "announcement_id", "user_id", name=op.f("uq_announcement_read_announcement_id_user_id")
        ),
    )
    with op.batch_alter_table("announcement_read", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_announcement_read_user_id"), ["user_id"], unique=False)

    op.create_table(
        "announcement_target",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("announcement_id", sa.Integer(), nullable=False),
        sa.Column("building_id", sa.Integer(), nullable=False),
        sa.Column("entrance", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["announcement_id"],
            ["announcement.id"],
            name=op.f("fk_announcement_target_announcement_id_announcement"),
        ),
        sa.ForeignKeyConstraint(
            ["building_id"], ["building.id"], name=op.f("fk_announcement_target_building_id_building")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_announcement_target")),
        sa.UniqueConstraint(
            "announcement_id",
            "building_id",
            "entrance",
            name=op.f("uq_announcement_target_announcement_id_building_id_entrance"),
        ),
    )
    with op.batch_alter_table("announcement_target", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_announcement_target_building_id_announcement_id"),
            ["building_id", "announcement_id"],
            unique=False,
        )

    op.create_table(
        "announcement_text",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("announcement_id", sa.Integer(), nullable=False),
        sa.Column("language", sqlmodel.sql.sqltypes.AutoString(length=5), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("body", sqlmodel.sql.sqltypes.AutoString(length=5000), nullable=False),
        sa.ForeignKeyConstraint(
            ["announcement_id"],
            ["announcement.id"],
            name=op.f("fk_announcement_text_announcement_id_announcement"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_announcement_text")),
        sa.UniqueConstraint(
            "announcement_id", "language", name=op.f("uq_announcement_text_announcement_id_language")
        ),
    )


def downgrade() -> None:
    op.drop_table("announcement_text")
    with op.batch_alter_table("announcement_target", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_announcement_target_building_id_announcement_id"))

    op.drop_table("announcement_target")
    with op.batch_alter_table("announcement_read", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_announcement_read_user_id"))

    op.drop_table("announcement_read")
    with op.batch_alter_table("announcement", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_announcement_created_at_id"))
        batch_op.drop_index(batch_op.f("ix_announcement_company_id_created_at"))

    op.drop_table("announcement")
