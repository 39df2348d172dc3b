"""Issuing and voiding return labels, and a merchant's carrier settings and routing."""

from __future__ import annotations

import logging
import re
from dataclasses import asdict
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_scopes import scopes_disabled

from returndesk.core.actors import Actor
from returndesk.core.audit import audit_record
from returndesk.core.codes import format_ran
from returndesk.core.errors import (
    ApplicationError,
    Conflict,
    FieldError,
    NotFound,
    ValidationFailed,
)
from returndesk.core.ids import new_public_id, random_base32
from returndesk.core.tenancy import merchant_scope
from returndesk.returns.lifecycle import return_event_record
from returndesk.returns.models import AUTHORIZED, Return
from returndesk.shipping.carriers.base import (
    Address,
    CarrierAdapter,
    CarrierError,
    CreatedLabel,
    Parcel,
    ShipmentRequest,
)
from returndesk.shipping.carriers.easypost import DEFAULT_API_BASE, EasyPostAdapter
from returndesk.shipping.carriers.prepaid import PrepaidAdapter
from returndesk.shipping.labels import render_pdf
from returndesk.shipping.models import (
    ACTIVE,
    CARRIER_CODES,
    MODE_DROPOFF,
    MODE_LABEL,
    PAID_BY_CUSTOMER,
    PAID_BY_MERCHANT,
    VOID_PENDING,
    VOIDED,
    WEBHOOK_FAILED,
    WEBHOOK_IGNORED,
    WEBHOOK_PENDING,
    WEBHOOK_PROCESSED,
    WEBHOOK_REJECTED,
    WEBHOOK_UNMATCHED,
    CarrierSettings,
    CarrierWebhook,
    FacilityRoute,
    Label,
    TrackingEvent,
)
from returndesk.shipping.selectors import (
    carrier_settings_for,
    facility_address,
    facility_for,
    label_document,
    return_products,
    return_weight_grams,
    shopper_address,
)
from returndesk.shipping.tasks import process_carrier_webhook
from returndesk.tenants.models import Facility, Merchant

logger = logging.getLogger(__name__)
VOID_RETRY_AFTER = timedelta(minutes=10)


class ReturnNotAuthorized(Conflict):
    code = "return_not_authorized"
    title = "The return may not travel"


def adapter_for(code: str, carrier_settings: CarrierSettings) -> CarrierAdapter:
    """The adapter for a carrier code, configured for the merchant."""
    if code == "prepaid":
        return PrepaidAdapter(
            amount=carrier_settings.prepaid_cost_amount, currency=carrier_settings.currency
        )
    if code == "easypost":
        return EasyPostAdapter(
            api_key=getattr(settings, "RETURNDESK_EASYPOST_API_KEY", ""),
            api_base=getattr(settings, "RETURNDESK_EASYPOST_API_BASE", "") or DEFAULT_API_BASE,
        )
    raise CarrierError(f"Unknown carrier '{code}'.")


def _shopper_fee(ret: Return) -> int:
    """The policy's return shipping fee on this return: a deduction from the shopper's refund,
    already in the decision's fees (policies/engine.py)."""
    fees = ret.decision.get("fees") or []
    return sum(
        int(fee.get("amount") or 0)
        for fee in fees
        if isinstance(fee, dict) and fee.get("code") == "return_shipping_fee"
    )


def _address_json(address: Address) -> dict[str, Any]:
    return {**asdict(address), "lines": address.lines()}


def new_dropoff_code() -> str:
    """ "DO" and 10 Crockford symbols (50 random bits): never 13 symbols, so never a RAN."""
    return f"DO{random_base32(10)}"


def _buy(
    carrier_settings: CarrierSettings, request: ShipmentRequest
) -> tuple[str, CreatedLabel, CarrierAdapter]:
    """A label from the merchant's first carrier that sells one; the next on refusal."""
    failures: list[str] = []
    for code in carrier_settings.carriers or ["prepaid"]:
        adapter = adapter_for(code, carrier_settings)
        if not adapter.available():
            failures.append(f"{code}: not configured")
            continue
        try:
            return code, adapter.create_label(request), adapter
        except CarrierError as exc:
            logger.warning("carrier %s refused a label for %s: %s", code, request.reference, exc)
            failures.append(f"{code}: {exc.detail}")
    raise CarrierError(
        "No carrier could issue the label (" + "; ".join(failures) + ").",
        code="carrier_unavailable",
    )


def label_issue(*, actor: Actor, ret: Return) -> tuple[Label, bool]:
    """The return's label, issuing it when it has none: a carrier label from the merchant's
    carriers, or a drop-off code where the merchant uses box-free drop-off. Answers the label
    and whether it was created now. Only an authorized return may travel."""
    with transaction.atomic():
        # The lock makes concurrent requests for one return wait, so one label is bought.
        locked = (
            Return.objects.select_for_update(of=("self",))
            .select_related("order", "customer", "merchant")
            .get(pk=ret.pk)
        )
        existing = Label.objects.filter(return_request=locked, status=ACTIVE).first()
        if existing is not None:
            return existing, False
        if locked.status != AUTHORIZED:
            raise ReturnNotAuthorized(
                f"Return {format_ran(locked.ran)} is {locked.status}: only an authorized "
                "return may travel, so it gets no label."
            )
        merchant = locked.merchant
        carrier_settings = carrier_settings_for(merchant=merchant)
        shopper = shopper_address(locked)
        facility = facility_for(merchant=merchant, country=shopper.country, region=shopper.region)
        destination = facility_address(facility, merchant)
        weight = return_weight_grams(locked, return_products(locked))
        fee = _shopper_fee(locked)
        label = Label(
            merchant=merchant,
            public_id=new_public_id("lbl"),
            return_request=locked,
            facility=facility,
            kind=carrier_settings.mode,
            paid_by=PAID_BY_CUSTOMER if fee > 0 else PAID_BY_MERCHANT,
            currency=locked.currency,
            cost_currency=locked.currency,
            shopper_fee_amount=fee,
            weight_grams=weight,
            ship_from=_address_json(shopper),
            ship_to=_address_json(destination),
            created_by_label=actor.label,
        )
        adapter: CarrierAdapter | None = None
        if carrier_settings.mode == MODE_DROPOFF:
            label.dropoff_code = new_dropoff_code()
        else:
            request = ShipmentRequest(
                reference=locked.ran,
                ship_from=shopper,
                ship_to=destination,
                parcel=Parcel(weight_grams=weight),
                services=tuple(carrier_settings.easypost_services or ()),
                carrier_accounts=tuple(carrier_settings.easypost_carrier_accounts or ()),
            )
            code, created, adapter = _buy(carrier_settings, request)
            label.adapter = code
            label.carrier = created.carrier
            label.service = created.service
            label.tracking_number = created.tracking_number
            label.external_id = created.external_id
            label.tracker_id = created.tracker_id
            label.carrier_label_url = created.label_url
            label.cost_amount = created.amount
            label.cost_currency = created.currency
            same = created.currency == locked.currency
            label.merchant_cost_amount = max(0, created.amount - (fee if same else 0))
        try:
            with transaction.atomic():
                label.save()
        except IntegrityError:
            if adapter is not None and label.external_id:
                # Bought but not recorded: give the postage back rather than pay twice.
                _void_quietly(adapter, label)
            raise
        return_event_record(
            ret=locked,
            type="return.label_created",
            actor=actor,
            payload={"label": label_summary(label)},
        )
    return label, True


def label_pdf(*, label: Label) -> bytes:
    """The label and packing slip as a 4x6 PDF, the same document every time it is printed:
    rendered at the first print and kept in Django's default storage (the media folder, or the
    S3 bucket in production), read back from there afterwards."""
    if label.document:
        try:
            with label.document.open("rb") as stored:
                return bytes(stored.read())
        except (FileNotFoundError, OSError):
            logger.warning("label %s: stored PDF %s is missing; rendering it again",
                           label.public_id, label.document.name)  # fmt: skip
    pdf = render_pdf(label_document(label=label))
    name = default_storage.save(
        f"labels/{label.created_at:%Y/%m}/{label.public_id}.pdf", ContentFile(pdf)
    )
    kept = Label._base_manager.filter(pk=label.pk, document=label.document.name or "").update(
        document=name
    )
    if kept:
        label.document.name = name
    else:  # another print stored it first: keep that one
        default_storage.delete(name)
    return pdf


def label_summary(label: Label) -> dict[str, Any]:
    """What the timeline and the webhook say of a label."""
    return {
        "id": label.public_id,
        "kind": label.kind,
        "carrier": label.carrier or None,
        "service": label.service or None,
        "tracking_number": label.tracking_number or None,
        "dropoff_code": label.dropoff_code or None,
        "paid_by": label.paid_by,
        "facility": label.facility.code,
    }


def _void_quietly(adapter: CarrierAdapter, label: Label) -> None:
    try:
        adapter.void_label(external_id=label.external_id, tracking_number=label.tracking_number)
    except CarrierError:
        logger.exception("could not void unrecorded label %s", label.tracking_number)


def labels_release_for_return(*, ret: Return, to_status: str, actor: Actor) -> None:
    """The release hook (returns/lifecycle.on_release): a cancelled, expired or rejected return's
    unused label is voided. Marked here, in the transition's transaction; the carrier is asked
    after the commit, and again by the worker until it accepts."""
    labels = list(Label.objects.filter(return_request=ret, status=ACTIVE))
    for label in labels:
        label.status = VOID_PENDING
        label.void_reason = f"return {to_status}"
        label.save(update_fields=["status", "void_reason", "updated_at"])
        transaction.on_commit(
            partial(label_void_attempt, merchant_id=label.merchant_id, label_id=label.pk)
        )


def label_void_attempt(*, merchant_id: int, label_id: int) -> bool:
    """Ask the carrier to void a label marked for voiding; safe to run twice. Answers whether
    the label is voided now."""
    with merchant_scope(merchant_id):
        label = Label.objects.select_related("return_request").filter(pk=label_id).first()
        if label is None or label.status == VOIDED:
            return True
        if label.status != VOID_PENDING:
            return False
        accepted, error = True, ""
        if label.kind == MODE_LABEL and label.adapter:
            carrier_settings = carrier_settings_for(merchant=label.return_request.merchant)
            try:
                accepted = adapter_for(label.adapter, carrier_settings).void_label(
                    external_id=label.external_id, tracking_number=label.tracking_number
                )
            except ApplicationError as exc:
                accepted, error = False, exc.detail
            if not accepted and not error:
                error = "the carrier did not accept the void"
        with transaction.atomic():
            locked = Label.objects.select_for_update().get(pk=label.pk)
            if locked.status != VOID_PENDING:
                return locked.status == VOIDED
            locked.void_attempts += 1
            if accepted:
                locked.status = VOIDED
                locked.voided_at = timezone.now()
                locked.void_error = ""
            else:
                locked.void_error = error
            locked.save()
            if accepted:
                return_event_record(
                    ret=label.return_request,
                    type="return.label_voided",
                    actor=Actor.system("shipping"),
                    reason=locked.void_reason,
                    payload={"label": label_summary(locked)},
                    notify=False,
                )
        return accepted


def labels_void_pending(*, now: datetime | None = None) -> int:
    """Retry voids the carrier has not accepted yet (a periodic job); answers how many are
    voided now."""
    now = now or timezone.now()
    with scopes_disabled():
        due = list(
            Label.objects.filter(status=VOID_PENDING, updated_at__lt=now - VOID_RETRY_AFTER)
            .order_by("updated_at")
            .values_list("merchant_id", "pk")[:200]
        )
    return sum(label_void_attempt(merchant_id=m, label_id=i) for m, i in due)


EASYPOST_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
COUNTRY = re.compile(r"^[A-Z]{2}$")
MAX_EASYPOST_NAMES = 20
MAX_ROUTE_PRIORITY = 1_000_000


def _easypost_names(field: str, names: list[str] | None, errors: list[FieldError]) -> list[str]:
    """Service names or carrier account ids, trimmed and each once; a bad one is a field error."""
    cleaned = list(dict.fromkeys(n.strip() for n in names or [] if n.strip()))
    bad = [n for n in cleaned if not EASYPOST_NAME.match(n)]
    if bad:
        errors.append(
            FieldError(field, f"use letters, digits, '_', '.' or '-' only (not '{bad[0][:100]}')")
        )
    if len(cleaned) > MAX_EASYPOST_NAMES:
        errors.append(FieldError(field, f"at most {MAX_EASYPOST_NAMES}"))
    return cleaned


def _settings_snapshot(row: CarrierSettings) -> dict[str, Any]:
    return {
        "carriers": list(row.carriers),
        "mode": row.mode,
        "easypost_services": list(row.easypost_services),
        "easypost_carrier_accounts": list(row.easypost_carrier_accounts),
        "prepaid_cost_amount": row.prepaid_cost_amount,
    }


def carrier_settings_errors(
    *,
    carriers: list[str],
    mode: str = MODE_LABEL,
    easypost_services: list[str] | None = None,
    easypost_carrier_accounts: list[str] | None = None,
    prepaid_cost_amount: int = 0,
) -> list[FieldError]:
    """What is wrong with carrier settings, every field at once (empty when they may be saved);
    a form that could not even read one of its fields shows the others' errors with it."""
    errors = [
        FieldError("carriers", f"unknown carrier '{c}'; use {', '.join(CARRIER_CODES)}")
        for c in carriers
        if c not in CARRIER_CODES
    ]
    if mode not in (MODE_LABEL, MODE_DROPOFF):
        errors.append(FieldError("mode", "use label or dropoff"))
    if mode == MODE_LABEL and not carriers:
        errors.append(FieldError("carriers", "choose at least one carrier for labels"))
    _easypost_names("easypost_services", easypost_services, errors)
    _easypost_names("easypost_carrier_accounts", easypost_carrier_accounts, errors)
    if prepaid_cost_amount < 0:
        errors.append(FieldError("prepaid_cost_amount", "must not be negative"))
    return errors


def carrier_settings_update(
    *,
    actor: Actor,
    merchant: Merchant,
    carriers: list[str],
    mode: str = MODE_LABEL,
    easypost_services: list[str] | None = None,
    easypost_carrier_accounts: list[str] | None = None,
    prepaid_cost_amount: int = 0,
) -> CarrierSettings:
    """Choose the merchant's carriers (in order of preference) and label or drop-off."""
    errors = carrier_settings_errors(
        carriers=carriers,
        mode=mode,
        easypost_services=easypost_services,
        easypost_carrier_accounts=easypost_carrier_accounts,
        prepaid_cost_amount=prepaid_cost_amount,
    )
    if errors:
        raise ValidationFailed("; ".join(f"{e.field}: {e.message}" for e in errors), errors=errors)
    services = _easypost_names("easypost_services", easypost_services, [])
    accounts = _easypost_names("easypost_carrier_accounts", easypost_carrier_accounts, [])
    with transaction.atomic():
        row, _ = CarrierSettings.objects.select_for_update().get_or_create(
            merchant=merchant, defaults={"currency": merchant.currency}
        )
        before = _settings_snapshot(row)
        row.carriers = list(dict.fromkeys(carriers))
        row.mode = mode
        row.easypost_services = services
        row.easypost_carrier_accounts = accounts
        row.prepaid_cost_amount = prepaid_cost_amount
        row.currency = merchant.currency
        row.save()
        audit_record(
            actor=actor,
            action="shipping.carriers_updated",
            object_type="carrier_settings",
            object_ref=merchant.slug,
            merchant_id=merchant.pk,
            changes={"before": before, "after": _settings_snapshot(row)},
        )
    return row


def facility_route_add(
    *,
    actor: Actor,
    merchant: Merchant,
    facility_code: str,
    country: str = "",
    region: str = "",
    priority: int = 100,
) -> FacilityRoute:
    """Send returns from a country (and region) to one of the facilities serving the merchant."""
    country, region = country.strip().upper(), region.strip().upper()
    errors: list[FieldError] = []
    facility = Facility.objects.filter(code=facility_code, merchants=merchant).first()
    if facility is None:
        errors.append(
            FieldError("facility", f"no facility '{facility_code}' serves {merchant.name}")
        )
    if country and not COUNTRY.match(country):
        errors.append(FieldError("country", "two letters, e.g. US, or empty for any country"))
    if region and not country:
        errors.append(FieldError("region", "a region needs its country"))
    if len(region) > 100:
        errors.append(FieldError("region", "at most 100 characters"))
    if not 0 <= priority <= MAX_ROUTE_PRIORITY:
        errors.append(FieldError("priority", f"a whole number from 0 to {MAX_ROUTE_PRIORITY}"))
    if facility is not None and not errors:
        same = FacilityRoute.objects.filter(
            merchant=merchant, facility=facility, country=country, region=region
        )
        if same.exists():
            errors.append(
                FieldError(
                    "country", f"{country or '*'}/{region or '*'} already goes to {facility.code}"
                )
            )
    if errors:
        raise ValidationFailed("; ".join(f"{e.field}: {e.message}" for e in errors), errors=errors)
    assert facility is not None
    with transaction.atomic():
        route = FacilityRoute.objects.create(
            merchant=merchant,
            facility=facility,
            country=country,
            region=region,
            priority=priority,
        )
        audit_record(
            actor=actor,
            action="shipping.route_added",
            object_type="facility_route",
            object_ref=f"{route.country or '*'}/{route.region or '*'}",
            merchant_id=merchant.pk,
            changes={"route": route.public_id, "facility": facility.code, "priority": priority},
        )
    return route


def facility_route_remove(*, actor: Actor, merchant: Merchant, public_id: str) -> None:
    """Stop routing by one of the merchant's routes; labels already issued keep their facility.
    Another merchant's route is not found, exactly as an unknown one."""
    with transaction.atomic():
        route = (
            FacilityRoute.objects.select_for_update()
            .select_related("facility")
            .filter(merchant=merchant, public_id=public_id)
            .first()
        )
        if route is None:
            raise NotFound(f"No route '{public_id}'.")
        route.delete()
        audit_record(
            actor=actor,
            action="shipping.route_removed",
            object_type="facility_route",
            object_ref=f"{route.country or '*'}/{route.region or '*'}",
            merchant_id=merchant.pk,
            changes={
                "route": public_id,
                "facility": route.facility.code,
                "priority": route.priority,
            },
        )


# --- carrier webhooks: what the provider's operators do with stored ones ---

# What staff may send through processing again: a failed one (e.g. after a fix) or an unmatched
# one (e.g. once the label exists). Rejected ones were never trusted; the others are done.
WEBHOOK_RETRIABLE = (WEBHOOK_FAILED, WEBHOOK_UNMATCHED)
# As on receipt (tracking.SWEEP_AFTER): the task goes first, the worker's sweep is the backstop.
WEBHOOK_RETRY_SWEEP_AFTER = timedelta(minutes=1)


class WebhookNotRetriable(Conflict):
    code = "webhook_not_retriable"
    title = "This webhook cannot be retried"


def carrier_webhook_retry(*, actor: Actor, public_id: str) -> CarrierWebhook:
    """Queue a failed or unmatched carrier webhook for processing again, with a fresh retry
    schedule, through the same task as on receipt."""
    now = timezone.now()
    with transaction.atomic():
        hook = CarrierWebhook.objects.select_for_update().filter(public_id=public_id).first()
        if hook is None:
            raise NotFound(f"No carrier webhook '{public_id}'.")
        if hook.state not in WEBHOOK_RETRIABLE:
            raise WebhookNotRetriable(
                f"A {hook.state} webhook cannot be retried; only failed or unmatched ones."
            )
        if hook.claimed_until is not None and hook.claimed_until > now:
            raise WebhookNotRetriable("The worker is processing it right now; look again shortly.")
        before = {"state": hook.state, "attempts": hook.attempts, "detail": hook.detail[:500]}
        hook.state = WEBHOOK_PENDING
        hook.attempts = 0
        hook.detail = ""
        hook.next_attempt_at = now + WEBHOOK_RETRY_SWEEP_AFTER
        hook.claimed_until = None
        hook.claimed_by = ""
        hook.save(
            update_fields=[
                "state",
                "attempts",
                "detail",
                "next_attempt_at",
                "claimed_until",
                "claimed_by",
                "updated_at",
            ]
        )
        # The database backend writes the task in this transaction: both or neither.
        process_carrier_webhook.enqueue(webhook_id=hook.pk)
        audit_record(
            actor=actor,
            action="shipping.webhook_retried",
            object_type="carrier_webhook",
            object_ref=hook.public_id,
            merchant_id=hook.merchant_id,
            changes={
                "state": {"from": before["state"], "to": WEBHOOK_PENDING},
                "attempts": before["attempts"],
                "detail": before["detail"],
            },
        )
    return hook


# How long stored carrier webhooks are kept, by state, counted from their arrival
# (docs/tracking-webhooks.md, "Retention"). Pending, unmatched and failed ones are kept until
# someone deals with them; the scans a processed one brought stay in TrackingEvent.
WEBHOOK_RETENTION = {
    WEBHOOK_REJECTED: timedelta(days=30),
    WEBHOOK_IGNORED: timedelta(days=30),
    WEBHOOK_PROCESSED: timedelta(days=180),
}
PRUNE_BATCH = 500
PRUNE_MAX_BATCHES = 100  # per run, so one run stays well inside the job's lease


def carrier_webhooks_prune(*, now: datetime | None = None) -> int:
    """Delete stored carrier webhooks past their retention (a periodic job); the tracking
    history they brought stays, no longer pointing at them. Answers how many were deleted."""
    now = now or timezone.now()
    deleted = 0
    batches = 0
    with scopes_disabled():  # TrackingEvent rows lose their link: they belong to merchants
        for state, keep in WEBHOOK_RETENTION.items():
            old = CarrierWebhook.objects.filter(state=state, created_at__lt=now - keep)
            while batches < PRUNE_MAX_BATCHES:
                ids = list(old.order_by("pk").values_list("pk", flat=True)[:PRUNE_BATCH])
                if not ids:
                    break
                with transaction.atomic():
                    TrackingEvent.objects.filter(webhook_id__in=ids).update(webhook=None)
                    count, _ = CarrierWebhook.objects.filter(pk__in=ids, state=state).delete()
                deleted += count
                batches += 1
    if deleted:
        logger.info("pruned %d stored carrier webhooks", deleted)
    return deleted
