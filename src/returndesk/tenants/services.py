"""Writes for the provider, merchants, facilities, users and API keys."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from typing import Any
from zoneinfo import available_timezones

from babel import Locale, UnknownLocaleError
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.files.base import ContentFile
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from returndesk.core.actors import Actor
from returndesk.core.audit import audit_record
from returndesk.core.errors import Conflict, FieldError, NotFound, ValidationFailed
from returndesk.core.money import MoneyError, validate_currency
from returndesk.core.uploads import image_clean
from returndesk.tenants.models import ApiKey, Facility, Membership, Merchant, User, slug_validator
from returndesk.tenants.permissions import (
    MERCHANT_ROLE_CHOICES,
    PROVIDER_ROLES,
    ROLE_PERMISSIONS,
    USERS_MANAGE,
)

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
    if role in PROVIDER_ROLES and merchant is not None:
        raise ValidationFailed.on("role", f"{role} is provider-wide, not per merchant.")
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
@sensitive_variables("raw_key")
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


MAX_LOGO_BYTES = 1024 * 1024
MERCHANT_ROLES = frozenset(role for role, _ in MERCHANT_ROLE_CHOICES)


def _failed(errors: list[FieldError]) -> ValidationFailed:
    return ValidationFailed("; ".join(f"{e.field}: {e.message}" for e in errors), errors=errors)


def validate_locale(code: str, field: str = "locale") -> str:
    try:
        Locale.parse(code.replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError):
        message = f"'{code}' is not a known locale (e.g. en or en_GB)"
        raise ValidationFailed.on(field, message) from None
    return code


@transaction.atomic
def merchant_update(
    *,
    actor: Actor,
    merchant: Merchant,
    name: str,
    support_email: str,
    support_phone: str,
    locale: str,
    brand_color: str,
    timezone_name: str,
    logo: bytes | None = None,
    remove_logo: bool = False,
) -> Merchant:
    """Change a merchant's settings and branding; the logo is checked by content and stored
    without metadata. Every change is audited with its before and after."""
    locked = Merchant.objects.select_for_update().get(pk=merchant.pk)
    errors: list[FieldError] = []
    if not name.strip():
        errors.append(FieldError("name", "A merchant needs a name."))
    for check in (
        lambda: validate_timezone(timezone_name),
        lambda: validate_locale(locale),
    ):
        try:
            check()
        except ValidationFailed as exc:
            errors.extend(exc.errors)
    clean_logo: tuple[bytes, str] | None = None
    if logo is not None:
        try:
            clean_logo = image_clean(logo, max_bytes=MAX_LOGO_BYTES)
        except ValidationFailed as exc:
            errors.extend(FieldError("logo", e.message) for e in exc.errors)
    before = {
        "name": locked.name,
        "support_email": locked.support_email,
        "support_phone": locked.support_phone,
        "locale": locked.locale,
        "brand_color": locked.brand_color,
        "timezone": locked.timezone,
    }
    after = {
        "name": name.strip(),
        "support_email": support_email.strip().lower(),
        "support_phone": support_phone.strip(),
        "locale": locale,
        "brand_color": brand_color.strip().upper(),
        "timezone": timezone_name,
    }
    for field, value in after.items():
        setattr(locked, field, value)
    try:
        locked.full_clean(exclude=["slug", "currency", "logo"])
    except DjangoValidationError as exc:
        known = {e.field for e in errors}
        errors.extend(
            FieldError(f, " ".join(m)) for f, m in exc.message_dict.items() if f not in known
        )
    if errors:
        raise _failed(errors)
    changes: dict[str, Any] = {
        f: {"from": before[f], "to": after[f]} for f in after if before[f] != after[f]
    }
    old_logo = locked.logo.name or ""
    if clean_logo is not None:
        data, content_type = clean_logo
        extension = content_type.split("/")[1].replace("jpeg", "jpg")
        locked.logo.save(
            f"{locked.slug}-{secrets.token_hex(4)}.{extension}", ContentFile(data), save=False
        )
        changes["logo"] = {"from": old_logo, "to": locked.logo.name or ""}
    elif remove_logo and old_logo:
        locked.logo.name = ""
        changes["logo"] = {"from": old_logo, "to": ""}
    locked.save()
    if old_logo and "logo" in changes:
        storage = locked.logo.storage
        # the old file goes only once the new settings are committed
        transaction.on_commit(lambda: storage.delete(old_logo))
    if changes:
        audit_record(
            actor=actor,
            action="merchant.updated",
            object_type="merchant",
            object_ref=locked.slug,
            merchant_id=locked.pk,
            changes=changes,
        )
    return locked


@transaction.atomic
def merchant_set_active(*, actor: Actor, merchant: Merchant, active: bool) -> Merchant:
    """Deactivate a merchant (its console, portal and API keys stop answering) or bring it
    back; its data stays."""
    locked = Merchant.objects.select_for_update().get(pk=merchant.pk)
    if locked.is_active != active:
        locked.is_active = active
        locked.save(update_fields=["is_active", "updated_at"])
        audit_record(
            actor=actor,
            action="merchant.reactivated" if active else "merchant.deactivated",
            object_type="merchant",
            object_ref=locked.slug,
            merchant_id=locked.pk,
        )
    return locked


def _check_merchant_role(role: str) -> None:
    if role not in MERCHANT_ROLES:
        raise ValidationFailed.on("role", "Choose one of the merchant roles.")


def _keeps_own_admin(actor: Actor, user: User, merchant: Merchant, roles: set[str]) -> None:
    """Nobody takes away their own right to manage users here; another admin must do it."""
    if actor.user_id is None or actor.user_id != user.pk:
        return
    provider_roles = Membership.objects.filter(user=user, merchant__isnull=True).values_list(
        "role", flat=True
    )
    granted: set[str] = set()
    for role in {*provider_roles, *roles}:
        granted |= ROLE_PERMISSIONS[role]
    if USERS_MANAGE not in granted:
        raise Conflict(
            "You can't remove your own admin access; ask another admin to do it.",
            code="own_admin_access",
        )


def _staff_memberships(merchant: Merchant, email: str) -> tuple[User, list[Membership]]:
    memberships = list(
        Membership.objects.select_for_update()
        .select_related("user")
        .filter(merchant=merchant, user__email=email.strip().lower())
    )
    if not memberships:
        raise NotFound(f"{email} has no access to this merchant.")
    return memberships[0].user, memberships


@transaction.atomic
def staff_add(
    *,
    actor: Actor,
    merchant: Merchant,
    email: str,
    role: str,
    full_name: str = "",
    password: str = "",
) -> tuple[User, bool]:
    """Give a person a role at a merchant: (user, created). A new account gets the initial
    password, checked by the password validators; an existing one keeps its own."""
    email = email.strip().lower()
    errors: list[FieldError] = []
    try:
        validate_email(email)
    except DjangoValidationError:
        errors.append(FieldError("email", "Enter an e-mail address like name@example.com."))
    try:
        _check_merchant_role(role)
    except ValidationFailed as exc:
        errors.extend(exc.errors)
    if errors:
        raise _failed(errors)
    user = User.objects.filter(email=email).first()
    created = user is None
    if user is None:
        candidate = User(email=email, full_name=full_name.strip())
        if not password:
            raise ValidationFailed.on("password", "Set an initial password for a new account.")
        try:
            validate_password(password, candidate)
        except DjangoValidationError as exc:
            raise ValidationFailed.on("password", " ".join(exc.messages)) from None
        user = User.objects.create_user(email=email, password=password, full_name=full_name.strip())
        audit_record(
            actor=actor,
            action="user.created",
            object_type="user",
            object_ref=email,
            merchant_id=merchant.pk,
        )
    else:
        if password:
            raise ValidationFailed.on(
                "password",
                "This person already has an account and keeps its password; leave this empty.",
            )
        if Membership.objects.filter(user=user, merchant=merchant).exists():
            raise Conflict(
                f"{email} already has access here; change their role instead.",
                code="already_exists",
            )
    membership = membership_grant(actor=actor, user=user, role=role, merchant=merchant)
    return membership.user, created


@transaction.atomic
def staff_set_role(*, actor: Actor, merchant: Merchant, email: str, role: str) -> Membership:
    """Make `role` a staff member's only role at this merchant."""
    _check_merchant_role(role)
    user, memberships = _staff_memberships(merchant, email)
    before = sorted(m.role for m in memberships)
    if before == [role]:
        return memberships[0]
    _keeps_own_admin(actor, user, merchant, {role})
    Membership.objects.filter(pk__in=[m.pk for m in memberships if m.role != role]).delete()
    membership, _ = Membership.objects.get_or_create(user=user, merchant=merchant, role=role)
    audit_record(
        actor=actor,
        action="membership.changed",
        object_type="user",
        object_ref=user.email,
        merchant_id=merchant.pk,
        changes={"roles": {"from": before, "to": [role]}},
    )
    return membership


@transaction.atomic
def staff_remove(*, actor: Actor, merchant: Merchant, email: str) -> None:
    """Take away every role a person has at this merchant; the account stays."""
    user, memberships = _staff_memberships(merchant, email)
    _keeps_own_admin(actor, user, merchant, set())
    Membership.objects.filter(pk__in=[m.pk for m in memberships]).delete()
    audit_record(
        actor=actor,
        action="membership.revoked",
        object_type="user",
        object_ref=user.email,
        merchant_id=merchant.pk,
        changes={"roles": sorted(m.role for m in memberships)},
    )
