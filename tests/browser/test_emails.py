"""Shopper e-mails as a mail client shows them, in Chromium: the HTML part of a refund e-mail on
a light brand colour and of an approval with a drop-off QR code passes axe-core (contrast, the
language, the QR code's text), at a phone's width too. RETURNDESK_SCREENSHOTS keeps a picture."""

from __future__ import annotations

import base64

import pytest
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from playwright.sync_api import Page, expect

from returndesk.tenants.models import Merchant
from tests.browser.conftest import accessible
from tests.conftest import ApiClient
from tests.notifications.email_helpers import deliver, html_of, only
from tests.refunds.conftest import create_return, inspect, receive, run_worker, set_policy
from tests.returns.test_returns_api import order, request  # noqa: F401 - the order fixture

pytestmark = [pytest.mark.django_db, pytest.mark.needs_chromium]


def as_page(email: EmailMultiAlternatives) -> str:
    """The HTML part with its inline images put in place, as a mail client does."""
    html = html_of(email)
    for part in email.message().walk():
        if part["Content-ID"]:
            data = base64.b64encode(part.get_content()).decode()
            cid = part["Content-ID"].strip("<>")
            html = html.replace(f"cid:{cid}", f"data:{part.get_content_type()};base64,{data}")
    return html


@pytest.fixture
def station(provider_api: ApiClient, order: dict) -> ApiClient:  # noqa: F811
    return provider_api  # order 1001, and a station at a facility that serves the merchant


def test_a_refund_email_on_a_light_brand_colour_reads_well(
    page: Page, phone: Page, api: ApiClient, station: ApiClient, merchant: Merchant
) -> None:
    merchant.brand_color = "#FFD400"
    merchant.support_email = "help@acme.example"
    merchant.save()
    document = api.get("/policy").json()["document"]
    fees = {**document["fees"], "restocking_percent": "10", "return_shipping_fee": 500}
    set_policy(api, fees=fees)
    ran = create_return(api)["ran"]
    receive(station, ran, {"1": 2, "2": 1})
    for line, unit in (("1", 1), ("1", 2), ("2", 1)):
        inspect(station, ran, line, unit)
    run_worker()
    (refund,) = api.get(f"/returns/{ran}/refunds").json()["refunds"]
    api.post(f"/refunds/{refund['id']}/mark-paid", {"reference": "BACS-9"})
    deliver()
    html = as_page(only("refund.succeeded"))
    for viewer, name in ((page, "email-refund"), (phone, "email-refund-phone")):
        viewer.set_content(html)
        expect(viewer.get_by_role("heading", level=1)).to_have_text("Your refund is on its way")
        expect(viewer.get_by_role("link", name="See your return")).to_be_visible()
        accessible(viewer, name)


def test_an_approval_with_a_dropoff_qr_code_reads_well(
    page: Page, api: ApiClient, station: ApiClient
) -> None:
    assert api.put("/shipping/settings", {"carriers": ["prepaid"], "mode": "dropoff"}).status_code
    ran = api.post("/returns", request()).json()["ran"]
    assert api.post(f"/returns/{ran}/label", {}).status_code in (200, 201)
    deliver()
    page.set_content(as_page(only("return.authorized")))
    qr = page.get_by_role("img", name="QR code of drop-off code")
    expect(qr).to_be_visible()
    assert page.evaluate("img => img.naturalWidth", qr.element_handle()) > 0
    accessible(page, "email-dropoff")
    assert len(mail.outbox) == 2
