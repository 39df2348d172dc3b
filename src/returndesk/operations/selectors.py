"""Reads of the provider's operations: facility calendars, the facility dashboard's figures,
SLAs and breaches. Every read here is provider-wide (scopes disabled) and narrowed to the
merchants the caller may see (`OpsScope.merchant_ids`); each answers in a fixed number of
queries whatever the volume.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db.models import (
    Count,
    DateTimeField,
    Exists,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
)
from django.db.models.functions import TruncHour
from django_scopes import scopes_disabled

from returndesk.core.codes import format_ran
from returndesk.core.errors import NotFound
from returndesk.operations.calendar import BusinessCalendar
from returndesk.operations.models import FacilityClosedDay, FeeRate, ServiceLevel, SlaBreach
from returndesk.returns.models import (
    AUTHORIZED,
    DELIVERED,
    IN_TRANSIT,
    INSPECTED,
    RECEIVED,
    Return,
    ReturnEvent,
)
from returndesk.shipping.models import ACTIVE, Label
from returndesk.tenants.models import Facility
from returndesk.warehouse.dispositions import READY_EVENT
from returndesk.warehouse.models import Disposition, Inspection, Receipt

AWAITING_RECEIPT = "awaiting_receipt"
AWAITING_INSPECTION = "awaiting_inspection"
AWAITING_DISPOSITION = "awaiting_disposition"
AWAITING_REFUND = "awaiting_refund"
STAGES = (AWAITING_RECEIPT, AWAITING_INSPECTION, AWAITING_DISPOSITION, AWAITING_REFUND)
OLDEST = 10  # the oldest items listed per stage
DISPOSITIONED_EVENT = READY_EVENT  # every received unit of the return is dispositioned
# Dock-to-stock histogram: upper bounds in hours (the last is open).
DOCK_TO_STOCK_BUCKETS: tuple[tuple[int | None, str], ...] = (
    (24, "under 1 day"),
    (48, "1 to 2 days"),
    (72, "2 to 3 days"),
    (120, "3 to 5 days"),
    (168, "5 to 7 days"),
    (None, "7 days or more"),
)


# --- calendars ---------------------------------------------------------------------------------


def facility_get(code: str) -> Facility:
    facility = Facility.objects.filter(code=code).first()
    if facility is None:
        raise NotFound(f"No facility with code '{code}'.")
    return facility


def calendars_for(facility_ids: Iterable[int] | None) -> dict[int, BusinessCalendar]:
    """Each facility's business calendar (all facilities for None), in two queries."""
    facilities = Facility.objects.all()
    closed = FacilityClosedDay.objects.all()
    if facility_ids is not None:
        ids = list(facility_ids)
        facilities = facilities.filter(pk__in=ids)
        closed = closed.filter(facility_id__in=ids)
    days: dict[int, set[date]] = defaultdict(set)
    for facility_id, day in closed.values_list("facility_id", "day"):
        days[facility_id].add(day)
    return {
        pk: BusinessCalendar(
            timezone=tz or "UTC", country=country, closed_days=frozenset(days.get(pk, ()))
        )
        for pk, tz, country in facilities.values_list("pk", "timezone", "country")
    }


def calendar_of(facility: Facility) -> BusinessCalendar:
    return calendars_for([facility.pk])[facility.pk]


def closed_days_upcoming(*, since: date) -> dict[int, list[FacilityClosedDay]]:
    """Every facility's closed days from `since` on, by facility (one query)."""
    found: dict[int, list[FacilityClosedDay]] = defaultdict(list)
    for closed in FacilityClosedDay.objects.filter(day__gte=since).order_by("day"):
        found[closed.facility_id].append(closed)
    return found


def closed_days_of(facility: Facility, *, since: date) -> QuerySet[FacilityClosedDay]:
    return FacilityClosedDay.objects.filter(facility=facility, day__gte=since).order_by("day")


# --- SLAs and fees -----------------------------------------------------------------------------


def service_levels_by_merchant(merchant_ids: Sequence[int]) -> dict[int, dict[str, ServiceLevel]]:
    found: dict[int, dict[str, ServiceLevel]] = defaultdict(dict)
    with scopes_disabled():
        for level in ServiceLevel.objects.filter(merchant_id__in=merchant_ids):
            found[level.merchant_id][level.kind] = level
    return found


def fee_rates_by_merchant(merchant_ids: Sequence[int]) -> dict[int, dict[str, FeeRate]]:
    found: dict[int, dict[str, FeeRate]] = defaultdict(dict)
    with scopes_disabled():
        for rate in FeeRate.objects.filter(merchant_id__in=merchant_ids):
            found[rate.merchant_id][rate.fee] = rate
    return found


@dataclass(frozen=True)
class OpsScope:
    """What a dashboard or list looks at: the merchants the caller may see (or the one chosen),
    one facility or all, and a period [start, end) in UTC."""

    merchant_ids: tuple[int, ...]
    facility_id: int | None
    start: datetime
    end: datetime


def sla_breach_list(
    scope: OpsScope, *, kind: str = "", still_waiting: bool = False
) -> QuerySet[SlaBreach]:
    """Breaches whose due date falls in the period, newest first (one query)."""
    with scopes_disabled():
        found = SlaBreach.objects.filter(
            merchant_id__in=scope.merchant_ids, due_at__gte=scope.start, due_at__lt=scope.end
        )
        if scope.facility_id is not None:
            found = found.filter(facility_id=scope.facility_id)
        if kind:
            found = found.filter(kind=kind)
        if still_waiting:
            found = found.filter(finished_at__isnull=True)
        return found.select_related("merchant", "facility", "return_request").order_by(
            "-due_at", "-pk"
        )


# --- the facility dashboard --------------------------------------------------------------------


@dataclass(frozen=True)
class Waiting:
    """A return waiting at a stage, since when."""

    stage: str
    ran: str
    merchant_slug: str
    facility_code: str
    since: datetime


@dataclass
class HourRow:
    hour: int  # local hour of the day, 0-23
    receipts: int = 0
    inspections: int = 0
    dispositions: int = 0

    @property
    def total(self) -> int:
        return self.receipts + self.inspections + self.dispositions


@dataclass
class WorkerRow:
    label: str
    receipts: int = 0
    inspections: int = 0
    dispositions: int = 0
    timed_inspections: int = 0  # inspections that recorded the seconds spent
    inspection_seconds: int = 0

    @property
    def total(self) -> int:
        return self.receipts + self.inspections + self.dispositions

    @property
    def inspections_per_hour(self) -> float | None:
        """Inspections per hour of inspecting, from the timed ones."""
        if not self.inspection_seconds:
            return None
        return self.timed_inspections * 3600 / self.inspection_seconds


@dataclass(frozen=True)
class DockToStock:
    count: int
    p50: timedelta | None
    p90: timedelta | None
    buckets: tuple[tuple[str, int], ...]


@dataclass
class Dashboard:
    backlog: dict[str, int]
    oldest: list[Waiting]
    hours: list[HourRow]
    workers: list[WorkerRow]
    dock_to_stock: DockToStock
    facilities: dict[int, tuple[str, str]] = field(default_factory=dict)  # id -> (code, tz)


def nearest_rank(values: Sequence[timedelta], percent: int) -> timedelta | None:
    """The nearest-rank percentile: the smallest value with at least `percent` % of the values
    at or below it (None for no values)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(percent / 100 * len(ordered)))
    return ordered[rank - 1]


def first_event_time(*, status: str = "", type: str = "") -> Subquery:
    """For a query over rows with a `return_request`: the time of the return's first timeline
    event reaching `status` (or of `type`), empty when there is none."""
    events = ReturnEvent.objects.filter(return_request=OuterRef("return_request"))
    events = events.filter(to_status=status) if status else events.filter(type=type)
    return Subquery(
        events.order_by("created_at", "id").values("created_at")[:1], output_field=DateTimeField()
    )


def _in_scope(queryset: QuerySet, scope: OpsScope, facility_field: str = "facility_id"):
    queryset = queryset.filter(merchant_id__in=scope.merchant_ids)
    if scope.facility_id is not None:
        queryset = queryset.filter(**{facility_field: scope.facility_id})
    return queryset


def _backlog(scope: OpsScope) -> tuple[dict[str, int], list[Waiting]]:
    active_label = Label.objects.filter(return_request=OuterRef("pk"), status=ACTIVE)
    if scope.facility_id is not None:
        active_label = active_label.filter(facility_id=scope.facility_id)
    inbound = Return.objects.filter(
        merchant_id__in=scope.merchant_ids, status__in=(AUTHORIZED, IN_TRANSIT, DELIVERED)
    )
    if scope.facility_id is not None:
        inbound = inbound.filter(Exists(active_label))
    counts = {AWAITING_RECEIPT: inbound.count()}
    oldest = [
        Waiting(AWAITING_RECEIPT, format_ran(ran), slug, code or "", since)
        for ran, slug, code, since in inbound.annotate(
            label_facility=Subquery(active_label.values("facility__code")[:1])
        )
        .order_by("authorized_at", "pk")
        .values_list("ran", "merchant__slug", "label_facility", "authorized_at")[:OLDEST]
        if since is not None
    ]
    # Packages at the facility: one receipt per return; an open receipt exception waits for
    # staff, not for the floor, and is not counted.
    held = _in_scope(Receipt.objects.all(), scope).filter(
        Q(exception_kind="") | Q(exception_resolved_at__isnull=False)
    )
    dispositioned = ReturnEvent.objects.filter(
        return_request=OuterRef("return_request"), type=DISPOSITIONED_EVENT
    )
    held = held.annotate(dispositioned=Exists(dispositioned))
    stage_filters = {
        AWAITING_INSPECTION: Q(return_request__status=RECEIVED),
        AWAITING_DISPOSITION: Q(return_request__status=INSPECTED, dispositioned=False),
        AWAITING_REFUND: Q(return_request__status=INSPECTED, dispositioned=True),
    }
    counts.update(held.aggregate(**{s: Count("pk", filter=q) for s, q in stage_filters.items()}))
    since_of = {
        AWAITING_INSPECTION: F("received_at"),
        AWAITING_DISPOSITION: first_event_time(status=INSPECTED),
        AWAITING_REFUND: first_event_time(type=DISPOSITIONED_EVENT),
    }
    for stage, where in stage_filters.items():
        rows = (
            held.filter(where)
            .annotate(since=since_of[stage])
            .order_by("since", "pk")
            .values_list("return_request__ran", "merchant__slug", "facility__code", "since")
        )
        oldest.extend(
            Waiting(stage, format_ran(ran), slug, code, since)
            for ran, slug, code, since in rows[:OLDEST]
            if since is not None
        )
    oldest.sort(key=lambda w: w.since)
    return counts, oldest


def _local_hour(hour_utc: datetime, tz: str) -> int:
    return hour_utc.astimezone(ZoneInfo(tz)).hour


def _throughput(
    scope: OpsScope, facilities: dict[int, tuple[str, str]]
) -> tuple[list[HourRow], list[WorkerRow]]:
    hours = [HourRow(hour) for hour in range(24)]
    workers: dict[str, WorkerRow] = {}
    sources = (
        ("receipts", Receipt.objects.all(), "received_at", "received_by_label"),
        ("inspections", Inspection.objects.all(), "inspected_at", "inspected_by_label"),
        ("dispositions", Disposition.objects.all(), "decided_at", "decided_by_label"),
    )
    for name, queryset, at, label in sources:
        found = _in_scope(queryset, scope).filter(
            **{f"{at}__gte": scope.start, f"{at}__lt": scope.end}
        )
        figures: dict[str, object] = {"n": Count("pk")}
        if name == "inspections":
            figures["timed"] = Count("seconds_spent")
            figures["seconds"] = Sum("seconds_spent")
        rows = found.values("facility_id", label, hour=TruncHour(at, tzinfo=UTC)).annotate(
            **figures
        )
        for row in rows:
            tz = facilities.get(row["facility_id"], ("", "UTC"))[1] or "UTC"
            hour = hours[_local_hour(row["hour"], tz)]
            setattr(hour, name, getattr(hour, name) + row["n"])
            worker = workers.setdefault(row[label], WorkerRow(row[label]))
            setattr(worker, name, getattr(worker, name) + row["n"])
            if name == "inspections":
                worker.timed_inspections += row["timed"]
                worker.inspection_seconds += row["seconds"] or 0
    ranked = sorted(workers.values(), key=lambda w: (-w.total, w.label))
    return hours, ranked


def _dock_to_stock(scope: OpsScope) -> DockToStock:
    rows = (
        _in_scope(Disposition.objects.all(), scope)
        .filter(option="restock", decided_at__gte=scope.start, decided_at__lt=scope.end)
        .values_list("decided_at", "inspection__receipt_line__receipt__received_at")
    )
    spans = [decided - received for decided, received in rows]
    counts = [0] * len(DOCK_TO_STOCK_BUCKETS)
    for span in spans:
        hours = span.total_seconds() / 3600
        for index, (bound, _) in enumerate(DOCK_TO_STOCK_BUCKETS):
            if bound is None or hours < bound:
                counts[index] += 1
                break
    return DockToStock(
        count=len(spans),
        p50=nearest_rank(spans, 50),
        p90=nearest_rank(spans, 90),
        buckets=tuple(
            (label, n) for (_, label), n in zip(DOCK_TO_STOCK_BUCKETS, counts, strict=True)
        ),
    )


def facility_dashboard(scope: OpsScope) -> Dashboard:
    """The facility dashboard: the backlog at each stage now and its oldest items, throughput
    per local hour of the day and per worker over the period, and dock-to-stock time (receipt
    to a restock disposition) of the units restocked in the period. Ten queries."""
    with scopes_disabled():
        facilities = {
            pk: (code, tz)
            for pk, code, tz in Facility.objects.values_list("pk", "code", "timezone")
        }
        backlog, oldest = _backlog(scope)
        hours, workers = _throughput(scope, facilities)
        dock = _dock_to_stock(scope)
    return Dashboard(
        backlog=backlog,
        oldest=oldest,
        hours=hours,
        workers=workers,
        dock_to_stock=dock,
        facilities=facilities,
    )
