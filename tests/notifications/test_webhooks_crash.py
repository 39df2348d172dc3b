"""R2 of QUALITY.md for webhooks: the real worker, killed with SIGKILL in the middle of
deliveries, then started again, delivers every event at least once with the same webhook-id.

The receiver runs as its own process on loopback (tests/notifications/receiver.py): it verifies
every request with standardwebhooks and logs (webhook-id, signature ok), and while told to hang
it holds requests without answering. The worker (`returndesk worker`) runs as a process on the
test database. With the receiver hanging, the worker is killed while its requests are open; the
leases are then expired in the database, as time would expire them, the receiver answers again,
and a new worker finishes the job.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from django_scopes import scopes_disabled

from returndesk.core.models import PeriodicJobState
from returndesk.notifications.models import OutboxMessage, WebhookDelivery
from returndesk.notifications.services import outbox_enqueue
from returndesk.notifications.webhooks import webhook_endpoint_create
from returndesk.tenants.models import Merchant
from tests.notifications.conftest import ACTOR
from tests.refunds.test_worker_crash import wait_for, worker  # noqa: F401 - the worker fixture

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]

EVENTS = 6
ROOT = Path(__file__).resolve().parents[2]


def log_of(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture
def stripe_url() -> str:
    """The refunds crash test's worker fixture, without a Stripe server: none is called here."""
    return ""


@pytest.fixture
def receiver_process(tmp_path: Path) -> Iterator[dict[str, Path | int]]:
    files = {
        "port": tmp_path / "port",
        "log": tmp_path / "arrivals.jsonl",
        "secrets": tmp_path / "secrets.json",
        "hang": tmp_path / "hang",
    }
    files["secrets"].write_text("{}")
    process = subprocess.Popen(  # noqa: S603 - our own receiver, fixed arguments
        [
            sys.executable,
            "-m",
            "tests.notifications.receiver",
            "--port-file",
            str(files["port"]),
            "--log",
            str(files["log"]),
            "--secrets",
            str(files["secrets"]),
            "--hang-file",
            str(files["hang"]),
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    port = wait_for(
        "the receiver's port", lambda: files["port"].exists() and files["port"].read_text()
    )
    try:
        yield {**files, "port_number": int(port)}
    finally:
        files["hang"].unlink(missing_ok=True)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def test_a_worker_killed_mid_delivery_delivers_everything_after_restart(
    merchant: Merchant,
    worker: Callable[[], subprocess.Popen[bytes]],  # noqa: F811
    receiver_process: dict[str, Any],
) -> None:
    url = f"http://127.0.0.1:{receiver_process['port_number']}/hooks"
    _, secret = webhook_endpoint_create(actor=ACTOR, merchant=merchant, url=url)
    receiver_process["secrets"].write_text(json.dumps({"/hooks": [secret]}))
    log: Path = receiver_process["log"]
    hang: Path = receiver_process["hang"]
    hang.touch()  # the receiver holds every request without answering
    with scopes_disabled():
        events = [
            outbox_enqueue(merchant_id=merchant.pk, type="return.created", data={"n": i}).event_id
            for i in range(EVENTS)
        ]

    first = worker()
    wait_for("the worker to have requests open", lambda: any(e["hung"] for e in log_of(log)))
    time.sleep(0.3)  # the rest of its batch reaches the receiver too
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    held = {e["id"] for e in log_of(log) if e["hung"]}
    assert held and held <= set(events)
    with scopes_disabled():
        in_flight = WebhookDelivery.objects.filter(event_id__in=held)
        assert {d.state for d in in_flight} == {"pending"}  # killed before any answer
        assert all(d.claimed_until and d.claimed_until > timezone.now() for d in in_flight)
    hang.unlink()

    # The killed worker's leases run out (moved into the past, as time would).
    past = timezone.now() - timedelta(seconds=1)
    with scopes_disabled():
        WebhookDelivery.objects.update(claimed_until=past)
        OutboxMessage.objects.update(claimed_until=past)
    PeriodicJobState.objects.update(claimed_until=past, next_run_at=past)

    second = worker()
    with scopes_disabled():
        wait_for(
            "the restarted worker to deliver every event",
            lambda: WebhookDelivery.objects.filter(state="delivered").count() == EVENTS,
        )
        deliveries = {d.event_id: d for d in WebhookDelivery.objects.all()}
    os.killpg(second.pid, signal.SIGTERM)
    second.wait(timeout=30)

    arrivals = log_of(log)
    assert set(deliveries) == set(events)
    answered = [e for e in arrivals if not e["hung"]]
    assert sorted(e["id"] for e in answered) == sorted(events)  # each answered once
    assert all(e["ok"] for e in arrivals)  # every request verified, hung or not
    for event_id in held:  # sent again after the crash under the same webhook-id
        assert [e["hung"] for e in arrivals if e["id"] == event_id] == [True, False]
    assert {e["type"] for e in arrivals} == {"return.created"}
