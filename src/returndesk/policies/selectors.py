from __future__ import annotations

from django.db.models import QuerySet

from returndesk.core.errors import NotFound
from returndesk.policies.models import PolicyVersion
from returndesk.policies.services import policy_ensure_default
from returndesk.tenants.models import Merchant


def policy_current(*, merchant: Merchant) -> PolicyVersion:
    return policy_ensure_default(merchant=merchant)


def policy_version_get(*, merchant: Merchant, version: int) -> PolicyVersion:
    found = PolicyVersion.objects.filter(merchant=merchant, version=version).first()
    if found is None:
        raise NotFound(f"No policy version {version}.")
    return found


def policy_versions(*, merchant: Merchant) -> QuerySet[PolicyVersion]:
    """The merchant's published versions, newest first, without their documents."""
    policy_ensure_default(merchant=merchant)
    return PolicyVersion.objects.filter(merchant=merchant).defer("document").order_by("-version")
