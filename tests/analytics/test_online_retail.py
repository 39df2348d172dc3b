"""The figures of the Online Retail merchant against its real file: the first 40,000 rows
(December 2010 to mid-January 2011) imported with the project's importers, orders and then
their C invoices as historical returns, and the analytics read back.

The oracle is the file itself read by the parser (sales per month and per SKU), independent of
the database and the rollups; returns are what the historical import could link to a purchase.
"""

from __future__ import annotations

import csv
import gzip
from collections import Counter
from collections.abc import Callable
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.db.models import Sum

from returndesk.analytics.rollups import rollups_build
from returndesk.analytics.selectors import analytics_summary, return_rates
from returndesk.catalog.importing import online_retail
from returndesk.catalog.importing.base import ParsedOrder
from returndesk.catalog.importing.runner import import_orders
from returndesk.core.actors import Actor
from returndesk.core.tenancy import merchant_scope
from returndesk.returns.historical import historical_returns_import
from returndesk.returns.models import ReturnLine
from returndesk.tenants.models import Merchant

pytestmark = [pytest.mark.django_db, pytest.mark.needs_data]
ACTOR = Actor.system("tests")
ROWS = 40_000
LONDON = ZoneInfo("Europe/London")
WHOLE = (date(2010, 12, 1), date(2011, 1, 31))


def _slice(source: Path, target: Path) -> Path:
    with gzip.open(source, "rt", newline="") as src, gzip.open(target, "wt", newline="") as out:
        writer = csv.writer(out)
        for i, row in enumerate(csv.reader(src)):
            if i > ROWS:
                break
            writer.writerow(row)
    return target


@pytest.fixture
def retail(
    make_merchant: Callable[..., Merchant], online_retail_file: Path, tmp_path: Path
) -> tuple[Merchant, Path]:
    merchant = make_merchant("online-retail", currency="GBP", tz="Europe/London")
    sample = _slice(online_retail_file, tmp_path / "sample.csv.gz")
    import_orders(actor=ACTOR, merchant=merchant, path=sample, fmt="online-retail")
    historical_returns_import(actor=ACTOR, merchant=merchant, path=sample)
    rollups_build(merchant=merchant)
    return merchant, sample


def test_sales_and_returns_match_the_file(retail: tuple[Merchant, Path]) -> None:
    merchant, sample = retail
    sold_by_month: Counter[date] = Counter()
    sold_by_sku: Counter[str] = Counter()
    for event in online_retail.parse(sample):
        if isinstance(event, ParsedOrder):
            month = event.order.placed_at.astimezone(LONDON).date().replace(day=1)
            for line in event.order.lines:
                sold_by_month[month] += line.quantity
                sold_by_sku[line.sku] += line.quantity
    with merchant_scope(merchant):
        summary = analytics_summary(
            merchant=merchant, first=WHOLE[0], last=WHOLE[1], period="month"
        )
        returned = ReturnLine.objects.filter(merchant=merchant).aggregate(
            units=Sum("quantity"), value=Sum("value_amount")
        )
        skus = return_rates(merchant=merchant, first=WHOLE[0], last=WHOLE[1], group_by="sku")
    # units sold per month: the file's (parsed) sale lines, month by month
    assert {p.start: p.units_sold for p in summary.periods} == {
        month: sold_by_month.get(month, 0) for month in (date(2010, 12, 1), date(2011, 1, 1))
    }
    rate = summary.return_rate
    assert rate.units_sold == sum(sold_by_month.values()) > 200_000
    # returns: every unit the historical import linked, completed, through the import channel,
    # with no recorded reason and no journey (no cycle, disposition or refund figures)
    assert rate.units_returned == returned["units"] > 0
    assert rate.value_returned.amount == returned["value"]
    assert [(c.key, c.units_returned) for c in summary.channels] == [("import", returned["units"])]
    assert [r.key for r in summary.reasons] == ["not_recorded"]
    assert all(c.returns == 0 for c in summary.cycle_times)
    assert summary.dispositions.units == 0 and summary.money.refunded.amount == 0
    # the merchant returns a few percent of its units, as the whole file does (4.9 % of units
    # are on C invoices; fewer can be linked to a purchase in the same slice)
    assert rate.units_rate is not None and 0.005 < rate.units_rate < 0.1
    # per SKU: units sold as the file has them, and ranked SKUs worst first
    by_sku = {r.key: r for r in skus}
    assert {k: r.units_sold for k, r in by_sku.items() if r.units_sold} == dict(sold_by_sku)
    ranked = [r for r in skus if r.ranked]
    assert ranked and all(r.units_sold >= 20 for r in ranked)
    rates = [r.units_rate or 0 for r in ranked]
    assert rates == sorted(rates, reverse=True)
    assert sum(r.units_returned for r in skus) == returned["units"]
