"""The hand-worked data set of test_figures.py, shared with the page and API tests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

import pytest

from returndesk.analytics.rollups import rollups_build
from returndesk.core.money import Money
from returndesk.tenants.models import Merchant
from tests.analytics.builders import Shop

MARCH = (date(2026, 3, 1), date(2026, 3, 31))
HOUR = 3600


def at(day: int, hour: int, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def usd(amount: int) -> Money:
    return Money(amount, "USD")


@pytest.fixture
def shop(make_merchant: Callable[..., Merchant]) -> Shop:
    shop = Shop(make_merchant("figures", tz="UTC"))
    shop.product("MUG", category="kitchen", price=1000)
    shop.product("TEE", category="apparel", price=2000)
    shop.product("CAP", category="apparel", price=1500)
    # Sales in March: 4 lines, 10 + 5 + 20 + 2 = 37 units,
    # 10 x 1000 + (5 x 2000 - 1000) + 20 x 2000 + 2 x 1500 = 10000 + 9000 + 40000 + 3000 = 62000.
    mug, tee = shop.order(at(2, 10), [("MUG", 10, 1000, 0), ("TEE", 5, 2000, 1000)])
    tee2, cap = shop.order(at(10, 10), [("TEE", 20, 2000, 0), ("CAP", 2, 1500, 0)])
    (february,) = shop.order(at(20, 10, month=2), [("MUG", 4, 1000, 0)])  # outside the range

    # R1 (portal): MUG x2 defective (2000), TEE x1 wrong size (1800). Requested 5th 12:00,
    # shipped 6th 12:00 (24 h), received 8th 12:00 (48 h), inspected 8th 18:00 (6 h), refunded
    # 9th 18:00 (24 h): end to end 102 h.
    r1 = shop.return_(at(5, 12), [(mug, 2, "defective", 2000), (tee, 1, "wrong_size", 1800)])
    shop.event(r1, "in_transit", at(6, 12))
    shop.event(r1, "inspected", at(8, 18))
    shop.label(r1, merchant_cost=500, cost=700)
    lines = shop.receipt(r1, at(8, 12))
    m1 = shop.inspect(lines["MUG"], 1, at(8, 15), defects=("cosmetic",))
    m2 = shop.inspect(lines["MUG"], 2, at(8, 15))
    t1 = shop.inspect(lines["TEE"], 1, at(8, 15))
    shop.dispose(m1, "refurbish", net=300, gross=600, co2e=1.5)
    shop.dispose(m2, "restock", net=800, gross=1000, co2e=2)
    shop.dispose(t1, "restock", net=1500, gross=1800, co2e="3.25")
    s1 = shop.settle(
        r1, deductions=[("restocking_fee", 180), ("return_shipping_fee", 300)], total=3320
    )
    shop.refund(s1, method="card", amount=3320, at=at(9, 18))
    shop.refund(s1, method="paypal", amount=100, status="failed")

    # R2 (api, store credit): TEE x4 wrong size (8000). Requested 12th 09:00, shipped 21:00
    # (12 h), received 14th 21:00 (48 h), inspected 15th 03:00 (6 h), credited 05:00 (2 h): end
    # to end 68 h. 8000 + 800 bonus credited, 5000 of it spent.
    r2 = shop.return_(
        at(12, 9), [(tee2, 4, "wrong_size", 8000)], channel="api", resolution="store_credit"
    )
    shop.event(r2, "in_transit", at(12, 21))
    shop.event(r2, "inspected", at(15, 3))
    shop.label(r2, merchant_cost=500, cost=700)
    lines = shop.receipt(r2, at(14, 21))
    for unit in range(1, 5):
        done = shop.inspect(lines["TEE"], unit, at(15, 1))
        shop.dispose(done, "restock", net=1500, gross=1800, co2e="3.25")
    s2 = shop.settle(r2, deductions=[], total=8000)
    credit = shop.refund(s2, method="store_credit", amount=8000, bonus=800, at=at(15, 5))
    shop.store_credit(credit, redeemed=5000)

    # R3 (portal, exchange): CAP x1 defective (1500), sent to review (email velocity), approved;
    # shipped 21st 08:00 (24 h after the request), received 22nd 08:00 (24 h), not inspected.
    r3 = shop.return_(
        at(20, 8),
        [(cap, 1, "defective", 1500)],
        status="received",
        resolution="exchange",
        risk=("email_velocity", "order_value"),
    )
    shop.event(r3, "pending_review", at(20, 8))
    shop.event(r3, "authorized", at(20, 10), from_status="pending_review")
    shop.event(r3, "in_transit", at(21, 8))
    shop.label(r3, merchant_cost=400, cost=600)
    shop.receipt(r3, at(22, 8))
    shop.exchange(r3, credit=1500, price=1600)

    # R4 (phone): MUG x3 changed mind (3000), blocklisted, rejected by the review: not counted.
    r4 = shop.return_(
        at(25, 10),
        [(mug, 3, "changed_mind", 3000)],
        status="rejected",
        channel="phone",
        risk=("blocklisted", "order_value"),
    )
    shop.event(r4, "pending_review", at(25, 10))
    shop.event(r4, "rejected", at(25, 12), from_status="pending_review")

    # R5 (email): MUG x1 defective (1000): an empty box. Shipped 26th 22:00 (12 h), received
    # 28th 10:00 (36 h), inspected 16:00 (6 h); 250 deducted (grade), 750 paid 20:00 (4 h after
    # inspection, 58 h end to end), and an adjustment of 750 opened.
    r5 = shop.return_(
        at(26, 10),
        [(mug, 1, "defective", 1000)],
        status="inspected",
        channel="email",
        risk=("order_value",),
    )
    shop.event(r5, "in_transit", at(26, 22))
    shop.event(r5, "inspected", at(28, 16))
    lines = shop.receipt(r5, at(28, 10))
    shop.inspect(lines["MUG"], 1, at(28, 16), contradicted=True)
    s5 = shop.settle(r5, deductions=[("grade", 250)], total=750)
    shop.refund(s5, method="card", amount=750, at=at(28, 20))
    shop.adjustment(r5, cause="inspection", amount=750)

    # Not counted: R6 in February (outside the range), R7 cancelled.
    shop.return_(at(25, 10, month=2), [(february, 1, "defective", 1000)], channel="import")
    shop.return_(at(30, 9), [(tee, 1, "wrong_size", 2000)], status="cancelled")
    rollups_build(merchant=shop.merchant)
    return shop
