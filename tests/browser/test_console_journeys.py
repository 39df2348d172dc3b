"""The console's main journeys, end to end in Chromium, with axe-core on every page they pass."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from returndesk.core.codes import parse_ran
from returndesk.core.tenancy import merchant_scope
from returndesk.policies.selectors import policy_current
from returndesk.returns.models import Return
from returndesk.tenants.models import Merchant
from tests.browser.conftest import accessible, sign_in
from tests.conftest import ApiClient
from tests.console.test_console import PASSWORD, pending, staff  # noqa: F401 - fixtures
from tests.returns.test_returns_api import order  # noqa: F401 - the order fixture

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.needs_chromium]


def test_an_agent_creates_a_phone_return(
    page: Page,
    live_server: Any,
    merchant: Merchant,
    order: dict[str, Any],  # noqa: F811
) -> None:
    staff("agent@acme.example", "agent", merchant)
    sign_in(page, live_server.url, "agent@acme.example", PASSWORD)
    page.get_by_role("link", name="New return").click()
    accessible(page, "console-new-return")
    page.get_by_label("Order number").fill("1001")
    page.get_by_label("Customer e-mail (optional)").fill("shopper@example.com")
    page.get_by_role("button", name="Find order").click()
    page.get_by_label("Units of SHOE-1 to return").fill("1")
    page.get_by_label("Reason for SHOE-1").select_option(label="Wrong size or fit")
    page.get_by_label("Resolution").select_option("refund")
    expect(page.get_by_label("Channel")).to_have_value("phone")
    page.get_by_label("Note for the timeline (optional)").fill("Called about the size")
    page.get_by_role("button", name="Check with the policy").click()
    expect(page.get_by_role("heading", name="What the policy")).to_be_visible()
    accessible(page, "console-new-return-checked")
    page.get_by_role("button", name="Create return").click()

    expect(page.get_by_role("heading", level=1)).to_contain_text("authorized")
    accessible(page, "console-return-created")
    ran = parse_ran(page.locator("h1 .ran").inner_text())
    with merchant_scope(merchant):
        created = Return.objects.get(merchant=merchant, ran=ran)
        lines = [(line.sku, line.quantity) for line in created.lines.all()]
    assert (created.channel, created.status) == ("phone", "authorized")
    assert lines == [("SHOE-1", 1)]
    expect(page.get_by_text("Called about the size")).to_be_visible()


def test_a_reviewer_approves_a_return_sent_to_review(
    page: Page,
    live_server: Any,
    merchant: Merchant,
    pending: str,  # noqa: F811
) -> None:
    staff("reviewer@acme.example", "agent", merchant)
    sign_in(page, live_server.url, "reviewer@acme.example", PASSWORD)
    page.get_by_role("link", name="Review queue").click()
    accessible(page, "console-review-queue")
    page.get_by_label(f"Select {pending}").check()
    page.get_by_label("Reason (goes on each return's timeline)").fill("Customer is known to us")
    page.get_by_role("button", name="Approve selected").click()
    expect(page.get_by_text(f"{pending}: approved.")).to_be_visible()
    expect(page.get_by_text("Nothing waits for review.")).to_be_visible()
    accessible(page, "console-review-done")
    with merchant_scope(merchant):
        assert Return.objects.get(merchant=merchant, ran=parse_ran(pending)).status == "authorized"


def test_a_merchant_admin_changes_the_window_sees_the_simulation_and_publishes(
    page: Page,
    live_server: Any,
    merchant: Merchant,
    api: ApiClient,
    pending: str,  # noqa: F811
) -> None:
    staff("admin@acme.example", "merchant_admin", merchant)
    with merchant_scope(merchant):
        before = policy_current(merchant=merchant).version
    sign_in(page, live_server.url, "admin@acme.example", PASSWORD)
    page.locator("details.nav-more summary").click()
    page.get_by_role("link", name="Policy").click()
    accessible(page, "console-policy")
    page.get_by_label("Return window (days)").fill("45")
    page.get_by_role("button", name="Preview changes").click()
    expect(page.get_by_text("30 days → 45 days")).to_be_visible()
    expect(page.get_by_role("heading", name="Simulation over")).to_be_visible()
    accessible(page, "console-policy-preview")
    page.get_by_label("Note for this version (optional)").fill("Holiday window")
    page.get_by_role("button", name=f"Publish version {before + 1}").click()
    expect(page.get_by_text(f"Version {before + 1} is published.")).to_be_visible()
    accessible(page, "console-policy-published")
    with merchant_scope(merchant):
        published = policy_current(merchant=merchant)
    assert published.version == before + 1
    assert published.document["window_days"] == 45


def test_every_page_in_a_provider_admins_navigation_passes_axe(
    page: Page,
    live_server: Any,
    merchant: Merchant,
    pending: str,  # noqa: F811
) -> None:
    staff("ops@provider.example", "provider_admin", None)
    sign_in(page, live_server.url, "ops@provider.example", PASSWORD)
    nav = page.get_by_role("navigation", name="Main")
    names = [name.strip() for name in nav.locator("a").all_text_contents()]
    assert {"Returns", "Review queue", "Policy", "Audit log"} <= set(names), names
    for name in names:
        menu = page.locator("details.nav-more")
        link = page.get_by_role("navigation", name="Main").locator("a", has_text=name).first
        if not link.is_visible():  # an administration page: open the menu by keyboard
            menu.locator("summary").focus()
            page.keyboard.press("Enter")
        link.click()
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        accessible(page, "console-nav-" + name.lower().replace(" ", "-"))
