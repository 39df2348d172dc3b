"""Refunds through the API: due timing, settling exactly once, manual refunds marked paid,
store credit issued at once, adjustments when inspection contradicts an early refund, and the
return completing when its money is settled."""

from __future__ import annotations

import json
from typing import Any

import pytest

from returndesk.core.tenancy import merchant_scope
from returndesk.notifications.models import OutboxMessage
from returndesk.refunds.execution import returns_complete_settled
from returndesk.refunds.models import Refund, RefundAttempt
from returndesk.returns.lifecycle import return_transition
from returndesk.returns.models import Return
from returndesk.tenants.models import Merchant
from tests.conftest import ACTOR, ApiClient
from tests.refunds.conftest import (
    create_return,
    dispose,
    due_at_once,
    inspect,
    receive,
    run_worker,
    set_policy,
    status_of,
)

pytestmark = pytest.mark.django_db


def problem(response: Any) -> dict[str, Any]:
    assert response["Content-Type"] == "application/problem+json", response.content
    return json.loads(response.content)


def inspect_all(station: ApiClient, ran: str, **findings: Any) -> list[dict[str, Any]]:
    done = [inspect(station, ran, "1", 1, **findings), inspect(station, ran, "1", 2)]
    done.append(inspect(station, ran, "2", 1))
    return done


def test_the_default_policy_pays_on_inspection_then_finance_marks_it_paid(
    api: ApiClient, station: ApiClient, order: dict, merchant: Merchant
) -> None:
    ret = create_return(api)
    ran = ret["ran"]
    early = api.post(f"/returns/{ran}/refunds", {})
    assert early.status_code == 409
    assert problem(early)["code"] == "not_due_yet"
    plan = api.get(f"/returns/{ran}/refunds").json()
    assert plan["timing"] == "inspection" and plan["due_now"] is False
    assert "inspection" in plan["reason"]

    receive(station, ran, {"1": 2, "2": 1})
    inspections = inspect_all(station, ran)
    assert status_of(merchant, ran) == "inspected"
    plan = api.get(f"/returns/{ran}/refunds").json()
    assert plan["due_now"] is True
    # SHOE-1 2 x 79.00 + SOCK-1 12.00 as order_body prices them, less nothing (grade A, a
    # shopper's reason with no fee in the default policy)
    due = plan["plan"]["total"]["amount"]
    assert due == sum(line["refund"]["amount"] for line in plan["plan"]["lines"])

    run_worker()  # the inspection's trigger settles what is due
    body = api.get(f"/returns/{ran}/refunds").json()
    assert body["due_now"] is False
    assert [s["total"]["amount"] for s in body["settlements"]] == [due]
    (refund,) = body["refunds"]
    # the card tender names no provider the merchant has set up: finance pays it by hand
    assert (refund["provider"], refund["status"]) == ("manual", "pending")

    again = api.post(f"/returns/{ran}/refunds", {})
    assert again.status_code == 409 and problem(again)["code"] == "nothing_due"

    missing = api.post(f"/refunds/{refund['id']}/mark-paid", {"reference": "  "})
    assert missing.status_code == 422
    paid = api.post(f"/refunds/{refund['id']}/mark-paid", {"reference": "BACS-0042"})
    assert paid.status_code == 200, paid.content
    assert paid.json()["status"] == "succeeded"
    assert paid.json()["provider_reference"] == "BACS-0042"
    with merchant_scope(merchant):
        assert OutboxMessage.objects.filter(type="refund.succeeded").count() == 1

    # dispositions, then the worker completes the return: every unit and every cent done
    assert status_of(merchant, ran) == "inspected"
    for (line, unit), found in zip([("1", 1), ("1", 2), ("2", 1)], inspections, strict=True):
        dispose(station, ran, line, unit, found["recommendation"]["recommendation"])
    assert returns_complete_settled() == 1
    assert status_of(merchant, ran) == "completed"
    shown = api.get(f"/returns/{ran}").json()
    assert [r["status"] for r in shown["refunds"]] == ["succeeded"]


def test_store_credit_is_issued_at_once_with_the_bonus(
    api: ApiClient, station: ApiClient, order: dict, merchant: Merchant
) -> None:
    document = api.get("/policy").json()["document"]
    set_policy(
        api,
        resolutions={
            **document["resolutions"],
            "store_credit": True,
            "store_credit_bonus_percent": "10",
        },
    )
    ret = create_return(api, resolution="store_credit")
    ran = ret["ran"]
    receive(station, ran, {"1": 2, "2": 1})
    inspect_all(station, ran)
    issued = api.post(f"/returns/{ran}/refunds", {})
    assert issued.status_code == 201, issued.content
    (refund,) = issued.json()["refunds"]
    assert refund["kind"] == "store_credit" and refund["status"] == "succeeded"
    total = issued.json()["settlement"]["total"]["amount"]
    assert refund["bonus"]["amount"] == total // 10
    balance = api.get("/customers/shopper@example.com/store-credit").json()
    assert json.dumps(balance).count(str(total + total // 10)) >= 1
    run_worker()  # the trigger finds it settled and pays nothing twice
    assert len(api.get(f"/returns/{ran}/refunds").json()["refunds"]) == 1


def test_an_empty_box_after_an_early_refund_opens_an_adjustment(
    api: ApiClient, station: ApiClient, order: dict, merchant: Merchant
) -> None:
    document = api.get("/policy").json()["document"]
    set_policy(
        api,
        refund_timing="authorization",
        trusted_customers={**document["trusted_customers"], "min_completed_returns": 0},
    )
    ret = create_return(api)
    ran = ret["ran"]
    assert ret["decision"]["refund_timing"] == "authorization"
    run_worker()  # due at authorization: settled before anything is shipped
    body = api.get(f"/returns/{ran}/refunds").json()
    (settlement,) = body["settlements"]
    paid = settlement["total"]["amount"]
    (refund,) = body["refunds"]
    assert api.post(f"/refunds/{refund['id']}/mark-paid", {"reference": "R1"}).status_code == 200

    receive(station, ran, {"1": 2, "2": 1})
    inspect(station, ran, "1", 1, grade="X", defects=["empty_box"], matches_description=False)
    inspect(station, ran, "1", 2)
    inspect(station, ran, "2", 1)
    run_worker()
    body = api.get(f"/returns/{ran}/refunds").json()
    (adjustment,) = body["adjustments"]
    assert adjustment["status"] == "open" and adjustment["cause"] == "inspection"
    assert 0 < adjustment["amount"]["amount"] <= paid
    assert any("empty_box" in f or "grade" in f for f in adjustment["findings"])
    listed = api.get("/adjustments", status="open").json()["data"]
    assert [a["id"] for a in listed] == [adjustment["id"]]

    bad = api.post(f"/adjustments/{adjustment['id']}/resolve", {"action": "shrug", "note": "x"})
    assert bad.status_code == 422
    done = api.post(
        f"/adjustments/{adjustment['id']}/resolve",
        {"action": "charge_back", "note": "charged the card back for the empty box"},
    )
    assert done.status_code == 200 and done.json()["status"] == "resolved"
    run_worker()
    assert len(api.get(f"/returns/{ran}/refunds").json()["adjustments"]) == 1


def test_another_merchant_sees_nothing(
    api: ApiClient, outsider_api: ApiClient, order: dict
) -> None:
    ran = create_return(api)["ran"]
    assert outsider_api.get(f"/returns/{ran}/refunds").status_code == 404
    assert outsider_api.post(f"/returns/{ran}/refunds", {}).status_code == 404


def test_a_failed_refund_is_visible_and_retried(
    api: ApiClient, station: ApiClient, order: dict, merchant: Merchant
) -> None:
    ret = create_return(api)
    ran = ret["ran"]
    receive(station, ran, {"1": 2, "2": 1})
    inspect_all(station, ran)
    run_worker()
    (refund,) = api.get(f"/returns/{ran}/refunds").json()["refunds"]
    with merchant_scope(merchant):
        row = Refund.objects.get(public_id=refund["id"])
        row.status = "failed"
        row.failure_message = "bank refused"
        row.save()
        assert not RefundAttempt.objects.exists()
    retried = api.post(f"/refunds/{refund['id']}/retry", {})
    assert retried.status_code == 200, retried.content
    assert retried.json()["status"] == "pending"
    assert api.post(f"/refunds/{refund['id']}/retry", {}).status_code == 409


def test_a_refund_in_another_currency_is_refused(api: ApiClient, order: dict) -> None:
    ran = create_return(api)["ran"]
    refused = api.post(f"/returns/{ran}/refunds", {"currency": "EUR"})
    assert refused.status_code == 422
    body = problem(refused)
    assert body["code"] == "currency_mismatch"
    assert body["errors"][0]["field"] == "currency"


def test_the_estimate_counts_the_order_discount_as_the_refund_will(
    api: ApiClient, station: ApiClient, order: dict, merchant: Merchant
) -> None:
    """A 20.00 order discount: the return's estimate is what is refunded in the end."""
    body = {**order, "order_discount_total": {"amount": 2000, "currency": "USD"}}
    body["tenders"] = [
        {"method": "card", "amount": {"amount": 19900 + 2500 - 2000, "currency": "USD"}}
    ]
    assert api.put("/orders/1001", body).status_code in (200, 201)
    ret = create_return(api)
    estimate = ret["refund_estimate"]["amount"]
    receive(station, ret["ran"], {"1": 2, "2": 1})
    inspect_all(station, ret["ran"])
    issued = api.post(f"/returns/{ret['ran']}/refunds", {})
    assert issued.status_code == 201, issued.content
    assert issued.json()["settlement"]["total"]["amount"] == estimate


def test_a_high_risk_return_waits_for_inspection_whatever_the_policy(
    api: ApiClient, order: dict, merchant: Merchant
) -> None:
    due_at_once(api)
    ran = create_return(api)["ran"]
    assert api.get(f"/returns/{ran}/refunds").json()["timing"] == "authorization"
    with merchant_scope(merchant):
        Return.objects.filter(ran=ran.replace("-", "")).update(risk_score=95)
    plan = api.get(f"/returns/{ran}/refunds").json()
    assert (plan["timing"], plan["due_now"]) == ("inspection", False)
    assert problem(api.post(f"/returns/{ran}/refunds", {}))["code"] == "not_due_yet"


@pytest.mark.parametrize("fate", ["expired", "lost"])
def test_a_return_that_never_arrives_after_an_early_refund_opens_an_adjustment(
    api: ApiClient, order: dict, merchant: Merchant, fate: str
) -> None:
    due_at_once(api)
    ran = create_return(api)["ran"]
    run_worker()
    (refund,) = api.get(f"/returns/{ran}/refunds").json()["refunds"]
    assert api.post(f"/refunds/{refund['id']}/mark-paid", {"reference": "R9"}).status_code == 200
    with merchant_scope(merchant):
        ret = Return.objects.select_related("order").get(ran=ran.replace("-", ""))
        if fate == "lost":
            return_transition(ret=ret, to_status="in_transit", actor=ACTOR)
        return_transition(ret=ret, to_status=fate, actor=ACTOR, reason="never came")
    run_worker()
    (adjustment,) = api.get(f"/returns/{ran}/refunds").json()["adjustments"]
    assert (adjustment["cause"], adjustment["status"]) == (fate, "open")
    assert adjustment["amount"] == refund["amount"]
    with merchant_scope(merchant):
        assert OutboxMessage.objects.filter(type="adjustment.opened").count() == 1
