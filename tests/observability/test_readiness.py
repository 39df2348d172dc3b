"""/readyz reports the database, the migrations and the worker's heartbeat; /healthz is only
liveness."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from django.utils import timezone

from returndesk.core.models import PeriodicJobState
from returndesk.observability import views

pytestmark = pytest.mark.django_db


def heartbeat(ago: timedelta) -> None:
    finished = timezone.now() - ago
    PeriodicJobState.objects.update_or_create(
        name="dispatch_outbox", defaults={"next_run_at": finished, "last_finished_at": finished}
    )


def test_ready_when_all_is_well() -> None:
    heartbeat(timedelta(seconds=3))
    response = Client().get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["migrations"] == {"ok": True, "unapplied": 0}
    assert body["checks"]["worker"]["ok"] is True
    assert body["checks"]["worker"]["last_job_finished_seconds_ago"] < 60
    assert response["Cache-Control"].startswith("max-age=0")


def test_not_ready_without_a_worker(settings) -> None:  # type: ignore[no-untyped-def]
    never = Client().get("/readyz")
    assert never.status_code == 503
    assert never.json()["failing"] == ["worker"]
    assert never.json()["checks"]["worker"]["error"] == "no worker has run a job yet"
    settings.RETURNDESK_READY_WORKER_MAX_AGE = 120
    heartbeat(timedelta(minutes=5))
    stale = Client().get("/readyz").json()
    assert stale["status"] == "unavailable"
    assert stale["checks"]["worker"]["ok"] is False
    assert stale["checks"]["worker"]["max_age_seconds"] == 120


def test_the_worker_check_can_be_reported_only(settings) -> None:  # type: ignore[no-untyped-def]
    settings.RETURNDESK_READY_REQUIRE_WORKER = False
    response = Client().get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"]["worker"] == {
        "ok": False,
        "required": False,
        "error": "no worker has run a job yet",
    }


def test_not_ready_with_unapplied_migrations(monkeypatch: pytest.MonkeyPatch) -> None:
    heartbeat(timedelta(seconds=1))
    monkeypatch.setattr(views, "_migrations_ok_until", 0.0)
    real_plan = MigrationExecutor.migration_plan

    def plan_with_one_left(self: MigrationExecutor, targets: object, **kw: object) -> object:
        migration = self.loader.graph.nodes[("shipping", "0004_label_document")]
        return [*real_plan(self, targets, **kw), (migration, False)]

    monkeypatch.setattr(MigrationExecutor, "migration_plan", plan_with_one_left)
    response = Client().get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["migrations"]
    assert body["checks"]["migrations"]["first"] == ["shipping.0004_label_document"]


def test_not_ready_when_the_database_does_not_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(views, "_check_database", lambda: {"ok": False, "error": "unreachable"})
    response = Client().get("/readyz")
    assert response.status_code == 503
    assert response.json()["failing"] == ["database"]
    assert Client().get("/healthz").status_code == 200  # liveness does not look at the database
