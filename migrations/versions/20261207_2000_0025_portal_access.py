"""portal access: influencers' one-time sign-in links, portal sessions, their record
(docs/portal.md)

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07 20:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "portal_invites",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("influencer_id", sa.String(40), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_by", sa.String(40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["influencer_id"],
            ["influencers.id"],
            name="fk_portal_invites_influencer_id_influencers",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_portal_invites"),
        sa.UniqueConstraint("token_hash", name="uq_portal_invites_token_hash"),
    )
    op.create_index("ix_portal_invites_influencer_id", "portal_invites", ["influencer_id"])
    op.create_table(
        "portal_sessions",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("influencer_id", sa.String(40), nullable=False),
        sa.Column("invite_id", sa.String(40), nullable=True),
        sa.Column("cookie_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["influencer_id"],
            ["influencers.id"],
            name="fk_portal_sessions_influencer_id_influencers",
        ),
        sa.ForeignKeyConstraint(
            ["invite_id"], ["portal_invites.id"], name="fk_portal_sessions_invite_id_portal_invites"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_portal_sessions"),
        sa.UniqueConstraint("cookie_hash", name="uq_portal_sessions_cookie_hash"),
    )
    op.create_index("ix_portal_sessions_influencer_id", "portal_sessions", ["influencer_id"])
    op.create_table(
        "portal_events",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("influencer_id", sa.String(40), nullable=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("actor", sa.String(40), nullable=False),
        sa.Column("reason", sa.String(200), nullable=True),
        sa.Column("address_hash", sa.String(64), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["influencer_id"], ["influencers.id"], name="fk_portal_events_influencer_id_influencers"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_portal_events"),
    )
    op.create_index("ix_portal_events_influencer_id_id", "portal_events", ["influencer_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_portal_events_influencer_id_id", table_name="portal_events")
    op.drop_table("portal_events")
    op.drop_index("ix_portal_sessions_influencer_id", table_name="portal_sessions")
    op.drop_table("portal_sessions")
    op.drop_index("ix_portal_invites_influencer_id", table_name="portal_invites")
    op.drop_table("portal_invites")
