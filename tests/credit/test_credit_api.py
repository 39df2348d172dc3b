"""The store credit and gift card endpoints: balance and ledger, redemption at checkout (201,
replay, 409s, 422), gift card balance, the validity setting, and what another merchant and a
provider key get."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from returndesk.catalog.models import Customer
from returndesk.core.actors import Actor
from returndesk.core.tenancy import merchant_scope
from returndesk.credit import services
from returndesk.tenants.models import Merchant
from tests.conftest import ApiClient
from tests.credit.helpers import EMAIL, issue, set_validity
from tests.factories import money

pytestmark = pytest.mark.django_db
PATH = f"/customers/{EMAIL}/store-credit"


def redeem(api: ApiClient, amount: Any, reference: str = "order-1", **kw: Any) -> Any:
    body = {"amount": amount, "reference": reference}
    return api.post(f"{kw.pop('path', PATH)}/redemptions", body, **kw)


def test_the_balance_lots_and_ledger_of_a_customer(api: ApiClient, merchant: Merchant) -> None:
    set_validity(merchant, 30)
    issue(merchant, 6199, "rf_1", bonus=620)
    set_validity(merchant, None)
    issue(merchant, 1000, "rf_2")
    assert redeem(api, money(500)).status_code == 201
    response = api.get(f"/customers/{EMAIL.upper()}/store-credit")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["email"] == EMAIL
    assert body["balances"] == [money(7319)]
    assert [(lot["reference"], lot["remaining"]["amount"]) for lot in body["lots"]] == [
        ("rf_1", 6319),
        ("rf_2", 1000),
    ]
    assert body["lots"][0]["expires_at"] is not None and body["lots"][1]["expires_at"] is None
    assert [e["type"] for e in body["data"]] == ["redeem", "issue", "issue"]
    first = body["data"][-1]
    assert first["amount"] == money(6819) and first["bonus"] == money(620)
    assert first["source"] == {"refund": "rf_1", "return": "RKQ4M2XD9TPH7"}
    assert body["data"][0]["amount"] == money(-500) and body["data"][0]["bonus"] is None
    assert body["data"][0]["balance_after"] == money(7319)
    assert body["next_cursor"] is None


def test_the_ledger_pages_with_a_cursor(api: ApiClient, merchant: Merchant) -> None:
    for i in range(5):
        issue(merchant, 100 + i, f"rf_{i}")
    first = api.get(PATH, limit=2).json()
    assert [e["reference"] for e in first["data"]] == ["rf_4", "rf_3"]
    second = api.get(PATH, limit=2, cursor=first["next_cursor"]).json()
    third = api.get(PATH, limit=2, cursor=second["next_cursor"]).json()
    assert [e["reference"] for e in second["data"] + third["data"]] == ["rf_2", "rf_1", "rf_0"]
    assert third["next_cursor"] is None
    assert api.get(PATH, cursor="nonsense").status_code == 422


def test_the_ledger_page_costs_the_same_queries_for_2_and_40_entries(
    api: ApiClient, merchant: Merchant
) -> None:
    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert api.get(PATH).status_code == 200
        return len(ctx.captured_queries)

    issue(merchant, 100, "rf_a")
    issue(merchant, 100, "rf_b")
    queries()  # the first use of a key records when it was used
    few = queries()
    for i in range(38):
        issue(merchant, 100, f"rf_{i}")
    assert queries() == few


def test_a_known_customer_without_credit_has_a_zero_balance(
    api: ApiClient, merchant: Merchant
) -> None:
    with merchant_scope(merchant):  # a shopper of the merchant's orders, never credited
        Customer.objects.create(merchant=merchant, email="shopper@example.com")
    body = api.get("/customers/shopper@example.com/store-credit", currency="USD").json()
    assert body["balances"] == [money(0)] and body["lots"] == [] and body["data"] == []
    refused = redeem(api, money(100), path="/customers/shopper@example.com/store-credit")
    assert refused.status_code == 409
    assert refused.json()["code"] == "insufficient_store_credit"


def test_a_redemption_answers_the_entry_and_what_is_left(
    api: ApiClient, merchant: Merchant
) -> None:
    issue(merchant, 1000, "rf_1")
    response = redeem(api, money(300))
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["entry"]["type"] == "redeem" and body["entry"]["amount"] == money(-300)
    assert body["entry"]["reference"] == "order-1" and body["balance"] == money(700)
    again = redeem(api, money(300))  # the checkout retried: redeemed once
    assert again.status_code == 200 and again.json()["entry"]["id"] == body["entry"]["id"]
    assert again.json()["balance"] == money(700)
    other_amount = redeem(api, money(200))
    assert other_amount.status_code == 409 and other_amount.json()["code"] == "reference_conflict"


def test_an_idempotency_key_replays_the_first_answer(api: ApiClient, merchant: Merchant) -> None:
    issue(merchant, 1000, "rf_1")
    headers = {"Idempotency-Key": "checkout-42"}
    first = redeem(api, money(300), headers=headers)
    second = redeem(api, money(300), headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert api.get(PATH).json()["balances"] == [money(700)]


def test_more_than_the_balance_is_409(api: ApiClient, merchant: Merchant) -> None:
    issue(merchant, 1000, "rf_1")
    response = redeem(api, money(1001))
    assert response.status_code == 409
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "insufficient_store_credit"
    assert api.get(PATH).json()["balances"] == [money(1000)]


def test_a_currency_the_customer_holds_no_credit_in_is_409(
    api: ApiClient, merchant: Merchant
) -> None:
    issue(merchant, 1000, "rf_1")
    response = redeem(api, money(100, "EUR"))
    assert response.status_code == 409 and response.json()["code"] == "currency_mismatch"


@pytest.mark.parametrize(
    "body",
    [
        {"amount": money(0), "reference": "o-1"},
        {"amount": money(-100), "reference": "o-1"},
        {"amount": {"amount": 1.5, "currency": "USD"}, "reference": "o-1"},
        {"amount": {"amount": "100", "currency": "USD"}, "reference": "o-1"},
        {"amount": money(100, "usd"), "reference": "o-1"},
        {"amount": money(100, "XYZ"), "reference": "o-1"},
        {"amount": money(100)},
        {"amount": money(100), "reference": ""},
        {"amount": money(100), "reference": "o-1", "note": "extra"},
        {"amount": 100, "reference": "o-1"},
    ],
)
def test_bad_input_is_422(api: ApiClient, merchant: Merchant, body: dict[str, Any]) -> None:
    issue(merchant, 1000, "rf_1")
    response = api.post(f"{PATH}/redemptions", body)
    assert response.status_code == 422, body
    assert response.json()["code"] == "validation_error" and response.json()["errors"]


def test_another_merchants_customer_is_404_exactly_as_an_unknown_one(
    api: ApiClient, outsider_api: ApiClient, merchant: Merchant
) -> None:
    issue(merchant, 1000, "rf_1")
    services.gift_card_credit(
        merchant=merchant,
        code="GC-1",
        currency="USD",
        amount=500,
        reference="rf_gc",
        source={},
        actor=Actor.system("tests"),
    )
    for client, path in (
        (outsider_api, PATH),
        (api, "/customers/nobody@example.com/store-credit"),
    ):
        read = client.get(path)
        spend = redeem(client, money(100), path=path)
        assert (read.status_code, spend.status_code) == (404, 404)
        assert read.json()["code"] == spend.json()["code"] == "not_found"
    assert outsider_api.get("/gift-cards/GC-1").status_code == 404
    assert api.get("/gift-cards/GC-2").status_code == 404
    assert api.get(PATH).json()["balances"] == [money(1000)]


def test_a_provider_key_may_not_read_or_redeem(provider_api: ApiClient, merchant: Merchant) -> None:
    issue(merchant, 1000, "rf_1")
    assert provider_api.get(PATH).status_code == 403
    response = redeem(provider_api, money(100))
    assert response.status_code == 403 and response.json()["code"] == "forbidden"
    assert provider_api.get("/gift-cards/GC-1").status_code == 403


def test_no_key_is_401(merchant: Merchant) -> None:
    assert ApiClient(None).get(PATH).status_code == 401


def test_a_gift_card_answers_its_balance_and_entries(api: ApiClient, merchant: Merchant) -> None:
    for reference, amount in (("rf_1", 2000), ("rf_2", 750)):
        services.gift_card_credit(
            merchant=merchant,
            code="gc-1",
            currency="USD",
            amount=amount,
            reference=reference,
            source={"refund": reference, "return": "RKQ4M2XD9TPH7"},
            actor=Actor.system("tests"),
        )
    body = api.get("/gift-cards/GC-1").json()
    assert body["code"] == "GC-1" and body["balance"] == money(2750)
    assert [(e["type"], e["amount"]["amount"]) for e in body["data"]] == [
        ("credit", 750),
        ("credit", 2000),
    ]
    assert body["data"][0]["balance_after"] == money(2750)
    assert body["data"][0]["source"]["refund"] == "rf_2"


def test_the_validity_setting_is_read_and_written(api: ApiClient, merchant: Merchant) -> None:
    assert api.get("/store-credit/settings").json() == {"store_credit_validity_days": None}
    saved = api.put("/store-credit/settings", {"store_credit_validity_days": 365})
    assert saved.status_code == 200 and saved.json() == {"store_credit_validity_days": 365}
    for bad in ({"store_credit_validity_days": 0}, {"store_credit_validity_days": "a"}, {}):
        assert api.put("/store-credit/settings", bad).status_code == 422, bad
    entry = issue(merchant, 100, "rf_1")
    lot = api.get(PATH).json()["lots"][0]
    assert lot["expires_at"] is not None and lot["entry_id"] == entry.public_id
    assert api.put("/store-credit/settings", {"store_credit_validity_days": None}).json() == {
        "store_credit_validity_days": None
    }


def test_the_openapi_document_lists_the_endpoints(api: ApiClient) -> None:
    paths = api.get("/openapi.json").json()["paths"]
    for path in (
        "/api/v1/customers/{email}/store-credit",
        "/api/v1/customers/{email}/store-credit/redemptions",
        "/api/v1/gift-cards/{code}",
        "/api/v1/store-credit/settings",
    ):
        assert path in paths, path
