"""LTI tool tables: platforms and deployments, logins in flight, used nonces, the tool's keys.

Revision ID: l001
Revises:
Create Date: 2026-11-26 02:01:52.805103
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "l001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("lms_lti",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "lti_nonces",
        sa.Column("nonce", sa.String(length=128), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("nonce"),
        comment="Nonces of accepted launches, kept until their token expires: no id_token twice",
    )
    with op.batch_alter_table("lti_nonces", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_lti_nonces_expires_at"), ["expires_at"], unique=False)

    op.create_table(
        "lti_platforms",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("program_id", sa.Uuid(), nullable=False),
        sa.Column("issuer", sa.String(length=255), nullable=False),
        sa.Column("client_id", sa.String(length=255), nullable=False),
        sa.Column("auth_login_url", sa.String(length=1000), nullable=False),
        sa.Column("auth_token_url", sa.String(length=1000), nullable=False),
        sa.Column("jwks_url", sa.String(length=1000), nullable=False),
        sa.Column("adopts_deployments", sa.Boolean(), nullable=False),
        sa.Column("registered_by", sa.String(length=16), nullable=False),
        sa.Column("product", sa.String(length=64), nullable=True),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("issuer", "client_id", name="lti_platforms_issuer_client"),
        comment="LMS registrations: whose signed launches PeerLine trusts, and for which program",
    )
    with op.batch_alter_table("lti_platforms", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_lti_platforms_program_id"), ["program_id"], unique=False
        )

    op.create_table(
        "lti_tool_keys",
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("private_key", sa.Text(), nullable=False),
        sa.Column("public_jwk", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("kid"),
        comment="The tool's RSA keys: the newest signs, all are published at /lti/jwks",
    )
    op.create_table(
        "lti_deployments",
        sa.Column("platform_id", sa.Uuid(), nullable=False),
        sa.Column("deployment_id", sa.String(length=255), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["platform_id"], ["lti_platforms.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("platform_id", "deployment_id"),
        comment="Where a platform installed PeerLine; launches from other deployments are refused",
    )
    op.create_table(
        "lti_states",
        sa.Column("state_hash", sa.String(length=64), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("platform_id", sa.Uuid(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["platform_id"], ["lti_platforms.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("state_hash"),
        comment="Logins in flight: the launch must bring back a state and nonce issued here",
    )
    with op.batch_alter_table("lti_states", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_lti_states_expires_at"), ["expires_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("lti_states", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lti_states_expires_at"))

    op.drop_table("lti_states")
    op.drop_table("lti_deployments")
    op.drop_table("lti_tool_keys")
    with op.batch_alter_table("lti_platforms", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lti_platforms_program_id"))

    op.drop_table("lti_platforms")
    with op.batch_alter_table("lti_nonces", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lti_nonces_expires_at"))

    op.drop_table("lti_nonces")
