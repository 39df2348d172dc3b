"""Reads for tenants: who is calling, and what they may do."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from django.db.models import Count, F, Prefetch, QuerySet
from django.utils import timezone

from returndesk.core.actors import Actor
from returndesk.core.errors import NotFound
from returndesk.tenants.models import ApiKey, Facility, Membership, Merchant, User
from returndesk.tenants.permissions import MERCHANT_KEY, PROVIDER_KEY, ROLE_PERMISSIONS
from returndesk.tenants.services import hash_api_key

LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class Principal:
    """An authenticated caller and the merchants it may act for."""

    actor: Actor
    credential: str  # stable id for per-credential state (idempotency keys)
    merchant: Merchant | None  # the merchant a merchant key or a merchant user acts inside
    merchant_ids: frozenset[int]
    facility_ids: frozenset[int]
    # For a provider key: the merchants each of its facilities serves (read with the key, so a
    # receiving scan need not read them again).
    facility_merchants: Mapping[int, frozenset[int]] = field(default_factory=dict, compare=False)
    # For a provider key: its facilities themselves, read in the same query.
    facilities: Mapping[int, Facility] = field(default_factory=dict, compare=False)

    def can(self, permission: str) -> bool:
        return self.actor.can(permission)


def apikey_authenticate(raw_key: str) -> Principal | None:
    """The principal behind a bearer key, or None for an unknown or revoked key."""
    if not raw_key or len(raw_key) > 200:
        return None
    key = (
        ApiKey.objects.select_related("merchant")
        .filter(key_hash=hash_api_key(raw_key), revoked_at__isnull=True)
        .first()
    )
    if key is None:
        return None
    now = timezone.now()
    if key.last_used_at is None or key.last_used_at < now - LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
    actor_label = f"api key {key.name} ({key.prefix}…)"
    if key.kind == ApiKey.KIND_MERCHANT:
        assert key.merchant is not None
        if not key.merchant.is_active:
            return None
        return Principal(
            actor=Actor("api_key", actor_label, api_key_id=key.pk, permissions=MERCHANT_KEY),
            credential=f"key:{key.pk}",
            merchant=key.merchant,
            merchant_ids=frozenset({key.merchant_id}) if key.merchant_id else frozenset(),
            facility_ids=frozenset(),
        )
    # The key's facilities with the merchants each serves, in one query (a facility serving no
    # merchant comes back once, with None); a key limited to no facility works them all.
    pairs = list(Facility.objects.filter(api_keys=key).annotate(served=F("merchants")))
    if not pairs:
        pairs = list(Facility.objects.annotate(served=F("merchants")))
    served: dict[int, set[int]] = {}
    facilities: dict[int, Facility] = {}
    for facility in pairs:
        facilities.setdefault(facility.pk, facility)
        merchants = served.setdefault(facility.pk, set())
        if facility.served is not None:
            merchants.add(facility.served)
    facility_merchants = {pk: frozenset(ids) for pk, ids in served.items()}
    return Principal(
        actor=Actor("api_key", actor_label, api_key_id=key.pk, permissions=PROVIDER_KEY),
        credential=f"key:{key.pk}",
        merchant=None,
        merchant_ids=frozenset(m for ids in facility_merchants.values() for m in ids),
        facility_ids=frozenset(facility_merchants),
        facility_merchants=facility_merchants,
        facilities=facilities,
    )


def user_permissions(user: User, merchant: Merchant | None) -> frozenset[str]:
    """What a staff user may do within a merchant (provider-wide roles apply everywhere)."""
    if not user.is_active:
        return frozenset()
    granted: set[str] = set()
    for membership in user.memberships.all():
        if membership.merchant_id is None or (
            merchant is not None and membership.merchant_id == merchant.pk
        ):
            granted |= ROLE_PERMISSIONS[membership.role]
    return frozenset(granted)


def merchant_get(slug: str) -> Merchant:
    merchant = Merchant.objects.filter(slug=slug).first()
    if merchant is None:
        raise NotFound(f"No merchant with slug '{slug}'.")
    return merchant


@dataclass(frozen=True)
class StaffMember:
    user: User
    roles: tuple[str, ...]


def staff_list(*, merchant: Merchant) -> list[StaffMember]:
    """Who has a role at this merchant, with their roles (one query)."""
    staff: dict[int, StaffMember] = {}
    memberships = (
        Membership.objects.filter(merchant=merchant)
        .select_related("user")
        .order_by("user__email", "role")
    )
    for m in memberships:
        known = staff.get(m.user_id)
        roles = (*known.roles, m.role) if known else (m.role,)
        staff[m.user_id] = StaffMember(user=m.user, roles=roles)
    return list(staff.values())


def provider_staff_list() -> list[User]:
    """Users with a provider-wide role: they reach every merchant."""
    return list(
        User.objects.filter(memberships__merchant__isnull=True).distinct().order_by("email")
    )


def apikey_list(*, merchant: Merchant) -> QuerySet[ApiKey]:
    return (
        ApiKey.objects.filter(merchant=merchant)
        .select_related("created_by")
        .order_by("revoked_at", "-created_at")
    )


def apikey_get(*, merchant: Merchant, public_id: str) -> ApiKey:
    key = ApiKey.objects.filter(merchant=merchant, public_id=public_id).first()
    if key is None:
        raise NotFound(f"No API key {public_id}.")
    return key


def merchant_list() -> QuerySet[Merchant]:
    return Merchant.objects.annotate(facility_count=Count("facilities")).order_by("slug")


def facility_list() -> QuerySet[Facility]:
    return Facility.objects.prefetch_related(
        Prefetch("merchants", queryset=Merchant.objects.order_by("slug"))
    ).order_by("code")
