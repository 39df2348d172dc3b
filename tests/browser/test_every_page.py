"""axe-core on the pages the journeys don't pass through: error states, records with every part
filled in (label, tracking, exception), history pages, the shown-once API key, and the portal's
side doors (find my return, cancel, a broken link)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from playwright.sync_api import Page, expect

from returndesk.cli.demo_seed import PASSWORD, DemoReport, seed
from returndesk.core.actors import Actor
from returndesk.core.codes import format_ran
from returndesk.core.tenancy import merchant_scope
from returndesk.portal.links import status_url
from returndesk.returns.inputs import ReturnInput, ReturnLineInput
from returndesk.returns.lifecycle import return_exception_flag
from returndesk.returns.services import return_create
from returndesk.shipping.models import CarrierWebhook
from returndesk.shipping.services import label_issue
from returndesk.tenants.models import Merchant
from tests.browser.conftest import accessible, sign_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.needs_chromium]
ACTOR = Actor.system("tests")


@pytest.fixture
def travelling() -> str:
    """A demo return with a label, flagged by a carrier: every section of its page filled."""
    seed(report=DemoReport(), with_online_retail=False)
    northwind = Merchant.objects.get(slug="northwind")
    with merchant_scope(northwind):
        ret = return_create(
            actor=ACTOR,
            merchant=northwind,
            data=ReturnInput(
                order_number="NW-10002",
                email="grace.hopper@example.com",
                channel="api",
                resolution="refund",
                lines=(ReturnLineInput(line_id="2", quantity=1, reason="wrong_size"),),
            ),
        )
        label_issue(actor=ACTOR, ret=ret)
        return_exception_flag(ret=ret, reason="carrier: return to sender", actor=ACTOR)
    return format_ran(ret.ran)


def test_console_pages_off_the_journeys(page: Page, live_server: Any, travelling: str) -> None:
    # An unsigned carrier webhook: stored as rejected, for the operator's detail page.
    Client().post("/api/v1/carriers/prepaid/webhooks", b"{}", content_type="application/json")
    hook = CarrierWebhook.objects.get()
    base = f"{live_server.url}/console/m/northwind"
    sign_in(page, live_server.url, "ops@harbor-returns.example", PASSWORD)
    for name, path in [
        ("return-with-label-and-exception", f"/returns/{travelling}/"),
        ("returns-exceptions-queue", "/returns/?queue=exceptions"),
        ("policy-versions", "/policy/versions/"),
        ("policy-version-1", "/policy/versions/1/"),
        ("audit-filtered", "/audit/?action=return.created"),
        ("station-exceptions", "/station/exceptions/"),
        ("carrier-webhook", f"/provider/carrier-webhooks/{hook.public_id}/"),
    ]:
        page.goto(base + path)
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        accessible(page, f"console-{name}")

    page.goto(f"{base}/admin/settings/")
    page.get_by_label("Brand colour").fill("blue")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".field-error, .error").first).to_be_visible()
    accessible(page, "console-settings-error")

    page.goto(f"{base}/admin/api-keys/")
    page.get_by_label("Name").fill("warehouse sync")
    page.get_by_role("button", name="Create key").click()
    expect(page.locator("#raw-key")).to_have_value(re.compile(r"^rd_.{20,}"))
    accessible(page, "console-api-key-shown-once")


def test_portal_side_doors(phone: Page, live_server: Any, travelling: str) -> None:
    base = f"{live_server.url}/r/northwind"
    phone.goto(f"{base}/find-return/")
    accessible(phone, "portal-find-return")
    phone.get_by_label("Return number").fill(travelling)
    phone.locator("#return-email").fill("someone.else@example.com")
    phone.get_by_role("button", name="Find my return").click()
    expect(phone.get_by_role("alert")).to_be_visible()
    accessible(phone, "portal-find-return-wrong")

    northwind = Merchant.objects.get(slug="northwind")
    status = live_server.url + status_url(northwind, travelling.replace("-", ""))
    phone.goto(status)
    accessible(phone, "portal-status-exception")
    phone.goto(status + "cancel/")
    accessible(phone, "portal-cancel")
    phone.goto(status.replace("/status/", "/status/x"))
    accessible(phone, "portal-broken-link")
