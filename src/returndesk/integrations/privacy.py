"""A customer's personal data in shop integrations: the raw order webhooks a shop sent about the
person's orders, which carry their name, e-mail, phone and addresses (core/privacy.py says how
the apps' privacy modules fit together).

Erasure redacts those bodies and keeps the rows (topic, state, delivery id, which order it
wrote), so the record of what arrived and what was done with it stays. A webhook is the
person's when it wrote or was about one of their orders, or, for one that never got that far,
when its body names their e-mail.
"""

from __future__ import annotations

import json
from typing import Any

from django.db.models import Q, QuerySet

from returndesk.core.privacy import REDACTED_BODY, Subject
from returndesk.integrations.models import InboundWebhook, ShopOrder


def _readable(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return body.decode("utf-8", "replace")


def _webhook_ids(subject: Subject) -> list[int]:
    external_ids = ShopOrder.objects.filter(order_id__in=subject.order_ids).values_list(
        "external_id", flat=True
    )
    hooks = InboundWebhook.objects.filter(merchant_id=subject.merchant_id)
    ids = list(
        hooks.filter(
            Q(order_number__in=subject.order_numbers) | Q(resource_id__in=list(external_ids))
        ).values_list("pk", flat=True)
    )
    # Those that never reached an order (failed, rejected): read for the e-mail.
    needle = subject.email.encode()
    unmatched = hooks.filter(order_number="").exclude(pk__in=ids).only("pk", "body")
    ids += [h.pk for h in unmatched.iterator() if needle in bytes(h.body).lower()]
    return ids


def _webhooks(subject: Subject) -> QuerySet[InboundWebhook]:
    return InboundWebhook.objects.filter(pk__in=_webhook_ids(subject)).order_by("created_at", "pk")


def export(subject: Subject) -> dict[str, Any]:
    return {
        "shop_webhooks": [
            {
                "id": h.public_id,
                "shop": h.kind,
                "topic": h.topic,
                "state": h.state,
                "received_at": h.created_at,
                "body": _readable(bytes(h.body)),
            }
            for h in _webhooks(subject)
        ]
    }


def erase(subject: Subject) -> dict[str, int]:
    redacted = _webhooks(subject).update(body=REDACTED_BODY.encode())
    return {"shop_webhooks": redacted}
