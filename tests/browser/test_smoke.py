"""Every page so far, in Chromium: it renders under the CSP, works by keyboard, and passes axe."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from returndesk.tenants.models import Merchant
from tests.browser.conftest import accessible, sign_in
from tests.conftest import ApiClient
from tests.console.test_console import PASSWORD, pending, staff  # noqa: F401 - fixtures
from tests.returns.test_returns_api import order  # noqa: F401 - the order fixture

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.needs_chromium]


def test_a_signed_in_agent_walks_the_console(
    page: Page,
    live_server: Any,
    merchant: Merchant,
    pending: str,  # noqa: F811
) -> None:
    staff("agent@acme.example", "agent", merchant)
    sign_in(page, live_server.url, "agent@acme.example", PASSWORD)
    expect(page.get_by_role("heading", level=1)).to_contain_text("Acme")
    accessible(page, "console-home")
    page.get_by_role("link", name="Returns").first.click()
    page.get_by_label("Search by RAN, order number, e-mail or tracking number").fill(pending)
    page.keyboard.press("Enter")
    expect(page.get_by_role("link", name=pending)).to_be_visible()  # the htmx partial
    accessible(page, "console-returns")
    page.get_by_role("link", name=pending).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(pending)
    accessible(page, "console-return-detail")


def test_the_portal_finds_an_order_on_a_phone(
    phone: Page,
    live_server: Any,
    api: ApiClient,
    order: dict[str, Any],  # noqa: F811
) -> None:
    phone.goto(f"{live_server.url}/r/acme/")
    accessible(phone, "portal-find")
    phone.get_by_label("Order number").fill("1001")
    phone.get_by_label("E-mail address").fill("shopper@example.com")
    phone.keyboard.press("Enter")
    expect(phone.get_by_role("heading", level=1)).to_contain_text("1001")
    accessible(phone, "portal-order")
