"""The pure policy engine: Hypothesis properties and worked examples. No database."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from returndesk.policies.document import EU_MEMBER_STATES, PolicyDocument
from returndesk.policies.engine import (
    CustomerHistory,
    Decision,
    LineSnapshot,
    OrderSnapshot,
    RequestInvalid,
    RequestLine,
    ReturnRequest,
    decide,
    window_end,
)

ZONES = [
    "America/New_York",
    "Europe/London",
    "Australia/Sydney",
    "Pacific/Auckland",
    "Asia/Kolkata",
    "UTC",
    "Asia/Beirut",  # falls back at midnight: 23:00-24:00 happens twice
    "America/Santiago",  # springs forward at midnight: 00:00 does not exist
]
STATUTORY = (*EU_MEMBER_STATES, "GB")
NY = "America/New_York"
US = 10**6  # microseconds in a second, for readability


# ---- builders ---------------------------------------------------------------------------------


def line(line_id: str = "1", **overrides: Any) -> LineSnapshot:
    values: dict[str, Any] = {
        "line_id": line_id,
        "sku": f"SKU-{line_id}",
        "name": f"Item {line_id}",
        "category": "shirts",
        "quantity": 1,
        "unit_price": 5000,
        "discount": 0,
        "tax": 0,
        "returnable": True,
        "final_sale": False,
        "already_returned": 0,
    }
    values.update(overrides)
    return LineSnapshot(**values)


DELIVERED = datetime(2026, 3, 1, 15, 0, tzinfo=UTC)  # 10:00 in New York, before the DST change


def order(*lines: LineSnapshot, **overrides: Any) -> OrderSnapshot:
    values: dict[str, Any] = {
        "order_number": "1001",
        "currency": "USD",
        "placed_at": DELIVERED - timedelta(days=3),
        "delivered_at": DELIVERED,
        "ship_country": "US",
        "tax_included": False,
        "lines": lines or (line(),),
        "total": 5000,
    }
    values.update(overrides)
    return OrderSnapshot(**values)


def request(*lines: RequestLine, resolution: str = "refund", proof: str = "order") -> ReturnRequest:
    return ReturnRequest(
        lines=lines or (RequestLine("1", 1, "changed_mind"),), resolution=resolution, proof=proof
    )


def policy(**data: Any) -> PolicyDocument:
    return PolicyDocument.model_validate(data)


def run(
    pol: PolicyDocument | None = None,
    ord_: OrderSnapshot | None = None,
    req: ReturnRequest | None = None,
    history: CustomerHistory | None = None,
    *,
    now: datetime = DELIVERED + timedelta(days=5),
    timezone: str = NY,
) -> Decision:
    return decide(
        pol or PolicyDocument(),
        ord_ or order(),
        req or request(),
        history or CustomerHistory(),
        now=now,
        timezone=timezone,
    )


def codes(decision: Decision, index: int = 0) -> list[str]:
    return [clause.code for clause in decision.verdicts[index].clauses]


def local_end(start: datetime, zone: str, days: int) -> datetime:
    """The brief's definition, computed independently: local start date + days, 23:59:59.999999."""
    tz = ZoneInfo(zone)
    day = start.astimezone(tz).date() + timedelta(days=days)
    return datetime.combine(day, time(23, 59, 59, 999999), tzinfo=tz)


# ---- strategies -------------------------------------------------------------------------------

instants = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2032, 12, 31), timezones=st.just(UTC)
)
percents = st.decimals(min_value=0, max_value=100, places=2, allow_nan=False)
REASON_CODES = ["changed_mind", "wrong_size", "defective", "wrong_item"]
SKUS = ["A", "B", "C", "D"]
CATEGORIES = ["shoes", "hats", "bags"]


@st.composite
def line_snapshots(draw: st.DrawFn, line_id: str) -> LineSnapshot:
    quantity = draw(st.integers(1, 6))
    unit_price = draw(st.integers(0, 200_000))
    return LineSnapshot(
        line_id=line_id,
        sku=draw(st.sampled_from(SKUS)),
        name="item",
        category=draw(st.sampled_from(CATEGORIES)),
        quantity=quantity,
        unit_price=unit_price,
        discount=draw(st.integers(0, unit_price * quantity)),
        tax=draw(st.integers(0, 50_000)),
        returnable=draw(st.booleans()),
        final_sale=draw(st.booleans()),
        already_returned=draw(st.integers(0, quantity + 1)),
    )


@st.composite
def orders(draw: st.DrawFn, ship_country: str | None = None) -> OrderSnapshot:
    n = draw(st.integers(1, 4))
    lines = tuple(draw(line_snapshots(str(i + 1))) for i in range(n))
    placed = draw(instants)
    delivered = draw(
        st.none() | st.integers(0, 20 * 24 * 3600).map(lambda s: placed + timedelta(seconds=s))
    )
    return OrderSnapshot(
        order_number="R-1",
        currency=draw(st.sampled_from(["USD", "EUR", "GBP", "JPY", "KWD"])),
        placed_at=placed,
        delivered_at=delivered,
        ship_country=ship_country or draw(st.sampled_from(["US", "DE", "GB", "FR", "CA", "CH"])),
        tax_included=draw(st.booleans()),
        lines=lines,
        total=draw(st.integers(0, 10**7)),
    )


@st.composite
def policies(draw: st.DrawFn) -> PolicyDocument:
    month_day = st.dates(date(2000, 1, 1), date(2000, 12, 31)).map(lambda d: d.strftime("%m-%d"))
    return policy(
        window_days=draw(st.integers(0, 90)),
        category_window_days=draw(st.dictionaries(st.sampled_from(CATEGORIES), st.integers(0, 90))),
        sku_window_days=draw(st.dictionaries(st.sampled_from(SKUS), st.integers(0, 90))),
        seasonal_extensions=[
            {
                "purchased_from": draw(month_day),
                "purchased_to": draw(month_day),
                "returnable_until": draw(month_day),
                "label": "Season",
            }
            for _ in range(draw(st.integers(0, 2)))
        ],
        non_returnable_skus=draw(st.lists(st.sampled_from(SKUS), max_size=2)),
        non_returnable_categories=draw(st.lists(st.sampled_from(CATEGORIES), max_size=1)),
        proof_of_purchase="order_or_receipt",
        resolutions={"exchange": True, "store_credit_bonus_percent": draw(percents)},
        fees={
            "restocking_percent": draw(percents),
            "restocking_percent_by_reason": draw(
                st.dictionaries(st.sampled_from(REASON_CODES), percents)
            ),
            "restocking_percent_by_category": draw(
                st.dictionaries(st.sampled_from(CATEGORIES), percents)
            ),
            "return_shipping_fee": draw(st.integers(0, 100_000)),
        },
        refund_timing=draw(
            st.sampled_from(["authorization", "first_scan", "delivery", "receipt", "inspection"])
        ),
        auto_approval={
            "max_order_value": draw(st.none() | st.integers(0, 10**7)),
            "max_recent_returns": draw(st.none() | st.integers(0, 5)),
            "max_risk_score": draw(st.none() | percents),
        },
    )


@st.composite
def requests_for(draw: st.DrawFn, ord_: OrderSnapshot) -> ReturnRequest:
    chosen = draw(st.lists(st.sampled_from(ord_.lines), min_size=1, unique_by=lambda x: x.line_id))
    return ReturnRequest(
        lines=tuple(
            RequestLine(
                ln.line_id,
                draw(st.integers(1, 8)),
                draw(st.sampled_from(REASON_CODES)),
                has_photo=True,
            )
            for ln in chosen
        ),
        resolution=draw(st.sampled_from(["refund", "store_credit", "exchange"])),
        proof=draw(st.sampled_from(["order", "receipt"])),
    )


histories = st.builds(
    CustomerHistory,
    recent_returns=st.integers(0, 10),
    completed_returns_without_finding=st.integers(0, 10),
    risk_score=percents,
)


@st.composite
def cases(
    draw: st.DrawFn,
) -> tuple[PolicyDocument, OrderSnapshot, ReturnRequest, CustomerHistory, datetime, str]:
    ord_ = draw(orders())
    now = ord_.placed_at + timedelta(microseconds=draw(st.integers(0, 200 * 24 * 3600 * US)))
    return (
        draw(policies()),
        ord_,
        draw(requests_for(ord_)),
        draw(histories),
        now,
        draw(st.sampled_from(ZONES)),
    )


# ---- properties -------------------------------------------------------------------------------


@given(cases())
def test_it_never_allows_more_than_bought_minus_already_returned(case: Any) -> None:
    pol, ord_, req, history, now, zone = case
    decision = decide(pol, ord_, req, history, now=now, timezone=zone)
    lines = {ln.line_id: ln for ln in ord_.lines}
    assert len(decision.verdicts) == len(req.lines)
    for asked, verdict in zip(req.lines, decision.verdicts, strict=True):
        bought = lines[verdict.line_id]
        assert verdict.line_id == asked.line_id
        assert verdict.requested_quantity == asked.quantity
        assert 0 <= verdict.allowed_quantity <= asked.quantity
        assert verdict.allowed_quantity <= max(0, bought.quantity - bought.already_returned)
        assert verdict.eligible == (verdict.allowed_quantity > 0)
        if not verdict.eligible:
            assert verdict.value == 0
            assert verdict.clauses  # an ineligible line always says why


@given(cases())
def test_final_sale_items_are_never_eligible(case: Any) -> None:
    pol, ord_, req, history, now, zone = case
    decision = decide(pol, ord_, req, history, now=now, timezone=zone)
    lines = {ln.line_id: ln for ln in ord_.lines}
    for verdict in decision.verdicts:
        if lines[verdict.line_id].final_sale:
            assert not verdict.eligible
            assert "final_sale" in [c.code for c in verdict.clauses]
    if not any(v.eligible for v in decision.verdicts):
        assert decision.outcome == "rejected"


@given(
    data=st.data(),
    country=st.sampled_from(STATUTORY),
    zone=st.sampled_from(ZONES),
)
def test_the_statutory_minimum_always_holds(data: st.DataObject, country: str, zone: str) -> None:
    pol = data.draw(policies())
    pol = pol.model_copy(update={"non_returnable_skus": [], "non_returnable_categories": []})
    ord_ = data.draw(orders(ship_country=country))
    sellable = tuple(
        replace(
            ln,
            returnable=True,
            final_sale=False,
            already_returned=min(ln.already_returned, ln.quantity - 1),
        )
        for ln in ord_.lines
    )
    ord_ = replace(ord_, lines=sellable)
    start = ord_.delivered_at or ord_.placed_at
    latest = local_end(start, zone, 14)
    seconds_before = data.draw(st.integers(0, 14 * 24 * 3600 * US))
    now = latest - timedelta(microseconds=seconds_before)
    req = data.draw(requests_for(ord_))
    decision = decide(pol, ord_, req, data.draw(histories), now=now, timezone=zone)
    for verdict in decision.verdicts:
        assert verdict.eligible, verdict.clauses
        assert verdict.window_ends_at is not None and verdict.window_ends_at >= latest
        if (
            max(
                pol.window_days,
                *pol.category_window_days.values(),
                *pol.sku_window_days.values(),
                0,
            )
            < 14
        ):
            assert "statutory_minimum" in [c.code for c in verdict.clauses]


@given(start=instants, zone=st.sampled_from(ZONES), days=st.integers(0, 400))
def test_window_end_is_the_last_microsecond_of_the_local_day(
    start: datetime, zone: str, days: int
) -> None:
    end = window_end(PolicyDocument(), start=start, timezone=zone, days=days)
    assert end.utcoffset() == timedelta(0)
    tz = ZoneInfo(zone)
    expected_day = start.astimezone(tz).date() + timedelta(days=days)
    local = end.astimezone(tz)
    assert local.date() == expected_day
    assert local.time() == time(23, 59, 59, 999999)
    after = (end + timedelta(microseconds=1)).astimezone(tz)
    assert after.date() == expected_day + timedelta(days=1)
    assert after.time() <= time(1)  # 00:00, or the first instant after a skipped midnight


@given(
    start=instants,
    zone=st.sampled_from(ZONES),
    days=st.integers(0, 120),
    delivered=st.booleans(),
)
def test_the_window_boundary_holds_across_time_zones_and_dst(
    start: datetime, zone: str, days: int, delivered: bool
) -> None:
    pol = policy(window_days=days, statutory_minimum_days={})
    ord_ = order(
        placed_at=start if not delivered else start - timedelta(days=2),
        delivered_at=start if delivered else None,
    )
    end = window_end(pol, start=start, timezone=zone, days=days)
    assert end.astimezone(ZoneInfo(zone)).replace(tzinfo=None) == local_end(
        start, zone, days
    ).replace(tzinfo=None)

    def eligible(now: datetime) -> bool:
        decision = run(pol, ord_, now=now, timezone=zone)
        assert decision.verdicts[0].window_ends_at == end
        return decision.verdicts[0].eligible

    assert eligible(end - timedelta(microseconds=1))
    assert eligible(end)
    assert not eligible(end + timedelta(microseconds=1))
    expired = run(pol, ord_, now=end + timedelta(microseconds=1), timezone=zone)
    assert codes(expired) == ["window_expired"]
    assert expired.outcome == "rejected"


@given(cases())
def test_it_is_deterministic(case: Any) -> None:
    pol, ord_, req, history, now, zone = case
    first = decide(pol, ord_, req, history, now=now, timezone=zone)
    again = decide(pol, ord_, req, history, now=now, timezone=zone)
    reloaded = PolicyDocument.model_validate(pol.model_dump(mode="json"))
    assert first == again == decide(reloaded, ord_, req, history, now=now, timezone=zone)
    # the same instant written in another zone is the same instant
    elsewhere = now.astimezone(ZoneInfo("Asia/Tokyo"))
    assert decide(pol, ord_, req, history, now=elsewhere, timezone=zone) == first


@given(cases())
def test_fees_never_exceed_what_they_apply_to_and_the_estimate_is_never_negative(case: Any) -> None:
    pol, ord_, req, history, now, zone = case
    decision = decide(pol, ord_, req, history, now=now, timezone=zone)
    values = {v.line_id: v.value for v in decision.verdicts}
    eligible_total = sum(v.value for v in decision.verdicts if v.eligible)
    fee_total = sum(f.amount for f in decision.fees)
    for fee in decision.fees:
        assert fee.amount > 0 and fee.reason
        if fee.code == "restocking_fee":
            assert fee.line_id is not None and fee.amount <= values[fee.line_id]
        else:
            assert fee.code == "return_shipping_fee" and fee.line_id is None
            assert fee.amount <= pol.fees.return_shipping_fee
    assert [f.code for f in decision.fees].count("return_shipping_fee") <= 1
    assert fee_total <= eligible_total  # values are never negative with these inputs
    assert decision.refund_estimate == eligible_total - fee_total >= 0
    assert decision.store_credit_bonus >= 0
    if req.resolution != "store_credit":
        assert decision.store_credit_bonus == 0


@given(
    quantity=st.integers(1, 8),
    unit_price=st.integers(0, 10**6),
    discount=st.integers(0, 10**6),
    tax=st.integers(0, 10**6),
    tax_included=st.booleans(),
    data=st.data(),
)
def test_successive_returns_of_a_line_add_up_to_what_it_was_paid(
    quantity: int, unit_price: int, discount: int, tax: int, tax_included: bool, data: st.DataObject
) -> None:
    parts = data.draw(st.lists(st.integers(1, quantity), min_size=1))
    returned, total = 0, 0
    for part in parts:
        snap = line(
            quantity=quantity,
            unit_price=unit_price,
            discount=discount,
            tax=tax,
            already_returned=returned,
        )
        decision = run(
            ord_=order(snap, tax_included=tax_included),
            req=request(RequestLine("1", part, "wrong_item")),
        )
        total += decision.verdicts[0].value
        returned += decision.verdicts[0].allowed_quantity
    if returned == quantity:
        assert total == quantity * unit_price - discount + (0 if tax_included else tax)


# ---- invalid requests -------------------------------------------------------------------------


def invalid(req: ReturnRequest, pol: PolicyDocument | None = None) -> list[tuple[str, str]]:
    with pytest.raises(RequestInvalid) as caught:
        run(pol, order(line("1", quantity=2), line("2")), req)
    assert str(caught.value) == "; ".join(f"{f}: {m}" for f, m in caught.value.errors)
    return caught.value.errors


def fields(errors: list[tuple[str, str]]) -> list[str]:
    return [field for field, _ in errors]


def test_a_request_needs_lines() -> None:
    assert invalid(ReturnRequest(lines=(), resolution="refund")) == [
        ("lines", "at least one line is required")
    ]


def test_an_unknown_line_id_is_named() -> None:
    errors = invalid(
        request(RequestLine("1", 1, "changed_mind"), RequestLine("7", 1, "changed_mind"))
    )
    assert errors == [("lines[1].line_id", "no line 7 on this order")]


@pytest.mark.parametrize("quantity", [0, -1])
def test_quantity_must_be_positive(quantity: int) -> None:
    assert fields(invalid(request(RequestLine("1", quantity, "changed_mind")))) == [
        "lines[0].quantity"
    ]


def test_the_same_line_twice_is_refused() -> None:
    errors = invalid(
        request(RequestLine("1", 1, "changed_mind"), RequestLine("1", 1, "wrong_size"))
    )
    assert fields(errors) == ["lines[1].line_id"]
    assert "already in this request" in errors[0][1]


def test_an_unknown_reason_is_refused() -> None:
    errors = invalid(request(RequestLine("1", 1, "bored")))
    assert fields(errors) == ["lines[0].reason"]
    assert "unknown reason 'bored'" in errors[0][1]


def test_a_resolution_not_offered_is_refused() -> None:
    assert fields(invalid(request(resolution="exchange"))) == ["resolution"]
    assert fields(invalid(request(resolution="cash"))) == ["resolution"]
    refund_only = policy(resolutions={"store_credit": False})
    errors = invalid(request(resolution="store_credit"), refund_only)
    assert errors == [("resolution", "'store_credit' is not offered; choose refund")]


def test_a_photo_is_required_where_the_reason_says_so() -> None:
    errors = invalid(request(RequestLine("1", 1, "defective")))
    assert fields(errors) == ["lines[0].photo_upload_ids"]
    assert (
        run(req=request(RequestLine("1", 1, "defective", has_photo=True))).outcome == "authorized"
    )


def test_a_receipt_needs_a_policy_that_accepts_receipts() -> None:
    assert fields(invalid(request(proof="receipt"))) == ["proof_of_purchase_upload_id"]
    assert fields(invalid(request(proof="selfie"))) == ["proof_of_purchase_upload_id"]


def test_every_problem_is_reported_at_once() -> None:
    req = ReturnRequest(
        lines=(
            RequestLine("9", 0, "bored"),
            RequestLine("1", 1, "defective"),
            RequestLine("1", 1, "changed_mind"),
        ),
        resolution="exchange",
        proof="receipt",
    )
    assert fields(invalid(req)) == [
        "lines[0].line_id",
        "lines[0].quantity",
        "lines[0].reason",
        "lines[1].photo_upload_ids",
        "lines[2].line_id",
        "resolution",
        "proof_of_purchase_upload_id",
    ]


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        run(now=datetime(2026, 3, 5))


# ---- windows ----------------------------------------------------------------------------------


def test_the_window_ends_at_the_end_of_the_local_day_across_spring_forward() -> None:
    delivered = datetime(2026, 3, 1, 12, 0, tzinfo=ZoneInfo(NY))
    end = window_end(PolicyDocument(), start=delivered, timezone=NY, days=30)
    assert end == datetime.fromisoformat("2026-03-31T23:59:59.999999-04:00")
    assert end.tzinfo is UTC
    decision = run(ord_=order(delivered_at=delivered), now=end)
    assert decision.verdicts[0].window_ends_at == end
    assert decision.verdicts[0].eligible
    late = run(ord_=order(delivered_at=delivered), now=end + timedelta(microseconds=1))
    assert late.verdicts[0].clauses[0].shopper_message == "The 30-day window ended on 31 March 2026"
    assert "2026-04-01T03:59:59.999999Z" in late.verdicts[0].clauses[0].staff_message
    assert "from delivery" in late.verdicts[0].clauses[0].staff_message


@pytest.mark.parametrize(
    ("zone", "start", "days", "expected"),
    [
        # the local date of the start, not the UTC one: 21:00 on 28 Feb in New York
        (NY, "2026-03-01T02:00:00+00:00", 30, "2026-03-30T23:59:59.999999-04:00"),
        ("Europe/London", "2026-10-20T10:00:00+01:00", 14, "2026-11-03T23:59:59.999999+00:00"),
        ("Europe/London", "2026-03-20T10:00:00+00:00", 14, "2026-04-03T23:59:59.999999+01:00"),
        ("Australia/Sydney", "2026-03-25T10:00:00+11:00", 14, "2026-04-08T23:59:59.999999+10:00"),
        ("Pacific/Auckland", "2026-09-20T10:00:00+12:00", 10, "2026-09-30T23:59:59.999999+13:00"),
        # 01:30 on 2 March in Kolkata
        ("Asia/Kolkata", "2026-03-01T20:00:00+00:00", 30, "2026-04-01T23:59:59.999999+05:30"),
        ("UTC", "2026-12-31T23:59:59+00:00", 0, "2026-12-31T23:59:59.999999+00:00"),
        # 23:00-24:00 on 24 Oct happens twice in Beirut: the day ends after the second one
        ("Asia/Beirut", "2026-10-10T12:00:00+03:00", 14, "2026-10-24T23:59:59.999999+02:00"),
        # midnight of 6 Sep does not exist in Santiago: 5 Sep ends at the transition
        ("America/Santiago", "2026-08-22T12:00:00-04:00", 14, "2026-09-05T23:59:59.999999-04:00"),
    ],
)
def test_window_end_examples(zone: str, start: str, days: int, expected: str) -> None:
    end = window_end(
        PolicyDocument(), start=datetime.fromisoformat(start), timezone=zone, days=days
    )
    assert end == datetime.fromisoformat(expected)


def test_without_a_delivery_time_the_window_counts_from_the_order_date() -> None:
    placed = datetime(2026, 3, 1, 15, 0, tzinfo=UTC)
    decision = run(ord_=order(placed_at=placed, delivered_at=None), now=placed + timedelta(days=40))
    clause = decision.verdicts[0].clauses[0]
    assert clause.code == "window_expired"
    assert "from the order date (no delivery time known)" in clause.staff_message
    assert decision.verdicts[0].window_ends_at == window_end(
        PolicyDocument(), start=placed, timezone=NY, days=30
    )


def test_an_sku_override_beats_a_category_override_beats_the_default() -> None:
    pol = policy(window_days=30, category_window_days={"shoes": 60}, sku_window_days={"SKU-1": 90})
    lines = (line("1", category="shoes"), line("2", category="shoes"), line("3", category="hats"))
    req = request(*(RequestLine(str(i), 1, "changed_mind") for i in (1, 2, 3)))
    decision = run(pol, order(*lines), req)
    ends = [v.window_ends_at for v in decision.verdicts]
    assert ends == [window_end(pol, start=DELIVERED, timezone=NY, days=d) for d in (90, 60, 30)]
    staff = [v.clauses[0].staff_message for v in decision.verdicts]
    assert "SKU override for SKU-1" in staff[0]
    assert "category override for shoes" in staff[1]
    assert "the policy's window" in staff[2]


def test_a_seasonal_extension_reaches_past_the_window() -> None:
    pol = policy(
        window_days=30,
        seasonal_extensions=[
            {
                "purchased_from": "11-01",
                "purchased_to": "12-31",
                "returnable_until": "01-31",
                "label": "Holiday returns",
            }
        ],
    )
    placed = datetime(2026, 11, 15, 18, 0, tzinfo=UTC)
    ord_ = order(placed_at=placed, delivered_at=placed + timedelta(days=2))
    end = datetime.fromisoformat("2027-01-31T23:59:59.999999-05:00")
    inside = run(pol, ord_, now=end)
    assert inside.verdicts[0].eligible and inside.verdicts[0].window_ends_at == end
    assert codes(inside) == ["seasonal_extension", "return_window"]
    assert "returnable until 31 January 2027" in inside.verdicts[0].clauses[0].shopper_message
    after = run(pol, ord_, now=end + timedelta(microseconds=1))
    assert codes(after) == ["seasonal_extension", "window_expired"]
    assert after.verdicts[0].clauses[1].shopper_message == (
        "The extended (Holiday returns) window ended on 31 January 2027"
    )
    # bought in October: no extension
    october = replace(ord_, placed_at=datetime(2026, 10, 15, 18, tzinfo=UTC))
    assert codes(run(pol, october, now=october.placed_at)) == ["return_window"]


def test_the_statutory_minimum_extends_a_shorter_window_and_is_cited() -> None:
    pol = policy(window_days=7)
    delivered = datetime(2026, 3, 10, 12, tzinfo=UTC)
    ord_ = order(delivered_at=delivered, ship_country="DE")
    end = window_end(pol, start=delivered, timezone="Europe/Berlin", days=14)
    decision = run(pol, ord_, now=end, timezone="Europe/Berlin")
    assert decision.verdicts[0].eligible and decision.verdicts[0].window_ends_at == end
    assert codes(decision) == ["statutory_minimum", "return_window"]
    assert "right of withdrawal" in decision.verdicts[0].clauses[0].shopper_message
    # not cited where the merchant's window is already longer, nor outside the EU and the UK
    assert codes(run(PolicyDocument(), ord_, timezone="Europe/Berlin")) == ["return_window"]
    assert codes(run(pol, replace(ord_, ship_country="US"))) == ["return_window"]


# ---- eligibility ------------------------------------------------------------------------------


def test_a_final_sale_line_is_ineligible_but_the_rest_is_authorized() -> None:
    ord_ = order(line("1", final_sale=True), line("2"))
    req = request(RequestLine("1", 1, "changed_mind"), RequestLine("2", 1, "changed_mind"))
    decision = run(ord_=ord_, req=req)
    assert decision.outcome == "authorized"
    final, fine = decision.verdicts
    assert not final.eligible and final.allowed_quantity == 0 and final.value == 0
    assert final.window_ends_at is None
    assert [(c.code, c.shopper_message) for c in final.clauses] == [
        ("final_sale", "Final sale items can't be returned")
    ]
    assert fine.eligible and fine.value == 5000
    assert decision.refund_estimate == 5000


@pytest.mark.parametrize(
    ("snap", "pol", "why"),
    [
        (line(returnable=False), PolicyDocument(), "marked not returnable"),
        (line(), policy(non_returnable_skus=["SKU-1"]), "SKU SKU-1"),
        (line(category="underwear"), policy(non_returnable_categories=["underwear"]), "category"),
    ],
)
def test_items_that_cannot_be_returned(snap: LineSnapshot, pol: PolicyDocument, why: str) -> None:
    decision = run(pol, order(snap))
    assert decision.outcome == "rejected"
    (clause,) = decision.verdicts[0].clauses
    assert clause.code == "not_returnable"
    assert clause.shopper_message == "This item can't be returned"
    assert why in clause.staff_message


def test_the_quantity_is_reduced_to_what_is_left() -> None:
    snap = line(quantity=3, already_returned=1, unit_price=1000, discount=100, tax=190)
    decision = run(ord_=order(snap), req=request(RequestLine("1", 5, "wrong_item")))
    verdict = decision.verdicts[0]
    assert verdict.eligible and verdict.requested_quantity == 5 and verdict.allowed_quantity == 2
    assert "quantity_reduced" in codes(decision)
    # discount 100 -> 34/33/33, tax 190 -> 64/63/63; units 2 and 3 are this return's
    assert verdict.value == 2 * (1000 - 33 + 63)
    gross = run(ord_=order(snap, tax_included=True), req=request(RequestLine("1", 5, "wrong_item")))
    assert gross.verdicts[0].value == 2 * (1000 - 33)


def test_a_line_already_returned_is_ineligible() -> None:
    decision = run(ord_=order(line(quantity=2, already_returned=2)))
    assert decision.outcome == "rejected"
    assert codes(decision) == ["return_window", "already_returned"]
    assert decision.verdicts[0].clauses[1].shopper_message == "Already returned"
    assert decision.verdicts[0].allowed_quantity == 0


# ---- review and timing -----------------------------------------------------------------------


def review_codes(decision: Decision) -> list[str]:
    return [c.code for c in decision.review_clauses]


def test_review_triggers() -> None:
    pol = policy(
        proof_of_purchase="order_or_receipt",
        auto_approval={"max_order_value": 4999, "max_recent_returns": 2, "max_risk_score": 50},
    )
    history = CustomerHistory(recent_returns=2, risk_score=Decimal("50.5"))
    decision = run(pol, req=request(proof="receipt"), history=history)
    assert decision.outcome == "pending_review"
    assert review_codes(decision) == [
        "proof_receipt",
        "order_value_limit",
        "recent_returns_limit",
        "risk_score_limit",
    ]
    staff = [c.staff_message for c in decision.review_clauses]
    assert "50.00 USD is above the auto-approval limit of 49.99 USD" in staff[1]
    assert "2 returns in the last 90 days" in staff[2]
    assert "risk score 50.5 is above the auto-approval limit of 50" in staff[3]


def test_at_the_limits_it_is_authorized() -> None:
    pol = policy(
        auto_approval={"max_order_value": 5000, "max_recent_returns": 2, "max_risk_score": 50}
    )
    history = CustomerHistory(recent_returns=1, risk_score=Decimal(50))
    decision = run(pol, history=history)
    assert decision.outcome == "authorized" and decision.review_clauses == ()


def test_a_rejected_request_is_not_sent_to_review() -> None:
    history = CustomerHistory(risk_score=Decimal(99))
    decision = run(ord_=order(line(final_sale=True)), history=history)
    assert decision.outcome == "rejected" and decision.review_clauses == ()


@pytest.mark.parametrize(
    ("timing", "history", "expected"),
    [
        ("authorization", CustomerHistory(3, 3, Decimal(10)), "authorization"),
        ("first_scan", CustomerHistory(0, 3, Decimal("19.99")), "first_scan"),
        # not trusted: too few clean returns, or a score not below the threshold
        ("authorization", CustomerHistory(0, 2, Decimal(10)), "delivery"),
        ("first_scan", CustomerHistory(0, 5, Decimal(20)), "delivery"),
        ("receipt", CustomerHistory(0, 0, Decimal(50)), "receipt"),
        # high risk: inspection whatever the timing
        ("authorization", CustomerHistory(0, 9, Decimal("80.01")), "inspection"),
        ("delivery", CustomerHistory(0, 0, Decimal(95)), "inspection"),
        ("delivery", CustomerHistory(0, 0, Decimal(80)), "delivery"),
    ],
)
def test_refund_timing(timing: str, history: CustomerHistory, expected: str) -> None:
    pol = policy(refund_timing=timing, auto_approval={"max_risk_score": None})
    assert run(pol, history=history).refund_timing == expected


# ---- fees -------------------------------------------------------------------------------------


def test_restocking_percent_precedence_reason_then_category_then_default() -> None:
    pol = policy(
        fees={
            "restocking_percent": 5,
            "restocking_percent_by_category": {"shoes": 10, "hats": 20},
            "restocking_percent_by_reason": {"wrong_size": "12.5"},
        }
    )
    lines = (
        line("1", category="shoes", unit_price=999),
        line("2", category="shoes", unit_price=1000),
        line("3", category="bags", unit_price=1000),
        line("4", category="hats", unit_price=1000),
    )
    req = request(
        RequestLine("1", 1, "wrong_size"),  # by reason: 12.5 % of 9.99 = 1.24875 -> 1.25
        RequestLine("2", 1, "changed_mind"),  # by category: 10 %
        RequestLine("3", 1, "changed_mind"),  # default: 5 %
        RequestLine("4", 1, "wrong_item"),  # merchant fault: no restocking fee
    )
    decision = run(pol, order(*lines), req)
    assert [(f.line_id, f.amount) for f in decision.fees] == [("1", 125), ("2", 100), ("3", 50)]
    assert "12.5% restocking fee (reason wrong_size)" in decision.fees[0].reason
    assert "category shoes" in decision.fees[1].reason
    assert "the policy's rate" in decision.fees[2].reason
    assert decision.refund_estimate == 3999 - 275
    assert "restocking_fee" not in codes(decision, 3)


def test_the_return_shipping_fee_is_charged_once_when_the_customer_pays() -> None:
    pol = policy(fees={"return_shipping_fee": 595})
    req = request(RequestLine("1", 1, "changed_mind"), RequestLine("2", 1, "wrong_size"))
    decision = run(pol, order(line("1"), line("2")), req)
    assert [(f.code, f.line_id, f.amount) for f in decision.fees] == [
        ("return_shipping_fee", None, 595)
    ]
    assert decision.refund_estimate == 10000 - 595


def test_the_return_shipping_fee_is_waived_when_any_line_is_the_merchants_fault() -> None:
    pol = policy(fees={"return_shipping_fee": 595})
    req = request(RequestLine("1", 1, "changed_mind"), RequestLine("2", 1, "wrong_item"))
    decision = run(pol, order(line("1"), line("2")), req)
    assert decision.fees == ()
    assert "shipping_fee_waived" in codes(decision, 1)
    assert "shipping_fee_waived" not in codes(decision, 0)
    assert decision.refund_estimate == 10000
    # an ineligible merchant-fault line waives nothing
    only_customer = run(pol, order(line("1"), line("2", final_sale=True)), req)
    assert [f.code for f in only_customer.fees] == ["return_shipping_fee"]


def test_the_shipping_fee_is_capped_at_what_is_left() -> None:
    pol = policy(fees={"restocking_percent": 50, "return_shipping_fee": 5000})
    decision = run(pol, order(line(unit_price=3000)))
    assert [(f.code, f.amount) for f in decision.fees] == [
        ("restocking_fee", 1500),
        ("return_shipping_fee", 1500),
    ]
    assert "capped" in decision.fees[1].reason
    assert decision.refund_estimate == 0


def test_store_credit_bonus_rounds_half_up_on_the_estimate() -> None:
    pol = policy(resolutions={"store_credit_bonus_percent": "12.5"})
    snap = line(unit_price=999)
    assert run(pol, order(snap), request(resolution="store_credit")).store_credit_bonus == 125
    assert run(pol, order(snap), request(resolution="refund")).store_credit_bonus == 0


def test_the_decision_carries_the_policy_context() -> None:
    decision = run(ord_=order(currency="EUR"), req=request(resolution="store_credit"))
    assert decision.currency == "EUR"
    assert decision.resolution == "store_credit"
    assert decision.refund_timing == "inspection"
    assert decision.condition_required == PolicyDocument().condition_required


@given(
    total=st.integers(min_value=0, max_value=10**9),
    units=st.integers(min_value=1, max_value=300),
    data=st.data(),
)
def test_equal_shares_match_largest_remainder_allocation(
    total: int, units: int, data: st.DataObject
) -> None:
    from returndesk.core.money import allocate
    from returndesk.policies.engine import _equal_shares_sum

    first = data.draw(st.integers(min_value=0, max_value=units))
    count = data.draw(st.integers(min_value=0, max_value=units - first))
    shares = allocate(total, [1] * units)
    assert _equal_shares_sum(total, units, first, count) == sum(shares[first : first + count])
