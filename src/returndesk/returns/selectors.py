"""Reads of returns."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet, Sum

from returndesk.catalog.models import Order, OrderLine
from returndesk.catalog.services import normalize_email
from returndesk.core.codes import parse_ran
from returndesk.core.errors import NotFound
from returndesk.returns.models import (
    LOST,
    PENDING_REVIEW,
    RELEASED_STATUSES,
    Return,
    ReturnEvent,
    ReturnLine,
)
from returndesk.tenants.models import Merchant

# What staff must look at: a parcel declared lost, or a return a carrier event flagged.
EXCEPTIONS = Q(status=LOST) | Q(exception_at__isnull=False)


class OrderNotFound(NotFound):
    """The same answer for an unknown order and for one whose e-mail or postal code does not
    match, so a guesser learns nothing."""

    code = "order_not_found"


def postal_key(code: str) -> str:
    """A postal code as compared: no spaces, upper case ("nw1 6xe" -> "NW16XE")."""
    return "".join(code.split()).upper()


def order_for_shopper(
    *,
    merchant: Merchant,
    order_number: str,
    email: str = "",
    postal_code: str = "",
    lock: bool = False,
) -> Order:
    """The order a shopper names, proven by its e-mail, or by its shipping postal code (a gift
    recipient). Any mismatch is the same OrderNotFound as an unknown number."""
    orders = Order.objects.filter(merchant=merchant, order_number=order_number)
    if lock:
        orders = orders.select_for_update(of=("self",))
    found = orders.select_related("customer").first()
    not_found = OrderNotFound("No order matches this order number and e-mail or postal code.")
    if found is None:
        raise not_found
    if postal_code:
        if not found.ship_postal_code or postal_key(found.ship_postal_code) != postal_key(
            postal_code
        ):
            raise not_found
    elif not email or not found.email or normalize_email(email) != found.email:
        raise not_found
    return found


def return_get(*, merchant: Merchant, ran: str) -> Return:
    """A return by its RAN, typed any way a person would (a mistyped one is 422 ran_invalid)."""
    code = parse_ran(ran)
    found = (
        Return.objects.filter(merchant=merchant, ran=code)
        .select_related("order", "policy_version")
        .prefetch_related(
            Prefetch(
                "lines",
                queryset=ReturnLine.objects.select_related("order_line").order_by(
                    "order_line__position", "pk"
                ),
            )
        )
        .first()
    )
    if found is None:
        raise NotFound(f"No return {ran}.")
    return found


def return_list(
    *,
    merchant: Merchant,
    ran: str | None = None,
    status: str | None = None,
    statuses: Iterable[str] | None = None,
    channel: str | None = None,
    reason: str | None = None,
    order_number: str | None = None,
    email: str | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    exceptions: bool = False,
) -> QuerySet[Return]:
    """Returns matching every filter given; `created_to` is exclusive, `reason` matches a
    return with any line given for that reason, `exceptions` keeps the ones staff must look
    at (lost, or flagged by a carrier event)."""
    qs = Return.objects.filter(merchant=merchant)
    if exceptions:
        qs = qs.filter(EXCEPTIONS)
    if ran:
        qs = qs.filter(ran=ran)
    if status:
        qs = qs.filter(status=status)
    if statuses is not None:
        qs = qs.filter(status__in=list(statuses))
    if channel:
        qs = qs.filter(channel=channel)
    if reason:
        qs = qs.filter(
            Exists(ReturnLine.objects.filter(return_request=OuterRef("pk"), reason=reason))
        )
    if order_number:
        qs = qs.filter(order__order_number=order_number)
    if email:
        qs = qs.filter(email=email.strip().lower())
    if created_from:
        qs = qs.filter(created_at__gte=created_from)
    if created_to:
        qs = qs.filter(created_at__lt=created_to)
    return qs.select_related("order", "policy_version").prefetch_related(
        Prefetch(
            "lines",
            queryset=ReturnLine.objects.select_related("order_line").order_by(
                "order_line__position"
            ),
        )
    )


def return_exception_count(*, merchant: Merchant) -> int:
    return Return.objects.filter(EXCEPTIONS, merchant=merchant).count()


def local_day_bounds(
    *, merchant: Merchant, first: date | None, last: date | None
) -> tuple[datetime | None, datetime | None]:
    """From the start of `first` to the end of `last` (the start of the next day), both in
    the merchant's time zone: what "created from ... to ..." means to its staff."""
    zone = ZoneInfo(merchant.timezone)
    start = datetime.combine(first, time(0), tzinfo=zone) if first else None
    end = datetime.combine(last + timedelta(days=1), time(0), tzinfo=zone) if last else None
    return start, end


def returns_in_review(*, merchant: Merchant) -> QuerySet[Return]:
    """The review queue: pending returns, oldest first, with their lines."""
    return return_list(merchant=merchant, status=PENDING_REVIEW).order_by("created_at", "pk")


def order_for_staff(
    *, merchant: Merchant, order_number: str, email: str = "", postal_code: str = ""
) -> Order:
    """The order staff look up for a customer: by its number, checked against the e-mail or
    postal code when the caller gives one (a mismatch is the shopper's same OrderNotFound)."""
    if email or postal_code:
        return order_for_shopper(
            merchant=merchant, order_number=order_number, email=email, postal_code=postal_code
        )
    found = Order.objects.filter(merchant=merchant, order_number=order_number).first()
    if found is None:
        raise OrderNotFound(f"No order {order_number}.")
    return found


def order_lines_open(*, order: Order) -> list[tuple[OrderLine, int]]:
    """The order's lines, each with the units no other return holds: what an agent may still
    ask to return. Two queries."""
    held = order_line_return_quantities(order_ids=[order.pk])
    lines = OrderLine.objects.filter(order=order).order_by("position")
    return [(line, max(0, line.quantity - sum(held.get(line.pk, (0, 0))))) for line in lines]


def return_status_counts(*, merchant: Merchant) -> dict[str, int]:
    """How many returns are in each status: the console's queues, in one query."""
    rows = Return.objects.filter(merchant=merchant).values("status").annotate(n=Count("pk"))
    return {row["status"]: row["n"] for row in rows}


def return_events(*, ret: Return) -> QuerySet[ReturnEvent]:
    return ReturnEvent.objects.filter(return_request=ret).order_by("created_at", "id")


RETURNED_STATUSES = ("received", "inspected", "completed")


def order_line_return_quantities(*, order_ids: list[int]) -> dict[int, tuple[int, int]]:
    """Per order line of these orders: (units returned, units requested and still open).
    Returned means the return reached the facility (or is historical); requested means a
    return holds the units and has not arrived yet. One query for any number of orders."""
    totals: dict[int, list[int]] = {}
    rows = (
        ReturnLine.objects.filter(return_request__order_id__in=order_ids)
        .exclude(return_request__status__in=RELEASED_STATUSES)
        .values("order_line_id", "return_request__status")
        .annotate(units=Sum("quantity"))
    )
    for row in rows:
        entry = totals.setdefault(row["order_line_id"], [0, 0])
        entry[0 if row["return_request__status"] in RETURNED_STATUSES else 1] += row["units"]
    return {pk: (returned, requested) for pk, (returned, requested) in totals.items()}
