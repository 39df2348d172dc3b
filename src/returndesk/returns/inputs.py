from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ReturnLineInput:
    line_id: str
    quantity: int
    reason: str
    sku: str = ""  # a receipt-based return names products, not order lines
    comment: str = ""
    photo_upload_ids: tuple[str, ...] = ()
    exchange_sku: str = ""
    exchange_quantity: int = 0


@dataclass(frozen=True)
class ReturnInput:
    """A return request from any channel. A gift return gives `gift_postal_code` (and the
    recipient's e-mail) instead of the buyer's `email`."""

    order_number: str
    lines: tuple[ReturnLineInput, ...]
    resolution: str
    channel: str
    email: str = ""
    gift_postal_code: str = ""
    gift_recipient_email: str = ""
    proof_of_purchase_upload_id: str = ""
    note: str = ""
