"""The analytics pages: what they show of the hand-worked data set, their downloads, the
merchant filter for staff of several merchants, who may open them, and their queries."""

from __future__ import annotations

import csv
import io

import pytest
from django.test import Client

from returndesk.tenants.models import Merchant
from tests.analytics.builders import Shop
from tests.console.test_console import signed_in, staff

pytestmark = pytest.mark.django_db
MARCH = "from=2026-03-01&to=2026-03-31"


@pytest.fixture
def admin(shop: Shop) -> Client:
    return signed_in(staff("admin@figures.example", "merchant_admin", shop.merchant))


def page(client: Client, shop: Shop, name: str, query: str = MARCH) -> str:
    response = client.get(f"/console/m/{shop.merchant.slug}/analytics/{name}?{query}")
    assert response.status_code == 200, response.content[:2000]
    return response.content.decode()


def test_the_overview_shows_the_figures_with_charts_and_tables(admin: Client, shop: Shop) -> None:
    html = page(admin, shop, "")
    assert "24.3\u00a0%" in html  # 9 of 37 units
    assert "$7.00" in html  # cost per return
    assert "$95.00" in html  # kept through exchanges and store credit
    assert "$40.00" in html  # held back
    for chart in ("chart-rate", "chart-reasons", "chart-reasons-time", "chart-cycle"):
        assert f'id="{chart}"' in html
        assert f'aria-labelledby="{chart}-title {chart}-desc"' in html
    assert "<table" in html and "2 d 20 h" in html  # end to end p50: 68 h
    assert 'style="' not in html and "<script>" not in html


def test_the_rates_page_ranks_skus(admin: Client, shop: Shop) -> None:
    html = page(admin, shop, "return-rates/", MARCH + "&group_by=sku&min_units=5")
    assert html.index('row">MUG') < html.index('row">TEE') < html.index('row">CAP')
    assert "30.0\u00a0%" in html and "(few sales)" in html
    html = page(admin, shop, "return-rates/", MARCH + "&group_by=channel")
    assert ">api<" in html and ">portal<" in html


def test_the_defects_page_lists_the_skus_inspected_in_the_window(admin: Client, shop: Shop) -> None:
    html = page(admin, shop, "defects/", "to=2026-03-31")
    assert ">MUG<" in html  # inspected on 28 March, within the 14 days
    assert "0 SKUs flagged" in html


def test_every_table_downloads(admin: Client, shop: Shop) -> None:
    url = f"/console/m/{shop.merchant.slug}/analytics/export"
    response = admin.get(f"{url}/reasons.csv?{MARCH}")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    body = b"".join(response.streaming_content).decode()  # type: ignore[attr-defined]
    found = list(csv.reader(io.StringIO(body)))
    assert found[0][0] == "reason" and [row[0] for row in found[1:]] == ["wrong_size", "defective"]
    for table in ("return_rate", "periods", "money", "fraud", "return_rates", "defect_trends"):
        assert admin.get(f"{url}/{table}.csv?{MARCH}").status_code == 200, table
    assert admin.get(f"{url}/nothing.csv").status_code == 404


def test_staff_of_several_merchants_switch_merchant_keeping_the_range(
    shop: Shop, other_merchant: Merchant
) -> None:
    provider = signed_in(staff("ops@provider.example", "provider_admin", None))
    url = f"/console/m/{shop.merchant.slug}/analytics/return-rates/?{MARCH}&group_by=reason"
    assert 'id="filter-merchant"' in provider.get(url).content.decode()
    moved = provider.get(url + f"&merchant={other_merchant.slug}")
    assert moved.status_code == 302
    assert moved["Location"] == (
        f"/console/m/{other_merchant.slug}/analytics/return-rates/?{MARCH}&group_by=reason"
    )
    assert provider.get(url + "&merchant=no-such-shop").status_code == 404


def test_who_may_open_the_pages(shop: Shop, other_merchant: Merchant) -> None:
    viewer = signed_in(staff("viewer@figures.example", "merchant_viewer", shop.merchant))
    agent = signed_in(staff("agent@figures.example", "agent", shop.merchant))
    outsider = signed_in(staff("admin@globex.example", "merchant_admin", other_merchant))
    url = f"/console/m/{shop.merchant.slug}/analytics/"
    assert viewer.get(url).status_code == 200
    assert agent.get(url).status_code == 403
    assert outsider.get(url).status_code == 404


def test_a_fixed_number_of_queries(
    admin: Client, shop: Shop, django_assert_max_num_queries: object
) -> None:
    page(admin, shop, "")  # sessions warmed
    with django_assert_max_num_queries(18):  # type: ignore[operator]
        page(admin, shop, "")
    with django_assert_max_num_queries(12):  # type: ignore[operator]
        page(admin, shop, "return-rates/", MARCH + "&group_by=sku")


def test_a_merchant_admin_sets_the_processing_cost(admin: Client, shop: Shop) -> None:
    url = f"/console/m/{shop.merchant.slug}/analytics/settings/"
    saved = admin.post(url, {"processing_cost": "4.00", "query": MARCH})
    assert saved.status_code == 302 and saved["Location"].endswith(f"?{MARCH}#cost-heading")
    # 3 labels 1400 + 4 received x 400 = 3000 over 4 returns
    html = page(admin, shop, "")
    assert "$30.00" in html and "$7.50" in html
    refused = admin.post(url, {"processing_cost": "4.001"})
    assert refused.status_code == 302
    assert "$7.50" in page(admin, shop, "")
    viewer = signed_in(staff("viewer@figures.example", "merchant_viewer", shop.merchant))
    assert viewer.post(url, {"processing_cost": "1"}).status_code == 403
    assert (
        'id="processing-cost"'
        not in viewer.get(f"/console/m/{shop.merchant.slug}/analytics/").content.decode()
    )
