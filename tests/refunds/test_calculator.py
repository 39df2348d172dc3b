"""The refund calculator's rules one at a time: refusals, caps, waivers, routes. No database."""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal

import pytest

from returndesk.policies.document import Fees, PolicyDocument, Resolutions
from returndesk.refunds.calculator import (
    Accessory,
    CurrencyMismatch,
    PaidLine,
    PaidOrder,
    PriorRefunds,
    RefundInvalid,
    RefundRequest,
    ReturnedLine,
    UnitFinding,
    calculate,
    line_paid_totals,
)
from returndesk.refunds.tenders import Tender, allocate_to_tenders

POLICY = PolicyDocument()


def order(**overrides: object) -> PaidOrder:
    values: dict[str, object] = {
        "order_number": "O-1",
        "currency": "USD",
        "lines": (
            PaidLine("1", "JKT", 2, 5000, tax=800, accessories=(Accessory("belt", "Belt", 1500),)),
        ),
        "tenders": (Tender("1", "card", 11300, "USD", provider="stripe"),),
        "shipping_total": 500,
    }
    values.update(overrides)
    return PaidOrder(**values)  # type: ignore[arg-type]


def back(*lines: ReturnedLine, **kw: object) -> RefundRequest:
    return RefundRequest(lines, **kw)  # type: ignore[arg-type]


def test_it_refuses_a_request_in_another_currency() -> None:
    with pytest.raises(CurrencyMismatch) as caught:
        calculate(POLICY, order(), back(ReturnedLine("1", 1, "changed_mind"), currency="EUR"))
    assert caught.value.code == "currency_mismatch"
    assert caught.value.errors[0][0] == "currency"
    assert "never converted" in str(caught.value)


def test_it_refuses_a_tender_in_another_currency() -> None:
    tenders = (Tender("1", "card", 11300, "GBP"),)
    with pytest.raises(CurrencyMismatch, match="tender 1 is in GBP but the order is in USD"):
        calculate(POLICY, order(tenders=tenders), back(ReturnedLine("1", 1, "changed_mind")))


def test_it_refuses_an_unknown_currency() -> None:
    with pytest.raises(CurrencyMismatch, match="ISO 4217"):
        calculate(POLICY, order(currency="usd"), back(ReturnedLine("1", 1, "changed_mind")))


def test_it_lists_every_problem_of_a_request_at_once() -> None:
    request = back(
        ReturnedLine("9", 1, "changed_mind"),
        ReturnedLine("1", 3, "bored", (UnitFinding("Q", ("hat",)),)),
        resolution="cash",
    )
    with pytest.raises(RefundInvalid) as caught:
        calculate(POLICY, order(), request)
    fields = [where for where, _ in caught.value.errors]
    assert fields == [
        "resolution",
        "lines[0].line_id",
        "lines[1].quantity",
        "lines[1].reason",
        "lines[1].findings[0].grade",
        "lines[1].findings[0].accessories_missing",
    ]


def test_it_refuses_units_already_refunded() -> None:
    prior = PriorRefunds(units={"1": 2}, lines={"1": 10800}, tenders={"1": 10800})
    with pytest.raises(RefundInvalid, match="only 0 of the 2 bought are not refunded yet"):
        calculate(POLICY, order(), back(ReturnedLine("1", 1, "changed_mind")), prior)


def test_it_refuses_tenders_that_do_not_add_up_to_the_order() -> None:
    tenders = (Tender("1", "card", 100, "USD"),)
    with pytest.raises(RefundInvalid, match=r"tenders add up to 1.00 USD but the order total"):
        calculate(POLICY, order(tenders=tenders), back(ReturnedLine("1", 1, "changed_mind")))


def test_it_refuses_when_the_tenders_cannot_take_it_back() -> None:
    prior = PriorRefunds(tenders={"1": 11000})  # inconsistent with the lines: nothing recorded
    with pytest.raises(RefundInvalid, match="can still take back") as caught:
        calculate(POLICY, order(), back(ReturnedLine("1", 1, "changed_mind")), prior)
    assert caught.value.errors[0][0] == "prior.tenders"


def test_a_line_is_capped_at_what_it_has_left() -> None:
    # One unit refunded before, but recorded at more than a unit's worth: the second unit gets
    # only what is left of the line, and says so.
    prior = PriorRefunds(units={"1": 1}, lines={"1": 10000}, tenders={"1": 10000})
    result = calculate(POLICY, order(), back(ReturnedLine("1", 1, "changed_mind")), prior)
    (line,) = result.lines
    assert line.paid.amount == 5400
    assert line.net.amount == 10800 - 10000
    assert "capped at the 8.00 USD of the line not refunded yet" in line.notes[0]


def test_deductions_stop_at_zero() -> None:
    policy = PolicyDocument(
        fees=Fees(restocking_percent=Decimal(50)),
        grade_deductions_percent={"C": Decimal(60)},
    )
    request = back(ReturnedLine("1", 1, "changed_mind", (UnitFinding("C", ("belt",)),)))
    result = calculate(policy, order(), request)
    (line,) = result.lines
    assert [(d.code, d.amount.amount, d.capped) for d in line.deductions] == [
        ("restocking_fee", 2700, False),
        ("grade", 2700, True),  # 60% of 54.00 = 32.40, capped at the 27.00 left
    ]
    assert "capped at the 27.00 USD left on the line" in line.deductions[1].reason
    assert line.net.amount == 0 and result.total.amount == 0
    assert result.allocations == ()


def test_not_the_item_sold_is_deducted_whatever_the_reason() -> None:
    request = back(ReturnedLine("1", 2, "wrong_item", (UnitFinding("X"), UnitFinding("D"))))
    result = calculate(POLICY, order(), request)
    (line,) = result.lines
    assert [(d.code, d.amount.amount) for d in line.deductions] == [("grade", 5400)]
    assert line.notes == (
        "grade D on unit 2: no grade deduction, 'Wrong item sent' is the merchant's fault",
    )
    assert result.shipping.amount.amount == 500  # the merchant's fault: shipping comes back


def test_shipping_is_refunded_once() -> None:
    first = calculate(POLICY, order(), back(ReturnedLine("1", 1, "defective")))
    assert first.shipping.amount.amount == 500
    second = calculate(
        POLICY, order(), back(ReturnedLine("1", 1, "defective")), PriorRefunds().plus(first)
    )
    assert second.shipping.amount.amount == 0
    assert second.shipping.refunded_before.amount == 500
    assert first.total.amount + second.total.amount == order().total


def test_a_discount_larger_than_the_goods_comes_off_the_shipping() -> None:
    big = order(order_discount_total=10500, tenders=(Tender("1", "card", 800, "USD"),))
    assert line_paid_totals(big) == {"1": 800}  # 100.00 - 100.00 of goods + 8.00 tax
    result = calculate(POLICY, big, back(ReturnedLine("1", 2, "defective")))
    assert result.shipping.paid.amount == 0
    assert result.total.amount == 800


def test_the_return_shipping_fee_is_waived_when_any_line_is_merchant_paid() -> None:
    policy = PolicyDocument(fees=Fees(return_shipping_fee=700))
    two = order(
        lines=(PaidLine("1", "A", 1, 5000), PaidLine("2", "B", 1, 3000)),
        tenders=(Tender("1", "card", 8500, "USD"),),
    )
    mixed = calculate(
        policy, two, back(ReturnedLine("1", 1, "changed_mind"), ReturnedLine("2", 1, "defective"))
    )
    assert mixed.return_deductions == ()
    assert "waived: 'Defective or doesn't work' is a merchant-paid reason" in mixed.checks[-1]
    customer = calculate(
        policy, two, back(ReturnedLine("1", 1, "changed_mind"), ReturnedLine("2", 1, "wrong_size"))
    )
    # 7.00 over 50.00 and 30.00 by largest remainder: 4.375 and 2.625 -> 4.38 and 2.62.
    assert [line.return_shipping_fee_share.amount for line in customer.lines] == [438, 262]
    assert customer.total.amount == 8000 - 700


def test_routes_name_the_provider_or_manual() -> None:
    tenders = [
        Tender("1", "card", 100, "USD", provider="stripe", external_reference="ch_1"),
        Tender("2", "card", 100, "USD", provider="adyen"),
        Tender("3", "card", 100, "USD"),
        Tender("4", "paypal", 100, "USD"),
        Tender("5", "other", 100, "USD"),
        Tender("6", "gift_card", 100, "USD"),
        Tender("7", "store_credit", 100, "USD"),
    ]
    parts = allocate_to_tenders(700, tenders, {}, currency="USD", rule="proportional")
    assert [(p.tender_id, p.provider) for p in parts] == [
        ("1", "stripe"),
        ("2", "manual"),
        ("3", "manual"),
        ("4", "paypal"),
        ("5", "manual"),
        ("6", "gift_card"),
        ("7", "store_credit"),
    ]
    assert parts[0].external_reference == "ch_1"
    assert "no adyen adapter" in parts[1].reason
    assert "another method" in parts[4].reason


def test_card_first_fills_the_card_before_the_others() -> None:
    tenders = [
        Tender("1", "gift_card", 3000, "USD"),
        Tender("2", "paypal", 2000, "USD"),
        Tender("3", "card", 5000, "USD", provider="stripe"),
    ]
    parts = allocate_to_tenders(6000, tenders, {"3": 1000}, currency="USD", rule="card_first")
    assert [(p.tender_id, p.amount.amount) for p in parts] == [("1", 1200), ("2", 800), ("3", 4000)]


def test_an_order_without_tenders_is_refunded_by_hand() -> None:
    result = calculate(POLICY, order(tenders=()), back(ReturnedLine("1", 1, "changed_mind")))
    (part,) = result.allocations
    assert (part.tender_id, part.provider, part.amount.amount) == (None, "manual", 5400)


def test_the_preview_is_plain_json() -> None:
    request = back(ReturnedLine("1", 1, "changed_mind", (UnitFinding("B", ("belt",), "ins_9"),)))
    preview = calculate(POLICY, order(), request).as_dict()
    assert json.loads(json.dumps(preview)) == preview
    assert preview["total"] == {"amount": 5400 - 540 - 1500, "currency": "USD"}
    assert preview["lines"][0]["deductions"][0]["reason"] == (
        "grade B on unit 1 (ins_9): 10% of 54.00 USD"
    )
    assert preview["allocations"][0]["provider"] == "stripe"


def test_a_jpy_order_has_no_minor_units_to_lose() -> None:
    yen = order(
        currency="JPY",
        lines=(PaidLine("1", "TEA", 3, 1000, discount=100),),
        tenders=(Tender("1", "card", 2900, "JPY"),),
        shipping_total=0,
    )
    results = []
    prior = PriorRefunds()
    for _ in range(3):
        result = calculate(POLICY, yen, back(ReturnedLine("1", 1, "changed_mind")), prior)
        prior = prior.plus(result)
        results.append(result.total.amount)
    assert results == [966, 967, 967]  # the discount's 100 split 34, 33, 33
    assert sum(results) == yen.total


def test_store_credit_bonus_is_not_taken_from_the_tenders() -> None:
    policy = PolicyDocument(resolutions=Resolutions(store_credit_bonus_percent=Decimal("12.5")))
    result = calculate(
        policy, order(), back(ReturnedLine("1", 1, "changed_mind"), resolution="store_credit")
    )
    assert result.store_credit_bonus.amount == 675  # 12.5% of 54.00
    assert sum(p.amount.amount for p in result.allocations) == 5400
    assert replace(result, resolution="refund").store_credit_total.amount == 0
