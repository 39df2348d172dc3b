"""The operations pages in the console: who may open them, what they show, the forms, the
statement downloads, and a fixed number of queries per page."""

from __future__ import annotations

import csv
import io

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django_scopes import scopes_disabled

from returndesk.operations.models import FacilityClosedDay, FeeRate, ServiceLevel
from returndesk.operations.slas import sla_breaches_check
from returndesk.tenants.models import Facility, Merchant
from tests.console.test_console import signed_in, staff
from tests.operations.builders import World, local

pytestmark = pytest.mark.django_db

PAGES = [
    "/console/m/acme/operations/",
    "/console/m/acme/operations/sla-breaches/",
    "/console/m/acme/operations/slas/",
    "/console/m/acme/operations/slas/acme/",
    "/console/m/acme/operations/calendars/",
    "/console/m/acme/operations/calendars/NWK1/",
    "/console/m/acme/billing/",
    "/console/m/acme/billing/acme/",
    "/console/m/acme/billing/acme/2025-11/",
]


@pytest.fixture
def admin(merchant: Merchant) -> Client:
    return signed_in(staff("ops@provider.example", "provider_admin", None))


@pytest.fixture
def busy(world: World, newark: Facility, merchant: Merchant) -> World:
    ret = world.return_(status="inspected", authorized_at=local("2025-11-20 10:00"))
    world.label(ret, facility=newark, at=local("2025-11-20 10:00"))
    world.receive(ret, facility=newark, at=local("2025-11-26 20:30"))
    unit = world.inspect(ret, unit=1, at=local("2025-12-02 10:00"), seconds=420, last=True)
    world.dispose(ret, unit, option="restock", at=local("2025-12-02 11:00"), last=True)
    return world


def test_a_provider_admin_opens_every_page(admin: Client, newark: Facility, busy) -> None:
    for url in PAGES:
        page = admin.get(url)
        assert page.status_code == 200, url
        assert b"<svg" not in page.content or b'role="img"' in page.content


def test_a_warehouse_lead_sees_the_floor_but_not_billing_or_settings(
    merchant: Merchant, newark: Facility
) -> None:
    lead = signed_in(staff("lead@provider.example", "warehouse_lead", None))
    assert lead.get(PAGES[0]).status_code == 200
    assert lead.get(PAGES[1]).status_code == 200
    for url in PAGES[2:]:
        if "calendars" in url:
            continue
        assert lead.get(url).status_code == 403, url
    home = lead.get("/console/m/acme/operations/").content.decode()
    assert "Billing" not in home.split("<main")[0]  # not in the navigation


def test_merchant_staff_never_see_provider_operations(merchant: Merchant, newark) -> None:
    own = signed_in(staff("admin@acme.example", "merchant_admin", merchant))
    for url in PAGES:
        assert own.get(url).status_code == 403, url


def test_the_dashboard_shows_the_figures_with_charts_and_tables(
    admin: Client, busy, newark: Facility
) -> None:
    page = admin.get(
        "/console/m/acme/operations/",
        {"facility": "NWK1", "date_from": "2025-11-24", "date_to": "2025-12-07"},
    )
    text = page.content.decode()
    assert page.status_code == 200
    for chart in ("chart-backlog", "chart-hours", "chart-dock"):
        assert f'id="{chart}"' in text and f'aria-labelledby="{chart}-title {chart}-desc"' in text
    assert "style=" not in text and "<script>" not in text
    assert "Awaiting refund" in text and "7.0 h" not in text
    assert "14.5 h" in text or "5.6 days" in text  # dock-to-stock: 26 Nov 20:30 to 2 Dec 11:00
    assert "8.6" in text  # 3600 / 420 inspections an hour


def test_the_dashboard_answers_in_a_fixed_number_of_queries(
    admin: Client, world: World, newark: Facility
) -> None:
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert admin.get(PAGES[0], {"facility": "NWK1"}).status_code == 200
        return len(captured)

    before = queries()
    for n in range(8):
        ret = world.return_(status="inspected", authorized_at=local("2025-11-20 10:00"))
        world.receive(ret, facility=newark, at=local("2025-11-26 20:30"), by=f"w{n}")
        world.inspect(ret, unit=1, at=local("2025-11-27 10:00"), by=f"i{n}", last=True)
    assert queries() == before


def test_bad_filters_are_flagged_in_place(admin: Client, newark) -> None:
    page = admin.get(PAGES[0], {"date_from": "2025-12-10", "date_to": "2025-12-01"})
    assert page.status_code == 200
    assert "The end date is before the start date." in page.content.decode()


def test_breaches_are_listed_and_filtered(admin: Client, busy, merchant: Merchant) -> None:
    admin.post(PAGES[3], {"inspect_after_receipt": "2"})
    with scopes_disabled():
        ServiceLevel.objects.update(effective_from=local("2025-11-01 00:00"))
    assert sla_breaches_check(local("2025-12-03 12:00")) == 1
    page = admin.get(PAGES[1], {"date_from": "2025-12-01", "date_to": "2025-12-07"})
    text = page.content.decode()
    assert "Inspect after receipt" in text and "NWK1" in text
    assert "2025-12-02 00:00" in text  # due: the end of Monday in Newark
    empty = admin.get(
        PAGES[1], {"date_from": "2025-12-01", "date_to": "2025-12-07", "waiting": "1"}
    )
    assert "No SLA was breached" in empty.content.decode()


def test_sla_settings_are_saved_and_checked(admin: Client, merchant: Merchant) -> None:
    refused = admin.post(PAGES[3], {"inspect_after_receipt": "two"})
    assert refused.status_code == 422
    assert admin.post(PAGES[3], {"inspect_after_receipt": "99"}).status_code == 422
    saved = admin.post(PAGES[3], {"inspect_after_receipt": "2", "refund_after_inspection": "1"})
    assert saved.status_code == 302
    with scopes_disabled():
        assert dict(ServiceLevel.objects.values_list("kind", "business_days")) == {
            "inspect_after_receipt": 2,
            "refund_after_inspection": 1,
        }
    assert "2 business days" in admin.get(PAGES[2]).content.decode()
    assert admin.get("/console/m/acme/operations/slas/nobody/").status_code == 404


def test_facility_closed_days_are_added_and_removed(admin: Client, newark: Facility) -> None:
    url = PAGES[5]
    assert admin.post(url, {"day": "2030-12-24", "reason": "stocktake"}).status_code == 302
    assert FacilityClosedDay.objects.filter(facility=newark).count() == 1
    page = admin.get(url).content.decode()
    assert "2030-12-24" in page and "stocktake" in page
    assert "Christmas Day" in page or "Thanksgiving" in page or "public holiday" in page
    assert admin.post(url, {"day": "not a day"}).status_code == 422
    assert admin.post(url, {"remove": "2030-12-24"}).status_code == 302
    assert not FacilityClosedDay.objects.exists()
    assert admin.get("/console/m/acme/operations/calendars/NOPE/").status_code == 404


def test_the_fee_schedule_and_the_statement_downloads(
    admin: Client, busy, merchant: Merchant
) -> None:
    url = PAGES[7]
    bad = admin.post(url, {"currency": "USD", "inspection": "2.005"})
    assert bad.status_code == 422
    saved = admin.post(
        url, {"currency": "USD", "return_processed": "1.50", "inspection": "2", "storage_day": ""}
    )
    assert saved.status_code == 302
    with scopes_disabled():
        assert dict(FeeRate.objects.values_list("fee", "amount")) == {
            "return_processed": 150,
            "inspection": 200,
        }
    assert admin.get(url, {"period": "2025-12"})["Location"].endswith("/billing/acme/2025-12/")
    december = admin.get("/console/m/acme/billing/acme/2025-12/").content.decode()
    assert "$2.00" in december  # one inspection on 2 December
    november = csv.DictReader(
        io.StringIO(admin.get("/console/m/acme/billing/acme/2025-11/csv/").content.decode())
    )
    assert [row["fee"] for row in november] == ["return_processed"]
    pdf = admin.get("/console/m/acme/billing/acme/2025-11/pdf/")
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    assert 'filename="statement-acme-2025-11.pdf"' in pdf["Content-Disposition"]
    assert admin.get("/console/m/acme/billing/acme/2025-11/xls/").status_code == 404
    assert admin.get("/console/m/acme/billing/acme/november/").status_code == 404
