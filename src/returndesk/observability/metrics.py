"""Prometheus metrics (the official prometheus_client).

Two kinds, on purpose:

- Request latency is measured in the process that served the request: a histogram by route
  (the URL pattern), method and status. With several gunicorn processes each keeps its own;
  `returndesk serve` turns on prometheus_client's multiprocess mode (PROMETHEUS_MULTIPROC_DIR)
  so that one scrape of any process answers for all processes of that server.
- Everything about the business (queues, refunds, deliveries, the worker's jobs) is read from
  the database at scrape time, in a fixed number of queries (one per queue, one for the jobs),
  so every web process answers the same figures, no worker has to expose anything, and nothing
  is lost when a process restarts. They are gauges of what the tables hold now; the run counts
  of periodic jobs are the one counter (monotonic in the table).
"""

from __future__ import annotations

import os
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any

from django.apps import apps
from django.db import models
from django.db.models import Case, Count, Min, Q, Value, When
from django.utils import timezone
from prometheus_client import CollectorRegistry, Histogram, disable_created_metrics
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

disable_created_metrics()  # the *_created series only add noise to every scrape

REQUEST_SECONDS = Histogram(
    "returndesk_http_request_duration_seconds",
    "Time from the first middleware to the response, by URL pattern, method and status.",
    ["route", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=None,
)


def observe_request(route: str, method: str, status: int, seconds: float) -> None:
    REQUEST_SECONDS.labels(route, method, str(status)).observe(seconds)


def multiprocess_dir() -> str:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")


# --- the durable queues, read from the database -------------------------------------------


def _due_at(field_name: str) -> Callable[[datetime], Q]:
    return lambda now: Q(**{f"{field_name}__lte": now})


@dataclass(frozen=True)
class Queue:
    """One durable queue: its table, how a row's state is read, which states are still work
    to do, the column that says how old a row is, and when a waiting row is due."""

    name: str
    model: str  # "app_label.Model"
    state: str | Callable[[], Any]  # a column, or an expression naming the state
    open_states: tuple[str, ...] = ("pending",)
    age_field: str = "created_at"
    due: Callable[[datetime], Q] = field(default=_due_at("next_attempt_at"))
    by: tuple[str, ...] = ()  # more columns to count by (refunds: provider)


def _refund_trigger_state() -> Any:
    return Case(When(done_at__isnull=True, then=Value("pending")), default=Value("done"))


def _payment_webhook_state() -> Any:
    return Case(
        When(verified=False, then=Value("rejected")),
        When(processed_at__isnull=True, then=Value("pending")),
        default=Value("processed"),
    )


QUEUES: tuple[Queue, ...] = (
    Queue("outbox", "notifications.OutboxMessage", "state"),
    Queue("webhook_deliveries", "notifications.WebhookDelivery", "state"),
    Queue("email_deliveries", "notifications.EmailDelivery", "state"),
    Queue("refunds", "refunds.Refund", "status", ("pending", "processing"), by=("provider",)),
    Queue("refund_triggers", "refunds.RefundTrigger", _refund_trigger_state),
    Queue("payment_webhooks", "refunds.PaymentWebhook", _payment_webhook_state),
    Queue("shop_webhooks", "integrations.InboundWebhook", "state"),
    Queue("shop_write_backs", "integrations.ShopWriteBack", "state"),
    Queue("carrier_webhooks", "shipping.CarrierWebhook", "state"),
    Queue(
        "tasks",
        "django_tasks_database.DBTaskResult",
        "status",
        ("READY", "RUNNING"),
        age_field="enqueued_at",
        due=lambda now: Q(run_after__isnull=True) | Q(run_after__lte=now),
    ),
)
# Deliveries by outcome, for the "deliveries" family: the queue and the channel it serves.
DELIVERY_CHANNELS = {
    "webhook_deliveries": "webhook",
    "email_deliveries": "email",
    "shop_write_backs": "shop_write_back",
}
# One query per queue and one for the periodic jobs, whatever the tables hold.
QUERIES_PER_SCRAPE = len(QUEUES) + 1


def _queue_rows(queue: Queue, now: datetime) -> list[dict[str, Any]]:
    model: type[models.Model] = apps.get_model(queue.model)
    rows = model._base_manager.all()  # every merchant: not a tenant's view
    if callable(queue.state):
        rows = rows.annotate(queue_state=queue.state())
        state = "queue_state"
    else:
        state = queue.state
    counted = (
        rows.order_by()
        .values(state, *queue.by)
        .annotate(
            n=Count("pk"),
            oldest=Min(queue.age_field),
            due=Count("pk", filter=queue.due(now)),
        )
    )
    return [
        {
            "state": str(row[state]),
            "by": tuple(str(row[c]) for c in queue.by),
            "n": row["n"],
            "oldest": row["oldest"],
            "due": row["due"],
        }
        for row in counted
    ]


def _seconds(now: datetime, then: datetime | None) -> float:
    return max(0.0, (now - then).total_seconds()) if then is not None else 0.0


class DatabaseCollector(Collector):
    """The figures that live in the database, read at each scrape."""

    def describe(self) -> Iterable[Metric]:
        return []  # nothing is read when the collector is registered

    def collect(self) -> Iterator[Metric]:
        started = time.perf_counter()
        up = GaugeMetricFamily(
            "returndesk_metrics_database_up", "1 when the figures below could be read."
        )
        try:
            families = self._collect(timezone.now())
        except Exception:  # a scrape must answer even when the database does not
            up.add_metric([], 0)
            yield up
            return
        yield from families
        up.add_metric([], 1)
        yield up
        took = GaugeMetricFamily(
            "returndesk_metrics_database_seconds", "Time spent reading the figures below."
        )
        took.add_metric([], time.perf_counter() - started)
        yield took

    def _collect(self, now: datetime) -> list[Metric]:
        items = GaugeMetricFamily(
            "returndesk_queue_items",
            "Rows of each durable queue by state.",
            labels=["queue", "state"],
        )
        depth = GaugeMetricFamily(
            "returndesk_queue_depth",
            "Rows still to be worked (pending; refunds: pending and processing).",
            labels=["queue"],
        )
        due = GaugeMetricFamily(
            "returndesk_queue_due", "Rows still to be worked whose time has come.", labels=["queue"]
        )
        age = GaugeMetricFamily(
            "returndesk_queue_oldest_age_seconds",
            "Age of the oldest row still to be worked (0 when none).",
            labels=["queue"],
        )
        refunds = GaugeMetricFamily(
            "returndesk_refunds",
            "Refunds by status (outcome) and provider.",
            labels=["status", "provider"],
        )
        deliveries = GaugeMetricFamily(
            "returndesk_deliveries",
            "Outgoing deliveries by channel and state (outcome).",
            labels=["channel", "state"],
        )
        for queue in QUEUES:
            rows = _queue_rows(queue, now)
            by_state: dict[str, int] = defaultdict(int)
            open_n = open_due = 0
            oldest: datetime | None = None
            for row in rows:
                by_state[row["state"]] += row["n"]
                if queue.name == "refunds":
                    refunds.add_metric([row["state"], row["by"][0]], row["n"])
                if row["state"] in queue.open_states:
                    open_n += row["n"]
                    open_due += row["due"]
                    if row["oldest"] is not None and (oldest is None or row["oldest"] < oldest):
                        oldest = row["oldest"]
            for state in (*queue.open_states, *sorted(set(by_state) - set(queue.open_states))):
                items.add_metric([queue.name, state], by_state.get(state, 0))
                if queue.name in DELIVERY_CHANNELS:
                    deliveries.add_metric(
                        [DELIVERY_CHANNELS[queue.name], state], by_state.get(state, 0)
                    )
            depth.add_metric([queue.name], open_n)
            due.add_metric([queue.name], open_due)
            age.add_metric([queue.name], _seconds(now, oldest))
        return [items, depth, due, age, refunds, deliveries, *self._jobs(now)]

    def _jobs(self, now: datetime) -> list[Metric]:
        from returndesk.core.models import PeriodicJobState

        last = GaugeMetricFamily(
            "returndesk_periodic_job_last_finished_timestamp_seconds",
            "When each periodic job last finished (Unix time).",
            labels=["job"],
        )
        runs = CounterMetricFamily(
            "returndesk_periodic_job_runs", "Runs of each periodic job, ever.", labels=["job"]
        )
        failing = GaugeMetricFamily(
            "returndesk_periodic_job_failing",
            "1 when the job's last run raised an error.",
            labels=["job"],
        )
        heartbeat = GaugeMetricFamily(
            "returndesk_worker_heartbeat_age_seconds",
            "Seconds since any worker last finished a periodic job (-1: never).",
        )
        newest: datetime | None = None
        for row in PeriodicJobState.objects.order_by("name").values(
            "name", "last_finished_at", "run_count", "last_error"
        ):
            finished = row["last_finished_at"]
            if finished is not None:
                last.add_metric([row["name"]], finished.timestamp())
                newest = finished if newest is None or finished > newest else newest
            runs.add_metric([row["name"]], row["run_count"])
            failing.add_metric([row["name"]], 1 if row["last_error"] else 0)
        heartbeat.add_metric([], _seconds(now, newest) if newest is not None else -1)
        return [last, runs, failing, heartbeat]


@cache
def registry() -> CollectorRegistry:
    """This process's registry: the request histogram (of every process of the server, in
    multiprocess mode) and the database figures."""
    reg = CollectorRegistry(auto_describe=False)
    if multiprocess_dir():
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(reg)
    else:
        from prometheus_client import ProcessCollector

        reg.register(REQUEST_SECONDS)
        ProcessCollector(registry=reg)
    reg.register(DatabaseCollector())
    return reg
