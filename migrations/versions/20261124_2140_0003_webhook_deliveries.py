"""stored webhook deliveries; refund claims; order references and item tax

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 21:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("body_sha256", sa.String(length=64), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("headers", JSON, nullable=False),
        sa.Column("topic", sa.String(length=80), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
        sa.UniqueConstraint(
            "source", "body_sha256", name=op.f("uq_webhook_deliveries_source_body_sha256")
        ),
    )
    op.create_index(
        op.f("ix_webhook_deliveries_received_at"), "webhook_deliveries", ["received_at"]
    )
    bind = op.get_bind()
    if (
        bind.dialect.name == "postgresql"
        and bind.exec_driver_sql(
            "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"
        ).scalar()
    ):
        # Every order stores its ~10 KB body: lz4 compresses it several times faster
        # than the default pglz, on the webhook's hot path.
        op.execute("ALTER TABLE webhook_deliveries ALTER COLUMN body SET COMPRESSION lz4")
        op.execute("ALTER TABLE webhook_deliveries ALTER COLUMN headers SET COMPRESSION lz4")
    with op.batch_alter_table("conversions") as batch:
        batch.add_column(
            sa.Column("tax_minor", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch.add_column(
            sa.Column("prices_include_tax", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("order_ref", sa.String(length=128), nullable=True))
        batch.add_column(sa.Column("delivery_id", sa.String(length=40), nullable=True))
        batch.create_foreign_key(
            op.f("fk_conversions_delivery_id_webhook_deliveries"),
            "webhook_deliveries",
            ["delivery_id"],
            ["id"],
        )
        batch.create_index(
            "ix_conversions_source_order_ref",
            ["source", "order_ref"],
            postgresql_where=sa.text("order_ref IS NOT NULL"),
            sqlite_where=sa.text("order_ref IS NOT NULL"),
        )
        batch.create_index("ix_conversions_click_id", ["click_id"])
        # Promo codes with max_uses count their conversions on every order.
        batch.create_index("ix_conversions_promo_code_id", ["promo_code_id"])
    with op.batch_alter_table("conversion_events") as batch:
        batch.add_column(sa.Column("basis", sa.String(length=12), nullable=True))
        batch.add_column(sa.Column("tax_text", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("paid_text", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("currency", sa.String(length=3), nullable=True))
        batch.add_column(sa.Column("delivery_id", sa.String(length=40), nullable=True))
        batch.create_foreign_key(
            op.f("fk_conversion_events_delivery_id_webhook_deliveries"),
            "webhook_deliveries",
            ["delivery_id"],
            ["id"],
        )
    # Refunds stored before claims existed were on the attributable basis.
    op.execute(
        "UPDATE conversion_events SET basis = 'attributable' "
        "WHERE kind = 'refund' AND basis IS NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("conversion_events") as batch:
        batch.drop_constraint(
            op.f("fk_conversion_events_delivery_id_webhook_deliveries"), type_="foreignkey"
        )
        batch.drop_column("delivery_id")
        batch.drop_column("currency")
        batch.drop_column("paid_text")
        batch.drop_column("tax_text")
        batch.drop_column("basis")
    with op.batch_alter_table("conversions") as batch:
        batch.drop_index("ix_conversions_promo_code_id")
        batch.drop_index("ix_conversions_click_id")
        batch.drop_index("ix_conversions_source_order_ref")
        batch.drop_constraint(
            op.f("fk_conversions_delivery_id_webhook_deliveries"), type_="foreignkey"
        )
        batch.drop_column("delivery_id")
        batch.drop_column("order_ref")
        batch.drop_column("prices_include_tax")
        batch.drop_column("tax_minor")
    op.drop_index(op.f("ix_webhook_deliveries_received_at"), table_name="webhook_deliveries")
    op.drop_table("webhook_deliveries")
