"""Notifications: the outbox, deliveries per channel, contact settings, channel choices, Telegram link codes.

Revision ID: 0014_notifications
Revises: 0013_request_time_index
Create Date: 2026-12-04 23:23:43.363890
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import housing.db

revision: str = "0014_notifications"
down_revision: str | None = "0013_request_time_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "contact_settings",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("phone", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=True),
        sa.Column("telegram_chat_id", sa.BigInteger(), nullable=True),
        sa.Column("email_disabled", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("telegram_disabled", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("sms_disabled", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("quiet_start", sa.Time(), nullable=True),
        sa.Column("quiet_end", sa.Time(), nullable=True),
        sa.Column("updated_at", housing.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_contact_settings_user_id_user_account")
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_contact_settings")),
        sa.UniqueConstraint("telegram_chat_id", name=op.f("uq_contact_settings_telegram_chat_id")),
    )
    op.create_table(
        "notification",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("link", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("dedupe_key", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("created_at", housing.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("planned_at", housing.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("read_at", housing.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_notification_user_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_notification_dedupe_key")),
    )
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notification_planned_at_id"), ["planned_at", "id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_notification_user_id_created_at"), ["user_id", "created_at"], unique=False
        )

    op.create_table(
        "notification_choice",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("email", sa.Boolean(), nullable=False),
        sa.Column("telegram", sa.Boolean(), nullable=False),
        sa.Column("sms", sa.Boolean(), nullable=False),
        sa.Column("updated_at", housing.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_notification_choice_user_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_choice")),
        sa.UniqueConstraint("user_id", "kind", name=op.f("uq_notification_choice_user_id_kind")),
    )
    op.create_table(
        "telegram_link_code",
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("expires_at", housing.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", housing.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", housing.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_telegram_link_code_user_id_user_account")
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_telegram_link_code")),
    )
    with op.batch_alter_table("telegram_link_code", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_telegram_link_code_user_id"), ["user_id"], unique=False)

    op.create_table(
        "notification_delivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notification_id", sa.Integer(), nullable=False),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("address", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", housing.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("claimed_at", housing.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("sent_at", housing.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("created_at", housing.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", housing.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["notification.id"],
            name=op.f("fk_notification_delivery_notification_id_notification"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_delivery")),
        sa.UniqueConstraint(
            "notification_id", "channel", name=op.f("uq_notification_delivery_notification_id_channel")
        ),
    )
    with op.batch_alter_table("notification_delivery", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_notification_delivery_channel_status_next_attempt_at"),
            ["channel", "status", "next_attempt_at"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("notification_delivery", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notification_delivery_channel_status_next_attempt_at"))

    op.drop_table("notification_delivery")
    with op.batch_alter_table("telegram_link_code", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_telegram_link_code_user_id"))

    op.drop_table("telegram_link_code")
    op.drop_table("notification_choice")
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notification_user_id_created_at"))
        batch_op.drop_index(batch_op.f("ix_notification_planned_at_id"))

    op.drop_table("notification")
    op.drop_table("contact_settings")
