"""The measuring half of B4, run in a process configured for the benchmark's database."""

from __future__ import annotations

import contextlib
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "returndesk.config.settings")

import django

django.setup()

from common import emit, log  # noqa: E402
from returndesk.core.tenancy import merchant_scope  # noqa: E402
from returndesk.policies.document import PolicyDocument  # noqa: E402
from returndesk.policies.engine import RequestInvalid, decide  # noqa: E402
from returndesk.policies.selectors import policy_current  # noqa: E402
from returndesk.returns.simulation import policy_simulate, simulation_cases  # noqa: E402
from returndesk.tenants.models import Merchant  # noqa: E402

SIMULATION_BAR_S = 2.0
ENGINE_BAR = 50_000


def main() -> int:
    merchant = Merchant.objects.get(slug="online-retail")
    with merchant_scope(merchant):
        current = PolicyDocument.model_validate(policy_current(merchant=merchant).document)
        draft = current.model_dump(mode="json")
        draft["window_days"] = 60
        draft["fees"]["restocking_percent"] = 10
        times, report = [], {}
        for _ in range(5):
            started = time.perf_counter()
            report = policy_simulate(merchant=merchant, draft_document=draft)
            times.append(time.perf_counter() - started)
        log(f"simulation runs: {', '.join(f'{t:.2f}' for t in times)} s")
        emit(
            "B4",
            "simulation_seconds",
            round(statistics.median(times), 3),
            runs_seconds=[round(t, 3) for t in times],
            returns=report["returns"],
            lines=report["lines"],
            bar=SIMULATION_BAR_S,
            meets_bar=statistics.median(times) <= SIMULATION_BAR_S,
        )
        cases = simulation_cases(merchant=merchant, date_from=None, date_to=None)
    rates = []
    for _ in range(5):
        decided, started = 0, time.perf_counter()
        while time.perf_counter() - started < 0.4:
            for case in cases:
                with contextlib.suppress(RequestInvalid):
                    decide(
                        current,
                        case.order,
                        case.request,
                        case.history,
                        now=case.requested_at,
                        timezone=merchant.timezone,
                    )
                decided += len(case.request.lines)
        rates.append(decided / (time.perf_counter() - started))
    rate = statistics.median(rates)
    emit(
        "B4",
        "engine_line_decisions_per_s",
        round(rate),
        runs=[round(r) for r in rates],
        bar=ENGINE_BAR,
        meets_bar=rate >= ENGINE_BAR,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
