"""Fixtures for merchant webhooks: a loopback receiver that verifies signatures the way a
merchant would (receiver.py), endpoints pointing at it, and events sent through the outbox."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django_scopes import scopes_disabled

from returndesk.core.actors import Actor
from returndesk.notifications.dispatch import outbox_dispatch_due
from returndesk.notifications.models import OutboxMessage, WebhookEndpoint
from returndesk.notifications.services import outbox_enqueue
from returndesk.notifications.webhooks import webhook_endpoint_create
from returndesk.tenants.models import Merchant
from tests.notifications.receiver import Receiver, serve_in_thread

ACTOR = Actor.system("tests")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with serve_in_thread() as running:
        yield running


@pytest.fixture
def endpoint_at(receiver: Receiver) -> Callable[..., tuple[WebhookEndpoint, str]]:
    """An endpoint of `merchant` at `path` on the receiver, which verifies with its secret."""

    def make(
        merchant: Merchant, path: str = "/hooks", event_types: list[str] | None = None
    ) -> tuple[WebhookEndpoint, str]:
        endpoint, secret = webhook_endpoint_create(
            actor=ACTOR, merchant=merchant, url=receiver.url(path), event_types=event_types
        )
        receiver.secrets[path] = [secret]
        return endpoint, secret

    return make


def emit(merchant: Merchant, type: str = "return.created", **data: Any) -> OutboxMessage:
    """An event through the outbox and its fan-out, as a change would write it."""
    with scopes_disabled():
        message = outbox_enqueue(
            merchant_id=merchant.pk, type=type, data=data or {"ran": "RKQ4M2XD9TPH7"}
        )
    outbox_dispatch_due()
    return message
