"""GET /inventory (balances per facility, merchant, SKU and condition, keyset-paginated) and
GET /inventory/items/{lpn} (one tagged unit): a provider key reads its facilities' stock, a
merchant key its own; anyone else's unit is 404, as an unknown one."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_scopes import scopes_disabled

from returndesk.tenants.models import Merchant
from returndesk.tenants.services import apikey_create
from returndesk.warehouse import inventory
from returndesk.warehouse.models import Disposition
from tests.conftest import ACTOR, ApiClient
from tests.factories import make_facility
from tests.warehouse.test_inspection_api import three_units_dispositioned

pytestmark = pytest.mark.django_db


@pytest.fixture
def stocked(station: ApiClient, authorized: dict[str, Any]) -> dict[str, Any]:
    """Three units dispositioned at FAC1; the restocked shoe then moved to quarantine."""
    ran = authorized["ran"]
    a, b, c = three_units_dispositioned(station, ran)
    with scopes_disabled():
        merchant_ids = set(Disposition.objects.values_list("merchant_id", flat=True))
    inventory.unit_move(
        actor=ACTOR,
        merchant_ids=merchant_ids,
        lpn=a["lpn"],
        to_condition="quarantine",
        note="box crushed on the shelf",
    )
    return {"ran": ran, "restocked": a["lpn"], "recycled": b["lpn"], "refurbish": c["lpn"]}


BALANCES = [
    {"facility": "FAC1", "merchant": "acme", "sku": "SHOE-1", "condition": "quarantine",
     "quantity": 1},
    {"facility": "FAC1", "merchant": "acme", "sku": "SHOE-1", "condition": "recycled",
     "quantity": 1},
    {"facility": "FAC1", "merchant": "acme", "sku": "SOCK-1", "condition": "refurbish_queue",
     "quantity": 1},
]  # fmt: skip


def test_balances_for_the_provider_and_the_merchant(
    station: ApiClient, api: ApiClient, stocked: dict[str, Any]
) -> None:
    for key in (station, api):
        response = key.get("/inventory")
        assert response.status_code == 200, response.content
        # the restocked shoe went +1 then -1 sellable: a zero balance is left out
        assert response.json() == {"data": BALANCES, "next_cursor": None}


def test_filters(station: ApiClient, api: ApiClient, stocked: dict[str, Any]) -> None:
    assert api.get("/inventory", sku="SOCK-1").json()["data"] == BALANCES[2:]
    assert api.get("/inventory", condition="recycled").json()["data"] == BALANCES[1:2]
    assert station.get("/inventory", facility="fac1").json()["data"] == BALANCES
    assert station.get("/inventory", facility="FAC9").json()["data"] == []
    bad = api.get("/inventory", condition="shiny")
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "condition"


def test_keyset_pages_in_a_fixed_number_of_queries(api: ApiClient, stocked: dict[str, Any]) -> None:
    seen, cursor, counts = [], None, []
    while True:
        params = {"limit": 1, **({"cursor": cursor} if cursor else {})}
        with CaptureQueriesContext(connection) as captured:
            page = api.get("/inventory", **params).json()
        counts.append(len(captured))
        seen += page["data"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == BALANCES
    with CaptureQueriesContext(connection) as whole:
        api.get("/inventory", limit=500)
    assert set(counts) == {len(whole)}  # B6: the same queries whatever the page size
    assert api.get("/inventory", cursor="not-a-cursor").status_code == 422
    assert api.get("/inventory", limit=501).status_code == 422


def test_a_tagged_unit_with_its_movements(
    station: ApiClient, api: ApiClient, stocked: dict[str, Any]
) -> None:
    lpn = stocked["restocked"]
    for key, asked in ((station, lpn), (api, lpn.lower())):
        response = key.get(f"/inventory/items/{asked}")
        assert response.status_code == 200, response.content
        body = response.json()
        assert (body["lpn"], body["ran"], body["sku"], body["facility"], body["merchant"]) == (
            lpn,
            stocked["ran"],
            "SHOE-1",
            "FAC1",
            "acme",
        )
        assert body["condition"] == "quarantine"
        assert body["disposition"]["disposition"] == "restock"
        assert body["disposition"]["line_id"] == "1" and body["disposition"]["unit"] == 1
        moves = [(m["condition"], m["quantity"], m["kind"]) for m in body["movements"]]
        assert moves == [
            ("sellable", 1, "disposition"),
            ("sellable", -1, "move"),
            ("quarantine", 1, "move"),
        ]
        assert body["movements"][-1]["note"] == "box crushed on the shelf"
    recycled = api.get(f"/inventory/items/{stocked['recycled']}").json()
    assert recycled["condition"] == "recycled"


def test_anyone_elses_unit_is_404_and_their_stock_is_not_listed(
    station: ApiClient,
    outsider_api: ApiClient,
    stocked: dict[str, Any],
    merchant: Merchant,
) -> None:
    lpn = stocked["restocked"]
    mine = outsider_api.get(f"/inventory/items/{lpn}")
    assert mine.status_code == 404 and mine.json()["code"] == "not_found"
    assert outsider_api.get("/inventory").json() == {"data": [], "next_cursor": None}
    assert station.get("/inventory/items/LP0000000000X").status_code == 404
    # A provider key for another facility (serving the same merchant) sees nothing of FAC1's.
    make_facility(merchant, code="FAC2", name="Facility two")
    _, key = apikey_create(actor=ACTOR, name="fac2", facility_codes=["FAC2"])
    elsewhere = ApiClient(key)
    assert elsewhere.get(f"/inventory/items/{lpn}").status_code == 404
    assert elsewhere.get("/inventory").json()["data"] == []


def test_no_key_is_401(stocked: dict[str, Any]) -> None:
    assert ApiClient(None).get("/inventory").status_code == 401
    assert ApiClient(None).get(f"/inventory/items/{stocked['restocked']}").status_code == 401
