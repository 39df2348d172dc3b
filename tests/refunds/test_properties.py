"""Hypothesis properties of the refund calculator and the tender split. No database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, note
from hypothesis import strategies as st

from returndesk.core.money import allocate, discount_shares
from returndesk.policies.document import PolicyDocument
from returndesk.policies.engine import (
    CustomerHistory,
    LineSnapshot,
    OrderSnapshot,
    RequestLine,
    ReturnRequest,
    decide,
)
from returndesk.refunds.calculator import (
    PaidOrder,
    PriorRefunds,
    RefundCalculation,
    calculate,
    equal_shares_sum,
    line_paid_totals,
)
from returndesk.refunds.tenders import (
    ALLOCATION_RULES,
    LEDGER_METHODS,
    TENDER_METHODS,
    Tender,
    allocate_to_tenders,
)
from tests.refunds.strategies import (
    REASONS,
    paid_orders,
    policies,
    requests_for,
    with_tenders,
    zero_fee_policy,
)

MERCHANT_FAULT = [r.code for r in PolicyDocument().reasons if r.merchant_fault]
rules = st.sampled_from(ALLOCATION_RULES)


def _check_one(order: PaidOrder, result: RefundCalculation) -> None:
    """What holds for every single calculation."""
    currency = order.currency
    assert result.total.amount >= 0
    assert sum(a.amount.amount for a in result.allocations) == result.total.amount
    assert all(a.amount.amount > 0 for a in result.allocations)
    assert all(a.amount <= a.available for a in result.allocations)
    lines_total = sum(line.refund.amount for line in result.lines)
    assert lines_total + result.shipping.amount.amount == result.total.amount
    for line in result.lines:
        assert line.paid.amount >= 0
        assert line.paid.currency == currency
        for deduction in line.deductions:
            assert 0 < deduction.amount.amount <= deduction.basis.amount
        assert sum(d.amount.amount for d in line.deductions) <= line.paid.amount
        assert 0 <= line.net.amount <= line.paid.amount
        assert 0 <= line.return_shipping_fee_share.amount <= line.net.amount
        assert line.refund.amount >= 0
    for deduction in result.return_deductions:
        assert 0 < deduction.amount.amount <= deduction.basis.amount
    fee = sum(d.amount.amount for d in result.return_deductions)
    assert fee == sum(line.return_shipping_fee_share.amount for line in result.lines)
    assert result.store_credit_bonus.amount >= 0
    if result.resolution != "store_credit":
        assert result.store_credit_bonus.amount == 0


@given(
    order=paid_orders(),
    policy=policies(),
    rule=rules,
    data=st.data(),
)
def test_refunded_never_exceeds_paid_over_any_sequence_of_partial_returns(
    order: PaidOrder, policy: PolicyDocument, rule: str, data: st.DataObject
) -> None:
    prior = PriorRefunds()
    paid = line_paid_totals(order)
    for _ in range(data.draw(st.integers(1, 6))):
        request = data.draw(requests_for(order, prior))
        if request is None:
            break
        result = calculate(policy, order, request, prior, allocation_rule=rule)
        _check_one(order, result)
        prior = prior.plus(result)
        for line_id, refunded in prior.lines.items():
            assert refunded <= paid[line_id]
        for tender in order.tenders:
            assert prior.tenders.get(tender.tender_id, 0) <= tender.amount
        assert prior.shipping <= order.shipping_total
        assert sum(prior.tenders.values()) <= order.total


@given(order=paid_orders(), rule=rules, data=st.data())
def test_a_whole_order_returned_in_pieces_without_deductions_refunds_exactly_what_was_paid(
    order: PaidOrder, rule: str, data: st.DataObject
) -> None:
    policy = zero_fee_policy()
    prior = PriorRefunds()
    while (request := data.draw(requests_for(order, prior, MERCHANT_FAULT, False))) is not None:
        result = calculate(policy, order, request, prior, allocation_rule=rule)
        prior = prior.plus(result)
    assert prior.lines == line_paid_totals(order) | {}  # every line, to the minor unit
    assert sum(prior.lines.values()) + prior.shipping == order.total
    if order.tenders:
        assert prior.tenders == {t.tender_id: t.amount for t in order.tenders}


@given(order=paid_orders(), policy=policies(), rule=rules, data=st.data())
def test_the_result_is_deterministic(
    order: PaidOrder, policy: PolicyDocument, rule: str, data: st.DataObject
) -> None:
    request = data.draw(requests_for(order, PriorRefunds()))
    assert request is not None
    first = calculate(policy, order, request, allocation_rule=rule)
    second = calculate(policy.model_copy(deep=True), order, request, allocation_rule=rule)
    assert first == second
    assert first.as_dict() == second.as_dict()


@given(
    total=st.integers(0, 10**7),
    units=st.integers(1, 60),
    data=st.data(),
)
def test_equal_shares_sum_is_the_largest_remainder_split(
    total: int, units: int, data: st.DataObject
) -> None:
    first = data.draw(st.integers(0, units))
    count = data.draw(st.integers(0, units - first))
    expected = sum(allocate(total, [1] * units)[first : first + count])
    assert equal_shares_sum(total, units, first, count) == expected


@st.composite
def tender_sets(draw: st.DrawFn) -> tuple[list[Tender], dict[str, int]]:
    k = draw(st.integers(1, 5))
    tenders = [
        Tender(str(i), draw(st.sampled_from(TENDER_METHODS)), draw(st.integers(1, 10**6)), "USD")
        for i in range(k)
    ]
    before = {t.tender_id: draw(st.integers(0, t.amount)) for t in tenders}
    return tenders, before


@given(tender_sets(), rules, st.data())
def test_the_allocation_sums_to_the_total_and_follows_the_rule(
    tenders_and_before: tuple[list[Tender], dict[str, int]], rule: str, data: st.DataObject
) -> None:
    tenders, before = tenders_and_before
    available = {t.tender_id: t.amount - before[t.tender_id] for t in tenders}
    total = data.draw(st.integers(0, sum(available.values())))
    parts = allocate_to_tenders(total, tenders, before, currency="USD", rule=rule)
    note(repr(parts))
    assert sum(p.amount.amount for p in parts) == total
    by_id = {p.tender_id: p.amount.amount for p in parts}
    for t in tenders:
        assert 0 <= by_id.get(t.tender_id, 0) <= available[t.tender_id]
    first = {"gift_cards_first": LEDGER_METHODS, "card_first": ("card",)}.get(rule, ())
    rest = [t for t in tenders if t.method not in first]
    if any(by_id.get(t.tender_id, 0) for t in rest):
        # The rest gets money only once the first tenders are full...
        assert all(
            by_id.get(t.tender_id, 0) == available[t.tender_id]
            for t in tenders
            if t.method in first
        )
        # ...and then in proportion to what each can still take back, within one minor unit.
        left = sum(by_id.get(t.tender_id, 0) for t in rest)
        weight = sum(available[t.tender_id] for t in rest)
        for t in rest:
            exact = left * available[t.tender_id] / weight
            assert abs(by_id.get(t.tender_id, 0) - exact) < 1
    for part in parts:
        method = part.method
        if method == "other":
            assert part.provider == "manual"
        elif method in LEDGER_METHODS:
            assert part.provider == method


# ---- agreement with the policy engine ---------------------------------------------------------

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


@given(order=paid_orders(), policy=policies(), data=st.data())
def test_the_calculator_agrees_with_the_policy_engines_estimate(
    order: PaidOrder, policy: PolicyDocument, data: st.DataObject
) -> None:
    """Where they overlap (no findings, nothing refunded before, every line eligible), the
    engine's fees and refund estimate are the calculator's. The order discount reaches the
    engine inside each line's discount, shared as returns.services.order_snapshot shares it."""
    order = with_tenders(
        PaidOrder(
            order.order_number,
            order.currency,
            order.lines,
            tax_included=order.tax_included,
            shipping_total=order.shipping_total,
            order_discount_total=order.order_discount_total,
        ),
        ["card"],
        [1],
    )
    shares, _ = discount_shares(
        [li.unit_price * li.quantity - li.discount for li in order.lines],
        order.order_discount_total,
    )
    request = data.draw(requests_for(order, PriorRefunds(), with_findings=False))
    assert request is not None
    snapshot = OrderSnapshot(
        order_number=order.order_number,
        currency=order.currency,
        placed_at=NOW - timedelta(days=3),
        delivered_at=NOW - timedelta(days=1),
        ship_country="US",
        tax_included=order.tax_included,
        lines=tuple(
            LineSnapshot(
                line_id=li.line_id,
                sku=li.sku,
                name=li.name,
                category=li.category,
                quantity=li.quantity,
                unit_price=li.unit_price,
                discount=li.discount + share,
                tax=li.tax,
                returnable=True,
                final_sale=False,
                already_returned=0,
            )
            for li, share in zip(order.lines, shares, strict=True)
        ),
        total=order.total,
    )
    engine_request = ReturnRequest(
        lines=tuple(
            RequestLine(x.line_id, x.quantity, x.reason, has_photo=True) for x in request.lines
        ),
        resolution=request.resolution,
    )
    decision = decide(policy, snapshot, engine_request, CustomerHistory(), now=NOW, timezone="UTC")
    result = calculate(policy, order, request)
    assert all(v.eligible for v in decision.verdicts)
    assert [v.value for v in decision.verdicts] == [line.paid.amount for line in result.lines]
    engine_fees = sorted((f.code, f.line_id, f.amount) for f in decision.fees)
    fees = sorted(
        [(d.code, line.line_id, d.amount.amount) for line in result.lines for d in line.deductions]
        + [(d.code, None, d.amount.amount) for d in result.return_deductions]
    )
    assert fees == engine_fees
    assert decision.refund_estimate == result.total.amount - result.shipping.amount.amount
    if result.shipping.amount.amount == 0:
        assert decision.store_credit_bonus == result.store_credit_bonus.amount


def test_reasons_cover_both_faults() -> None:
    assert MERCHANT_FAULT and set(MERCHANT_FAULT) < set(REASONS)
