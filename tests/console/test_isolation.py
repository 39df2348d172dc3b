"""Every console URL of one merchant answers 404 to a user of another merchant, for GET and
POST alike, exactly as an unknown merchant does; the same URL works for the merchant's own
admin, so the 404 is the seat check and not a bad test URL.

The URL list is read from the console's URLconf, so a page added later is covered without
touching this file, as long as its URL parameters have a value below.
"""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, reverse
from django_scopes import scopes_disabled
from PIL import Image

from returndesk.console import urls as console_urls
from returndesk.core.actors import Actor
from returndesk.core.tenancy import merchant_scope
from returndesk.core.uploads import upload_create
from returndesk.notifications.dispatch import outbox_dispatch_due
from returndesk.notifications.models import WebhookDelivery
from returndesk.notifications.webhooks import webhook_endpoint_create
from returndesk.refunds.execution import refund_triggers_process
from returndesk.refunds.models import Refund
from returndesk.refunds.services import adjustment_open
from returndesk.returns.selectors import return_get
from returndesk.returns.services import return_act
from returndesk.shipping.models import WEBHOOK_FAILED, CarrierWebhook
from returndesk.shipping.services import facility_route_add, label_issue
from returndesk.tenants.models import Facility, Merchant
from returndesk.tenants.services import apikey_create
from returndesk.warehouse.dispositions import disposition_record
from returndesk.warehouse.inspection import InspectionInput, inspection_record
from returndesk.warehouse.models import ReceiptLine
from returndesk.warehouse.services import (
    LineCount,
    receipt_record,
    receipt_scan,
    unidentified_annotate,
    unidentified_link,
)
from tests.console.test_console import pending, signed_in, staff  # noqa: F401 - fixtures
from tests.factories import make_facility
from tests.integrations.factories import shop_rows
from tests.returns.test_returns_api import order  # noqa: F401 - the order fixture

pytestmark = pytest.mark.django_db


def merchant_patterns() -> list[URLPattern]:
    found = [p for p in console_urls.urlpatterns if isinstance(p, URLPattern)]
    return [p for p in found if "slug" in p.pattern.converters]


def arguments(pattern: URLPattern, values: dict[str, Any]) -> dict[str, Any]:
    missing = set(pattern.pattern.converters) - set(values)
    assert not missing, f"give the isolation test a value for {missing} in {pattern.name}"
    return {name: values[name] for name in pattern.pattern.converters}


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), "teal").save(out, "JPEG")
    return out.getvalue()


@pytest.fixture
def values(
    merchant: Merchant,
    pending: str,  # noqa: F811
    settings: Any,
    tmp_path: Any,
) -> dict[str, Any]:
    settings.MEDIA_ROOT = tmp_path
    actor = Actor.system("tests")
    key, _ = apikey_create(actor=actor, name="isolation", merchant=merchant)
    make_facility(merchant, code="FAC1", name="Facility one")
    with merchant_scope(merchant):  # an authorized return with a label: every page has content
        ret = return_act(
            actor=actor,
            ret=return_get(merchant=merchant, ran=pending),
            action="approve",
            reason="ok",
        )
        label_issue(actor=actor, ret=ret)
        route = facility_route_add(actor=actor, merchant=merchant, facility_code="FAC1")
    # A received, recorded, inspected and dispositioned unit: the inspection pages have content.
    receipt = receipt_scan(actor=actor, facility=Facility.objects.get(code="FAC1"), code=pending)
    assert receipt.receipt is not None
    with scopes_disabled():
        line = ReceiptLine.objects.filter(receipt=receipt.receipt).first()
    assert line is not None
    counted = [LineCount(line_id=line.public_id, quantity=1)]
    receipt_record(actor=actor, receipt=receipt.receipt, lines=counted)
    line.refresh_from_db()
    inspection_record(actor=actor, receipt_line=line, unit=1, data=InspectionInput(grade="A"))
    disposition_record(actor=actor, receipt_line=line, unit=1, option="quarantine", reason="test")
    # A package that matched nothing, with a photo (the facility's), and another one linked to
    # the return (its photo the merchant's): the photo pages have content.
    fac1 = Facility.objects.get(code="FAC1")
    photos = {}
    for code in ("NO-LABEL-1", "NO-LABEL-2"):
        package = receipt_scan(actor=actor, facility=fac1, code=code).package
        assert package is not None
        taken = upload_create(actor=actor, merchant_id=None, facility_id=fac1.pk, data=jpeg())
        unidentified_annotate(
            actor=actor, package=package, notes="", photo_upload_ids=[taken.public_id]
        )
        photos[code] = (package, taken.public_id)
    unidentified_link(actor=actor, package=photos["NO-LABEL-2"][0], ran=pending)
    # A webhook endpoint, and the return's events fanned out to it: its delivery log has content.
    hook, _ = webhook_endpoint_create(
        actor=actor, merchant=merchant, url="https://hooks.example.com/returndesk"
    )
    outbox_dispatch_due()
    with merchant_scope(merchant):
        delivery = WebhookDelivery.objects.filter(endpoint=hook).first()
    assert delivery is not None
    inbound_id, writeback_id = shop_rows(merchant)  # shop integrations: webhooks, write-backs
    # The inspected unit's money settled (a manual refund), and an adjustment: finance pages.
    refund_triggers_process()
    with merchant_scope(merchant):
        refund = Refund.objects.get()
        adjustment = adjustment_open(
            ret=refund.return_request, cause="inspection", amount=100, findings=[], actor=actor
        )
    assert adjustment is not None
    webhook = CarrierWebhook.objects.create(  # provider-wide, but only under a seat's slug
        public_id="cwh_ISOLATION",
        carrier="prepaid",
        format="generic",
        body=b"{}",
        signature_valid=True,
        state=WEBHOOK_FAILED,
    )
    return {
        "slug": merchant.slug,
        "ran": pending,
        "action": "approve",
        "public_id": key.public_id,
        "merchant_slug": merchant.slug,
        "version": 1,
        "route_id": route.public_id,
        "webhook_id": webhook.public_id,
        "facility": "FAC1",
        "receipt": receipt.receipt.public_id,
        "package": photos["NO-LABEL-1"][0].public_id,
        "photo": photos["NO-LABEL-1"][1],
        "linked_photo": photos["NO-LABEL-2"][1],
        "line": line.public_id,
        "unit": 1,
        "fmt": "pdf",
        "refund_id": refund.public_id,
        "adjustment_id": adjustment.public_id,
        "period": "2026-11",  # a statement month (billing)
        "kind": "shopify",
        "inbound_id": inbound_id,
        "writeback_id": writeback_id,
        "endpoint_id": hook.public_id,
        "delivery_id": delivery.public_id,
        "table": "reasons",  # an analytics CSV download
    }


@pytest.mark.parametrize("pattern", merchant_patterns(), ids=lambda p: p.name)
def test_another_merchants_user_gets_404(
    pattern: URLPattern, merchant: Merchant, other_merchant: Merchant, values: dict[str, Any]
) -> None:
    url = reverse(f"console:{pattern.name}", kwargs=arguments(pattern, values))
    own = signed_in(staff("admin@acme.example", "merchant_admin", merchant))
    assert own.get(url).status_code in {200, 302, 403, 405}, url  # 403: a provider page
    outsider = signed_in(staff("admin@globex.example", "merchant_admin", other_merchant))
    assert outsider.get(url).status_code == 404, url
    assert outsider.post(url, {"reason": "x"}).status_code == 404, url


def test_an_unknown_merchant_is_404_too(merchant: Merchant) -> None:
    client: Client = signed_in(staff("admin@acme.example", "merchant_admin", merchant))
    assert client.get("/console/m/no-such-merchant/").status_code == 404
