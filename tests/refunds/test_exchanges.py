"""Exchanges end to end through the API (issue 7, "Exchanges"): opened with the authorization,
decided at the release stage, a difference the shopper owes collected through Stripe's Checkout
(the replay server) or recorded by staff, a difference owed to the shopper refunded through a
settlement of its own, released and fulfilled by the merchant; an instant exchange released
before the return arrives and the adjustment when it never does; cancellation; illegal moves.

The order (tests/returns/test_returns_api.order): line 1 is 2 x SHOE-1 at 89.00 with 10.00
discount and 14.00 tax, so one returned unit paid 89.00 - 5.00 + 7.00 = 91.00: the credit of
an exchange of one unit under the default policy (no fee, grade A)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from returndesk.core.tenancy import merchant_scope
from returndesk.notifications.models import OutboxMessage
from returndesk.refunds.execution import returns_complete_settled
from returndesk.refunds.models import Exchange
from returndesk.returns.services import returns_expire_due
from returndesk.tenants.models import Merchant
from tests.conftest import ApiClient
from tests.factories import money, product_body
from tests.payments.conftest import stripe_server  # noqa: F401 - the replay server fixture
from tests.payments.servers import ServerHandle
from tests.refunds.conftest import dispose, inspect, receive, run_worker, set_policy, status_of
from tests.returns.test_returns_api import request

pytestmark = pytest.mark.django_db
CREDIT = 9100  # one unit of line 1, as paid


def problem(response: Any) -> dict[str, Any]:
    assert response["Content-Type"] == "application/problem+json", response.content
    return json.loads(response.content)


def offer_exchanges(api: ApiClient, **resolutions: Any) -> None:
    document = api.get("/policy").json()["document"]
    set_policy(api, resolutions={**document["resolutions"], "exchange": True, **resolutions})


def product(api: ApiClient, sku: str, price: int, **body: Any) -> None:
    response = api.put(
        f"/products/{sku}", product_body(name=sku.title(), price=money(price), **body)
    )
    assert response.status_code == 201, response.content


def exchange_return(api: ApiClient, sku: str, quantity: int = 1) -> dict[str, Any]:
    line = {
        "line_id": "1",
        "quantity": 1,
        "reason": "wrong_size",
        "exchange_for": {"sku": sku, "quantity": quantity},
    }
    response = api.post("/returns", request(resolution="exchange", lines=[line]))
    assert response.status_code == 201, response.content
    ret = response.json()
    assert ret["status"] == "authorized"
    return ret


def the_exchange(api: ApiClient, ran: str) -> dict[str, Any]:
    response = api.get(f"/returns/{ran}/exchanges")
    assert response.status_code == 200, response.content
    (exchange,) = response.json()["data"]
    return exchange


def instant_exchange(api: ApiClient, sku: str, price: int) -> tuple[str, dict[str, Any]]:
    """An instant exchange of one unit of line 1 for `sku`, after the authorization's money
    check: its RAN and the exchange."""
    offer_exchanges(api, instant_exchange=True)
    product(api, sku, price)
    ran = exchange_return(api, sku)["ran"]
    run_worker()
    return ran, the_exchange(api, ran)


def outbox(merchant: Merchant, prefix: str = "exchange.") -> dict[str, list[dict[str, Any]]]:
    with merchant_scope(merchant):
        rows = OutboxMessage.objects.filter(type__startswith=prefix).order_by("id")
        found: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            found.setdefault(row.type, []).append(row.payload["data"])
        return found


def inspect_and_settle(station: ApiClient, ran: str) -> dict[str, Any]:
    receive(station, ran, {"1": 1})
    found = inspect(station, ran, "1", 1)
    run_worker()
    return found


def test_a_dearer_exchange_paid_through_stripe_goes_through_every_status(
    api: ApiClient,
    station: ApiClient,
    order: dict,
    merchant: Merchant,
    stripe_server: ServerHandle,  # noqa: F811
    settings: Any,
) -> None:
    settings.RETURNDESK_STRIPE_API_BASE = stripe_server.url
    stripe = {
        "stripe_secret_key": stripe_server.credentials["secret_key"],
        "stripe_webhook_secret": stripe_server.credentials["webhook_secret"],
    }
    assert api.put("/payments/settings", stripe).status_code == 200
    offer_exchanges(api)
    product(api, "BOOT-1", 12900, category="boots")  # another product, dearer
    ret = exchange_return(api, "BOOT-1")
    ran = ret["ran"]

    exchange = the_exchange(api, ran)
    assert exchange["status"] == "requested" and exchange["sku"] == "BOOT-1"
    assert (exchange["price"], exchange["credit"], exchange["difference"]) == (
        money(12900),
        money(CREDIT),
        money(12900 - CREDIT),
    )
    assert exchange["calculation"]["stage"] == ""  # an estimate until it is decided
    assert api.get(f"/returns/{ran}").json()["exchanges"][0]["id"] == exchange["id"]
    events = [e["type"] for e in api.get(f"/returns/{ran}/events").json()["data"]]
    assert "exchange.requested" in events

    # not instant: nothing happens before the units are inspected (the default timing)
    run_worker()
    receive(station, ran, {"1": 1})
    run_worker()
    assert the_exchange(api, ran)["status"] == "requested"
    early = api.post(f"/exchanges/{exchange['id']}/fulfil", {"order_reference": "SO-1"})
    assert early.status_code == 409 and problem(early)["code"] == "invalid_transition"

    found = inspect(station, ran, "1", 1)
    run_worker()
    exchange = the_exchange(api, ran)
    assert exchange["status"] == "awaiting_payment"
    assert exchange["calculation"]["stage"] == "inspection"
    assert exchange["difference"] == money(3800)
    assert exchange["collection_provider"] == "stripe"
    assert exchange["collection_url"].startswith("https://checkout.stripe.com/")
    (collection,) = stripe_server.ledger("collection")
    assert (collection["amount"], collection["currency"]) == (3800, "USD")
    assert collection["metadata"]["returndesk_exchange"] == exchange["id"]

    # the shopper pays the link; Stripe tells the merchant's webhook endpoint
    with merchant_scope(merchant):
        session = Exchange.objects.get(public_id=exchange["id"]).collection_reference
    paid = stripe_server.checkout(session)
    for _ in range(2):  # Stripe delivers at least once
        delivered = api.post(
            f"/payments/stripe/{merchant.slug}/webhooks",
            None,
            raw=paid["body"],
            headers={"Stripe-Signature": paid["signature"]},
        )
        assert delivered.status_code == 200, delivered.content
    exchange = the_exchange(api, ran)
    assert exchange["status"] == "released"
    assert exchange["paid_reference"] == session and exchange["released_at"]
    (released,) = outbox(merchant)["exchange.released"]
    assert released["exchange"]["sku"] == "BOOT-1" and released["exchange"]["quantity"] == 1
    assert released["shipping_address"]["postal_code"] == "62701"

    again = api.post(f"/exchanges/{exchange['id']}/mark-paid", {"reference": "CASH-1"})
    assert again.status_code == 409 and problem(again)["code"] == "invalid_transition"
    done = api.post(f"/exchanges/{exchange['id']}/fulfil", {"order_reference": "SO-2001"})
    assert done.status_code == 200, done.content
    assert done.json()["status"] == "fulfilled"
    assert done.json()["merchant_order_reference"] == "SO-2001"
    same = api.post(f"/exchanges/{exchange['id']}/fulfil", {"order_reference": "SO-2001"})
    assert same.status_code == 200
    other = api.post(f"/exchanges/{exchange['id']}/fulfil", {"order_reference": "SO-9"})
    assert other.status_code == 409 and problem(other)["code"] == "invalid_transition"
    cancel = api.post(f"/exchanges/{exchange['id']}/cancel", {"reason": "too late"})
    assert cancel.status_code == 409 and problem(cancel)["code"] == "invalid_transition"
    assert [e["status"] for e in done.json()["events"]] == [
        "requested",
        "awaiting_payment",
        "awaiting_payment",  # the payment link
        "awaiting_payment",  # paid
        "released",
        "fulfilled",
    ]

    # the exchange settles the line: no refund, and the return completes once dispositioned
    run_worker()
    money_of = api.get(f"/returns/{ran}/refunds").json()
    assert money_of["refunds"] == [] and money_of["adjustments"] == []
    dispose(station, ran, "1", 1, found["recommendation"]["recommendation"])
    assert returns_complete_settled() == 1
    assert status_of(merchant, ran) == "completed"
    sent = outbox(merchant)
    assert {kind: len(rows) for kind, rows in sent.items()} == {
        "exchange.requested": 1,
        "exchange.released": 1,
        "exchange.fulfilled": 1,
    }
    assert len(stripe_server.ledger("collection")) == 1


def test_a_cheaper_exchange_refunds_the_difference_once(
    api: ApiClient, station: ApiClient, order: dict, merchant: Merchant
) -> None:
    offer_exchanges(api)
    product(api, "SOCK-2", 1200, category="socks")
    ran = exchange_return(api, "SOCK-2", quantity=2)["ran"]
    assert the_exchange(api, ran)["difference"] == money(2400 - CREDIT)
    inspect_and_settle(station, ran)
    exchange = the_exchange(api, ran)
    assert exchange["status"] == "released"
    body = api.get(f"/returns/{ran}/refunds").json()
    (settlement,) = body["settlements"]
    assert settlement["resolution"] == "exchange"
    assert settlement["total"] == money(CREDIT - 2400)
    assert settlement["calculation"]["exchange"] == exchange["id"]
    (refund,) = body["refunds"]
    # the order's card names no provider the merchant has: finance pays it by hand
    assert (refund["kind"], refund["status"], refund["amount"]) == (
        "manual",
        "pending",
        money(CREDIT - 2400),
    )
    assert body["adjustments"] == []  # the plan leaves the exchange's own settlement out
    assert body["due_now"] is False

    run_worker()
    again = api.post(f"/returns/{ran}/refunds", {})
    assert again.status_code == 409 and problem(again)["code"] == "nothing_due"
    paid = api.post(f"/refunds/{refund['id']}/mark-paid", {"reference": "BACS-7"})
    assert paid.status_code == 200 and paid.json()["status"] == "succeeded"
    run_worker()
    assert len(api.get(f"/returns/{ran}/refunds").json()["refunds"]) == 1
    assert len(outbox(merchant)["exchange.released"]) == 1


def test_an_instant_exchange_is_released_first_and_an_expiry_opens_an_adjustment(
    api: ApiClient, order: dict, merchant: Merchant
) -> None:
    offer_exchanges(api, instant_exchange=True)
    product(api, "SHOE-1-W", CREDIT)  # the same product in another width, at what was paid
    ran = exchange_return(api, "SHOE-1-W")["ran"]
    exchange = the_exchange(api, ran)
    assert exchange["instant"] is True and exchange["difference"] == money(0)
    run_worker()  # the authorization's money check releases it before anything ships
    exchange = the_exchange(api, ran)
    assert exchange["status"] == "released"
    assert exchange["calculation"]["stage"] == "authorization"

    assert returns_expire_due(now=timezone.now() + timedelta(days=60)) == 1
    run_worker()
    assert status_of(merchant, ran) == "expired"
    body = api.get(f"/returns/{ran}/refunds").json()
    (adjustment,) = body["adjustments"]
    assert (adjustment["cause"], adjustment["status"]) == ("expired", "open")
    assert adjustment["amount"] == money(CREDIT)
    assert any("SHOE-1-W" in finding for finding in adjustment["findings"])
    run_worker()
    assert len(api.get(f"/returns/{ran}/refunds").json()["adjustments"]) == 1
    assert len(outbox(merchant, "adjustment.")["adjustment.opened"]) == 1


def test_staff_record_the_difference_of_an_instant_exchange(
    api: ApiClient, order: dict, merchant: Merchant
) -> None:
    ran, exchange = instant_exchange(api, "BOOT-1", 12900)
    # no Stripe for this merchant: the exchange waits for staff to record the payment
    assert exchange["status"] == "awaiting_payment"
    assert (exchange["collection_provider"], exchange["collection_url"]) == ("manual", None)
    blank = api.post(f"/exchanges/{exchange['id']}/mark-paid", {"reference": " "})
    assert blank.status_code == 422
    paid = api.post(f"/exchanges/{exchange['id']}/mark-paid", {"reference": "TILL-42"})
    assert paid.status_code == 200, paid.content
    assert paid.json()["status"] == "released" and paid.json()["paid_reference"] == "TILL-42"
    replay = api.post(f"/exchanges/{exchange['id']}/mark-paid", {"reference": "TILL-42"})
    assert replay.status_code == 200 and replay.json()["status"] == "released"

    # the agent cancels the return: the replacement went out and nothing comes back
    cancelled = api.post(f"/returns/{ran}/cancel", {"reason": "the shopper keeps the shoes"})
    assert cancelled.status_code == 200, cancelled.content
    run_worker()
    (adjustment,) = api.get(f"/returns/{ran}/refunds").json()["adjustments"]
    assert adjustment["cause"] == "cancelled"
    assert adjustment["amount"] == money(CREDIT)  # 129.00 shipped less the 38.00 paid
    assert the_exchange(api, ran)["status"] == "released"  # staff decide with the merchant


def test_a_cancelled_exchange_is_refunded_like_any_refund(
    api: ApiClient, outsider_api: ApiClient, station: ApiClient, order: dict, merchant: Merchant
) -> None:
    offer_exchanges(api)
    product(api, "SHOE-2", 8900)
    ran = exchange_return(api, "SHOE-2")["ran"]
    exchange = the_exchange(api, ran)
    path = f"/exchanges/{exchange['id']}/cancel"
    assert outsider_api.post(path, {"reason": "not yours"}).status_code == 404
    assert outsider_api.get(f"/returns/{ran}/exchanges").status_code == 404
    assert api.post(path, {"reason": "  "}).status_code == 422
    unknown = api.post("/exchanges/exc_NOPE/cancel", {"reason": "x"})
    assert unknown.status_code == 404 and problem(unknown)["code"] == "exchange_not_found"

    done = api.post(path, {"reason": "out of stock in that size"})
    assert done.status_code == 200, done.content
    assert done.json()["status"] == "cancelled"
    assert done.json()["cancelled_reason"] == "out of stock in that size"
    assert api.get(f"/returns/{ran}/refunds").json()["refunds"] == []  # not due yet
    again = api.post(path, {"reason": "again"})
    assert again.status_code == 409 and problem(again)["code"] == "invalid_transition"

    inspect_and_settle(station, ran)
    body = api.get(f"/returns/{ran}/refunds").json()
    (refund,) = body["refunds"]
    assert refund["amount"] == money(CREDIT)
    (settlement,) = body["settlements"]
    assert settlement["calculation"]["purpose"] == "cancellation"
    run_worker()
    assert len(api.get(f"/returns/{ran}/refunds").json()["refunds"]) == 1
    assert "exchange.cancelled" not in outbox(merchant)  # not a webhook event of API.md


def test_exchange_for_must_name_something_sold(api: ApiClient, order: dict) -> None:
    line = {"line_id": "1", "quantity": 1, "reason": "wrong_size"}
    body = request(lines=[{**line, "exchange_for": {"sku": "SOCK-1"}}])
    refused = api.post("/returns", body)
    assert refused.status_code == 422
    assert "lines[0].exchange_for" in [e["field"] for e in problem(refused)["errors"]]

    offer_exchanges(api)
    unknown = request(resolution="exchange", lines=[{**line, "exchange_for": {"sku": "NOPE"}}])
    response = api.post("/returns", unknown)
    assert response.status_code == 422
    assert [e["field"] for e in problem(response)["errors"]] == ["lines[0].exchange_for.sku"]
    none = request(lines=[{**line, "exchange_for": {"sku": "SOCK-1", "quantity": 0}}])
    assert api.post("/returns", none).status_code == 422


def test_an_inspection_that_finds_less_than_an_instant_exchange_credited(
    api: ApiClient, station: ApiClient, order: dict, merchant: Merchant
) -> None:
    ran, exchange = instant_exchange(api, "SHOE-1-W", CREDIT)
    assert exchange["status"] == "released"
    receive(station, ran, {"1": 1})
    inspect(station, ran, "1", 1, grade="X", defects=["empty_box"], matches_description=False)
    run_worker()
    (adjustment,) = api.get(f"/returns/{ran}/refunds").json()["adjustments"]
    assert adjustment["cause"] == "exchange" and adjustment["amount"] == money(CREDIT)
    assert any("grade" in finding for finding in adjustment["findings"])
    run_worker()
    assert len(api.get(f"/returns/{ran}/refunds").json()["adjustments"]) == 1


def test_cancelling_a_paid_exchange_pays_the_difference_back(
    api: ApiClient, station: ApiClient, order: dict, merchant: Merchant
) -> None:
    ran, exchange = instant_exchange(api, "BOOT-1", 12900)
    paid = api.post(f"/exchanges/{exchange['id']}/mark-paid", {"reference": "TILL-42"})
    assert paid.json()["status"] == "released"
    cancelled = api.post(f"/exchanges/{exchange['id']}/cancel", {"reason": "discontinued"})
    assert cancelled.status_code == 200, cancelled.content
    (back,) = api.get(f"/returns/{ran}/refunds").json()["refunds"]
    assert (back["kind"], back["amount"]) == ("manual", money(12900 - CREDIT))
    # the returned shoe is refunded once it is inspected, like any refund
    inspect_and_settle(station, ran)
    refunds = api.get(f"/returns/{ran}/refunds").json()["refunds"]
    assert sorted(r["amount"]["amount"] for r in refunds) == sorted([12900 - CREDIT, CREDIT])
    run_worker()
    assert len(api.get(f"/returns/{ran}/refunds").json()["refunds"]) == 2
