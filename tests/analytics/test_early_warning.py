"""The defect early warning on recorded inspections: a worked example from inspection rows to
the flag and its figures, a planted spike found among seeded noise, and silence on noise."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction

import pytest

from returndesk.analytics.models import InspectionDay
from returndesk.analytics.rollups import month_rollup, rollups_build
from returndesk.analytics.selectors import DefectFlag, analytics_summary, defect_trends
from returndesk.analytics.stats import binomial_sf
from returndesk.core.tenancy import merchant_scope
from returndesk.tenants.models import Merchant
from tests.analytics.builders import Shop

pytestmark = pytest.mark.django_db
AS_OF = date(2026, 6, 30)  # window 17-30 June; baseline 19 March - 16 June


def trends(merchant: Merchant) -> list[DefectFlag]:
    with merchant_scope(merchant):
        return defect_trends(merchant=merchant, as_of=AS_OF)


def test_worked_example_from_inspections(make_merchant: Callable[..., Merchant]) -> None:
    shop = Shop(make_merchant("kitchen", tz="UTC"))
    for sku in ("KETTLE", "TOASTER"):
        shop.product(sku, category="kitchen")
    (kettle, toaster) = shop.order(
        datetime(2026, 3, 1, tzinfo=UTC), [("KETTLE", 200, 1000, 0), ("TOASTER", 200, 1000, 0)]
    )
    ret = shop.return_(
        datetime(2026, 4, 1, tzinfo=UTC),
        [(kettle, 140, "defective", 140_000), (toaster, 100, "defective", 100_000)],
    )
    lines = shop.receipt(ret, datetime(2026, 4, 2, tzinfo=UTC))
    # baseline (May): KETTLE 5 defective of 100, TOASTER 3 of 100
    in_may = datetime(2026, 5, 10, 12, tzinfo=UTC)
    for unit in range(1, 101):
        shop.inspect(lines["KETTLE"], unit, in_may, defects=("functional",) if unit <= 5 else ())
        shop.inspect(lines["TOASTER"], unit, in_may, defects=("cosmetic",) if unit <= 3 else ())
    # window (25 June): KETTLE 8 defective of 40, two of them with two defects
    in_june = datetime(2026, 6, 25, 9, tzinfo=UTC)
    for unit in range(101, 141):
        found = (
            ("functional", "cosmetic") if unit <= 102 else ("functional",) if unit <= 108 else ()
        )
        shop.inspect(lines["KETTLE"], unit, in_june, defects=found)
    rollups_build(merchant=shop.merchant)

    (flag,) = trends(shop.merchant)
    w = flag.warning
    assert (flag.sku, flag.category, flag.name) == ("KETTLE", "kitchen", "Kettle product")
    assert (w.window.defective, w.window.inspected) == (8, 40)
    assert (w.baseline.defective, w.baseline.inspected) == (5, 100)
    # the category's baseline: (5 + 3) / 200 = 1/25; the KETTLE's smoothed towards it with 20
    # units of prior: (5 + 20/25) / (100 + 20) = 5.8 / 120 = 29/600, about 4.8 %
    assert w.category_rate == Fraction(1, 25)
    assert w.expected_rate == Fraction(29, 600)
    # P(X >= 8 | 40, 29/600) = 0.00057 < 0.01, with 8 >= 5 defective and 40 >= 20 inspected
    assert w.p_value == pytest.approx(binomial_sf(8, 40, Fraction(29, 600)))
    assert w.p_value == pytest.approx(0.000569480362859886, rel=1e-9)
    assert w.flagged
    assert flag.codes == [("functional", 8), ("cosmetic", 2)]
    with merchant_scope(shop.merchant):
        summary = analytics_summary(merchant=shop.merchant, first=date(2026, 6, 1), last=AS_OF)
    assert [f.sku for f in summary.warnings] == ["KETTLE"]


def seeded(
    merchant: Merchant, seed: int, spike: str | None, rates: tuple[float, float] = (0.02, 0.08)
) -> None:
    """12 SKUs in 3 categories, 1 to 6 units inspected per SKU and day over the 104 days to
    AS_OF, each unit defective at its SKU's own rate; `spike`'s rate is 0.35 in the window."""
    rng = random.Random(seed)
    rows = []
    for i in range(12):
        sku = f"S{i:02d}"
        Shop(merchant).product(sku, category=f"cat{i % 3}")
        rate = rng.uniform(*rates)
        for back in range(104):
            day = AS_OF - timedelta(days=back)
            units = rng.randint(1, 6)
            p = 0.35 if sku == spike and back < 14 else rate
            defective = sum(rng.random() < p for _ in range(units))
            rows.append(
                InspectionDay(
                    merchant=merchant,
                    day=day,
                    sku=sku,
                    category=f"cat{i % 3}",
                    inspected_units=units,
                    defective_units=defective,
                    defects=defective,
                )
            )
    with merchant_scope(merchant):
        InspectionDay.objects.bulk_create(rows)
        for month in (3, 4, 5, 6):
            month_rollup(merchant, date(2026, month, 1))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_planted_spike_is_flagged_and_nothing_else(
    make_merchant: Callable[..., Merchant], seed: int
) -> None:
    merchant = make_merchant(f"spike{seed}", tz="UTC")
    seeded(merchant, seed, spike="S07")
    found = trends(merchant)
    flagged = [f for f in found if f.warning.flagged]
    assert [f.sku for f in flagged] == ["S07"]
    w = flagged[0].warning
    assert w.window.inspected >= 20 and w.window.defective >= 5
    assert w.window.rate is not None and w.window.rate > 3 * w.expected_rate
    assert w.p_value is not None and w.p_value < 1e-4
    assert len(found) == 12  # every SKU inspected in the window is listed, flagged first
    assert found[0].sku == "S07"


def test_noise_raises_no_more_than_the_tests_level_of_false_alarms(
    make_merchant: Callable[..., Merchant],
) -> None:
    # Five seeded quarters of 12 SKUs at steady rates from 1 % to 15 %: 60 SKU windows of pure
    # noise. A one-sided test at p < 0.01 per SKU raises a false alarm in about 1 % of them
    # (0.6 expected here): seed 1 raises one, S11 at 11 of 61 against 7.7 % (p = 0.0067), the
    # other four none. Noise never comes near the planted spike's p < 1e-4.
    flagged = []
    for seed in range(1, 6):
        merchant = make_merchant(f"noise{seed}", tz="UTC")
        seeded(merchant, seed, spike=None, rates=(0.01, 0.15))
        flagged += [(seed, f.sku, f.warning.p_value) for f in trends(merchant) if f.warning.flagged]
    assert [(seed, sku) for seed, sku, _ in flagged] == [(1, "S11")]
    assert all(p is not None and p > 0.001 for _, _, p in flagged)
