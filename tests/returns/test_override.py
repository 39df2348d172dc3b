"""An agent overrides the policy's verdict with a reason; the override is recorded."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from returndesk.core.actors import Actor
from returndesk.core.errors import PermissionDenied, ValidationFailed
from returndesk.core.tenancy import merchant_scope
from returndesk.returns.inputs import ReturnInput, ReturnLineInput
from returndesk.returns.models import Return, ReturnEvent
from returndesk.returns.services import return_create
from returndesk.tenants import permissions as perm
from returndesk.tenants.models import Merchant
from tests.conftest import ApiClient
from tests.factories import money, order_body
from tests.returns.test_returns_api import order  # noqa: F401 - the order fixture

pytestmark = pytest.mark.django_db
AGENT = Actor("user", "agent@acme.example", permissions=perm.AGENT)
CREATOR = Actor("user", "creator@acme.example", permissions=frozenset({perm.RETURNS_CREATE}))


def phone_return(*lines: tuple[str, int], order_number: str = "1001") -> ReturnInput:
    return ReturnInput(
        order_number=order_number,
        email="shopper@example.com",
        channel="phone",
        resolution="refund",
        lines=tuple(
            ReturnLineInput(line_id=lid, quantity=qty, reason="changed_mind") for lid, qty in lines
        ),
        note="customer called",
    )


def create(merchant: Merchant, data: ReturnInput, **kw: Any) -> Return:
    with merchant_scope(merchant):
        return return_create(actor=kw.pop("actor", AGENT), merchant=merchant, data=data, **kw)


def count_returns() -> int:
    return Return.objects.with_scopes_disabled().count()


def test_without_an_override_a_final_sale_item_is_rejected(
    merchant: Merchant,
    order: dict,  # noqa: F811
) -> None:
    ret = create(merchant, phone_return(("3", 1)))
    assert ret.status == "rejected"
    assert "override" not in ret.decision


def test_an_override_authorizes_a_final_sale_item_and_records_who_why_and_the_policy(
    merchant: Merchant,
    order: dict,  # noqa: F811
) -> None:
    ret = create(merchant, phone_return(("3", 1)), override_reason=" goodwill: long-time customer ")
    assert ret.status == "authorized"
    with merchant_scope(merchant):
        lines = list(ret.lines.all())
        events = list(ReturnEvent.objects.filter(return_request=ret).order_by("id"))
    assert [(line.sku, line.quantity, line.value_amount) for line in lines] == [("GIFT-1", 1, 2500)]
    assert ret.refund_estimate_amount == 2500
    override = ret.decision["override"]
    assert override["by"] == "agent@acme.example"
    assert override["reason"] == "goodwill: long-time customer"
    assert override["policy_outcome"] == "rejected"
    assert override["lines"] == [{"line_id": "3", "policy_allowed": 0, "allowed": 1}]
    assert override["policy_decision"]["verdicts"][0]["eligible"] is False
    codes = [c["code"] for c in ret.decision["verdicts"][0]["clauses"]]
    assert codes == ["final_sale", "overridden"]  # the policy's own reason stays visible
    assert [e.type for e in events] == [
        "return.created",
        "return.policy_overridden",
        "return.authorized",
    ]
    assert events[1].actor_label == "agent@acme.example"
    assert events[1].reason == "goodwill: long-time customer"
    assert events[1].payload["policy_outcome"] == "rejected"
    assert events[2].reason == "policy overridden: goodwill: long-time customer"


def test_an_override_authorizes_a_return_after_the_window_ended(
    merchant: Merchant,
    api: ApiClient,
    order: dict,  # noqa: F811
) -> None:
    old = (timezone.now() - timedelta(days=200)).isoformat()
    body = order_body(placed_at=old, delivered_at=old)
    body["tenders"] = [{"method": "card", "amount": money(19900)}]
    assert api.put("/orders/1002", body).status_code == 201
    refused = create(merchant, phone_return(("2", 1), order_number="1002"))
    assert refused.status == "rejected"
    ret = create(
        merchant,
        phone_return(("2", 1), order_number="1002"),
        override_reason="courier lost the first parcel",
    )
    assert ret.status == "authorized"
    assert [c["code"] for c in ret.decision["verdicts"][0]["clauses"]][-2:] == [
        "window_expired",
        "overridden",
    ]


def test_an_override_approves_what_the_policy_sends_to_review(
    merchant: Merchant,
    api: ApiClient,
    order: dict,  # noqa: F811
) -> None:
    document = api.get("/policy").json()["document"]
    document["auto_approval"]["max_order_value"] = 1000
    api.put("/policy", document)
    assert create(merchant, phone_return(("2", 1))).status == "pending_review"
    ret = create(merchant, phone_return(("1", 1)), override_reason="manager approved on the call")
    assert ret.status == "authorized"
    assert ret.decision["override"]["policy_outcome"] == "pending_review"
    assert ret.decision["override"]["policy_decision"]["review_clauses"][0]["code"] == (
        "order_value_limit"
    )
    assert ret.decision["review_clauses"] == []


def test_an_override_never_returns_more_units_than_remain(
    merchant: Merchant,
    order: dict,  # noqa: F811
) -> None:
    create(merchant, phone_return(("2", 1)))  # the only sock
    ret = create(merchant, phone_return(("2", 1)), override_reason="try anyway")
    assert ret.status == "rejected"
    assert "override" not in ret.decision


def test_nothing_to_override_leaves_the_policys_decision(
    merchant: Merchant,
    order: dict,  # noqa: F811
) -> None:
    ret = create(merchant, phone_return(("1", 1)), override_reason="just in case")
    assert ret.status == "authorized"
    assert "override" not in ret.decision
    with merchant_scope(merchant):
        types = list(ReturnEvent.objects.filter(return_request=ret).values_list("type", flat=True))
    assert "return.policy_overridden" not in types


def test_an_actor_without_the_override_permission_may_not_override(
    merchant: Merchant,
    order: dict,  # noqa: F811
) -> None:
    with pytest.raises(PermissionDenied):
        create(merchant, phone_return(("3", 1)), actor=CREATOR, override_reason="please")
    assert count_returns() == 0
    # the same actor may still submit what the policy allows
    assert create(merchant, phone_return(("1", 1)), actor=CREATOR).status == "authorized"


def test_an_override_needs_a_reason_and_writes_nothing_without_one(
    merchant: Merchant,
    order: dict,  # noqa: F811
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        create(merchant, phone_return(("3", 1)), override_reason="   ")
    assert caught.value.errors[0].field == "override_reason"
    assert count_returns() == 0
