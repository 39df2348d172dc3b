"""B3: receiving scans over HTTP on the production server setup, 16 concurrent stations.

1. A fresh PostgreSQL database gets one merchant, a facility serving it, and RETURNS authorized
   returns (one line each) with a prepaid label, written in bulk (setting up is not measured),
   and a provider API key limited to the facility.
2. `returndesk serve` (gunicorn, 2 workers x 2 threads: this machine has 2 cores) starts.
3. The B2 load generator (16 threads, one keep-alive connection each) first runs GET /healthz
   for the phase length, then POST /api/v1/receipts: each request scans a different package,
   by its label's tracking number (every tenth by its RAN), so every scan writes a receipt,
   moves a return to received and writes its timeline and outbox rows. Figures: scans/s and
   p50/p99 latency, healthz/s, and the ratio. Bars (QUALITY.md B3): ratio >= 0.3, p99 <= 50 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import tempfile
import threading
from pathlib import Path

import b2_returns
from b1_import import app_env, create_database, drop_database, returndesk_bin
from b2_returns import PORT, percentile, run_phase, wait_for_server
from common import emit, log

DATABASE = "rd_bench_b3"
RETURNS = int(os.environ.get("RETURNDESK_BENCH_B3_RETURNS", "20000"))
PHASE_SECONDS = float(os.environ.get("RETURNDESK_BENCH_PHASE_S", "20"))
RATIO_BAR = 0.3
P99_BAR_MS = 50.0
FACILITY = ("--facility", "B3FAC")

# Run inside `returndesk shell`: the merchant, facility and labelled returns, in bulk.
SETUP = """
import json, sys
from django_scopes import scopes_disabled
from returndesk.core.actors import Actor
from returndesk.core.codes import generate_ran
from returndesk.core.ids import new_public_id
from returndesk.returns.models import Return, ReturnLine
from returndesk.shipping.models import Label
from returndesk.tenants.services import facility_create, merchant_create

actor = Actor.system("b3")
merchant = merchant_create(actor=actor, slug="b3-shop", name="B3 Shop", currency="USD",
                           timezone_name="UTC")
facility = facility_create(actor=actor, code="B3FAC", name="B3 facility", line1="1 Dock Rd",
                           city="Newark", postal_code="07102", country="US",
                           merchant_slugs=[merchant.slug])
codes = []
with scopes_disabled():
    for start in range(0, COUNT, 2000):
        batch = range(start, min(COUNT, start + 2000))
        returns = Return.objects.bulk_create(
            Return(merchant=merchant, ran=generate_ran(), status="authorized", channel="api",
                   resolution="refund", currency="USD", created_by_label="b3")
            for _ in batch)
        ReturnLine.objects.bulk_create(
            ReturnLine(merchant=merchant, return_request=r, sku="SKU-1", name="Thing",
                       quantity=1, reason="changed_mind", currency="USD", value_amount=1000)
            for r in returns)
        labels = Label.objects.bulk_create(
            Label(merchant=merchant, public_id=new_public_id("lbl"), return_request=r,
                  facility=facility, kind="label", adapter="prepaid", carrier="ReturnDesk",
                  tracking_number="RD" + r.ran, paid_by="merchant", cost_currency="USD",
                  currency="USD", created_by_label="b3")
            for r in returns)
        codes += [[label.tracking_number, r.ran] for label, r in zip(labels, returns)]
print(json.dumps(codes))
"""


def main(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="rd-bench-b3-") as tmp:
        var_dir = Path(tmp)
        create_database(DATABASE)
        try:
            env = {**app_env(DATABASE, var_dir), "ALLOWED_HOSTS": "127.0.0.1,localhost"}
            subprocess.run(
                [returndesk_bin(), "migrate", "--no-input"],
                env=env,
                check=True,
                stdout=subprocess.DEVNULL,
            )
            made = subprocess.run(
                [returndesk_bin(), "shell", "-c", SETUP.replace("COUNT", str(RETURNS))],
                env=env,
                check=True,
                capture_output=True,
                text=True,
            )
            codes: list[list[str]] = json.loads(made.stdout.strip().splitlines()[-1])
            created = subprocess.run(
                [returndesk_bin(), "apikey", "create", "--provider", "--name", "b3", *FACILITY],
                env=env,
                check=True,
                capture_output=True,
                text=True,
            )
            key = created.stdout.strip().splitlines()[-1]
            log(f"{len(codes)} labelled returns to receive")
            return _measure(env, key, codes)
        finally:
            drop_database(DATABASE)


def _measure(env: dict[str, str], key: str, codes: list[list[str]]) -> int:
    b2_returns.CLIENTS = 16
    server = subprocess.Popen(
        [returndesk_bin(), "serve", "--port", str(PORT), "--workers", "2", "--threads", "2"],
        env={**env, "LOG_LEVEL": "WARNING"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for_server()
        health_rps, health_lat, health_err = run_phase(
            lambda i, n: ("GET", "/healthz", None, {}), PHASE_SECONDS
        )
        cursor = iter(range(len(codes)))
        cursor_lock = threading.Lock()
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

        def scan(index: int, n: int) -> tuple[str, str, str, dict[str, str]]:
            with cursor_lock:
                i = next(cursor)
            tracking, ran = codes[i % len(codes)]
            body = {"code": ran if i % 10 == 9 else tracking, "facility": "B3FAC"}
            return "POST", "/api/v1/receipts", json.dumps(body), headers

        scan_rps, scan_lat, scan_err = run_phase(scan, PHASE_SECONDS)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    if scan_rps * PHASE_SECONDS > len(codes):
        log("B3: more scans than packages: later scans were rescans (raise the returns count)")
    ratio = scan_rps / health_rps if health_rps else 0.0
    p99 = percentile(scan_lat, 99)
    for name, rps, lat, err in (
        ("healthz_rps", health_rps, health_lat, health_err),
        ("scans_rps", scan_rps, scan_lat, scan_err),
    ):
        emit(
            "B3",
            name,
            rps,
            p50_ms=round(percentile(lat, 50), 2),
            p99_ms=round(percentile(lat, 99), 2),
            errors=err,
            clients=b2_returns.CLIENTS,
        )
    emit(
        "B3", "ratio_scans_to_healthz", round(ratio, 4), bar=RATIO_BAR, meets_bar=ratio >= RATIO_BAR
    )
    emit("B3", "scans_p99_ms", round(p99, 2), bar=P99_BAR_MS, meets_bar=p99 <= P99_BAR_MS)
    return 0
