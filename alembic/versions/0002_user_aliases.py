"""a user's CasJobs wsid becomes an alias kept beside the user

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "user_aliases",
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("value", sa.String(length=128), nullable=False),
        sa.Column("user_name", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["user_name"], ["users.name"], name=op.f("fk_user_aliases_user_name_users")),
        sa.PrimaryKeyConstraint("kind", "value", name=op.f("pk_user_aliases")),
        sa.UniqueConstraint("user_name", "kind", name=op.f("uq_user_aliases_user_name_kind")),
    )
    # every existing user keeps the wsid it had, now as an alias of kind "wsid"
    op.execute(
        "INSERT INTO user_aliases (kind, value, user_name) SELECT 'wsid', CAST(wsid AS VARCHAR(128)), name FROM users"
    )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_users_wsid"), type_="unique")
        batch_op.drop_column("wsid")


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("wsid", sa.BigInteger(), nullable=True))
    op.execute(
        "UPDATE users SET wsid = (SELECT CAST(value AS BIGINT) FROM user_aliases"
        " WHERE user_aliases.user_name = users.name AND user_aliases.kind = 'wsid')"
    )
    op.execute(
        "UPDATE users SET wsid = -1 - (SELECT count(*) FROM users AS u WHERE u.name < users.name) WHERE wsid IS NULL"
    )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.alter_column("wsid", existing_type=sa.BigInteger(), nullable=False)
        batch_op.create_unique_constraint(batch_op.f("uq_users_wsid"), ["wsid"])
    op.drop_table("user_aliases")
