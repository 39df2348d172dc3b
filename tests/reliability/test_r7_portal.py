"""R7 of QUALITY.md beyond tests/portal/test_find_order.py and test_status.py (limits per order
and per client, a wrong e-mail reading exactly like an unknown order): the per-order limit
counts an order number that does not exist exactly as one that does, so running into it tells
nothing; a forged X-Forwarded-For does not give a client a fresh allowance; and (PostgreSQL)
lookups racing for one order from many clients at once pass the limit no more often than one
after the other would.
"""

from __future__ import annotations

import re
import threading
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from tests.conftest import ApiClient
from tests.reliability.budget import scaled
from tests.returns.test_returns_api import order  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db
PER_ORDER = 5  # portal/views/lookup.py: PER_ORDER
PER_CLIENT = 10


def find(client: Client, number: str, email: str) -> Any:
    return client.post("/r/acme/", {"order_number": number, "email": email})


def words(response: Any, *echoed: str) -> str:
    """The page without what the request typed and without the per-page tokens."""
    text = response.content.decode()
    for typed in echoed:
        text = text.replace(typed, "T")
    return re.sub(r'(nonce|value)="[A-Za-z0-9+/=_-]{20,}"', "", text)


def test_the_per_order_limit_tells_nothing_about_whether_the_order_exists(
    api: ApiClient,
    order: dict[str, Any],  # noqa: F811
) -> None:
    blocked = {}
    for number in ("1001", "9999"):  # the first exists, the second does not
        for n in range(PER_ORDER):
            guess = find(Client(REMOTE_ADDR=f"10.7.{number[-1]}.{n}"), number, f"g{n}@x.test")
            assert guess.status_code == 404
        blocked[number] = find(Client(REMOTE_ADDR=f"10.8.{number[-1]}.1"), number, "s@x.test")
    assert blocked["1001"].status_code == blocked["9999"].status_code == 429
    assert blocked["1001"]["Retry-After"] and blocked["9999"]["Retry-After"]
    assert words(blocked["1001"], "1001") == words(blocked["9999"], "9999")


def test_a_forwarded_for_header_does_not_reset_the_client_limit(
    api: ApiClient,
    order: dict[str, Any],  # noqa: F811
) -> None:
    for n in range(PER_CLIENT):
        client = Client(REMOTE_ADDR="198.51.100.7", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}")
        assert find(client, f"G-{n}", "a@b.test").status_code == 404
    forged = Client(REMOTE_ADDR="198.51.100.7", HTTP_X_FORWARDED_FOR="203.0.113.250")
    assert find(forged, "1001", "shopper@example.com").status_code == 429


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_lookups_racing_for_one_order_pass_the_limit_no_more_often(
    api: ApiClient,
    order: dict[str, Any],  # noqa: F811
) -> None:
    for round_ in range(scaled(ci=1, soak=20)):
        number = f"RACE-{round_}"
        assert api.put(f"/orders/{number}", order).status_code == 201
        statuses = race(number, clients=16)
        assert len(statuses) == 16
        assert statuses.count(302) == PER_ORDER, statuses
        assert statuses.count(429) == 16 - PER_ORDER, statuses


def race(number: str, clients: int) -> list[int]:
    statuses: list[int] = []
    barrier = threading.Barrier(clients)

    def go(n: int) -> None:
        barrier.wait()
        try:
            client = Client(REMOTE_ADDR=f"10.9.{len(number)}.{n}")
            statuses.append(find(client, number, "shopper@example.com").status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=go, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return statuses
