"""EasyPost, through its official client library.

A return label is a shipment created with `is_return` (EasyPost swaps the addresses, so the
request names them as the original outbound parcel: from the facility to the shopper), bought at
the lowest rate among the merchant's allowed services; the purchase creates the tracker, and one
is created explicitly when the answer has none. Voiding asks EasyPost to refund the postage.
"""

from __future__ import annotations

import logging
from decimal import Decimal, InvalidOperation
from typing import Any

import easypost
from django.utils.dateparse import parse_datetime
from easypost.errors import EasyPostError

from returndesk.core.money import Money, MoneyError
from returndesk.shipping.carriers.base import (
    Address,
    CarrierError,
    CreatedLabel,
    Quote,
    ShipmentRequest,
    TrackingEvent,
    TrackingInfo,
)

logger = logging.getLogger(__name__)

DEFAULT_API_BASE = "https://api.easypost.com/v2"
# EasyPost's refund states: a void is accepted while the carrier is considering it.
REFUND_ACCEPTED = {"submitted", "refunded"}


def _address(address: Address) -> dict[str, str]:
    data = {
        "name": address.name,
        "company": address.company,
        "street1": address.line1,
        "street2": address.line2,
        "city": address.city,
        "state": address.region,
        "zip": address.postal_code,
        "country": address.country,
        "phone": address.phone,
        "email": address.email,
    }
    return {k: v for k, v in data.items() if v}


def _ounces(grams: int) -> float:
    # EasyPost weighs parcels in ounces; round up to a tenth so a label never under-declares.
    tenths = -(-grams * 100_000 // 283_495)  # ceil(grams / 28.3495 * 10)
    return max(tenths, 1) / 10


def _amount(rate: Any) -> tuple[int, str]:
    currency = str(rate.get("currency") or "USD")
    try:
        return Money.from_decimal(Decimal(str(rate.get("rate"))), currency).amount, currency
    except (InvalidOperation, MoneyError) as exc:
        raise CarrierError(f"EasyPost answered a rate we cannot read: {exc}") from None


class EasyPostAdapter:
    code = "easypost"

    def __init__(self, *, api_key: str, api_base: str = DEFAULT_API_BASE, timeout: int = 30):
        self.api_key = api_key
        self.api_base = api_base
        self.timeout = timeout

    def available(self) -> bool:
        return bool(self.api_key)

    def _client(self) -> easypost.EasyPostClient:
        if not self.api_key:
            raise CarrierError("EasyPost is not configured (RETURNDESK_EASYPOST_API_KEY).")
        return easypost.EasyPostClient(self.api_key, api_base=self.api_base, timeout=self.timeout)

    def _shipment(self, client: easypost.EasyPostClient, request: ShipmentRequest) -> Any:
        params: dict[str, Any] = {
            "is_return": True,
            # the outbound direction; EasyPost swaps to and from for a return
            "from_address": _address(request.ship_to),
            "to_address": _address(request.ship_from),
            "parcel": {"weight": _ounces(request.parcel.weight_grams)},
            "reference": request.reference,
        }
        if request.carrier_accounts:
            params["carrier_accounts"] = list(request.carrier_accounts)
        return client.shipment.create(**params)

    def _lowest(self, shipment: Any, request: ShipmentRequest) -> Any:
        try:
            return shipment.lowest_rate(services=list(request.services) or None)
        except EasyPostError:
            allowed = ", ".join(request.services) or "any service"
            raise CarrierError(f"EasyPost offered no rate for {allowed}.") from None

    def quote(self, request: ShipmentRequest) -> Quote:
        client = self._client()
        try:
            shipment = self._shipment(client, request)
            rate = self._lowest(shipment, request)
        except EasyPostError as exc:
            raise CarrierError(f"EasyPost refused the quote: {exc}") from None
        amount, currency = _amount(rate)
        return Quote(rate.carrier, rate.service, amount, currency, reference=rate.id)

    def create_label(self, request: ShipmentRequest) -> CreatedLabel:
        client = self._client()
        try:
            shipment = self._shipment(client, request)
            rate = self._lowest(shipment, request)
            bought = client.shipment.buy(shipment.id, rate=rate)
        except EasyPostError as exc:
            raise CarrierError(f"EasyPost could not sell the label: {exc}") from None
        tracking = str(bought.get("tracking_code") or "")
        if not tracking:
            raise CarrierError("EasyPost sold a label without a tracking number.")
        tracker = bought.get("tracker")
        tracker_id = str(tracker.get("id") or "") if tracker else ""
        selected = bought.get("selected_rate") or rate
        carrier = str(selected.get("carrier") or rate.carrier)
        if not tracker_id:
            try:
                tracker_id = client.tracker.create(tracking_code=tracking, carrier=carrier).id
            except EasyPostError as exc:  # the label is bought: tracking can be polled later
                logger.warning("EasyPost tracker for %s not created: %s", tracking, exc)
        amount, currency = _amount(selected)
        label = bought.get("postage_label") or {}
        return CreatedLabel(
            carrier=carrier,
            service=str(selected.get("service") or ""),
            tracking_number=tracking,
            amount=amount,
            currency=currency,
            external_id=str(bought.id),
            label_url=str(label.get("label_pdf_url") or label.get("label_url") or ""),
            tracker_id=tracker_id,
        )

    def void_label(self, *, external_id: str, tracking_number: str) -> bool:
        client = self._client()
        try:
            refunded = client.shipment.refund(external_id)
        except EasyPostError as exc:
            raise CarrierError(f"EasyPost refused to void {tracking_number}: {exc}") from None
        return str(refunded.get("refund_status") or "") in REFUND_ACCEPTED

    def track(self, *, tracking_number: str, carrier: str) -> TrackingInfo | None:
        client = self._client()
        try:
            tracker = client.tracker.create(tracking_code=tracking_number, carrier=carrier)
        except EasyPostError as exc:
            raise CarrierError(f"EasyPost could not track {tracking_number}: {exc}") from None
        return tracking_info(tracker.to_dict())


def tracking_info(tracker: dict[str, Any]) -> TrackingInfo:
    """A tracker object (from the API or a `tracker.updated` event), read defensively."""
    events = []
    for detail in tracker.get("tracking_details") or []:
        if not isinstance(detail, dict):
            continue
        place = detail.get("tracking_location") or {}
        where = ", ".join(str(place.get(k)) for k in ("city", "state", "country") if place.get(k))
        when = detail.get("datetime")
        events.append(
            TrackingEvent(
                status=str(detail.get("status") or "unknown"),
                at=parse_datetime(when) if isinstance(when, str) else None,
                message=str(detail.get("message") or ""),
                location=where,
            )
        )
    return TrackingInfo(
        tracking_number=str(tracker.get("tracking_code") or ""),
        status=str(tracker.get("status") or "unknown"),
        events=tuple(events),
    )
