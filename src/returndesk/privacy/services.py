"""Exporting and erasing one customer's personal data at one merchant.

The apps each know what they hold (`<app>/privacy.py`: `export(subject)` and `erase(subject)`);
this service, above every one of them in the layers, finds the person once (their orders by
e-mail, then their returns), then asks each app in turn, top of the layers first, inside one
transaction. Erasure anonymizes and never deletes a financial record; erasing twice is harmless
(the second finds nothing left to change). Both are in the audit log under the placeholder,
never the e-mail, so the log of a request outlives the erasure it led to.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any, Protocol

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from returndesk.catalog import privacy as catalog_privacy
from returndesk.catalog.services import normalize_email
from returndesk.core import privacy as core_privacy
from returndesk.core.actors import Actor
from returndesk.core.audit import audit_record
from returndesk.core.errors import ValidationFailed
from returndesk.core.privacy import Subject, erased_email
from returndesk.core.tenancy import merchant_scope
from returndesk.credit import privacy as credit_privacy
from returndesk.integrations import privacy as integrations_privacy
from returndesk.notifications import privacy as notifications_privacy
from returndesk.policies import privacy as policies_privacy
from returndesk.refunds import privacy as refunds_privacy
from returndesk.returns import privacy as returns_privacy
from returndesk.shipping import privacy as shipping_privacy
from returndesk.tenants.models import Merchant
from returndesk.warehouse import privacy as warehouse_privacy


class PrivacyModule(Protocol):
    def export(self, subject: Subject) -> dict[str, Any]: ...

    def erase(self, subject: Subject) -> dict[str, int]: ...


# Top of the layers first: an app erases while the rows it reads through (returns, orders)
# still look as they did. Analytics and operations hold figures and no personal data.
MODULES: tuple[PrivacyModule, ...] = (
    refunds_privacy,
    warehouse_privacy,
    shipping_privacy,
    returns_privacy,
    credit_privacy,
    integrations_privacy,
    policies_privacy,
    notifications_privacy,
    catalog_privacy,
    core_privacy,
)


def _email(raw: str) -> str:
    email = normalize_email(raw)
    try:
        validate_email(email)
    except DjangoValidationError:
        raise ValidationFailed.on("email", "is not a valid e-mail address") from None
    return email


def customer_subject(*, merchant: Merchant, email: str) -> Subject:
    """Whom the request is about: call inside the merchant's scope."""
    email = _email(email)
    subject = Subject(
        merchant_id=merchant.pk, email=email, placeholder=erased_email(merchant.pk, email)
    )
    orders = catalog_privacy.orders_of(merchant_id=merchant.pk, email=email)
    subject = replace(
        subject,
        order_ids=frozenset(orders.values_list("pk", flat=True)),
        order_numbers=frozenset(orders.values_list("order_number", flat=True)),
    )
    returns = returns_privacy.returns_of(
        merchant_id=merchant.pk, email=email, order_ids=subject.order_ids
    )
    subject = replace(
        subject,
        return_ids=frozenset(returns.values_list("pk", flat=True)),
        rans=frozenset(returns.values_list("ran", flat=True)),
    )
    texts = catalog_privacy.personal_texts(merchant_id=merchant.pk, email=email)
    return replace(subject, texts=texts | returns_privacy.personal_texts(subject.return_ids))


def _across_apps(
    *,
    merchant: Merchant,
    email: str,
    actor: Actor,
    action: str,
    step: Callable[[PrivacyModule, Subject], dict[str, Any]],
) -> tuple[Subject, dict[str, Any]]:
    """`step` for every app in one transaction, audit-logged as `action` under the placeholder
    (with what changed, for an erasure)."""
    with merchant_scope(merchant), transaction.atomic():
        subject = customer_subject(merchant=merchant, email=email)
        found: dict[str, Any] = {}
        for module in MODULES:
            found.update(step(module, subject))
        audit_record(
            actor=actor,
            action=action,
            object_type="customer",
            object_ref=subject.placeholder,
            merchant_id=merchant.pk,
            changes=found if action == "customer.erased" else {},
        )
    return subject, found


def customer_export(*, merchant: Merchant, email: str, actor: Actor) -> dict[str, Any]:
    """Everything the merchant holds about the person, as JSON-ready sections."""
    subject, sections = _across_apps(
        merchant=merchant,
        email=email,
        actor=actor,
        action="customer.exported",
        step=lambda module, subject: module.export(subject),
    )
    return {
        "merchant": merchant.slug,
        "email": subject.email,
        "exported_at": timezone.now(),
        **sections,
    }


def customer_erase(*, merchant: Merchant, email: str, actor: Actor) -> dict[str, Any]:
    """Anonymize the person's data at this merchant; financial records stay whole. Answers the
    placeholder that now stands for the e-mail, and what changed, counted per kind of row."""
    subject, changed = _across_apps(
        merchant=merchant,
        email=email,
        actor=actor,
        action="customer.erased",
        step=lambda module, subject: module.erase(subject),
    )
    return {"placeholder": subject.placeholder, "erased_at": timezone.now(), "changed": changed}
