"""A shopper whose order is not in the system returns one item on a receipt, on a phone, and
reaches the "we're reviewing" confirmation, with axe-core on every step."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from returndesk.cli.demo_seed import DemoReport, seed
from returndesk.core.actors import Actor
from returndesk.core.codes import parse_ran
from returndesk.core.tenancy import merchant_scope
from returndesk.policies.selectors import policy_current
from returndesk.policies.services import policy_publish
from returndesk.returns.models import Return
from returndesk.tenants.models import Merchant
from tests.browser.conftest import accessible

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.needs_chromium]


@pytest.fixture
def demo_with_receipts(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path
    seed(report=DemoReport(), with_online_retail=False)
    merchant = Merchant.objects.get(slug="northwind")
    with merchant_scope(merchant):
        document = dict(policy_current(merchant=merchant).document)
        document["proof_of_purchase"] = "order_or_receipt"
        policy_publish(actor=Actor.system("test"), merchant=merchant, document=document)
    receipt = tmp_path / "receipt.jpg"
    out = io.BytesIO()
    Image.new("RGB", (300, 500), "white").save(out, "JPEG")
    receipt.write_bytes(out.getvalue())
    return receipt


def test_a_shopper_returns_an_item_on_a_receipt(
    phone: Page, live_server: Any, demo_with_receipts: Path
) -> None:
    # (the not-found page offers the same link, but answers 404, which the browser reports)
    phone.goto(f"{live_server.url}/r/northwind/")
    phone.get_by_role("link", name="Use your receipt").click()

    expect(phone.get_by_role("heading", level=1)).to_have_text("Return with your receipt")
    accessible(phone, "receipt-1-start")
    phone.get_by_label("Order number or receipt reference").fill("TILL-0042")
    phone.get_by_label("Your e-mail address").fill("walkin@example.com")
    phone.get_by_label("Photo of your receipt").set_input_files(str(demo_with_receipts))
    phone.get_by_role("button", name="Continue").click()

    expect(phone.get_by_role("heading", level=1)).to_have_text("What are you returning?")
    phone.get_by_label("Search our products").fill("speaker")  # htmx answers as one types
    add = phone.get_by_role("button", name="Add Northwind Go Speaker")
    expect(add).to_be_visible()
    accessible(phone, "receipt-2-search")
    add.click()
    expect(phone.locator("select[name=qty-1]")).to_have_value("1")
    phone.get_by_role("button", name="Continue").click()

    phone.locator("select[name=reason-1]").select_option("changed_mind")
    accessible(phone, "receipt-3-reasons")
    phone.get_by_role("button", name="Continue").click()

    phone.locator("#resolution-refund").check()
    accessible(phone, "receipt-4-resolution")
    phone.get_by_role("button", name="Continue").click()

    expect(phone.locator("#refund-estimate")).to_have_text("$79.00")  # the catalogue price
    expect(phone.get_by_text("We'll check your receipt before approving")).to_be_visible()
    accessible(phone, "receipt-5-review")
    phone.get_by_role("button", name="Confirm return").click()

    expect(phone.get_by_role("heading", level=1)).to_have_text("We're reviewing your return")
    expect(phone.get_by_text("What happens next:")).to_be_visible()
    accessible(phone, "receipt-6-confirmation")
    ran = parse_ran(phone.locator("#ran").inner_text())
    ret = Return.objects.with_scopes_disabled().get(ran=ran)  # type: ignore[attr-defined]
    assert ret.status == "pending_review" and ret.proof_of_purchase_upload_id
    assert ret.claimed_order_number == "TILL-0042" and ret.refund_estimate_amount == 7900
