from __future__ import annotations

from collections.abc import Callable

import pytest

from returndesk.tenants.models import Facility, Merchant
from tests.operations.builders import World, facility


@pytest.fixture
def newark(merchant: Merchant) -> Facility:
    return facility("NWK1", merchants=[merchant])


@pytest.fixture
def world(merchant: Merchant) -> World:
    return World(merchant)


@pytest.fixture
def world_of() -> Callable[[Merchant], World]:
    return World
