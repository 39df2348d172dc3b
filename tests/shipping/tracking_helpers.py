"""Building, signing and sending carrier webhooks in tests, and returns that travel."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import unicodedata
from datetime import UTC, datetime, timedelta
from typing import Any

from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from returndesk.core.tenancy import merchant_scope
from returndesk.returns.models import Return
from returndesk.shipping.models import Label
from returndesk.shipping.tasks import process_carrier_webhook
from returndesk.shipping.webhooks import generic_signature_header
from returndesk.tenants.models import Merchant
from returndesk.tenants.services import facility_create
from tests.conftest import ACTOR, ApiClient
from tests.factories import money, order_body, product_body

EASYPOST_SECRET = "ep_whsec_test"
GENERIC_SECRET = "whsec_generic_test"
TASK_PATH = "returndesk.shipping.tasks.process_carrier_webhook"
SEQUENCE = ("pre_transit", "in_transit", "out_for_delivery", "delivered")
BASE_TIME = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def at(hours: int) -> str:
    return (BASE_TIME + timedelta(hours=hours)).isoformat().replace("+00:00", "Z")


def travelling_return(
    api: ApiClient, merchant: Merchant, *, tracking: str, adapter: str = "easypost"
) -> dict[str, Any]:
    """An authorized return of the merchant with a label whose tracking number is `tracking`
    (a prepaid label, re-badged as the adapter's: buying through EasyPost is tested
    elsewhere)."""
    facility_create(
        actor=ACTOR,
        code=f"F-{merchant.slug}"[:20].upper(),
        name=f"Facility of {merchant.slug}",
        line1="1 Dock Rd",
        city="Newark",
        region="NJ",
        postal_code="07102",
        country="US",
        merchant_slugs=[merchant.slug],
    )
    assert api.put("/products/SHOE-1", product_body()).status_code == 201
    assert api.put("/products/SOCK-1", product_body(name="Sock", price=money(1200))).status_code
    recent = (timezone.now() - timedelta(days=4)).isoformat()
    assert api.put("/orders/1001", order_body(placed_at=recent, delivered_at=recent)).status_code
    created = api.post(
        "/returns",
        {
            "order_number": "1001",
            "email": "shopper@example.com",
            "channel": "api",
            "resolution": "refund",
            "lines": [{"line_id": "1", "quantity": 1, "reason": "wrong_size"}],
        },
    )
    assert created.status_code == 201, created.content
    ran = created.json()["ran"]
    assert api.post(f"/returns/{ran}/label", {}).status_code == 201
    with merchant_scope(merchant):
        Label.objects.filter(return_request__merchant=merchant).update(
            adapter=adapter, tracking_number=tracking, carrier="USPS"
        )
    return created.json()


def return_status(ran: str) -> str:
    compact = ran.replace("-", "")
    return Return.objects.with_scopes_disabled().get(ran=compact).status  # type: ignore[attr-defined,no-any-return]


def easypost_body(
    event_id: str, tracking: str, statuses: list[str], *, description: str = "tracker.updated"
) -> bytes:
    """A tracker event as EasyPost sends it: the tracker with every scan so far."""
    details = [
        {
            "object": "TrackingDetail",
            "message": f"{status.replace('_', ' ')} scan",
            "status": status,
            "datetime": at(SEQUENCE.index(status) if status in SEQUENCE else 10),
            "tracking_location": {
                "object": "TrackingLocation",
                "city": "NEWARK",
                "state": "NJ",
                "country": "US",
                "zip": None,
            },
        }
        for status in statuses
    ]
    event = {
        "id": event_id,
        "object": "Event",
        "description": description,
        "mode": "test",
        "created_at": at(20),
        "result": {
            "id": "trk_test",
            "object": "Tracker",
            "tracking_code": tracking,
            "status": statuses[-1] if statuses else "unknown",
            "carrier": "USPS",
            "tracking_details": details,
        },
    }
    return json.dumps(event).encode()


def easypost_headers(body: bytes, secret: str = EASYPOST_SECRET) -> dict[str, str]:
    key = unicodedata.normalize("NFKD", secret).encode()
    digest = hmac.new(key, body, hashlib.sha256).hexdigest()
    return {"X-Hmac-Signature": f"hmac-sha256-hex={digest}"}


def generic_body(
    event_id: str, tracking: str, status: str, occurred_at: str, **extra: Any
) -> bytes:
    body = {
        "id": event_id,
        "tracking_number": tracking,
        "status": status,
        "occurred_at": occurred_at,
        "details": {"message": f"{status} scan", "location": "Newark, NJ, US"},
        **extra,
    }
    return json.dumps(body).encode()


def generic_headers(
    body: bytes, secret: str = GENERIC_SECRET, timestamp: int | None = None
) -> dict[str, str]:
    stamp = int(time.time()) if timestamp is None else timestamp
    return {"ReturnDesk-Signature": generic_signature_header(secret, stamp, body)}


def post_webhook(carrier: str, body: bytes, headers: dict[str, str]) -> Any:
    return ApiClient(None).send("POST", f"/carriers/{carrier}/webhooks", raw=body, headers=headers)


def run_webhook_tasks() -> int:
    """What the task worker would do: run each queued webhook task once."""
    queued = list(DBTaskResult.objects.filter(task_path=TASK_PATH).order_by("enqueued_at", "id"))
    for row in queued:
        process_carrier_webhook.call(**row.args_kwargs["kwargs"])
        row.delete()
    return len(queued)
