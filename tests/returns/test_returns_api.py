from __future__ import annotations

import json
import re
import threading
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from returndesk.core.codes import format_ran, generate_ran
from returndesk.notifications.models import OutboxMessage
from returndesk.returns.models import Return
from returndesk.returns.services import returns_expire_due
from tests.conftest import ApiClient
from tests.factories import money, order_body, product_body

pytestmark = pytest.mark.django_db
RAN_FORMAT = re.compile(
    r"^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]$"
)


def recent(days: int = 5) -> str:
    return (timezone.now() - timedelta(days=days)).isoformat()


@pytest.fixture
def order(api: ApiClient) -> dict[str, Any]:
    assert api.put("/products/SHOE-1", product_body()).status_code == 201
    assert (
        api.put("/products/SOCK-1", product_body(name="Sock", price=money(1200))).status_code == 201
    )
    assert (
        api.put("/products/GIFT-1", product_body(name="Gift card", final_sale=True)).status_code
        == 201
    )
    body = order_body(placed_at=recent(6), delivered_at=recent(4))
    body["lines"].append(
        {"line_id": "3", "sku": "GIFT-1", "quantity": 1, "unit_price": money(2500)}
    )
    body["tenders"] = [{"method": "card", "amount": money(19900 + 2500)}]
    assert api.put("/orders/1001", body).status_code == 201
    return body


def request(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "order_number": "1001",
        "email": "shopper@example.com",
        "channel": "api",
        "resolution": "refund",
        "lines": [{"line_id": "1", "quantity": 1, "reason": "wrong_size"}],
    }
    body.update(overrides)
    return body


def problem(response: Any) -> dict[str, Any]:
    assert response["Content-Type"] == "application/problem+json", response.content
    return json.loads(response.content)


def test_it_authorizes_an_eligible_return_with_a_ran(api: ApiClient, order: dict) -> None:
    response = api.post("/returns", request())
    assert response.status_code == 201, response.content
    ret = response.json()
    assert ret["status"] == "authorized"
    assert RAN_FORMAT.match(ret["ran"])
    assert ret["policy_version"] == 1
    assert [line["line_id"] for line in ret["lines"]] == ["1"]
    assert ret["expires_at"] is not None
    events = api.get(f"/returns/{ret['ran']}/events").json()["data"]
    assert [e["type"] for e in events] == ["return.created", "return.authorized"]
    outbox = OutboxMessage.objects.with_scopes_disabled().order_by("id")
    types = list(outbox.values_list("type", flat=True))
    assert types == ["return.created", "return.authorized"]


def test_an_unknown_order_and_a_wrong_email_answer_the_same(api: ApiClient, order: dict) -> None:
    unknown = api.post("/returns", request(order_number="9999"))
    wrong = api.post("/returns", request(email="someone@else.com"))
    assert unknown.status_code == wrong.status_code == 404
    assert problem(unknown) == problem(wrong)
    assert problem(unknown)["code"] == "order_not_found"


@pytest.mark.parametrize(
    ("lines", "resolution", "field"),
    [
        ([{"line_id": "77", "quantity": 1, "reason": "wrong_size"}], "refund", "lines[0].line_id"),
        ([{"line_id": "1", "quantity": 0, "reason": "wrong_size"}], "refund", "lines[0].quantity"),
        ([{"line_id": "1", "quantity": 1, "reason": "bored"}], "refund", "lines[0].reason"),
        ([{"line_id": "1", "quantity": 1, "reason": "wrong_size"}], "exchange", "resolution"),
    ],
)
def test_malformed_requests_are_422_naming_the_field(
    api: ApiClient, order: dict, lines: list, resolution: str, field: str
) -> None:
    response = api.post("/returns", request(lines=lines, resolution=resolution))
    assert response.status_code == 422
    assert field in [e["field"] for e in problem(response)["errors"]]
    assert not Return.objects.with_scopes_disabled().exists()


def test_ineligible_lines_are_listed_and_left_out(api: ApiClient, order: dict) -> None:
    lines = [
        {"line_id": "1", "quantity": 1, "reason": "wrong_size"},
        {"line_id": "3", "quantity": 1, "reason": "changed_mind"},
    ]
    ret = api.post("/returns", request(lines=lines)).json()
    assert ret["status"] == "authorized"
    assert [line["line_id"] for line in ret["lines"]] == ["1"]
    verdicts = {v["line_id"]: v for v in ret["decision"]["verdicts"]}
    assert verdicts["3"]["eligible"] is False
    assert "Final sale" in verdicts["3"]["clauses"][0]["shopper_message"]


def test_nothing_eligible_is_rejected_and_still_has_a_ran(api: ApiClient, order: dict) -> None:
    only_final_sale = [{"line_id": "3", "quantity": 1, "reason": "changed_mind"}]
    ret = api.post("/returns", request(lines=only_final_sale)).json()
    assert ret["status"] == "rejected"
    assert RAN_FORMAT.match(ret["ran"])
    assert ret["lines"] == []


def test_no_more_than_bought_minus_returned(api: ApiClient, order: dict) -> None:
    first = api.post(
        "/returns", request(lines=[{"line_id": "1", "quantity": 1, "reason": "wrong_size"}])
    )
    assert first.json()["lines"][0]["quantity"] == 1
    second = api.post(
        "/returns", request(lines=[{"line_id": "1", "quantity": 2, "reason": "wrong_size"}])
    )
    assert second.json()["lines"][0]["quantity"] == 1  # 2 bought, 1 already requested
    third = api.post(
        "/returns", request(lines=[{"line_id": "1", "quantity": 1, "reason": "wrong_size"}])
    )
    assert third.json()["status"] == "rejected"
    # a cancelled return gives its units back
    api.post(f"/returns/{first.json()['ran']}/cancel", {"reason": "customer kept it"})
    fourth = api.post(
        "/returns", request(lines=[{"line_id": "1", "quantity": 1, "reason": "wrong_size"}])
    )
    assert fourth.json()["status"] == "authorized"


def test_eligibility_writes_nothing(api: ApiClient, order: dict) -> None:
    body = {"order_number": "1001", "email": "shopper@example.com", "lines": request()["lines"]}
    response = api.post("/eligibility", body)
    assert response.status_code == 200, response.content
    assert response.json()["decision"]["outcome"] == "authorized"
    assert response.json()["decision"]["refund_estimate"] > 0
    assert not Return.objects.with_scopes_disabled().exists()


def test_review_then_approve_with_a_reason(api: ApiClient, order: dict) -> None:
    policy = api.get("/policy").json()["document"]
    policy["auto_approval"]["max_order_value"] = 1000
    assert api.put("/policy", policy).status_code == 201
    ret = api.post("/returns", request()).json()
    assert ret["status"] == "pending_review"
    assert ret["policy_version"] == 2
    assert api.post(f"/returns/{ret['ran']}/approve", {}).status_code == 422  # reason needed
    approved = api.post(f"/returns/{ret['ran']}/approve", {"reason": "regular customer"})
    assert approved.status_code == 200
    assert approved.json()["status"] == "authorized"
    again = api.post(f"/returns/{ret['ran']}/approve", {"reason": "twice"})
    assert again.status_code == 409
    assert problem(again)["code"] == "invalid_transition"
    events = api.get(f"/returns/{ret['ran']}/events").json()["data"]
    assert events[-1]["reason"] == "regular customer"


def test_policies_are_versioned_and_validated(api: ApiClient, order: dict) -> None:
    current = api.get("/policy").json()
    assert current["version"] == 1 and current["document"]["window_days"] == 30
    bad = api.put("/policy", {**current["document"], "window_days": -3})
    assert bad.status_code == 422
    assert problem(bad)["errors"][0]["field"] == "window_days"
    unknown = api.put("/policy", {**current["document"], "windw_days": 10})
    assert unknown.status_code == 422
    assert api.put("/policy", {**current["document"], "window_days": 60}).status_code == 201
    assert api.get("/policy").json()["version"] == 2
    assert api.get("/policy/versions/1").json()["document"]["window_days"] == 30
    assert api.get("/policy/versions/9").status_code == 404


def test_rans_are_read_the_way_people_type_them(api: ApiClient, order: dict) -> None:
    ran = api.post("/returns", request()).json()["ran"]
    loose = ran.replace("-", " ").lower()
    assert api.get(f"/returns/{loose}").json()["ran"] == ran
    plain = ran.replace("-", "")
    last = plain[-1]
    typo = plain[:-1] + ("0" if last != "0" else "1")
    mistyped = api.get(f"/returns/{typo}")
    assert mistyped.status_code == 422
    assert problem(mistyped)["code"] == "ran_invalid"
    unknown = api.get(f"/returns/{format_ran(generate_ran())}")
    assert unknown.status_code == 404


def test_another_merchant_sees_no_return(
    api: ApiClient, outsider_api: ApiClient, order: dict
) -> None:
    ran = api.post("/returns", request()).json()["ran"]
    for path in (f"/returns/{ran}", f"/returns/{ran}/events"):
        assert outsider_api.get(path).status_code == 404
    for action in ("approve", "reject", "cancel", "reopen", "mark-lost"):
        response = outsider_api.post(f"/returns/{ran}/{action}", {"reason": "x"})
        assert response.status_code == 404, action
    assert outsider_api.get("/returns").json()["data"] == []
    assert outsider_api.post("/returns", request()).status_code == 404
    body = {"order_number": "1001", "email": "shopper@example.com", "lines": request()["lines"]}
    assert outsider_api.post("/eligibility", body).status_code == 404
    assert api.get(f"/returns/{ran}").json()["status"] == "authorized"


def test_a_provider_key_may_not_create_returns(provider_api: ApiClient, order: dict) -> None:
    assert provider_api.post("/returns", request()).status_code == 403


def test_the_same_idempotency_key_creates_one_return(api: ApiClient, order: dict) -> None:
    headers = {"Idempotency-Key": "call-42"}
    first = api.post("/returns", request(), headers=headers)
    second = api.post("/returns", request(), headers=headers)
    assert first.content == second.content
    assert Return.objects.with_scopes_disabled().count() == 1


def test_gift_returns_use_the_postal_code_and_give_store_credit(
    api: ApiClient, order: dict
) -> None:
    gift = {"postal_code": "62 701", "recipient_email": "Friend@Example.com"}
    body = request(email="", gift=gift, resolution="store_credit")
    response = api.post("/returns", body)
    assert response.status_code == 201, response.content
    assert response.json()["gift"] is True
    assert response.json()["resolution"] == "store_credit"
    wrong = api.post(
        "/returns",
        request(email="", gift={**gift, "postal_code": "10001"}, resolution="store_credit"),
    )
    assert problem(wrong)["code"] == "order_not_found"
    refund = api.post("/returns", request(email="", gift=gift, resolution="refund"))
    assert refund.status_code == 422


def test_unshipped_returns_expire_and_can_be_reopened(api: ApiClient, order: dict) -> None:
    ran = api.post("/returns", request()).json()["ran"]
    assert returns_expire_due(now=timezone.now() + timedelta(days=13)) == 0
    assert returns_expire_due(now=timezone.now() + timedelta(days=15)) == 1
    assert api.get(f"/returns/{ran}").json()["status"] == "expired"
    reopened = api.post(f"/returns/{ran}/reopen", {"reason": "parcel was at the post office"})
    assert reopened.json()["status"] == "authorized"


def test_return_lists_filter_and_page(api: ApiClient, order: dict) -> None:
    for _ in range(3):
        api.post(
            "/returns", request(lines=[{"line_id": "2", "quantity": 1, "reason": "wrong_size"}])
        )
    page = api.get("/returns", limit=2).json()
    assert len(page["data"]) == 2 and page["next_cursor"]
    rest = api.get("/returns", limit=2, cursor=page["next_cursor"]).json()
    assert len(rest["data"]) == 1
    assert len(api.get("/returns", status="rejected").json()["data"]) == 2


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_requests_racing_for_the_last_unit_authorize_one(api: ApiClient, order: dict) -> None:
    body = request(lines=[{"line_id": "2", "quantity": 1, "reason": "wrong_size"}])
    statuses: list[str] = []
    barrier = threading.Barrier(4)

    def create() -> None:
        barrier.wait()
        try:
            statuses.append(api.post("/returns", body).json()["status"])
        finally:
            connection.close()

    threads = [threading.Thread(target=create) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == ["authorized", "rejected", "rejected", "rejected"]


def test_the_order_shows_what_is_requested_and_returned(api: ApiClient, order: dict) -> None:
    ran = api.post("/returns", request()).json()["ran"]
    lines = {line["line_id"]: line for line in api.get("/orders/1001").json()["lines"]}
    assert (lines["1"]["requested_quantity"], lines["1"]["returned_quantity"]) == (1, 0)
    assert (lines["2"]["requested_quantity"], lines["2"]["returned_quantity"]) == (0, 0)
    api.post(f"/returns/{ran}/cancel", {"reason": "kept it"})
    lines = {line["line_id"]: line for line in api.get("/orders/1001").json()["lines"]}
    assert lines["1"]["requested_quantity"] == 0
