from __future__ import annotations

from typing import Any

import pytest

from returndesk.tenants.models import Facility, Merchant
from returndesk.tenants.services import facility_create
from tests.conftest import ACTOR, ApiClient
from tests.returns.test_returns_api import order, request  # noqa: F401 - the order fixture


@pytest.fixture
def facility(merchant: Merchant) -> Facility:
    return facility_create(
        actor=ACTOR,
        code="NJ1",
        name="Newark returns centre",
        line1="1 Dock Rd",
        city="Newark",
        region="NJ",
        postal_code="07102",
        country="US",
        merchant_slugs=[merchant.slug],
    )


@pytest.fixture
def authorized(api: ApiClient, order: dict, facility: Facility) -> dict[str, Any]:  # noqa: F811
    response = api.post("/returns", request())
    assert response.status_code == 201, response.content
    ret = response.json()
    assert ret["status"] == "authorized"
    return ret
