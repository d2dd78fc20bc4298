"""Payments: refunded amount and the payer's idempotency key on payment attempts.

Revision ID: 0005_payments
Revises: 0004_service_requests
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0005_payments"
down_revision = "0004_service_requests"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("payment_attempt", schema=None) as batch_op:
        batch_op.add_column(sa.Column("refunded_minor", sa.BigInteger(), nullable=False, server_default="0"))
        batch_op.add_column(
            sa.Column("client_key", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True)
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_payment_attempt_created_by_id_client_key"), ["created_by_id", "client_key"]
        )
        batch_op.create_check_constraint(
            batch_op.f("ck_payment_attempt_refund_within_amount"),
            "refunded_minor >= 0 AND refunded_minor <= amount_minor",
        )


def downgrade() -> None:
    with op.batch_alter_table("payment_attempt", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_payment_attempt_refund_within_amount"), type_="check")
        batch_op.drop_constraint(batch_op.f("uq_payment_attempt_created_by_id_client_key"), type_="unique")
        batch_op.drop_column("client_key")
        batch_op.drop_column("refunded_minor")
