"""The worked examples of docs/refunds.md, computed there by hand. No database."""

from __future__ import annotations

from decimal import Decimal

from returndesk.policies.document import Fees, PolicyDocument, Resolutions
from returndesk.refunds.calculator import (
    Accessory,
    PaidLine,
    PaidOrder,
    PriorRefunds,
    RefundCalculation,
    RefundRequest,
    ReturnedLine,
    UnitFinding,
    calculate,
)
from returndesk.refunds.tenders import Tender


def _parts(result: RefundCalculation) -> list[tuple[str | None, str, int]]:
    return [(a.tender_id, a.provider, a.amount.amount) for a in result.allocations]


def test_example_1_an_order_discount_shared_over_three_lines() -> None:
    """Shopify's order #1001 shape: 10.00 off the order, 3.98 tax per line, one line back."""
    order = PaidOrder(
        order_number="1001",
        currency="USD",
        lines=tuple(
            PaidLine(line_id, sku, 1, 19900, tax=398)
            for line_id, sku in (
                ("466157049", "IPOD2008GREEN"),
                ("518995019", "IPOD2008RED"),
                ("703073504", "IPOD2008BLACK"),
            )
        ),
        tenders=(Tender("1", "card", 59894, "USD", provider="stripe"),),
        order_discount_total=1000,
    )
    result = calculate(
        PolicyDocument(),
        order,
        RefundRequest((ReturnedLine("518995019", 1, "changed_mind"),)),
    )
    (line,) = result.lines
    assert line.order_discount.amount == 333  # 1000 x 19900 / 59700 = 333.33; 334 went to line 1
    assert line.paid.amount == 19900 - 333 + 398 == 19965
    assert line.deductions == ()
    assert result.total.amount == 19965
    assert _parts(result) == [("1", "stripe", 19965)]


def test_example_2_fees_a_grade_and_a_missing_charger_on_a_tax_included_order() -> None:
    policy = PolicyDocument(fees=Fees(restocking_percent=Decimal(10), return_shipping_fee=395))
    order = PaidOrder(
        order_number="EX-2",
        currency="EUR",
        lines=(
            PaidLine(
                "A",
                "HP-1",
                2,
                4999,
                discount=1000,
                tax=1596,
                name="Headphones",
                accessories=(Accessory("charger", "Charger", 1200), Accessory("case", "Case", 500)),
            ),
            PaidLine("B", "CB-1", 1, 2000, name="Cable"),
        ),
        tenders=(
            Tender("1", "gift_card", 3000, "EUR"),
            Tender("2", "card", 7988, "EUR", provider="stripe"),
        ),
        tax_included=True,
        shipping_total=490,
        order_discount_total=500,
    )
    request = RefundRequest(
        (
            ReturnedLine(
                "A",
                2,
                "changed_mind",
                (UnitFinding("B", (), "ins_1"), UnitFinding("A", ("charger",), "ins_2")),
            ),
        )
    )
    result = calculate(policy, order, request)
    (line,) = result.lines
    assert line.order_discount.amount == 409  # 500 x 8998 / 10998 = 409.07; B gets 91
    assert line.paid.amount == 9998 - 1000 - 409 == 8589  # tax 15.96 is inside the price
    assert [(d.code, d.amount.amount, d.basis.amount) for d in line.deductions] == [
        ("restocking_fee", 859, 8589),  # 10% of 85.89 = 8.589, half-up
        ("grade", 429, 4294),  # unit 1: 49.99 - 7.05 = 42.94; 10% = 4.294
        ("missing_accessory", 1200, 1200),
    ]
    assert line.deductions[1].rule == "grade_deductions_percent.B"
    assert line.deductions[2].rule == "accessories_missing.charger"
    assert line.net.amount == 6101
    assert [d.amount.amount for d in result.return_deductions] == [395]
    assert line.refund.amount == result.total.amount == 5706
    assert result.shipping.amount.amount == 0
    assert _parts(result) == [("1", "gift_card", 3000), ("2", "stripe", 2706)]


def test_example_3_two_returns_then_store_credit_with_a_bonus_for_a_defect() -> None:
    policy = PolicyDocument(
        fees=Fees(return_shipping_fee=500),
        resolutions=Resolutions(store_credit_bonus_percent=Decimal(10)),
    )
    order = PaidOrder(
        order_number="EX-3",
        currency="USD",
        lines=(PaidLine("X", "MUG", 3, 2500, tax=600), PaidLine("Y", "POT", 1, 4000, tax=320)),
        tenders=(
            Tender("1", "card", 6000, "USD", provider="stripe"),
            Tender("2", "paypal", 7219, "USD", provider="paypal"),
        ),
        shipping_total=799,
    )
    assert order.total == 13219
    free = PolicyDocument()
    first = calculate(free, order, RefundRequest((ReturnedLine("X", 1, "changed_mind"),)))
    assert first.total.amount == 2700
    # 2700 x 6000 / 13219 = 1225.51 and 2700 x 7219 / 13219 = 1474.49: the card's remainder
    # (6725) beats PayPal's (6494), so the card gets the leftover cent.
    assert _parts(first) == [("1", "stripe", 1226), ("2", "paypal", 1474)]

    prior = PriorRefunds().plus(first)
    second = calculate(
        policy,
        order,
        RefundRequest(
            (ReturnedLine("X", 2, "defective", (UnitFinding(), UnitFinding("D"))),),
            resolution="store_credit",
        ),
        prior,
    )
    (line,) = second.lines
    assert line.first_unit == 2
    assert line.paid.amount == 5400
    assert line.deductions == ()  # no restocking for a defect; grade D waived (merchant's fault)
    assert any("no grade deduction" in n for n in line.notes)
    assert second.return_deductions == ()  # the return shipping fee is waived
    assert second.shipping.amount.amount == 799
    assert second.total.amount == 6199
    assert second.store_credit_bonus.amount == 620  # 10% of 61.99 = 6.199, half-up
    assert second.store_credit_total.amount == 6819
    # What the tenders can still take back: 4774 and 5745. 6199 x 4774 / 10519 = 2813.39
    # (remainder 4079) and 6199 x 5745 / 10519 = 3385.61 (remainder 6440): PayPal's cent.
    assert _parts(second) == [("1", "store_credit", 2813), ("2", "store_credit", 3386)]
