from __future__ import annotations

from typing import Any

import pytest

from returndesk.core.tenancy import merchant_scope
from returndesk.refunds.execution import refund_triggers_process, refunds_execute_due
from returndesk.returns.models import Return
from returndesk.tenants.models import Merchant
from tests.conftest import ApiClient
from tests.returns.test_returns_api import order, request  # noqa: F401 - the order fixture
from tests.warehouse.conftest import scan


@pytest.fixture
def station(provider_api: ApiClient) -> ApiClient:
    return provider_api


def set_policy(api: ApiClient, **changes: Any) -> None:
    document = api.get("/policy").json()["document"]
    document.update(changes)
    response = api.put("/policy", document)
    assert response.status_code == 201, response.content


def create_return(api: ApiClient, **overrides: Any) -> dict[str, Any]:
    body = request(
        lines=[
            {"line_id": "1", "quantity": 2, "reason": "wrong_size"},
            {"line_id": "2", "quantity": 1, "reason": "wrong_size"},
        ],
        **overrides,
    )
    response = api.post("/returns", body)
    assert response.status_code == 201, response.content
    return response.json()


def receive(station: ApiClient, ran: str, lines: dict[str, int]) -> None:
    receipt = scan(station, ran).json()["receipt"]
    body = {"lines": [{"line_id": k, "quantity": v} for k, v in lines.items()]}
    response = station.put(f"/receipts/{receipt['id']}", body)
    assert response.status_code == 200, response.content


def inspect(station: ApiClient, ran: str, line: str, unit: int, **body: Any) -> dict[str, Any]:
    response = station.post(
        f"/returns/{ran}/lines/{line}/inspection", {"grade": "A", "unit": unit, **body}
    )
    assert response.status_code in (200, 201), response.content
    return response.json()


def dispose(station: ApiClient, ran: str, line: str, unit: int, recommended: str) -> None:
    """Accept the recommended disposition of one inspected unit."""
    response = station.post(
        f"/returns/{ran}/lines/{line}/disposition", {"unit": unit, "disposition": recommended}
    )
    assert response.status_code in (200, 201), response.content


def run_worker() -> None:
    """The worker's refund jobs, once each, as the periodic scheduler would run them."""
    refund_triggers_process()
    refunds_execute_due()


def status_of(merchant: Merchant, ran: str) -> str:
    with merchant_scope(merchant):
        return Return.objects.get(ran=ran.replace("-", "")).status


def pay_with(api: ApiClient, body: dict[str, Any], tenders: list[dict[str, Any]]) -> None:
    """Say how order 1001 was paid (the `order` fixture's order, put again)."""
    body = {**body, "tenders": tenders}
    response = api.put("/orders/1001", body)
    assert response.status_code in (200, 201), response.content


def due_at_once(api: ApiClient) -> None:
    """A policy that makes the money due at authorization for everyone."""
    document = api.get("/policy").json()["document"]
    set_policy(
        api,
        refund_timing="authorization",
        trusted_customers={**document["trusted_customers"], "min_completed_returns": 0},
    )
