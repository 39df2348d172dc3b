"""Tenant services behind the administration pages."""

from __future__ import annotations

import pytest

from returndesk.core.actors import Actor
from returndesk.core.errors import Conflict, NotFound, ValidationFailed
from returndesk.core.models import AuditLogEntry
from returndesk.tenants.models import Membership, Merchant, User
from returndesk.tenants.services import (
    MAX_LOGO_BYTES,
    membership_grant,
    merchant_update,
    staff_add,
    staff_remove,
    staff_set_role,
    user_create,
)

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system("tests")


def as_actor(user: User) -> Actor:
    return Actor("user", user.email, user_id=user.pk)


def settings_of(merchant: Merchant, **changes: object) -> dict[str, object]:
    base: dict[str, object] = {
        "name": merchant.name,
        "support_email": merchant.support_email,
        "support_phone": merchant.support_phone,
        "locale": merchant.locale,
        "brand_color": merchant.brand_color,
        "timezone_name": merchant.timezone,
    }
    return {**base, **changes}


def test_an_unknown_locale_and_an_oversized_logo_are_refused_together(merchant: Merchant) -> None:
    with pytest.raises(ValidationFailed) as caught:
        merchant_update(
            actor=SYSTEM,
            merchant=merchant,
            logo=b"\x89PNG" + b"0" * MAX_LOGO_BYTES,
            **settings_of(merchant, locale="xx_NOPE"),  # type: ignore[arg-type]
        )
    assert {e.field for e in caught.value.errors} == {"locale", "logo"}
    merchant.refresh_from_db()
    assert merchant.locale == "en" and not merchant.logo


def test_an_update_that_changes_nothing_writes_no_audit_entry(merchant: Merchant) -> None:
    merchant_update(actor=SYSTEM, merchant=merchant, **settings_of(merchant))  # type: ignore[arg-type]
    assert not AuditLogEntry.objects.filter(action="merchant.updated").exists()


def test_a_provider_admin_may_drop_their_merchant_role_and_keeps_provider_access(
    merchant: Merchant,
) -> None:
    ops = user_create(actor=SYSTEM, email="ops@example.com", password="a-long-passphrase")
    membership_grant(actor=SYSTEM, user=ops, role="provider_admin", merchant=None)
    membership_grant(actor=SYSTEM, user=ops, role="merchant_admin", merchant=merchant)
    staff_remove(actor=as_actor(ops), merchant=merchant, email="ops@example.com")
    assert list(Membership.objects.filter(user=ops).values_list("role", flat=True)) == [
        "provider_admin"
    ]


def test_one_admin_may_demote_another_but_not_themself(merchant: Merchant) -> None:
    first, _ = staff_add(
        actor=SYSTEM,
        merchant=merchant,
        email="a@acme.example",
        role="merchant_admin",
        password="correct horse battery",
    )
    staff_add(
        actor=SYSTEM,
        merchant=merchant,
        email="b@acme.example",
        role="merchant_admin",
        password="correct horse battery",
    )
    with pytest.raises(Conflict):
        staff_set_role(actor=as_actor(first), merchant=merchant, email=first.email, role="agent")
    staff_set_role(actor=as_actor(first), merchant=merchant, email="b@acme.example", role="agent")
    assert Membership.objects.get(user__email="b@acme.example").role == "agent"


def test_roles_are_changed_only_for_this_merchants_staff(
    merchant: Merchant, other_merchant: Merchant
) -> None:
    staff_add(
        actor=SYSTEM,
        merchant=other_merchant,
        email="g@globex.example",
        role="agent",
        password="correct horse battery",
    )
    with pytest.raises(NotFound):
        staff_set_role(actor=SYSTEM, merchant=merchant, email="g@globex.example", role="finance")
    with pytest.raises(NotFound):
        staff_remove(actor=SYSTEM, merchant=merchant, email="g@globex.example")


def test_adding_someone_twice_is_a_conflict_and_a_bad_email_a_field_error(
    merchant: Merchant,
) -> None:
    staff_add(
        actor=SYSTEM,
        merchant=merchant,
        email="a@acme.example",
        role="agent",
        password="correct horse battery",
    )
    with pytest.raises(Conflict):
        staff_add(actor=SYSTEM, merchant=merchant, email="A@acme.example", role="finance")
    with pytest.raises(ValidationFailed) as caught:
        staff_add(actor=SYSTEM, merchant=merchant, email="nobody", role="owner")
    assert {e.field for e in caught.value.errors} == {"email", "role"}
    assert User.objects.count() == 1
