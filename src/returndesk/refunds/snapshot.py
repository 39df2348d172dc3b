"""The calculator's inputs read from the database: the order as paid, what a return's units are
at this moment (authorized, received, inspected with findings), and what was refunded before.

Reads only. services.py decides what to do with them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from returndesk.catalog.models import Order, Product
from returndesk.refunds.calculator import (
    Accessory,
    PaidLine,
    PaidOrder,
    PriorRefunds,
    ReturnedLine,
    UnitFinding,
)
from returndesk.refunds.models import Refund, Settlement
from returndesk.refunds.tenders import Tender
from returndesk.returns.models import (
    AUTHORIZED,
    COMPLETED,
    DELIVERED,
    IN_TRANSIT,
    INSPECTED,
    RECEIVED,
    Return,
    ReturnLine,
)
from returndesk.warehouse.models import Inspection, ReceiptLine

# The statuses at which each refund timing has been reached. A lost return has no new money
# due (what was paid before opens an adjustment); released returns have none at all.
REACHED: dict[str, frozenset[str]] = {
    "authorization": frozenset({AUTHORIZED, IN_TRANSIT, DELIVERED, RECEIVED, INSPECTED, COMPLETED}),
    "first_scan": frozenset({IN_TRANSIT, DELIVERED, RECEIVED, INSPECTED, COMPLETED}),
    "delivery": frozenset({DELIVERED, RECEIVED, INSPECTED, COMPLETED}),
    "receipt": frozenset({RECEIVED, INSPECTED, COMPLETED}),
    "inspection": frozenset({INSPECTED, COMPLETED}),
}


def tender_key(position: int) -> str:
    """The calculator's id for a tender: its position in the order, stable and not a raw key."""
    return str(position)


def receipt_line_id(line: ReturnLine, position: int) -> str:
    """The calculator's line id for a return that rests on a receipt (no order in the system)."""
    return f"receipt-{position}"


@dataclass
class ReturnSnapshot:
    """A return's money as the facts stand: the calculator's order, each return line's line id,
    the units that can be refunded now (by the return's status) with their findings, and what
    earlier settlements of this and the order's other returns took."""

    ret: Return
    order: PaidOrder
    line_ids: dict[int, str]  # ReturnLine pk -> the calculator's line id
    eligible: dict[int, int]  # ReturnLine pk -> units refundable at this status
    findings: dict[int, list[UnitFinding]]  # ReturnLine pk -> inspected units' findings, in order
    contradictions: list[str]
    settled_units: dict[int, int]  # ReturnLine pk -> units this return's settlements covered
    return_fee_taken: int
    issued: int  # what this return's settlements came to
    prior_other: PriorRefunds
    prior_all: PriorRefunds
    tender_rows: dict[str, int] = field(default_factory=dict)  # tender key -> Tender pk

    def lines(self) -> list[ReturnLine]:
        return list(self.ret.lines.all())


def paid_order(order: Order) -> PaidOrder:
    products = {
        p.pk: p
        for p in Product.objects.filter(pk__in=[li.product_id for li in order.lines.all()]).only(
            "pk", "category", "accessories"
        )
    }
    lines = []
    for li in order.lines.all():
        product = products.get(li.product_id)
        accessories = tuple(
            Accessory(a["code"], a.get("name", a["code"]), int(a.get("value", 0)))
            for a in (product.accessories if product else [])
        )
        lines.append(
            PaidLine(
                line_id=li.line_id,
                sku=li.sku,
                quantity=li.quantity,
                unit_price=li.unit_price_amount,
                discount=li.discount_amount,
                tax=li.tax_amount,
                name=li.name,
                category=product.category if product else "",
                accessories=accessories,
            )
        )
    tenders = tuple(
        Tender(
            tender_key(t.position),
            t.method,
            t.amount,
            t.currency,
            t.provider,
            t.external_reference,
        )
        for t in order.tenders.all()
    )
    return PaidOrder(
        order_number=order.order_number,
        currency=order.currency,
        lines=tuple(lines),
        tenders=tenders,
        tax_included=order.tax_included,
        shipping_total=order.shipping_total_amount,
        order_discount_total=order.order_discount_total_amount,
    )


def receipt_order(ret: Return) -> PaidOrder:
    """A return resting on a receipt: the order is what the receipt says, at the values the
    return recorded, with no tender (finance pays it by hand, or it becomes store credit)."""
    lines = []
    for i, line in enumerate(ret.lines.all(), start=1):
        unit = line.value_amount // max(1, line.quantity)
        lines.append(
            PaidLine(
                line_id=receipt_line_id(line, i),
                sku=line.sku,
                quantity=line.quantity,
                unit_price=unit,
                discount=unit * line.quantity - line.value_amount,
                name=line.name,
            )
        )
    return PaidOrder(
        order_number=ret.claimed_order_number or ret.ran,
        currency=ret.currency,
        lines=tuple(lines),
    )


def _prior(settlements: Iterable[Settlement], refunds: Iterable[Refund]) -> PriorRefunds:
    units: dict[str, int] = defaultdict(int)
    amounts: dict[str, int] = defaultdict(int)
    shipping = 0
    for s in settlements:
        for line_id, n in s.units.items():
            units[line_id] += int(n)
        for line_id, amount in s.line_amounts.items():
            amounts[line_id] += int(amount)
        shipping += s.shipping_amount
    tenders: dict[str, int] = defaultdict(int)
    for r in refunds:
        if r.tender is not None:
            tenders[tender_key(r.tender.position)] += r.amount
    return PriorRefunds(dict(units), dict(amounts), shipping, dict(tenders))


def _eligible_units(ret: Return, lines: list[ReturnLine]) -> tuple[dict[int, int], bool]:
    """Units refundable at the return's status, and whether they come from inspection."""
    if ret.status in (INSPECTED, COMPLETED):
        counts: dict[int, int] = defaultdict(int)
        for rl_id in Inspection.objects.filter(return_request=ret).values_list(
            "receipt_line__return_line_id", flat=True
        ):
            counts[rl_id] += 1
        return {line.pk: min(counts.get(line.pk, 0), line.quantity) for line in lines}, True
    if ret.status == RECEIVED:
        received = dict(
            ReceiptLine.objects.filter(receipt__return_request=ret).values_list(
                "return_line_id", "received_quantity"
            )
        )
        return {line.pk: min(received.get(line.pk, 0), line.quantity) for line in lines}, False
    return {line.pk: line.quantity for line in lines}, False


def return_snapshot(ret: Return) -> ReturnSnapshot:
    lines = [line for line in ret.lines.select_related("order_line").order_by("pk")]
    if ret.order_id is not None:
        order = Order.objects.prefetch_related("lines", "tenders").get(pk=ret.order_id)
        paid = paid_order(order)
        line_ids = {line.pk: line.order_line.line_id for line in lines if line.order_line}
        tender_rows = {tender_key(t.position): t.pk for t in order.tenders.all()}
        settlements = list(Settlement.objects.filter(order_id=ret.order_id))
        refunds = list(
            Refund.objects.filter(return_request__order_id=ret.order_id).select_related("tender")
        )
    else:
        paid = receipt_order(ret)
        line_ids = {line.pk: receipt_line_id(line, i) for i, line in enumerate(lines, start=1)}
        tender_rows = {}
        settlements = list(Settlement.objects.filter(return_request=ret))
        refunds = []
    # An exchange's own settlements (a difference refunded, a cancelled exchange's line) are
    # exchanges.py's: the refund plan and its reconciliation, which leave exchanged lines out,
    # leave them out too. Their refunds still count against the tenders (prior_all).
    mine = [s for s in settlements if s.return_request_id == ret.pk and s.resolution != "exchange"]
    others = [s for s in settlements if s.return_request_id != ret.pk]
    eligible, inspected = _eligible_units(ret, lines)
    findings: dict[int, list[UnitFinding]] = defaultdict(list)
    contradictions: list[str] = []
    if inspected:
        for insp in (
            Inspection.objects.filter(return_request=ret)
            .select_related("receipt_line")
            .order_by("receipt_line__return_line_id", "unit")
        ):
            findings[insp.receipt_line.return_line_id].append(
                UnitFinding(
                    grade=insp.grade or None,
                    accessories_missing=tuple(insp.accessories_missing),
                    reference=insp.public_id,
                )
            )
            contradictions.extend(f"{insp.sku} unit {insp.unit}: {c}" for c in insp.contradictions)
    settled: dict[int, int] = defaultdict(int)
    by_line_id = {v: k for k, v in line_ids.items()}
    for s in mine:
        for line_id, n in s.units.items():
            if line_id in by_line_id:
                settled[by_line_id[line_id]] += int(n)
    return ReturnSnapshot(
        ret=ret,
        order=paid,
        line_ids=line_ids,
        eligible=eligible,
        findings=dict(findings),
        contradictions=contradictions,
        settled_units=dict(settled),
        return_fee_taken=sum(s.return_fee_amount for s in mine),
        issued=sum(s.total_amount for s in mine),
        prior_other=_prior(others, [r for r in refunds if r.return_request_id != ret.pk]),
        prior_all=_prior(settlements, refunds),
        tender_rows=tender_rows,
    )


def returned_lines(
    snap: ReturnSnapshot, units: Mapping[int, tuple[int, int]]
) -> tuple[ReturnedLine, ...]:
    """The calculator's lines for `units`: ReturnLine pk -> (first unit index, count), with the
    findings of exactly those units."""
    out = []
    for line in snap.lines():
        if line.pk not in units or line.pk not in snap.line_ids:
            continue
        first, count = units[line.pk]
        if count <= 0:
            continue
        found = snap.findings.get(line.pk, [])[first : first + count]
        out.append(ReturnedLine(snap.line_ids[line.pk], count, line.reason, tuple(found)))
    return tuple(out)
