from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from returndesk.core.actors import Actor
from returndesk.returns.models import Return
from returndesk.tenants.models import Merchant, User
from returndesk.tenants.services import membership_grant, user_create
from tests.conftest import ApiClient
from tests.factories import money, order_body
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


def test_the_returns_list_uses_the_same_number_of_queries_for_1_and_30_returns(
    merchant: Merchant,
    api: ApiClient,
    order: dict[str, Any],  # noqa: F811
) -> None:
    client = signed_in(staff("agent@acme.example", "agent", merchant))
    body = order_body(placed_at=order["placed_at"], delivered_at=order["delivered_at"])
    body["lines"] = [{"line_id": "1", "sku": "SOCK-1", "quantity": 30, "unit_price": money(100)}]
    body["tenders"] = [{"method": "card", "amount": money(3500)}]  # with $5 shipping
    assert api.put("/orders/1002", body).status_code == 201
    sock = request(
        order_number="1002", lines=[{"line_id": "1", "quantity": 1, "reason": "wrong_size"}]
    )
    api.post("/returns", sock)
    with CaptureQueriesContext(connection) as one:
        client.get("/console/m/acme/returns/", {"reason": "wrong_size"})
    for _ in range(29):
        api.post("/returns", sock)
    with CaptureQueriesContext(connection) as thirty:
        page = client.get("/console/m/acme/returns/", {"reason": "wrong_size"})
    assert page.content.decode().count('class="ran"') == 30
    assert len(thirty) == len(one), [q["sql"] for q in thirty]


def _backdate(ran: str, when: datetime) -> None:
    Return.objects.with_scopes_disabled().filter(ran=ran.replace("-", "")).update(created_at=when)


def listed(client: Client, **params: str) -> set[str]:
    page = client.get("/console/m/acme/returns/", params)
    assert page.status_code == 200, page.content
    return set(re.findall(r'class="ran">([0-9A-Z-]+)<', page.content.decode()))


def test_the_returns_list_filters_by_status_channel_reason_and_local_date(
    merchant: Merchant,
    api: ApiClient,
    order: dict[str, Any],  # noqa: F811
) -> None:
    client = signed_in(staff("agent@acme.example", "agent", merchant))
    shoe = api.post("/returns", request()).json()["ran"]  # wrong_size, api, authorized
    phone = api.post(
        "/returns",
        request(channel="phone", lines=[{"line_id": "2", "quantity": 1, "reason": "changed_mind"}]),
    ).json()["ran"]
    final = api.post(
        "/returns", request(lines=[{"line_id": "3", "quantity": 1, "reason": "changed_mind"}])
    ).json()["ran"]  # final sale: rejected
    assert listed(client) == {shoe, phone, final}
    assert listed(client, status="rejected") == {final}
    assert listed(client, channel="phone") == {phone}
    # a rejected return keeps no lines, so no reason to match
    assert listed(client, reason="changed_mind") == {phone}
    assert listed(client, reason="changed_mind", status="authorized") == {phone}
    # 03:00 UTC on 10 March is still 9 March in New York, the merchant's zone
    _backdate(shoe, datetime(2026, 3, 10, 3, 0, tzinfo=UTC))
    _backdate(phone, datetime(2026, 3, 10, 12, 0, tzinfo=UTC))
    assert listed(client, created_to="2026-03-09") == {shoe}
    assert listed(client, created_from="2026-03-10", created_to="2026-03-10") == {phone}
    assert listed(client, created_from="2026-03-11") == {final}


def test_bad_filters_are_flagged_in_place(merchant: Merchant, pending: str) -> None:
    client = signed_in(staff("agent@acme.example", "agent", merchant))
    page = client.get(
        "/console/m/acme/returns/", {"created_from": "2026-03-10", "created_to": "2026-03-01"}
    )
    assert b'id="id_created_to-error"' in page.content and b"before the start" in page.content
    assert pending.encode() not in page.content
    nonsense = client.get("/console/m/acme/returns/", {"created_from": "yesterday"})
    assert b'id="id_created_from-error"' in nonsense.content
    assert b"Search by RAN, order number, e-mail or tracking number" in nonsense.content


def test_the_home_queues_link_to_filtered_lists(merchant: Merchant, pending: str) -> None:
    client = signed_in(staff("agent@acme.example", "agent", merchant))
    home = client.get("/console/m/acme/").content.decode()
    for label in ("Awaiting receipt", "Exceptions", "Awaiting inspection", "Refunds due"):
        assert label in home
    assert 'href="/console/m/acme/returns/?queue=pending_review"' in home
    assert 'href="/console/m/acme/returns/?queue=awaiting_receipt"' in home
    assert listed(client, status="pending_review") == {pending}
    queue = client.get("/console/m/acme/returns/", {"queue": "awaiting_receipt"})
    assert b"Returns: Awaiting receipt" in queue.content and pending.encode() not in queue.content


def test_forms_need_the_csrf_token(merchant: Merchant, pending: str) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff("agent@acme.example", "agent", merchant))
    response = client.post(f"/console/m/acme/returns/{pending}/approve/", {"reason": "x"})
    assert response.status_code == 403


def test_signing_in_is_required(merchant: Merchant) -> None:
    response = Client().get("/console/m/acme/returns/")
    assert response.status_code == 302
    assert response["Location"].startswith("/console/login/")


def test_each_role_lands_on_a_page_it_may_open(merchant: Merchant) -> None:
    agent = signed_in(staff("agent@acme.example", "agent", merchant))
    assert agent.get("/console/")["Location"] == "/console/m/acme/"
    worker = signed_in(staff("dock@acme.example", "warehouse", merchant))
    landing = worker.get("/console/")["Location"]
    assert landing == "/console/m/acme/station/"
    assert worker.get(landing).status_code == 200


def test_administration_pages_fold_into_one_menu(merchant: Merchant) -> None:
    admin = signed_in(staff("admin@acme.example", "merchant_admin", merchant)).get(
        "/console/m/acme/"
    )
    page = admin.content.decode()
    menu = page[page.index('<details class="nav-more">') : page.index("</details>")]
    assert "Policy" in menu and "Audit log" in menu and "Returns" not in menu
    agent = signed_in(staff("agent@acme.example", "agent", merchant)).get("/console/m/acme/")
    assert "nav-more" not in agent.content.decode()
