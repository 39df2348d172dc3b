"""One shopper known to two merchants, with something in every place personal data can sit: the
customer record and order address, a return with a comment, a note and photos, a cancelled
return with the shopper's own words, a label, a receipt and an inspection with staff notes and
photos, a refund, store credit, e-mails, webhook events, a raw shop webhook, a raw payment
event, a raw carrier webhook, a blocklist entry and audit entries."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import Any

from django_scopes import scopes_disabled
from PIL import Image

from returndesk.core.actors import Actor
from returndesk.core.ids import new_public_id
from returndesk.core.tenancy import merchant_scope
from returndesk.core.uploads import upload_create
from returndesk.credit.services import store_credit_issue
from returndesk.integrations.models import ShopOrder
from returndesk.integrations.webhooks import shop_webhook_receive
from returndesk.notifications.dispatch import outbox_dispatch_due
from returndesk.policies.models import BlocklistEntry
from returndesk.refunds.execution import refund_triggers_process
from returndesk.refunds.models import PaymentWebhook
from returndesk.returns.selectors import return_get
from returndesk.returns.services import return_act
from returndesk.shipping.models import CarrierWebhook
from returndesk.shipping.services import label_issue
from returndesk.tenants.models import Facility, Merchant
from returndesk.warehouse.inspection import InspectionInput, inspection_record
from returndesk.warehouse.models import ReceiptLine
from returndesk.warehouse.services import LineCount, receipt_record, receipt_scan
from tests.conftest import ApiClient
from tests.factories import make_facility, money, order_body, product_body
from tests.integrations.conftest import connect, shopify_headers

ACTOR = Actor.system("tests")
EMAIL = "sam.shopper@example.com"
# What must be gone from the merchant's rows after erasure (and stay at the other merchant).
PERSONAL = {
    "email": EMAIL,
    "name": "Samantha Q. Shopper",
    "phone": "+1 217 555 0199",
    "street": "742 Evergreen Terrace",
    "city": "Springfield",
    "postal_code": "62704",
    "comment": "The left shoe squeaks on tiles",
    "note": "Please call me after five",
    "cancel_words": "my dog chewed the box",
    "receipt_note": "Box addressed to Samantha Q. Shopper",
    "inspection_note": "Handwritten note from Samantha inside",
}


@dataclass
class World:
    merchant: Merchant
    ran: str  # the return received, inspected and refunded
    cancelled_ran: str
    photo_ids: list[str]
    photo_paths: list[str]
    order_number: str = "1001"


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), "teal").save(out, "JPEG")
    return out.getvalue()


def _order(api: ApiClient, number: str) -> None:
    for sku, name, price in (("SHOE-1", "Trail Runner", 8900), ("SOCK-1", "Sock", 1200)):
        api.put(f"/products/{sku}", product_body(name=name, price=money(price)))
    body = order_body()
    body["customer"] = {"email": EMAIL, "name": PERSONAL["name"], "phone": PERSONAL["phone"]}
    body["shipping_address"] = {
        "name": PERSONAL["name"],
        "line1": PERSONAL["street"],
        "city": PERSONAL["city"],
        "region": "IL",
        "postal_code": PERSONAL["postal_code"],
        "country": "US",
    }
    response = api.put(f"/orders/{number}", body)
    assert response.status_code == 201, response.content


def _photo(merchant: Merchant) -> Any:
    return upload_create(actor=ACTOR, merchant_id=merchant.pk, data=jpeg())


def build(api: ApiClient, merchant: Merchant, *, full: bool = True) -> World:
    """The shopper's data at `merchant`; `full=False` stops after the order and a return."""
    _order(api, "1001")
    photos = [_photo(merchant) for _ in range(4)]
    created = api.post(
        "/returns",
        {
            "order_number": "1001",
            "email": EMAIL,
            "channel": "api",
            "resolution": "refund",
            "note": PERSONAL["note"],
            "lines": [
                {
                    "line_id": "1",
                    "quantity": 1,
                    "reason": "wrong_size",
                    "comment": PERSONAL["comment"],
                    "photo_upload_ids": [photos[0].public_id],
                }
            ],
        },
    )
    assert created.status_code == 201, created.content
    ran = created.json()["ran"].replace("-", "")
    other = (
        api.post(
            "/returns",
            {
                "order_number": "1001",
                "email": EMAIL,
                "channel": "api",
                "resolution": "refund",
                "lines": [{"line_id": "2", "quantity": 1, "reason": "wrong_size"}],
            },
        )
        .json()["ran"]
        .replace("-", "")
    )
    world = World(
        merchant=merchant,
        ran=ran,
        cancelled_ran=other,
        photo_ids=[p.public_id for p in photos],
        photo_paths=[p.file.path for p in photos],
    )
    with merchant_scope(merchant):
        return_act(
            actor=Actor.shopper(),
            ret=return_get(merchant=merchant, ran=other),
            action="cancel",
            reason=f"cancelled by the shopper: {PERSONAL['cancel_words']}",
        )
    if not full:
        return world
    facility = Facility.objects.filter(code="PRV1").first() or make_facility(
        merchant, code="PRV1", name="Privacy dock"
    )
    with merchant_scope(merchant):
        ret = return_get(merchant=merchant, ran=ran)
        label, _ = label_issue(actor=ACTOR, ret=ret)
    scanned = receipt_scan(actor=ACTOR, facility=facility, code=ran)
    assert scanned.receipt is not None
    with scopes_disabled():
        line = ReceiptLine.objects.get(receipt=scanned.receipt)
    receipt_record(
        actor=ACTOR,
        receipt=scanned.receipt,
        lines=[LineCount(line_id=line.public_id, quantity=1)],
        notes=PERSONAL["receipt_note"],
        photo_upload_ids=[photos[1].public_id],
    )
    line.refresh_from_db()
    inspection_record(
        actor=ACTOR,
        receipt_line=line,
        unit=1,
        data=InspectionInput(
            grade="A", notes=PERSONAL["inspection_note"], photo_upload_ids=[photos[2].public_id]
        ),
    )
    refund_triggers_process()
    outbox_dispatch_due()
    with merchant_scope(merchant):
        store_credit_issue(
            merchant=merchant,
            email=EMAIL,
            currency="USD",
            amount=1500,
            reference=new_public_id("ref"),
            source=None,
            actor=ACTOR,
        )
        BlocklistEntry.objects.create(merchant=merchant, kind="email", value=EMAIL, note="fraud?")
        PaymentWebhook.objects.create(
            merchant=merchant,
            public_id=new_public_id("pwh"),
            provider="stripe",
            event_id=new_public_id("evt"),
            event_type="charge.refunded",
            body=json.dumps({"billing_details": {"email": EMAIL, "name": PERSONAL["name"]}}),
            verified=True,
        )
        order_id = return_get(merchant=merchant, ran=ran).order_id
        ShopOrder.objects.create(
            merchant=merchant,
            kind="shopify",
            external_id="820982911946154508",
            order_id=order_id,
            source_updated_at=label.created_at,
        )
    CarrierWebhook.objects.create(
        public_id=new_public_id("cwh"),
        carrier="prepaid",
        format="generic",
        body=json.dumps({"signed_by": PERSONAL["name"]}).encode(),
        signature_valid=True,
        state="processed",
        merchant=merchant,
        label=label,
    )
    connect(merchant, "shopify")
    body = json.dumps(
        {
            "id": 820982911946154508,
            "email": EMAIL,
            "customer": {"first_name": "Samantha", "phone": PERSONAL["phone"]},
            "shipping_address": {"address1": PERSONAL["street"], "city": PERSONAL["city"]},
        }
    ).encode()
    shop_webhook_receive(
        kind="shopify",
        merchant_slug=merchant.slug,
        body=body,
        headers=shopify_headers(body, webhook_id=new_public_id("dlv")),
    )
    return world
