"""The audit log page: staff and configuration actions, scoped to the merchant, filterable,
paginated with a fixed number of queries."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from returndesk.core.actors import Actor
from returndesk.core.audit import audit_record
from returndesk.tenants.models import Merchant, User
from returndesk.tenants.services import membership_grant, user_create
from tests.conftest import ApiClient

pytestmark = pytest.mark.django_db
ACTOR = Actor.system("tests")
URL = "/console/m/acme/audit/"


def staff(email: str, role: str, merchant: Merchant | None) -> User:
    user = user_create(actor=ACTOR, email=email, password="a-long-passphrase")
    membership_grant(actor=ACTOR, user=user, role=role, merchant=merchant)
    return user


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def admin(merchant: Merchant) -> Client:
    return signed_in(staff("admin@acme.example", "merchant_admin", merchant))


def rows(page: bytes) -> int:
    return page.decode().count("<tr>\n      <td><time")


def test_staff_actions_done_in_the_console_show_in_the_log(
    merchant: Merchant, admin: Client
) -> None:
    admin.post("/console/m/acme/admin/api-keys/", {"name": "Shop sync"})
    admin.post(
        "/console/m/acme/admin/users/",
        {"email": "new@acme.example", "role": "agent", "password": "correct horse battery"},
    )
    admin.post(
        "/console/m/acme/admin/users/role/", {"email": "new@acme.example", "role": "finance"}
    )
    page = admin.get(URL).content.decode()
    for action in ("apikey.created", "user.created", "membership.granted", "membership.changed"):
        assert action in page, action
    assert "admin@acme.example" in page
    assert "agent \u2192 finance" in page  # before and after


def test_policy_publishing_is_in_the_log(merchant: Merchant, admin: Client, api: ApiClient) -> None:
    document = api.get("/policy").json()["document"]
    document["auto_approval"]["max_order_value"] = 1000
    assert api.put("/policy", document).status_code == 201
    page = admin.get(URL, {"action": "policy.published"}).content.decode()
    assert "policy.published" in page and "api key test" in page


def test_a_merchant_sees_only_its_own_entries(
    merchant: Merchant, other_merchant: Merchant, admin: Client
) -> None:
    audit_record(
        actor=ACTOR,
        action="apikey.created",
        object_type="api_key",
        object_ref="key_globex1",
        merchant_id=other_merchant.pk,
    )
    audit_record(actor=ACTOR, action="facility.created", object_type="facility", object_ref="NWK1")
    page = admin.get(URL).content.decode()
    assert "key_globex1" not in page and "NWK1" not in page
    ops = signed_in(staff("ops@provider.example", "provider_admin", None))
    page = ops.get(URL).content.decode()
    assert "NWK1" in page  # the provider's own entries, for provider staff
    assert "key_globex1" not in page  # another merchant's stay in that merchant's log


def test_the_log_filters_by_actor_and_action(merchant: Merchant, admin: Client) -> None:
    alice = Actor("user", "alice@acme.example")
    bob = Actor("user", "bob@acme.example")
    for actor, action in (
        (alice, "apikey.created"),
        (alice, "apikey.revoked"),
        (bob, "apikey.created"),
    ):
        audit_record(
            actor=actor,
            action=action,
            object_type="api_key",
            object_ref="key_x",
            merchant_id=merchant.pk,
        )
    by_alice = admin.get(URL, {"actor": "alice"}).content
    assert rows(by_alice) == 2 and b"bob@acme.example</td>" not in by_alice
    created_by_alice = admin.get(URL, {"actor": "ALICE", "action": "apikey.created"}).content
    assert rows(created_by_alice) == 1
    unknown_action = admin.get(URL, {"action": "drop table"})
    assert unknown_action.status_code == 200  # an action that never occurs is ignored


def test_the_log_pages_with_a_fixed_number_of_queries(merchant: Merchant, admin: Client) -> None:
    def add(n: int) -> None:
        for i in range(n):
            audit_record(
                actor=Actor("user", f"user{i}@acme.example"),
                action=f"test.action{i % 7}",
                object_type="thing",
                object_ref=f"t{i}",
                merchant_id=merchant.pk,
                changes={"name": {"from": "a", "to": "b"}},
            )

    add(3)
    with CaptureQueriesContext(connection) as few:
        assert admin.get(URL).status_code == 200
    add(130)
    with CaptureQueriesContext(connection) as many:
        first = admin.get(URL)
    assert len(many) == len(few)
    assert rows(first.content) == 50 and b"Page 1 of 3" in first.content
    last = admin.get(URL, {"page": "3", "action": "test.action1"})
    assert rows(last.content) == 20  # 1 of the first 3, 19 of the next 130; one page
    assert admin.get(URL, {"page": "999"}).status_code == 200  # past the end: the last page


def test_viewing_the_log_needs_its_permission(merchant: Merchant) -> None:
    agent = signed_in(staff("agent@acme.example", "agent", merchant))
    assert agent.get(URL).status_code == 403
    assert agent.post(URL).status_code == 403
