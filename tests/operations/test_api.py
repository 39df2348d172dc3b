"""A merchant reads its SLAs and the breaches recorded against them with its own key; another
merchant sees none of them, and a facility key may not read them."""

from __future__ import annotations

import pytest

from returndesk.operations.models import INSPECT_AFTER_RECEIPT
from returndesk.operations.slas import sla_breaches_check
from returndesk.tenants.models import Merchant
from tests.conftest import ApiClient
from tests.operations.builders import local
from tests.operations.test_slas import received_three, sla  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db


def test_a_merchant_reads_its_slas_and_breaches(
    received_three,  # noqa: F811
    api: ApiClient,
    outsider_api: ApiClient,
    provider_api: ApiClient,
    merchant: Merchant,
) -> None:
    _a, _b, c = received_three
    sla_breaches_check(local("2025-12-03 12:00"))
    slas = api.get("/slas").json()["data"]
    assert [(s["kind"], s["business_days"]) for s in slas] == [(INSPECT_AFTER_RECEIPT, 2)]
    assert slas[0]["starts"] == "the package is received"
    first = api.get("/sla-breaches", limit=1).json()
    assert [b["ran"].replace("-", "") for b in first["data"]] == [c.ret.ran]  # latest due first
    assert first["data"][0]["due_at"] == "2025-12-03T05:00:00Z"
    assert first["data"][0]["finished_at"] is None and first["data"][0]["facility"] == "NWK1"
    rest = api.get("/sla-breaches", limit=1, cursor=first["next_cursor"]).json()
    assert len(rest["data"]) == 1 and rest["next_cursor"] is None
    assert rest["data"][0]["finished_at"] is not None
    waiting = api.get("/sla-breaches", waiting="true").json()["data"]
    assert [b["id"] for b in waiting] == [first["data"][0]["id"]]
    assert api.get("/sla-breaches", kind="dispose_after_inspection").json()["data"] == []
    assert outsider_api.get("/sla-breaches").json()["data"] == []
    assert outsider_api.get("/slas").json()["data"] == []
    assert provider_api.get("/sla-breaches").status_code == 403
