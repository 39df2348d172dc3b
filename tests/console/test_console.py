from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from returndesk.core.actors import Actor
from returndesk.tenants.models import Merchant, User
from returndesk.tenants.services import membership_grant, user_create
from tests.conftest import ApiClient
from tests.returns.test_returns_api import order, request  # noqa: F401 - the order fixture

pytestmark = pytest.mark.django_db
ACTOR = Actor.system("tests")
PASSWORD = "a-long-passphrase"


def staff(email: str, role: str, merchant: Merchant | None) -> User:
    user = user_create(actor=ACTOR, email=email, password=PASSWORD)
    membership_grant(actor=ACTOR, user=user, role=role, merchant=merchant)
    return user


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def pending(api: ApiClient, order: dict[str, Any]) -> str:  # noqa: F811
    document = api.get("/policy").json()["document"]
    document["auto_approval"]["max_order_value"] = 1000
    api.put("/policy", document)
    return api.post("/returns", request()).json()["ran"]


def test_a_staff_member_signs_in_with_email_and_password(merchant: Merchant) -> None:
    staff("agent@acme.example", "agent", merchant)
    client = Client()
    page = client.get("/console/login/")
    assert page.status_code == 200 and b"Sign in" in page.content
    wrong = client.post("/console/login/", {"username": "agent@acme.example", "password": "x"})
    assert b"do not match" in wrong.content
    right = client.post("/console/login/", {"username": "agent@acme.example", "password": PASSWORD})
    assert right.status_code == 302
    assert client.get("/console/", follow=True).redirect_chain[-1][0] == "/console/m/acme/"


def test_the_home_page_counts_the_queues(merchant: Merchant, pending: str) -> None:
    page = signed_in(staff("agent@acme.example", "agent", merchant)).get("/console/m/acme/")
    assert page.status_code == 200
    text = page.content.decode()
    assert '<span class="count">1</span> Pending review' in text


def test_an_agent_approves_a_return_with_a_reason(
    merchant: Merchant, api: ApiClient, pending: str
) -> None:
    client = signed_in(staff("agent@acme.example", "agent", merchant))
    detail = client.get(f"/console/m/acme/returns/{pending}/")
    assert b"Approve" in detail.content and b"Why it is in review" in detail.content
    # money as the locale writes it: 89.00, less half the line discount, plus half its tax
    assert b"$91.00" in detail.content
    refused = client.post(
        f"/console/m/acme/returns/{pending}/approve/", {"reason": ""}, follow=True
    )
    assert b"say why" in refused.content
    assert api.get(f"/returns/{pending}").json()["status"] == "pending_review"
    client.post(f"/console/m/acme/returns/{pending}/approve/", {"reason": "known customer"})
    ret = api.get(f"/returns/{pending}").json()
    assert ret["status"] == "authorized"
    events = api.get(f"/returns/{pending}/events").json()["data"]
    assert events[-1]["actor"] == "agent@acme.example"
    assert events[-1]["reason"] == "known customer"


def test_a_viewer_sees_no_actions_and_may_not_post_them(merchant: Merchant, pending: str) -> None:
    client = signed_in(staff("viewer@acme.example", "merchant_viewer", merchant))
    detail = client.get(f"/console/m/acme/returns/{pending}/")
    assert detail.status_code == 200 and b"Approve" not in detail.content
    response = client.post(f"/console/m/acme/returns/{pending}/approve/", {"reason": "x"})
    assert response.status_code == 403


def test_search_flags_a_mistyped_ran(merchant: Merchant, pending: str) -> None:
    client = signed_in(staff("agent@acme.example", "agent", merchant))
    plain = pending.replace("-", "")
    typo = plain[:-1] + ("0" if plain[-1] != "0" else "1")
    page = client.get("/console/m/acme/returns/", {"q": typo})
    assert b"mistyped" in page.content
    found = client.get("/console/m/acme/returns/", {"q": pending.lower()})
    assert pending.encode() in found.content
    by_order = client.get("/console/m/acme/returns/", {"q": "1001"})
    assert pending.encode() in by_order.content
    partial = client.get("/console/m/acme/returns/", {"q": "1001"}, headers={"HX-Request": "true"})
    assert b"<html" not in partial.content and pending.encode() in partial.content


def test_another_merchants_staff_get_404_everywhere(
    merchant: Merchant, other_merchant: Merchant, pending: str
) -> None:
    client = signed_in(staff("agent@globex.example", "agent", other_merchant))
    for url in (
        "/console/m/acme/",
        "/console/m/acme/returns/",
        f"/console/m/acme/returns/{pending}/",
    ):
        assert client.get(url).status_code == 404, url
    assert (
        client.post(f"/console/m/acme/returns/{pending}/approve/", {"reason": "x"}).status_code
        == 404
    )


def test_the_returns_list_uses_a_fixed_number_of_queries(
    merchant: Merchant,
    api: ApiClient,
    order: dict[str, Any],  # noqa: F811
    django_assert_max_num_queries,  # type: ignore[no-untyped-def]
) -> None:
    client = signed_in(staff("agent@acme.example", "agent", merchant))
    for _ in range(3):
        api.post(
            "/returns", request(lines=[{"line_id": "2", "quantity": 1, "reason": "wrong_size"}])
        )
    # session, user, memberships, merchants, returns (+ orders), lines: at any list length
    with django_assert_max_num_queries(12):
        client.get("/console/m/acme/returns/")
    for _ in range(10):
        api.post(
            "/returns", request(lines=[{"line_id": "2", "quantity": 1, "reason": "wrong_size"}])
        )
    with django_assert_max_num_queries(12):
        client.get("/console/m/acme/returns/")


def test_forms_need_the_csrf_token(merchant: Merchant, pending: str) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff("agent@acme.example", "agent", merchant))
    response = client.post(f"/console/m/acme/returns/{pending}/approve/", {"reason": "x"})
    assert response.status_code == 403


def test_signing_in_is_required(merchant: Merchant) -> None:
    response = Client().get("/console/m/acme/returns/")
    assert response.status_code == 302
    assert response["Location"].startswith("/console/login/")
