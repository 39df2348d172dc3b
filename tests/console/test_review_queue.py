"""The review queue: approve or reject with a reason, one return or several at once."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from returndesk.returns.models import Return
from returndesk.tenants.models import Merchant
from tests.conftest import ApiClient
from tests.console.test_console import signed_in, staff
from tests.returns.test_returns_api import order, request  # noqa: F401 - the order fixture

pytestmark = pytest.mark.django_db
URL = "/console/m/acme/review/"
ACT = "/console/m/acme/review/act/"


@pytest.fixture
def three_pending(api: ApiClient, order: dict[str, Any]) -> list[str]:  # noqa: F811
    document = api.get("/policy").json()["document"]
    document["auto_approval"]["max_order_value"] = 1000
    api.put("/policy", document)
    rans = []
    for line in ("1", "2", "1"):
        body = request(lines=[{"line_id": line, "quantity": 1, "reason": "wrong_size"}])
        rans.append(api.post("/returns", body).json()["ran"])
    return rans


def status(ran: str) -> str:
    return Return.objects.with_scopes_disabled().get(ran=ran.replace("-", "")).status


def test_the_queue_lists_pending_returns_with_why_they_wait(
    merchant: Merchant, three_pending: list[str]
) -> None:
    page = signed_in(staff("agent@acme.example", "agent", merchant)).get(URL)
    text = page.content.decode()
    assert page.status_code == 200
    assert all(ran in text for ran in three_pending)
    assert "above the auto-approval limit" in text
    assert "Approve selected" in text and "Reject selected" in text


def test_a_reviewer_approves_one_return_from_its_row(
    merchant: Merchant, three_pending: list[str]
) -> None:
    client = signed_in(staff("agent@acme.example", "agent", merchant))
    first = three_pending[0]
    done = client.post(
        ACT, {"row_action": f"approve:{first}", "reason": "known customer"}, follow=True
    )
    assert f"{first}: approved." in done.content.decode()
    assert [status(r) for r in three_pending] == ["authorized", "pending_review", "pending_review"]
    assert first not in done.content.decode().split("Review queue</h1>")[1]


def test_bulk_reject_reports_each_return_and_skips_none_silently(
    merchant: Merchant, api: ApiClient, three_pending: list[str]
) -> None:
    client = signed_in(staff("agent@acme.example", "agent", merchant))
    a, b, c = three_pending
    # b moves on meanwhile: someone cancels it through the API
    assert api.post(f"/returns/{b}/cancel", {"reason": "customer changed mind"}).status_code == 200
    done = client.post(
        ACT,
        {"ran": [a, b, c, "0000-0000-0000-0"], "action": "reject", "reason": "fraud pattern"},
        follow=True,
    )
    text = done.content.decode()
    assert "2 of 4 rejected." in text
    assert f"{a}: rejected." in text and f"{c}: rejected." in text
    assert f"{b}: not rejected." in text and "cancelled" in text
    assert "0000-0000-0000-0: no such return" in text
    assert [status(r) for r in three_pending] == ["rejected", "cancelled", "rejected"]


def test_a_decision_needs_a_reason_and_a_selection(
    merchant: Merchant, three_pending: list[str]
) -> None:
    client = signed_in(staff("agent@acme.example", "agent", merchant))
    no_reason = client.post(ACT, {"ran": three_pending, "action": "approve", "reason": " "})
    assert no_reason.status_code == 422 and b'id="reason-error"' in no_reason.content
    nothing = client.post(ACT, {"action": "approve", "reason": "ok"})
    assert nothing.status_code == 422 and b'id="ran-error"' in nothing.content
    assert {status(r) for r in three_pending} == {"pending_review"}


def test_only_reviewers_see_and_use_the_queue(
    merchant: Merchant, other_merchant: Merchant, three_pending: list[str]
) -> None:
    viewer = signed_in(staff("viewer@acme.example", "merchant_viewer", merchant))
    assert viewer.get(URL).status_code == 403
    body = {"ran": three_pending, "action": "approve", "reason": "x"}
    assert viewer.post(ACT, body).status_code == 403
    outsider = signed_in(staff("agent@globex.example", "agent", other_merchant))
    assert outsider.get(URL).status_code == 404
    assert outsider.post(ACT, body).status_code == 404
    assert {status(r) for r in three_pending} == {"pending_review"}
    nav = signed_in(staff("agent@acme.example", "agent", merchant)).get("/console/m/acme/")
    assert b'href="/console/m/acme/review/"' in nav.content
    assert b'href="/console/m/acme/review/"' not in viewer.get("/console/m/acme/").content


def test_the_queue_uses_the_same_number_of_queries_for_1_and_30_returns(
    merchant: Merchant,
    api: ApiClient,
    three_pending: list[str],
) -> None:
    client = signed_in(staff("agent@acme.example", "agent", merchant))
    Return.objects.with_scopes_disabled().exclude(ran=three_pending[0].replace("-", "")).delete()
    with CaptureQueriesContext(connection) as one:
        assert three_pending[0] in client.get(URL).content.decode()
    for _ in range(29):
        api.post(
            "/returns", request(lines=[{"line_id": "2", "quantity": 1, "reason": "wrong_size"}])
        )
    Return.objects.with_scopes_disabled().update(status="pending_review")
    with CaptureQueriesContext(connection) as thirty:
        page = client.get(URL).content.decode()
    assert page.count('name="ran"') == 30
    assert len(thirty) == len(one), [q["sql"] for q in thirty]
