"""Merchant webhooks: endpoints, the fan-out of outbox events into deliveries, and sending them
signed per Standard Webhooks (docs/webhooks.md, docs/decisions/0013-merchant-webhooks.md).

- An endpoint is a URL, the event types it wants (none: all) and a `whsec_` secret shown once.
  Rotating the secret keeps the old one signing beside the new one for 24 hours.
- The outbox fan-out (`webhook_deliveries_fan_out`, registered in apps.py) writes one
  `WebhookDelivery` per enabled endpoint subscribed to the event's type; (endpoint, event id) is
  unique, so running it twice adds nothing.
- The worker's `webhook_deliveries_send_due` claims due deliveries with a lease and sends a
  bounded batch at once, each request on its own thread with a hard deadline, while this thread
  records the answers as they come: a slow receiver holds only its own deliveries. The body is
  the outbox payload; `webhook-id` is the event id on every attempt.
- Failures back off (`SCHEDULE`) for up to three days, then the delivery is `failed`. An
  endpoint that has answered nothing but failures for three days is disabled, its pending
  deliveries cancelled, and a `webhook_endpoint.disabled` event tells the merchant.
- Staff redeliver a delivery (a manual attempt, same `webhook-id`) or ping an endpoint.

Lock order, everywhere: the endpoint row, then its delivery rows.
"""

from __future__ import annotations

import base64
import functools
import json
import logging
import os
import secrets
import socket
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Min, Q, QuerySet
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables
from django_scopes import scopes_disabled
from standardwebhooks import Webhook

from returndesk.core.actors import Actor
from returndesk.core.audit import audit_record
from returndesk.core.errors import Conflict, FieldError, NotFound, ValidationFailed
from returndesk.core.ids import new_public_id
from returndesk.core.leases import claim_due
from returndesk.core.secrets import SecretUnreadable
from returndesk.core.tenancy import merchant_scope
from returndesk.notifications import webhook_http
from returndesk.notifications.models import (
    OutboxMessage,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from returndesk.notifications.services import outbox_enqueue
from returndesk.tenants.models import Merchant

logger = logging.getLogger(__name__)

# The events of API.md ("Webhook events to merchants"), and the one webhooks add themselves.
ENDPOINT_DISABLED = "webhook_endpoint.disabled"
PING = "webhook.ping"
EVENT_TYPES: tuple[str, ...] = (
    "return.created",
    "return.pending_review",
    "return.authorized",
    "return.rejected",
    "return.cancelled",
    "return.expired",
    "return.label_created",
    "return.in_transit",
    "return.delivered",
    "return.lost",
    "return.received",
    "return.inspected",
    "return.completed",
    "refund.succeeded",
    "refund.failed",
    "adjustment.opened",
    "store_credit.issued",
    "exchange.requested",
    "exchange.released",
    "exchange.fulfilled",
    "inventory.restocked",
    "sla.breached",
    ENDPOINT_DISABLED,
)
MAX_ENDPOINTS = 20  # per merchant

# Waits between automatic attempts: the n-th failure waits SCHEDULE[n-1] (the last one repeats)
# until three days after its first attempt; one last attempt is made at that mark.
SCHEDULE: tuple[timedelta, ...] = (
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=10),
    timedelta(minutes=30),
    timedelta(hours=1),
    timedelta(hours=2),
    timedelta(hours=4),
    timedelta(hours=8),
    timedelta(hours=16),
    timedelta(hours=24),
)
GIVE_UP_AFTER = timedelta(days=3)
DISABLE_AFTER = timedelta(days=3)  # of failures with no success in between
PREVIOUS_SECRET_KEPT = timedelta(hours=24)
LEASE = timedelta(minutes=2)  # > the deadline of a request plus recording its answer
BATCH = 16  # deliveries sent at once by one worker
PER_ENDPOINT = 4  # of a batch: one endpoint's backlog leaves room for the others
JOB_BUDGET_SECONDS = 20.0  # the job takes batches until then, then lets the other jobs run


def _in_scope[**P, R](service: Callable[P, R]) -> Callable[P, R]:
    """Run a service inside the scope of its `merchant` argument: callable from the API, the
    console, the CLI and tests alike."""

    @functools.wraps(service)
    def scoped(*args: P.args, **kwargs: P.kwargs) -> R:
        with merchant_scope(kwargs["merchant"]):
            return service(*args, **kwargs)

    return scoped


def timeout_seconds() -> float:
    return float(getattr(settings, "RETURNDESK_WEBHOOK_TIMEOUT", 10.0))


def allow_loopback() -> bool:
    return bool(getattr(settings, "RETURNDESK_WEBHOOKS_ALLOW_LOOPBACK", False))


def new_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def signing_secrets(endpoint: WebhookEndpoint, now: datetime) -> list[str]:
    found = [endpoint.secret]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret and expires is not None and expires > now:
        found.append(endpoint.previous_secret)
    return found


def body_of(payload: dict[str, Any]) -> str:
    """The bytes sent (as text): the outbox payload, as JSON."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


def signed_headers(
    *, event_id: str, body: str, keys: Iterable[str], at: datetime
) -> dict[str, str]:
    """The Standard Webhooks headers, one `v1,` signature per secret (space-separated)."""
    seconds = int(at.timestamp())
    moment = datetime.fromtimestamp(seconds, tz=UTC)
    signatures = " ".join(Webhook(key).sign(event_id, moment, body) for key in keys)
    return {
        "webhook-id": event_id,
        "webhook-timestamp": str(seconds),
        "webhook-signature": signatures,
    }


# --- endpoints ---------------------------------------------------------------------------


def _checked_url(url: str) -> str:
    url = (url or "").strip()
    problem = webhook_http.url_problem(url, allow_loopback=allow_loopback()) if url else None
    if not url:
        problem = "is required"
    if problem:
        raise ValidationFailed.on("url", problem)
    return url


def _checked_types(event_types: Iterable[str] | None) -> list[str]:
    chosen: list[str] = []
    errors: list[FieldError] = []
    for i, name in enumerate(event_types or ()):
        if name not in EVENT_TYPES:
            errors.append(FieldError(f"event_types[{i}]", f"'{name}' is not an event type"))
        elif name not in chosen:
            chosen.append(name)
    if errors:
        raise ValidationFailed("; ".join(f"{e.field}: {e.message}" for e in errors), errors=errors)
    return chosen


def _validated(given: dict[str, Any]) -> dict[str, Any]:
    """The url, description and event types given, checked together: every field's error at
    once, or the values to save."""
    errors: list[FieldError] = []
    values: dict[str, Any] = {}
    checks = {"url": _checked_url, "event_types": _checked_types}
    for name, value in given.items():
        if name == "description":
            values[name] = (value or "").strip()
            if len(values[name]) > 200:
                errors.append(FieldError("description", "is longer than 200 characters"))
            continue
        try:
            values[name] = checks[name](value)
        except ValidationFailed as exc:
            errors.extend(exc.errors)
    if errors:
        raise ValidationFailed("; ".join(f"{e.field}: {e.message}" for e in errors), errors=errors)
    return values


def _snapshot(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {
        "url": endpoint.url,
        "description": endpoint.description,
        "event_types": list(endpoint.event_types),
        "enabled": endpoint.enabled,
    }


def webhook_endpoints_query(*, merchant: Merchant) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(merchant=merchant)


@_in_scope
def webhook_endpoint_get(*, merchant: Merchant, public_id: str) -> WebhookEndpoint:
    endpoint = WebhookEndpoint.objects.filter(merchant=merchant, public_id=public_id).first()
    if endpoint is None:
        raise NotFound(f"No webhook endpoint {public_id}.")
    return endpoint


@_in_scope
@sensitive_variables("secret", "values")
def webhook_endpoint_create(
    *,
    actor: Actor,
    merchant: Merchant,
    url: str,
    description: str = "",
    event_types: Iterable[str] | None = None,
    enabled: bool = True,
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its secret, which is shown this once."""
    values = _validated({"url": url, "description": description, "event_types": event_types})
    secret = new_secret()
    with transaction.atomic():
        Merchant.objects.select_for_update().filter(pk=merchant.pk).first()  # count, then add
        if WebhookEndpoint.objects.filter(merchant=merchant).count() >= MAX_ENDPOINTS:
            raise Conflict(
                f"A merchant has at most {MAX_ENDPOINTS} webhook endpoints.",
                code="too_many_endpoints",
            )
        endpoint = WebhookEndpoint.objects.create(
            merchant=merchant,
            public_id=new_public_id("whep"),
            url=values["url"],
            description=values["description"],
            event_types=values["event_types"],
            secret=secret,
            enabled=enabled,
            disabled_at=None if enabled else timezone.now(),
            disabled_reason="" if enabled else "created disabled",
        )
        audit_record(
            actor=actor,
            action="webhooks.endpoint_created",
            object_type="webhook_endpoint",
            object_ref=endpoint.public_id,
            merchant_id=merchant.pk,
            changes={"after": _snapshot(endpoint)},
        )
    return endpoint, secret


@_in_scope
def webhook_endpoint_update(
    *, actor: Actor, merchant: Merchant, public_id: str, changes: dict[str, Any]
) -> WebhookEndpoint:
    """Change the URL, description, event types or enabled flag (only the keys given)."""
    values = _validated({k: v for k, v in changes.items() if k != "enabled"})
    with transaction.atomic():
        endpoint = _locked(merchant, public_id)
        before = _snapshot(endpoint)
        for name, value in values.items():
            setattr(endpoint, name, value)
        endpoint.save()
        if "enabled" in changes and changes["enabled"] is not None:
            if changes["enabled"] and not endpoint.enabled:
                _enable(endpoint)
            elif not changes["enabled"] and endpoint.enabled:
                _disable(endpoint, reason=f"disabled by {actor.label}", announce=False)
        after = _snapshot(endpoint)
        if after != before:
            audit_record(
                actor=actor,
                action="webhooks.endpoint_updated",
                object_type="webhook_endpoint",
                object_ref=endpoint.public_id,
                merchant_id=merchant.pk,
                changes={"before": before, "after": after},
            )
    return endpoint


def webhook_endpoint_disable(
    *, actor: Actor, merchant: Merchant, public_id: str
) -> WebhookEndpoint:
    return webhook_endpoint_update(
        actor=actor, merchant=merchant, public_id=public_id, changes={"enabled": False}
    )


def webhook_endpoint_enable(*, actor: Actor, merchant: Merchant, public_id: str) -> WebhookEndpoint:
    return webhook_endpoint_update(
        actor=actor, merchant=merchant, public_id=public_id, changes={"enabled": True}
    )


@_in_scope
@sensitive_variables("secret")
def webhook_endpoint_rotate_secret(
    *, actor: Actor, merchant: Merchant, public_id: str
) -> tuple[WebhookEndpoint, str]:
    """A new secret, shown this once; the old one keeps signing beside it for 24 hours (one
    rotation back: rotating again drops the oldest)."""
    secret = new_secret()
    now = timezone.now()
    with transaction.atomic():
        endpoint = _locked(merchant, public_id)
        endpoint.previous_secret = endpoint.secret
        endpoint.previous_secret_expires_at = now + PREVIOUS_SECRET_KEPT
        endpoint.secret = secret
        endpoint.save()
        audit_record(
            actor=actor,
            action="webhooks.secret_rotated",
            object_type="webhook_endpoint",
            object_ref=endpoint.public_id,
            merchant_id=merchant.pk,
            changes={"previous_secret_expires_at": endpoint.previous_secret_expires_at.isoformat()},
        )
    return endpoint, secret


def _locked(merchant: Merchant, public_id: str) -> WebhookEndpoint:
    endpoint = (
        WebhookEndpoint.objects.select_for_update()
        .filter(merchant=merchant, public_id=public_id)
        .first()
    )
    if endpoint is None:
        raise NotFound(f"No webhook endpoint {public_id}.")
    return endpoint


def _enable(endpoint: WebhookEndpoint) -> None:
    endpoint.enabled = True
    endpoint.disabled_at = None
    endpoint.disabled_reason = ""
    endpoint.failing_since = None
    endpoint.save()


def _disable(endpoint: WebhookEndpoint, *, reason: str, announce: bool) -> None:
    """Under the endpoint's lock: no more deliveries; the pending ones are cancelled (staff may
    redeliver them). With `announce`, the merchant is told by a webhook_endpoint.disabled event."""
    now = timezone.now()
    endpoint.enabled = False
    endpoint.disabled_at = now
    endpoint.disabled_reason = reason[:300]
    endpoint.save()
    WebhookDelivery._base_manager.filter(
        endpoint_id=endpoint.pk, state=WebhookDelivery.PENDING
    ).update(
        state=WebhookDelivery.CANCELLED,
        next_attempt_at=None,
        last_error="cancelled: the endpoint was disabled",
    )
    if announce:
        outbox_enqueue(
            merchant_id=endpoint.merchant_id,
            type=ENDPOINT_DISABLED,
            data={
                "endpoint": endpoint.public_id,
                "url": endpoint.url,
                "reason": endpoint.disabled_reason,
                "failing_since": endpoint.failing_since.isoformat()
                if endpoint.failing_since
                else None,
                "disabled_at": now.isoformat(),
            },
        )


# --- deliveries: selectors ------------------------------------------------------------------


def webhook_deliveries_query(
    *, endpoint: WebhookEndpoint, state: str | None = None, event_type: str | None = None
) -> QuerySet[WebhookDelivery]:
    found = WebhookDelivery.objects.filter(endpoint=endpoint)
    if state:
        found = found.filter(state=state)
    if event_type:
        found = found.filter(event_type=event_type)
    return found


def webhook_delivery_get(*, endpoint: WebhookEndpoint, public_id: str) -> WebhookDelivery:
    with merchant_scope(endpoint.merchant_id):
        delivery = WebhookDelivery.objects.filter(endpoint=endpoint, public_id=public_id).first()
    if delivery is None:
        raise NotFound(f"No delivery {public_id} for this endpoint.")
    return delivery


def webhook_attempts_of(delivery: WebhookDelivery) -> list[WebhookAttempt]:
    return sorted(delivery.tries.all(), key=lambda a: a.number)


# --- fan-out ------------------------------------------------------------------------------


def webhook_deliveries_fan_out(message: OutboxMessage) -> None:
    """The outbox fan-out handler: one delivery per enabled endpoint of the message's merchant
    that wants its type. Idempotent (unique endpoint and event id)."""
    if message.type not in EVENT_TYPES:
        return
    endpoints = WebhookEndpoint._base_manager.filter(
        merchant_id=message.merchant_id, enabled=True
    ).only("pk", "event_types")
    now = timezone.now()
    rows = [
        WebhookDelivery(
            merchant_id=message.merchant_id,
            public_id=new_public_id("whdl"),
            endpoint_id=endpoint.pk,
            message=message,
            event_id=message.event_id,
            event_type=message.type,
            payload=message.payload,
            next_attempt_at=now,
        )
        for endpoint in endpoints
        if not endpoint.event_types or message.type in endpoint.event_types
    ]
    if rows:
        WebhookDelivery._base_manager.bulk_create(rows, ignore_conflicts=True)


# --- sending -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outgoing:
    delivery_pk: int
    endpoint_pk: int
    url: str
    body: bytes
    headers: dict[str, str]
    started_at: datetime


def _outgoing(delivery: WebhookDelivery, endpoint: WebhookEndpoint) -> Outgoing:
    now = timezone.now()
    body = body_of(delivery.payload)
    headers = signed_headers(
        event_id=delivery.event_id, body=body, keys=signing_secrets(endpoint, now), at=now
    )
    return Outgoing(delivery.pk, endpoint.pk, endpoint.url, body.encode(), headers, now)


def _send(outgoing: Outgoing) -> webhook_http.Answer:
    return webhook_http.post(
        outgoing.url,
        outgoing.body,
        outgoing.headers,
        timeout=timeout_seconds(),
        allow_loopback=allow_loopback(),
    )


def _next_attempt(delivery: WebhookDelivery, now: datetime) -> datetime | None:
    """When to try again after an automatic failure, or None to give up: three days after the
    first automatic attempt began (the time a failure streak starting with it counts from)."""
    automatic = WebhookAttempt._base_manager.filter(
        delivery_id=delivery.pk, manual=False
    ).aggregate(count=Count("pk"), first=Min("started_at"))
    step = SCHEDULE[min(max(automatic["count"], 1) - 1, len(SCHEDULE) - 1)]
    deadline = (automatic["first"] or now) + GIVE_UP_AFTER
    if now >= deadline:
        return None
    return min(now + step, deadline)


def _record(
    outgoing: Outgoing, answer: webhook_http.Answer, *, manual: bool, claim: str
) -> WebhookDelivery:
    """Write one attempt and move the delivery and its endpoint on, in one transaction."""
    now = timezone.now()
    with scopes_disabled(), transaction.atomic():
        endpoint = WebhookEndpoint._base_manager.select_for_update().get(pk=outgoing.endpoint_pk)
        delivery = WebhookDelivery._base_manager.select_for_update().get(pk=outgoing.delivery_pk)
        number = delivery.attempts + 1
        WebhookAttempt._base_manager.create(
            merchant_id=delivery.merchant_id,
            delivery=delivery,
            number=number,
            started_at=outgoing.started_at,
            duration_ms=answer.duration_ms,
            status_code=answer.status_code,
            response_excerpt=answer.excerpt,
            error=answer.error,
            succeeded=answer.succeeded,
            manual=manual,
        )
        delivery.attempts = number
        delivery.last_status_code = answer.status_code
        delivery.last_error = answer.error or (
            "" if answer.succeeded else f"HTTP {answer.status_code}"
        )
        if delivery.claimed_by == claim:
            delivery.claimed_until = None
            delivery.claimed_by = ""
        ping = delivery.message_id is None
        if answer.succeeded:
            delivery.state = WebhookDelivery.DELIVERED
            delivery.delivered_at = now
            delivery.next_attempt_at = None
            if endpoint.failing_since is not None:
                endpoint.failing_since = None
                endpoint.save(update_fields=["failing_since", "updated_at"])
        elif delivery.state == WebhookDelivery.PENDING and ping:
            delivery.state = WebhookDelivery.FAILED  # a ping is tried once
            delivery.next_attempt_at = None
        elif delivery.state == WebhookDelivery.PENDING and not manual:
            following = _next_attempt(delivery, now)
            if following is None:
                delivery.state = WebhookDelivery.FAILED
                delivery.next_attempt_at = None
            else:
                delivery.next_attempt_at = following
        delivery.save()
        if not answer.succeeded and not manual and not ping:
            _note_failure(endpoint, since=outgoing.started_at, now=now)
    return delivery


def _note_failure(endpoint: WebhookEndpoint, *, since: datetime, now: datetime) -> None:
    """An automatic attempt (begun at `since`) failed: start the endpoint's streak, or end it by
    disabling the endpoint once it has lasted DISABLE_AFTER. A delivery's last attempt, three
    days after its first, therefore disables an endpoint that has not answered since."""
    if endpoint.failing_since is None:
        endpoint.failing_since = since
        endpoint.save(update_fields=["failing_since", "updated_at"])
        return
    if endpoint.enabled and now - endpoint.failing_since >= DISABLE_AFTER:
        _disable(
            endpoint,
            reason=(
                "disabled automatically: every delivery failed since "
                f"{endpoint.failing_since:%Y-%m-%d %H:%M} UTC"
            ),
            announce=True,
        )
        audit_record(
            actor=Actor.system("webhook deliveries"),
            action="webhooks.endpoint_disabled",
            object_type="webhook_endpoint",
            object_ref=endpoint.public_id,
            merchant_id=endpoint.merchant_id,
            changes={"reason": endpoint.disabled_reason},
        )


def _worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _claim_batch(worker: str, now: datetime, limit: int) -> list[int]:
    """Claim up to `limit` due deliveries of enabled endpoints, at most PER_ENDPOINT each."""
    due = WebhookDelivery._base_manager.filter(
        state=WebhookDelivery.PENDING,
        endpoint__in=WebhookEndpoint._base_manager.filter(enabled=True).values("pk"),
    )
    candidates = (
        due.filter(next_attempt_at__lte=now)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .order_by("next_attempt_at", "pk")
        .values_list("pk", "endpoint_id")[: limit * 4]
    )
    per_endpoint: Counter[int] = Counter()
    picked: list[int] = []
    for pk, endpoint_pk in candidates:
        if per_endpoint[endpoint_pk] < PER_ENDPOINT:
            per_endpoint[endpoint_pk] += 1
            picked.append(pk)
            if len(picked) >= limit:
                break
    if not picked:
        return []
    return claim_due(due.filter(pk__in=picked), worker_id=worker, now=now, lease=LEASE, limit=limit)


def _send_batch(ids: list[int], worker: str) -> int:
    deliveries = list(
        WebhookDelivery._base_manager.filter(pk__in=ids, state=WebhookDelivery.PENDING)
    )
    endpoints: dict[int, WebhookEndpoint | str] = {}
    outgoing: list[Outgoing] = []
    for delivery in deliveries:
        if delivery.endpoint_id not in endpoints:
            try:
                endpoints[delivery.endpoint_id] = WebhookEndpoint._base_manager.get(
                    pk=delivery.endpoint_id
                )
            except SecretUnreadable:
                logger.error("webhook endpoint %s: its secret cannot be read", delivery.endpoint_id)
                endpoints[delivery.endpoint_id] = "the endpoint's secret cannot be read"
        endpoint = endpoints[delivery.endpoint_id]
        if isinstance(endpoint, str):
            unsent = Outgoing(delivery.pk, delivery.endpoint_id, "", b"", {}, timezone.now())
            _record(unsent, webhook_http.Answer(None, "", endpoint, 0), manual=False, claim=worker)
            continue
        outgoing.append(_outgoing(delivery, endpoint))
    if not outgoing:
        return len(deliveries)
    with ThreadPoolExecutor(max_workers=len(outgoing), thread_name_prefix="webhook") as pool:
        futures: dict[Future[webhook_http.Answer], Outgoing] = {
            pool.submit(_send, item): item for item in outgoing
        }
        for future in as_completed(futures):
            item = futures[future]
            try:
                answer = future.result()
            except Exception as exc:  # a bug of ours, not the receiver's: still an attempt
                logger.exception("sending webhook delivery %s failed", item.delivery_pk)
                answer = webhook_http.Answer(None, "", f"{type(exc).__name__}: {exc}"[:300], 0)
            try:
                _record(item, answer, manual=False, claim=worker)
            except Exception:
                # the lease runs out and the delivery is sent again: at least once
                logger.exception("recording webhook delivery %s failed", item.delivery_pk)
    return len(deliveries)


def webhook_deliveries_send_due(
    limit: int = BATCH, *, budget_seconds: float = JOB_BUDGET_SECONDS
) -> int:
    """The worker's job: send due deliveries, a batch at a time, until none is due or the
    budget is spent. Answers how many were tried."""
    worker = _worker_id()
    started = timezone.now()
    tried = 0
    with scopes_disabled():
        while True:
            now = timezone.now()
            ids = _claim_batch(worker, now, limit)
            if not ids:
                break
            tried += _send_batch(ids, worker)
            if (timezone.now() - started).total_seconds() >= budget_seconds:
                break
    return tried


def _send_now(delivery: WebhookDelivery, endpoint: WebhookEndpoint) -> WebhookDelivery:
    """Claim a delivery for a request of staff, send it and record a manual attempt."""
    claim = f"manual:{uuid.uuid4().hex[:12]}"
    now = timezone.now()
    with scopes_disabled():
        taken = (
            WebhookDelivery._base_manager.filter(pk=delivery.pk)
            .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
            .update(claimed_until=now + LEASE, claimed_by=claim)
        )
    if not taken:
        raise Conflict(
            "This delivery is being sent right now; look again in a moment.",
            code="delivery_in_progress",
        )
    item = _outgoing(delivery, endpoint)
    _record(item, _send(item), manual=True, claim=claim)
    with scopes_disabled():
        return WebhookDelivery._base_manager.get(pk=delivery.pk)


@_in_scope
def webhook_delivery_redeliver(
    *, actor: Actor, merchant: Merchant, endpoint_id: str, delivery_id: str
) -> WebhookDelivery:
    """Staff send a delivery again now, whatever its state: a manual attempt with the same
    `webhook-id`. A success makes it delivered; a failure changes nothing but the log."""
    endpoint = webhook_endpoint_get(merchant=merchant, public_id=endpoint_id)
    delivery = webhook_delivery_get(endpoint=endpoint, public_id=delivery_id)
    audit_record(
        actor=actor,
        action="webhooks.delivery_redelivered",
        object_type="webhook_delivery",
        object_ref=delivery.public_id,
        merchant_id=merchant.pk,
        changes={"endpoint": endpoint.public_id, "event_id": delivery.event_id},
    )
    return _send_now(delivery, endpoint)


@_in_scope
def webhook_endpoint_ping(*, actor: Actor, merchant: Merchant, public_id: str) -> WebhookDelivery:
    """Send a `webhook.ping` event to one endpoint now (enabled or not), once, and answer the
    delivery with its attempt."""
    endpoint = webhook_endpoint_get(merchant=merchant, public_id=public_id)
    now = timezone.now()
    event_id = new_public_id("evt")
    payload = {
        "id": event_id,
        "type": PING,
        "timestamp": now.isoformat(),
        "data": {"endpoint": endpoint.public_id},
    }
    delivery = WebhookDelivery.objects.create(
        merchant=merchant,
        public_id=new_public_id("whdl"),
        endpoint=endpoint,
        message=None,
        event_id=event_id,
        event_type=PING,
        payload=payload,
        # should this request die before recording, the worker sends it once the lease ends
        next_attempt_at=now + LEASE,
    )
    audit_record(
        actor=actor,
        action="webhooks.endpoint_pinged",
        object_type="webhook_endpoint",
        object_ref=endpoint.public_id,
        merchant_id=merchant.pk,
        changes={"delivery": delivery.public_id},
    )
    return _send_now(delivery, endpoint)
