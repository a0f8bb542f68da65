"""initial schema

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-24 16:10:17.623501
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("scope", sa.String(length=10), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
    )
    op.create_table(
        "campaigns",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("goal", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("budget_minor", sa.BigInteger(), nullable=True),
        sa.Column("monthly_cap_minor", sa.BigInteger(), nullable=True),
        sa.Column(
            "allowed_domains",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("fallback_url", sa.String(length=2048), nullable=False),
        sa.Column("attribution_window_days", sa.Integer(), nullable=False),
        sa.Column("hold_days", sa.Integer(), nullable=False),
        sa.Column("utm_medium", sa.String(length=64), nullable=False),
        sa.Column(
            "commission_rules",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
        sa.UniqueConstraint("slug", name=op.f("uq_campaigns_slug")),
    )
    op.create_table(
        "exports",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("checksum", sa.String(length=64), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("line_count", sa.Integer(), nullable=False),
        sa.Column(
            "totals",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exports")),
        sa.UniqueConstraint("period", name=op.f("uq_exports_period")),
    )
    op.create_table(
        "influencers",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("handle", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("payout_email", sa.String(length=254), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_influencers")),
        sa.UniqueConstraint("handle", name=op.f("uq_influencers_handle")),
    )
    op.create_table(
        "partnerships",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("campaign_id", sa.String(length=40), nullable=False),
        sa.Column("influencer_id", sa.String(length=40), nullable=False),
        sa.Column(
            "commission_rules",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_partnerships_campaign_id_campaigns")
        ),
        sa.ForeignKeyConstraint(
            ["influencer_id"],
            ["influencers.id"],
            name=op.f("fk_partnerships_influencer_id_influencers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partnerships")),
        sa.UniqueConstraint(
            "campaign_id", "influencer_id", name=op.f("uq_partnerships_campaign_id_influencer_id")
        ),
    )
    op.create_index(
        op.f("ix_partnerships_campaign_id"), "partnerships", ["campaign_id"], unique=False
    )
    op.create_index(
        op.f("ix_partnerships_influencer_id"), "partnerships", ["influencer_id"], unique=False
    )
    op.create_table(
        "platform_accounts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("influencer_id", sa.String(length=40), nullable=False),
        sa.Column("platform", sa.String(length=20), nullable=False),
        sa.Column("handle", sa.String(length=100), nullable=False),
        sa.Column("followers", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["influencer_id"],
            ["influencers.id"],
            name=op.f("fk_platform_accounts_influencer_id_influencers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_platform_accounts")),
        sa.UniqueConstraint(
            "influencer_id",
            "platform",
            "handle",
            name=op.f("uq_platform_accounts_influencer_id_platform_handle"),
        ),
    )
    op.create_index(
        op.f("ix_platform_accounts_influencer_id"),
        "platform_accounts",
        ["influencer_id"],
        unique=False,
    )
    op.create_table(
        "deliverables",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("partnership_id", sa.String(length=40), nullable=False),
        sa.Column("campaign_id", sa.String(length=40), nullable=False),
        sa.Column("influencer_id", sa.String(length=40), nullable=False),
        sa.Column("platform", sa.String(length=20), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "metrics",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_deliverables_campaign_id_campaigns")
        ),
        sa.ForeignKeyConstraint(
            ["influencer_id"],
            ["influencers.id"],
            name=op.f("fk_deliverables_influencer_id_influencers"),
        ),
        sa.ForeignKeyConstraint(
            ["partnership_id"],
            ["partnerships.id"],
            name=op.f("fk_deliverables_partnership_id_partnerships"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliverables")),
    )
    op.create_index(
        op.f("ix_deliverables_campaign_id"), "deliverables", ["campaign_id"], unique=False
    )
    op.create_index(
        op.f("ix_deliverables_influencer_id"), "deliverables", ["influencer_id"], unique=False
    )
    op.create_index(
        op.f("ix_deliverables_partnership_id"), "deliverables", ["partnership_id"], unique=False
    )
    op.create_table(
        "links",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("partnership_id", sa.String(length=40), nullable=False),
        sa.Column("campaign_id", sa.String(length=40), nullable=False),
        sa.Column("influencer_id", sa.String(length=40), nullable=False),
        sa.Column("destination", sa.String(length=2048), nullable=False),
        sa.Column("platform", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_links_campaign_id_campaigns")
        ),
        sa.ForeignKeyConstraint(
            ["influencer_id"], ["influencers.id"], name=op.f("fk_links_influencer_id_influencers")
        ),
        sa.ForeignKeyConstraint(
            ["partnership_id"],
            ["partnerships.id"],
            name=op.f("fk_links_partnership_id_partnerships"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_links")),
        sa.UniqueConstraint("code", name=op.f("uq_links_code")),
    )
    op.create_index(op.f("ix_links_campaign_id"), "links", ["campaign_id"], unique=False)
    op.create_index(op.f("ix_links_influencer_id"), "links", ["influencer_id"], unique=False)
    op.create_index(op.f("ix_links_partnership_id"), "links", ["partnership_id"], unique=False)
    op.create_table(
        "promo_codes",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("normalized", sa.String(length=64), nullable=False),
        sa.Column("partnership_id", sa.String(length=40), nullable=False),
        sa.Column("campaign_id", sa.String(length=40), nullable=False),
        sa.Column("influencer_id", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("max_uses", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_promo_codes_campaign_id_campaigns")
        ),
        sa.ForeignKeyConstraint(
            ["influencer_id"],
            ["influencers.id"],
            name=op.f("fk_promo_codes_influencer_id_influencers"),
        ),
        sa.ForeignKeyConstraint(
            ["partnership_id"],
            ["partnerships.id"],
            name=op.f("fk_promo_codes_partnership_id_partnerships"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_promo_codes")),
    )
    op.create_index(
        op.f("ix_promo_codes_campaign_id"), "promo_codes", ["campaign_id"], unique=False
    )
    op.create_index(
        op.f("ix_promo_codes_influencer_id"), "promo_codes", ["influencer_id"], unique=False
    )
    op.create_index(op.f("ix_promo_codes_normalized"), "promo_codes", ["normalized"], unique=False)
    op.create_index(
        op.f("ix_promo_codes_partnership_id"), "promo_codes", ["partnership_id"], unique=False
    )
    op.create_index(
        "uq_promo_codes_active_normalized",
        "promo_codes",
        ["normalized"],
        unique=True,
        postgresql_where=sa.text("status = 'active'"),
        sqlite_where=sa.text("status = 'active'"),
    )
    op.create_table(
        "clicks",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("link_id", sa.String(length=40), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ip_hash", sa.String(length=64), nullable=False),
        sa.Column("user_agent", sa.String(length=512), nullable=False),
        sa.Column("referrer", sa.String(length=1024), nullable=True),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("is_bot", sa.Boolean(), nullable=False),
        sa.Column("bot_reason", sa.String(length=40), nullable=True),
        sa.Column("is_unique", sa.Boolean(), nullable=False),
        sa.Column("outcome", sa.String(length=10), nullable=False),
        sa.ForeignKeyConstraint(["link_id"], ["links.id"], name=op.f("fk_clicks_link_id_links")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clicks")),
    )
    op.create_index(
        "ix_clicks_link_id_occurred_at", "clicks", ["link_id", "occurred_at"], unique=False
    )
    op.create_table(
        "conversions",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("order_id", sa.String(length=128), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("total_minor", sa.BigInteger(), nullable=True),
        sa.Column("refunded_minor", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column(
            "promo_codes",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("click_id", sa.String(length=64), nullable=True),
        sa.Column("customer_id", sa.String(length=128), nullable=True),
        sa.Column("landing_url", sa.String(length=4096), nullable=True),
        sa.Column("method", sa.String(length=20), nullable=True),
        sa.Column("partnership_id", sa.String(length=40), nullable=True),
        sa.Column("campaign_id", sa.String(length=40), nullable=True),
        sa.Column("influencer_id", sa.String(length=40), nullable=True),
        sa.Column("link_id", sa.String(length=40), nullable=True),
        sa.Column("promo_code_id", sa.String(length=40), nullable=True),
        sa.Column("attributed_promo_code", sa.String(length=64), nullable=True),
        sa.Column("attributed_click_id", sa.String(length=64), nullable=True),
        sa.Column(
            "raw",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_conversions_campaign_id_campaigns")
        ),
        sa.ForeignKeyConstraint(
            ["influencer_id"],
            ["influencers.id"],
            name=op.f("fk_conversions_influencer_id_influencers"),
        ),
        sa.ForeignKeyConstraint(
            ["link_id"], ["links.id"], name=op.f("fk_conversions_link_id_links")
        ),
        sa.ForeignKeyConstraint(
            ["partnership_id"],
            ["partnerships.id"],
            name=op.f("fk_conversions_partnership_id_partnerships"),
        ),
        sa.ForeignKeyConstraint(
            ["promo_code_id"],
            ["promo_codes.id"],
            name=op.f("fk_conversions_promo_code_id_promo_codes"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversions")),
        sa.UniqueConstraint("source", "order_id", name=op.f("uq_conversions_source_order_id")),
    )
    op.create_index(
        op.f("ix_conversions_campaign_id"), "conversions", ["campaign_id"], unique=False
    )
    op.create_index(
        op.f("ix_conversions_influencer_id"), "conversions", ["influencer_id"], unique=False
    )
    op.create_index(
        op.f("ix_conversions_occurred_at"), "conversions", ["occurred_at"], unique=False
    )
    op.create_index(
        op.f("ix_conversions_partnership_id"), "conversions", ["partnership_id"], unique=False
    )
    op.create_table(
        "conversion_events",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("order_id", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=False),
        sa.Column("conversion_id", sa.String(length=40), nullable=True),
        sa.Column("amount_text", sa.String(length=40), nullable=True),
        sa.Column("amount_minor", sa.BigInteger(), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "raw",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["conversion_id"],
            ["conversions.id"],
            name=op.f("fk_conversion_events_conversion_id_conversions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversion_events")),
        sa.UniqueConstraint(
            "source",
            "order_id",
            "kind",
            "external_id",
            name=op.f("uq_conversion_events_source_order_id_kind_external_id"),
        ),
    )
    op.create_index(
        op.f("ix_conversion_events_conversion_id"),
        "conversion_events",
        ["conversion_id"],
        unique=False,
    )
    op.create_table(
        "commission_lines",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("influencer_id", sa.String(length=40), nullable=False),
        sa.Column("campaign_id", sa.String(length=40), nullable=False),
        sa.Column("partnership_id", sa.String(length=40), nullable=True),
        sa.Column("conversion_id", sa.String(length=40), nullable=True),
        sa.Column("event_id", sa.String(length=40), nullable=True),
        sa.Column("deliverable_id", sa.String(length=40), nullable=True),
        sa.Column("reverses_line_id", sa.String(length=40), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column(
            "rule",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("basis_minor", sa.BigInteger(), nullable=True),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("export_id", sa.String(length=40), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_by_key_id", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_commission_lines_campaign_id_campaigns"),
        ),
        sa.ForeignKeyConstraint(
            ["conversion_id"],
            ["conversions.id"],
            name=op.f("fk_commission_lines_conversion_id_conversions"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by_key_id"],
            ["api_keys.id"],
            name=op.f("fk_commission_lines_created_by_key_id_api_keys"),
        ),
        sa.ForeignKeyConstraint(
            ["deliverable_id"],
            ["deliverables.id"],
            name=op.f("fk_commission_lines_deliverable_id_deliverables"),
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["conversion_events.id"],
            name=op.f("fk_commission_lines_event_id_conversion_events"),
        ),
        sa.ForeignKeyConstraint(
            ["export_id"], ["exports.id"], name=op.f("fk_commission_lines_export_id_exports")
        ),
        sa.ForeignKeyConstraint(
            ["influencer_id"],
            ["influencers.id"],
            name=op.f("fk_commission_lines_influencer_id_influencers"),
        ),
        sa.ForeignKeyConstraint(
            ["partnership_id"],
            ["partnerships.id"],
            name=op.f("fk_commission_lines_partnership_id_partnerships"),
        ),
        sa.ForeignKeyConstraint(
            ["reverses_line_id"],
            ["commission_lines.id"],
            name=op.f("fk_commission_lines_reverses_line_id_commission_lines"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_commission_lines")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_commission_lines_idempotency_key")),
    )
    op.create_index(
        op.f("ix_commission_lines_campaign_id"), "commission_lines", ["campaign_id"], unique=False
    )
    op.create_index(
        op.f("ix_commission_lines_conversion_id"),
        "commission_lines",
        ["conversion_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_commission_lines_due_at"), "commission_lines", ["due_at"], unique=False
    )
    op.create_index(
        op.f("ix_commission_lines_export_id"), "commission_lines", ["export_id"], unique=False
    )
    op.create_index(
        op.f("ix_commission_lines_influencer_id"),
        "commission_lines",
        ["influencer_id"],
        unique=False,
    )


def downgrade() -> None:

    op.drop_index(op.f("ix_commission_lines_influencer_id"), table_name="commission_lines")
    op.drop_index(op.f("ix_commission_lines_export_id"), table_name="commission_lines")
    op.drop_index(op.f("ix_commission_lines_due_at"), table_name="commission_lines")
    op.drop_index(op.f("ix_commission_lines_conversion_id"), table_name="commission_lines")
    op.drop_index(op.f("ix_commission_lines_campaign_id"), table_name="commission_lines")
    op.drop_table("commission_lines")
    op.drop_index(op.f("ix_conversion_events_conversion_id"), table_name="conversion_events")
    op.drop_table("conversion_events")
    op.drop_index(op.f("ix_conversions_partnership_id"), table_name="conversions")
    op.drop_index(op.f("ix_conversions_occurred_at"), table_name="conversions")
    op.drop_index(op.f("ix_conversions_influencer_id"), table_name="conversions")
    op.drop_index(op.f("ix_conversions_campaign_id"), table_name="conversions")
    op.drop_table("conversions")
    op.drop_index("ix_clicks_link_id_occurred_at", table_name="clicks")
    op.drop_table("clicks")
    op.drop_index(
        "uq_promo_codes_active_normalized",
        table_name="promo_codes",
        postgresql_where=sa.text("status = 'active'"),
        sqlite_where=sa.text("status = 'active'"),
    )
    op.drop_index(op.f("ix_promo_codes_partnership_id"), table_name="promo_codes")
    op.drop_index(op.f("ix_promo_codes_normalized"), table_name="promo_codes")
    op.drop_index(op.f("ix_promo_codes_influencer_id"), table_name="promo_codes")
    op.drop_index(op.f("ix_promo_codes_campaign_id"), table_name="promo_codes")
    op.drop_table("promo_codes")
    op.drop_index(op.f("ix_links_partnership_id"), table_name="links")
    op.drop_index(op.f("ix_links_influencer_id"), table_name="links")
    op.drop_index(op.f("ix_links_campaign_id"), table_name="links")
    op.drop_table("links")
    op.drop_index(op.f("ix_deliverables_partnership_id"), table_name="deliverables")
    op.drop_index(op.f("ix_deliverables_influencer_id"), table_name="deliverables")
    op.drop_index(op.f("ix_deliverables_campaign_id"), table_name="deliverables")
    op.drop_table("deliverables")
    op.drop_index(op.f("ix_platform_accounts_influencer_id"), table_name="platform_accounts")
    op.drop_table("platform_accounts")
    op.drop_index(op.f("ix_partnerships_influencer_id"), table_name="partnerships")
    op.drop_index(op.f("ix_partnerships_campaign_id"), table_name="partnerships")
    op.drop_table("partnerships")
    op.drop_table("influencers")
    op.drop_table("exports")
    op.drop_table("campaigns")
    op.drop_table("api_keys")
