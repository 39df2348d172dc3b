"""Refunds written back to Shopify through the official library, against a loopback replay of
Shopify's Admin API answering with the shapes of its own examples (refund.json,
transactions.json): the request body is checked, and the refund reaches Shopify exactly once
however often the dispatcher and the job run, and when an answer is lost."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone
from django_scopes import scopes_disabled

from returndesk.core.tenancy import merchant_scope
from returndesk.integrations.models import (
    WB_FAILED,
    WB_PENDING,
    WB_SUCCEEDED,
    ShopConnection,
    ShopWriteBack,
)
from returndesk.integrations.writeback import (
    shop_write_back_fan_out,
    shop_write_back_retry,
    shop_write_back_send,
    shop_write_backs_send_due,
)
from returndesk.notifications.dispatch import outbox_dispatch
from returndesk.notifications.models import OutboxMessage
from returndesk.notifications.services import outbox_enqueue
from returndesk.tenants.models import Merchant
from tests.integrations.conftest import (
    ACTOR,
    TOKEN,
    connect,
    payload_path,
    post_webhook,
    process_pending,
    shopify_example_order,
    shopify_headers,
)
from tests.integrations.shopify_server import ShopifyReplay, serve

pytestmark = [pytest.mark.django_db, pytest.mark.needs_data]

ORDER_ID = str(2**53 + 1)  # 9007199254740993: exact all the way to Shopify and back
GREEN, RED = str(2**53 + 3), str(2**53 + 5)


@pytest.fixture
def shopify(settings: Any) -> Iterator[ShopifyReplay]:
    data_dir = payload_path("shopify", "refund.json").parents[2]
    with serve(Path(data_dir), TOKEN) as server:
        settings.RETURNDESK_SHOPIFY_API_BASE = server.url
        yield server


@pytest.fixture
def shop_order(merchant: Merchant, shopify: ShopifyReplay) -> str:
    """Order #1001 from the merchant's Shopify, ids above 2^53, paid 598.94 with a card."""
    connect(merchant, "shopify", access_token=TOKEN, write_back_refunds=True)
    order = shopify_example_order()
    order["id"] = int(ORDER_ID)
    ids = [int(GREEN), int(RED), 2**53 + 7]
    order["line_items"] = [{**li, "id": i} for li, i in zip(order["line_items"], ids, strict=True)]
    body = json.dumps(order).encode()
    assert post_webhook("shopify", "acme", body, shopify_headers(body)).status_code == 202
    assert process_pending() == 1
    shopify.pay(ORDER_ID, amount="598.94")
    return "1001"


def refund_succeeded(
    merchant: Merchant,
    *,
    refund: str = "rfd_1",
    amount: int = 20900,
    lines: tuple[tuple[str, int], ...] = ((GREEN, 1),),
    settlement: str = "stl_1",
    provider: str = "manual",
    method: str = "card",
    shipping: int = 0,
) -> OutboxMessage:
    """The outbox row refunds.services.refund_succeed writes (its refund_event_data keys)."""
    money = {"amount": amount, "currency": "USD"}
    data = {
        "refund": refund,
        "ran": "ABCD2345EFGH7",
        "status": "succeeded",
        "kind": "payment" if provider not in ("store_credit", "gift_card") else provider,
        "email": "bob.norman@hostmail.com",
        "method": method,
        "provider": provider,
        "amount": money,
        "bonus": {"amount": 0, "currency": "USD"},
        "provider_reference": "FIN-42" if provider == "manual" else None,
        "failure_message": None,
        "settlement": settlement,
        "lines": [
            {"line_id": line_id, "sku": "IPOD", "quantity": qty, "refund": money}
            for line_id, qty in lines
        ],
        "return_deductions": [],
        "shipping": {"amount": {"amount": shipping, "currency": "USD"}},
    }
    with merchant_scope(merchant):
        return outbox_enqueue(merchant_id=merchant.pk, type="refund.succeeded", data=data)


def write_backs() -> list[ShopWriteBack]:
    with scopes_disabled():
        return list(ShopWriteBack.objects.order_by("pk"))


def test_a_refund_is_written_back_once_with_the_right_body(
    merchant: Merchant, shop_order: str, shopify: ShopifyReplay
) -> None:
    message = refund_succeeded(merchant)
    assert outbox_dispatch(message.pk) == "delivered"
    assert outbox_dispatch(message.pk) == "delivered"  # the dispatcher again: a no-op
    with scopes_disabled():
        shop_write_back_fan_out(OutboxMessage.objects.get(pk=message.pk))  # even forced
    (row,) = write_backs()
    assert (row.state, row.carries_lines, row.amount) == (WB_PENDING, True, 20900)
    assert shop_write_back_send(write_back_id=row.pk) == WB_SUCCEEDED
    assert shop_write_back_send(write_back_id=row.pk) == "skipped"
    assert shop_write_backs_send_due(now=timezone.now() + timedelta(hours=1)) == 0
    (post,) = shopify.posts()
    assert post["path"] == f"/admin/api/2024-10/orders/{ORDER_ID}/refunds.json"
    assert post["body"] == {
        "refund": {
            "currency": "USD",
            "notify": False,
            "note": "[ReturnDesk rfd_1] return ABCD2345EFGH7: 209.00 USD refunded, card via "
            "manual (FIN-42).",
            "refund_line_items": [
                {"line_item_id": int(GREEN), "quantity": 1, "restock_type": "no_restock"}
            ],
            "transactions": [
                {"parent_id": 389404469, "amount": "209.00", "kind": "refund", "gateway": "bogus"}
            ],
        }
    }
    assert str(2**53 + 3).encode() in json.dumps(post["body"]).encode()
    (created,) = shopify.ledger
    row.refresh_from_db()
    assert row.shop_refund_id == str(created["id"]) and row.sent_at is not None
    assert row.request_body == post["body"]["refund"]


def test_a_lost_answer_is_found_in_shopify_not_created_again(
    merchant: Merchant, shop_order: str, shopify: ShopifyReplay
) -> None:
    outbox_dispatch(refund_succeeded(merchant).pk)
    (row,) = write_backs()
    shopify.fail(r"/refunds\.json$", after=True)  # created, then the connection drops
    assert shop_write_back_send(write_back_id=row.pk) == WB_PENDING
    row.refresh_from_db()
    assert row.attempts == 1 and "503" in row.last_error and row.next_attempt_at is not None
    assert len(shopify.ledger) == 1
    assert shop_write_backs_send_due(now=timezone.now() + timedelta(hours=1)) == 1
    row.refresh_from_db()
    assert row.state == WB_SUCCEEDED and row.shop_refund_id == str(shopify.ledger[0]["id"])
    assert len(shopify.ledger) == 1 and len(shopify.posts()) == 1


def test_outages_retry_with_backoff_and_refusals_fail_visibly(
    merchant: Merchant, shop_order: str, shopify: ShopifyReplay
) -> None:
    outbox_dispatch(refund_succeeded(merchant).pk)
    (row,) = write_backs()
    shopify.fail(r"/transactions\.json$", count=1, status=502)
    assert shop_write_back_send(write_back_id=row.pk) == WB_PENDING
    # The token is revoked: Shopify says 401, which no retry mends.
    with scopes_disabled():
        ShopConnection.objects.filter(merchant=merchant).update(access_token="")
    connect(merchant, "shopify", access_token="shpat_revoked")
    assert shop_write_backs_send_due(now=timezone.now() + timedelta(hours=1)) == 0
    row.refresh_from_db()
    assert row.state == WB_FAILED and "401" in row.last_error
    assert shopify.ledger == []
    # Support fixes the token and retries: sent once.
    connect(merchant, "shopify", access_token=TOKEN)
    with merchant_scope(merchant):
        shop_write_back_retry(actor=ACTOR, merchant=merchant, public_id=row.public_id)
    assert shop_write_backs_send_due(now=timezone.now() + timedelta(hours=1)) == 1
    assert len(shopify.ledger) == 1


def test_a_settlement_split_over_two_refunds_sends_its_items_once(
    merchant: Merchant, shop_order: str, shopify: ShopifyReplay
) -> None:
    lines = ((GREEN, 1), (RED, 1))
    outbox_dispatch(refund_succeeded(merchant, refund="rfd_a", amount=30000, lines=lines).pk)
    outbox_dispatch(
        refund_succeeded(
            merchant,
            refund="rfd_b",
            amount=9900,
            lines=lines,
            provider="store_credit",
            method="store_credit",
        ).pk
    )
    first, second = write_backs()
    assert (first.carries_lines, second.carries_lines) == (True, False)
    assert shop_write_backs_send_due() == 2
    one, two = (p["body"]["refund"] for p in shopify.posts())
    assert len(one["refund_line_items"]) == 2 and "transactions" in one
    # Store credit is ReturnDesk's own: Shopify hears of it, and moves no money for it.
    assert "refund_line_items" not in two and "transactions" not in two
    assert "99.00 USD refunded, store_credit via store_credit" in two["note"]


def test_nothing_is_written_back_without_the_setting_or_for_other_orders(
    merchant: Merchant, shop_order: str, shopify: ShopifyReplay
) -> None:
    outbox_dispatch(refund_succeeded(merchant, refund="rfd_elsewhere", lines=(("99", 1),)).pk)
    connect(merchant, "shopify", write_back_refunds=False)
    outbox_dispatch(refund_succeeded(merchant, refund="rfd_off").pk)
    assert write_backs() == []
    assert shopify.requests == []


def test_the_replay_answers_in_shopifys_shapes(shopify: ShopifyReplay) -> None:
    recorded = json.loads(
        (Path(settings.RETURNDESK_DATA_DIR) / "payloads" / "shopify" / "refund.json").read_text()
    )["refund"]
    status, answer = shopify.answer(
        "POST", f"/admin/api/2024-10/orders/{ORDER_ID}/refunds.json", TOKEN, b'{"refund": {}}'
    )
    assert status == 201 and set(answer["refund"]) == set(recorded)
    assert shopify.answer("GET", "/admin/api/2024-10/orders/1/refunds.json", "wrong", b"")[0] == 401
