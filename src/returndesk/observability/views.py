"""/metrics (Prometheus) and /readyz (readiness); /healthz, liveness, stays in api/main.py."""

from __future__ import annotations

import hmac
import ipaddress
import logging
import time
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.db.models import Max
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from returndesk.core.models import PeriodicJobState
from returndesk.observability.metrics import registry

logger = logging.getLogger(__name__)


def _tokens() -> list[str]:
    raw = str(getattr(settings, "RETURNDESK_METRICS_TOKEN", "") or "")
    return [t.strip() for t in raw.split(",") if t.strip()]


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def metrics_allowed(request: HttpRequest) -> tuple[bool, int]:
    """With RETURNDESK_METRICS_TOKEN set: a matching `Authorization: Bearer` (several tokens,
    comma-separated, while one is rotated). Without it: only a client on this machine that did
    not come through a proxy (a proxy on the same machine makes every client look local)."""
    tokens = _tokens()
    if tokens:
        scheme, _, given = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
        given = given.strip()
        ok = scheme.lower() == "bearer" and any(
            hmac.compare_digest(given.encode(), token.encode()) for token in tokens
        )
        return ok, 401
    proxied = "HTTP_X_FORWARDED_FOR" in request.META or "RETURNDESK_PROXY_ADDR" in request.META
    return _is_loopback(request.META.get("REMOTE_ADDR", "")) and not proxied, 403


@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    ok, status = metrics_allowed(request)
    if not ok:
        response = HttpResponse("not allowed\n", status=status, content_type="text/plain")
        if status == 401:
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(generate_latest(registry()), content_type=CONTENT_TYPE_LATEST)


# --- readiness ---------------------------------------------------------------------------

_migrations_ok_until = 0.0  # a positive answer holds for a minute: migrations only move forward


def _check_database() -> dict[str, Any]:
    try:
        with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        logger.warning("readiness: database unreachable: %s", exc)
        return {"ok": False, "error": "unreachable"}
    return {"ok": True, "vendor": connections[DEFAULT_DB_ALIAS].vendor}


def _check_migrations() -> dict[str, Any]:
    global _migrations_ok_until
    if time.monotonic() < _migrations_ok_until:
        return {"ok": True, "unapplied": 0}
    connection = connections[DEFAULT_DB_ALIAS]
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    unapplied = [f"{m.app_label}.{m.name}" for m, _ in plan]
    if not unapplied:
        _migrations_ok_until = time.monotonic() + 60
        return {"ok": True, "unapplied": 0}
    return {"ok": False, "unapplied": len(unapplied), "first": unapplied[:5]}


def _check_worker() -> dict[str, Any]:
    max_age = float(settings.RETURNDESK_READY_WORKER_MAX_AGE)
    last = PeriodicJobState.objects.aggregate(last=Max("last_finished_at"))["last"]
    required = bool(settings.RETURNDESK_READY_REQUIRE_WORKER)
    if last is None:
        return {"ok": False, "required": required, "error": "no worker has run a job yet"}
    age = (timezone.now() - last).total_seconds()
    return {
        "ok": age <= max_age,
        "required": required,
        "last_job_finished_seconds_ago": round(age, 1),
        "max_age_seconds": max_age,
    }


@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    """Ready to serve: the database answers, every migration this code knows is applied, and a
    worker finished a periodic job within RETURNDESK_READY_WORKER_MAX_AGE seconds (the job
    table is the workers' heartbeat: the outbox job alone runs every 5 s). Each check is
    reported; any failing one answers 503, except the worker's when
    RETURNDESK_READY_REQUIRE_WORKER is off (then it is reported only)."""
    checks: dict[str, dict[str, Any]] = {"database": _check_database()}
    if checks["database"]["ok"]:
        try:
            checks["migrations"] = _check_migrations()
            checks["worker"] = _check_worker()
        except Exception as exc:
            logger.warning("readiness check failed: %s", exc)
            checks.setdefault("migrations", {"ok": False, "error": "could not be read"})
            checks.setdefault("worker", {"ok": False, "error": "could not be read"})
    failing = [
        name for name, check in checks.items() if not check["ok"] and check.get("required", True)
    ]
    body: dict[str, Any] = {"status": "unavailable" if failing else "ok", "checks": checks}
    if failing:
        body["failing"] = failing
    return JsonResponse(body, status=503 if failing else 200)
