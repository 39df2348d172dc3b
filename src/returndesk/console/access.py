"""Who is looking at the console, for which merchant, and what they may do there."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from django.utils.translation import gettext_lazy as _

from returndesk.core.actors import Actor
from returndesk.tenants import permissions as perm
from returndesk.tenants.models import Merchant, User
from returndesk.tenants.selectors import user_permissions


@dataclass(frozen=True)
class Seat:
    user: User
    merchant: Merchant
    permissions: frozenset[str]
    merchants: tuple[Merchant, ...]  # every merchant this user may switch to

    @property
    def actor(self) -> Actor:
        return Actor("user", self.user.email, user_id=self.user.pk, permissions=self.permissions)

    def can(self, permission: str) -> bool:
        return permission in self.permissions

    def require(self, permission: str) -> None:
        """A 403 for a permission the page's own check did not cover (one action of many)."""
        if not self.can(permission):
            raise PermissionDenied("Your role does not allow this.")


def merchants_of(user: User) -> tuple[Merchant, ...]:
    memberships = list(user.memberships.select_related("merchant"))
    if any(m.merchant_id is None for m in memberships):
        return tuple(Merchant.objects.filter(is_active=True).order_by("slug"))
    # a deactivated merchant's console closes for its own staff too, not only for the provider's
    active = {m.merchant for m in memberships if m.merchant and m.merchant.is_active}
    return tuple(sorted(active, key=lambda m: m.slug))


def seat_for(request: HttpRequest, slug: str) -> Seat:
    """The signed-in user's seat at a merchant; another merchant's console answers 404, exactly
    as an unknown one."""
    user = request.user
    if not isinstance(user, User):
        raise Http404
    merchants = merchants_of(user)
    merchant = next((m for m in merchants if m.slug == slug), None)
    if merchant is None:
        raise Http404
    permissions = user_permissions(user, merchant)
    if not permissions:
        raise Http404
    return Seat(user=user, merchant=merchant, permissions=permissions, merchants=merchants)


# (url name, label, permission): each page a role can open, in the order the bar shows them.
NAVIGATION: tuple[tuple[str, Any, str], ...] = (
    ("console:home", _("Home"), perm.RETURNS_VIEW),
    ("console:returns", _("Returns"), perm.RETURNS_VIEW),
    ("console:review", _("Review queue"), perm.RETURNS_REVIEW),
    ("console:return_new", _("New return"), perm.RETURNS_CREATE),
    ("console:station_start", _("Receiving"), perm.RECEIVING),
    ("console:finance_refunds", _("Finance"), perm.REFUNDS_VIEW),
    ("console:store_credit", _("Store credit"), perm.STORE_CREDIT_VIEW),
    ("console:analytics", _("Analytics"), perm.ANALYTICS_VIEW),
    ("console:operations", _("Operations"), perm.OPERATIONS_VIEW),
    ("console:billing", _("Billing"), perm.PROVIDER_BILLING),
    ("console:policy", _("Policy"), perm.POLICY_MANAGE),
    ("console:admin_settings", _("Settings"), perm.MERCHANT_SETTINGS),
    ("console:admin_users", _("Users"), perm.USERS_MANAGE),
    ("console:admin_apikeys", _("API keys"), perm.APIKEYS_MANAGE),
    ("console:admin_webhooks", _("Webhooks"), perm.WEBHOOKS_MANAGE),
    ("console:admin_shipping", _("Shipping"), perm.INTEGRATIONS_MANAGE),
    ("console:admin_payments", _("Payments"), perm.INTEGRATIONS_MANAGE),
    ("console:admin_integrations", _("Shop integrations"), perm.INTEGRATIONS_MANAGE),
    ("console:admin_inspection", _("Inspection"), perm.MERCHANT_SETTINGS),
    ("console:provider_merchants", _("Merchants"), perm.PROVIDER_MERCHANTS),
    ("console:provider_facilities", _("Facilities"), perm.PROVIDER_FACILITIES),
    ("console:provider_webhooks", _("Carrier webhooks"), perm.PROVIDER_WEBHOOKS),
    ("console:operations_slas", _("SLAs"), perm.PROVIDER_SLAS),
    ("console:operations_calendars", _("Facility calendars"), perm.PROVIDER_FACILITIES),
    ("console:audit", _("Audit log"), perm.AUDIT_VIEW),
)
# The pages of NAVIGATION that configure rather than work returns: one menu in the bar.
ADMINISTRATION = frozenset(
    {
        "console:policy",
        "console:admin_settings",
        "console:admin_users",
        "console:admin_apikeys",
        "console:admin_webhooks",
        "console:admin_shipping",
        "console:admin_payments",
        "console:admin_integrations",
        "console:admin_inspection",
        "console:provider_merchants",
        "console:provider_facilities",
        "console:provider_webhooks",
        "console:operations_slas",
        "console:operations_calendars",
        "console:audit",
    }
)
