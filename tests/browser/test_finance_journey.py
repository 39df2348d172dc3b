"""Finance, end to end in Chromium: a manual refund waits for finance; they find it among the
pending refunds, mark it paid with the bank's reference, see it succeeded, read how it was worked
out, resolve an adjustment and download the reconciliation CSV, whose row says the same. Then a
merchant admin sets up Stripe on the payment settings page. axe-core on every page."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from returndesk.core.actors import Actor
from returndesk.core.tenancy import merchant_scope
from returndesk.refunds.execution import refund_triggers_process
from returndesk.refunds.models import Refund
from returndesk.refunds.services import adjustment_open
from returndesk.tenants.models import Merchant
from tests.browser.conftest import accessible, sign_in
from tests.conftest import ApiClient
from tests.console.test_console import PASSWORD, staff
from tests.refunds.conftest import create_return, inspect, receive
from tests.returns.test_returns_api import order  # noqa: F401 - the order fixture

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.needs_chromium]


def test_finance_pays_a_manual_refund_and_downloads_the_export(
    page: Page,
    live_server: Any,
    merchant: Merchant,
    api: ApiClient,
    provider_api: ApiClient,
    order: dict[str, Any],  # noqa: F811
    tmp_path: Path,
) -> None:
    # A return received and inspected; the worker settles it: the card has no provider the
    # merchant set up, so finance pays it by hand.
    ran = create_return(api)["ran"]
    receive(provider_api, ran, {"1": 2, "2": 1})
    for line, unit in (("1", 1), ("1", 2), ("2", 1)):
        inspect(provider_api, ran, line, unit)
    refund_triggers_process()
    with merchant_scope(merchant):
        refund = Refund.objects.get()
        adjustment = adjustment_open(
            ret=refund.return_request,
            cause="inspection",
            amount=1500,
            findings=["SHOE-1 unit 2: laces missing"],
            actor=Actor.system("tests"),
        )
    assert (refund.kind, refund.status) == ("manual", "pending") and adjustment is not None

    staff("finance@acme.example", "finance", merchant)
    sign_in(page, live_server.url, "finance@acme.example", PASSWORD)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Finance").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Refunds")
    page.get_by_role("navigation", name="Refunds by status").get_by_role(
        "link", name="Pending"
    ).click()
    row = page.locator(f"#row-{refund.public_id}")
    expect(row).to_contain_text(ran)
    expect(row).to_contain_text("$194.00")
    accessible(page, "finance-refunds-pending")

    row.get_by_label(f"Payment reference for {refund.public_id}").fill("BACS-0042")
    row.get_by_role("button", name="Mark paid").click()
    expect(page.get_by_role("status")).to_contain_text("marked paid with reference BACS-0042")
    expect(page.locator(f"#row-{refund.public_id}")).to_have_count(0)  # no longer pending
    accessible(page, "finance-refunds-marked-paid")

    page.get_by_role("navigation", name="Refunds by status").get_by_role(
        "link", name="Succeeded"
    ).click()
    row = page.locator(f"#row-{refund.public_id}")
    expect(row).to_contain_text("Succeeded")
    expect(row).to_contain_text("BACS-0042")
    accessible(page, "finance-refunds-succeeded")

    row.get_by_role("link", name=refund.public_id).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(refund.public_id)
    expect(page.get_by_role("table", name="Line by line")).to_contain_text("SHOE-1")
    accessible(page, "finance-refund-detail")

    page.get_by_role("link", name=ran).first.click()
    expect(page.get_by_role("heading", name="Money")).to_be_visible()
    accessible(page, "finance-return-money")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Finance").click()
    page.get_by_role("navigation", name="Finance").get_by_role("link", name="Adjustments").click()
    adjustment_row = page.locator(f"#row-{adjustment.public_id}")
    expect(adjustment_row).to_contain_text("laces missing")
    accessible(page, "finance-adjustments")
    adjustment_row.get_by_label("Resolve by").select_option("charge_back")
    adjustment_row.get_by_label("What was done").fill("charged the laces to the card")
    adjustment_row.get_by_role("button", name="Resolve").click()
    expect(page.get_by_role("status")).to_contain_text("resolved by charge back")

    page.get_by_role("navigation", name="Finance").get_by_role("link", name="Refunds").click()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download these refunds (CSV)").click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.name.startswith("refunds-acme-") and saved.suffix == ".csv"
    with saved.open(newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    assert [r["refund"] for r in rows] == [refund.public_id]
    (exported,) = rows
    assert (exported["status"], exported["provider_reference"]) == ("succeeded", "BACS-0042")
    assert (exported["amount"], exported["amount_decimal"], exported["currency"]) == (
        "19400",
        "194.00",
        "USD",
    )
    assert exported["ran"] == ran.replace("-", "") and exported["order_number"] == "1001"


def test_an_admin_sets_up_stripe(page: Page, live_server: Any, merchant: Merchant) -> None:
    staff("admin@acme.example", "merchant_admin", merchant)
    sign_in(page, live_server.url, "admin@acme.example", PASSWORD)
    page.get_by_text("Administration").click()
    page.get_by_role("link", name="Payments").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Payments")
    accessible(page, "payment-settings")
    page.get_by_label("Stripe secret key").fill("sk_test_51Habcdef9876")
    page.get_by_label("Attempts before a refund is marked failed").fill("0")
    page.get_by_role("button", name="Save payment settings").click()
    expect(page.get_by_role("alert")).to_contain_text("Not saved")
    accessible(page, "payment-settings-refused")
    page.get_by_label("Stripe secret key").fill("sk_test_51Habcdef9876")
    page.get_by_label("Attempts before a refund is marked failed").fill("5")
    page.get_by_role("button", name="Save payment settings").click()
    expect(page.get_by_role("status")).to_contain_text("Payment settings saved.")
    expect(page.get_by_text("Set, ending in 9876.")).to_be_visible()
    expect(page.get_by_label("Stripe secret key", exact=True)).to_have_value("")
    accessible(page, "payment-settings-saved")
