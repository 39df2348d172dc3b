from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from returndesk.core.leases import claim_due
from returndesk.core.models import PeriodicJobState
from returndesk.core.scheduling import PeriodicJob, ensure_job_rows, run_due_jobs

CALLS: list[str] = []


def record_call() -> None:
    CALLS.append("ran")


def failing_job() -> None:
    raise RuntimeError("boom")


JOBS = (
    PeriodicJob("test_job", timedelta(minutes=5), "tests.core.test_scheduling.record_call"),
    PeriodicJob("failing", timedelta(minutes=5), "tests.core.test_scheduling.failing_job"),
)


@pytest.fixture(autouse=True)
def _reset() -> None:
    CALLS.clear()


@pytest.mark.django_db
def test_a_due_job_runs_once_per_interval_across_workers() -> None:
    ensure_job_rows(JOBS)
    now = timezone.now()
    assert "test_job" in run_due_jobs(worker_id="w1", now=now, jobs=JOBS)
    assert run_due_jobs(worker_id="w2", now=now + timedelta(minutes=1), jobs=JOBS) == []
    assert CALLS == ["ran"]
    assert "test_job" in run_due_jobs(worker_id="w2", now=now + timedelta(minutes=6), jobs=JOBS)
    assert CALLS == ["ran", "ran"]


@pytest.mark.django_db
def test_a_failing_job_records_its_error_and_runs_again_later() -> None:
    ensure_job_rows(JOBS)
    run_due_jobs(worker_id="w1", jobs=JOBS)
    state = PeriodicJobState.objects.get(name="failing")
    assert "boom" in state.last_error
    assert state.claimed_until is None
    assert state.next_run_at > timezone.now()


@pytest.mark.django_db
def test_a_killed_workers_claim_expires() -> None:
    ensure_job_rows(JOBS)
    now = timezone.now()
    qs = PeriodicJobState.objects.filter(name="test_job")
    kwargs = {"now": now, "lease": timedelta(minutes=1), "due_field": "next_run_at"}
    assert claim_due(qs, worker_id="dead", **kwargs)  # then the worker dies
    assert claim_due(qs, worker_id="w2", **kwargs) == []
    later = {**kwargs, "now": now + timedelta(minutes=2)}
    assert claim_due(qs, worker_id="w2", **later)


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_concurrent_claims_never_share_a_row() -> None:
    for i in range(20):
        PeriodicJobState.objects.create(name=f"job{i}", next_run_at=timezone.now())
    claimed: list[list[int]] = []
    barrier = threading.Barrier(4)

    def claim(worker: str) -> None:
        barrier.wait()
        try:
            claimed.append(
                claim_due(
                    PeriodicJobState.objects.all(),
                    worker_id=worker,
                    now=timezone.now(),
                    lease=timedelta(minutes=1),
                    limit=20,
                    due_field="next_run_at",
                )
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=claim, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [pk for ids in claimed for pk in ids]
    assert len(every) == len(set(every)) == 20
