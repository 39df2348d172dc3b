"""The merchant's carrier settings and facility routes through the API."""

from __future__ import annotations

import pytest

from returndesk.tenants.models import Facility, Merchant
from tests.conftest import ApiClient
from tests.factories import make_facility

pytestmark = pytest.mark.django_db


def test_it_answers_the_defaults_then_saves_settings(api: ApiClient) -> None:
    assert api.get("/shipping/settings").json()["carriers"] == ["prepaid"]
    body = {
        "carriers": ["easypost", "prepaid"],
        "mode": "label",
        "easypost_services": ["GroundAdvantage"],
        "prepaid_cost_amount": 450,
    }
    saved = api.put("/shipping/settings", body)
    assert saved.status_code == 200, saved.content
    assert saved.json()["prepaid_cost"] == {"amount": 450, "currency": "USD"}
    assert api.get("/shipping/settings").json()["carriers"] == ["easypost", "prepaid"]


def test_bad_settings_are_422_with_field_errors(api: ApiClient) -> None:
    response = api.put("/shipping/settings", {"carriers": ["pigeon"], "prepaid_cost_amount": -1})
    assert response.status_code == 422
    fields = {e["field"] for e in response.json()["errors"]}
    assert {"carriers", "prepaid_cost_amount"} <= fields
    assert api.get("/shipping/settings").json()["carriers"] == ["prepaid"]


def test_routes_are_added_listed_and_removed_by_their_merchant_only(
    api: ApiClient, outsider_api: ApiClient, facility: Facility
) -> None:
    added = api.post("/shipping/routes", {"facility": "NJ1", "country": "us", "priority": 5})
    assert added.status_code == 201, added.content
    route = added.json()
    assert route["country"] == "US" and route["id"].startswith("rte_")
    assert api.get("/shipping/routes").json()["items"] == [route]
    assert outsider_api.get("/shipping/routes").json()["items"] == []
    assert outsider_api.send("DELETE", f"/shipping/routes/{route['id']}").status_code == 404
    assert api.send("DELETE", f"/shipping/routes/{route['id']}").status_code == 204
    assert api.get("/shipping/routes").json()["items"] == []


def test_a_route_to_a_facility_not_serving_the_merchant_is_422(
    api: ApiClient, other_merchant: Merchant
) -> None:
    make_facility(other_merchant, code="GLX1", name="Globex only")
    response = api.post("/shipping/routes", {"facility": "GLX1", "country": "USA"})
    assert response.status_code == 422
    assert {e["field"] for e in response.json()["errors"]} == {"facility", "country"}
