"""The world the generated reliability tests run in (see world.py)."""

from __future__ import annotations

from typing import Any

import pytest

from returndesk.tenants.models import Merchant
from tests.conftest import ApiClient
from tests.console.test_console import pending  # noqa: F401 - fixture
from tests.console.test_isolation import values  # noqa: F401 - fixture
from tests.reliability.world import World, build_world
from tests.returns.test_returns_api import order  # noqa: F401 - fixture


@pytest.fixture
def world(
    values: dict[str, Any],  # noqa: F811
    merchant: Merchant,
    other_merchant: Merchant,
    api: ApiClient,
) -> World:
    return build_world(values, merchant, other_merchant, api)
