"""The store credit page in Chromium, checked by axe-core: a finance user looks a customer up,
is refused an adjustment without a reason (the error in place), then records it."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from returndesk.tenants.models import Merchant
from tests.browser.conftest import accessible, sign_in
from tests.console.test_console import PASSWORD, staff
from tests.credit.helpers import EMAIL, issue, set_validity

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.needs_chromium]


def test_finance_adjusts_store_credit_in_the_browser(
    page: Page,
    live_server: Any,
    merchant: Merchant,
) -> None:
    set_validity(merchant, 365)
    issue(merchant, 6199, "rf_1", bonus=620)
    staff("finance@acme.example", "finance", merchant)
    sign_in(page, live_server.url, "finance@acme.example", PASSWORD)
    page.get_by_role("link", name="Store credit").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Store credit")
    page.get_by_label("Customer e-mail").first.fill(EMAIL.upper())
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name=f"Balance of {EMAIL}")).to_be_visible()
    expect(page.locator("#balance-heading + dl")).to_contain_text("$68.19")
    accessible(page, "console-store-credit")

    form = page.locator("form", has=page.get_by_role("heading", name="Adjust a balance"))
    form.get_by_label("Change").select_option("remove")
    form.get_by_label("Amount").fill("8.19")
    form.get_by_role("button", name="Record the adjustment").click()
    expect(page.locator("#f-reason-error")).to_be_visible()
    accessible(page, "console-store-credit-error")

    form.get_by_label("Reason").fill("goodwill credit given twice")
    form.get_by_role("button", name="Record the adjustment").click()
    expect(page.get_by_role("status")).to_contain_text("The balance is now $60.00.")
    expect(page.locator("table").last).to_contain_text("goodwill credit given twice")
    accessible(page, "console-store-credit-adjusted")
