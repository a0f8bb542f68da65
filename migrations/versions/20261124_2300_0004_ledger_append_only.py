"""commission_lines append-only on PostgreSQL: a trigger refuses DELETE and any UPDATE
other than recording payment or rejection

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 23:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

FUNCTION = """
CREATE FUNCTION afftrack_commission_lines_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    RAISE EXCEPTION 'commission lines are append-only: line % cannot be deleted', OLD.id
      USING ERRCODE = 'restrict_violation';
  END IF;
  -- Only payment (status, export_id) and rejection (status) are recorded in place.
  IF (to_jsonb(NEW) - 'status' - 'export_id') IS DISTINCT FROM
     (to_jsonb(OLD) - 'status' - 'export_id') THEN
    RAISE EXCEPTION 'commission lines are append-only: line % can only be paid or rejected',
      OLD.id USING ERRCODE = 'restrict_violation';
  END IF;
  IF OLD.status IN ('paid', 'rejected') AND (
       NEW.status IS DISTINCT FROM OLD.status OR NEW.export_id IS DISTINCT FROM OLD.export_id
     ) THEN
    RAISE EXCEPTION 'commission line % is already %: it cannot change', OLD.id, OLD.status
      USING ERRCODE = 'restrict_violation';
  END IF;
  RETURN NEW;
END
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(FUNCTION)
    op.execute(
        "CREATE TRIGGER commission_lines_append_only BEFORE UPDATE OR DELETE ON "
        "commission_lines FOR EACH ROW EXECUTE FUNCTION afftrack_commission_lines_append_only()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS commission_lines_append_only ON commission_lines")
    op.execute("DROP FUNCTION IF EXISTS afftrack_commission_lines_append_only()")
