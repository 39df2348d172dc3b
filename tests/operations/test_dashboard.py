"""The facility dashboard on known small data, every figure worked out by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from returndesk.operations.selectors import (
    AWAITING_DISPOSITION,
    AWAITING_INSPECTION,
    AWAITING_RECEIPT,
    AWAITING_REFUND,
    OpsScope,
    facility_dashboard,
    nearest_rank,
)
from returndesk.tenants.models import Facility, Merchant
from tests.operations.builders import World, facility, local

pytestmark = pytest.mark.django_db

WEEK = (local("2025-12-01 00:00"), local("2025-12-08 00:00"))  # Monday to Sunday in Newark


def scope(merchants: list[Merchant], where: Facility | None = None) -> OpsScope:
    return OpsScope(
        merchant_ids=tuple(m.pk for m in merchants),
        facility_id=where.pk if where else None,
        start=WEEK[0].astimezone(UTC),
        end=WEEK[1].astimezone(UTC),
    )


@pytest.fixture
def floor(world: World, newark: Facility, merchant: Merchant, other_merchant: Merchant):
    """A week at Newark, and one package at another centre."""
    other_centre = facility("CHI1", merchants=[merchant], tz="America/Chicago")
    # awaiting receipt: two labels to Newark (authorized 20 and 25 November), one to Chicago
    for day in ("2025-11-20 10:00", "2025-11-25 10:00"):
        inbound = world.return_(status="authorized", authorized_at=local(day))
        world.label(inbound, facility=newark, at=local(day))
    elsewhere = world.return_(status="in_transit", authorized_at=local("2025-11-10 10:00"))
    world.label(elsewhere, facility=other_centre, at=local("2025-11-10 10:00"))
    # received, not inspected: received Monday 09:15 by alice
    waiting = world.return_(status="received", authorized_at=local("2025-11-21 10:00"))
    world.receive(waiting, facility=newark, at=local("2025-12-01 09:15"), by="alice")
    # inspected, not dispositioned: received Monday 09:40 (alice), inspected Tuesday 10:05
    # by carol in 300 s
    half = world.return_(status="inspected", authorized_at=local("2025-11-21 10:00"))
    world.receive(half, facility=newark, at=local("2025-12-01 09:40"), by="alice")
    world.inspect(half, unit=1, at=local("2025-12-02 10:05"), by="carol", seconds=300, last=True)
    # three restocked units (dock-to-stock 10 h, 30 h and 80 h), their returns then waiting
    # for the refund (two) or completed (one)
    spans = []
    for n, (received, hours, status) in enumerate(
        [
            ("2025-12-01 08:00", 10, "inspected"),
            ("2025-12-01 10:30", 30, "inspected"),
            ("2025-12-01 11:00", 80, "completed"),
        ]
    ):
        ret = world.return_(status=status, authorized_at=local("2025-11-22 10:00"))
        at = local(received)
        world.receive(ret, facility=newark, at=at, by="bob" if n == 2 else "alice")
        unit = world.inspect(
            ret, unit=1, at=at + timedelta(hours=1), by="carol", seconds=600, last=True
        )
        world.dispose(
            ret, unit, option="restock", at=at + timedelta(hours=hours), by="dave", last=True
        )
        spans.append(ret)
    # another merchant's package at Newark the same week: never in acme's figures
    stranger = World(other_merchant).return_(
        status="received", authorized_at=local("2025-11-21 10:00")
    )
    World(other_merchant).receive(stranger, facility=newark, at=local("2025-12-01 09:00"))
    return {"waiting": waiting, "half": half, "restocked": spans, "chicago": other_centre}


def test_the_backlog_at_each_stage_and_the_oldest_items(
    floor, merchant: Merchant, newark: Facility
) -> None:
    board = facility_dashboard(scope([merchant], newark))
    assert board.backlog == {
        AWAITING_RECEIPT: 2,  # the Chicago label is not Newark's
        AWAITING_INSPECTION: 1,
        AWAITING_DISPOSITION: 1,
        AWAITING_REFUND: 2,  # the completed one is done
    }
    everywhere = facility_dashboard(scope([merchant]))
    assert everywhere.backlog[AWAITING_RECEIPT] == 3
    oldest = board.oldest
    assert [w.stage for w in oldest[:2]] == [AWAITING_RECEIPT, AWAITING_RECEIPT]
    assert oldest[0].since == local("2025-11-20 10:00") and oldest[0].facility_code == "NWK1"
    assert oldest == sorted(oldest, key=lambda w: w.since)
    by_stage = {w.stage: w for w in reversed(oldest)}  # the oldest of each stage
    assert by_stage[AWAITING_INSPECTION].since == local("2025-12-01 09:15")
    assert by_stage[AWAITING_DISPOSITION].since == local("2025-12-02 10:05")
    assert by_stage[AWAITING_REFUND].since == local("2025-12-01 18:00")  # 08:00 + 10 h
    assert by_stage[AWAITING_INSPECTION].ran.replace("-", "") == floor["waiting"].ret.ran


def test_throughput_per_local_hour_and_per_worker(floor, merchant: Merchant, newark: Facility):
    board = facility_dashboard(scope([merchant], newark))
    hours = {h.hour: (h.receipts, h.inspections, h.dispositions) for h in board.hours if h.total}
    assert hours == {
        8: (1, 0, 0),  # received 08:00
        9: (2, 1, 0),  # received 09:15 and 09:40; the 08:00 one inspected at 09:00
        10: (1, 1, 0),  # received 10:30; the 09:40 one inspected (Tuesday) at 10:05
        11: (1, 1, 0),  # received 11:00; the 10:30 one inspected at 11:30
        12: (0, 1, 0),  # the 11:00 one inspected at 12:00
        16: (0, 0, 1),  # 10:30 + 30 h = Tuesday 16:30
        18: (0, 0, 1),  # 08:00 + 10 h = Monday 18:00
        19: (0, 0, 1),  # 11:00 + 80 h = Thursday 19:00
    }
    workers = {w.label: (w.receipts, w.inspections, w.dispositions) for w in board.workers}
    assert workers == {
        "alice": (4, 0, 0),
        "bob": (1, 0, 0),
        "carol": (0, 4, 0),
        "dave": (0, 0, 3),
    }
    carol = next(w for w in board.workers if w.label == "carol")
    # 300 + 3 x 600 = 2,100 seconds for 4 inspections: 6.857 an hour
    assert carol.inspection_seconds == 2100
    assert carol.inspections_per_hour == pytest.approx(4 * 3600 / 2100)
    assert board.workers[0].label == "alice"  # the busiest first


def test_dock_to_stock_p50_and_p90(floor, merchant: Merchant, newark: Facility) -> None:
    dock = facility_dashboard(scope([merchant], newark)).dock_to_stock
    assert dock.count == 3
    assert dock.p50 == timedelta(hours=30)  # nearest rank: the 2nd of 3
    assert dock.p90 == timedelta(hours=80)  # the 3rd of 3
    assert dict(dock.buckets) == {
        "under 1 day": 1,
        "1 to 2 days": 1,
        "2 to 3 days": 0,
        "3 to 5 days": 1,
        "5 to 7 days": 0,
        "7 days or more": 0,
    }


def test_a_period_before_the_work_has_no_throughput(floor, merchant: Merchant) -> None:
    before = OpsScope(
        merchant_ids=(merchant.pk,),
        facility_id=None,
        start=datetime(2025, 11, 1, tzinfo=UTC),
        end=datetime(2025, 11, 30, tzinfo=UTC),
    )
    board = facility_dashboard(before)
    assert sum(h.total for h in board.hours) == 0 and board.dock_to_stock.count == 0
    assert board.backlog[AWAITING_INSPECTION] == 1  # the backlog is now, whatever the period


def test_another_merchants_work_shows_only_in_its_own_scope(
    floor, merchant: Merchant, other_merchant: Merchant, newark: Facility
) -> None:
    theirs = facility_dashboard(scope([other_merchant], newark))
    assert theirs.backlog[AWAITING_INSPECTION] == 1
    assert sum(h.receipts for h in theirs.hours) == 1
    both = facility_dashboard(scope([merchant, other_merchant], newark))
    assert both.backlog[AWAITING_INSPECTION] == 2


def test_a_fixed_number_of_queries_whatever_the_volume(
    world: World, newark: Facility, merchant: Merchant
) -> None:
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            facility_dashboard(scope([merchant], newark))
        return len(captured)

    empty = queries()
    for n in range(12):
        ret = world.return_(status="inspected", authorized_at=local("2025-11-21 10:00"))
        world.receive(ret, facility=newark, at=local("2025-12-02 09:00") + timedelta(minutes=n))
        unit = world.inspect(ret, unit=1, at=local("2025-12-02 11:00"), by=f"w{n}", last=True)
        world.dispose(ret, unit, option="restock", at=local("2025-12-03 11:00"), last=n % 2 == 0)
    assert queries() == empty == 11


def test_nearest_rank() -> None:
    hours = [timedelta(hours=h) for h in (5, 1, 3, 2, 4)]
    assert nearest_rank(hours, 50) == timedelta(hours=3)
    assert nearest_rank(hours, 90) == timedelta(hours=5)
    assert nearest_rank(hours, 10) == timedelta(hours=1)
    assert nearest_rank([], 50) is None
