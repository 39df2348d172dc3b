"""Returns on an uploaded receipt, for an order that is not in the system: review, always."""

from __future__ import annotations

import json
from typing import Any

import pytest

from returndesk.returns.models import Return
from tests.conftest import ApiClient
from tests.returns.test_returns_api import order, request  # noqa: F401 - the order fixture
from tests.returns.test_uploads import _media, photo_with_gps, upload  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db


def allow_receipts(api: ApiClient) -> None:
    document = api.get("/policy").json()["document"]
    document["proof_of_purchase"] = "order_or_receipt"
    assert api.put("/policy", document).status_code == 201


def receipt_request(receipt_id: str, **overrides: Any) -> dict[str, Any]:
    body = request(
        order_number="SHOP-COUNTER-77",
        email="Walkin@Example.com",
        proof_of_purchase_upload_id=receipt_id,
        lines=[{"sku": "SHOE-1", "quantity": 1, "reason": "wrong_size"}],
    )
    body.update(overrides)
    return body


def test_a_receipt_return_goes_to_review_at_catalogue_prices(
    api: ApiClient,
    order: dict[str, Any],  # noqa: F811
) -> None:
    allow_receipts(api)
    receipt = upload(api, photo_with_gps(), "receipt.jpg", purpose="receipt").json()["upload_id"]
    response = api.post("/returns", receipt_request(receipt))
    assert response.status_code == 201, response.content
    ret = response.json()
    assert ret["status"] == "pending_review"
    assert ret["order_number"] == "SHOP-COUNTER-77"
    assert ret["proof_of_purchase_upload_id"] == receipt
    assert ret["lines"][0]["line_id"] is None and ret["lines"][0]["sku"] == "SHOE-1"
    assert ret["lines"][0]["value"] == {"amount": 8900, "currency": "USD"}  # the catalogue price
    assert "receipt" in ret["decision"]["review_clauses"][0]["shopper_message"]
    # Nobody knows the purchase date yet: no window end is promised, staff check the receipt.
    codes = [c["code"] for c in ret["decision"]["verdicts"][0]["clauses"]]
    assert "return_window_on_receipt" in codes and "return_window" not in codes
    assert Return.objects.with_scopes_disabled().get().email == "walkin@example.com"


def test_receipts_need_a_policy_that_accepts_them(
    api: ApiClient,
    order: dict[str, Any],  # noqa: F811
) -> None:
    receipt = upload(api, photo_with_gps(), "receipt.jpg", purpose="receipt").json()["upload_id"]
    response = api.post("/returns", receipt_request(receipt))
    assert response.status_code == 422
    fields = [e["field"] for e in json.loads(response.content)["errors"]]
    assert fields == ["proof_of_purchase_upload_id"]


def test_a_receipt_return_names_known_products(
    api: ApiClient,
    order: dict[str, Any],  # noqa: F811
) -> None:
    allow_receipts(api)
    receipt = upload(api, photo_with_gps(), "receipt.jpg", purpose="receipt").json()["upload_id"]
    lines = [
        {"sku": "NOPE-9", "quantity": 1, "reason": "wrong_size"},
        {"quantity": 1, "reason": "x"},
    ]
    response = api.post("/returns", receipt_request(receipt, lines=lines))
    assert response.status_code == 422
    fields = [e["field"] for e in json.loads(response.content)["errors"]]
    assert fields == ["lines[0].sku", "lines[1].sku"]


def test_without_a_receipt_an_unknown_order_is_still_not_found(
    api: ApiClient,
    order: dict[str, Any],  # noqa: F811
) -> None:
    allow_receipts(api)
    response = api.post("/returns", receipt_request(""))
    assert response.status_code == 404
    assert json.loads(response.content)["code"] == "order_not_found"


def test_a_photo_is_not_a_receipt(
    api: ApiClient,
    order: dict[str, Any],  # noqa: F811
) -> None:
    allow_receipts(api)
    photo = upload(api, photo_with_gps()).json()["upload_id"]
    response = api.post("/returns", receipt_request(photo))
    assert response.status_code == 422
    assert "no receipt upload" in json.loads(response.content)["detail"]
