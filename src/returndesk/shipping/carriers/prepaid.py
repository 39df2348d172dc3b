"""The provider's own prepaid label: no outside service, so the demo and tests run offline.

The provider prints its own tracking number on the label and its facilities scan it on arrival;
the merchant's price per label is its carrier settings' `prepaid_cost_amount`.
"""

from __future__ import annotations

from returndesk.core.ids import random_base32
from returndesk.shipping.carriers.base import (
    CreatedLabel,
    Quote,
    ShipmentRequest,
    TrackingInfo,
)

CARRIER_NAME = "ReturnDesk"
SERVICE = "Prepaid return"


class PrepaidAdapter:
    code = "prepaid"

    def __init__(self, *, amount: int = 0, currency: str = "USD") -> None:
        self.amount = amount
        self.currency = currency

    def available(self) -> bool:
        return True

    def quote(self, request: ShipmentRequest) -> Quote:
        return Quote(CARRIER_NAME, SERVICE, self.amount, self.currency)

    def create_label(self, request: ShipmentRequest) -> CreatedLabel:
        # "RD" and 16 Crockford symbols (80 random bits): never read as a RAN (13 symbols).
        tracking = f"RD{random_base32(16)}"
        return CreatedLabel(
            carrier=CARRIER_NAME,
            service=SERVICE,
            tracking_number=tracking,
            amount=self.amount,
            currency=self.currency,
        )

    def void_label(self, *, external_id: str, tracking_number: str) -> bool:
        return True  # nothing was bought outside

    def track(self, *, tracking_number: str, carrier: str) -> TrackingInfo | None:
        return None  # the facility's receiving scan is the only event
