"""R3 of QUALITY.md, pushed further than tests/warehouse/test_receiving_api.py (eight API scans
of one package at once): round after round, one package is scanned at once at the API stations
(by tracking number and by RAN) and at the console's station (a warehouse worker's browser), a
second package of another return among them. Each package gets one receipt and one
return.received event, whichever door the scans came through. PostgreSQL only (row locks);
`make soak` runs many more rounds.
"""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest
from django.db import connection
from django_scopes import scopes_disabled

from returndesk.returns.models import ReturnEvent
from returndesk.tenants.models import User
from returndesk.warehouse.models import Receipt
from tests.conftest import ApiClient
from tests.console.test_console import signed_in, staff
from tests.reliability.budget import scaled
from tests.returns.test_returns_api import order, request  # noqa: F401 - fixture
from tests.warehouse.conftest import scan

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]
ROUNDS = scaled(ci=2, soak=40)


def labelled(api: ApiClient, body: dict[str, Any]) -> tuple[str, str]:
    """A new order like the `order` fixture's, and an authorized, labelled return of it."""
    number = f"R3-{uuid.uuid4().hex[:10]}"
    assert api.put(f"/orders/{number}", body).status_code == 201
    made = api.post("/returns", request(order_number=number))
    assert made.status_code == 201 and made.json()["status"] == "authorized", made.content
    ran = made.json()["ran"]
    label = api.post(f"/returns/{ran}/label", {})
    assert label.status_code == 201, label.content
    return ran, label.json()["tracking_number"]


def scan_at_once(jobs: list[tuple[str, str]], station: ApiClient, worker: User) -> list[int]:
    """Every (door, code) scanned at the same moment, each from its own thread and connection."""
    outcomes: list[int] = []
    barrier = threading.Barrier(len(jobs))

    def go(door: str, code: str) -> None:
        barrier.wait()
        try:
            if door == "api":
                outcomes.append(scan(station, code).status_code)
            else:
                client = signed_in(worker)
                answer = client.post("/console/m/acme/station/FAC1/scan/", {"code": code})
                outcomes.append(answer.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=go, args=job) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


def test_one_package_scanned_everywhere_at_once_is_received_once(
    api: ApiClient,
    order: dict[str, Any],  # noqa: F811
    provider_api: ApiClient,
) -> None:
    worker = staff("dock@provider.example", "warehouse", None)
    for _ in range(ROUNDS):
        packages = [labelled(api, order), labelled(api, order)]
        jobs: list[tuple[str, str]] = []
        for ran, tracking in packages:
            jobs += [("api", tracking), ("api", ran), ("console", ran), ("console", tracking)]
        outcomes = scan_at_once(jobs, provider_api, worker)
        assert all(status in (200, 201) for status in outcomes), outcomes
        assert len(outcomes) == len(jobs)
        with scopes_disabled():
            for ran, _ in packages:
                code = ran.replace("-", "")
                assert Receipt.objects.filter(return_request__ran=code).count() == 1
                received = ReturnEvent.objects.filter(
                    return_request__ran=code, type="return.received"
                )
                assert received.count() == 1
