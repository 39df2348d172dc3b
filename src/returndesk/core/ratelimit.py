"""Fixed-window rate limits kept in the database, so every web process counts together."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from returndesk.core.models import RateLimitCounter


@dataclass(frozen=True)
class Limit:
    scope: str
    limit: int
    window: timedelta


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: int  # seconds until the window ends


def _window_start(now: datetime, window: timedelta) -> datetime:
    seconds = int(window.total_seconds())
    epoch = int(now.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, tz=now.tzinfo)


def rate_limit_hit(*, rule: Limit, key: str, now: datetime | None = None) -> Verdict:
    """Count one request for `key` under `rule`; not allowed once the window's limit is passed."""
    now = now or timezone.now()
    start = _window_start(now, rule.window)
    key_hash = hashlib.sha256(f"{rule.scope}:{key}".encode()).hexdigest()
    counters = RateLimitCounter.objects.filter(
        scope=rule.scope, key_hash=key_hash, window_start=start
    )
    # One transaction: the row stays locked from the increment to the read, so the count read
    # is this request's own and not one that requests racing it have pushed further.
    with transaction.atomic():
        if not counters.update(count=F("count") + 1):
            try:
                with transaction.atomic():
                    RateLimitCounter.objects.create(
                        scope=rule.scope, key_hash=key_hash, window_start=start, count=1
                    )
            except IntegrityError:  # another process made the window's row first
                counters.update(count=F("count") + 1)
        count = counters.values_list("count", flat=True).first() or 0
    retry_after = max(1, int((start + rule.window - now).total_seconds()))
    return Verdict(allowed=count <= rule.limit, retry_after=retry_after)


def rate_limit_counters_purge(*, older_than: timedelta = timedelta(days=1)) -> int:
    deleted, _ = RateLimitCounter.objects.filter(
        window_start__lt=timezone.now() - older_than
    ).delete()
    return deleted
