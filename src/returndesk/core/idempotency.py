"""Idempotency-Key semantics of API.md, per credential, kept 24 hours.

A first request stores an `in_progress` record and, when it ends, its answer. A repeat with the
same body replays that answer; with another body it is refused (422 idempotency_key_reused);
while the first still runs it is refused (409 idempotency_in_progress). A record whose request
died (the process was killed) stops blocking once its lock expires.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from returndesk.core.errors import ApplicationError, Conflict
from returndesk.core.models import IdempotencyRecord
from returndesk.core.secrets import secret_decrypt, secret_encrypt

RETENTION = timedelta(hours=24)
IN_PROGRESS_LOCK = timedelta(seconds=60)


class IdempotencyKeyReused(ApplicationError):
    code = "idempotency_key_reused"
    status = 422
    title = "Idempotency key reused"


class IdempotencyInProgress(Conflict):
    code = "idempotency_in_progress"
    title = "Request in progress"


@dataclass(frozen=True)
class StoredResponse:
    status: int
    content_type: str
    body: bytes
    # An answer that must not be kept in the clear (it shows a secret once: an API key, a
    # webhook secret): stored encrypted, replayed with Cache-Control: no-store.
    sealed: bool = False


def request_fingerprint(method: str, path: str, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.encode(), b"\0", path.encode(), b"\0", body):
        digest.update(part)
    return digest.hexdigest()


def idempotency_begin(*, credential: str, key: str, fingerprint: str) -> StoredResponse | int:
    """Answers the stored response to replay, or the id of a new record to complete."""
    if not key or len(key) > 255:
        raise ApplicationError(
            "Idempotency-Key must be 1 to 255 characters", code="validation_error", status=422
        )
    now = timezone.now()
    for _ in range(3):
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(
                    credential=credential,
                    key=key,
                    fingerprint=fingerprint,
                    state="in_progress",
                    locked_until=now + IN_PROGRESS_LOCK,
                    created_at=now,
                )
            return record.pk
        except IntegrityError:
            pass
        existing = IdempotencyRecord.objects.filter(credential=credential, key=key).first()
        if existing is None:
            continue  # purged between our insert and our read: try again
        if existing.created_at < now - RETENTION:
            IdempotencyRecord.objects.filter(pk=existing.pk).delete()
            continue
        if existing.fingerprint != fingerprint:
            raise IdempotencyKeyReused(
                "This Idempotency-Key was already used with a different request body."
            )
        if existing.state == "completed":
            body = bytes(existing.response_body or b"")
            if existing.sealed:
                body = secret_decrypt(body.decode()).encode()
            return StoredResponse(
                status=existing.response_status or 200,
                content_type=existing.response_content_type,
                body=body,
                sealed=existing.sealed,
            )
        taken = IdempotencyRecord.objects.filter(
            pk=existing.pk, state="in_progress", locked_until__lt=now
        ).update(locked_until=now + IN_PROGRESS_LOCK)
        if taken:
            return existing.pk
        raise IdempotencyInProgress(
            "A request with this Idempotency-Key is still being processed; retry shortly."
        )
    raise IdempotencyInProgress("Could not reserve this Idempotency-Key; retry shortly.")


def idempotency_complete(*, record_id: int, response: StoredResponse) -> None:
    IdempotencyRecord.objects.filter(pk=record_id).update(
        state="completed",
        locked_until=None,
        response_status=response.status,
        response_content_type=response.content_type,
        response_body=secret_encrypt(response.body.decode()).encode()
        if response.sealed
        else response.body,
        sealed=response.sealed,
    )


def idempotency_release(*, record_id: int) -> None:
    """The request failed on our side (5xx): forget it so the client can retry the same key."""
    IdempotencyRecord.objects.filter(pk=record_id, state="in_progress").delete()


def idempotency_records_purge() -> int:
    deleted, _ = IdempotencyRecord.objects.filter(
        created_at__lt=timezone.now() - RETENTION
    ).delete()
    return deleted
