"""Per-client SLAs: when each return's work is due on its facility's business days, and the
periodic check that records each breach once and tells the merchant (`sla.breached`).

The facts are the return's timeline and its receipt (SLA_KINDS in models.py):

- inspect_after_receipt: from the receipt (or the moment staff resolved a receipt exception) to
  the return's `inspected` status;
- dispose_after_inspection: from `inspected` to `return.dispositioned` (every unit has its
  disposition);
- refund_after_inspection: from `inspected` to `completed` (every unit dispositioned and all
  money settled).

The facility is the receipt's. Work that started before the SLA's `effective_from`, or more
than LOOKBACK ago, is not measured.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import (
    DateTimeField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.functions import Coalesce
from django.utils import timezone
from django_scopes import scopes_disabled

from returndesk.core.ids import new_public_id
from returndesk.notifications.services import outbox_enqueue
from returndesk.operations.calendar import BusinessCalendar
from returndesk.operations.models import (
    DISPOSE_AFTER_INSPECTION,
    INSPECT_AFTER_RECEIPT,
    REFUND_AFTER_INSPECTION,
    ServiceLevel,
    SlaBreach,
)
from returndesk.operations.selectors import DISPOSITIONED_EVENT, calendars_for, first_event_time
from returndesk.returns.models import COMPLETED, INSPECTED
from returndesk.warehouse.models import Receipt

logger = logging.getLogger(__name__)

LOOKBACK = timedelta(days=90)
EVENT_TYPE = "sla.breached"


def clocks(kind: str) -> QuerySet[Any]:
    """Receipts (one per return, scopes off) annotated with `started` and `finished` for an SLA
    kind; `finished` is empty while the work is still waiting."""
    receipts = Receipt.objects.all()
    inspected = first_event_time(status=INSPECTED)
    if kind == INSPECT_AFTER_RECEIPT:
        # a receipt kept as an exception starts the clock when staff resolved it
        receipts = receipts.filter(Q(exception_kind="") | Q(exception_resolved_at__isnull=False))
        return receipts.annotate(
            started=Coalesce("exception_resolved_at", "received_at"), finished=inspected
        )
    if kind == DISPOSE_AFTER_INSPECTION:
        return receipts.annotate(
            started=inspected, finished=first_event_time(type=DISPOSITIONED_EVENT)
        )
    if kind == REFUND_AFTER_INSPECTION:
        return receipts.annotate(started=inspected, finished=first_event_time(status=COMPLETED))
    raise ValueError(f"unknown SLA kind {kind}")


@dataclass(frozen=True)
class Clock:
    """One return's work against one SLA."""

    return_id: int
    ran: str
    merchant_id: int
    merchant_slug: str
    facility_id: int
    facility_code: str
    started_at: datetime
    finished_at: datetime | None
    due_at: datetime

    def breached(self, now: datetime) -> bool:
        return (self.finished_at or now) > self.due_at


def _candidates(level: ServiceLevel, *, now: datetime) -> QuerySet[Any]:
    """Receipts whose work against `level` may be late and is not recorded yet. A due date is
    always more than `business_days` calendar days after the start, so the database keeps only
    the work that took (or has waited) longer than that; the calendar decides the rest."""
    since = max(level.effective_from, now - LOOKBACK)
    days = timedelta(days=level.business_days)
    recorded = SlaBreach.objects.filter(return_request=OuterRef("return_request"), kind=level.kind)
    return (
        clocks(level.kind)
        .filter(merchant_id=level.merchant_id, started__gte=since)
        .filter(~Exists(recorded))
        .filter(
            Q(finished__isnull=True, started__lt=now - days)
            | Q(finished__gt=ExpressionWrapper(F("started") + days, output_field=DateTimeField()))
        )
        .order_by("started", "pk")
    )


def late_clocks(
    level: ServiceLevel, *, now: datetime, calendars: dict[int, BusinessCalendar]
) -> list[Clock]:
    """The returns that missed `level` (finished late, or still waiting past the due date) and
    have no breach recorded yet."""
    late = []
    rows = _candidates(level, now=now).values_list(
        "return_request_id",
        "return_request__ran",
        "merchant__slug",
        "facility_id",
        "facility__code",
        "started",
        "finished",
    )
    for return_id, ran, slug, facility_id, code, started, finished in rows:
        calendar = calendars.get(facility_id) or BusinessCalendar()
        clock = Clock(
            return_id=return_id,
            ran=ran,
            merchant_id=level.merchant_id,
            merchant_slug=slug,
            facility_id=facility_id,
            facility_code=code,
            started_at=started,
            finished_at=finished,
            due_at=calendar.due(started, level.business_days),
        )
        if clock.breached(now):
            late.append(clock)
    return late


def _record(level: ServiceLevel, clock: Clock, *, now: datetime) -> SlaBreach | None:
    """One breach and its outbox event, in one transaction; None when another run recorded it
    first (the unique constraint decides)."""
    event_id = new_public_id("evt")
    try:
        with transaction.atomic():
            breach = SlaBreach.objects.create(
                merchant_id=clock.merchant_id,
                public_id=new_public_id("slab"),
                kind=level.kind,
                return_request_id=clock.return_id,
                facility_id=clock.facility_id,
                business_days=level.business_days,
                started_at=clock.started_at,
                due_at=clock.due_at,
                finished_at=clock.finished_at,
                detected_at=now,
                event_id=event_id,
            )
            outbox_enqueue(
                merchant_id=clock.merchant_id,
                type=EVENT_TYPE,
                event_id=event_id,
                at=now,
                data={
                    "merchant": clock.merchant_slug,
                    "facility": clock.facility_code,
                    "ran": clock.ran,
                    "sla": level.kind,
                    "business_days": level.business_days,
                    "started_at": clock.started_at.isoformat(),
                    "due_at": clock.due_at.isoformat(),
                    "breached_at": clock.due_at.isoformat(),
                    "finished_at": clock.finished_at.isoformat() if clock.finished_at else None,
                },
            )
    except IntegrityError:
        return None
    return breach


def _finish_open(now: datetime) -> int:
    """Breaches recorded while the work was still waiting get the time it was done."""
    updated = 0
    for kind in (INSPECT_AFTER_RECEIPT, DISPOSE_AFTER_INSPECTION, REFUND_AFTER_INSPECTION):
        finished = clocks(kind).filter(return_request=OuterRef("return_request"))
        rows = (
            SlaBreach.objects.filter(kind=kind, finished_at__isnull=True)
            .annotate(done=Subquery(finished.values("finished")[:1]))
            .filter(done__isnull=False)
            .values_list("pk", "done")
        )
        for pk, done in rows:
            updated += SlaBreach.objects.filter(pk=pk, finished_at__isnull=True).update(
                finished_at=done
            )
    return updated


def sla_breaches_check(now: datetime | None = None) -> int:
    """The worker's periodic job: record every SLA breach not recorded yet, each once with its
    `sla.breached` outbox event, and note when late work got done. Safe to run twice or on two
    workers at once. Answers how many breaches it recorded."""
    now = now or timezone.now()
    recorded = 0
    with scopes_disabled():
        levels = list(ServiceLevel.objects.select_related("merchant").order_by("pk"))
        if levels:
            calendars = calendars_for(None)
            for level in levels:
                if not level.merchant.is_active:
                    continue
                for clock in late_clocks(level, now=now, calendars=calendars):
                    if _record(level, clock, now=now) is not None:
                        recorded += 1
        _finish_open(now)
    if recorded:
        logger.info("recorded %d SLA breaches", recorded)
    return recorded
