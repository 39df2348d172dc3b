"""The shopper's label: issued when the portal authorizes the return, downloaded from the
confirmation and the status page, a drop-off code where the merchant uses them, asked for again
after a review, and the carrier's tracking on the status page."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from returndesk.core.codes import format_ran
from returndesk.core.tenancy import merchant_scope
from returndesk.returns.models import Return
from returndesk.shipping.models import Label
from returndesk.shipping.services import carrier_settings_update
from returndesk.tenants.models import Merchant
from tests.conftest import ACTOR, ApiClient
from tests.factories import make_facility
from tests.portal.conftest import confirm, review_token, set_policy, text, up_to_review
from tests.shipping.tracking_helpers import (
    GENERIC_SECRET,
    at,
    generic_body,
    generic_headers,
    post_webhook,
    run_webhook_tasks,
)

pytestmark = pytest.mark.django_db
LABEL_LINK = re.compile(r'href="(/r/acme/status/[^"]+/label\.pdf)"')
STATUS_LINK = re.compile(r'href="[^"]*(/r/acme/status/[^"/]+/)" id="status-link"')


@pytest.fixture(autouse=True)
def facility(merchant: Merchant) -> None:
    make_facility(merchant, code="NJ1", name="Newark returns centre", region="NJ")


def confirmed(shopper: Client) -> tuple[Return, str]:
    up_to_review(shopper)
    done = confirm(shopper, review_token(shopper))
    assert done.status_code == 302
    ret = Return.objects.with_scopes_disabled().get()  # type: ignore[attr-defined]
    return ret, shopper.get(done["Location"]).content.decode()


def test_the_confirmation_offers_the_label_to_download(shopper: Client) -> None:
    ret, page = confirmed(shopper)
    label = Label.objects.with_scopes_disabled().get(return_request=ret)  # type: ignore[attr-defined]
    assert "Download your label (PDF)" in page and label.tracking_number in page
    pdf = Client().get(LABEL_LINK.search(page).group(1))  # the signed link is the credential
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert f"return-{format_ran(ret.ran)}.pdf" in pdf["Content-Disposition"]
    assert pdf["Cache-Control"] == "private, no-store"


def test_a_tampered_label_link_opens_nothing(shopper: Client) -> None:
    _, page = confirmed(shopper)
    link = LABEL_LINK.search(page).group(1)
    assert Client().get(link.replace("/label.pdf", "x/label.pdf")).status_code == 404


def test_a_dropoff_merchant_gives_a_code_with_its_qr(merchant: Merchant, shopper: Client) -> None:
    with merchant_scope(merchant):
        carrier_settings_update(
            actor=ACTOR, merchant=merchant, carriers=["prepaid"], mode="dropoff"
        )
    ret, page = confirmed(shopper)
    label = Label.objects.with_scopes_disabled().get(return_request=ret)  # type: ignore[attr-defined]
    assert label.dropoff_code
    assert 'id="dropoff-code"' in page and "QR code of drop-off code" in page


def test_after_review_the_shopper_gets_the_label_from_the_status_page(
    api: ApiClient, shopper: Client
) -> None:
    set_policy(api, auto_approval__max_order_value=1000)
    ret, page = confirmed(shopper)
    assert ret.status == "pending_review" and "Get my label" not in page
    status = STATUS_LINK.search(page).group(1)
    api.post(f"/returns/{ret.ran}/approve", {"reason": "fine"})
    before = text(shopper.get(status))
    assert "Your label isn't ready yet." in before and "Get my label" in before
    shopper.post(status + "label/")
    shopper.post(status + "label/")  # a second press: still one label
    after = shopper.get(status).content.decode()
    assert "Download your label (PDF)" in after
    assert Label.objects.with_scopes_disabled().filter(return_request=ret).count() == 1  # type: ignore[attr-defined]


def test_the_status_page_shows_the_carriers_tracking(shopper: Client, settings: Any) -> None:
    settings.RETURNDESK_CARRIER_WEBHOOK_SECRETS = f"prepaid={GENERIC_SECRET}"
    ret, page = confirmed(shopper)
    tracking = Label.objects.with_scopes_disabled().get(return_request=ret).tracking_number  # type: ignore[attr-defined]
    for number, status in enumerate(("in_transit", "delivered"), start=1):
        body = generic_body(f"evt-{number}", tracking, status, at(number))
        assert post_webhook("prepaid", body, generic_headers(body)).status_code == 202
    run_webhook_tasks()
    words = text(Client().get(STATUS_LINK.search(page).group(1)))
    assert "Where your parcel is" in words
    assert "Arrived at our returns centre" in words and "On its way" in words
