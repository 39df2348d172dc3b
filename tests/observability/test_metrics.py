"""/metrics: who may read it, what it says, and that it costs the same few queries whatever the
tables hold."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_scopes import scopes_disabled
from prometheus_client.parser import text_string_to_metric_families

from returndesk.core.models import PeriodicJobState
from returndesk.notifications.models import OutboxMessage
from returndesk.observability.metrics import QUERIES_PER_SCRAPE, QUEUES
from returndesk.shipping.models import CarrierWebhook
from returndesk.tenants.models import Merchant

pytestmark = pytest.mark.django_db
LOCAL = {"REMOTE_ADDR": "127.0.0.1"}


def samples(body: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(found: dict, name: str, **labels: str) -> float:
    return found[(name, tuple(sorted(labels.items())))]


def test_without_a_token_only_this_machine_may_read_it(settings) -> None:  # type: ignore[no-untyped-def]
    settings.RETURNDESK_METRICS_TOKEN = ""
    client = Client()
    assert client.get("/metrics", **LOCAL).status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="::1").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9").status_code == 403
    # through a proxy on this machine every client looks local: a forwarded request is refused
    forwarded = client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"}, **LOCAL)
    assert forwarded.status_code == 403


def test_with_a_token_the_bearer_must_match(settings) -> None:  # type: ignore[no-untyped-def]
    settings.RETURNDESK_METRICS_TOKEN = "new-token,old-token"
    client = Client()
    missing = client.get("/metrics", **LOCAL)
    assert missing.status_code == 401 and missing["WWW-Authenticate"].startswith("Bearer")
    wrong = client.get("/metrics", headers={"Authorization": "Bearer nope"}, **LOCAL)
    assert wrong.status_code == 401
    for token in ("new-token", "old-token"):
        ok = client.get(
            "/metrics", headers={"Authorization": f"Bearer {token}"}, REMOTE_ADDR="203.0.113.9"
        )
        assert ok.status_code == 200
        assert ok["Content-Type"].startswith("text/plain; version=")
        assert ok["Cache-Control"].startswith("max-age=0")


def fill(merchant: Merchant) -> None:
    """Rows in several queues, some old, in states that are and are not still work."""
    now = timezone.now()
    with scopes_disabled():
        for n, state in enumerate(["pending", "pending", "delivered", "failed"]):
            OutboxMessage.objects.create(
                merchant=merchant,
                event_id=f"evt_{n}",
                type="return.created",
                state=state,
                next_attempt_at=now - timedelta(seconds=5) if n == 0 else now + timedelta(hours=1),
            )
        OutboxMessage.objects.filter(event_id="evt_0").update(
            created_at=now - timedelta(minutes=10)
        )
        CarrierWebhook.objects.create(
            public_id="cwh_1", carrier="prepaid", format="generic", body=b"{}", state="pending"
        )
    PeriodicJobState.objects.create(
        name="dispatch_outbox", next_run_at=now, last_finished_at=now, run_count=7
    )
    PeriodicJobState.objects.create(
        name="check_slas", next_run_at=now, last_error="Traceback ...", run_count=2
    )


def test_queues_jobs_and_requests_are_reported(merchant: Merchant) -> None:
    fill(merchant)
    client = Client()
    client.get("/api/v1/returns/R7K2M9Q4X8P3A")  # no key: 401, but a resolved route
    client.get("/no/such/page")
    found = samples(client.get("/metrics", **LOCAL).content)
    assert value(found, "returndesk_queue_depth", queue="outbox") == 2
    assert value(found, "returndesk_queue_due", queue="outbox") == 1
    assert value(found, "returndesk_queue_items", queue="outbox", state="delivered") == 1
    assert value(found, "returndesk_queue_items", queue="outbox", state="failed") == 1
    assert 590 < value(found, "returndesk_queue_oldest_age_seconds", queue="outbox") < 700
    assert value(found, "returndesk_queue_depth", queue="carrier_webhooks") == 1
    for queue in QUEUES:  # every queue answers, empty ones with zeros
        assert ("returndesk_queue_depth", (("queue", queue.name),)) in found
    assert value(found, "returndesk_queue_depth", queue="refunds") == 0
    assert value(found, "returndesk_deliveries", channel="webhook", state="pending") == 0
    assert value(found, "returndesk_periodic_job_runs_total", job="dispatch_outbox") == 7
    assert value(found, "returndesk_periodic_job_failing", job="check_slas") == 1
    assert value(found, "returndesk_periodic_job_failing", job="dispatch_outbox") == 0
    assert 0 <= value(found, "returndesk_worker_heartbeat_age_seconds") < 60
    assert value(found, "returndesk_metrics_database_up") == 1
    # latency by URL pattern, never by raw path
    routes = {dict(labels).get("route") for (name, labels) in found if name.endswith("_count")}
    assert "api/v1/returns/<ran>" in routes
    assert "unmatched" in routes
    assert not any(route and "R7K2M9Q4X8P3A" in route for route in routes)
    key = (("method", "GET"), ("route", "api/v1/returns/<ran>"), ("status", "401"))
    assert found[("returndesk_http_request_duration_seconds_count", key)] >= 1


def test_a_scrape_costs_a_fixed_number_of_queries(merchant: Merchant) -> None:
    client = Client()
    with CaptureQueriesContext(connection) as empty:
        assert client.get("/metrics", **LOCAL).status_code == 200
    fill(merchant)
    with CaptureQueriesContext(connection) as full:
        assert client.get("/metrics", **LOCAL).status_code == 200
    assert len(empty) == len(full) == QUERIES_PER_SCRAPE


def test_a_database_failure_still_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    from returndesk.observability import metrics

    def broken(self: object, now: object) -> list[object]:
        raise RuntimeError("database is down")

    monkeypatch.setattr(metrics.DatabaseCollector, "_collect", broken)
    found = samples(Client().get("/metrics", **LOCAL).content)
    assert value(found, "returndesk_metrics_database_up") == 0
