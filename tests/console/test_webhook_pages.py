"""The console's webhook pages: a merchant admin adds an endpoint and sees its secret once,
changes, rotates, disables and enables it, pings it, and reads and redelivers from the log."""

from __future__ import annotations

import re

import pytest
from django_scopes import scopes_disabled

from returndesk.notifications.models import WebhookEndpoint
from returndesk.notifications.webhooks import webhook_deliveries_send_due
from returndesk.tenants.models import Merchant
from tests.console.test_console import signed_in, staff
from tests.notifications.conftest import emit, receiver  # noqa: F401 - the receiver fixture
from tests.notifications.receiver import Receiver

pytestmark = pytest.mark.django_db
BASE = "/console/m/acme/admin/webhooks/"


def secret_on(page: bytes) -> str:
    found = re.search(rb'value="(whsec_[^"]+)"', page)
    assert found, page
    return found.group(1).decode()


def test_an_admin_adds_an_endpoint_and_sees_the_secret_once(
    merchant: Merchant,
    receiver: Receiver,  # noqa: F811
) -> None:
    client = signed_in(staff("admin@acme.example", "merchant_admin", merchant))
    assert b'href="/console/m/acme/admin/webhooks/"' in client.get("/console/m/acme/").content
    refused = client.post(BASE, {"url": "http://erp.example.com/", "event_types": ["nope"]})
    assert refused.status_code == 422
    assert b"must use https" in refused.content and b"is not an event type" in refused.content
    added = client.post(
        BASE,
        {"url": receiver.url("/hooks"), "description": "ERP", "event_types": ["return.created"]},
    )
    assert added.status_code == 200 and "no-store" in added["Cache-Control"]
    secret = secret_on(added.content)
    receiver.secrets["/hooks"] = [secret]
    listing = client.get(BASE)
    assert receiver.url("/hooks").encode() in listing.content
    assert secret.encode() not in listing.content
    with scopes_disabled():
        endpoint = WebhookEndpoint.objects.get()
    assert endpoint.event_types == ["return.created"] and endpoint.description == "ERP"
    detail = client.get(f"{BASE}{endpoint.public_id}/")
    assert secret.encode() not in detail.content and secret[-4:].encode() in detail.content


def test_the_endpoint_page_pings_rotates_disables_and_redelivers(
    merchant: Merchant,
    receiver: Receiver,  # noqa: F811
) -> None:
    client = signed_in(staff("admin@acme.example", "merchant_admin", merchant))
    secret = secret_on(client.post(BASE, {"url": receiver.url("/hooks")}).content)
    receiver.secrets["/hooks"] = [secret]
    with scopes_disabled():
        endpoint = WebhookEndpoint.objects.get()
    page = f"{BASE}{endpoint.public_id}/"

    pinged = client.post(f"{page}ping/", follow=True)
    assert b"Test ping sent. Delivered (HTTP 200)." in pinged.content
    assert b"webhook.ping" in pinged.content
    assert receiver.arrivals[-1].verified_by == [0]

    changed = client.post(page, {"url": receiver.url("/hooks"), "event_types": ["refund.failed"]})
    assert changed.status_code == 302
    with scopes_disabled():
        endpoint.refresh_from_db()
    assert endpoint.event_types == ["refund.failed"]

    rotated = client.post(f"{page}rotate/")
    new = secret_on(rotated.content)
    assert new != secret and b"two signatures" in rotated.content

    receiver.secrets["/hooks"] = [new]
    receiver.script("/hooks", ("status", 500, b"<b>broken</b>"))
    message = emit(merchant, "refund.failed")
    webhook_deliveries_send_due()
    log = client.get(page)
    assert b"refund.failed" in log.content and b"HTTP 500" in log.content
    delivery_link = re.search(
        rb'href="(/console/m/acme/admin/webhooks/[^"]+/deliveries/[^"]+/)"', log.content
    )
    assert delivery_link
    url = delivery_link.group(1).decode()
    detail = client.get(url)
    assert message.event_id.encode() in detail.content
    assert b"&lt;b&gt;broken&lt;/b&gt;" in detail.content  # the receiver's body, escaped
    again = client.post(f"{url}redeliver/", follow=True)
    assert b"Sent again. Delivered (HTTP 200)." in again.content and b"by staff" in again.content
    assert [a.webhook_id for a in receiver.at("/hooks")][-2:] == [message.event_id] * 2

    off = client.post(f"{page}disable/", follow=True)
    assert b"Endpoint disabled" in off.content
    with scopes_disabled():
        endpoint.refresh_from_db()
    assert not endpoint.enabled
    client.post(f"{page}enable/")
    with scopes_disabled():
        endpoint.refresh_from_db()
    assert endpoint.enabled


def test_only_roles_that_manage_webhooks_see_the_pages(merchant: Merchant) -> None:
    agent = signed_in(staff("agent@acme.example", "agent", merchant))
    assert agent.get(BASE).status_code == 403
    assert agent.post(BASE, {"url": "https://erp.example.com/"}).status_code == 403
    with scopes_disabled():
        assert not WebhookEndpoint.objects.exists()
