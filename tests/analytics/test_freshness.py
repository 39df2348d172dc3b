"""The rollups stay fresh: the refresh job builds a merchant never built, then follows what the
services record (returns, their journey through the warehouse and the refund, store credit
spent later, new orders) by rebuilding only the days touched; a row is read again until it is
LAG old, and with nothing new nothing is rebuilt."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone
from django_scopes import scopes_disabled

from returndesk.analytics.rollups import LAG, analytics_refresh, next_position
from returndesk.analytics.selectors import Summary, analytics_summary
from returndesk.core.actors import Actor
from returndesk.core.tenancy import merchant_scope
from returndesk.credit.services import store_credit_redeem
from returndesk.refunds.execution import refund_triggers_process, refunds_execute_due
from returndesk.refunds.models import Refund
from returndesk.refunds.services import refund_mark_paid
from returndesk.returns.selectors import return_get
from returndesk.returns.services import return_act
from returndesk.shipping.services import label_issue
from returndesk.tenants.models import Facility, Merchant
from returndesk.warehouse.dispositions import disposition_record
from returndesk.warehouse.inspection import InspectionInput, inspection_record
from returndesk.warehouse.models import ReceiptLine
from returndesk.warehouse.services import LineCount, receipt_record, receipt_scan
from tests.conftest import ApiClient
from tests.factories import make_facility, order_body
from tests.returns.test_returns_api import order, request  # noqa: F401 - the order fixture

pytestmark = pytest.mark.django_db
ACTOR = Actor.system("tests")


def figures(merchant: Merchant) -> Summary:
    today = timezone.now().date()
    with merchant_scope(merchant):
        return analytics_summary(
            merchant=merchant, first=today - timedelta(days=60), last=today + timedelta(days=1)
        )


def later() -> datetime:
    """A time when every row written so far is more than LAG old."""
    return timezone.now() + LAG + timedelta(minutes=1)


def through_the_warehouse(merchant: Merchant, ran: str) -> None:
    """Label, scan, count, inspect (one defect), restock, and pay the refund."""
    make_facility(merchant, code="FAC1", name="Facility one")
    with merchant_scope(merchant):
        ret = return_get(merchant=merchant, ran=ran)
        if ret.status == "pending_review":
            ret = return_act(actor=ACTOR, ret=ret, action="approve", reason="ok")
        label_issue(actor=ACTOR, ret=ret)
    receipt = receipt_scan(actor=ACTOR, facility=Facility.objects.get(code="FAC1"), code=ran)
    assert receipt.receipt is not None
    with scopes_disabled():
        line = ReceiptLine.objects.get(receipt=receipt.receipt)
    receipt_record(
        actor=ACTOR, receipt=receipt.receipt, lines=[LineCount(line_id=line.public_id, quantity=1)]
    )
    line.refresh_from_db()
    inspection_record(
        actor=ACTOR,
        receipt_line=line,
        unit=1,
        data=InspectionInput(grade="B", defects=["cosmetic"]),
    )
    with scopes_disabled():
        recommended = line.inspections.get().recommendation
    disposition_record(actor=ACTOR, receipt_line=line, unit=1, option=recommended)
    refund_triggers_process()
    refunds_execute_due()
    with merchant_scope(merchant):
        for refund in Refund.objects.filter(kind="manual", status="pending"):
            refund_mark_paid(refund_id=refund.public_id, reference="bank-1", actor=ACTOR)


def test_the_job_follows_the_services(
    api: ApiClient,
    merchant: Merchant,
    order: dict[str, Any],  # noqa: F811
) -> None:
    # never built: built in full, with the order already there
    report = analytics_refresh()
    assert report.built == [merchant.slug]
    assert figures(merchant).return_rate.units_sold == 4  # 2 shoes, 1 sock, 1 gift card

    # a return through the API: its day is rebuilt
    ran = api.post("/returns", request()).json()["ran"]
    report = analytics_refresh()
    assert report.refreshed.get(merchant.slug, 0) >= 1
    found = figures(merchant)
    assert (found.return_rate.returns, found.return_rate.units_returned) == (1, 1)
    assert [r.key for r in found.reasons] == ["wrong_size"]

    # through the warehouse to the refund: labels, cycle, inspection, disposition, money
    through_the_warehouse(merchant, ran)
    analytics_refresh()
    found = figures(merchant)
    assert found.cost.labels == 1 and found.cost.processed == 1
    assert found.dispositions.units == 1
    assert found.money.refunded.amount > 0 and found.money.open_refunds == []
    assert [fee.key for fee in found.money.fees] == ["grade"]  # grade B's deduction
    steps = {c.step: c.returns for c in found.cycle_times}
    assert steps["receipt_to_inspection"] == 1 and steps["inspection_to_refund"] == 1
    with merchant_scope(merchant):
        from returndesk.analytics.selectors import defect_trends

        (trend,) = defect_trends(merchant=merchant, as_of=timezone.now().date())
    assert (trend.sku, trend.warning.window.defective, trend.warning.window.inspected) == (
        "SHOE-1",
        1,
        1,
    )

    # a new order: the day it was placed is rebuilt
    body = order_body(placed_at=timezone.now().isoformat(), delivered_at=None)
    assert api.put("/orders/1002", body).status_code == 201
    analytics_refresh()
    assert figures(merchant).return_rate.units_sold == 4 + 3

    # once every row is LAG old the cursors pass them; then nothing is rebuilt
    analytics_refresh(now=later())
    assert analytics_refresh(now=later()).refreshed == {}


def test_store_credit_spent_later_is_followed(
    api: ApiClient,
    merchant: Merchant,
    order: dict[str, Any],  # noqa: F811
) -> None:
    ran = api.post("/returns", request(resolution="store_credit")).json()["ran"]
    through_the_warehouse(merchant, ran)
    analytics_refresh()
    credit = figures(merchant).money.store_credit
    assert credit.issued.amount > 0 and credit.redeemed.amount == 0
    analytics_refresh(now=later())  # the cursors pass everything so far
    store_credit_redeem(
        merchant=merchant,
        email="shopper@example.com",
        currency="USD",
        amount=1000,
        reference="checkout-1",
        actor=ACTOR,
    )
    report = analytics_refresh(now=later())
    assert report.refreshed == {merchant.slug: 1}  # the return's day, found through its lot
    credit = figures(merchant).money.store_credit
    assert credit.redeemed.amount == 1000
    assert credit.unspent.amount == credit.issued.amount - 1000


def test_a_cursor_stops_before_rows_younger_than_the_lag() -> None:
    now = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.get_current_timezone())
    cutoff = now - LAG
    old, young = now - timedelta(hours=1), now - timedelta(seconds=30)
    # everything old: past the last; one young row: read again from it (a row with a smaller
    # id may still be uncommitted); nothing read: where it was
    assert next_position(10, [(11, old), (12, old)], cutoff) == 12
    assert next_position(10, [(11, old), (12, young), (13, old)], cutoff) == 11
    assert next_position(10, [], cutoff) == 10


def test_a_merchant_with_nothing_is_built_empty(merchant: Merchant) -> None:
    assert analytics_refresh().built == [merchant.slug]
    found = figures(merchant)
    assert found.as_of is not None and found.return_rate.units_sold == 0
    assert date.today() - found.last <= timedelta(days=2)


def test_the_worker_runs_the_refresh_every_minute_and_a_full_rebuild_daily() -> None:
    from returndesk.core.scheduling import PERIODIC_JOBS

    jobs = {job.name: job for job in PERIODIC_JOBS}
    assert jobs["refresh_analytics"].every == timedelta(minutes=1)
    assert jobs["refresh_analytics"].load() is analytics_refresh
    assert jobs["rebuild_analytics"].every == timedelta(days=1)
    assert jobs["rebuild_analytics"].load().__name__ == "analytics_rebuild_all"


def test_the_command_refreshes_or_rebuilds(merchant: Merchant) -> None:
    import io

    from django.core.management import call_command

    out = io.StringIO()
    call_command("analytics_refresh", stdout=out)
    assert f"{merchant.slug}: built in full" in out.getvalue()
    out = io.StringIO()
    call_command("analytics_refresh", "--full", "--merchant", merchant.slug, stdout=out)
    assert f"{merchant.slug}: " in out.getvalue() and "days rebuilt" in out.getvalue()
