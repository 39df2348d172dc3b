"""Tracking: carrier webhooks (stored raw, then processed by a task), polling for carriers
without webhooks, and what a carrier's scans do to a return (docs/tracking-webhooks.md).

A scan moves a return forward only: the first carrier scan makes an authorized return
`in_transit`, a delivery makes it `delivered` (at the facility; receiving is a separate step).
Whatever order scans arrive in, the return and the label's summary are computed from the whole
history, and `returns.lifecycle.return_transition` refuses anything backwards. Return to sender,
failure and loss flag the return for staff instead of changing its status.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django_scopes import scopes_disabled

from returndesk.core.actors import Actor
from returndesk.core.errors import ApplicationError, NotFound
from returndesk.core.ids import new_public_id
from returndesk.core.tenancy import merchant_scope
from returndesk.returns.lifecycle import return_exception_flag, return_transition
from returndesk.returns.models import (
    AUTHORIZED,
    RELEASED_STATUSES,
    TRANSITIONS,
    Return,
)
from returndesk.returns.models import DELIVERED as RETURN_DELIVERED
from returndesk.returns.models import IN_TRANSIT as RETURN_IN_TRANSIT
from returndesk.shipping.carriers import base
from returndesk.shipping.carriers.base import CarrierError
from returndesk.shipping.models import (
    ACTIVE,
    CARRIER_CODES,
    FORMAT_EASYPOST,
    FORMAT_GENERIC,
    MODE_LABEL,
    WEBHOOK_FAILED,
    WEBHOOK_IGNORED,
    WEBHOOK_PENDING,
    WEBHOOK_PROCESSED,
    WEBHOOK_REJECTED,
    WEBHOOK_UNMATCHED,
    CarrierWebhook,
    Label,
    TrackingEvent,
)
from returndesk.shipping.selectors import carrier_settings_for
from returndesk.shipping.services import adapter_for, label_summary
from returndesk.shipping.tasks import process_carrier_webhook
from returndesk.shipping.webhooks import (
    DELIVERED,
    EXCEPTIONS,
    IN_TRANSIT,
    PROGRESS,
    RETURN_TO_SENDER,
    SignatureRejected,
    UnreadablePayload,
    event_id_of,
    kept_headers,
    normalize_status,
    parse_easypost,
    parse_generic,
    verify_easypost,
    verify_generic,
)

logger = logging.getLogger(__name__)

WEBHOOK_LEASE = timedelta(minutes=5)
# The task goes first; the worker's sweep is the backstop for a task lost with its worker.
SWEEP_AFTER = timedelta(minutes=1)
RETRY_AFTER = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=6),
)
# A webhook can beat its label's commit (EasyPost creates the tracker while we buy), so an
# unmatched tracking number is looked up again a few times; it stays flagged meanwhile.
UNMATCHED_RECHECKS = (timedelta(minutes=1), timedelta(minutes=10), timedelta(hours=1))
POLL_EVERY = timedelta(hours=1)
# Carriers with webhooks are polled too, rarely: a missed webhook must not strand a return.
POLL_EVERY_WITH_WEBHOOKS = timedelta(hours=12)
# Adapters that can answer `track`; the prepaid label's only event is the facility's scan.
TRACKABLE_ADAPTERS = ("easypost",)
TRACKED_RETURN_STATUSES = (AUTHORIZED, RETURN_IN_TRANSIT)
SOURCE_WEBHOOK = "webhook"
SOURCE_POLL = "poll"
IN_TRANSIT_RANK = PROGRESS[IN_TRANSIT]


class WebhookRejected(ApplicationError):
    code = "unauthenticated"
    status = 401
    title = "Unauthenticated"


@dataclass(frozen=True)
class WebhookReceipt:
    id: str
    status: str  # accepted, duplicate


# --- receiving ---


def webhook_format(carrier: str) -> str:
    return FORMAT_EASYPOST if carrier == "easypost" else FORMAT_GENERIC


def webhook_secrets(carrier: str) -> list[str]:
    """The secrets a carrier's webhooks may be signed with (several while rotating)."""
    if carrier == "easypost":
        raw = str(getattr(settings, "RETURNDESK_EASYPOST_WEBHOOK_SECRET", ""))
        return [s.strip() for s in raw.split(",") if s.strip()]
    found = []
    for pair in str(getattr(settings, "RETURNDESK_CARRIER_WEBHOOK_SECRETS", "")).split(","):
        name, _, secret = pair.partition("=")
        if name.strip() == carrier and secret.strip():
            found.append(secret.strip())
    return found


def _peek_event_id(body: bytes) -> str:
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    return event_id_of(body, data)


def carrier_webhook_receive(
    *, carrier: str, body: bytes, headers: Mapping[str, str], now: datetime | None = None
) -> WebhookReceipt:
    """Store a carrier webhook's raw body and queue its processing. A bad signature (or, in the
    generic format, a stale one) is stored as rejected and raises WebhookRejected (401); an
    event id already accepted is a duplicate, counted on the original and not processed."""
    if carrier not in CARRIER_CODES:
        raise NotFound(f"No carrier '{carrier}' sends webhooks here.")
    now = now or timezone.now()
    fmt = webhook_format(carrier)
    secrets = webhook_secrets(carrier)
    try:
        if fmt == FORMAT_EASYPOST:
            verify_easypost(body, headers, secrets)
        else:
            verify_generic(body, headers, secrets, now=now)
    except SignatureRejected as exc:
        CarrierWebhook.objects.create(
            public_id=new_public_id("cwh"),
            carrier=carrier,
            format=fmt,
            event_id=_peek_event_id(body),
            body=body,
            headers=kept_headers(headers),
            signature_valid=False,
            state=WEBHOOK_REJECTED,
            detail=str(exc),
        )
        logger.warning("carrier webhook from %s rejected: %s", carrier, exc)
        raise WebhookRejected(str(exc)) from None
    event_id = _peek_event_id(body)
    try:
        with transaction.atomic():
            hook = CarrierWebhook.objects.create(
                public_id=new_public_id("cwh"),
                carrier=carrier,
                format=fmt,
                event_id=event_id,
                body=body,
                headers=kept_headers(headers),
                signature_valid=True,
                state=WEBHOOK_PENDING,
                next_attempt_at=now + SWEEP_AFTER,
            )
            # The database backend writes the task in this transaction: both or neither.
            process_carrier_webhook.enqueue(webhook_id=hook.pk)
    except IntegrityError:
        original = CarrierWebhook.objects.filter(
            carrier=carrier, event_id=event_id, signature_valid=True
        ).first()
        if original is None:
            raise
        CarrierWebhook.objects.filter(pk=original.pk).update(
            duplicates=F("duplicates") + 1, last_duplicate_at=now
        )
        return WebhookReceipt(original.public_id, "duplicate")
    return WebhookReceipt(hook.public_id, "accepted")


# --- processing ---


def label_for_tracking(*, adapter: str, tracking_number: str) -> Label | None:
    """The label an adapter's tracking number belongs to, across merchants (a webhook arrives
    without one); tracking numbers are unique per adapter."""
    text = tracking_number.strip()
    compact = text.upper().replace(" ", "").replace("-", "")
    variants = list(dict.fromkeys(v for v in (text, text.upper(), compact) if v))
    if not variants:
        return None
    with scopes_disabled():
        return (
            Label.objects.filter(adapter=adapter, tracking_number__in=variants)
            .order_by("-created_at", "-pk")
            .first()
        )


def _claim(webhook_id: int, worker: str, now: datetime) -> bool:
    return bool(
        CarrierWebhook.objects.filter(pk=webhook_id, state__in=(WEBHOOK_PENDING, WEBHOOK_UNMATCHED))
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .update(claimed_until=now + WEBHOOK_LEASE, claimed_by=worker)
    )


def _finish(
    hook: CarrierWebhook,
    worker: str,
    state: str,
    detail: str = "",
    *,
    next_attempt_at: datetime | None = None,
) -> str:
    CarrierWebhook.objects.filter(pk=hook.pk, claimed_by=worker).update(
        state=state,
        detail=detail[:2000],
        attempts=hook.attempts,
        tracking_number=hook.tracking_number[:64],
        label=hook.label,
        merchant_id=hook.merchant_id,
        next_attempt_at=next_attempt_at,
        processed_at=timezone.now() if state == WEBHOOK_PROCESSED else None,
        claimed_until=None,
        claimed_by="",
    )
    return state


def carrier_webhook_process(*, webhook_id: int, now: datetime | None = None) -> str:
    """Read a stored webhook and apply its scans to the label it tracks; safe to run twice and
    concurrently. Answers the row's state after this attempt ("skipped" when another worker
    holds it or it is done)."""
    now = now or timezone.now()
    worker = uuid.uuid4().hex[:16]
    if not _claim(webhook_id, worker, now):
        return "skipped"
    hook = CarrierWebhook.objects.get(pk=webhook_id)
    hook.attempts += 1
    try:
        if hook.format == FORMAT_EASYPOST:
            update = parse_easypost(bytes(hook.body))
        else:
            update = parse_generic(bytes(hook.body))
    except UnreadablePayload as exc:
        return _finish(hook, worker, WEBHOOK_FAILED, str(exc))
    if update is None:
        return _finish(hook, worker, WEBHOOK_IGNORED, "Not a tracking event.")
    hook.tracking_number = update.tracking_number
    label = label_for_tracking(adapter=hook.carrier, tracking_number=update.tracking_number)
    if label is None:
        checks = len(UNMATCHED_RECHECKS)
        again = now + UNMATCHED_RECHECKS[hook.attempts - 1] if hook.attempts <= checks else None
        return _finish(
            hook,
            worker,
            WEBHOOK_UNMATCHED,
            f"No {hook.carrier} label has tracking number {update.tracking_number}"
            + ("; looked up again later." if again else "; staff must look at it."),
            next_attempt_at=again,
        )
    hook.label = label
    hook.merchant_id = label.merchant_id
    try:
        with merchant_scope(label.merchant_id):
            tracking_apply(
                label_id=label.pk,
                scans=update.scans,
                source=SOURCE_WEBHOOK,
                webhook=hook,
                now=now,
            )
    except Exception as exc:  # the row is retried, never lost; the error is kept on it
        logger.exception("carrier webhook %s failed", hook.public_id)
        detail = f"{type(exc).__name__}: {exc}"
        if hook.attempts > len(RETRY_AFTER):
            return _finish(hook, worker, WEBHOOK_FAILED, detail)
        delay = RETRY_AFTER[hook.attempts - 1]
        return _finish(hook, worker, WEBHOOK_PENDING, detail, next_attempt_at=now + delay)
    return _finish(hook, worker, WEBHOOK_PROCESSED)


def carrier_webhooks_process_due(*, now: datetime | None = None, limit: int = 200) -> int:
    """The worker's sweep (a periodic job): process webhooks whose task was lost, whose retry
    is due, or whose unmatched tracking number is due another look. Answers how many were
    processed now."""
    now = now or timezone.now()
    due = list(
        CarrierWebhook.objects.filter(
            state__in=(WEBHOOK_PENDING, WEBHOOK_UNMATCHED), next_attempt_at__lte=now
        )
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    return sum(carrier_webhook_process(webhook_id=pk, now=now) == WEBHOOK_PROCESSED for pk in due)


# --- applying scans ---


@dataclass(frozen=True)
class TrackingSummary:
    status: str
    status_at: datetime | None
    furthest: int  # PROGRESS rank reached
    first_scan_at: datetime | None
    delivered_at: datetime | None
    returned_to_sender_at: datetime | None


def tracking_summarize(history: Sequence[tuple[str, datetime]]) -> TrackingSummary:
    """A label's tracking from its whole history, whatever order it arrived in: the current
    status is the latest scan's, except that an earlier stage never replaces a later one."""
    status, status_at, furthest = "", None, 0
    first_scan: datetime | None = None
    delivered: datetime | None = None
    returned: datetime | None = None
    for code, at in sorted(history, key=lambda item: item[1]):
        rank = PROGRESS.get(code, 0)
        if rank:
            if rank >= IN_TRANSIT_RANK and first_scan is None:
                first_scan = at
            if code == DELIVERED and delivered is None:
                delivered = at
            if rank >= furthest:
                status, status_at, furthest = code, at, rank
        elif code in EXCEPTIONS:
            status, status_at = code, at
            if code == RETURN_TO_SENDER and returned is None:
                returned = at
        elif not status:
            status, status_at = code, at
    return TrackingSummary(status, status_at, furthest, first_scan, delivered, returned)


def _fingerprint(status: str, at: datetime, message: str, location: str) -> str:
    text = "\x1f".join((status, at.isoformat(), message, location))
    return hashlib.sha256(text.encode()).hexdigest()


def _describe(event: TrackingEvent) -> str:
    where = f" in {event.location}" if event.location else ""
    said = f": {event.message}" if event.message else ""
    return f"{event.status.replace('_', ' ')}{where} at {event.occurred_at.isoformat()}{said}"


def tracking_apply(
    *,
    label_id: int,
    scans: Iterable[base.TrackingEvent],
    source: str,
    webhook: CarrierWebhook | None = None,
    now: datetime | None = None,
) -> list[TrackingEvent]:
    """Record a label's scans (each once) and move its return forward as far as the whole
    history allows; flag exceptions for staff. Call inside the label's merchant scope; safe to
    run twice. Answers the scans that were new."""
    now = now or timezone.now()
    received = webhook.created_at if webhook is not None and webhook.created_at else now
    with transaction.atomic():
        return_id = Label.objects.values_list("return_request_id", flat=True).get(pk=label_id)
        # The return first, then the label: the order every transition locks them in.
        ret = (
            Return.objects.select_for_update(of=("self",)).select_related("order").get(pk=return_id)
        )
        locking = Label.objects.select_for_update(of=("self",)).select_related("facility")
        label = locking.get(pk=label_id)
        incoming: dict[str, TrackingEvent] = {}
        for scan in scans:
            status = normalize_status(scan.status)
            at = scan.at or received
            message, location = scan.message[:2000], scan.location[:200]
            key = _fingerprint(status, at, message, location)
            incoming.setdefault(
                key,
                TrackingEvent(
                    merchant_id=label.merchant_id,
                    label=label,
                    status=status,
                    carrier_status=str(scan.status)[:100],
                    occurred_at=at,
                    message=message,
                    location=location,
                    source=source,
                    webhook=webhook,
                    fingerprint=key,
                ),
            )
        known = set(
            TrackingEvent.objects.filter(label=label, fingerprint__in=list(incoming)).values_list(
                "fingerprint", flat=True
            )
        )
        new = [event for key, event in incoming.items() if key not in known]
        TrackingEvent.objects.bulk_create(new)
        history = list(
            TrackingEvent.objects.filter(label=label).values_list("status", "occurred_at")
        )
        summary = tracking_summarize(history)
        label.tracking_status = summary.status
        label.tracking_status_at = summary.status_at
        label.first_scan_at = summary.first_scan_at
        label.delivered_at = summary.delivered_at
        label.tracking_updated_at = now
        label.save(
            update_fields=[
                "tracking_status",
                "tracking_status_at",
                "first_scan_at",
                "delivered_at",
                "tracking_updated_at",
                "updated_at",
            ]
        )
        if new:
            _move_return(ret, label, summary, new)
    return new


def _move_return(
    ret: Return, label: Label, summary: TrackingSummary, new: list[TrackingEvent]
) -> None:
    actor = Actor.system(f"carrier {label.carrier or label.adapter}")
    timing = str(ret.decision.get("refund_timing") or "")
    tracking = {
        "status": summary.status,
        "first_scan_at": summary.first_scan_at.isoformat() if summary.first_scan_at else None,
        "delivered_at": summary.delivered_at.isoformat() if summary.delivered_at else None,
    }
    base_payload: dict[str, Any] = {"label": label_summary(label), "tracking": tracking}
    moving = summary.furthest >= IN_TRANSIT_RANK
    if moving and ret.status in RELEASED_STATUSES:
        if any(PROGRESS.get(e.status, 0) >= IN_TRANSIT_RANK for e in new):
            return_exception_flag(
                ret=ret,
                reason=f"The carrier is moving a parcel for this {ret.status} return "
                f"(tracking {label.tracking_number}); staff must decide what happens when "
                "it arrives.",
                actor=actor,
                payload=base_payload,
            )
        return
    if moving and RETURN_IN_TRANSIT in TRANSITIONS.get(ret.status, frozenset()):
        # The policy may pay the refund at the first scan; the refunds issue acts on it.
        return_transition(
            ret=ret,
            to_status=RETURN_IN_TRANSIT,
            actor=actor,
            reason="the carrier's first scan",
            payload={
                **base_payload,
                "refund_timing": timing or None,
                "refund_may_be_due": timing == "first_scan",
            },
        )
    exceptions = [e for e in new if e.status in EXCEPTIONS]
    if exceptions:
        latest = max(exceptions, key=lambda e: e.occurred_at)
        return_exception_flag(
            ret=ret,
            reason=f"Carrier exception on tracking {label.tracking_number}: {_describe(latest)}",
            actor=actor,
            payload={**base_payload, "carrier_status": latest.status},
        )
    delivered_back = (
        summary.delivered_at is not None
        and summary.returned_to_sender_at is not None
        and summary.returned_to_sender_at <= summary.delivered_at
    )
    if delivered_back:
        if any(e.status == DELIVERED for e in new):
            return_exception_flag(
                ret=ret,
                reason="The carrier delivered the parcel after returning it to sender: it is "
                f"probably back with the shopper, not at the facility (tracking "
                f"{label.tracking_number}).",
                actor=actor,
                payload=base_payload,
            )
    elif summary.delivered_at is not None and RETURN_DELIVERED in TRANSITIONS.get(
        ret.status, frozenset()
    ):
        return_transition(
            ret=ret,
            to_status=RETURN_DELIVERED,
            actor=actor,
            reason=f"the carrier delivered it to facility {label.facility.code}",
            payload={
                **base_payload,
                "refund_timing": timing or None,
                "refund_may_be_due": timing == "delivery",
            },
        )


# --- polling ---


def label_track_poll(*, merchant_id: int, label_id: int, now: datetime | None = None) -> bool:
    """Ask the label's carrier where the parcel is and apply the answer; answers whether the
    carrier answered."""
    now = now or timezone.now()
    with merchant_scope(merchant_id):
        label = Label.objects.select_related("return_request__merchant").get(pk=label_id)
        Label.objects.filter(pk=label_id).update(tracking_polled_at=now)
        adapter = adapter_for(
            label.adapter, carrier_settings_for(merchant=label.return_request.merchant)
        )
        if not adapter.available():
            return False
        try:
            info = adapter.track(tracking_number=label.tracking_number, carrier=label.carrier)
        except CarrierError as exc:
            logger.warning("tracking %s could not be polled: %s", label.tracking_number, exc)
            return False
        if info is None:
            return False
        scans: Sequence[base.TrackingEvent] = info.events
        if not scans and normalize_status(info.status) != "unknown":
            scans = (base.TrackingEvent(status=info.status, at=None),)
        tracking_apply(label_id=label.pk, scans=scans, source=SOURCE_POLL, now=now)
        return True


def labels_poll_tracking(*, now: datetime | None = None, limit: int = 100) -> int:
    """The polling job: active labels of returns still on their way, from carriers that can
    be asked; hourly for a carrier without webhooks, twice a day as a safety net for one with
    them. Answers how many the carriers answered."""
    now = now or timezone.now()
    with scopes_disabled():
        due = list(
            Label.objects.filter(
                status=ACTIVE,
                kind=MODE_LABEL,
                adapter__in=TRACKABLE_ADAPTERS,
                return_request__status__in=TRACKED_RETURN_STATUSES,
            )
            .exclude(tracking_number="")
            .filter(Q(tracking_polled_at__isnull=True) | Q(tracking_polled_at__lt=now - POLL_EVERY))
            .order_by(F("tracking_polled_at").asc(nulls_first=True), "pk")
            .values_list("merchant_id", "pk", "adapter", "tracking_polled_at")[: limit * 4]
        )
    answered = 0
    polled = 0
    for merchant_id, label_id, adapter, polled_at in due:
        every = POLL_EVERY_WITH_WEBHOOKS if webhook_secrets(adapter) else POLL_EVERY
        if polled_at is not None and polled_at > now - every:
            continue
        if polled >= limit:
            break
        polled += 1
        try:
            answered += label_track_poll(merchant_id=merchant_id, label_id=label_id, now=now)
        except Exception:  # one label's trouble must not stop the others
            logger.exception("polling label %s failed", label_id)
    return answered
