from __future__ import annotations

import pytest
from django.test import Client

from returndesk.core.actors import Actor
from returndesk.tenants import permissions as perm
from returndesk.tenants.selectors import user_permissions
from returndesk.tenants.services import membership_grant, user_create

ACTOR = Actor.system("tests")
pytestmark = pytest.mark.django_db


def test_roles_grant_named_permissions_per_merchant(merchant, other_merchant) -> None:  # type: ignore[no-untyped-def]
    agent = user_create(actor=ACTOR, email="Agent@Example.com", password="a-long-passphrase")
    assert agent.email == "agent@example.com"
    membership_grant(actor=ACTOR, user=agent, role="agent", merchant=merchant)
    assert perm.RETURNS_REVIEW in user_permissions(agent, merchant)
    assert perm.POLICY_MANAGE not in user_permissions(agent, merchant)
    assert user_permissions(agent, other_merchant) == frozenset()
    ops = user_create(actor=ACTOR, email="ops@example.com", password="a-long-passphrase")
    membership_grant(actor=ACTOR, user=ops, role="provider_admin", merchant=None)
    assert perm.PROVIDER_BILLING in user_permissions(ops, other_merchant)


def test_passwords_are_hashed_with_argon2() -> None:
    user = user_create(actor=ACTOR, email="a@example.com", password="a-long-passphrase")
    assert user.password.startswith("argon2")


def test_django_admin_is_for_superusers_only() -> None:
    staff = user_create(actor=ACTOR, email="staff@example.com", password="a-long-passphrase")
    staff.is_staff = True
    staff.save()
    client = Client()
    client.force_login(staff)
    assert client.get("/admin/").status_code == 302  # back to the login page
    root = user_create(
        actor=ACTOR, email="root@example.com", password="a-long-passphrase", is_superuser=True
    )
    client.force_login(root)
    assert client.get("/admin/").status_code == 200
