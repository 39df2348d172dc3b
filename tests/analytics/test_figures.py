"""Every figure of the summary and the return-rate tables on a small data set, against answers
worked out by hand (the working is in the comments).

The shop (UTC, USD) sells MUG (kitchen, 10.00), TEE (apparel, 20.00) and CAP (apparel, 15.00)
and the range is March 2026. Times are on whole hours so each cycle time is exact.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from fractions import Fraction

import pytest

from returndesk.analytics.rollups import rollups_build
from returndesk.analytics.selectors import Summary, analytics_summary, return_rates
from returndesk.core.tenancy import merchant_scope
from returndesk.tenants.models import Merchant
from tests.analytics.builders import Shop
from tests.analytics.conftest import HOUR, MARCH, at, usd

pytestmark = pytest.mark.django_db


def summary(shop: Shop, **kw: str) -> Summary:
    with merchant_scope(shop.merchant):
        return analytics_summary(merchant=shop.merchant, first=MARCH[0], last=MARCH[1], **kw)


def test_return_rate_reasons_and_channels(shop: Shop) -> None:
    figures = summary(shop)
    rate = figures.return_rate
    # counted: R1, R2, R3, R5; their lines 2 + 1 + 1 + 1 = 5, units 3 + 4 + 1 + 1 = 9,
    # value 3800 + 8000 + 1500 + 1000 = 14300; released: R4 (rejected) and R7 (cancelled)
    assert (rate.returns, rate.lines_returned, rate.units_returned) == (4, 5, 9)
    assert (rate.units_sold, rate.value_sold, rate.value_returned) == (37, usd(62000), usd(14300))
    assert rate.released == 2
    assert rate.units_rate == Fraction(9, 37)
    assert rate.value_rate == Fraction(14300, 62000)
    # wrong_size: R1 TEE 1 + R2 TEE 4 = 5 units (1800 + 8000); defective: R1 MUG 2 + R3 CAP 1 +
    # R5 MUG 1 = 4 units (2000 + 1500 + 1000)
    assert [
        (r.key, r.lines_returned, r.units_returned, r.value_returned) for r in figures.reasons
    ] == [
        ("wrong_size", 2, 5, usd(9800)),
        ("defective", 3, 4, usd(4500)),
    ]
    assert [r.share for r in figures.reasons] == [Fraction(5, 9), Fraction(4, 9)]
    assert figures.reasons[0].units_rate == Fraction(5, 37)
    # api: R2 4 units; portal: R1 3 + R3 1 = 4 units; email: R5 1 (ties by name)
    assert [(c.key, c.units_returned, c.value_returned) for c in figures.channels] == [
        ("api", 4, usd(8000)),
        ("portal", 4, usd(5300)),
        ("email", 1, usd(1000)),
    ]


def test_reasons_over_time_by_week(shop: Shop) -> None:
    figures = summary(shop, period="week")
    # weeks from Monday: 1 March 2026 is a Sunday, in the week of 23 February
    assert [p.start.isoformat() for p in figures.periods] == [
        "2026-02-23", "2026-03-02", "2026-03-09", "2026-03-16", "2026-03-23", "2026-03-30",
    ]  # fmt: skip
    by_start = {p.start.isoformat(): p for p in figures.periods}
    # week of 2 March: the first order (15 units, 19000) and R1
    assert by_start["2026-03-02"].units_sold == 15
    assert by_start["2026-03-02"].value_sold == usd(19000)
    assert by_start["2026-03-02"].reasons == {"defective": 2, "wrong_size": 1}
    assert by_start["2026-03-02"].units_rate == Fraction(3, 15)
    # week of 9 March: the second order (22 units, 43000) and R2
    assert (by_start["2026-03-09"].units_sold, by_start["2026-03-09"].reasons) == (
        22,
        {"wrong_size": 4},
    )
    assert by_start["2026-03-16"].reasons == {"defective": 1}  # R3
    assert by_start["2026-03-23"].reasons == {"defective": 1}  # R5 (R4 rejected)
    assert by_start["2026-03-30"].reasons == {}  # R7 cancelled
    assert figures.reason_codes == ["wrong_size", "defective"]


def test_cycle_times(shop: Shop) -> None:
    times = {c.step: (c.returns, c.p50, c.p90) for c in summary(shop).cycle_times}
    # p50 and p90 interpolate between order statistics: position (n - 1) x q
    # request to shipment: 12, 12, 24, 24 h -> p50 (12 + 24) / 2 = 18 h; p90 at 2.7 -> 24 h
    assert times["request_to_shipment"] == (4, 18 * HOUR, 24 * HOUR)
    # shipment to receipt: 24, 36, 48, 48 h -> p50 42 h, p90 48 h
    assert times["shipment_to_receipt"] == (4, 42 * HOUR, 48 * HOUR)
    # receipt to inspection: 6, 6, 6 h (R3 is not inspected)
    assert times["receipt_to_inspection"] == (3, 6 * HOUR, 6 * HOUR)
    # inspection to refund: 2, 4, 24 h -> p50 4 h; p90 at 1.8 -> 4 + 0.8 x 20 = 20 h
    assert times["inspection_to_refund"] == (3, 4 * HOUR, 20 * HOUR)
    # end to end: 58, 68, 102 h -> p50 68 h; p90 68 + 0.8 x 34 = 95.2 h
    assert times["end_to_end"] == (3, 68 * HOUR, Fraction(952, 10) * HOUR)


def test_dispositions(shop: Shop) -> None:
    found = summary(shop).dispositions
    # restock: R1 MUG#2 (800, sold 1000, 2 kg), R1 TEE (1500, 2000, 3.25 kg), R2 TEE x4 (1500,
    # 2000, 3.25 kg each): 6 units, 800 + 5 x 1500 = 8300 of 1000 + 5 x 2000 = 11000,
    # 2 + 5 x 3.25 = 18.25 kg. refurbish: R1 MUG#1, 300 of 1000, 1.5 kg.
    assert [(r.option, r.units, r.recovered, r.original, r.co2e_kg) for r in found.rows] == [
        ("restock", 6, usd(8300), usd(11000), Decimal("18.25")),
        ("refurbish", 1, usd(300), usd(1000), Decimal("1.5")),
    ]
    assert (found.units, found.recovered, found.original) == (7, usd(8600), usd(12000))
    assert found.co2e_kg == Decimal("19.75")
    assert found.recovery_rate == Fraction(8600, 12000)


def test_money(shop: Shop) -> None:
    money = summary(shop).money
    # succeeded: card 3320 (R1) + 750 (R5); store credit 8000 (R2); the PayPal 100 failed
    assert [(r.key, r.count, r.amount) for r in money.refunds] == [
        ("store_credit", 1, usd(8000)),
        ("card", 2, usd(4070)),
    ]
    assert money.refunded == usd(12070)
    assert [(r.key, r.count, r.amount) for r in money.open_refunds] == [("failed", 1, usd(100))]
    credit = money.store_credit
    # 8000 + 800 bonus issued, 5000 spent, 3800 left
    assert (credit.issued, credit.bonus, credit.redeemed, credit.unspent) == (
        usd(8800),
        usd(800),
        usd(5000),
        usd(3800),
    )
    assert credit.expired == credit.other == usd(0)
    # R3's exchange kept 1500; retained = 1500 + (8800 - 800) = 9500
    assert (money.exchanges, money.exchange_credit, money.retained) == (1, usd(1500), usd(9500))
    # deductions: 180 restocking (R1), 300 return shipping (R1), 250 grade (R5)
    assert [(r.key, r.count, r.amount) for r in money.fees] == [
        ("return_shipping_fee", 1, usd(300)),
        ("grade", 1, usd(250)),
        ("restocking_fee", 1, usd(180)),
    ]
    assert money.fees_total == usd(730)


def test_cost_per_return(shop: Shop) -> None:
    cost = summary(shop).cost
    # labels of counted returns: 500 + 500 + 400 = 1400; received: R1, R2, R3, R5 = 4 x 3.50
    # (the default processing figure) = 1400; (1400 + 1400) / 4 returns = 700
    assert (cost.returns, cost.labels, cost.label_cost) == (4, 3, usd(1400))
    assert (cost.processed, cost.processing_each, cost.processing_cost) == (4, usd(350), usd(1400))
    assert (cost.total, cost.per_return) == (usd(2800), usd(700))


def test_fraud(shop: Shop) -> None:
    fraud = summary(shop).fraud
    # signals over every return of the range: order_value R3, R4, R5; blocklisted R4;
    # email_velocity R3
    assert fraud.signals == [("order_value", 3), ("blocklisted", 1), ("email_velocity", 1)]
    # reviewed: R3 (1500, approved) and R4 (3000, rejected)
    assert (fraud.reviewed, fraud.reviewed_value, fraud.approved, fraud.rejected) == (
        2,
        usd(4500),
        1,
        1,
    )
    assert fraud.rejected_value == usd(3000)
    # R5's empty box: 250 deducted; not a reviewed return
    assert (fraud.contradicted, fraud.contradicted_reviewed) == (1, 0)
    assert fraud.contradicted_deductions == usd(250)
    assert [(a.key, a.count, a.amount) for a in fraud.adjustments] == [("inspection", 1, usd(750))]
    # held back: 3000 rejected + 250 deducted + 750 taken back
    assert fraud.held_back == usd(4000)


def test_return_rates_by_sku_worst_first(shop: Shop) -> None:
    with merchant_scope(shop.merchant):
        rows = return_rates(merchant=shop.merchant, first=MARCH[0], last=MARCH[1], group_by="sku")
        small = return_rates(
            merchant=shop.merchant, first=MARCH[0], last=MARCH[1], group_by="sku", min_units=5
        )
    # MUG: 3 of 10 (3000 of 10000); TEE: 5 of 25 (9800 of 49000); CAP: 1 of 2 (1500 of 3000).
    # At the default minimum of 20 units sold only TEE is ranked; the others follow by units
    # returned. With a minimum of 5, MUG (30 %) comes before TEE (20 %); CAP stays unranked.
    assert [(r.key, r.ranked, r.units_rate) for r in rows] == [
        ("TEE", True, Fraction(1, 5)),
        ("MUG", False, Fraction(3, 10)),
        ("CAP", False, Fraction(1, 2)),
    ]
    assert [r.key for r in small] == ["MUG", "TEE", "CAP"]
    tee = rows[0]
    assert (tee.units_sold, tee.value_sold, tee.value_returned) == (25, usd(49000), usd(9800))
    assert tee.value_rate == Fraction(9800, 49000)
    assert tee.label == "Tee product"


def test_return_rates_by_category_reason_channel_period(shop: Shop) -> None:
    def rates(group_by: str, **kw: str) -> list[tuple[str, int, int]]:
        with merchant_scope(shop.merchant):
            found = return_rates(
                merchant=shop.merchant, first=MARCH[0], last=MARCH[1], group_by=group_by, **kw
            )
        return [(r.key, r.units_sold, r.units_returned) for r in found]

    # apparel: TEE + CAP, 27 units sold, 6 returned; kitchen: MUG, 10 sold (unranked), 3 returned
    assert rates("category") == [("apparel", 27, 6), ("kitchen", 10, 3)]
    # a reason or channel against the range's 37 units sold
    assert rates("reason") == [("wrong_size", 37, 5), ("defective", 37, 4)]
    assert rates("channel") == [("api", 37, 4), ("portal", 37, 4), ("email", 37, 1)]
    assert rates("period", period="month") == [("2026-03-01", 37, 9)]


def test_the_day_is_the_merchants_local_day(make_merchant: Callable[..., Merchant]) -> None:
    # 03:00 UTC on 1 March is 22:00 on 28 February in New York
    shop = Shop(make_merchant("eastern", tz="America/New_York"))
    shop.product("MUG", category="kitchen")
    (early,) = shop.order(at(1, 3), [("MUG", 2, 1000, 0)])
    shop.order(at(1, 5), [("MUG", 3, 1000, 0)])
    shop.return_(at(1, 4), [(early, 1, "defective", 1000)])
    rollups_build(merchant=shop.merchant)
    with merchant_scope(shop.merchant):
        feb = analytics_summary(
            merchant=shop.merchant, first=date(2026, 2, 28), last=date(2026, 2, 28)
        )
        march = analytics_summary(
            merchant=shop.merchant, first=date(2026, 3, 1), last=date(2026, 3, 1)
        )
    assert (feb.return_rate.units_sold, feb.return_rate.units_returned) == (2, 1)
    assert (march.return_rate.units_sold, march.return_rate.units_returned) == (3, 0)


@pytest.mark.parametrize(
    ("first", "last"),
    [
        (date(2026, 2, 26), date(2026, 4, 10)),  # part of February, March whole, part of April
        (date(2026, 2, 26), date(2026, 3, 31)),
        (date(2026, 3, 1), date(2026, 4, 30)),  # two whole months
    ],
)
def test_month_rollups_and_days_add_up_the_same(shop: Shop, first: date, last: date) -> None:
    # nothing happened from 26 February on but in March: any range around March reads the
    # same figures, whether from the month rows, the day rows or both
    with merchant_scope(shop.merchant):
        wide = analytics_summary(merchant=shop.merchant, first=first, last=last, period="month")
        sku = return_rates(merchant=shop.merchant, first=first, last=last, group_by="sku")
    march = summary(shop, period="month")
    for name in ("return_rate", "reasons", "channels", "cycle_times", "dispositions", "money"):
        assert getattr(wide, name) == getattr(march, name), name
    assert (wide.cost, wide.fraud) == (march.cost, march.fraud)
    with merchant_scope(shop.merchant):
        in_march = return_rates(
            merchant=shop.merchant, first=MARCH[0], last=MARCH[1], group_by="sku"
        )
    assert sku == in_march
