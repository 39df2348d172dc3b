"""Merchant analytics in Chromium: a merchant admin opens Analytics from the bar, chooses March
by week, reads the charts (SVG with their text alternatives) and the tables behind them, ranks
SKUs on the return-rates page and downloads the table, then reads the defect trends. axe-core
on every page; screenshots with RETURNDESK_SCREENSHOTS."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.analytics.builders import Shop
from tests.analytics.conftest import shop  # noqa: F401 - the hand-worked data set
from tests.browser.conftest import accessible, sign_in
from tests.console.test_console import PASSWORD, staff

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.needs_chromium]


def choose_march(page: Page, period: str = "") -> None:
    page.get_by_label("From", exact=True).fill("2026-03-01")
    page.get_by_label("To", exact=True).fill("2026-03-31")
    if period:
        page.get_by_label("Periods").select_option(period)
    page.get_by_role("button", name="Show").click()


def test_a_merchant_admin_reads_the_analytics(
    page: Page,
    live_server: Any,
    shop: Shop,  # noqa: F811
    tmp_path: Path,
) -> None:
    staff("admin@figures.example", "merchant_admin", shop.merchant)
    sign_in(page, live_server.url, "admin@figures.example", PASSWORD)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Analytics").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Analytics")
    accessible(page, "analytics-overview-empty")  # the last 30 days: nothing happened

    choose_march(page, "week")
    expect(page.get_by_role("img", name="Return rate per week")).to_be_visible()
    expect(page.get_by_role("img", name="Units returned per week, by reason")).to_be_visible()
    expect(page.get_by_role("img", name="Cycle times, median (p50)")).to_be_visible()
    expect(page.locator(".kpis")).to_contain_text("24.3")
    page.get_by_text("Reasons over time as a table").click()
    expect(page.get_by_role("table", name="Units returned per week and reason")).to_contain_text(
        "2026-03-09"
    )
    expect(page.get_by_role("table", name="Return lines by channel")).to_contain_text("portal")
    accessible(page, "analytics-overview-march")

    page.get_by_role("link", name="Return rates").click()
    page.get_by_label("By", exact=True).select_option("sku")
    page.get_by_label("Rank from units sold").fill("5")
    page.get_by_role("button", name="Show").click()
    table = page.get_by_role("table", name="Return rate by SKU: 3 of 3 rows (the CSV has them all)")
    expect(table.locator("tbody tr").first).to_contain_text("MUG")
    expect(page.get_by_role("img", name="Return rate by SKU, worst first")).to_be_visible()
    accessible(page, "analytics-return-rates-sku")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download this table (CSV)").click()
    saved = tmp_path / "rates.csv"
    download.value.save_as(saved)
    lines = saved.read_text().splitlines()
    assert lines[0].startswith("sku,label,units_sold,units_returned,units_rate")
    assert lines[1].startswith("MUG,Mug product,10,3,0.3000")

    page.get_by_role("link", name="Defect trends").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Defect trends")
    expect(page.get_by_text("0 SKUs flagged")).to_be_visible()
    expect(page.locator("tbody")).to_contain_text("MUG")
    accessible(page, "analytics-defects")
