from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from returndesk.core.models import RateLimitCounter
from tests.conftest import ApiClient
from tests.returns.test_returns_api import order  # noqa: F401 - the order fixture

pytestmark = pytest.mark.django_db


def find(client: Client, **fields: str) -> Any:
    return client.post("/r/acme/", fields)


def test_a_shopper_finds_the_order_by_number_and_email(
    api: ApiClient,
    order: dict[str, Any],  # noqa: F811
) -> None:
    client = Client()
    page = client.get("/r/acme/")
    assert page.status_code == 200 and b"Start a return" in page.content
    found = find(client, order_number="1001", email=" Shopper@Example.com ")
    assert found.status_code == 302 and found["Location"] == "/r/acme/order/"
    shown = client.get("/r/acme/order/")
    assert b"Order 1001" in shown.content and b"Trail Runner" in shown.content


def test_the_number_as_the_shop_prints_it_finds_the_order(
    api: ApiClient,
    order: dict[str, Any],  # noqa: F811
) -> None:
    found = find(Client(), order_number=" #1001", email="shopper@example.com")
    assert found.status_code == 302 and found["Location"] == "/r/acme/order/"


def test_a_gift_recipient_uses_the_postal_code(
    api: ApiClient,
    order: dict[str, Any],  # noqa: F811
) -> None:
    assert find(Client(), order_number="1001", postal_code="62701").status_code == 302


def test_a_wrong_email_reads_exactly_like_an_unknown_order(
    api: ApiClient,
    order: dict[str, Any],  # noqa: F811
) -> None:
    wrong = find(Client(), order_number="1001", email="someone@else.com")
    unknown = find(Client(), order_number="9999", email="shopper@example.com")
    assert wrong.status_code == unknown.status_code == 404

    def page(response: Any, number: bytes, email: bytes) -> bytes:
        text = response.content.replace(number, b"N").replace(email, b"E")
        # the CSP nonce and the CSRF token differ on every page
        return re.sub(rb'(nonce|value)="[A-Za-z0-9+/=_-]{20,}"', b"", text)

    assert page(wrong, b"1001", b"someone@else.com") == page(
        unknown, b"9999", b"shopper@example.com"
    )
    assert Client().get("/r/acme/order/").status_code == 302  # nothing in the session


def test_lookups_are_limited_per_order(
    api: ApiClient,
    order: dict[str, Any],  # noqa: F811
) -> None:
    for n in range(5):
        client = Client(REMOTE_ADDR=f"10.0.0.{n}")
        assert find(client, order_number="1001", email="guess@x.com").status_code == 404
    blocked = find(
        Client(REMOTE_ADDR="10.0.0.99"), order_number="1001", email="shopper@example.com"
    )
    assert blocked.status_code == 429
    assert int(blocked["Retry-After"]) > 0


def test_lookups_are_limited_per_client(
    api: ApiClient,
    order: dict[str, Any],  # noqa: F811
) -> None:
    client = Client(REMOTE_ADDR="192.0.2.7")
    for n in range(10):
        assert find(client, order_number=f"G-{n}", email="a@b.c").status_code == 404
    assert find(client, order_number="1001", email="shopper@example.com").status_code == 429
    assert RateLimitCounter.objects.count() >= 2


def test_an_unknown_merchant_is_404() -> None:
    assert Client().get("/r/nobody/").status_code == 404


def test_with_an_email_the_email_is_the_proof_whatever_the_postal_code(
    api: ApiClient,
    order: dict[str, Any],  # noqa: F811
) -> None:
    """A wrong e-mail is not rescued by a right postal code: that would make the shopper a
    gift's recipient without their knowing."""
    mixed = find(Client(), order_number="1001", email="someone@else.com", postal_code="62701")
    assert mixed.status_code == 404
    client = Client()
    both = find(client, order_number="1001", email="shopper@example.com", postal_code="62701")
    assert both.status_code == 302
    assert client.session["portal_order"]["gift"] is False
