"""Periodic jobs of the worker, declared in code (`PERIODIC_JOBS` below is the schedule).

Each job has a row in PeriodicJobState; a worker claims a due job with a lease, runs it, and
sets its next run. With several workers a job runs once per interval; a worker killed mid-job
leaves a lease that expires, and another worker runs the job again.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import F
from django.utils import timezone
from django.utils.module_loading import import_string

from returndesk.core.leases import claim_due
from returndesk.core.logs import log_context, new_request_id
from returndesk.core.models import PeriodicJobState

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    every: timedelta
    target: str  # dotted path of a callable taking no arguments
    lease: timedelta = timedelta(minutes=10)

    def load(self) -> Callable[[], object]:
        loaded: Callable[[], object] = import_string(self.target)
        return loaded


PERIODIC_JOBS: tuple[PeriodicJob, ...] = (
    PeriodicJob(
        "purge_idempotency_records",
        timedelta(hours=1),
        "returndesk.core.idempotency.idempotency_records_purge",
    ),
    PeriodicJob(
        "purge_rate_limit_counters",
        timedelta(hours=1),
        "returndesk.core.ratelimit.rate_limit_counters_purge",
    ),
    PeriodicJob(
        "expire_returns",
        timedelta(minutes=5),
        "returndesk.returns.services.returns_expire_due",
    ),
    PeriodicJob(
        "expire_store_credit",
        timedelta(minutes=15),
        "returndesk.credit.services.store_credit_expire_due",
        lease=timedelta(minutes=30),
    ),
    PeriodicJob(
        "void_released_labels",
        timedelta(minutes=10),
        "returndesk.shipping.services.labels_void_pending",
    ),
    PeriodicJob(
        "process_carrier_webhooks",
        timedelta(minutes=1),
        "returndesk.shipping.tracking.carrier_webhooks_process_due",
    ),
    PeriodicJob(
        "poll_carrier_tracking",
        timedelta(minutes=15),
        "returndesk.shipping.tracking.labels_poll_tracking",
        lease=timedelta(minutes=30),
    ),
    PeriodicJob(
        "prune_carrier_webhooks",
        timedelta(hours=6),
        "returndesk.shipping.services.carrier_webhooks_prune",
        lease=timedelta(minutes=30),
    ),
    PeriodicJob(
        "dispatch_outbox",
        timedelta(seconds=5),
        "returndesk.notifications.dispatch.outbox_dispatch_due",
    ),
    PeriodicJob(
        "send_emails",
        timedelta(seconds=10),
        "returndesk.notifications.emails.email_deliveries_send_due",
    ),
    PeriodicJob(
        "send_webhook_deliveries",
        timedelta(seconds=2),
        "returndesk.notifications.webhooks.webhook_deliveries_send_due",
    ),
    PeriodicJob(
        "process_refund_triggers",
        timedelta(seconds=10),
        "returndesk.refunds.execution.refund_triggers_process",
    ),
    PeriodicJob(
        "execute_due_refunds",
        timedelta(seconds=10),
        "returndesk.refunds.execution.refunds_execute_due",
    ),
    PeriodicJob(
        "process_shop_webhooks",
        timedelta(minutes=1),
        "returndesk.integrations.webhooks.shop_webhooks_process_due",
    ),
    PeriodicJob(
        "send_shop_write_backs",
        timedelta(seconds=30),
        "returndesk.integrations.writeback.shop_write_backs_send_due",
    ),
    PeriodicJob(
        "process_payment_webhooks",
        timedelta(minutes=1),
        "returndesk.refunds.webhooks.payment_webhooks_process_due",
    ),
    PeriodicJob(
        "complete_settled_returns",
        timedelta(minutes=2),
        "returndesk.refunds.execution.returns_complete_settled",
    ),
    PeriodicJob(
        "check_slas",
        timedelta(minutes=15),
        "returndesk.operations.slas.sla_breaches_check",
        lease=timedelta(minutes=30),
    ),
    PeriodicJob(
        "prune_task_results",
        timedelta(hours=6),
        "returndesk.core.scheduling.task_results_prune",
    ),
    # analytics rollups (docs/decisions/0015-analytics.md): the days that changed each minute,
    # every merchant in full once a day
    PeriodicJob(
        "refresh_analytics",
        timedelta(minutes=1),
        "returndesk.analytics.rollups.analytics_refresh",
        lease=timedelta(minutes=30),
    ),
    PeriodicJob(
        "rebuild_analytics",
        timedelta(hours=24),
        "returndesk.analytics.rollups.analytics_rebuild_all",
        lease=timedelta(hours=2),
    ),
)


def task_results_prune() -> int:
    """Finished ad-hoc task results older than a week are removed."""
    from django_tasks_db.models import DBTaskResult

    cutoff = timezone.now() - timedelta(days=7)
    deleted, _ = DBTaskResult.objects.finished().filter(finished_at__lt=cutoff).delete()
    return deleted


def ensure_job_rows(jobs: tuple[PeriodicJob, ...] = PERIODIC_JOBS) -> None:
    now = timezone.now()
    for job in jobs:
        PeriodicJobState.objects.get_or_create(name=job.name, defaults={"next_run_at": now})


def run_due_jobs(
    *, worker_id: str, now: datetime | None = None, jobs: tuple[PeriodicJob, ...] = PERIODIC_JOBS
) -> list[str]:
    """Run every due job this worker manages to claim; answers the names it ran."""
    now = now or timezone.now()
    by_name = {job.name: job for job in jobs}
    ran: list[str] = []
    for job in jobs:
        ids = claim_due(
            PeriodicJobState.objects.filter(name=job.name),
            worker_id=worker_id,
            now=now,
            lease=job.lease,
            limit=1,
            due_field="next_run_at",
        )
        if not ids:
            continue
        state = by_name[job.name]
        started = timezone.now()
        PeriodicJobState.objects.filter(pk=ids[0]).update(last_started_at=started)
        error = ""
        # Every record the job logs carries the job's name and this run's id (core/logs.py).
        with log_context(job=job.name, run_id=new_request_id(), worker=worker_id):
            try:
                state.load()()
            except Exception:
                logger.exception("periodic job %s failed", job.name)
                error = traceback.format_exc(limit=5)
            finished = timezone.now()
            kept = PeriodicJobState.objects.filter(pk=ids[0], claimed_by=worker_id).update(
                next_run_at=now + job.every,
                claimed_until=None,
                claimed_by="",
                last_finished_at=finished,
                last_error=error,
                run_count=F("run_count") + 1,
            )
            # One line per run: deploy/check.py reads these to prove no job ran twice at once.
            logger.info(
                "periodic job %s ran",
                job.name,
                extra={
                    "started_at": started.isoformat(),
                    "finished_at": finished.isoformat(),
                    "duration_ms": round((finished - started).total_seconds() * 1000, 1),
                    "ok": not error,
                    "lease_kept": bool(kept),
                },
            )
        ran.append(job.name)
    return ran
