from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from returndesk.core.idempotency import (
    IdempotencyInProgress,
    IdempotencyKeyReused,
    StoredResponse,
    idempotency_begin,
    idempotency_complete,
    idempotency_records_purge,
    idempotency_release,
)
from returndesk.core.models import IdempotencyRecord

pytestmark = pytest.mark.django_db


def test_a_completed_request_is_replayed() -> None:
    record = idempotency_begin(credential="k1", key="a", fingerprint="f")
    assert isinstance(record, int)
    idempotency_complete(record_id=record, response=StoredResponse(201, "application/json", b"{}"))
    again = idempotency_begin(credential="k1", key="a", fingerprint="f")
    assert again == StoredResponse(201, "application/json", b"{}")


def test_another_body_with_the_same_key_is_refused() -> None:
    idempotency_begin(credential="k1", key="a", fingerprint="f")
    with pytest.raises(IdempotencyKeyReused):
        idempotency_begin(credential="k1", key="a", fingerprint="other")


def test_a_repeat_while_the_first_runs_is_refused_until_its_lock_expires() -> None:
    first = idempotency_begin(credential="k1", key="a", fingerprint="f")
    with pytest.raises(IdempotencyInProgress):
        idempotency_begin(credential="k1", key="a", fingerprint="f")
    IdempotencyRecord.objects.filter(pk=first).update(
        locked_until=timezone.now() - timedelta(seconds=1)
    )
    assert idempotency_begin(credential="k1", key="a", fingerprint="f") == first


def test_a_failed_request_can_be_retried_with_its_key() -> None:
    first = idempotency_begin(credential="k1", key="a", fingerprint="f")
    assert isinstance(first, int)
    idempotency_release(record_id=first)
    assert isinstance(idempotency_begin(credential="k1", key="a", fingerprint="f"), int)


def test_records_older_than_a_day_are_purged_and_do_not_block() -> None:
    old = idempotency_begin(credential="k1", key="a", fingerprint="f")
    IdempotencyRecord.objects.filter(pk=old).update(created_at=timezone.now() - timedelta(days=2))
    assert isinstance(idempotency_begin(credential="k1", key="a", fingerprint="other"), int)
    IdempotencyRecord.objects.update(created_at=timezone.now() - timedelta(days=2))
    assert idempotency_records_purge() == 1


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_concurrent_first_requests_reserve_the_key_once() -> None:
    outcomes: list[str] = []
    barrier = threading.Barrier(8)

    def attempt() -> None:
        barrier.wait()
        try:
            result = idempotency_begin(credential="k1", key="race", fingerprint="f")
            outcomes.append("reserved" if isinstance(result, int) else "replayed")
        except IdempotencyInProgress:
            outcomes.append("in_progress")
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("reserved") == 1
    assert outcomes.count("in_progress") == 7
    assert IdempotencyRecord.objects.filter(key="race").count() == 1


def test_an_answer_showing_a_secret_is_kept_encrypted_and_replayed_no_store() -> None:
    secret = b'{"secret": "whsec_c2VjcmV0LXNob3duLW9uY2U="}'
    record = idempotency_begin(credential="k1", key="s", fingerprint="f")
    assert isinstance(record, int)
    idempotency_complete(
        record_id=record, response=StoredResponse(201, "application/json", secret, sealed=True)
    )
    stored = bytes(IdempotencyRecord.objects.get(pk=record).response_body)
    assert b"whsec_" not in stored
    again = idempotency_begin(credential="k1", key="s", fingerprint="f")
    assert again == StoredResponse(201, "application/json", secret, sealed=True)


def test_the_api_replays_a_shown_once_secret_with_no_store(api: Any) -> None:
    body = {"url": "http://127.0.0.1:9/hook", "event_types": ["return.created"]}
    headers = {"Idempotency-Key": "create-endpoint-1"}
    first = api.post("/webhook-endpoints", body, headers=headers)
    assert first.status_code == 201, first.content
    secret = first.json()["secret"]
    again = api.post("/webhook-endpoints", body, headers=headers)
    assert again["Idempotent-Replayed"] == "true"
    assert "no-store" in again["Cache-Control"]
    assert again.json()["secret"] == secret
    assert all(
        secret.encode() not in bytes(r.response_body or b"")
        for r in IdempotencyRecord.objects.all()
    )
