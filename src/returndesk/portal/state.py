"""The shopper's journey in the session: the order found in step 1 and the return being put
together. Nothing here is trusted for figures or eligibility: every step asks the services again
with what the session holds, and the confirm step creates the return through them."""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest

from returndesk.returns.inputs import ReturnInput, ReturnLineInput
from returndesk.tenants.models import Merchant

# {"merchant", "order", "gift", "number", "email", "postal", "receipt"}
ORDER_KEY = "portal_order"
DRAFT_KEY = "portal_draft"
DONE_KEY = "portal_done"  # confirm token -> RAN, for a repeated confirm
RETURNS_KEY = "portal_returns"  # RANs this session created, whose confirmation it may see
MAX_PHOTOS = 10  # per line, as the API allows


@dataclass(frozen=True)
class Found:
    """Step 1's answer: the order, and how the shopper proved it. A return on a receipt has no
    order in the system (`order_id` 0): the number as written on the receipt, the shopper's
    e-mail and the receipt's upload id."""

    merchant_id: int
    order_id: int
    gift: bool
    number: str
    email: str
    postal: str
    receipt: str = ""

    @property
    def subject(self) -> str:
        """What a draft belongs to: the order, or the receipt."""
        return f"receipt:{self.receipt}" if self.receipt else f"order:{self.order_id}"


def remember_order(
    request: HttpRequest, *, merchant: Merchant, order_id: int, number: str, email: str, postal: str
) -> None:
    request.session.cycle_key()
    gift = bool(postal and not email)
    request.session[ORDER_KEY] = {
        "merchant": merchant.pk,
        "order": order_id,
        "gift": gift,
        "number": number,
        "email": "" if gift else email,
        "postal": postal if gift else "",
    }
    request.session.pop(DRAFT_KEY, None)


def remember_receipt(
    request: HttpRequest, *, merchant: Merchant, number: str, email: str, receipt: str
) -> None:
    """Step 1 on a receipt: the order is not in the system, so the receipt is the proof."""
    request.session.cycle_key()
    request.session[ORDER_KEY] = {
        "merchant": merchant.pk,
        "order": 0,
        "gift": False,
        "number": number,
        "email": email,
        "postal": "",
        "receipt": receipt,
    }
    request.session.pop(DRAFT_KEY, None)


def found_order(request: HttpRequest, merchant: Merchant) -> Found | None:
    data = request.session.get(ORDER_KEY) or {}
    if data.get("merchant") != merchant.pk or not data.get("number"):
        return None
    return Found(
        merchant_id=merchant.pk,
        order_id=int(data["order"]),
        gift=bool(data.get("gift")),
        number=str(data["number"]),
        email=str(data.get("email", "")),
        postal=str(data.get("postal", "")),
        receipt=str(data.get("receipt", "")),
    )


def forget_order(request: HttpRequest) -> None:
    request.session.pop(ORDER_KEY, None)
    request.session.pop(DRAFT_KEY, None)


def draft_of(request: HttpRequest, found: Found) -> dict[str, Any]:
    """The return being put together for the order found (a fresh one for another order)."""
    draft = request.session.get(DRAFT_KEY)
    if not isinstance(draft, dict) or draft.get("order") != found.subject:
        draft = {"order": found.subject, "lines": [], "resolution": "", "recipient_email": ""}
    return draft


def draft_save(request: HttpRequest, draft: dict[str, Any]) -> None:
    draft.pop("token", None)  # anything changed: the figures must be shown again
    request.session[DRAFT_KEY] = draft


def draft_line(line_id: str, n: int, quantity: int, *, sku: str = "") -> dict[str, Any]:
    """One item of the draft: an order line, or (on a receipt, `sku`) a catalogue product."""
    return {
        "line_id": line_id,
        "sku": sku,
        "n": n,
        "quantity": quantity,
        "reason": "",
        "comment": "",
        "photos": [],
        "exchange_sku": "",
    }


def confirm_token(request: HttpRequest, draft: dict[str, Any]) -> str:
    """A new token for the confirm button; only the latest figures shown can be confirmed."""
    draft["token"] = secrets.token_urlsafe(24)
    request.session[DRAFT_KEY] = draft
    return str(draft["token"])


def draft_fingerprint(draft: dict[str, Any]) -> str:
    content = {k: v for k, v in draft.items() if k != "token"}
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def return_input(
    found: Found, draft: dict[str, Any], *, resolution: str | None = None
) -> ReturnInput:
    """The draft as the services take it, with the proof the shopper gave in step 1. On a
    receipt the lines name products by SKU; the services number them R1, R2... in this order."""
    return ReturnInput(
        order_number=found.number,
        email="" if found.gift else found.email,
        gift_postal_code=found.postal if found.gift else "",
        gift_recipient_email=str(draft.get("recipient_email", "")) if found.gift else "",
        channel="portal",
        proof_of_purchase_upload_id=found.receipt,
        resolution=resolution or str(draft.get("resolution", "")),
        lines=tuple(
            ReturnLineInput(
                line_id="" if found.receipt else line["line_id"],
                sku=str(line.get("sku", "")) if found.receipt else "",
                quantity=int(line["quantity"]),
                reason=line["reason"],
                comment=line["comment"],
                photo_upload_ids=tuple(line["photos"]),
                exchange_sku=line["exchange_sku"],
                exchange_quantity=int(line["quantity"]) if line["exchange_sku"] else 0,
            )
            for line in draft["lines"]
        ),
    )


def return_seen(request: HttpRequest, *, ran: str, token: str) -> None:
    """The return is made: its confirmation belongs to this session, the draft is done."""
    mine = list(request.session.get(RETURNS_KEY, []))
    if ran not in mine:
        mine = [*mine[-19:], ran]
    request.session[RETURNS_KEY] = mine
    done = dict(request.session.get(DONE_KEY, {}))
    done[token] = ran
    request.session[DONE_KEY] = dict(list(done.items())[-20:])
    request.session.pop(DRAFT_KEY, None)
