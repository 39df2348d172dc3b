"""An agent creates a return on a customer's receipt when the order is not in the system and
the policy accepts receipts: products by SKU, at catalogue prices, always to review."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from django.test import Client

from returndesk.core.models import Upload
from returndesk.returns.models import Return, ReturnEvent, ReturnLine
from returndesk.tenants.models import Merchant
from tests.conftest import ApiClient
from tests.console.test_console import signed_in, staff
from tests.portal.conftest import photo, set_policy, text
from tests.returns.test_returns_api import order, product_body  # noqa: F401 - the order fixture

pytestmark = pytest.mark.django_db
URL = "/console/m/acme/new-return/"
UPLOAD_ID = re.compile(r'name="receipt_upload_id" value="([^"]*)"')


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def agent(merchant: Merchant, order: dict[str, Any]) -> Client:  # noqa: F811
    return signed_in(staff("agent@acme.example", "agent", merchant))


@pytest.fixture
def receipts(api: ApiClient) -> None:
    set_policy(api, proof_of_purchase="order_or_receipt")


def form(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "mode": "receipt",
        "order_number": "TILL-0042",
        "receipt_email": "walkin@example.com",
        "receipt": photo(),
        "sku-0": "SHOE-1",
        "quantity-0": "1",
        "reason-0": "wrong_size",
        "resolution": "refund",
        "channel": "in_store",
        "note": "receipt from the Main Street till",
        "action": "check",
    }
    for i in range(1, 5):  # the rows left empty, as the page sends them
        body.update({f"sku-{i}": "", f"quantity-{i}": "1", f"reason-{i}": ""})
    body.update(overrides)
    return body


def test_no_receipt_return_when_the_policy_asks_for_the_order(agent: Client) -> None:
    missing = agent.get(URL, {"order_number": "TILL-0042"})
    assert missing.status_code == 404 and "Start a receipt return" not in text(missing)
    page = agent.get(URL, {"order_number": "TILL-0042", "mode": "receipt"})
    assert page.status_code == 404 and 'name="sku-0"' not in page.content.decode()
    assert agent.post(URL, form()).status_code == 404
    assert not Return.objects.with_scopes_disabled().exists()


def test_an_agent_starts_a_receipt_return_when_the_order_is_not_found(
    agent: Client, receipts: None
) -> None:
    missing = agent.get(URL, {"order_number": "TILL-0042", "email": "walkin@example.com"})
    assert missing.status_code == 404 and "Start a receipt return" in text(missing)
    page = agent.get(URL, {"order_number": "TILL-0042", "mode": "receipt"})
    assert page.status_code == 200 and 'name="sku-0"' in page.content.decode()
    assert "A return on the receipt for TILL-0042" in text(page)
    assert "Override the policy" not in text(page)  # a receipt return goes to review


def test_a_receipt_return_lands_in_review_at_catalogue_prices(
    agent: Client, receipts: None
) -> None:
    checked = agent.post(URL, form())
    assert checked.status_code == 200, text(checked)
    assert "The policy sends this return to review." in text(checked)
    assert "SHOE-1 Trail Runner" in text(checked) and "$89.00" in text(checked)
    receipt = UPLOAD_ID.search(checked.content.decode())
    assert receipt and receipt.group(1).startswith("upl_")
    # the receipt is kept from the check: creating doesn't ask for it again
    created = agent.post(URL, form(receipt="", receipt_upload_id=receipt.group(1), action="create"))
    assert created.status_code == 302, text(created)
    ret = Return.objects.with_scopes_disabled().get()
    assert ret.status == "pending_review" and ret.order_id is None
    assert (ret.channel, ret.claimed_order_number) == ("in_store", "TILL-0042")
    assert ret.proof_of_purchase_upload_id == receipt.group(1)
    assert ret.refund_estimate_amount == 8900 and ret.email == "walkin@example.com"
    line = ReturnLine.objects.with_scopes_disabled().get()
    assert (line.sku, line.name, line.value_amount) == ("SHOE-1", "Trail Runner", 8900)
    event = ReturnEvent.objects.with_scopes_disabled().get(type="return.created")
    assert event.reason == "receipt from the Main Street till"
    detail = agent.get(created["Location"])
    assert detail.status_code == 200 and "TILL-0042" in text(detail)


def test_a_non_image_receipt_is_refused_in_place(agent: Client, receipts: None) -> None:
    fake = io.BytesIO(b"just some text, not a receipt")
    fake.name = "receipt.png"
    refused = agent.post(URL, form(receipt=fake))
    assert refused.status_code == 422
    assert 'id="receipt-error"' in refused.content.decode()
    assert "not a readable image" in text(refused)
    assert not Upload.objects.with_scopes_disabled().exists()
    assert not Return.objects.with_scopes_disabled().exists()


def test_an_unknown_sku_is_refused_in_place(agent: Client, receipts: None) -> None:
    refused = agent.post(URL, form(**{"sku-1": "NOPE-9", "quantity-1": "1", "reason-1": "x"}))
    assert refused.status_code == 422
    page = refused.content.decode()
    assert 'id="sku-1-error"' in page and "unknown SKU" in text(refused)
    assert 'value="NOPE-9"' in page  # what was typed stays


def test_another_merchants_sku_is_unknown(
    agent: Client, receipts: None, outsider_api: ApiClient
) -> None:
    assert outsider_api.put("/products/GLX-1", product_body(name="Gadget")).status_code == 201
    refused = agent.post(URL, form(**{"sku-0": "GLX-1"}))
    assert refused.status_code == 422 and 'id="sku-0-error"' in refused.content.decode()
    assert "Gadget" not in text(refused)


def test_the_form_says_what_is_missing(agent: Client, receipts: None) -> None:
    refused = agent.post(
        URL, form(receipt="", receipt_email="", **{"sku-0": "", "channel": "pigeon"})
    )
    assert refused.status_code == 422
    page = refused.content.decode()
    for field in ("receipt_email", "receipt", "channel"):
        assert f'id="{field}-error"' in page, field


def test_an_override_cannot_skip_the_review(agent: Client, receipts: None) -> None:
    created = agent.post(
        URL, form(action="create", override="on", override_reason="regular customer")
    )
    assert created.status_code == 302, text(created)
    assert Return.objects.with_scopes_disabled().get().status == "pending_review"


def test_a_user_of_another_merchant_gets_404(
    merchant: Merchant, other_merchant: Merchant, receipts: None
) -> None:
    outsider = signed_in(staff("agent@globex.example", "agent", other_merchant))
    assert outsider.get(URL, {"order_number": "X", "mode": "receipt"}).status_code == 404
    assert outsider.post(URL, form()).status_code == 404
