"""Pages: the language a user chose for the pages.

Revision ID: 0008_user_language
Revises: 0007_open311_keys
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0008_user_language"
down_revision = "0007_open311_keys"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.add_column(sa.Column("language", sqlmodel.sql.sqltypes.AutoString(length=5), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.drop_column("language")
