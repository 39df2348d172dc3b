"""Writes of the provider's operations: facility closed days, merchants' SLAs and fee
schedules. Each is a provider configuration change: audited, inside one transaction."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from django.db import transaction
from django.utils import timezone

from returndesk.core.actors import Actor
from returndesk.core.audit import audit_record
from returndesk.core.errors import FieldError, NotFound, PermissionDenied, ValidationFailed
from returndesk.core.ids import new_public_id
from returndesk.core.money import MoneyError, validate_currency
from returndesk.core.tenancy import merchant_scope
from returndesk.operations.calendar import MAX_BUSINESS_DAYS
from returndesk.operations.models import (
    FEES,
    SLA_KINDS,
    FacilityClosedDay,
    FeeRate,
    ServiceLevel,
)
from returndesk.tenants import permissions as perm
from returndesk.tenants.models import Facility, Merchant

MAX_REASON = 200
# A fee above this (in minor units) is a typing mistake, not a price: 1,000,000.00 in a
# two-decimal currency.
MAX_FEE = 100_000_000


def _require(actor: Actor, permission: str) -> None:
    if not actor.can(permission):
        raise PermissionDenied(f"Your role does not allow this ({permission}).")


@transaction.atomic
def facility_closed_day_add(
    *, actor: Actor, facility: Facility, day: date, reason: str = ""
) -> FacilityClosedDay:
    """Close a facility on a day (SLA clocks skip it). Closing it again changes the reason."""
    _require(actor, perm.PROVIDER_FACILITIES)
    reason = reason.strip()
    if len(reason) > MAX_REASON:
        raise ValidationFailed.on("reason", f"at most {MAX_REASON} characters")
    closed, created = FacilityClosedDay.objects.update_or_create(
        facility=facility,
        day=day,
        defaults={"reason": reason, "created_by_label": actor.label},
    )
    audit_record(
        actor=actor,
        action="facility.closed_day_added" if created else "facility.closed_day_changed",
        object_type="facility",
        object_ref=facility.code,
        changes={"day": day.isoformat(), "reason": reason},
    )
    return closed


@transaction.atomic
def facility_closed_day_remove(*, actor: Actor, facility: Facility, day: date) -> None:
    _require(actor, perm.PROVIDER_FACILITIES)
    deleted, _ = FacilityClosedDay.objects.filter(facility=facility, day=day).delete()
    if not deleted:
        raise NotFound(f"{facility.code} is not closed on {day.isoformat()}.")
    audit_record(
        actor=actor,
        action="facility.closed_day_removed",
        object_type="facility",
        object_ref=facility.code,
        changes={"day": day.isoformat()},
    )


def service_levels_set(
    *, actor: Actor, merchant: Merchant, levels: Mapping[str, int | None]
) -> list[ServiceLevel]:
    """Set a merchant's SLAs: kind -> business days, None for no SLA of that kind. A new or
    changed SLA measures work that starts from now on (`effective_from`); an unchanged one keeps
    its date. Answers the merchant's SLAs after the change."""
    _require(actor, perm.PROVIDER_SLAS)
    with transaction.atomic(), merchant_scope(merchant):
        return _service_levels_set(actor=actor, merchant=merchant, levels=levels)


def _service_levels_set(
    *, actor: Actor, merchant: Merchant, levels: Mapping[str, int | None]
) -> list[ServiceLevel]:
    errors = [FieldError(kind, "not an SLA kind") for kind in levels if kind not in SLA_KINDS]
    for kind, days in levels.items():
        if days is not None and not 1 <= days <= MAX_BUSINESS_DAYS:
            errors.append(FieldError(kind, f"between 1 and {MAX_BUSINESS_DAYS} business days"))
    if errors:
        raise ValidationFailed("; ".join(f"{e.field}: {e.message}" for e in errors), errors=errors)
    now = timezone.now()
    existing = {
        level.kind: level
        for level in ServiceLevel.objects.select_for_update().filter(merchant=merchant)
    }
    changes: dict[str, object] = {}
    for kind, days in levels.items():
        level = existing.get(kind)
        if days is None:
            if level is not None:
                level.delete()
                changes[kind] = None
            continue
        if level is None:
            ServiceLevel.objects.create(
                merchant=merchant,
                public_id=new_public_id("sla"),
                kind=kind,
                business_days=days,
                effective_from=now,
                updated_by_label=actor.label,
            )
            changes[kind] = days
        elif level.business_days != days:
            level.business_days = days
            level.effective_from = now
            level.updated_by_label = actor.label
            level.save(update_fields=["business_days", "effective_from", "updated_by_label"])
            changes[kind] = days
    if changes:
        audit_record(
            actor=actor,
            action="sla.changed",
            object_type="merchant",
            object_ref=merchant.slug,
            merchant_id=merchant.pk,
            changes=changes,
        )
    return list(ServiceLevel.objects.filter(merchant=merchant).order_by("kind"))


def fee_schedule_set(
    *, actor: Actor, merchant: Merchant, currency: str, rates: Mapping[str, int | None]
) -> list[FeeRate]:
    """Set a merchant's fee schedule: fee -> amount in minor units of `currency`, None for a fee
    not charged. The whole schedule is in one currency: changing it re-prices every fee given.
    Answers the schedule after the change."""
    _require(actor, perm.PROVIDER_BILLING)
    with transaction.atomic(), merchant_scope(merchant):
        return _fee_schedule_set(actor=actor, merchant=merchant, currency=currency, rates=rates)


def _fee_schedule_set(
    *, actor: Actor, merchant: Merchant, currency: str, rates: Mapping[str, int | None]
) -> list[FeeRate]:
    errors: list[FieldError] = []
    try:
        validate_currency(currency)
    except MoneyError as exc:
        errors.append(FieldError("currency", str(exc)))
    for fee, amount in rates.items():
        if fee not in FEES:
            errors.append(FieldError(fee, "not a fee of the schedule"))
        elif amount is not None and not 0 <= amount <= MAX_FEE:
            errors.append(FieldError(fee, "zero or more, and not absurdly large"))
    if errors:
        raise ValidationFailed("; ".join(f"{e.field}: {e.message}" for e in errors), errors=errors)
    existing = {
        rate.fee: rate for rate in FeeRate.objects.select_for_update().filter(merchant=merchant)
    }
    others = [rate for fee, rate in existing.items() if fee not in rates]
    if others and any(rate.currency != currency for rate in others):
        raise ValidationFailed.on(
            "currency", "the fees not given are in another currency: give every fee"
        )
    changes: dict[str, object] = {}
    for fee, amount in rates.items():
        rate = existing.get(fee)
        if amount is None:
            if rate is not None:
                rate.delete()
                changes[fee] = None
            continue
        if rate is None:
            FeeRate.objects.create(
                merchant=merchant,
                fee=fee,
                amount=amount,
                currency=currency,
                updated_by_label=actor.label,
            )
            changes[fee] = {"amount": amount, "currency": currency}
        elif rate.amount != amount or rate.currency != currency:
            rate.amount, rate.currency, rate.updated_by_label = amount, currency, actor.label
            rate.save(update_fields=["amount", "currency", "updated_by_label", "updated_at"])
            changes[fee] = {"amount": amount, "currency": currency}
    if changes:
        audit_record(
            actor=actor,
            action="fee_schedule.changed",
            object_type="merchant",
            object_ref=merchant.slug,
            merchant_id=merchant.pk,
            changes=changes,
        )
    return list(FeeRate.objects.filter(merchant=merchant).order_by("fee"))
