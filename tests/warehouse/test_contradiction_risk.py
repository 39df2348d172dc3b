"""A finding that contradicts the customer is its own risk signal: after an earlier return of
theirs came back as an empty box, their next return scores higher, with that reason."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tests.conftest import ApiClient
from tests.returns.test_returns_api import request
from tests.warehouse.test_inspection_api import inspect, receive

pytestmark = pytest.mark.django_db
NEXT = [{"line_id": "1", "quantity": 1, "reason": "wrong_size"}]


def received_sock(api: ApiClient, station: ApiClient) -> str:
    """The customer's earlier return: the sock of order 1001, received at FAC1."""
    first = api.post("/returns", request(lines=[{"line_id": "2", "quantity": 1,
                                                 "reason": "wrong_size"}]))  # fmt: skip
    assert first.status_code == 201, first.content
    ran: str = first.json()["ran"]
    receive(station, ran, {"2": 1})
    return ran


def eligibility(api: ApiClient) -> dict[str, Any]:
    body = {k: v for k, v in request(lines=NEXT).items() if k not in {"channel", "resolution"}}
    response = api.post("/eligibility", body)
    assert response.status_code == 200, response.content
    result: dict[str, Any] = response.json()
    return result


def reasons(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["signal"]: r for r in body["risk"]["reasons"]}


def test_an_empty_box_raises_the_next_returns_risk_with_its_reason(
    api: ApiClient, station: ApiClient, order: dict[str, Any]
) -> None:
    ran = received_sock(api, station)
    before = eligibility(api)
    assert "contradicted_returns" not in reasons(before)

    found = inspect(station, ran, "2", grade="D", defects=["empty_box"]).json()
    assert found["contradictions"] == ["empty_box"]
    after = api.post("/returns", request(lines=NEXT))
    assert after.status_code == 201, after.content
    body = after.json()
    signal = reasons(body)["contradicted_returns"]
    # one contradicted return of the two that count fully, x the default weight 40
    assert Decimal(str(signal["points"])) == Decimal("20.00")
    assert signal["detail"] == (
        "1 earlier return where inspection contradicted the customer: empty_box"
    )
    score_before = Decimal(str(before["risk"]["score"]))
    assert Decimal(str(body["risk"]["score"])) == score_before + Decimal("20.00")
    # every other signal scored as before: the finding is weighed on its own
    others = {k: v["points"] for k, v in reasons(body).items() if k != "contradicted_returns"}
    assert others == {k: v["points"] for k, v in reasons(before).items()}


def test_a_clean_inspection_adds_no_risk(
    api: ApiClient, station: ApiClient, order: dict[str, Any]
) -> None:
    ran = received_sock(api, station)
    assert inspect(station, ran, "2", grade="A").json()["contradicted"] is False
    body = api.post("/returns", request(lines=NEXT)).json()
    assert "contradicted_returns" not in reasons(body)


def test_a_policy_can_weigh_it_differently_or_not_at_all(
    api: ApiClient, station: ApiClient, order: dict[str, Any]
) -> None:
    ran = received_sock(api, station)
    inspect(station, ran, "2", grade="D", defects=["empty_box"])
    document = api.get("/policy").json()["document"]
    assert document["risk_weights"]["contradicted_returns"] == 40
    document["risk_weights"]["contradicted_returns"] = 0
    assert api.put("/policy", document).status_code in (200, 201)
    off = eligibility(api)
    assert "contradicted_returns" not in reasons(off)
    document["risk_weights"]["contradicted_returns"] = 100
    assert api.put("/policy", document).status_code in (200, 201)
    heavy = eligibility(api)
    assert reasons(heavy)["contradicted_returns"]["points"] == 50
    document["risk_weights"]["contradicted_returns"] = -5
    refused = api.put("/policy", document)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "risk_weights.contradicted_returns"
