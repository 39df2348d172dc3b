"""What a shopper may see of a return, and how they find it again.

The shopper's view leaves out what is for staff: actors, the reasons and notes staff type, risk,
internal events. A gift return is the recipient's: it is found with the recipient's e-mail, and
nothing here tells the buyer who sent it back.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from returndesk.catalog.models import OrderLine, Product
from returndesk.catalog.services import normalize_email
from returndesk.core.codes import parse_ran
from returndesk.core.errors import NotFound
from returndesk.returns.models import (
    CANCELLED,
    EXPIRED,
    TRANSITIONS,
    Return,
    ReturnEvent,
    ReturnLine,
)
from returndesk.tenants.models import Merchant

__all__ = [
    "STATUS_TEXT",
    "PackingItem",
    "ReturnNotFound",
    "ShopperEvent",
    "exchange_options",
    "return_cancellable",
    "return_for_shopper",
    "return_packing",
    "shopper_timeline",
]


class ReturnNotFound(NotFound):
    """The same answer for an unknown RAN and for one whose e-mail does not match."""

    code = "return_not_found"


def return_for_shopper(*, merchant: Merchant, ran: str, email: str) -> Return:
    """The return a shopper names by its RAN and their e-mail: the buyer's, or for a gift
    return the recipient's own. A mistyped RAN raises RanInvalid before anything is looked up;
    any mismatch is the same ReturnNotFound as an unknown RAN."""
    code = parse_ran(ran)
    found = Return.objects.filter(merchant=merchant, ran=code).first()
    wanted = normalize_email(email)
    expected = "" if found is None else (found.gift_recipient_email if found.gift else found.email)
    if (
        found is None
        or not wanted
        or not expected
        or not hmac.compare_digest(expected.encode(), wanted.encode())
    ):
        raise ReturnNotFound("No return matches this return number and e-mail address.")
    return found


def return_cancellable(ret: Return) -> bool:
    """Whether the shopper may still cancel: only while nothing has been shipped (the
    transition table allows cancelling from review and from authorized, not later)."""
    return CANCELLED in TRANSITIONS.get(ret.status or None, frozenset())


# The current status, as a shopper reads it.
STATUS_TEXT: dict[str, Promise] = {
    "authorized": _("Approved: ready to send"),
    "pending_review": _("Being reviewed"),
    "rejected": _("Not accepted"),
    "cancelled": _("Cancelled"),
    "expired": _("Expired: nothing was sent in time"),
    "in_transit": _("On its way to us"),
    "delivered": _("Delivered to the returns centre"),
    "lost": _("Lost by the carrier: we're looking into it"),
    "received": _("Received"),
    "inspected": _("Checked"),
    "completed": _("Completed"),
}

# Only these events reach the shopper's timeline, in these words; anything else (notes, staff
# actions without a status change, future internal events) stays with staff.
_EVENT_TEXT: dict[str, Promise] = {
    "return.created": _("Return requested"),
    "return.authorized": _("Return approved"),
    "return.pending_review": _("Sent for review"),
    "return.rejected": _("Return not accepted"),
    "return.cancelled": _("Return cancelled"),
    "return.expired": _("Return expired: nothing was sent before the deadline"),
    "return.in_transit": _("Parcel on its way"),
    "return.delivered": _("Parcel delivered to the returns centre"),
    "return.lost": _("The carrier lost the parcel"),
    "return.received": _("Parcel received"),
    "return.inspected": _("Items checked"),
    "return.completed": _("Return completed"),
}


@dataclass(frozen=True)
class ShopperEvent:
    type: str
    title: str
    at: datetime


def shopper_timeline(*, ret: Return) -> list[ShopperEvent]:
    """The return's timeline as the shopper should see it: what happened and when, oldest
    first, with no actor, reason or payload."""
    events = ReturnEvent.objects.filter(return_request=ret, type__in=list(_EVENT_TEXT)).order_by(
        "created_at", "id"
    )
    timeline = []
    for event in events.only("type", "from_status", "created_at"):
        title = _EVENT_TEXT[event.type]
        if event.type == "return.authorized" and event.from_status == EXPIRED:
            title = _("Return approved again")
        timeline.append(ShopperEvent(type=event.type, title=str(title), at=event.created_at))
    return timeline


@dataclass(frozen=True)
class PackingItem:
    name: str
    sku: str
    quantity: int
    instructions: str


def return_packing(*, ret: Return) -> list[PackingItem]:
    """Each item of the return with its product's packing instructions."""
    lines = list(
        ReturnLine.objects.filter(return_request=ret)
        .select_related("order_line__product")
        .order_by("order_line__position", "pk")
    )
    loose = {line.sku for line in lines if line.order_line is None}
    by_sku = {p.sku: p for p in Product.objects.filter(merchant_id=ret.merchant_id, sku__in=loose)}
    items = []
    for line in lines:
        product = line.order_line.product if line.order_line else by_sku.get(line.sku)
        items.append(
            PackingItem(
                name=line.name,
                sku=line.sku,
                quantity=line.quantity,
                instructions=product.packing_instructions if product else "",
            )
        )
    return items


def exchange_options(*, merchant: Merchant, line: OrderLine) -> list[Product]:
    """What a line can be exchanged for: like for like, so the same product or another of the
    same category at the same price (another size or colour); the product itself first."""
    product = line.product
    alike = Q(pk=product.pk)
    if product.category:
        alike |= Q(
            category=product.category,
            price_amount=product.price_amount,
            currency=product.currency,
        )
    others = Product.objects.filter(merchant=merchant).filter(alike)
    options = sorted(others, key=lambda p: (p.pk != product.pk, p.name, p.sku))
    return options
