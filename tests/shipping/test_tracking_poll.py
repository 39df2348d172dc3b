"""The polling job for carriers without webhooks, and two deliveries of one event racing."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from returndesk.core.scheduling import PERIODIC_JOBS
from returndesk.returns.models import ReturnEvent
from returndesk.shipping import tracking
from returndesk.shipping.carriers.base import TrackingEvent as Scan
from returndesk.shipping.carriers.base import TrackingInfo
from returndesk.shipping.models import CarrierWebhook, Label, TrackingEvent
from returndesk.shipping.tracking import carrier_webhook_process, labels_poll_tracking
from returndesk.tenants.models import Merchant
from tests.conftest import ApiClient
from tests.shipping.tracking_helpers import (
    EASYPOST_SECRET,
    easypost_body,
    easypost_headers,
    post_webhook,
    return_status,
    travelling_return,
)


class FakeCarrier:
    code = "easypost"

    def __init__(self, statuses: list[str]) -> None:
        self.statuses = statuses
        self.asked: list[str] = []

    def available(self) -> bool:
        return True

    def track(self, *, tracking_number: str, carrier: str) -> TrackingInfo:
        self.asked.append(tracking_number)
        base = datetime(2026, 11, 20, 9, tzinfo=UTC)
        events = tuple(
            Scan(status=s, at=base + timedelta(hours=i), message=f"{s} scan")
            for i, s in enumerate(self.statuses)
        )
        return TrackingInfo(tracking_number, self.statuses[-1], events)


@pytest.fixture
def carrier(monkeypatch: pytest.MonkeyPatch) -> FakeCarrier:
    fake = FakeCarrier(["pre_transit", "in_transit"])
    monkeypatch.setattr(tracking, "adapter_for", lambda code, settings: fake)
    return fake


@pytest.mark.django_db
def test_polling_applies_what_the_carrier_answers(
    api: ApiClient, merchant: Merchant, carrier: FakeCarrier, settings: Any
) -> None:
    settings.RETURNDESK_EASYPOST_WEBHOOK_SECRET = ""  # no webhooks: polled hourly
    shipped = travelling_return(api, merchant, tracking="EZPOLL1")
    assert labels_poll_tracking() == 1
    assert carrier.asked == ["EZPOLL1"]
    assert return_status(shipped["ran"]) == "in_transit"
    events = TrackingEvent.objects.with_scopes_disabled().all()  # type: ignore[attr-defined]
    assert {e.source for e in events} == {"poll"}
    # not asked again within the hour; asked again after it, and nothing is doubled
    assert labels_poll_tracking() == 0
    carrier.statuses = ["pre_transit", "in_transit", "delivered"]
    assert labels_poll_tracking(now=timezone.now() + timedelta(minutes=61)) == 1
    assert return_status(shipped["ran"]) == "delivered"
    assert events.all().count() == 3
    # a delivered return is not polled any more
    assert labels_poll_tracking(now=timezone.now() + timedelta(hours=3)) == 0


@pytest.mark.django_db
def test_a_carrier_with_webhooks_is_polled_rarely(
    api: ApiClient, merchant: Merchant, carrier: FakeCarrier, settings: Any
) -> None:
    settings.RETURNDESK_EASYPOST_WEBHOOK_SECRET = EASYPOST_SECRET
    travelling_return(api, merchant, tracking="EZPOLL2")
    assert labels_poll_tracking() == 1
    assert labels_poll_tracking(now=timezone.now() + timedelta(hours=2)) == 0
    assert labels_poll_tracking(now=timezone.now() + timedelta(hours=13)) == 1


@pytest.mark.django_db
def test_prepaid_labels_are_not_polled(
    api: ApiClient, merchant: Merchant, carrier: FakeCarrier
) -> None:
    travelling_return(api, merchant, tracking="RDPOLL", adapter="prepaid")
    assert labels_poll_tracking() == 0
    assert carrier.asked == []


def test_the_worker_runs_the_tracking_jobs() -> None:
    targets = {job.name: job.target for job in PERIODIC_JOBS}
    assert targets["poll_carrier_tracking"] == "returndesk.shipping.tracking.labels_poll_tracking"
    assert (
        targets["process_carrier_webhooks"]
        == "returndesk.shipping.tracking.carrier_webhooks_process_due"
    )
    for job in PERIODIC_JOBS:
        job.load()


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_deliveries_of_one_event_racing_apply_once(
    api: ApiClient, merchant: Merchant, settings: Any
) -> None:
    settings.RETURNDESK_EASYPOST_WEBHOOK_SECRET = EASYPOST_SECRET
    shipped = travelling_return(api, merchant, tracking="EZRACE1")
    body = easypost_body("evt_race", "EZRACE1", ["pre_transit", "in_transit"])
    headers = easypost_headers(body)
    barrier = threading.Barrier(4)
    answers: list[int] = []

    def deliver() -> None:
        try:
            barrier.wait()
            answers.append(post_webhook("easypost", body, headers).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(answers) == [200, 200, 200, 202]
    assert CarrierWebhook.objects.count() == 1
    # the same scans under a second event id, and both processed at once
    again = easypost_body("evt_race_2", "EZRACE1", ["pre_transit", "in_transit"])
    assert post_webhook("easypost", again, easypost_headers(again)).status_code == 202
    ids = list(CarrierWebhook.objects.values_list("pk", flat=True))
    states: list[str] = []
    barrier2 = threading.Barrier(len(ids) * 2)

    def process(pk: int) -> None:
        try:
            barrier2.wait()
            states.append(carrier_webhook_process(webhook_id=pk))
        finally:
            connection.close()

    workers = [threading.Thread(target=process, args=(pk,)) for pk in ids * 2]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    assert sorted(states) == ["processed", "processed", "skipped", "skipped"]
    assert TrackingEvent.objects.with_scopes_disabled().count() == 2  # type: ignore[attr-defined]
    moved = ReturnEvent.objects.with_scopes_disabled().filter(type="return.in_transit")  # type: ignore[attr-defined]
    assert moved.count() == 1
    assert return_status(shipped["ran"]) == "in_transit"
    assert Label.objects.with_scopes_disabled().get().tracking_status == "in_transit"  # type: ignore[attr-defined]
