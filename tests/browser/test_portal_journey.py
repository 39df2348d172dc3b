"""A shopper returns two items of a demo order on a phone, from finding the order to the
confirmation with its RAN, codes and label, with axe-core on every step; then follows it."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from returndesk.cli.demo_seed import DemoReport, seed
from returndesk.core.codes import parse_ran
from returndesk.returns.models import Return, ReturnLine
from returndesk.shipping.models import Label
from tests.browser.conftest import accessible
from tests.shipping.tracking_helpers import (
    GENERIC_SECRET,
    at,
    generic_body,
    generic_headers,
    post_webhook,
    run_webhook_tasks,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.needs_chromium]
RAN = re.compile(r"^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-Z]$")


@pytest.fixture
def demo() -> None:
    seed(report=DemoReport(), with_online_retail=False)


def test_a_shopper_returns_two_items_of_a_demo_order(
    phone: Page, live_server: Any, demo: None, settings: Any
) -> None:
    phone.goto(f"{live_server.url}/r/northwind/")
    accessible(phone, "portal-1-find")
    phone.get_by_label("Order number").fill("NW-10002")
    phone.get_by_label("E-mail address").fill("grace.hopper@example.com")
    phone.keyboard.press("Enter")

    expect(phone.get_by_role("heading", level=1)).to_have_text("Order NW-10002")
    accessible(phone, "portal-2-items")
    phone.locator("select[name=qty-1]").select_option("1")
    phone.locator("select[name=qty-2]").select_option("1")
    phone.get_by_role("button", name="Continue").click()

    accessible(phone, "portal-3-reasons")
    phone.locator("select[name=reason-1]").select_option("wrong_size")
    phone.locator("select[name=reason-2]").select_option("changed_mind")
    phone.get_by_role("button", name="Continue").click()

    accessible(phone, "portal-4-resolution")
    phone.locator("#resolution-refund").check()
    phone.get_by_role("button", name="Continue").click()

    expect(phone.locator("#refund-estimate")).to_contain_text("$")
    accessible(phone, "portal-5-review")
    phone.get_by_role("button", name="Confirm return").click()

    expect(phone.get_by_role("heading", level=1)).to_have_text("Your return is approved")
    expect(phone.locator("#ran")).to_have_text(RAN)
    expect(phone.locator("svg.qr")).to_be_visible()
    expect(phone.locator("svg.barcode")).to_be_visible()
    accessible(phone, "portal-6-confirmation")
    ran = parse_ran(phone.locator("#ran").inner_text())
    ret = Return.objects.with_scopes_disabled().get(ran=ran)  # type: ignore[attr-defined]
    assert ret.status == "authorized" and ret.channel == "portal"
    lines = ReturnLine.objects.with_scopes_disabled().filter(return_request=ret)  # type: ignore[attr-defined]
    assert lines.count() == 2

    with phone.expect_download() as download:
        phone.locator("#label-download").click()
    assert download.value.suggested_filename.endswith(".pdf")
    with open(download.value.path(), "rb") as pdf:
        assert pdf.read(4) == b"%PDF"

    phone.locator("#status-link").click()
    expect(phone.locator("#tracking-status")).to_contain_text("Waiting for the carrier")

    # The carrier scans the parcel: the status page says where it is.
    settings.RETURNDESK_CARRIER_WEBHOOK_SECRETS = f"prepaid={GENERIC_SECRET}"
    tracking = Label.objects.with_scopes_disabled().get(return_request=ret).tracking_number  # type: ignore[attr-defined]
    body = generic_body("evt-1", tracking, "in_transit", at(1))
    assert post_webhook("prepaid", body, generic_headers(body)).status_code == 202
    run_webhook_tasks()
    phone.reload()
    expect(phone.locator("#tracking-status")).to_contain_text("On its way")
    expect(phone.get_by_text("Status:")).to_be_visible()
    accessible(phone, "portal-7-status")
