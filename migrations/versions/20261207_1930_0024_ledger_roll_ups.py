"""Ledger roll-ups kept by triggers, so an open month's export reads days, not lines:
statement_daily (the statement's sums per export, influencer, currency and UTC due day,
with its orders counted once each through statement_orders) and tiered_sales_daily (a
tiered rule's net sales and recorded amounts per partnership, rule and UTC day of the
order); both filled in from the stored ledger

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07 19:30:00

What each roll-up holds (the reads: service/exports/statement.py and
service/commissions/settlement.py):

- ``statement_daily``: the lines a statement takes (``export_key`` '' for the lines no
  export has taken: pending ones; an export's id for the lines it paid), summed per
  influencer, currency and UTC day of ``due_at``. An order (a conversion's sale lines)
  counts once per statement group: on the earliest due day of its sale lines in that
  group, which ``statement_orders`` remembers, so the count is exact for any statement
  (all lines due before a moment).
- ``tiered_sales_daily``: per partnership, rule and UTC day of the order, what the
  tiered true-up reads: the net sales of its sale lines' orders (0 once cancelled), the
  amount recorded and cut by caps, and the latest due and recorded times, counting sale
  and reversal lines not rejected, under a tiered rule, in the campaign's currency. A
  rejection (rare) recomputes its day's row from the lines.

Sums move by the changed rows only; what depends on other rows (an order's earliest
due day, a rejected line's latest times) is recomputed from the table as it is after
the change, so a statement changing many rows at once counts right whichever way its
triggers run. Inserted lines are counted by row triggers on both databases (a webhook
writes an order's two or three lines; PostgreSQL plans a row trigger's statements once
per connection, a statement trigger's over transition tables on every call); on
PostgreSQL changed and deleted lines by statement triggers over the changed rows
(transition tables: a month's close changes all its lines in one statement). Lines change only by
payment and rejection (0004), orders only by refunds and cancellation; a line deleted
by hand (a repair, with the append-only trigger switched off) is taken out too.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

GROSS_KINDS = "('sale', 'cpc', 'per_post', 'true_up')"
STATEMENT_SUMS = (
    "gross_minor",
    "reversals_minor",
    "adjustments_minor",
    "carried_minor",
    "lines",
)
STATEMENT_KEY = ("export_key", "influencer_id", "currency", "day")
ORDER_KEY = ("conversion_id", "export_key", "influencer_id", "currency")
TIERED_SUMS = ("sales_minor", "amount_minor", "cut_minor")
TIERED_KEY = ("partnership_id", "rule_index", "day")
# The columns of a changed line the triggers read.
LINE_COLUMNS = (
    "id",
    "kind",
    "purpose",
    "status",
    "export_id",
    "influencer_id",
    "currency",
    "conversion_id",
    "campaign_id",
    "partnership_id",
    "rule_index",
    "rule",
    "amount_minor",
    "cut_minor",
    "due_at",
    "recorded_at",
)


class Dialect:
    """The few differences between the two databases' trigger SQL."""

    def __init__(self, postgres: bool) -> None:
        self.postgres = postgres

    def day(self, moment: str) -> str:
        return f"(({moment}) AT TIME ZONE 'UTC')::date" if self.postgres else f"date({moment})"

    def within_day(self, moment: str, day: str) -> str:
        """``moment`` falls on UTC day ``day`` (a range, so an index on it serves)."""
        if self.postgres:
            return (
                f"{moment} >= ({day})::timestamp AT TIME ZONE 'UTC' "
                f"AND {moment} < ({day} + 1)::timestamp AT TIME ZONE 'UTC'"
            )
        return f"{moment} >= {day} AND {moment} < date({day}, '+1 day')"

    def rule_type(self, rule: str) -> str:
        return f"({rule} ->> 'type')" if self.postgres else f"json_extract({rule}, '$.type')"

    def lines_of_order(self, order: str, alias: str, columns: str = "*") -> str:
        """The lines of order ``order`` as relation ``alias``, read through the index on
        ``conversion_id`` whatever the planner's statistics say (a table loaded in bulk
        has none worth trusting yet); the caller still names the order in its WHERE."""
        if self.postgres:
            return (
                f"(SELECT {columns} FROM commission_lines WHERE conversion_id = {order} "
                "OFFSET 0) "
                f"AS {alias}"
            )
        return f"commission_lines AS {alias} INDEXED BY ix_commission_lines_conversion_id"

    def delete_matching(self, table: str, key: tuple[str, ...], rows: str, where: str) -> str:
        """Delete the rows of ``table`` whose ``key`` is among ``rows`` (alias ``g``) that
        satisfy ``where``, by the table's primary key."""
        if self.postgres:
            match = " AND ".join(f"{table}.{k} = g.{k}" for k in key)
            return f"DELETE FROM {table} USING {rows} AS g WHERE {match} AND {where}"
        columns = ", ".join(key)
        picked = ", ".join(f"g.{k}" for k in key)
        chosen = f"SELECT {picked} FROM {rows} AS g WHERE {where}"
        return f"DELETE FROM {table} WHERE ({columns}) IN ({chosen})"

    def row(self, name: str) -> str:
        """A row trigger's OLD or NEW row as a one-row relation."""
        columns = ", ".join(f"{name}.{c} AS {c}" for c in LINE_COLUMNS)
        return f"(SELECT {columns})"


def _later(column: str, table: str) -> str:
    """The later of the stored and the incoming time (either may be null)."""
    return (
        f"{column} = CASE WHEN {table}.{column} IS NULL OR excluded.{column} > {table}.{column} "
        f"THEN excluded.{column} ELSE {table}.{column} END"
    )


def _add(table: str, sums: tuple[str, ...], key: tuple[str, ...], *more: str) -> str:
    sets = [f"{c} = {table}.{c} + excluded.{c}" for c in sums]
    return f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {', '.join([*sets, *more])}"


# --- statement_daily ----------------------------------------------------------------------
def _in_statement(r: str) -> str:
    return f"({r}.export_id IS NOT NULL OR {r}.status = 'pending')"


def statement_sums(d: Dialect, rows: str, sign: str) -> str:
    """Add (``sign`` '') or take away ('-') the sums of the changed lines ``rows``."""
    return f"""
  INSERT INTO statement_daily (export_key, influencer_id, currency, day, gross_minor,
                               reversals_minor, adjustments_minor, carried_minor, lines,
                               orders)
  SELECT coalesce(r.export_id, ''), r.influencer_id, r.currency, {d.day("r.due_at")},
         {sign}sum(CASE WHEN r.kind IN {GROSS_KINDS} THEN r.amount_minor ELSE 0 END),
         {sign}sum(CASE WHEN r.kind = 'reversal' THEN r.amount_minor ELSE 0 END),
         {sign}sum(CASE WHEN r.kind = 'adjustment' THEN r.amount_minor ELSE 0 END),
         {sign}sum(CASE WHEN r.purpose = 'carry_out' THEN r.amount_minor ELSE 0 END),
         {sign}count(*), 0
  FROM {rows} AS r
  WHERE {_in_statement("r")}
  GROUP BY 1, 2, 3, 4
  {_add("statement_daily", STATEMENT_SUMS, STATEMENT_KEY)};"""


_ORDER_LOOKUP = "conversion_id, kind, influencer_id, currency, export_id, status, due_at"


def _first_due_day(d: Dialect, p: str) -> str:
    """The UTC day of the earliest due sale line of order group ``p`` in its statement
    group, as the table is now (null: none left)."""
    return f"""(SELECT {d.day("min(o.due_at)")}
     FROM {d.lines_of_order(f"{p}.conversion_id", "o", _ORDER_LOOKUP)}
     WHERE o.conversion_id = {p}.conversion_id AND o.kind = 'sale'
       AND o.influencer_id = {p}.influencer_id AND o.currency = {p}.currency
       AND coalesce(o.export_id, '') = {p}.export_key AND {_in_statement("o")})"""


def _order_groups(rows: tuple[str, ...]) -> str:
    """The (order, statement group) pairs the changed lines ``rows`` touch, each with
    its stored first day (``was``)."""
    touched = " UNION ".join(
        f"SELECT DISTINCT r.conversion_id, coalesce(r.export_id, '') AS export_key, "
        "r.influencer_id, "
        f"r.currency FROM {rel} AS r WHERE r.kind = 'sale' AND r.conversion_id IS NOT NULL"
        for rel in rows
    )
    joined = " AND ".join(f"m.{k} = t.{k}" for k in ORDER_KEY)
    return f"""(SELECT t.conversion_id, t.export_key, t.influencer_id, t.currency,
              m.day AS was
       FROM ({touched}) AS t LEFT JOIN statement_orders m ON {joined})"""


def statement_orders(d: Dialect, rows: tuple[str, ...]) -> str:
    """Move each touched order's count to its first due day as the table now is, then
    remember that day. PostgreSQL works each order's day out once, for all three
    changes (one statement); SQLite's row triggers touch one or two orders."""
    groups = _order_groups(rows)
    counts = f"""
  INSERT INTO statement_daily (export_key, influencer_id, currency, day, gross_minor,
                               reversals_minor, adjustments_minor, carried_minor, lines,
                               orders)
  SELECT c.export_key, c.influencer_id, c.currency, c.day, 0, 0, 0, 0, 0, sum(c.n)
  FROM (SELECT g.export_key, g.influencer_id, g.currency, g.was AS day, -1 AS n,
               {{now}} AS other
        FROM {{groups}} AS g WHERE g.was IS NOT NULL
        UNION ALL
        SELECT g.export_key, g.influencer_id, g.currency, {{now}}, 1, g.was
        FROM {{groups}} AS g) AS c
  WHERE c.day IS NOT NULL AND (c.other IS NULL OR c.other <> c.day)
  GROUP BY 1, 2, 3, 4
  {_add("statement_daily", ("orders",), STATEMENT_KEY)}"""
    remember = f"""
  INSERT INTO statement_orders (conversion_id, export_key, influencer_id, currency, day)
  SELECT g.conversion_id, g.export_key, g.influencer_id, g.currency, {{now}}
  FROM {{groups}} AS g WHERE {{now}} IS NOT NULL
  ON CONFLICT ({", ".join(ORDER_KEY)}) DO UPDATE SET day = excluded.day"""
    if d.postgres:
        first = _first_due_day(d, "t")
        known = f"""(SELECT t.*, {first} AS now FROM {groups} AS t)"""
        forget = d.delete_matching("statement_orders", ORDER_KEY, "touched", "g.now IS NULL")
        return f"""
  WITH touched AS MATERIALIZED {known},
  forgotten AS ({forget}),
  remembered AS ({remember.format(now="g.now", groups="touched")})
  {counts.format(now="g.now", groups="touched")};"""
    now = _first_due_day(d, "g")
    forget = d.delete_matching("statement_orders", ORDER_KEY, groups, f"{now} IS NULL")
    return f"""
  {counts.format(now=now, groups=groups)};
  {forget};
  {remember.format(now=now, groups=groups)};"""


# --- tiered_sales_daily --------------------------------------------------------------------
def _tiered(d: Dialect, line: str, *, rejected: bool = False) -> str:
    """A line the tiered true-up counts (``k``: its campaign); ``rejected``: were it
    not rejected."""
    counted = "" if rejected else f"AND {line}.status <> 'rejected' "
    return (
        f"{line}.kind IN ('sale', 'reversal') {counted}"
        f"AND {d.rule_type(f'{line}.rule')} = 'tiered_percent' AND {line}.currency = k.currency"
    )


def _net(order: str, line: str) -> str:
    """What a sale line adds to its rule's month: its order's net (0 once cancelled)."""
    return (
        f"CASE WHEN {line}.kind = 'sale' AND {order}.status <> 'cancelled' "
        f"THEN {order}.amount_minor - {order}.refunded_minor ELSE 0 END"
    )


def _tiered_insert(d: Dialect, source: str, where: str) -> str:
    return f"""
  INSERT INTO tiered_sales_daily (partnership_id, rule_index, day, sales_minor, amount_minor,
                                  cut_minor, due_max, changed_max)
  SELECT l.partnership_id, l.rule_index, {d.day("c.occurred_at")}, sum({_net("c", "l")}),
         sum(l.amount_minor), sum(coalesce(l.cut_minor, 0)), max(l.due_at),
         max(l.recorded_at)
  FROM {source}
  JOIN conversions c ON c.id = l.conversion_id JOIN campaigns k ON k.id = l.campaign_id
  WHERE {_tiered(d, "l")} AND {where}
  GROUP BY 1, 2, 3
  {_add("tiered_sales_daily", TIERED_SUMS, TIERED_KEY, _later("due_max", "tiered_sales_daily"), _later("changed_max", "tiered_sales_daily"))};"""


def tiered_sums(d: Dialect, rows: str) -> str:
    """Add the inserted lines ``rows``."""
    return _tiered_insert(
        d, f"{rows} AS l", "l.partnership_id IS NOT NULL AND l.rule_index IS NOT NULL"
    )


def tiered_recount(d: Dialect, keys: str) -> str:
    """Recompute the rows ``keys`` (partnership_id, rule_index, day) from the lines."""
    return f"""
  {d.delete_matching("tiered_sales_daily", TIERED_KEY, keys, "true")};
  {
        _tiered_insert(
            d,
            f"(SELECT DISTINCT * FROM {keys} AS y) AS x "
            f"JOIN conversions o ON {d.within_day('o.occurred_at', 'x.day')} "
            "JOIN commission_lines l ON l.conversion_id = o.id "
            "AND l.partnership_id = x.partnership_id AND l.rule_index = x.rule_index",
            "true",
        )
    }"""


def tiered_rejected(d: Dialect, old: str, new: str) -> str:
    """Recompute the days of lines whose counting changed (a rejection)."""
    keys = f"""(SELECT o.partnership_id, o.rule_index, {d.day("c.occurred_at")} AS day
       FROM {old} AS o JOIN {new} AS n ON n.id = o.id
       JOIN conversions c ON c.id = o.conversion_id JOIN campaigns k ON k.id = o.campaign_id
       WHERE o.partnership_id IS NOT NULL AND o.status <> n.status
         AND (n.status = 'rejected' OR o.status = 'rejected')
         AND {_tiered(d, "o", rejected=True)})"""
    return tiered_recount(d, keys)


def tiered_deleted(d: Dialect, old: str) -> str:
    """Recompute the days of deleted lines (never done by afftrack: the ledger is
    append-only; a repair by hand)."""
    keys = f"""(SELECT o.partnership_id, o.rule_index, {d.day("c.occurred_at")} AS day
       FROM {old} AS o
       JOIN conversions c ON c.id = o.conversion_id JOIN campaigns k ON k.id = o.campaign_id
       WHERE o.partnership_id IS NOT NULL AND {_tiered(d, "o")})"""
    return tiered_recount(d, keys)


def tiered_orders(d: Dialect, old: str, new: str) -> str:
    """An order refunded or cancelled: its sale lines' net sales move by the difference
    (its day's rows exist: its lines made them); moved to another day (never done by
    afftrack): both days recomputed."""
    moved = " UNION ".join(
        f"""SELECT l.partnership_id, l.rule_index, {d.day(f"{row}.occurred_at")} AS day
       FROM {d.lines_of_order(f"{new}.id", "l")} JOIN campaigns k ON k.id = l.campaign_id
       WHERE l.conversion_id = {new}.id AND {_tiered(d, "l")} AND l.partnership_id IS NOT NULL
         AND {d.day(f"{old}.occurred_at")} <> {d.day(f"{new}.occurred_at")}"""
        for row in (old, new)
    )
    moved_days = tiered_recount(d, f"({moved})")
    if d.postgres:  # skipped outright when the order stays on its day (every refund)
        moved_days = f"""IF {old}.occurred_at IS DISTINCT FROM {new}.occurred_at THEN
  {moved_days}
  END IF;"""
    return f"""
  INSERT INTO tiered_sales_daily (partnership_id, rule_index, day, sales_minor, amount_minor,
                                  cut_minor, due_max, changed_max)
  SELECT l.partnership_id, l.rule_index, {d.day(f"{new}.occurred_at")},
         sum(({_net(new, "l")}) - ({_net(old, "l")})), 0, 0, NULL, NULL
  FROM {d.lines_of_order(f"{new}.id", "l")} JOIN campaigns k ON k.id = l.campaign_id
  WHERE l.conversion_id = {new}.id AND l.kind = 'sale' AND {_tiered(d, "l")}
    AND l.partnership_id IS NOT NULL
    AND {d.day(f"{old}.occurred_at")} = {d.day(f"{new}.occurred_at")}
  GROUP BY 1, 2, 3
  {_add("tiered_sales_daily", TIERED_SUMS, TIERED_KEY)};
  {moved_days}"""


# --- the triggers ---------------------------------------------------------------------------
PG = Dialect(postgres=True)
PG_LINES_INSERTED = f"""
CREATE OR REPLACE FUNCTION afftrack_ledger_lines_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  {statement_sums(PG, PG.row("NEW"), "")}
  {statement_orders(PG, (PG.row("NEW"),))}
  {tiered_sums(PG, PG.row("NEW"))}
  RETURN NULL;
END
$$
"""
PG_LINES_UPDATED = f"""
CREATE OR REPLACE FUNCTION afftrack_ledger_lines_updated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  {statement_sums(PG, "old_lines", "-")}
  {statement_sums(PG, "new_lines", "")}
  {statement_orders(PG, ("old_lines", "new_lines"))}
  {tiered_rejected(PG, "old_lines", "new_lines")}
  RETURN NULL;
END
$$
"""
PG_LINES_DELETED = f"""
CREATE OR REPLACE FUNCTION afftrack_ledger_lines_deleted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  {statement_sums(PG, "old_lines", "-")}
  {statement_orders(PG, ("old_lines",))}
  {tiered_deleted(PG, "old_lines")}
  RETURN NULL;
END
$$
"""
PG_ORDERS_UPDATED = f"""
CREATE OR REPLACE FUNCTION afftrack_ledger_orders_updated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  {tiered_orders(PG, "OLD", "NEW")}
  RETURN NULL;
END
$$
"""
PG_TRIGGERS = (
    "CREATE TRIGGER commission_lines_ledger_inserted AFTER INSERT ON commission_lines "
    "FOR EACH ROW "
    "EXECUTE FUNCTION afftrack_ledger_lines_inserted()",
    "CREATE TRIGGER commission_lines_ledger_updated AFTER UPDATE ON commission_lines "
    "REFERENCING OLD TABLE AS old_lines NEW TABLE AS new_lines FOR EACH STATEMENT "
    "EXECUTE FUNCTION afftrack_ledger_lines_updated()",
    "CREATE TRIGGER commission_lines_ledger_deleted AFTER DELETE ON commission_lines "
    "REFERENCING OLD TABLE AS old_lines FOR EACH STATEMENT "
    "EXECUTE FUNCTION afftrack_ledger_lines_deleted()",
    "CREATE TRIGGER conversions_ledger_updated AFTER UPDATE OF amount_minor, refunded_minor, "
    "status, occurred_at ON conversions FOR EACH ROW "
    "EXECUTE FUNCTION afftrack_ledger_orders_updated()",
)
PG_DROP = (
    "DROP TRIGGER IF EXISTS commission_lines_ledger_inserted ON commission_lines",
    "DROP TRIGGER IF EXISTS commission_lines_ledger_updated ON commission_lines",
    "DROP TRIGGER IF EXISTS commission_lines_ledger_deleted ON commission_lines",
    "DROP TRIGGER IF EXISTS conversions_ledger_updated ON conversions",
    "DROP FUNCTION IF EXISTS afftrack_ledger_lines_inserted()",
    "DROP FUNCTION IF EXISTS afftrack_ledger_lines_updated()",
    "DROP FUNCTION IF EXISTS afftrack_ledger_lines_deleted()",
    "DROP FUNCTION IF EXISTS afftrack_ledger_orders_updated()",
)

SQ = Dialect(postgres=False)
SQLITE_TRIGGERS = (
    "CREATE TRIGGER commission_lines_ledger_inserted AFTER INSERT ON commission_lines BEGIN"
    + statement_sums(SQ, SQ.row("NEW"), "")
    + statement_orders(SQ, (SQ.row("NEW"),))
    + tiered_sums(SQ, SQ.row("NEW"))
    + "\nEND",
    "CREATE TRIGGER commission_lines_ledger_updated AFTER UPDATE ON commission_lines BEGIN"
    + statement_sums(SQ, SQ.row("OLD"), "-")
    + statement_sums(SQ, SQ.row("NEW"), "")
    + statement_orders(SQ, (SQ.row("OLD"), SQ.row("NEW")))
    + tiered_rejected(SQ, SQ.row("OLD"), SQ.row("NEW"))
    + "\nEND",
    "CREATE TRIGGER commission_lines_ledger_deleted AFTER DELETE ON commission_lines BEGIN"
    + statement_sums(SQ, SQ.row("OLD"), "-")
    + statement_orders(SQ, (SQ.row("OLD"),))
    + tiered_deleted(SQ, SQ.row("OLD"))
    + "\nEND",
    "CREATE TRIGGER conversions_ledger_updated AFTER UPDATE OF amount_minor, refunded_minor, "
    "status, occurred_at ON conversions BEGIN" + tiered_orders(SQ, "OLD", "NEW") + "\nEND",
)
SQLITE_TRIGGER_NAMES = tuple(trigger.split()[2] for trigger in SQLITE_TRIGGERS)


def _backfill(d: Dialect) -> tuple[str, ...]:
    """The stored ledger, as the triggers would have counted it."""
    return (
        statement_sums(d, "commission_lines", ""),
        f"""
  INSERT INTO statement_orders (conversion_id, export_key, influencer_id, currency, day)
  SELECT o.conversion_id, coalesce(o.export_id, ''), o.influencer_id, o.currency,
         {d.day("min(o.due_at)")}
  FROM commission_lines o
  WHERE o.kind = 'sale' AND o.conversion_id IS NOT NULL AND {_in_statement("o")}
  GROUP BY 1, 2, 3, 4""",
        f"""
  INSERT INTO statement_daily (export_key, influencer_id, currency, day, gross_minor,
                               reversals_minor, adjustments_minor, carried_minor, lines,
                               orders)
  SELECT export_key, influencer_id, currency, day, 0, 0, 0, 0, 0, count(*)
  FROM statement_orders WHERE true GROUP BY 1, 2, 3, 4
  {_add("statement_daily", ("orders",), STATEMENT_KEY)}""",
        tiered_sums(d, "commission_lines"),
    )


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        # No line or order may be written or changed between the backfill and the
        # triggers that take over from it: writers wait until this migration commits.
        op.execute("SET LOCAL lock_timeout = '10s'")
        op.execute("LOCK TABLE commission_lines, conversions IN SHARE ROW EXCLUSIVE MODE")
    op.create_table(
        "statement_daily",
        sa.Column("export_key", sa.String(40), nullable=False),
        sa.Column("influencer_id", sa.String(40), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        *(sa.Column(c, sa.BigInteger(), nullable=False) for c in (*STATEMENT_SUMS, "orders")),
        sa.PrimaryKeyConstraint(*STATEMENT_KEY),
    )
    op.create_table(
        "statement_orders",
        sa.Column("conversion_id", sa.String(40), nullable=False),
        sa.Column("export_key", sa.String(40), nullable=False),
        sa.Column("influencer_id", sa.String(40), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint(*ORDER_KEY),
    )
    op.create_table(
        "tiered_sales_daily",
        sa.Column("partnership_id", sa.String(40), nullable=False),
        sa.Column("rule_index", sa.BigInteger(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        *(sa.Column(c, sa.BigInteger(), nullable=False) for c in TIERED_SUMS),
        sa.Column("due_max", sa.DateTime(timezone=True)),
        sa.Column("changed_max", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint(*TIERED_KEY),
    )
    d = Dialect(postgres)
    for statement in _backfill(d):
        op.execute(statement)
    if postgres:
        op.execute(PG_LINES_INSERTED)
        op.execute(PG_LINES_UPDATED)
        op.execute(PG_LINES_DELETED)
        op.execute(PG_ORDERS_UPDATED)
        for trigger in PG_TRIGGERS:
            op.execute(trigger)
        op.execute("ANALYZE statement_daily")
        op.execute("ANALYZE tiered_sales_daily")
    else:
        for trigger in SQLITE_TRIGGERS:
            op.execute(trigger)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in PG_DROP:
            op.execute(statement)
    else:
        for name in SQLITE_TRIGGER_NAMES:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    for table in ("tiered_sales_daily", "statement_orders", "statement_daily"):
        op.drop_table(table)
