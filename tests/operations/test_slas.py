"""SLA breaches: due dates on the facility's business days, each breach recorded once with
its `sla.breached` outbox event, however often the job runs."""

from __future__ import annotations

from datetime import UTC, date, datetime
from unittest import mock

import pytest
from django.db import IntegrityError
from django_scopes import scopes_disabled

from returndesk.core.actors import Actor
from returndesk.core.errors import PermissionDenied, ValidationFailed
from returndesk.notifications.models import OutboxMessage
from returndesk.operations import services
from returndesk.operations.models import (
    DISPOSE_AFTER_INSPECTION,
    INSPECT_AFTER_RECEIPT,
    REFUND_AFTER_INSPECTION,
    ServiceLevel,
    SlaBreach,
)
from returndesk.operations.slas import sla_breaches_check
from returndesk.tenants import permissions as perm
from returndesk.tenants.models import Facility, Merchant
from tests.operations.builders import World, local

pytestmark = pytest.mark.django_db

PROVIDER = Actor("user", "ops@example.com", permissions=perm.PROVIDER_ADMIN)


def sla(merchant: Merchant, kind: str, days: int, since: datetime) -> ServiceLevel:
    services.service_levels_set(actor=PROVIDER, merchant=merchant, levels={kind: days})
    with scopes_disabled():
        ServiceLevel.objects.filter(merchant=merchant, kind=kind).update(effective_from=since)
        return ServiceLevel.objects.get(merchant=merchant, kind=kind)


def breaches() -> list[SlaBreach]:
    with scopes_disabled():
        return list(SlaBreach.objects.select_related("return_request").order_by("started_at", "pk"))


def outbox() -> list[OutboxMessage]:
    with scopes_disabled():
        return list(OutboxMessage.objects.filter(type="sla.breached").order_by("pk"))


@pytest.fixture
def received_three(world: World, newark: Facility, merchant: Merchant):
    """Three packages at Newark around Thanksgiving 2025, inspect within 2 business days."""
    sla(merchant, INSPECT_AFTER_RECEIPT, 2, local("2025-11-01 00:00"))
    # A: Wednesday evening (Thursday in UTC); due at the end of Monday 1 December (Thanksgiving
    # and the weekend skipped); inspected on Tuesday: late.
    a = world.return_(status="inspected", authorized_at=local("2025-11-20 10:00"))
    world.receive(a, facility=newark, at=local("2025-11-26 20:30"))
    world.inspect(a, unit=1, at=local("2025-12-02 10:00"), last=True)
    # B: the same evening, inspected on Monday afternoon: in time.
    b = world.return_(status="inspected", authorized_at=local("2025-11-20 10:00"))
    world.receive(b, facility=newark, at=local("2025-11-26 21:00"))
    world.inspect(b, unit=1, at=local("2025-12-01 15:00"), last=True)
    # C: Friday morning; due at the end of Tuesday 2 December; never inspected.
    c = world.return_(status="received", authorized_at=local("2025-11-20 10:00"))
    world.receive(c, facility=newark, at=local("2025-11-28 09:00"))
    return a, b, c


def test_a_late_inspection_and_a_package_still_waiting_are_breaches(
    received_three, merchant: Merchant
) -> None:
    a, _b, c = received_three
    now = local("2025-12-03 12:00")
    assert sla_breaches_check(now) == 2
    found = breaches()
    assert [x.return_request_id for x in found] == [a.ret.pk, c.ret.pk]
    late, waiting = found
    assert late.kind == INSPECT_AFTER_RECEIPT and late.business_days == 2
    assert late.due_at == datetime(2025, 12, 2, 5, 0, tzinfo=UTC)  # end of Monday in Newark
    assert late.finished_at == local("2025-12-02 10:00")
    assert waiting.due_at == datetime(2025, 12, 3, 5, 0, tzinfo=UTC)  # end of Tuesday
    assert waiting.finished_at is None
    events = outbox()
    assert len(events) == 2
    data = events[1].payload["data"]
    assert events[1].payload["type"] == "sla.breached"
    assert events[1].event_id == waiting.event_id
    assert data == {
        "merchant": "acme",
        "facility": "NWK1",
        "ran": c.ret.ran,
        "sla": "inspect_after_receipt",
        "business_days": 2,
        "started_at": "2025-11-28T14:00:00+00:00",
        "due_at": "2025-12-03T05:00:00+00:00",
        "breached_at": "2025-12-03T05:00:00+00:00",
        "finished_at": None,
    }
    assert events[0].merchant_id == merchant.pk


def test_each_breach_is_recorded_once_however_often_the_job_runs(
    received_three, world: World
) -> None:
    _a, _b, c = received_three
    assert sla_breaches_check(local("2025-12-03 12:00")) == 2
    assert sla_breaches_check(local("2025-12-03 12:15")) == 0
    # the waiting package is inspected at last: its breach learns when, and nothing repeats
    world.inspect(c, unit=1, at=local("2025-12-04 09:00"), last=True)
    assert sla_breaches_check(local("2025-12-04 12:00")) == 0
    assert len(breaches()) == 2 and len(outbox()) == 2
    assert breaches()[1].finished_at == local("2025-12-04 09:00")


def test_the_database_refuses_a_second_breach_for_the_same_return_and_kind(
    received_three,
) -> None:
    sla_breaches_check(local("2025-12-03 12:00"))
    first = breaches()[0]
    with pytest.raises(IntegrityError), scopes_disabled():
        SlaBreach.objects.create(
            merchant_id=first.merchant_id,
            public_id="slab_DUPLICATE",
            kind=first.kind,
            return_request_id=first.return_request_id,
            facility_id=first.facility_id,
            business_days=2,
            started_at=first.started_at,
            due_at=first.due_at,
            detected_at=first.detected_at,
            event_id="evt_DUPLICATE",
        )


def test_two_runs_racing_record_one_breach_and_one_event(received_three) -> None:
    """The second run found the same late work before the first recorded it: the unique
    constraint stops its breach, and its outbox row goes with it."""
    from returndesk.operations import slas

    now = local("2025-12-03 12:00")
    real = slas.late_clocks
    seen: list = []

    def stale(level, *, now, calendars):
        found = real(level, now=now, calendars=calendars)
        seen.append(found)
        return found

    with mock.patch.object(slas, "late_clocks", stale):
        assert sla_breaches_check(now) == 2
        # replay the same clocks as if found before the first run committed
        with scopes_disabled():
            level = ServiceLevel.objects.get()
        for clock in seen[0]:
            assert slas._record(level, clock, now=now) is None
    assert len(breaches()) == 2 and len(outbox()) == 2


def test_no_breach_before_the_due_date_nor_before_the_sla_took_effect(
    received_three, merchant: Merchant
) -> None:
    # Tuesday evening: C's due date (end of Tuesday) has not passed; A was inspected late
    assert sla_breaches_check(local("2025-12-02 23:00")) == 1
    # an SLA that took effect after these packages arrived measures none of them
    with scopes_disabled():
        SlaBreach.objects.all().delete()
        OutboxMessage.objects.all().delete()
        ServiceLevel.objects.update(effective_from=local("2025-11-29 00:00"))
    assert sla_breaches_check(local("2025-12-10 12:00")) == 0


def test_a_facility_closed_day_moves_the_due_date(received_three, newark: Facility) -> None:
    services.facility_closed_day_add(
        actor=PROVIDER, facility=newark, day=date(2025, 12, 1), reason="stocktake"
    )
    # A is due at the end of Tuesday now (Monday closed): inspected Tuesday 10:00, in time;
    # C (Friday) is due at the end of Wednesday: not yet late on Wednesday noon
    assert sla_breaches_check(local("2025-12-03 12:00")) == 0
    assert sla_breaches_check(local("2025-12-04 00:30")) == 1
    assert breaches()[0].due_at == datetime(2025, 12, 4, 5, 0, tzinfo=UTC)


def test_disposition_and_refund_slas_run_from_the_inspection(
    world: World, newark: Facility, merchant: Merchant
) -> None:
    sla(merchant, DISPOSE_AFTER_INSPECTION, 1, local("2025-11-01 00:00"))
    sla(merchant, REFUND_AFTER_INSPECTION, 3, local("2025-11-01 00:00"))
    ret = world.return_(status="completed", authorized_at=local("2025-11-20 10:00"))
    world.receive(ret, facility=newark, at=local("2025-12-01 09:00"))
    unit = world.inspect(ret, unit=1, at=local("2025-12-01 11:00"), last=True)  # Monday
    # disposition due at the end of Tuesday; done Wednesday: late
    world.dispose(ret, unit, option="restock", at=local("2025-12-03 08:00"), last=True)
    # refund due at the end of Thursday; completed Thursday afternoon: in time
    world.set_status(ret, "completed", local("2025-12-04 16:00"))
    assert sla_breaches_check(local("2025-12-08 12:00")) == 1
    (breach,) = breaches()
    assert breach.kind == DISPOSE_AFTER_INSPECTION
    assert breach.started_at == local("2025-12-01 11:00")
    assert breach.due_at == datetime(2025, 12, 3, 5, 0, tzinfo=UTC)


def test_sla_settings_need_the_permission_and_sane_days(merchant: Merchant) -> None:
    warehouse = Actor("user", "w@example.com", permissions=perm.WAREHOUSE)
    with pytest.raises(PermissionDenied):
        services.service_levels_set(actor=warehouse, merchant=merchant, levels={})
    with pytest.raises(ValidationFailed):
        services.service_levels_set(
            actor=PROVIDER, merchant=merchant, levels={INSPECT_AFTER_RECEIPT: 0}
        )
    with pytest.raises(ValidationFailed):
        services.service_levels_set(actor=PROVIDER, merchant=merchant, levels={"nap": 2})
    levels = services.service_levels_set(
        actor=PROVIDER, merchant=merchant, levels={INSPECT_AFTER_RECEIPT: 2}
    )
    first = levels[0].effective_from
    same = services.service_levels_set(
        actor=PROVIDER, merchant=merchant, levels={INSPECT_AFTER_RECEIPT: 2}
    )
    assert same[0].effective_from == first  # unchanged: the clock is not reset
    assert (
        services.service_levels_set(
            actor=PROVIDER, merchant=merchant, levels={INSPECT_AFTER_RECEIPT: None}
        )
        == []
    )


def test_the_job_is_on_the_workers_schedule() -> None:
    from returndesk.core.scheduling import PERIODIC_JOBS

    (job,) = [j for j in PERIODIC_JOBS if j.name == "check_slas"]
    assert job.load() is sla_breaches_check
