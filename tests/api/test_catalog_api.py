from __future__ import annotations

import json

import pytest

from tests.conftest import ApiClient
from tests.factories import money, order_body, product_body


@pytest.fixture
def products(api: ApiClient) -> None:
    assert api.put("/products/SHOE-1", product_body()).status_code == 201
    assert (
        api.put("/products/SOCK-1", product_body(name="Sock", price=money(1200))).status_code == 201
    )


def problem(response) -> dict:  # type: ignore[no-untyped-def]
    assert response["Content-Type"] == "application/problem+json", response.content
    return json.loads(response.content)


def test_it_creates_then_updates_then_reads_a_product(api: ApiClient) -> None:
    created = api.put("/products/SHOE-1", product_body())
    assert created.status_code == 201
    assert created.json()["price"] == money(8900)
    updated = api.put("/products/SHOE-1", product_body(name="Trail Runner 2"))
    assert updated.status_code == 200
    got = api.get("/products/SHOE-1").json()
    assert got["name"] == "Trail Runner 2"
    assert got["accessories"] == [{"code": "laces", "name": "Spare laces", "value": money(300)}]


def test_it_creates_an_order_and_normalises_the_email(api: ApiClient, products: None) -> None:
    response = api.put("/orders/1001", order_body())
    assert response.status_code == 201, response.content
    order = response.json()
    assert order["customer"]["email"] == "shopper@example.com"
    assert order["total"] == money(19900)
    assert [line["line_id"] for line in order["lines"]] == ["1", "2"]
    assert [t["method"] for t in order["tenders"]] == ["gift_card", "card"]
    again = api.get("/orders/1001").json()
    assert again == order


def test_it_updates_an_order_in_place(api: ApiClient, products: None) -> None:
    api.put("/orders/1001", order_body())
    body = order_body()
    body["lines"] = body["lines"][:1]
    body["tenders"] = [{"method": "card", "amount": money(18700)}]
    response = api.put("/orders/1001", body)
    assert response.status_code == 200, response.content
    assert [line["line_id"] for line in response.json()["lines"]] == ["1"]
    assert response.json()["tenders"][0]["amount"] == money(18700)


@pytest.mark.parametrize(
    ("mutate", "field", "fragment"),
    [
        (lambda b: b["lines"][0].update(quantity=-1), "lines[0].quantity", "at least 1"),
        (lambda b: b["lines"][0].update(quantity=0), "lines[0].quantity", "at least 1"),
        (lambda b: b["lines"][0].update(sku="NOPE"), "lines[0].sku", "unknown SKU"),
        (lambda b: b.update(currency="EUR"), "currency", "works in USD"),
        (
            lambda b: b["lines"][0].update(unit_price=money(8900, "EUR")),
            "lines[0].unit_price",
            "differs from the merchant's currency",
        ),
        (lambda b: b.update(surprise=1), "surprise", "not a field"),
        (lambda b: b["lines"][0].update(quantity="2"), "lines[0].quantity", "integer"),
        (
            lambda b: b["lines"][0].update(unit_price={"amount": 1.5, "currency": "USD"}),
            "lines[0].unit_price.amount",
            "integer",
        ),
        (lambda b: b.update(placed_at="2026-11-01T10:00:00"), "placed_at", "timezone"),
        (
            lambda b: b.update(tenders=[{"method": "card", "amount": money(100)}]),
            "tenders",
            "add up to",
        ),
        (lambda b: b["lines"][1].update(line_id="1"), "lines[1].line_id", "twice"),
        (lambda b: b.pop("lines"), "lines", "required"),
    ],
)
def test_it_refuses_a_bad_order_naming_the_field(
    api: ApiClient,
    products: None,
    mutate,
    field: str,
    fragment: str,  # type: ignore[no-untyped-def]
) -> None:
    body = order_body()
    mutate(body)
    response = api.put("/orders/1001", body)
    assert response.status_code == 422
    error = problem(response)
    assert error["code"] == "validation_error"
    fields = {e["field"]: e["message"] for e in error["errors"]}
    assert field in fields, error
    assert fragment.lower() in fields[field].lower(), fields
    assert api.get("/orders/1001").status_code == 404  # nothing half-written


def test_it_answers_malformed_json_with_400(api: ApiClient) -> None:
    response = api.put("/products/X", None, raw=b'{"name": "x",')
    assert response.status_code == 400
    assert problem(response)["code"] == "malformed_json"


def test_it_answers_a_wrong_content_type_with_415(api: ApiClient) -> None:
    response = api.put("/products/X", None, raw="name=x", content_type="text/plain")
    assert response.status_code == 415
    assert problem(response)["code"] == "unsupported_media_type"


def test_it_answers_an_oversized_body_with_413(api: ApiClient) -> None:
    body = product_body(packing_instructions="x" * (1024 * 1024))
    response = api.put("/products/X", body)
    assert response.status_code == 413
    assert problem(response)["code"] == "too_large"


def test_bulk_endpoints_accept_more_than_one_mebibyte(api: ApiClient) -> None:
    items = [
        {"sku": f"SKU-{i}", **product_body(packing_instructions="p" * 2000)} for i in range(600)
    ]
    response = api.post("/products/bulk", {"products": items})
    assert response.status_code == 200, response.content[:300]
    assert response.json()["created"] == 600


def test_it_needs_a_key(merchant) -> None:  # type: ignore[no-untyped-def]
    anonymous = ApiClient(None)
    response = anonymous.get("/products/SHOE-1")
    assert response.status_code == 401
    assert problem(response)["code"] == "unauthenticated"
    assert ApiClient("rd_m_not-a-real-key").get("/products").status_code == 401


def test_a_provider_key_may_not_manage_the_catalogue(provider_api: ApiClient) -> None:
    response = provider_api.put("/products/SHOE-1", product_body())
    assert response.status_code == 403
    assert problem(response)["code"] == "forbidden"


def test_another_merchant_sees_nothing(
    api: ApiClient, outsider_api: ApiClient, products: None
) -> None:
    api.put("/orders/1001", order_body())
    for path in ("/products/SHOE-1", "/orders/1001"):
        response = outsider_api.get(path)
        assert response.status_code == 404
        assert problem(response)["code"] == "not_found"
    assert outsider_api.get("/products").json()["data"] == []
    assert outsider_api.get("/orders").json()["data"] == []
    # Writing the same natural keys creates the outsider's own rows, never touches ours.
    assert outsider_api.put("/products/SHOE-1", product_body(name="Theirs")).status_code == 201
    assert api.get("/products/SHOE-1").json()["name"] == "Trail Runner"
    bulk = outsider_api.post("/orders/bulk", {"orders": [{"order_number": "1001", **order_body()}]})
    assert bulk.json()["results"][0]["outcome"] == "failed"  # SOCK-1 is not theirs
    assert api.get("/orders/1001").json()["customer"]["email"] == "shopper@example.com"


def test_bulk_orders_report_each_outcome(api: ApiClient, products: None) -> None:
    bad = order_body()
    bad["lines"][0]["sku"] = "MISSING"
    payload = {
        "orders": [
            {"order_number": "A-1", **order_body()},
            {"order_number": "A-2", **bad},
        ]
    }
    response = api.post("/orders/bulk", payload)
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["outcome"] for r in results] == ["created", "failed"]
    assert results[1]["errors"][0]["field"] == "orders[1].lines[0].sku"
    again = api.post("/orders/bulk", payload).json()["results"]
    assert [r["outcome"] for r in again] == ["unchanged", "failed"]


def test_bulk_refuses_more_than_a_thousand(api: ApiClient) -> None:
    items = [{"sku": f"S{i}", **product_body()} for i in range(1001)]
    response = api.post("/products/bulk", {"products": items})
    assert response.status_code == 422
    assert problem(response)["errors"][0]["field"] == "products"


def test_idempotency_key_replays_the_first_answer(api: ApiClient, products: None) -> None:
    payload = {"orders": [{"order_number": "I-1", **order_body()}]}
    headers = {"Idempotency-Key": "import-42"}
    first = api.post("/orders/bulk", payload, headers=headers)
    second = api.post("/orders/bulk", payload, headers=headers)
    assert first.json()["results"][0]["outcome"] == "created"
    assert second.status_code == first.status_code
    assert second.content == first.content  # replayed: not "unchanged"
    assert second["Idempotent-Replayed"] == "true"
    other = {"orders": [{"order_number": "I-2", **order_body()}]}
    reused = api.post("/orders/bulk", other, headers=headers)
    assert reused.status_code == 422
    assert problem(reused)["code"] == "idempotency_key_reused"


def test_idempotency_keys_belong_to_their_credential(
    api: ApiClient, outsider_api: ApiClient
) -> None:
    body = {"products": [{"sku": "P-1", **product_body()}]}
    api.post("/products/bulk", body, headers={"Idempotency-Key": "k"})
    other = outsider_api.post("/products/bulk", body, headers={"Idempotency-Key": "k"})
    assert other.json()["created"] == 1  # not a replay of the first merchant's answer


def test_lists_page_with_a_cursor(api: ApiClient) -> None:
    for i in range(5):
        api.put(f"/products/P-{i}", product_body())
    first = api.get("/products", limit=2).json()
    assert [p["sku"] for p in first["data"]] == ["P-0", "P-1"]
    second = api.get("/products", limit=2, cursor=first["next_cursor"]).json()
    assert [p["sku"] for p in second["data"]] == ["P-2", "P-3"]
    third = api.get("/products", limit=2, cursor=second["next_cursor"]).json()
    assert [p["sku"] for p in third["data"]] == ["P-4"]
    assert third["next_cursor"] is None
    bad = api.get("/products", cursor="garbage!")
    assert bad.status_code == 422
    assert api.get("/products", limit=501).status_code == 422


def test_order_lists_page_newest_first(api: ApiClient, products: None) -> None:
    for day in range(1, 6):
        api.put(
            f"/orders/O-{day}",
            order_body(placed_at=f"2026-11-0{day}T10:00:00Z", delivered_at=None),
        )
    seen = []
    cursor = None
    while True:
        page = api.get("/orders", limit=2, **({"cursor": cursor} if cursor else {})).json()
        seen += [o["order_number"] for o in page["data"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == ["O-5", "O-4", "O-3", "O-2", "O-1"]


def test_list_pages_use_a_fixed_number_of_queries(
    api: ApiClient,
    products: None,
    django_assert_max_num_queries,  # type: ignore[no-untyped-def]
) -> None:
    for i in range(30):
        api.put(f"/orders/Q-{i}", order_body())
    # key lookup, orders (customers joined), lines, tenders, return quantities: any page size
    with django_assert_max_num_queries(7):
        assert len(api.get("/orders", limit=30).json()["data"]) == 30
    with django_assert_max_num_queries(7):
        assert len(api.get("/orders", limit=3).json()["data"]) == 3


def test_openapi_and_health_are_served(db) -> None:  # type: ignore[no-untyped-def]
    client = ApiClient(None).client
    spec = client.get("/api/v1/openapi.json").json()
    assert "/api/v1/orders/{order_number}" in spec["paths"]
    assert client.get("/healthz").json() == {"status": "ok"}
    # /readyz also wants a worker's heartbeat (tests/observability/test_readiness.py)
    assert client.get("/readyz").json()["checks"]["database"]["ok"] is True


def test_a_wrong_method_answers_problem_json(api: ApiClient) -> None:
    response = api.send("DELETE", "/products/SHOE-1")
    assert response.status_code == 405
    body = problem(response)
    assert body["code"] == "method_not_allowed"
    assert "PUT" in response["Allow"]
