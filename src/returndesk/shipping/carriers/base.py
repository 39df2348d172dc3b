"""The carrier adapter interface: what the shipping services ask of any carrier.

Adapters see plain dataclasses, never models, so each one can be tested against recorded
responses alone. Money is minor units with its currency.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from returndesk.core.errors import ApplicationError


class CarrierError(ApplicationError):
    """The carrier refused or could not be reached; nothing was bought."""

    code = "carrier_error"
    status = 502
    title = "Carrier error"


@dataclass(frozen=True)
class Address:
    name: str
    line1: str
    city: str
    postal_code: str
    country: str
    line2: str = ""
    region: str = ""
    company: str = ""
    phone: str = ""
    email: str = ""

    def lines(self) -> list[str]:
        """The address as printed, one line each."""
        place = " ".join(p for p in (self.city, self.region, self.postal_code) if p)
        rows = [self.name, self.company, self.line1, self.line2, place, self.country]
        return [r for r in rows if r]


@dataclass(frozen=True)
class Parcel:
    weight_grams: int


@dataclass(frozen=True)
class ShipmentRequest:
    """A return parcel from the shopper to the facility."""

    reference: str  # the RAN
    ship_from: Address  # the shopper
    ship_to: Address  # the facility
    parcel: Parcel
    services: tuple[str, ...] = ()  # the merchant's allowed services, empty for any
    carrier_accounts: tuple[str, ...] = ()


@dataclass(frozen=True)
class Quote:
    carrier: str  # the carrier that moves the parcel (USPS, UPS; "ReturnDesk" for prepaid)
    service: str
    amount: int
    currency: str
    reference: str = ""  # the adapter's id for the rate, if it has one


@dataclass(frozen=True)
class CreatedLabel:
    carrier: str
    service: str
    tracking_number: str
    amount: int
    currency: str
    external_id: str = ""  # the adapter's shipment id, needed to void
    label_url: str = ""  # the carrier's own label file, when there is one
    tracker_id: str = ""
    raw: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class TrackingEvent:
    status: str  # pre_transit, in_transit, out_for_delivery, delivered, return_to_sender,
    # failure, unknown (EasyPost's vocabulary, which the generic format uses too)
    at: datetime | None
    message: str = ""
    location: str = ""


@dataclass(frozen=True)
class TrackingInfo:
    tracking_number: str
    status: str
    events: tuple[TrackingEvent, ...] = ()


class CarrierAdapter(Protocol):
    """Quote, create a label, void it, and track it."""

    code: str  # the adapter's code, as merchants choose it ("prepaid", "easypost")

    def available(self) -> bool:
        """Whether it is configured to work now (an adapter without credentials is not)."""
        ...

    def quote(self, request: ShipmentRequest) -> Quote: ...

    def create_label(self, request: ShipmentRequest) -> CreatedLabel: ...

    def void_label(self, *, external_id: str, tracking_number: str) -> bool:
        """Ask the carrier to void an unused label; True when the carrier accepted."""
        ...

    def track(self, *, tracking_number: str, carrier: str) -> TrackingInfo | None: ...
