from __future__ import annotations

from typing import Any

import pytest

from returndesk.tenants.models import Facility, Merchant
from tests.conftest import ApiClient
from tests.factories import make_facility
from tests.returns.test_returns_api import order, request  # noqa: F401 - the order fixture


@pytest.fixture
def facility(merchant: Merchant) -> Facility:
    return make_facility(merchant, code="NJ1", name="Newark returns centre", region="NJ")


@pytest.fixture
def authorized(api: ApiClient, order: dict, facility: Facility) -> dict[str, Any]:  # noqa: F811
    response = api.post("/returns", request())
    assert response.status_code == 201, response.content
    ret = response.json()
    assert ret["status"] == "authorized"
    return ret
