"""The /webhook-endpoints API of API.md: the secret shown once and never cached, validation,
rotation, ping and redelivery against a real receiver, the delivery log, and isolation."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_scopes import scopes_disabled

from returndesk.notifications.models import WebhookDelivery
from returndesk.notifications.webhooks import webhook_deliveries_send_due
from returndesk.tenants.models import Merchant
from tests.conftest import ApiClient
from tests.notifications.conftest import emit
from tests.notifications.receiver import Receiver

pytestmark = pytest.mark.django_db


def create(api: ApiClient, receiver: Receiver, path: str = "/hooks", **body: Any) -> Any:
    answer = api.post("/webhook-endpoints", {"url": receiver.url(path), **body})
    assert answer.status_code == 201, answer.content
    receiver.secrets[path] = [answer.json()["secret"]]
    return answer


def test_an_endpoint_is_created_with_its_secret_shown_once(
    api: ApiClient, receiver: Receiver
) -> None:
    answer = create(
        api, receiver, description="ERP", event_types=["return.created", "refund.succeeded"]
    )
    assert answer["Cache-Control"] == "no-store"
    body = answer.json()
    assert body["id"].startswith("whep_") and body["secret"].startswith("whsec_")
    assert body["event_types"] == ["return.created", "refund.succeeded"]
    assert body["enabled"] is True and body["description"] == "ERP"
    assert body["secret_hint"] == "…" + body["secret"][-4:]
    listed = api.get("/webhook-endpoints").json()
    assert [e["id"] for e in listed["data"]] == [body["id"]]
    assert "secret" not in listed["data"][0] and listed["next_cursor"] is None
    assert body["secret"] not in api.get("/webhook-endpoints").content.decode()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "ftp://example.com/hook"}, "url"),
        ({"url": "http://hooks.example.com/returns"}, "url"),  # http only to loopback
        ({"url": "https://user:pw@hooks.example.com/"}, "url"),
        ({"url": "https://10.0.0.7/hook"}, "url"),
        ({"url": "https://169.254.169.254/latest"}, "url"),
        (
            {"url": "https://hooks.example.com/", "event_types": ["return.teleported"]},
            "event_types[0]",
        ),
        ({"url": "https://hooks.example.com/", "events": []}, "events"),
    ],
)
def test_bad_endpoints_are_refused_field_by_field(
    api: ApiClient, body: dict[str, Any], field: str
) -> None:
    answer = api.post("/webhook-endpoints", body)
    assert answer.status_code == 422, answer.content
    assert field in [e["field"] for e in answer.json()["errors"]]


def test_an_endpoint_is_changed_disabled_and_enabled(api: ApiClient, receiver: Receiver) -> None:
    endpoint = create(api, receiver).json()
    path = f"/webhook-endpoints/{endpoint['id']}"
    changed = api.send("PATCH", path, {"event_types": ["return.authorized"], "description": "x"})
    assert changed.status_code == 200
    assert changed.json()["event_types"] == ["return.authorized"]
    refused = api.send("PATCH", path, {"url": "http://example.com/"})
    assert refused.status_code == 422
    off = api.send("PATCH", path, {"enabled": False}).json()
    assert off["enabled"] is False and off["disabled_reason"].startswith("disabled by api key")
    on = api.send("PATCH", path, {"enabled": True}).json()
    assert on["enabled"] is True and on["disabled_reason"] is None
    assert api.send("PATCH", path, {"enabled": False, "colour": "red"}).status_code == 422


def test_rotation_shows_the_new_secret_once_and_both_sign_for_a_day(
    api: ApiClient, merchant: Merchant, receiver: Receiver
) -> None:
    endpoint = create(api, receiver).json()
    rotated = api.post(f"/webhook-endpoints/{endpoint['id']}/rotate-secret", None)
    assert rotated.status_code == 200 and rotated["Cache-Control"] == "no-store"
    new = rotated.json()["secret"]
    assert new != endpoint["secret"] and rotated.json()["previous_secret_expires_at"]
    receiver.secrets["/hooks"] = [endpoint["secret"], new]
    emit(merchant)
    webhook_deliveries_send_due()
    [arrival] = receiver.arrivals
    assert arrival.verified_by == [0, 1]


def test_a_ping_reaches_the_endpoint_at_once_and_is_logged(
    api: ApiClient, receiver: Receiver
) -> None:
    endpoint = create(api, receiver).json()
    answer = api.post(f"/webhook-endpoints/{endpoint['id']}/ping", None)
    assert answer.status_code == 201, answer.content
    ping = answer.json()
    assert ping["event_type"] == "webhook.ping" and ping["state"] == "delivered"
    assert ping["attempts"][0]["succeeded"] and ping["attempts"][0]["manual"]
    [arrival] = receiver.arrivals
    assert arrival.webhook_id == ping["event_id"] and arrival.verified_by == [0]
    assert arrival.payload["type"] == "webhook.ping"
    assert arrival.payload["data"] == {"endpoint": endpoint["id"]}

    receiver.script("/hooks", ("status", 503, b"down for maintenance"))
    failed = api.post(f"/webhook-endpoints/{endpoint['id']}/ping", None).json()
    assert failed["state"] == "failed" and failed["last_status_code"] == 503  # tried once
    assert failed["attempts"][0]["response_excerpt"] == "down for maintenance"
    assert webhook_deliveries_send_due() == 0


def test_staff_redeliver_with_the_same_webhook_id(
    api: ApiClient, merchant: Merchant, receiver: Receiver
) -> None:
    endpoint = create(api, receiver).json()
    message = emit(merchant)
    webhook_deliveries_send_due()
    [delivery] = api.get(f"/webhook-endpoints/{endpoint['id']}/deliveries").json()["data"]
    assert delivery["state"] == "delivered" and delivery["event_id"] == message.event_id
    again = api.post(
        f"/webhook-endpoints/{endpoint['id']}/deliveries/{delivery['id']}/redeliver", None
    )
    assert again.status_code == 200, again.content
    assert [(a["number"], a["manual"]) for a in again.json()["attempts"]] == [
        (1, False),
        (2, True),
    ]
    assert [a.webhook_id for a in receiver.arrivals] == [message.event_id] * 2
    assert all(a.verified_by == [0] for a in receiver.arrivals)

    # a failed delivery redelivered successfully becomes delivered
    with scopes_disabled():
        WebhookDelivery.objects.filter(public_id=delivery["id"]).update(state="failed")
    redone = api.post(
        f"/webhook-endpoints/{endpoint['id']}/deliveries/{delivery['id']}/redeliver", None
    ).json()
    assert redone["state"] == "delivered" and len(redone["attempts"]) == 3

    # while the worker holds it, staff are told to wait
    from datetime import timedelta

    from django.utils import timezone

    with scopes_disabled():
        WebhookDelivery.objects.filter(public_id=delivery["id"]).update(
            claimed_until=timezone.now() + timedelta(minutes=1), claimed_by="worker"
        )
    busy = api.post(
        f"/webhook-endpoints/{endpoint['id']}/deliveries/{delivery['id']}/redeliver", None
    )
    assert busy.status_code == 409 and busy.json()["code"] == "delivery_in_progress"


def test_the_delivery_log_pages_with_a_fixed_number_of_queries(
    api: ApiClient, merchant: Merchant, receiver: Receiver
) -> None:
    endpoint = create(api, receiver).json()
    receiver.script("/hooks", *[("status", 500)] * 5)
    sent = [emit(merchant, "return.created", n=i).event_id for i in range(5)]
    webhook_deliveries_send_due()
    path = f"/webhook-endpoints/{endpoint['id']}/deliveries"
    seen: list[str] = []
    cursor = None
    while True:
        page = api.get(path, limit=2, **({"cursor": cursor} if cursor else {})).json()
        seen += [d["event_id"] for d in page["data"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(sent) and len(seen) == 5
    failing = api.get(path, state="pending").json()["data"]
    assert len(failing) == 5 and failing[0]["attempts"][0]["status_code"] == 500
    assert api.get(path, state="delivered").json()["data"] == []

    counts = []
    for limit in (1, 5):
        with CaptureQueriesContext(connection) as queries:
            assert api.get(path, limit=limit).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_another_merchants_endpoints_are_not_found(
    api: ApiClient,
    outsider_api: ApiClient,
    provider_api: ApiClient,
    merchant: Merchant,
    receiver: Receiver,
) -> None:
    endpoint = create(api, receiver).json()
    emit(merchant)
    webhook_deliveries_send_due()
    [delivery] = api.get(f"/webhook-endpoints/{endpoint['id']}/deliveries").json()["data"]
    base = f"/webhook-endpoints/{endpoint['id']}"
    calls = [
        ("PATCH", base, {"description": "mine now"}),
        ("POST", f"{base}/rotate-secret", None),
        ("POST", f"{base}/ping", None),
        ("GET", f"{base}/deliveries", None),
        ("POST", f"{base}/deliveries/{delivery['id']}/redeliver", None),
    ]
    for method, path, body in calls:
        answer = (
            outsider_api.get(path) if method == "GET" else outsider_api.send(method, path, body)
        )
        assert answer.status_code == 404, (method, path, answer.content)
        assert answer.json()["code"] == "not_found"
    assert outsider_api.get("/webhook-endpoints").json()["data"] == []
    assert len(receiver.arrivals) == 1  # the outsider's ping and redelivery sent nothing
    assert provider_api.get("/webhook-endpoints").status_code == 403
    unknown = api.post("/webhook-endpoints/whep_NOPE/ping", None)
    assert unknown.status_code == 404
