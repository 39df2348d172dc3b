"""The measuring half of B5, run in a process configured for the benchmark's database."""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "returndesk.config.settings")

import django

django.setup()

from django.db import connection  # noqa: E402
from django.db.models import Max, Min  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from common import emit, log  # noqa: E402
from returndesk.analytics.rollups import analytics_refresh  # noqa: E402
from returndesk.analytics.selectors import analytics_summary, return_rates  # noqa: E402
from returndesk.core.actors import Actor  # noqa: E402
from returndesk.core.tenancy import merchant_scope  # noqa: E402
from returndesk.returns.lifecycle import return_event_record  # noqa: E402
from returndesk.returns.models import Return, ReturnLine  # noqa: E402
from returndesk.tenants.models import Merchant  # noqa: E402
from returndesk.tenants.services import apikey_create  # noqa: E402

WARMUP = 3
RUNS = 21
BAR_MS = 300.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def timed(call: Callable[[], Any], runs: int = RUNS) -> tuple[list[float], int]:
    """Milliseconds of each timed call after the warm-up, and the queries of the last."""
    for _ in range(WARMUP):
        call()
    times = []
    for _ in range(runs):
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            call()
            times.append((time.perf_counter() - started) * 1000)
    return times, len(queries.captured_queries)


def report(figure: str, times: list[float], queries: int, **extra: Any) -> None:
    p50 = percentile(times, 0.5)
    emit(
        "B5",
        figure,
        round(statistics.median(times), 1),
        p50_ms=round(p50, 1),
        p90_ms=round(percentile(times, 0.9), 1),
        min_ms=round(min(times), 1),
        runs=len(times),
        queries=queries,
        **extra,
    )


def main() -> int:
    merchant = Merchant.objects.get(slug="b5-shop")
    with merchant_scope(merchant):
        lines = ReturnLine.objects.filter(merchant=merchant).count()
        extent = Return.objects.filter(merchant=merchant).aggregate(
            first=Min("created_at"), last=Max("created_at")
        )
    first = extent["first"].date()
    last = extent["last"].date()
    log(f"{lines} return lines from {first} to {last}")
    context = {"return_lines": lines, "from": first.isoformat(), "to": last.isoformat()}
    with merchant_scope(merchant):
        summary = analytics_summary(merchant=merchant, first=first, last=last)
    counted = summary.return_rate
    log(
        f"summary: {counted.returns} returns, {counted.lines_returned} lines counted, "
        f"{counted.released} released; units rate {float(counted.units_rate or 0):.4f}; "
        f"{len(summary.warnings)} defect warnings"
    )
    context["lines_counted"] = counted.lines_returned
    context["defect_warnings"] = len(summary.warnings)

    def selector() -> None:
        with merchant_scope(merchant):
            analytics_summary(merchant=merchant, first=first, last=last)

    times, queries = timed(selector)
    report("summary_selector_ms", times, queries, **context)

    _, key = apikey_create(actor=Actor.system("b5"), name="b5", merchant=merchant)
    client = Client()
    url = f"/api/v1/analytics/summary?from={first.isoformat()}&to={last.isoformat()}"

    def api() -> None:
        response = client.get(url, headers={"Authorization": f"Bearer {key}"})
        assert response.status_code == 200, response.content[:500]

    times, queries = timed(api)
    p50 = percentile(times, 0.5)
    report("summary_api_ms", times, queries, bar=BAR_MS, meets_bar=p50 <= BAR_MS, **context)

    for group_by in ("sku", "category"):

        def rates(group_by: str = group_by) -> None:
            with merchant_scope(merchant):
                return_rates(merchant=merchant, first=first, last=last, group_by=group_by)

        times, queries = timed(rates, runs=7)
        report(f"return_rates_{group_by}_ms", times, queries, **context)

    analytics_refresh()  # cursors made, nothing to do
    started = time.perf_counter()
    idle = analytics_refresh()
    emit(
        "B5",
        "refresh_idle_ms",
        round((time.perf_counter() - started) * 1000, 1),
        days=sum(idle.refreshed.values()),
    )
    with merchant_scope(merchant):
        ret = Return.objects.filter(merchant=merchant).order_by("-created_at").first()
        assert ret is not None
        return_event_record(ret=ret, type="return.note", actor=Actor.system("b5"), notify=False)
    started = time.perf_counter()
    one = analytics_refresh()
    emit(
        "B5",
        "refresh_one_return_ms",
        round((time.perf_counter() - started) * 1000, 1),
        days=sum(one.refreshed.values()),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
