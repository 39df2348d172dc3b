"""GET /analytics/summary and /analytics/return-rates: JSON, CSV, the range rules, permissions
and another merchant's figures."""

from __future__ import annotations

import csv
import io

import pytest

from returndesk.core.actors import Actor
from returndesk.tenants.services import apikey_create
from tests.analytics.builders import Shop
from tests.conftest import ApiClient

pytestmark = pytest.mark.django_db
MARCH = {"from": "2026-03-01", "to": "2026-03-31"}


@pytest.fixture
def client(shop: Shop) -> ApiClient:
    _, key = apikey_create(actor=Actor.system("tests"), name="analytics", merchant=shop.merchant)
    return ApiClient(key)


def rows(response: object) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode()  # type: ignore[attr-defined]
    return list(csv.reader(io.StringIO(body)))


def test_the_summary_as_json(client: ApiClient) -> None:
    response = client.get("/analytics/summary", **MARCH, period="week")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["from"], body["to"], body["currency"], body["period"]) == (
        "2026-03-01",
        "2026-03-31",
        "USD",
        "week",
    )
    rate = body["return_rate"]
    assert (rate["units_sold"], rate["units_returned"], rate["returns"]) == (37, 9, 4)
    assert rate["units_rate"] == round(9 / 37, 6)
    assert rate["value_returned"] == {"amount": 14300, "currency": "USD"}
    assert [r["key"] for r in body["reasons"]] == ["wrong_size", "defective"]
    steps = {c["step"]: (c["p50_seconds"], c["p90_seconds"]) for c in body["cycle_times"]}
    assert steps["end_to_end"] == (68 * 3600, 342720)  # 95.2 h
    assert body["money"]["retained"] == {"amount": 9500, "currency": "USD"}
    assert body["cost"]["per_return"] == {"amount": 700, "currency": "USD"}
    assert body["fraud"]["held_back"] == {"amount": 4000, "currency": "USD"}
    assert body["dispositions"]["co2e_avoided_kg"] == 19.75
    assert body["defect_warnings"] == []
    assert body["as_of"] is not None


def test_a_summary_table_as_csv(client: ApiClient) -> None:
    response = client.get("/analytics/summary", **MARCH, format="csv", table="cycle_times")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    found = rows(response)
    assert found[0] == ["step", "returns", "p50_hours", "p90_hours"]
    assert found[-1] == ["end_to_end", "3", "68.0", "95.2"]
    missing = client.get("/analytics/summary", **MARCH, format="csv")
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "table"


def test_return_rates_by_sku_and_as_csv(client: ApiClient) -> None:
    body = client.get("/analytics/return-rates", **MARCH, group_by="sku", min_units=5).json()
    assert (body["group_by"], body["min_units"], body["total"]) == ("sku", 5, 3)
    assert [(r["key"], r["ranked"]) for r in body["data"]] == [
        ("MUG", True),
        ("TEE", True),
        ("CAP", False),
    ]
    assert body["data"][0]["units_rate"] == 0.3
    limited = client.get("/analytics/return-rates", **MARCH, limit=1).json()
    assert (limited["total"], len(limited["data"])) == (3, 1)
    found = rows(client.get("/analytics/return-rates", **MARCH, group_by="category", format="csv"))
    assert found[0][:5] == ["category", "label", "units_sold", "units_returned", "units_rate"]
    assert [row[:4] for row in found[1:]] == [
        ["apparel", "apparel", "27", "6"],
        ["kitchen", "kitchen", "10", "3"],
    ]


def test_the_range_is_checked(client: ApiClient) -> None:
    backwards = client.get("/analytics/summary", **{"from": "2026-03-10", "to": "2026-03-01"})
    assert backwards.status_code == 422
    assert backwards.json()["errors"][0]["field"] == "from"
    assert (
        client.get("/analytics/summary", **{"from": "2020-01-01", "to": "2026-03-01"}).status_code
        == 422
    )
    assert client.get("/analytics/return-rates", group_by="colour").status_code == 422
    assert client.get("/analytics/summary").status_code == 200  # the last 30 days


def test_permissions_and_another_merchant(
    shop: Shop, outsider_api: ApiClient, provider_api: ApiClient
) -> None:
    # another merchant's key sees its own (empty) figures, never these
    other = outsider_api.get("/analytics/summary", **MARCH).json()
    assert other["return_rate"]["units_sold"] == 0 and other["reasons"] == []
    # a provider key has no merchant of its own: the operation is not for it
    assert provider_api.get("/analytics/summary", **MARCH).status_code == 403
    assert ApiClient(None).get("/analytics/summary").status_code == 401
