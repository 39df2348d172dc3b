from __future__ import annotations

from typing import Any

import pytest

from returndesk.core.tenancy import merchant_scope
from returndesk.returns.models import Return
from returndesk.tenants.models import Merchant
from tests.conftest import ApiClient
from tests.returns.test_returns_api import order, request  # noqa: F401 - the order fixture


@pytest.fixture
def station(provider_api: ApiClient) -> ApiClient:
    """A provider key limited to facility FAC1, which serves the merchant."""
    return provider_api


def make_return(api: ApiClient, **overrides: Any) -> dict[str, Any]:
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


@pytest.fixture
def authorized(api: ApiClient, order: dict, station: ApiClient) -> dict[str, Any]:  # noqa: F811
    ret = make_return(api)
    assert ret["status"] == "authorized"
    return ret


@pytest.fixture
def labelled(api: ApiClient, authorized: dict) -> dict[str, Any]:
    label = api.post(f"/returns/{authorized['ran']}/label", {})
    assert label.status_code == 201, label.content
    return {**authorized, "label": label.json()}


def status_of(merchant: Merchant, ran: str) -> str:
    with merchant_scope(merchant):
        return Return.objects.get(ran=ran.replace("-", "")).status


def scan(station: ApiClient, code: str, facility: str = "FAC1") -> Any:
    return station.post("/receipts", {"code": code, "facility": facility})
