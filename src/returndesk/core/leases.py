"""Claiming due rows with a lease: the durable-work primitive of the worker.

A row is due when `next_attempt_field <= now` and its lease (`claimed_until`) is empty or past.
PostgreSQL claims with `SELECT ... FOR UPDATE SKIP LOCKED`; SQLite, which has one writer at a
time, with a conditional UPDATE per row. A killed worker's claims expire and are taken again, so
every handler must be safe to run twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import connection, models, transaction
from django.db.models import Q


def claim_due(
    queryset: models.QuerySet,
    *,
    worker_id: str,
    now: datetime,
    lease: timedelta,
    limit: int = 10,
    due_field: str = "next_attempt_at",
) -> list[int]:
    """Claim up to `limit` due rows of `queryset` for `worker_id`; answers the claimed ids."""
    due = queryset.filter(**{f"{due_field}__lte": now}).filter(
        Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    )
    until = now + lease
    if connection.vendor == "postgresql":
        with transaction.atomic():
            ids = list(
                due.select_for_update(skip_locked=True)
                .order_by(due_field, "pk")
                .values_list("pk", flat=True)[:limit]
            )
            if ids:
                queryset.model._base_manager.filter(pk__in=ids).update(
                    claimed_until=until, claimed_by=worker_id
                )
        return ids
    claimed: list[int] = []
    candidates = list(due.order_by(due_field, "pk").values_list("pk", flat=True)[:limit])
    for pk in candidates:
        won = (
            queryset.model._base_manager.filter(pk=pk)
            .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
            .update(claimed_until=until, claimed_by=worker_id)
        )
        if won:
            claimed.append(pk)
    return claimed
