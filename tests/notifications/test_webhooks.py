"""Merchant webhooks end to end against a real receiver on loopback that verifies each request
with the standardwebhooks library: fan-out, signing, retries with the same webhook-id, bad
receivers, the backoff schedule, auto-disable, and secret rotation."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail as djmail
from django.db.models import F
from django.utils import timezone
from django_scopes import scopes_disabled
from standardwebhooks import Webhook

from returndesk.core.audit import audit_entries
from returndesk.notifications import webhook_http, webhooks
from returndesk.notifications.dispatch import outbox_dispatch_due
from returndesk.notifications.emails import email_deliveries_send_due
from returndesk.notifications.models import (
    OutboxMessage,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from returndesk.notifications.webhooks import (
    SCHEDULE,
    webhook_deliveries_send_due,
    webhook_endpoint_create,
    webhook_endpoint_rotate_secret,
    webhook_endpoint_update,
)
from returndesk.tenants.models import Merchant
from tests.notifications.conftest import ACTOR, emit
from tests.notifications.receiver import Receiver

pytestmark = pytest.mark.django_db

Endpoints = Callable[..., tuple[WebhookEndpoint, str]]


def deliveries(**filters: Any) -> list[WebhookDelivery]:
    with scopes_disabled():
        return list(WebhookDelivery.objects.filter(**filters).order_by("pk"))


def attempts(delivery: WebhookDelivery) -> list[WebhookAttempt]:
    with scopes_disabled():
        return list(WebhookAttempt.objects.filter(delivery=delivery).order_by("number"))


def make_due(delivery: WebhookDelivery) -> None:
    """Time passes until the next attempt is due."""
    with scopes_disabled():
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            next_attempt_at=timezone.now() - timedelta(seconds=1)
        )


def refused_url() -> str:
    """A loopback port nobody listens on: every attempt is refused at once."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/gone"


def test_each_event_reaches_each_subscribed_endpoint_once_signed(
    merchant: Merchant, other_merchant: Merchant, receiver: Receiver, endpoint_at: Endpoints
) -> None:
    everything, _ = endpoint_at(merchant, "/all")
    endpoint_at(merchant, "/refunds", event_types=["refund.succeeded"])
    off, _ = endpoint_at(merchant, "/off")
    webhook_endpoint_update(
        actor=ACTOR, merchant=merchant, public_id=off.public_id, changes={"enabled": False}
    )
    endpoint_at(other_merchant, "/globex")

    created = emit(merchant, "return.created", ran="RKQ4M2XD9TPH7")
    refunded = emit(merchant, "refund.succeeded", refund="rfd_1")
    emit(merchant, "return.unit_inspected")  # a timeline event, not a webhook event type
    outbox_dispatch_due()  # a second fan-out adds nothing
    assert webhook_deliveries_send_due() == 3

    got = {(a.path, a.webhook_id) for a in receiver.arrivals}
    assert got == {
        ("/all", created.event_id),
        ("/all", refunded.event_id),
        ("/refunds", refunded.event_id),
    }
    assert not receiver.at("/off") and not receiver.at("/globex")  # isolation
    for arrival in receiver.arrivals:
        assert arrival.verified_by == [0]
        assert arrival.signature.startswith("v1,") and " " not in arrival.signature
        assert abs(int(arrival.timestamp) - time.time()) < 60
    first = next(a for a in receiver.at("/all") if a.webhook_id == created.event_id)
    with scopes_disabled():
        assert first.payload == OutboxMessage.objects.get(pk=created.pk).payload
    assert set(first.payload) == {"id", "type", "timestamp", "data"}
    assert first.payload["id"] == created.event_id and first.payload["type"] == "return.created"

    assert {d.state for d in deliveries()} == {"delivered"}
    assert webhook_deliveries_send_due() == 0  # nothing is sent twice
    assert len(receiver.arrivals) == 3
    [only] = deliveries(endpoint=everything, event_id=created.event_id)
    [attempt] = attempts(only)
    assert attempt.succeeded and attempt.status_code == 200 and attempt.response_excerpt == "ok"
    assert attempt.duration_ms is not None and not attempt.manual


def test_a_500_is_retried_later_with_the_same_webhook_id(
    merchant: Merchant, receiver: Receiver, endpoint_at: Endpoints
) -> None:
    endpoint, _ = endpoint_at(merchant, "/flaky")
    receiver.script("/flaky", ("status", 500, b"<h1>Internal error</h1>" + b"!" * 900))
    message = emit(merchant)
    before = timezone.now()
    webhook_deliveries_send_due()
    [delivery] = deliveries()
    assert delivery.state == "pending" and delivery.attempts == 1
    assert delivery.last_status_code == 500 and delivery.last_error == "HTTP 500"
    wait = delivery.next_attempt_at - before
    assert SCHEDULE[0] <= wait <= SCHEDULE[0] + timedelta(seconds=5)
    [failed] = attempts(delivery)
    assert failed.status_code == 500 and not failed.succeeded
    assert failed.response_excerpt.startswith("<h1>Internal error</h1>")
    assert len(failed.response_excerpt) == 500
    with scopes_disabled():
        endpoint.refresh_from_db()
    assert endpoint.failing_since is not None

    assert webhook_deliveries_send_due() == 0  # not due yet
    make_due(delivery)
    webhook_deliveries_send_due()
    delivery.refresh_from_db()
    assert delivery.state == "delivered" and delivery.delivered_at is not None
    assert [a.webhook_id for a in receiver.at("/flaky")] == [message.event_id] * 2
    assert [a.verified_by for a in receiver.at("/flaky")] == [[0], [0]]
    assert [(a.number, a.succeeded) for a in attempts(delivery)] == [(1, False), (2, True)]
    with scopes_disabled():
        endpoint.refresh_from_db()
    assert endpoint.failing_since is None  # a success ends the streak


def test_a_receiver_that_does_not_answer_in_time_is_cut_off(
    merchant: Merchant, receiver: Receiver, endpoint_at: Endpoints, settings: Any
) -> None:
    settings.RETURNDESK_WEBHOOK_TIMEOUT = 1.0
    endpoint_at(merchant, "/slow")
    receiver.script("/slow", ("sleep", 5))
    emit(merchant)
    started = time.monotonic()
    webhook_deliveries_send_due()
    assert time.monotonic() - started < 3
    [delivery] = deliveries()
    [attempt] = attempts(delivery)
    assert delivery.state == "pending" and attempt.status_code is None
    assert attempt.error == "no answer within 1 s"
    assert 900 <= (attempt.duration_ms or 0) < 2500


@pytest.mark.parametrize(
    ("behaviour", "error"),
    [
        (("garbage",), "not an HTTP answer"),
        (("close",), "not an HTTP answer"),
        (("status", 302, b"elsewhere"), "HTTP 302"),  # redirects are not followed
    ],
)
def test_garbage_answers_are_failures_with_a_reason(
    merchant: Merchant,
    receiver: Receiver,
    endpoint_at: Endpoints,
    behaviour: tuple[Any, ...],
    error: str,
) -> None:
    endpoint_at(merchant, "/garbage")
    receiver.script("/garbage", behaviour)
    emit(merchant)
    webhook_deliveries_send_due()
    [delivery] = deliveries()
    assert delivery.state == "pending"
    assert delivery.last_error.startswith(error), delivery.last_error


def test_a_huge_answer_is_read_only_for_its_excerpt(
    merchant: Merchant, receiver: Receiver, endpoint_at: Endpoints
) -> None:
    endpoint_at(merchant, "/big")
    receiver.script("/big", ("big", 200, 5_000_000))
    emit(merchant)
    webhook_deliveries_send_due()
    [delivery] = deliveries()
    [attempt] = attempts(delivery)
    assert delivery.state == "delivered" and attempt.response_excerpt == "x" * 500


def test_a_slow_receiver_does_not_delay_another_endpoint(
    merchant: Merchant, receiver: Receiver, endpoint_at: Endpoints
) -> None:
    """One receiver sleeps 10 s (the default deadline): the other endpoint's delivery is
    recorded within the same batch, as soon as it is answered, not after the sleeper."""
    slow, _ = endpoint_at(merchant, "/sleeper", event_types=["return.created"])
    fast, _ = endpoint_at(merchant, "/quick", event_types=["refund.succeeded"])
    receiver.script("/sleeper", *[("sleep", 10)] * 12)
    for _ in range(10):  # a backlog for the sleeper, due first: it does not fill the batch
        emit(merchant, "return.created")
    emit(merchant, "refund.succeeded")
    started = timezone.now()
    clock = time.monotonic()
    webhook_deliveries_send_due(budget_seconds=0)  # one batch
    took = time.monotonic() - clock
    [quick] = deliveries(endpoint=fast)
    assert quick.state == "delivered" and quick.delivered_at is not None
    assert (quick.delivered_at - started).total_seconds() < 2
    sleeping = deliveries(endpoint=slow)
    tried = [d for d in sleeping if d.attempts]
    assert len(tried) == webhooks.PER_ENDPOINT  # the sleeper's share of the batch
    for first in (attempts(d)[0] for d in tried):  # cut off at the deadline, or answered at it
        assert first.error == "no answer within 10 s" or first.status_code == 200
        assert (first.duration_ms or 0) >= 9500
    assert took < 13  # the batch waited for its deadline once, not once per sleeper


def test_the_backoff_schedule_and_giving_up_after_three_days(
    merchant: Merchant,
) -> None:
    endpoint, _ = webhook_endpoint_create(actor=ACTOR, merchant=merchant, url=refused_url())
    emit(merchant)
    [delivery] = deliveries()
    waits = []
    for _ in range(len(SCHEDULE) + 2):
        before = timezone.now()
        webhook_deliveries_send_due()
        delivery.refresh_from_db()
        assert delivery.state == "pending"
        waits.append(delivery.next_attempt_at - before)
        with scopes_disabled():  # keep the streak young: this test is about the schedule
            WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=timezone.now())
        make_due(delivery)
    expected = [*SCHEDULE, SCHEDULE[-1], SCHEDULE[-1]]
    for wait, step in zip(waits, expected, strict=True):
        assert step <= wait <= step + timedelta(seconds=5)
    assert attempts(delivery)[0].error == "connection refused"

    # near the three-day mark (counted from the first attempt) the last wait is cut short to
    # it, and one last attempt is made there
    first_started = timezone.now() - timedelta(days=3) + timedelta(hours=1)
    with scopes_disabled():
        WebhookAttempt.objects.filter(delivery=delivery, number=1).update(started_at=first_started)
        # the endpoint's streak began with that attempt, as it would have
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=first_started)
    make_due(delivery)
    webhook_deliveries_send_due()
    delivery.refresh_from_db()
    assert delivery.next_attempt_at == first_started + timedelta(days=3)
    assert delivery.state == "pending"
    with scopes_disabled():
        endpoint.refresh_from_db()
    assert endpoint.enabled

    # an hour later that last attempt fails too: the delivery is failed, and the endpoint,
    # which has answered nothing for three days, is disabled at once
    later = timedelta(hours=1, seconds=1)
    with scopes_disabled():
        WebhookAttempt.objects.filter(delivery=delivery).update(started_at=F("started_at") - later)
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=first_started - later)
    make_due(delivery)
    webhook_deliveries_send_due()
    delivery.refresh_from_db()
    assert delivery.state == "failed" and delivery.next_attempt_at is None
    assert delivery.attempts == len(SCHEDULE) + 4
    with scopes_disabled():
        endpoint.refresh_from_db()
    assert not endpoint.enabled and endpoint.disabled_reason.startswith("disabled automatically")


def test_an_endpoint_failing_for_three_days_is_disabled_and_the_merchant_told(
    merchant: Merchant, receiver: Receiver, endpoint_at: Endpoints
) -> None:
    endpoint_at(merchant, "/watcher", event_types=["webhook_endpoint.disabled"])
    broken, _ = webhook_endpoint_create(actor=ACTOR, merchant=merchant, url=refused_url())
    emit(merchant)
    emit(merchant, "return.authorized")
    webhook_deliveries_send_due()
    with scopes_disabled():
        broken.refresh_from_db()
        assert broken.enabled and broken.failing_since is not None
        # two days and a half later it still fails: still enabled
        WebhookEndpoint.objects.filter(pk=broken.pk).update(
            failing_since=timezone.now() - timedelta(days=2, hours=12)
        )
    first, second = deliveries(endpoint=broken)
    make_due(first)
    webhook_deliveries_send_due()
    with scopes_disabled():
        broken.refresh_from_db()
        assert broken.enabled
        # three days of failures, no success in between: the next failure disables it
        WebhookEndpoint.objects.filter(pk=broken.pk).update(
            failing_since=timezone.now() - timedelta(days=3)
        )
    make_due(first)
    webhook_deliveries_send_due()
    with scopes_disabled():
        broken.refresh_from_db()
    assert not broken.enabled and broken.disabled_at is not None
    assert broken.disabled_reason.startswith("disabled automatically")
    assert {d.state for d in deliveries(endpoint=broken)} == {"cancelled"}
    with scopes_disabled():
        told = OutboxMessage.objects.get(type="webhook_endpoint.disabled")
    assert told.payload["data"]["endpoint"] == broken.public_id
    assert told.payload["data"]["url"] == broken.url
    entries = audit_entries(merchant_id=merchant.pk, include_provider=False)
    assert entries.filter(action="webhooks.endpoint_disabled").count() == 1

    merchant.support_email = "ops@acme.example"
    merchant.save()
    outbox_dispatch_due()
    webhook_deliveries_send_due()
    [note] = receiver.at("/watcher")
    assert note.payload["type"] == "webhook_endpoint.disabled" and note.verified_by == [0]
    email_deliveries_send_due()  # and the merchant's support address is e-mailed
    [mail] = [m for m in djmail.outbox if m.to == ["ops@acme.example"]]
    assert broken.url in mail.subject and "three days" in mail.body
    emit(merchant)  # a disabled endpoint gets no new deliveries
    assert len(deliveries(endpoint=broken)) == 2 and second.pk


def test_a_rotated_secret_signs_beside_the_old_one_for_a_day(
    merchant: Merchant, receiver: Receiver, endpoint_at: Endpoints
) -> None:
    endpoint, old = endpoint_at(merchant, "/rotating")
    rotated, new = webhook_endpoint_rotate_secret(
        actor=ACTOR, merchant=merchant, public_id=endpoint.public_id
    )
    assert new != old and new.startswith("whsec_")
    assert rotated.previous_secret_expires_at is not None
    receiver.secrets["/rotating"] = [old, new]
    emit(merchant)
    webhook_deliveries_send_due()
    [during] = receiver.at("/rotating")
    assert len(during.signature.split(" ")) == 2
    assert during.verified_by == [0, 1]  # a receiver with either secret accepts it

    with scopes_disabled():
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
            previous_secret_expires_at=timezone.now() - timedelta(seconds=1)
        )
    emit(merchant)
    webhook_deliveries_send_due()
    after = receiver.at("/rotating")[1]
    assert len(after.signature.split(" ")) == 1
    assert after.verified_by == [1]  # only the new secret now


def test_the_secret_is_stored_encrypted_and_signs_as_standard_webhooks_says(
    merchant: Merchant,
) -> None:
    endpoint, secret = webhook_endpoint_create(
        actor=ACTOR, merchant=merchant, url="https://hooks.example.com/returns"
    )
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT secret FROM notifications_webhookendpoint WHERE id = %s", [endpoint.pk]
        )
        stored = cursor.fetchone()[0]
    assert secret not in stored and stored.startswith("fernet:")
    at = timezone.now()
    body = webhooks.body_of({"id": "evt_1", "type": "return.created", "data": {}})
    headers = webhooks.signed_headers(event_id="evt_1", body=body, keys=[secret], at=at)
    assert Webhook(secret).verify(body, headers) == json.loads(body)
    assert headers["webhook-id"] == "evt_1"
    assert headers["webhook-timestamp"] == str(int(at.timestamp()))


@pytest.mark.parametrize(
    ("url", "loopback", "problem"),
    [
        ("https://hooks.example.com/returns?x=1", False, None),
        ("https://93.184.215.14/hook", False, None),
        ("http://127.0.0.1:8000/hook", True, None),
        ("https://localhost/hook", True, None),
        ("http://127.0.0.1:8000/hook", False, "must be a public address, not this machine"),
        ("https://[::1]/hook", False, "must be a public address, not this machine"),
        ("http://hooks.example.com/", True, "must use https"),
        ("https://192.168.1.20/", True, "must be a public address"),
        ("https://[fe80::1]/", True, "must be a public address"),
        ("https://0.0.0.0/", True, "must be a public address"),
        ("https://me:pw@hooks.example.com/", True, "must not carry a user name or password"),
        ("file:///etc/passwd", True, "must be an https:// URL"),
        ("https://hooks.example.com:99999/", True, "is not a URL"),
    ],
)
def test_which_urls_may_receive_webhooks(url: str, loopback: bool, problem: str | None) -> None:
    assert webhook_http.url_problem(url, allow_loopback=loopback) == problem


def test_a_name_that_resolves_to_a_private_address_is_not_called(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """In production a public-looking name that points inside is refused at sending time."""
    monkeypatch.setattr(webhook_http, "_resolve", lambda host, port: ["93.184.215.14", "10.0.0.5"])
    answer = webhook_http.post(
        "https://rebind.example.com/hook", b"{}", {}, timeout=1, allow_loopback=False
    )
    assert answer.status_code is None and not answer.succeeded
    assert answer.error == "rebind.example.com resolves to an address that is not allowed"
