"""Hypothesis strategies and builders for the refund calculator's tests. No database."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import strategies as st

from returndesk.core.money import allocate
from returndesk.policies.document import Fees, PolicyDocument, Resolutions
from returndesk.refunds.calculator import (
    Accessory,
    PaidLine,
    PaidOrder,
    PriorRefunds,
    RefundRequest,
    ReturnedLine,
    UnitFinding,
)
from returndesk.refunds.tenders import TENDER_METHODS, Tender

CATEGORIES = ["shirts", "shoes", "audio"]
REASONS = [r.code for r in PolicyDocument().reasons]
GRADES = ["A", "B", "C", "D", "X"]
CURRENCIES = ["USD", "EUR", "GBP", "JPY", "KWD"]
percents = st.decimals(min_value=0, max_value=100, places=2, allow_nan=False)


@st.composite
def policies(draw: st.DrawFn) -> PolicyDocument:
    return PolicyDocument(
        fees=Fees(
            restocking_percent=draw(percents),
            restocking_percent_by_reason=draw(st.dictionaries(st.sampled_from(REASONS), percents)),
            restocking_percent_by_category=draw(
                st.dictionaries(st.sampled_from(CATEGORIES), percents)
            ),
            return_shipping_fee=draw(st.integers(0, 2_000)),
        ),
        resolutions=Resolutions(store_credit_bonus_percent=draw(percents)),
        grade_deductions_percent={grade: draw(percents) for grade in GRADES},
    )


@st.composite
def paid_lines(draw: st.DrawFn, line_id: str) -> PaidLine:
    quantity = draw(st.integers(1, 6) | st.integers(1, 5_000))
    unit_price = draw(st.integers(0, 200_000))
    accessories = tuple(
        Accessory(code, code.title(), draw(st.integers(0, 20_000)))
        for code in draw(st.lists(st.sampled_from(["charger", "case", "strap"]), unique=True))
    )
    return PaidLine(
        line_id=line_id,
        sku=f"SKU-{line_id}",
        quantity=quantity,
        unit_price=unit_price,
        discount=draw(st.integers(0, unit_price * quantity)),
        tax=draw(st.integers(0, 50_000)),
        name=f"Item {line_id}",
        category=draw(st.sampled_from(CATEGORIES)),
        accessories=accessories,
    )


def with_tenders(order: PaidOrder, methods: list[str], weights: list[int]) -> PaidOrder:
    """The order paid by these tenders, splitting its total by the weights (none when it is 0)."""
    total = order.total
    if total == 0:
        return order
    amounts = allocate(total, weights)
    tenders = tuple(
        Tender(
            tender_id=str(i + 1),
            method=method,
            amount=amount,
            currency=order.currency,
            provider={"card": "stripe", "paypal": "paypal"}.get(method, ""),
        )
        for i, (method, amount) in enumerate(zip(methods, amounts, strict=True))
        if amount > 0
    )
    return PaidOrder(
        order.order_number,
        order.currency,
        order.lines,
        tenders,
        order.tax_included,
        order.shipping_total,
        order.order_discount_total,
    )


@st.composite
def paid_orders(draw: st.DrawFn, currency: str | None = None) -> PaidOrder:
    n = draw(st.integers(1, 4))
    lines = tuple(draw(paid_lines(str(i + 1))) for i in range(n))
    tax_included = draw(st.booleans())
    goods = sum(li.unit_price * li.quantity - li.discount for li in lines)
    shipping = draw(st.integers(0, 3_000))
    order = PaidOrder(
        order_number="R-1",
        currency=currency or draw(st.sampled_from(CURRENCIES)),
        lines=lines,
        tax_included=tax_included,
        shipping_total=shipping,
        # Now and then larger than the goods: the rest comes off the shipping.
        order_discount_total=draw(st.integers(0, goods) | st.integers(0, goods + shipping)),
    )
    k = draw(st.integers(1, 4))
    methods = draw(st.lists(st.sampled_from(TENDER_METHODS), min_size=k, max_size=k))
    weights = draw(st.lists(st.integers(1, 100), min_size=k, max_size=k))
    return with_tenders(order, methods, weights)


@st.composite
def findings(draw: st.DrawFn, line: PaidLine, count: int) -> tuple[UnitFinding, ...]:
    inspected = draw(st.integers(0, min(count, 4)))
    codes = [a.code for a in line.accessories]
    return tuple(
        UnitFinding(
            grade=draw(st.none() | st.sampled_from(GRADES)),
            accessories_missing=tuple(draw(st.lists(st.sampled_from(codes), unique=True)))
            if codes
            else (),
            reference=f"ins_{i}",
        )
        for i in range(inspected)
    )


@st.composite
def requests_for(
    draw: st.DrawFn,
    order: PaidOrder,
    prior: PriorRefunds,
    reasons: list[str] | None = None,
    with_findings: bool = True,
) -> RefundRequest | None:
    """A request for some of the units not refunded yet; None when none are left."""
    open_lines = [
        (li, li.quantity - prior.units.get(li.line_id, 0))
        for li in order.lines
        if li.quantity > prior.units.get(li.line_id, 0)
    ]
    if not open_lines:
        return None
    chosen = draw(
        st.lists(st.sampled_from(open_lines), min_size=1, unique_by=lambda x: x[0].line_id)
    )
    lines = []
    for line, left in chosen:
        count = draw(st.integers(1, left))
        lines.append(
            ReturnedLine(
                line_id=line.line_id,
                quantity=count,
                reason=draw(st.sampled_from(reasons or REASONS)),
                findings=draw(findings(line, count)) if with_findings else (),
            )
        )
    return RefundRequest(tuple(lines), resolution=draw(st.sampled_from(["refund", "store_credit"])))


def zero_fee_policy() -> PolicyDocument:
    return PolicyDocument(fees=Fees(), grade_deductions_percent={g: Decimal(0) for g in GRADES})
