"""Report roll-ups: orders and the ledger per campaign, influencer, link and UTC day
(conversion_daily, commission_daily), every roll-up also per UTC month (click_monthly,
conversion_monthly, commission_monthly), all kept by triggers; click_daily carries the
link's campaign and influencer

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25 05:00:00
"""

from __future__ import annotations

import importlib

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

KEY = ("campaign_id", "day", "influencer_id", "link_id", "currency")
GRAINS = ("daily", "monthly")  # a monthly row's ``day`` is the month's first day
CLICKS_0007 = importlib.import_module("migrations.versions.20261125_0400_0007_click_daily")


def pg_day(moment: str, grain: str) -> str:
    """The UTC day (or month's first day) of a timestamptz expression, in PostgreSQL."""
    if grain == "daily":
        return f"(({moment}) AT TIME ZONE 'UTC')::date"
    return f"date_trunc('month', ({moment}) AT TIME ZONE 'UTC')::date"


def sqlite_day(moment: str, grain: str) -> str:
    return f"date({moment})" if grain == "daily" else f"date({moment}, 'start of month')"


def _add(table: str, counts: tuple[str, ...], key: tuple[str, ...] = KEY) -> str:
    sums = ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in counts)
    return f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {sums}"


CLICK_COUNTS = ("clicks", "unique_clicks", "bot_clicks")
CONVERSION_COUNTS = ("conversions", "revenue_minor")
LINE_COUNTS = ("lines", "amount_minor")


# --- clicks: the link's campaign and influencer, both grains, one statement trigger ------
def _pg_clicks(grain: str) -> str:
    return f"""
  INSERT INTO click_{grain} (link_id, day, campaign_id, influencer_id,
                             clicks, unique_clicks, bot_clicks)
  SELECT i.link_id, {pg_day("i.occurred_at", grain)}, l.campaign_id, l.influencer_id,
         {CLICKS_0007.COUNTS}
  FROM inserted_clicks i JOIN links l ON l.id = i.link_id GROUP BY 1, 2, 3, 4
  {_add(f"click_{grain}", CLICK_COUNTS, ("link_id", "day"))};"""


PG_CLICKS = (
    "CREATE OR REPLACE FUNCTION afftrack_click_daily() RETURNS trigger LANGUAGE plpgsql "
    "AS $$\nBEGIN" + "".join(_pg_clicks(g) for g in GRAINS) + "\n  RETURN NULL;\nEND\n$$"
)


def _sqlite_clicks(grain: str) -> str:
    return f"""
  INSERT INTO click_{grain} (link_id, day, campaign_id, influencer_id,
                             clicks, unique_clicks, bot_clicks)
  SELECT NEW.link_id, {sqlite_day("NEW.occurred_at", grain)}, l.campaign_id,
         l.influencer_id, NOT NEW.is_bot, (NOT NEW.is_bot) AND NEW.is_unique, NEW.is_bot
  FROM links l WHERE l.id = NEW.link_id
  {_add(f"click_{grain}", CLICK_COUNTS, ("link_id", "day"))};"""


SQLITE_CLICKS = (
    "CREATE TRIGGER clicks_daily AFTER INSERT ON clicks BEGIN"
    + "".join(_sqlite_clicks(g) for g in GRAINS)
    + "\nEND"
)


# --- orders ----------------------------------------------------------------------------
# An order counts when it is attributed to a campaign and not cancelled: once on
# INSERT; on UPDATE its old contribution is taken off and the new one added (a refund,
# a cancel, a late attribution); on DELETE taken off. Row triggers, in the transaction.
def _pg_order(row: str, sign: str, grain: str) -> str:
    return f"""
    INSERT INTO conversion_{grain} (campaign_id, day, influencer_id, link_id, currency,
                                    conversions, revenue_minor)
    VALUES ({row}.campaign_id, {pg_day(f"{row}.occurred_at", grain)},
            coalesce({row}.influencer_id, ''), coalesce({row}.link_id, ''), {row}.currency,
            {sign}1, {sign}({row}.amount_minor - {row}.refunded_minor))
    {_add(f"conversion_{grain}", CONVERSION_COUNTS)};"""


PG_CONVERSIONS = f"""
CREATE FUNCTION afftrack_conversion_daily() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP <> 'INSERT' AND OLD.campaign_id IS NOT NULL AND OLD.status <> 'cancelled' THEN
    {"".join(_pg_order("OLD", "-", g) for g in GRAINS)}
  END IF;
  IF TG_OP <> 'DELETE' AND NEW.campaign_id IS NOT NULL AND NEW.status <> 'cancelled' THEN
    {"".join(_pg_order("NEW", "", g) for g in GRAINS)}
  END IF;
  RETURN NULL;
END
$$
"""
PG_CONVERSIONS_TRIGGER = (
    "CREATE TRIGGER conversions_daily AFTER INSERT OR DELETE OR UPDATE OF campaign_id, "
    "influencer_id, link_id, occurred_at, currency, amount_minor, refunded_minor, status "
    "ON conversions FOR EACH ROW EXECUTE FUNCTION afftrack_conversion_daily()"
)


# --- ledger lines ----------------------------------------------------------------------
# Once per INSERT statement over the rows it really inserted (settlement writes in
# batches; an idempotent retry's skipped rows add nothing). The link is the line's
# order's. A line leaves the roll-up when rejected (the append-only trigger lets nothing
# else change), checked per row only when the status crosses 'rejected', so the close's
# UPDATE of a month's lines to 'paid' costs a comparison per row, no more.
def _pg_inserted_lines(grain: str) -> str:
    return f"""
    INSERT INTO commission_{grain} (campaign_id, day, influencer_id, link_id, currency,
                                    lines, amount_minor)
    SELECT l.campaign_id, {pg_day("l.occurred_at", grain)}, l.influencer_id,
           coalesce(c.link_id, ''), l.currency, count(*), sum(l.amount_minor)
    FROM inserted_lines l LEFT JOIN conversions c ON c.id = l.conversion_id
    WHERE l.status <> 'rejected'
    GROUP BY 1, 2, 3, 4, 5
    {_add(f"commission_{grain}", LINE_COUNTS)};"""


def _pg_status_line(grain: str) -> str:
    return f"""
  INSERT INTO commission_{grain} (campaign_id, day, influencer_id, link_id, currency,
                                  lines, amount_minor)
  SELECT NEW.campaign_id, {pg_day("NEW.occurred_at", grain)}, NEW.influencer_id,
         coalesce((SELECT link_id FROM conversions WHERE id = NEW.conversion_id), ''),
         NEW.currency,
         CASE WHEN NEW.status = 'rejected' THEN -1 ELSE 1 END,
         CASE WHEN NEW.status = 'rejected' THEN -NEW.amount_minor ELSE NEW.amount_minor END
  {_add(f"commission_{grain}", LINE_COUNTS)};"""


PG_LINES = f"""
CREATE FUNCTION afftrack_commission_daily() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    {"".join(_pg_inserted_lines(g) for g in GRAINS)}
    RETURN NULL;
  END IF;
  {"".join(_pg_status_line(g) for g in GRAINS)}
  RETURN NULL;
END
$$
"""
PG_LINES_TRIGGERS = (
    "CREATE TRIGGER commission_lines_daily AFTER INSERT ON commission_lines "
    "REFERENCING NEW TABLE AS inserted_lines FOR EACH STATEMENT "
    "EXECUTE FUNCTION afftrack_commission_daily()",
    "CREATE TRIGGER commission_lines_daily_status AFTER UPDATE OF status ON commission_lines "
    "FOR EACH ROW WHEN ((OLD.status = 'rejected') IS DISTINCT FROM (NEW.status = 'rejected')) "
    "EXECUTE FUNCTION afftrack_commission_daily()",
)


# --- SQLite (row triggers only; the same rules) ----------------------------------------
def _sqlite_order(row: str, sign: str) -> str:
    return "".join(
        f"""
  INSERT INTO conversion_{grain} (campaign_id, day, influencer_id, link_id, currency,
                                  conversions, revenue_minor)
  SELECT {row}.campaign_id, {sqlite_day(f"{row}.occurred_at", grain)},
         coalesce({row}.influencer_id, ''), coalesce({row}.link_id, ''), {row}.currency,
         {sign}1, {sign}({row}.amount_minor - {row}.refunded_minor)
  WHERE {row}.campaign_id IS NOT NULL AND {row}.status <> 'cancelled'
  {_add(f"conversion_{grain}", CONVERSION_COUNTS)};"""
        for grain in GRAINS
    )


def _sqlite_line(row: str, sign: str) -> str:
    return "".join(
        f"""
  INSERT INTO commission_{grain} (campaign_id, day, influencer_id, link_id, currency,
                                  lines, amount_minor)
  SELECT {row}.campaign_id, {sqlite_day(f"{row}.occurred_at", grain)}, {row}.influencer_id,
         coalesce((SELECT link_id FROM conversions WHERE id = {row}.conversion_id), ''),
         {row}.currency, {sign}1, {sign}{row}.amount_minor
  WHERE {row}.status <> 'rejected'
  {_add(f"commission_{grain}", LINE_COUNTS)};"""
        for grain in GRAINS
    )


SQLITE_TRIGGERS = (
    "CREATE TRIGGER conversions_daily_insert AFTER INSERT ON conversions BEGIN"
    + _sqlite_order("NEW", "")
    + "\nEND",
    "CREATE TRIGGER conversions_daily_update AFTER UPDATE OF campaign_id, influencer_id, "
    "link_id, occurred_at, currency, amount_minor, refunded_minor, status ON conversions BEGIN"
    + _sqlite_order("OLD", "-")
    + _sqlite_order("NEW", "")
    + "\nEND",
    "CREATE TRIGGER conversions_daily_delete AFTER DELETE ON conversions BEGIN"
    + _sqlite_order("OLD", "-")
    + "\nEND",
    "CREATE TRIGGER commission_lines_daily AFTER INSERT ON commission_lines BEGIN"
    + _sqlite_line("NEW", "")
    + "\nEND",
    "CREATE TRIGGER commission_lines_daily_update AFTER UPDATE ON commission_lines BEGIN"
    + _sqlite_line("OLD", "-")
    + _sqlite_line("NEW", "")
    + "\nEND",
)
SQLITE_TRIGGER_NAMES = tuple(trigger.split()[2] for trigger in SQLITE_TRIGGERS)


# --- tables and what is already stored ----------------------------------------------------
def _table(name: str, counts: tuple[str, str]) -> None:
    op.create_table(
        name,
        sa.Column("campaign_id", sa.String(40), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("influencer_id", sa.String(40), nullable=False),
        sa.Column("link_id", sa.String(40), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column(counts[0], sa.BigInteger(), nullable=False),
        sa.Column(counts[1], sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(*KEY, name=f"pk_{name}"),
    )


def _clicks(postgres: bool) -> None:
    """click_daily gains its links' campaign and influencer; click_monthly is filled
    from it; the click trigger writes both."""
    if not postgres:
        op.execute("DROP TRIGGER IF EXISTS clicks_daily")
    with op.batch_alter_table("click_daily") as batch:
        batch.add_column(sa.Column("campaign_id", sa.String(40), nullable=True))
        batch.add_column(sa.Column("influencer_id", sa.String(40), nullable=True))
    op.execute(
        "UPDATE click_daily SET "
        "campaign_id = (SELECT campaign_id FROM links WHERE links.id = click_daily.link_id), "
        "influencer_id = (SELECT influencer_id FROM links WHERE links.id = click_daily.link_id)"
    )
    with op.batch_alter_table("click_daily") as batch:
        batch.alter_column("campaign_id", existing_type=sa.String(40), nullable=False)
        batch.alter_column("influencer_id", existing_type=sa.String(40), nullable=False)
        batch.create_index("ix_click_daily_campaign_id_day", ["campaign_id", "day"])
    op.create_table(
        "click_monthly",
        sa.Column("link_id", sa.String(40), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("campaign_id", sa.String(40), nullable=False),
        sa.Column("influencer_id", sa.String(40), nullable=False),
        *(sa.Column(c, sa.BigInteger(), nullable=False) for c in CLICK_COUNTS),
        sa.ForeignKeyConstraint(["link_id"], ["links.id"], name="fk_click_monthly_link_id_links"),
        sa.PrimaryKeyConstraint("link_id", "day", name="pk_click_monthly"),
    )
    op.create_index("ix_click_monthly_campaign_id_day", "click_monthly", ["campaign_id", "day"])
    month = pg_day("day", "monthly") if postgres else "date(day, 'start of month')"
    sums = ", ".join(f"sum({c})" for c in CLICK_COUNTS)
    op.execute(
        "INSERT INTO click_monthly (link_id, day, campaign_id, influencer_id, "
        f"{', '.join(CLICK_COUNTS)}) SELECT link_id, {month}, campaign_id, influencer_id, "
        f"{sums} FROM click_daily GROUP BY 1, 2, 3, 4"
    )
    op.execute(PG_CLICKS if postgres else SQLITE_CLICKS)


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    day = pg_day if postgres else sqlite_day
    if postgres:
        # No order or line may be written between the backfill below and the triggers
        # that take over from it (web pods keep serving while the migration runs): such
        # a row would be in neither. Writers wait until this migration commits; readers
        # do not. (click_daily is locked by its ALTER TABLE, with the same effect.)
        op.execute("LOCK TABLE conversions, commission_lines IN SHARE ROW EXCLUSIVE MODE")
    _clicks(postgres)
    for grain in GRAINS:
        _table(f"conversion_{grain}", CONVERSION_COUNTS)
        _table(f"commission_{grain}", LINE_COUNTS)
        op.execute(
            f"INSERT INTO conversion_{grain} (campaign_id, day, influencer_id, link_id, "
            "currency, conversions, revenue_minor) "
            f"SELECT o.campaign_id, {day('o.occurred_at', grain)}, coalesce(o.influencer_id, ''), "
            "coalesce(o.link_id, ''), o.currency, count(*), "
            "sum(o.amount_minor - o.refunded_minor) FROM conversions o "
            "WHERE o.campaign_id IS NOT NULL AND o.status <> 'cancelled' GROUP BY 1, 2, 3, 4, 5"
        )
        op.execute(
            f"INSERT INTO commission_{grain} (campaign_id, day, influencer_id, link_id, "
            "currency, lines, amount_minor) "
            f"SELECT o.campaign_id, {day('o.occurred_at', grain)}, o.influencer_id, "
            "coalesce(c.link_id, ''), o.currency, count(*), sum(o.amount_minor) "
            "FROM commission_lines o LEFT JOIN conversions c ON c.id = o.conversion_id "
            "WHERE o.status <> 'rejected' GROUP BY 1, 2, 3, 4, 5"
        )
    if postgres:
        # Fresh (or rewritten) tables have no statistics: without them the report's first
        # plans can be far off (measured: 85 ms instead of 15 on the benchmark's data).
        for kind in ("click", "conversion", "commission"):
            for grain in GRAINS:
                op.execute(f"ANALYZE {kind}_{grain}")
        op.execute(PG_CONVERSIONS)
        op.execute(PG_CONVERSIONS_TRIGGER)
        op.execute(PG_LINES)
        for trigger in PG_LINES_TRIGGERS:
            op.execute(trigger)
    else:
        for trigger in SQLITE_TRIGGERS:
            op.execute(trigger)


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute("DROP TRIGGER IF EXISTS conversions_daily ON conversions")
        op.execute("DROP TRIGGER IF EXISTS commission_lines_daily ON commission_lines")
        op.execute("DROP TRIGGER IF EXISTS commission_lines_daily_status ON commission_lines")
        op.execute("DROP FUNCTION IF EXISTS afftrack_conversion_daily()")
        op.execute("DROP FUNCTION IF EXISTS afftrack_commission_daily()")
    else:
        for name in SQLITE_TRIGGER_NAMES:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    for grain in GRAINS:
        op.drop_table(f"commission_{grain}")
        op.drop_table(f"conversion_{grain}")
    # click_daily as revision 0007 left it: its trigger function, without the owners.
    if postgres:
        op.execute(
            CLICKS_0007.PG_FUNCTION.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)
        )
    else:
        op.execute("DROP TRIGGER IF EXISTS clicks_daily")
    op.drop_index("ix_click_monthly_campaign_id_day", table_name="click_monthly")
    op.drop_table("click_monthly")
    with op.batch_alter_table("click_daily") as batch:
        batch.drop_index("ix_click_daily_campaign_id_day")
        batch.drop_column("influencer_id")
        batch.drop_column("campaign_id")
    if not postgres:
        op.execute(CLICKS_0007.SQLITE_TRIGGER)
