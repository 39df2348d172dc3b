"""Stored carrier webhooks are pruned after their retention (rejected and ignored: 30 days,
processed: 180 days); the ones staff must still look at stay, and so does the tracking
history a pruned webhook brought."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from returndesk.core.ids import new_public_id
from returndesk.core.scheduling import PERIODIC_JOBS
from returndesk.core.tenancy import merchant_scope
from returndesk.shipping import services
from returndesk.shipping.models import (
    WEBHOOK_FAILED,
    WEBHOOK_IGNORED,
    WEBHOOK_PENDING,
    WEBHOOK_PROCESSED,
    WEBHOOK_REJECTED,
    WEBHOOK_UNMATCHED,
    CarrierWebhook,
    TrackingEvent,
)
from returndesk.shipping.services import carrier_webhooks_prune
from returndesk.tenants.models import Merchant
from tests.conftest import ApiClient
from tests.shipping.tracking_helpers import (
    GENERIC_SECRET,
    at,
    generic_body,
    generic_headers,
    post_webhook,
    run_webhook_tasks,
    travelling_return,
)

pytestmark = pytest.mark.django_db


def stored(state: str, age: timedelta) -> str:
    row = CarrierWebhook.objects.create(
        public_id=new_public_id("cwh"),
        carrier="prepaid",
        format="generic",
        body=b"{}",
        signature_valid=state != WEBHOOK_REJECTED,
        state=state,
    )
    # created_at is set on insert; age the row as the worker would find it
    CarrierWebhook.objects.filter(pk=row.pk).update(created_at=timezone.now() - age)
    return row.public_id


def remaining() -> set[str]:
    return set(CarrierWebhook.objects.values_list("public_id", flat=True))


def test_it_deletes_rejected_and_ignored_after_30_days_and_processed_after_180() -> None:
    day = timedelta(days=1)
    gone = {
        stored(WEBHOOK_REJECTED, 31 * day),
        stored(WEBHOOK_IGNORED, 31 * day),
        stored(WEBHOOK_PROCESSED, 181 * day),
    }
    kept = {
        stored(WEBHOOK_REJECTED, 29 * day),
        stored(WEBHOOK_IGNORED, 29 * day),
        stored(WEBHOOK_PROCESSED, 179 * day),
        stored(WEBHOOK_PROCESSED, 31 * day),
        # staff still have to deal with these, however old
        stored(WEBHOOK_FAILED, 400 * day),
        stored(WEBHOOK_UNMATCHED, 400 * day),
        stored(WEBHOOK_PENDING, 400 * day),
    }

    assert carrier_webhooks_prune() == 3

    assert remaining() == kept
    assert not remaining() & gone
    assert carrier_webhooks_prune() == 0  # safe to run twice


def test_the_tracking_history_outlives_its_webhook(
    api: ApiClient, merchant: Merchant, settings: Any
) -> None:
    settings.RETURNDESK_CARRIER_WEBHOOK_SECRETS = f"prepaid={GENERIC_SECRET}"
    travelling_return(api, merchant, tracking="RD555000111US", adapter="prepaid")
    body = generic_body("evt-old", "RD555000111US", "in_transit", at(1))
    assert post_webhook("prepaid", body, generic_headers(body)).status_code == 202
    run_webhook_tasks()
    webhook = CarrierWebhook.objects.get(event_id="evt-old")
    assert webhook.state == WEBHOOK_PROCESSED
    CarrierWebhook.objects.filter(pk=webhook.pk).update(
        created_at=timezone.now() - timedelta(days=200)
    )

    assert carrier_webhooks_prune() == 1

    with merchant_scope(merchant):
        [event] = TrackingEvent.objects.all()
        assert event.status == "in_transit" and event.webhook_id is None
        assert event.label.tracking_status == "in_transit"


def test_a_run_stops_after_its_batches_and_the_next_one_goes_on(monkeypatch: Any) -> None:
    monkeypatch.setattr(services, "PRUNE_BATCH", 2)
    monkeypatch.setattr(services, "PRUNE_MAX_BATCHES", 2)
    for _ in range(5):
        stored(WEBHOOK_REJECTED, timedelta(days=40))

    assert carrier_webhooks_prune() == 4
    assert carrier_webhooks_prune() == 1
    assert remaining() == set()


def test_the_worker_runs_it_on_a_schedule() -> None:
    job = {j.name: j for j in PERIODIC_JOBS}["prune_carrier_webhooks"]
    assert job.load() is carrier_webhooks_prune
    assert job.every <= timedelta(days=1)
