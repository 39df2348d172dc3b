"""The facility's afternoon, end to end in Chromium: a worker scans a demo return, records the
box, inspects both lines (one with a defect), accepts one recommendation and overrides the
other with a reason; axe-core on every page."""

from __future__ import annotations

from typing import Any

import pytest
from django_scopes import scopes_disabled
from playwright.sync_api import Page, expect

from returndesk.returns.models import Return
from returndesk.tenants.models import Merchant
from returndesk.warehouse.models import Disposition, Inspection
from tests.browser.conftest import accessible
from tests.conftest import ApiClient
from tests.console.test_console import PASSWORD, staff
from tests.factories import make_facility
from tests.returns.test_returns_api import order, request  # noqa: F401 - the order fixture

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.needs_chromium]


def test_a_worker_inspects_both_lines_accepts_one_and_overrides_the_other(
    page: Page,
    live_server: Any,
    merchant: Merchant,
    api: ApiClient,
    order: dict[str, Any],  # noqa: F811
) -> None:
    make_facility(merchant, code="FAC1", name="Newark returns centre")
    lines = [
        {"line_id": "1", "quantity": 1, "reason": "wrong_size"},
        {"line_id": "2", "quantity": 1, "reason": "changed_mind"},
    ]
    ret = api.post("/returns", request(lines=lines)).json()
    tracking = api.post(f"/returns/{ret['ran']}/label", {}).json()["tracking_number"]
    staff("dock@provider.example", "warehouse", None)
    page.goto(f"{live_server.url}/console/login/")
    page.get_by_label("E-mail").fill("dock@provider.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Receiving at FAC1")

    page.keyboard.type(tracking)  # the scanner field has the focus
    page.keyboard.press("Enter")
    expect(page.locator("#result .answer")).to_have_attribute("data-outcome", "received")
    page.get_by_label("Weight (grams)").focus()
    page.keyboard.type("900")
    page.keyboard.press("Enter")  # the box held what was expected
    expect(page.locator("#result .answer")).to_have_attribute("data-outcome", "recorded")
    page.locator("#inspect-link").click()
    accessible(page, "inspect-units")

    # The shoe: scuffed. Accept the recommendation.
    page.locator("#next-unit").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Trail Runner")
    accessible(page, "inspect-form")
    page.get_by_label("Cosmetic damage").check()
    page.get_by_role("button", name="Record inspection").click()
    expect(page.get_by_role("heading", name="Recommended:")).to_be_visible()
    accessible(page, "inspect-recommendation")
    page.get_by_role("button", name="Record disposition").click()
    expect(page.get_by_role("heading", name="Disposition:")).to_be_visible()
    accessible(page, "inspect-dispositioned")

    # The sock: like new, but the worker sends it elsewhere than recommended, and says why.
    page.locator("#next-unit").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Sock")
    page.get_by_role("button", name="Record inspection").click()
    choices = page.locator("input[name=disposition]")
    recommended = page.locator("input[name=disposition]:checked").get_attribute("value")
    other = next(
        value
        for value in (choices.nth(i).get_attribute("value") for i in range(choices.count()))
        if value != recommended
    )
    page.locator(f"input[name=disposition][value={other}]").check()
    page.get_by_role("button", name="Record disposition").click()
    expect(page.get_by_role("alert")).to_be_visible()  # another option needs a reason
    accessible(page, "inspect-override-needs-reason")
    page.locator(f"input[name=disposition][value={other}]").check()
    page.get_by_label("Reason (needed when you choose").fill("Sock multipack: sell as a bundle")
    page.get_by_role("button", name="Record disposition").click()
    expect(page.get_by_text("Chosen over the recommended")).to_be_visible()
    page.locator("#next-unit").click()
    expect(page.get_by_text("Every received unit is inspected and dispositioned.")).to_be_visible()

    with scopes_disabled():
        inspections = {i.receipt_line.return_line.sku: i for i in Inspection.objects.all()}
        dispositions = {
            d.inspection.receipt_line.return_line.sku: d for d in Disposition.objects.all()
        }
        status = Return.objects.get().status
    assert inspections["SHOE-1"].defect_codes == ["cosmetic"]
    assert not dispositions["SHOE-1"].overridden
    assert dispositions["SOCK-1"].overridden and dispositions["SOCK-1"].option == other
    assert status == "inspected"
