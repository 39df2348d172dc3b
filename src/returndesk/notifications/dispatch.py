"""Fanning the outbox out into deliveries.

Every event that must leave the system is an `OutboxMessage`, written in the transaction of the
change. The worker's `outbox_dispatch_due` job claims pending rows (a lease, so two workers never
take the same row and a killed worker's rows come back) and, in one transaction per row, lets
every registered fan-out handler turn it into delivery rows: a `WebhookDelivery` per subscribed
endpoint, an `EmailDelivery` per shopper e-mail, a write-back to a shop system. The row is then
`delivered` (fanned out). Each delivery has its own lease, attempts and backoff, so a slow or
broken receiver delays only itself.

Handlers register at app start (`on_dispatch`), from whichever app owns the delivery: apps above
notifications (returns, shipping, integrations) may add theirs without notifications importing
them. A handler must be idempotent: unique constraints on (event, receiver) make a second run a
no-op.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from django_scopes import scopes_disabled

from returndesk.core.leases import claim_due
from returndesk.notifications.models import OutboxMessage

logger = logging.getLogger(__name__)

FanOut = Callable[[OutboxMessage], None]
_handlers: dict[str, FanOut] = {}

LEASE = timedelta(minutes=2)
BACKOFF = (timedelta(seconds=30), timedelta(minutes=2), timedelta(minutes=10), timedelta(hours=1))
MAX_ATTEMPTS = 12


def on_dispatch(name: str, handler: FanOut) -> None:
    """Register `handler(message)` to run for every outbox row, inside its fan-out transaction."""
    _handlers[name] = handler


def dispatch_handlers() -> dict[str, FanOut]:
    return dict(_handlers)


def outbox_dispatch(message_pk: int) -> str:
    """Fan one outbox row out; answers its state afterwards. Safe to run twice."""
    with scopes_disabled(), transaction.atomic():
        message = OutboxMessage._base_manager.select_for_update().get(pk=message_pk)
        if message.state != OutboxMessage.STATE_PENDING:
            return message.state
        try:
            with transaction.atomic():
                for handler in _handlers.values():
                    handler(message)
        except Exception as exc:
            logger.exception("fanning out %s %s failed", message.type, message.event_id)
            message.attempts += 1
            message.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            message.claimed_until = None
            if message.attempts >= MAX_ATTEMPTS:
                message.state = OutboxMessage.STATE_FAILED
            else:
                step = BACKOFF[min(message.attempts - 1, len(BACKOFF) - 1)]
                message.next_attempt_at = timezone.now() + step
            message.save()
            return message.state
        message.state = OutboxMessage.STATE_DELIVERED
        message.attempts += 1
        message.last_error = ""
        message.claimed_until = None
        message.save()
        return message.state


def outbox_dispatch_due(limit: int = 200) -> int:
    """The worker's job: fan out the outbox rows that are due, oldest first."""
    worker = f"{socket.gethostname()}:{os.getpid()}"
    with scopes_disabled():
        ids = claim_due(
            OutboxMessage._base_manager.filter(state=OutboxMessage.STATE_PENDING),
            worker_id=worker,
            now=timezone.now(),
            lease=LEASE,
            limit=limit,
        )
    for pk in ids:
        outbox_dispatch(pk)
    return len(ids)
