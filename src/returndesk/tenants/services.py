"""Writes for the provider, merchants, facilities, users and API keys."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from zoneinfo import available_timezones

from babel import Locale
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils import timezone

from returndesk.core.actors import Actor
from returndesk.core.audit import audit_record
from returndesk.core.errors import Conflict, FieldError, NotFound, ValidationFailed
from returndesk.core.money import MoneyError, validate_currency
from returndesk.tenants.models import ApiKey, Facility, Membership, Merchant, User, slug_validator
from returndesk.tenants.permissions import ROLE_PERMISSIONS

API_KEY_PREFIXES = {ApiKey.KIND_MERCHANT: "rd_m_", ApiKey.KIND_PROVIDER: "rd_p_"}


def hash_api_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


def validate_timezone(name: str, field: str = "timezone") -> str:
    if name not in available_timezones():
        raise ValidationFailed.on(field, f"'{name}' is not an IANA time zone (e.g. Europe/London)")
    return name


def validate_country(code: str, field: str = "country") -> str:
    territories = Locale("en").territories
    if len(code) != 2 or not code.isalpha() or code.upper() != code or code not in territories:
        raise ValidationFailed.on(field, f"'{code}' is not an ISO 3166-1 alpha-2 code (e.g. GB)")
    return code


def _validate_currency_field(code: str, field: str = "currency") -> str:
    try:
        return validate_currency(code)
    except MoneyError as exc:
        raise ValidationFailed.on(field, str(exc)) from None


@transaction.atomic
def merchant_create(
    *,
    actor: Actor,
    slug: str,
    name: str,
    currency: str,
    timezone_name: str,
    support_email: str = "",
    support_phone: str = "",
    brand_color: str = "#1F6FEB",
    locale: str = "en",
) -> Merchant:
    """Create a merchant client of the provider."""
    errors: list[FieldError] = []
    try:
        slug_validator(slug)
    except DjangoValidationError as exc:
        errors.append(FieldError("slug", " ".join(exc.messages)))
    if not name.strip():
        errors.append(FieldError("name", "A merchant needs a name."))
    for check in (
        lambda: _validate_currency_field(currency),
        lambda: validate_timezone(timezone_name),
    ):
        try:
            check()
        except ValidationFailed as exc:
            errors.extend(exc.errors)
    if errors:
        raise ValidationFailed("; ".join(f"{e.field}: {e.message}" for e in errors), errors=errors)
    if Merchant.objects.filter(slug=slug).exists():
        raise Conflict(f"A merchant with slug '{slug}' already exists.", code="already_exists")
    merchant = Merchant(
        slug=slug,
        name=name.strip(),
        currency=currency,
        timezone=timezone_name,
        support_email=support_email,
        support_phone=support_phone,
        brand_color=brand_color,
        locale=locale,
    )
    try:
        merchant.full_clean()
    except DjangoValidationError as exc:
        raise ValidationFailed(
            "Invalid merchant",
            errors=[FieldError(f, " ".join(m)) for f, m in exc.message_dict.items()],
        ) from None
    merchant.save()
    audit_record(
        actor=actor,
        action="merchant.created",
        object_type="merchant",
        object_ref=slug,
        merchant_id=merchant.pk,
        changes={"name": merchant.name, "currency": currency, "timezone": timezone_name},
    )
    return merchant


@transaction.atomic
def facility_create(
    *,
    actor: Actor,
    code: str,
    name: str,
    line1: str,
    city: str,
    postal_code: str,
    country: str,
    merchant_slugs: Sequence[str],
    line2: str = "",
    region: str = "",
    timezone_name: str = "UTC",
) -> Facility:
    """Create a return centre serving the given merchants."""
    validate_country(country)
    validate_timezone(timezone_name)
    if not code.strip() or len(code) > 20:
        raise ValidationFailed.on("code", "A facility code has 1 to 20 characters.")
    for field, value in (("name", name), ("line1", line1), ("city", city)):
        if not value.strip():
            raise ValidationFailed.on(field, "This field is required.")
    if Facility.objects.filter(code=code).exists():
        raise Conflict(f"A facility with code '{code}' already exists.", code="already_exists")
    merchants = list(Merchant.objects.filter(slug__in=merchant_slugs))
    missing = sorted(set(merchant_slugs) - {m.slug for m in merchants})
    if missing:
        raise NotFound(f"No merchant with slug {', '.join(missing)}.")
    facility = Facility.objects.create(
        code=code,
        name=name,
        line1=line1,
        line2=line2,
        city=city,
        region=region,
        postal_code=postal_code,
        country=country,
        timezone=timezone_name,
    )
    facility.merchants.set(merchants)
    audit_record(
        actor=actor,
        action="facility.created",
        object_type="facility",
        object_ref=code,
        changes={"merchants": sorted(merchant_slugs)},
    )
    return facility


@transaction.atomic
def user_create(
    *, actor: Actor, email: str, password: str, full_name: str = "", is_superuser: bool = False
) -> User:
    email = email.strip().lower()
    if User.objects.filter(email=email).exists():
        raise Conflict(f"A user with e-mail {email} already exists.", code="already_exists")
    if is_superuser:
        user = User.objects.create_superuser(email=email, password=password, full_name=full_name)
    else:
        user = User.objects.create_user(email=email, password=password, full_name=full_name)
    audit_record(actor=actor, action="user.created", object_type="user", object_ref=email)
    return user


@transaction.atomic
def membership_grant(
    *, actor: Actor, user: User, role: str, merchant: Merchant | None
) -> Membership:
    """Give a user a role within a merchant, or provider-wide (merchant None)."""
    if role not in ROLE_PERMISSIONS:
        raise ValidationFailed.on("role", f"Unknown role '{role}'.")
    if role == "provider_admin" and merchant is not None:
        raise ValidationFailed.on("role", "provider_admin is provider-wide, not per merchant.")
    membership, _ = Membership.objects.get_or_create(user=user, merchant=merchant, role=role)
    audit_record(
        actor=actor,
        action="membership.granted",
        object_type="user",
        object_ref=user.email,
        merchant_id=merchant.pk if merchant else None,
        changes={"role": role},
    )
    return membership


@transaction.atomic
def apikey_create(
    *,
    actor: Actor,
    name: str,
    merchant: Merchant | None = None,
    facility_codes: Sequence[str] = (),
) -> tuple[ApiKey, str]:
    """Create a key and answer it with its secret, which is shown this once and never stored."""
    if not name.strip():
        raise ValidationFailed.on("name", "An API key needs a name.")
    kind = ApiKey.KIND_MERCHANT if merchant is not None else ApiKey.KIND_PROVIDER
    if merchant is not None and facility_codes:
        raise ValidationFailed.on("facility", "Only provider keys are limited to facilities.")
    facilities = list(Facility.objects.filter(code__in=facility_codes))
    missing = sorted(set(facility_codes) - {f.code for f in facilities})
    if missing:
        raise NotFound(f"No facility with code {', '.join(missing)}.")
    raw_key = API_KEY_PREFIXES[kind] + secrets.token_urlsafe(32)
    key = ApiKey.objects.create(
        public_id="key_" + secrets.token_hex(8),
        kind=kind,
        merchant=merchant,
        name=name.strip(),
        prefix=raw_key[:12],
        key_hash=hash_api_key(raw_key),
        created_by_id=actor.user_id,
    )
    key.facilities.set(facilities)
    audit_record(
        actor=actor,
        action="apikey.created",
        object_type="api_key",
        object_ref=key.public_id,
        merchant_id=merchant.pk if merchant else None,
        changes={"name": key.name, "kind": kind, "facilities": sorted(facility_codes)},
    )
    return key, raw_key


@transaction.atomic
def apikey_revoke(*, actor: Actor, key: ApiKey) -> ApiKey:
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at", "updated_at"])
        audit_record(
            actor=actor,
            action="apikey.revoked",
            object_type="api_key",
            object_ref=key.public_id,
            merchant_id=key.merchant_id,
        )
    return key
