"""Shopper e-mails: one transactional e-mail for each event a shopper cares about (issue 8).

- **Fan-out.** `email_fan_out`, registered with the dispatcher, turns an outbox row of one of
  `SHOPPER_EVENTS` into one `EmailDelivery` per recipient, inside the fan-out transaction. The
  unique (message, to_email) makes a second run a no-op.
- **Sending.** The worker's `email_deliveries_send_due` claims due deliveries with a lease,
  renders each in the merchant's locale and branding (`email_render.py`), sends it through
  Django's mailer and records `sent`. An error backs off and retries (`attempts`, `last_error`
  and `next_attempt_at` stay visible); after `MAX_ATTEMPTS` the delivery is `failed` with its
  error. A crash between the send and its record sends the e-mail again: at least once.
- **What the apps above add** (the facts of the return, the label, the status link, the
  timeline entry) comes through the registries of `email_hooks.py`.
"""

from __future__ import annotations

import logging
import os
import smtplib
import socket
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone, translation
from django_scopes import scopes_disabled

from returndesk.core.ids import new_public_id
from returndesk.core.leases import claim_due
from returndesk.notifications.email_hooks import (
    ReturnFacts,
    outcome_callbacks,
    ran_of,
    return_facts,
)
from returndesk.notifications.email_render import email_build, email_subject
from returndesk.notifications.models import EmailDelivery, OutboxMessage
from returndesk.tenants.models import Merchant

logger = logging.getLogger(__name__)

SHOPPER_EVENTS = frozenset(
    {
        "return.created",
        "return.authorized",
        "return.pending_review",
        "return.rejected",
        "return.in_transit",
        "return.received",
        "return.inspected",
        "refund.succeeded",
        "store_credit.issued",
        "exchange.released",
        "return.expired",
        "return.cancelled",
    }
)

# Told to the merchant's support address rather than a shopper.
MERCHANT_EVENTS = frozenset({"webhook_endpoint.disabled"})
LEASE = timedelta(minutes=2)  # well above the SMTP timeout (settings: EMAIL_TIMEOUT)
BACKOFF = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=6),
)
MAX_ATTEMPTS = 6  # about nine hours of trying, then `failed`
WAIT_STEP = timedelta(seconds=30)  # how soon an e-mail waiting for its label is looked at again


# ----------------------------------------------------------------------------------------------
# Fan-out: outbox row -> deliveries


def email_recipient(message: OutboxMessage) -> str:
    """Whom the shopper e-mail for this outbox row goes to; empty for none.

    Store credit goes to the account credited (a gift's recipient for a gift return). A refund
    paid as store credit is told by the `store_credit.issued` e-mail, not a second one. Anything
    about a return goes to its shopper as the returns app knows them: for a gift return the
    recipient, never the buyer (the outbox data carries the buyer's address, for merchants)."""
    data: dict[str, Any] = message.payload.get("data") or {}
    if message.type in MERCHANT_EVENTS:
        return Merchant.objects.get(pk=message.merchant_id).support_email
    if message.type not in SHOPPER_EVENTS:
        return ""
    if message.type == "store_credit.issued":
        return str(data.get("email") or "")
    if message.type == "refund.succeeded" and data.get("kind") == "store_credit":
        return ""
    facts = return_facts(message.merchant_id, ran_of(data))
    if facts is not None:
        return facts.email
    return str(data.get("email") or "")


def email_fan_out(message: OutboxMessage) -> None:
    """The dispatcher's handler: one delivery per (event, recipient). Safe to run twice."""
    to_email = email_recipient(message)
    if not to_email:
        return
    merchant = Merchant.objects.get(pk=message.merchant_id)
    try:
        with translation.override(merchant.locale or "en"):
            subject = email_subject(merchant, message.type, message.payload.get("data") or {})
    except Exception:
        # Only shown to staff until the send writes it again: an odd payload must not stop the
        # fan-out the merchant's webhooks share.
        logger.exception("no subject for %s %s", message.type, message.event_id)
        subject = ""
    with scopes_disabled():
        EmailDelivery.objects.get_or_create(
            message=message,
            to_email=to_email,
            defaults={
                "merchant_id": message.merchant_id,
                "public_id": new_public_id("eml"),
                "event_type": message.type,
                "ran": ran_of(message.payload.get("data") or {}),
                "subject": subject[:300],
                "next_attempt_at": timezone.now(),
            },
        )


# ----------------------------------------------------------------------------------------------
# Sending


def _worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def email_deliveries_send_due(limit: int = 50) -> int:
    """The worker's job: send the e-mails that are due, oldest first; answers how many it took."""
    worker = _worker_id()
    with scopes_disabled():
        ids = claim_due(
            EmailDelivery._base_manager.filter(state=EmailDelivery.PENDING),
            worker_id=worker,
            now=timezone.now(),
            lease=LEASE,
            limit=limit,
        )
    for pk in ids:
        email_delivery_send(pk, worker=worker)
    return len(ids)


# A refusal that will not change on a retry: the address itself is refused.
PERMANENT = (smtplib.SMTPRecipientsRefused,)


def email_delivery_send(pk: int, *, worker: str | None = None) -> str:
    """Render and send one delivery, then record what happened; answers its state afterwards.
    With `worker`, only while that worker still holds the delivery's lease."""
    with scopes_disabled():
        delivery = EmailDelivery._base_manager.select_related("message", "merchant").get(pk=pk)
        if delivery.state != EmailDelivery.PENDING:
            return delivery.state
        if worker is not None and delivery.claimed_by != worker:
            return delivery.state  # the lease ran out and another worker has it
        merchant = delivery.merchant
        facts: ReturnFacts | None = None
        try:
            facts = return_facts(merchant.pk, delivery.ran)
            with translation.override(merchant.locale or "en"):
                email = email_build(delivery, merchant, facts)
            if email is None:
                return _wait(delivery)
            email.send(using="default")
        except Exception as exc:
            logger.warning("e-mail %s (%s) not sent: %s", delivery.public_id, delivery.ran, exc)
            return _record_failure(delivery, exc, permanent=isinstance(exc, PERMANENT))
        return _record_sent(delivery, str(email.subject))


def _wait(delivery: EmailDelivery) -> str:
    EmailDelivery._base_manager.filter(pk=delivery.pk).update(
        next_attempt_at=timezone.now() + WAIT_STEP, claimed_until=None, claimed_by=""
    )
    return delivery.state


def _record_sent(delivery: EmailDelivery, subject: str) -> str:
    with transaction.atomic():
        row = EmailDelivery._base_manager.select_for_update().get(pk=delivery.pk)
        row.state = EmailDelivery.SENT
        row.attempts += 1
        row.subject = subject[:300]
        row.sent_at = timezone.now()
        row.last_error = ""
        row.next_attempt_at = None
        row.claimed_until = None
        row.save()
        _tell(row)
    return row.state


def _record_failure(delivery: EmailDelivery, exc: Exception, *, permanent: bool) -> str:
    with transaction.atomic():
        row = EmailDelivery._base_manager.select_for_update().get(pk=delivery.pk)
        row.attempts += 1
        row.last_error = f"{type(exc).__name__}: {exc}"[:2000]
        row.claimed_until = None
        if permanent or row.attempts >= MAX_ATTEMPTS:
            row.state = EmailDelivery.FAILED
            row.next_attempt_at = None
        else:
            step = BACKOFF[min(row.attempts - 1, len(BACKOFF) - 1)]
            row.next_attempt_at = timezone.now() + step
        row.save()
        if row.state == EmailDelivery.FAILED:
            _tell(row)
    return row.state


def _tell(row: EmailDelivery) -> None:
    # The delivery row is the record; a listener that fails must not undo it (and so send the
    # e-mail again), so each runs in a savepoint of its own and its error is logged.
    for callback in outcome_callbacks():
        try:
            with transaction.atomic():
                callback(row)
        except Exception:
            logger.exception("e-mail outcome listener failed for %s", row.public_id)


def email_deliveries_of_return(*, ran: str) -> list[EmailDelivery]:
    """The shopper e-mails about a return, oldest first (call inside its merchant's scope)."""
    return list(
        EmailDelivery.objects.filter(ran=ran).select_related("message").order_by("created_at", "id")
    )
