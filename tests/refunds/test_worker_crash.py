"""R2 of QUALITY.md for refunds: the real worker, killed with SIGKILL while Stripe is making a
refund, then started again, doubles nothing.

Stripe's replay server runs as its own process with a ledger file of the refunds it really made.
The worker (`returndesk worker`) runs as a process on the test database. A fault makes Stripe
create the refund and then hold its answer, so the worker is killed mid-call: the refund row is
`processing` with an attempt in flight. Leases are then expired in the database, as time would
expire them, and a new worker repeats the call under the same idempotency key: Stripe answers
with the refund it already made, and the ledger still holds one.
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
from django.conf import settings
from django.db import connection
from django.utils import timezone
from django_scopes import scopes_disabled

from returndesk.core.models import PeriodicJobState
from returndesk.refunds.models import Refund, RefundAttempt
from tests.conftest import ApiClient
from tests.payments.conftest import payment_server_process  # noqa: F401 - the fixture
from tests.payments.servers import ServerHandle
from tests.refunds.conftest import create_return, due_at_once, pay_with

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]

TOTAL = 19900 + 2500


def wait_for(what: str, check: Callable[[], Any], timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def ledger(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [r for r in rows if r.get("kind", "refund") == "refund"]


@pytest.fixture
def worker(stripe_url: str) -> Iterator[Callable[[], subprocess.Popen[bytes]]]:
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "SECRET_KEY": settings.SECRET_KEY,
        "RETURNDESK_SECRETS_KEYS": settings.RETURNDESK_SECRETS_KEYS,
        "RETURNDESK_STRIPE_API_BASE": stripe_url,
    }
    started: list[subprocess.Popen[bytes]] = []

    def start() -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [sys.executable, "-m", "returndesk.cli", "worker", "--no-tasks", "--interval", "0.2"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture
def stripe(payment_server_process: Callable[..., ServerHandle], tmp_path: Path) -> ServerHandle:  # noqa: F811
    return payment_server_process("stripe", ledger_path=tmp_path / "stripe-ledger.jsonl")


@pytest.fixture
def stripe_url(stripe: ServerHandle) -> str:
    return stripe.url


def test_a_worker_killed_mid_refund_pays_once_after_restart(
    api: ApiClient,
    order: dict,
    stripe: ServerHandle,
    worker: Callable[[], subprocess.Popen[bytes]],
    tmp_path: Path,
    settings: Any,
) -> None:
    settings.RETURNDESK_STRIPE_API_BASE = stripe.url
    creds = stripe.credentials
    assert (
        api.put(
            "/payments/settings",
            {
                "stripe_secret_key": creds["secret_key"],
                "stripe_webhook_secret": creds["webhook_secret"],
            },
        ).status_code
        == 200
    )
    charge = stripe.payment(TOTAL)
    pay_with(
        api,
        order,
        [
            {
                "method": "card",
                "amount": {"amount": TOTAL, "currency": "USD"},
                "provider": "stripe",
                "external_reference": charge,
            }
        ],
    )
    due_at_once(api)
    # Stripe makes the refund, then sits on the answer long enough to kill the worker.
    stripe.fault("delay", count=1, seconds=120, after=True, path="/v1/refunds")
    ran = create_return(api)["ran"]  # due at authorization: the worker settles and pays it
    ledger_path = tmp_path / "stripe-ledger.jsonl"

    first = worker()
    made = wait_for("Stripe to make the refund", lambda: ledger(ledger_path))
    with scopes_disabled():
        refund = wait_for(
            "the refund row in flight",
            lambda: Refund.objects.filter(return_request__ran=ran.replace("-", "")).first(),
        )
        assert refund.status == "processing"
        assert [a.outcome for a in RefundAttempt.objects.filter(refund=refund)] == ["in_flight"]
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    stripe.clear_faults()

    # The killed worker's leases run out (moved into the past, as time would).
    past = timezone.now() - timedelta(seconds=1)
    with scopes_disabled():
        Refund.objects.filter(pk=refund.pk).update(claimed_until=past)
    PeriodicJobState.objects.update(claimed_until=past, next_run_at=past)

    second = worker()
    with scopes_disabled():
        wait_for(
            "the restarted worker to finish the refund",
            lambda: Refund.objects.filter(pk=refund.pk, status="succeeded").exists(),
        )
        refund.refresh_from_db()
        outcomes = [
            a.outcome for a in RefundAttempt.objects.filter(refund=refund).order_by("number")
        ]
    os.killpg(second.pid, signal.SIGTERM)
    second.wait(timeout=30)

    assert len(ledger(ledger_path)) == 1, ledger(ledger_path)
    assert refund.provider_reference == made[0]["id"]
    assert outcomes == ["in_flight", "succeeded"]
    with scopes_disabled():
        assert Refund.objects.filter(return_request__ran=ran.replace("-", "")).count() == 1
