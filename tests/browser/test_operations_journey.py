"""Provider operations, end to end in Chromium: the provider admin opens the facility
dashboard (SVG charts with their tables), the SLA breaches, sets a merchant's SLAs, closes a
facility for a day, sets a fee schedule and reads the month's statement with its downloads; a
warehouse lead sees the dashboard and no billing. axe-core on every page, screenshots with
RETURNDESK_SCREENSHOTS."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from returndesk.operations.slas import sla_breaches_check
from returndesk.tenants.models import Facility, Merchant
from tests.browser.conftest import accessible, sign_in
from tests.console.test_console import PASSWORD, staff
from tests.operations.builders import World
from tests.operations.conftest import newark, world  # noqa: F401 - fixtures

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.needs_chromium]


def busy_week(builder: World, centre: Facility, now: datetime) -> None:
    """A few days of work at Newark ending now."""
    start = now - timedelta(days=5)
    for n in range(6):
        ret = builder.return_(status="authorized", authorized_at=start - timedelta(days=n))
        builder.label(ret, facility=centre, at=start - timedelta(days=n))
    for n in range(9):
        received = start + timedelta(hours=9 + n * 7)
        status = ("received", "inspected", "inspected")[n % 3]
        ret = builder.return_(status=status, authorized_at=received - timedelta(days=4))
        builder.label(ret, facility=centre, at=received - timedelta(days=4))
        builder.receive(ret, facility=centre, at=received, by=("alice", "bob")[n % 2])
        if status == "inspected":
            unit = builder.inspect(
                ret, unit=1, at=received + timedelta(hours=2), by="carol", seconds=400, last=True
            )
            if n % 3 == 2:
                builder.dispose(
                    ret,
                    unit,
                    option=("restock", "liquidate")[n % 2],
                    at=received + timedelta(hours=5 + n),
                    by="dave",
                    last=True,
                )


def test_the_provider_runs_operations_and_billing(
    page: Page,
    live_server: Any,
    merchant: Merchant,
    newark: Facility,  # noqa: F811
    world: World,  # noqa: F811
) -> None:
    now = timezone.now().astimezone(UTC)
    busy_week(world, newark, now)
    staff("ops@provider.example", "provider_admin", None)
    sign_in(page, live_server.url, "ops@provider.example", PASSWORD)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Operations").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Operations")
    expect(page.get_by_role("img", name="Backlog by stage")).to_be_visible()
    expect(page.get_by_role("img", name="Throughput per hour of the day")).to_be_visible()
    expect(page.get_by_role("img", name="Dock-to-stock time")).to_be_visible()
    accessible(page, "operations-dashboard")
    page.get_by_label("Facility").select_option("NWK1")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Operations: NWK1")
    page.get_by_text("Backlog as a table").click()
    expect(page.get_by_role("table", name="Returns waiting at each stage")).to_contain_text(
        "Awaiting receipt"
    )
    page.get_by_text("Throughput per hour as a table").click()
    accessible(page, "operations-dashboard-nwk1")

    # SLAs: inspect within 1 business day, effective for work from now on, then the breaches
    ops = page.get_by_role("navigation", name="Operations")
    ops.get_by_role("link", name="SLAs").click()
    accessible(page, "operations-slas")
    page.get_by_role("link", name=f"Edit the SLAs of {merchant.name}").click()
    page.get_by_label("Inspect after receipt, in business days").fill("1")
    accessible(page, "operations-sla-edit")
    page.get_by_role("button", name="Save SLAs").click()
    expect(page.get_by_role("status")).to_contain_text("SLAs of Acme saved.")
    from django_scopes import scopes_disabled

    from returndesk.operations.models import ServiceLevel

    with scopes_disabled():
        ServiceLevel.objects.update(effective_from=now - timedelta(days=30))
    assert sla_breaches_check(now + timedelta(days=6)) >= 1
    ops = page.get_by_role("navigation", name="Operations")
    ops.get_by_role("link", name="SLA breaches").click()
    page.get_by_label("To").fill((now + timedelta(days=10)).date().isoformat())
    page.get_by_role("button", name="Show").click()
    expect(page.locator("table.breaches")).to_contain_text("Inspect after receipt")
    accessible(page, "operations-breaches")

    # a closed day on Newark's calendar
    page.get_by_role("navigation", name="Operations").get_by_role(
        "link", name="Facility calendars"
    ).click()
    accessible(page, "operations-calendars")
    page.get_by_role("link", name="NWK1").click()
    closed = (now + timedelta(days=3)).date().isoformat()
    page.get_by_label("Day", exact=True).fill(closed)
    page.get_by_label("Reason").fill("stocktake")
    page.get_by_role("button", name="Close the facility that day").click()
    expect(page.get_by_role("status")).to_contain_text(f"NWK1 is closed on {closed}")
    expect(page.get_by_role("table").first).to_contain_text("closed: stocktake")
    accessible(page, "operations-calendar")

    # billing: the fee schedule, then this month's statement
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Billing").click()
    accessible(page, "billing")
    page.get_by_role("link", name="Set the fees").click()
    page.get_by_label("Return processed").fill("1.50")
    page.get_by_label("Inspection").fill("2.00")
    page.get_by_label("Disposition: restock").fill("0.50")
    page.get_by_label("Storage per day").fill("0.10")
    accessible(page, "billing-schedule")
    page.get_by_role("button", name="Save the fee schedule").click()
    expect(page.get_by_role("status")).to_contain_text("Fee schedule of Acme saved.")
    month = now.astimezone(newark_zone(merchant)).strftime("%Y-%m")
    page.get_by_label("Month").fill(month)
    page.get_by_role("button", name="Show the statement").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Statement of Acme, {month}")
    expect(page.get_by_role("link", name="Download PDF")).to_be_visible()
    accessible(page, "billing-statement")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    assert download.value.suggested_filename == f"statement-acme-{month}.csv"


def newark_zone(merchant: Merchant) -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo(merchant.timezone)


def test_a_warehouse_lead_sees_the_floor_not_the_bills(
    page: Page,
    live_server: Any,
    merchant: Merchant,
    newark: Facility,  # noqa: F811
    world: World,  # noqa: F811
) -> None:
    busy_week(world, newark, timezone.now().astimezone(UTC))
    staff("lead@provider.example", "warehouse_lead", None)
    sign_in(page, live_server.url, "lead@provider.example", PASSWORD)
    main = page.get_by_role("navigation", name="Main")
    expect(main.get_by_role("link", name="Billing")).to_have_count(0)
    main.get_by_role("link", name="Operations").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Operations")
    ops = page.get_by_role("navigation", name="Operations")
    expect(ops.get_by_role("link", name="Billing")).to_have_count(0)
    accessible(page, "operations-dashboard-lead")
