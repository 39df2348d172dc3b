"""A station photographs what it received: a provider key uploads a photo for a return at one
of its facilities, and the box record and the inspection reference it. It cannot upload for a
return elsewhere, nor a proof of purchase."""

from __future__ import annotations

from typing import Any

import pytest
from django_scopes import scopes_disabled

from returndesk.core.codes import generate_ran
from returndesk.core.models import Upload
from returndesk.warehouse.models import Inspection, Receipt
from tests.conftest import ApiClient
from tests.factories import order_body, product_body
from tests.returns.test_returns_api import recent, request
from tests.returns.test_uploads import _named, photo_with_gps
from tests.warehouse.conftest import scan
from tests.warehouse.test_inspection_api import inspect

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path


def station_upload(station: ApiClient, ran: str, purpose: str = "photo") -> Any:
    return station.client.post(
        "/api/v1/uploads",
        {"purpose": purpose, "ran": ran, "file": _named(photo_with_gps(), "box.jpg")},
        headers={"Authorization": f"Bearer {station.key}"},
    )


def test_a_station_photographs_the_box_and_the_item(
    station: ApiClient, authorized: dict[str, Any]
) -> None:
    ran = authorized["ran"]
    receipt = scan(station, ran).json()["receipt"]
    box = station_upload(station, ran)
    assert box.status_code == 201, box.content
    body = {
        "lines": [{"line_id": "1", "quantity": 2}, {"line_id": "2", "quantity": 1}],
        "package_condition": "damaged",
        "photo_upload_ids": [box.json()["upload_id"]],
    }
    recorded = station.put(f"/receipts/{receipt['id']}", body)
    assert recorded.status_code == 200, recorded.content
    item = station_upload(station, ran).json()["upload_id"]
    response = inspect(station, ran, "2", photo_upload_ids=[item])
    assert response.status_code in (200, 201), response.content
    with scopes_disabled():
        stored = Upload.objects.get(public_id=box.json()["upload_id"])
        assert stored.merchant_id == Receipt.objects.get().merchant_id
        assert b"CameraMaker" not in stored.file.read()  # stripped like any upload
        assert Receipt.objects.get().photo_upload_ids == [stored.public_id]
        assert Inspection.objects.get().photo_upload_ids == [item]


def test_a_station_cannot_upload_for_elsewhere_or_a_receipt(
    station: ApiClient, authorized: dict[str, Any], outsider_api: ApiClient, order: dict
) -> None:
    ran = authorized["ran"]
    assert station_upload(station, ran, purpose="receipt").status_code == 422
    missing = station.client.post(
        "/api/v1/uploads",
        {"purpose": "photo", "file": _named(photo_with_gps(), "box.jpg")},
        headers={"Authorization": f"Bearer {station.key}"},
    )
    assert missing.status_code == 422
    # globex's real return: FAC1 does not serve globex, so it is not there for this station
    assert outsider_api.put("/products/SHOE-1", product_body()).status_code == 201
    assert outsider_api.put("/products/SOCK-1", product_body(name="Sock")).status_code == 201
    body = order_body(placed_at=recent(6), delivered_at=recent(4))
    assert outsider_api.put("/orders/1001", body).status_code == 201
    theirs = outsider_api.post("/returns", request()).json()["ran"]
    elsewhere = station_upload(station, theirs)
    assert elsewhere.status_code == 404
    assert station_upload(station, generate_ran()).status_code == 404
