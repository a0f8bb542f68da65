"""``afftrack ledger verify``: recompute what the ledger must hold from stored events.

Checked: each attributed order's sale lines (percent and flat, from the rules recorded
on the line and the partnership's rules), each applied refund/cancel's reversal lines,
each approved deliverable's per-post lines, that no line is reversed beyond its amount,
that paid lines belong to a closed export, and that each closed export still rebuilds
to its stored checksum.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.campaigns.models import Partnership
from service.commissions.models import CommissionLine
from service.commissions.rules import reversal_amount, rules_from_json, sale_lines
from service.conversions.models import Conversion, ConversionEvent
from service.exports.models import Export


@dataclass
class Report:
    checked: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(session: Session, zone: str = "UTC") -> Report:
    from service.exports.service import checksum  # exports build on the ledger

    report = Report()
    lines = session.scalars(select(CommissionLine).order_by(CommissionLine.id)).all()
    by_key = {line.idempotency_key: line for line in lines}
    report.checked = len(lines)
    seen: set[str] = set()

    def expect(key: str, amount: int, currency: str, what: str) -> None:
        line = by_key.get(key)
        seen.add(key)
        if line is None:
            if amount != 0:
                report.problems.append(f"missing line {key}: {what} should be {amount} {currency}")
            return
        if line.amount_minor != amount or line.currency != currency:
            report.problems.append(
                f"line {line.id} ({key}): {line.amount_minor} {line.currency}, "
                f"expected {amount} {currency} for {what}"
            )

    conversions = session.scalars(
        select(Conversion).where(Conversion.partnership_id.is_not(None))
    ).all()
    for conv in conversions:
        partnership = session.get(Partnership, conv.partnership_id)
        assert partnership is not None
        campaign = partnership.campaign
        rules = rules_from_json(partnership.effective_rules, campaign.currency)
        for sale in sale_lines(
            rules,
            basis_minor=conv.amount_minor,
            order_currency=conv.currency,
            campaign_currency=campaign.currency,
        ):
            if sale.rule.type == "tiered_percent":
                seen.add(f"sale:{conv.id}:{sale.rule_index}")  # depends on month order; see docs
                continue
            expect(
                f"sale:{conv.id}:{sale.rule_index}",
                sale.amount_minor,
                sale.currency,
                f"order {conv.source}/{conv.order_id}",
            )
        sales = [line for line in lines if line.conversion_id == conv.id and line.kind == "sale"]
        events = session.scalars(
            select(ConversionEvent)
            .where(
                ConversionEvent.conversion_id == conv.id, ConversionEvent.applied_at.is_not(None)
            )
            .order_by(ConversionEvent.applied_at, ConversionEvent.id)
        ).all()
        refunded = 0
        for ev in events:
            now_amount = ev.amount_minor or 0
            for sale in sales:
                key = f"reversal:{ev.id}:{sale.id}"
                if sale.status == "rejected" and key not in by_key:
                    continue
                expect(
                    key,
                    reversal_amount(sale.amount_minor, conv.amount_minor, refunded, now_amount),
                    sale.currency,
                    f"{ev.kind} {ev.external_id} of order {conv.order_id}",
                )
            refunded += now_amount
        if refunded != conv.refunded_minor:
            report.problems.append(
                f"conversion {conv.id}: refunded {conv.refunded_minor}, events add up to {refunded}"
            )

    reversed_total: dict[str, int] = defaultdict(int)
    for line in lines:
        if line.kind == "reversal" and line.reverses_line_id:
            reversed_total[line.reverses_line_id] += line.amount_minor
        if line.status == "paid" and line.export_id is None:
            report.problems.append(f"line {line.id} is paid but belongs to no export")
        if line.kind in ("sale", "reversal") and line.idempotency_key not in seen:
            report.problems.append(
                f"line {line.id} ({line.idempotency_key}) has no event behind it"
            )
    by_id = {line.id: line for line in lines}
    for line_id, total in reversed_total.items():
        if abs(total) > abs(by_id[line_id].amount_minor):
            report.problems.append(f"line {line_id} is reversed by more than its amount")

    for export in session.scalars(select(Export).order_by(Export.period)):
        if checksum(session, export.period, zone) != export.checksum:
            report.problems.append(f"export {export.period} no longer matches its checksum")
    return report
