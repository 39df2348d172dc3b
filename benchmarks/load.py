"""`make load`: the mixed workload of benchmarks/locustfile.py against the production setup.

1. Seed: a fresh PostgreSQL database gets the whole Online Retail file (`import-orders`,
   shifted to today, so recent orders are inside the return window), a facility serving the
   merchant, PACKAGES authorized returns of older orders with a prepaid label each (written in
   bulk, like B3's), a merchant API key for the shoppers and a provider key for the facility.
2. Serve: `returndesk serve` (gunicorn; --workers and --threads as given) with production
   settings (RETURNDESK_PRODUCTION=1, a throwaway SECRET_KEY and Fernet key), on loopback.
   The load client sends `X-Forwarded-Proto: https` as the TLS-terminating proxy in front of
   gunicorn would, so the production HTTPS redirect does not answer instead of the view.
3. Load: locust, headless, for --seconds (shoppers, stations and inspectors in closed loops, no
   think time), on this machine's same two cores: the figures include the load generator's CPU.
4. One JSON line per request type (requests, failures, requests/s, p50/p95/p99 ms) and one for
   the whole run, then the server is stopped and the database dropped.

Usage: `make load` or `python benchmarks/load.py [--seconds 60] [--workers 2] [--threads 2]
[--shoppers 8] [--stations 6] [--inspectors 2] [--keep]`.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from b1_import import MERCHANT_SLUG, app_env, online_retail_today, psql, returndesk_bin
from common import REPO_DIR, emit, log

DATABASE = "rd_load"
PORT = int(os.environ.get("RETURNDESK_BENCH_PORT", "8765"))
FACILITY = "LOADFAC"
PACKAGES = int(os.environ.get("RETURNDESK_LOAD_PACKAGES", "20000"))
LOCUSTFILE = REPO_DIR / "benchmarks" / "locustfile.py"

# Run inside `returndesk shell`: the facility and the labelled returns, in bulk. Each return
# takes one unit of the first line of an order placed more than 40 days ago, so the shoppers'
# recent orders stay theirs.
SETUP = """
import json
from datetime import timedelta
from django.utils import timezone
from django_scopes import scopes_disabled
from returndesk.catalog.models import OrderLine
from returndesk.core.actors import Actor
from returndesk.core.codes import generate_ran
from returndesk.core.ids import new_public_id
from returndesk.returns.models import Return, ReturnLine
from returndesk.shipping.models import Label
from returndesk.tenants.models import Merchant
from returndesk.tenants.services import facility_create

actor = Actor.system("load")
merchant = Merchant.objects.get(slug="MERCHANT")
facility = facility_create(actor=actor, code="FACILITY", name="Load facility", line1="1 Dock Rd",
                           city="Leeds", postal_code="LS1 1AA", country="GB",
                           merchant_slugs=[merchant.slug])
codes = []
with scopes_disabled():
    lines = list(
        OrderLine.objects.filter(merchant=merchant, quantity__gte=1,
                                 order__placed_at__lt=timezone.now() - timedelta(days=40))
        .select_related("order").order_by("order_id", "position").distinct("order_id")[:COUNT])
    for start in range(0, len(lines), 2000):
        batch = lines[start:start + 2000]
        returns = Return.objects.bulk_create(
            Return(merchant=merchant, ran=generate_ran(), order=li.order, email=li.order.email,
                   status="authorized", channel="api", resolution="refund",
                   currency=li.order.currency, created_by_label="load")
            for li in batch)
        ReturnLine.objects.bulk_create(
            ReturnLine(merchant=merchant, return_request=r, order_line=li, sku=li.sku,
                       name=li.name, quantity=1, reason="changed_mind", currency=li.currency,
                       value_amount=li.unit_price_amount)
            for r, li in zip(returns, batch))
        labels = Label.objects.bulk_create(
            Label(merchant=merchant, public_id=new_public_id("lbl"), return_request=r,
                  facility=facility, kind="label", adapter="prepaid", carrier="ReturnDesk",
                  tracking_number="RD" + r.ran, paid_by="merchant", cost_currency=r.currency,
                  currency=r.currency, created_by_label="load")
            for r in returns)
        codes += [[label.tracking_number, r.ran] for label, r in zip(labels, returns)]
print(json.dumps(codes))
"""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60, help="how long the load runs")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=2, help="threads per gunicorn worker")
    parser.add_argument("--shoppers", type=int, default=8)
    parser.add_argument("--stations", type=int, default=6)
    parser.add_argument("--inspectors", type=int, default=2)
    return parser.parse_args(argv)


def _run(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [returndesk_bin(), *args], env=env, check=True, capture_output=True, text=True
    )
    return done.stdout


def seed(env: dict[str, str], work: Path) -> Path:
    """The load's data file: keys, the facility, recent orders and labelled packages."""
    merchant_key = _run(env, "apikey", "create", "--merchant", MERCHANT_SLUG, "--name", "load")
    setup = SETUP.replace("MERCHANT", MERCHANT_SLUG).replace("FACILITY", FACILITY)
    packages = json.loads(
        _run(env, "shell", "-c", setup.replace("COUNT", str(PACKAGES))).strip().splitlines()[-1]
    )
    provider_key = _run(
        env, "apikey", "create", "--provider", "--name", "load", "--facility", FACILITY
    )
    rows = psql(
        DATABASE,
        "SELECT o.order_number, o.email, min(l.line_id::int)::text FROM catalog_order o "
        "JOIN catalog_orderline l ON l.order_id = o.id "
        "WHERE o.email <> '' AND o.placed_at > now() - interval '25 days' "
        "GROUP BY o.order_number, o.email, o.placed_at ORDER BY o.placed_at DESC",
    )
    orders = [line.split("|") for line in rows.splitlines() if line]
    log(f"load data: {len(orders)} recent orders, {len(packages)} labelled packages")
    data = {
        "merchant_key": merchant_key.strip().splitlines()[-1],
        "provider_key": provider_key.strip().splitlines()[-1],
        "facility": FACILITY,
        "orders": orders,
        "packages": packages,
    }
    path = work / "load-data.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def production_env(env: dict[str, str]) -> dict[str, str]:
    """RETURNDESK_PRODUCTION settings with throwaway secrets, for loopback only."""
    return {
        **env,
        "RETURNDESK_PRODUCTION": "1",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "RETURNDESK_SECRETS_KEYS": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LOG_LEVEL": "WARNING",
    }


def wait_for_server() -> None:
    for _ in range(150):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=1)
            conn.request("GET", "/healthz", headers={"X-Forwarded-Proto": "https"})
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the server did not come up")


def percentile(times: dict[str, int], total: int, p: float) -> float | None:
    """The p-th percentile of locust's response-time histogram ({ms: count})."""
    if not total:
        return None
    wanted = total * p / 100
    seen = 0
    for ms, n in sorted((float(k), v) for k, v in times.items()):
        seen += n
        if seen >= wanted:
            return ms
    return None


def report(stats: list[dict[str, Any]], seconds: float, context: dict[str, Any]) -> None:
    total_requests = total_failures = 0
    for entry in sorted(stats, key=lambda e: e["name"]):
        n, failures = entry["num_requests"], entry["num_failures"]
        total_requests += n
        total_failures += failures
        times = entry["response_times"]
        emit(
            "LOAD",
            f"{entry['name']}_rps",
            round(n / seconds, 1),
            requests=n,
            failures=failures,
            p50_ms=percentile(times, n, 50),
            p95_ms=percentile(times, n, 95),
            p99_ms=percentile(times, n, 99),
            **context,
        )
    emit(
        "LOAD",
        "total_rps",
        round(total_requests / seconds, 1),
        requests=total_requests,
        failures=total_failures,
        **context,
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with online_retail_today(DATABASE, "LOAD") as var_dir:
        if var_dir is None:
            return 1
        env = {**app_env(DATABASE, var_dir), "ALLOWED_HOSTS": "127.0.0.1,localhost"}
        with tempfile.TemporaryDirectory(prefix="rd-load-") as tmp:
            data = seed(env, Path(tmp))
            serve = ["serve", "--port", str(PORT), "--workers", str(args.workers)]
            server = subprocess.Popen(
                [returndesk_bin(), *serve, "--threads", str(args.threads)],
                env=production_env(env),
                stdout=subprocess.DEVNULL,  # the access log and the request log: not measured
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            try:
                wait_for_server()
                load_before = os.getloadavg()
                started = time.perf_counter()
                users = args.shoppers + args.stations + args.inspectors
                locust = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless"]
                locust += ["--skip-log-setup", "--only-summary", "--json", "-u", str(users)]
                locust += ["--host", f"http://127.0.0.1:{PORT}", "--run-time", f"{args.seconds}s"]
                done = subprocess.run(
                    [*locust, "-r", "100", "--stop-timeout", "10"],
                    env={
                        **os.environ,
                        "RETURNDESK_LOAD_DATA": str(data),
                        "RETURNDESK_LOAD_SHOPPERS": str(args.shoppers),
                        "RETURNDESK_LOAD_STATIONS": str(args.stations),
                        "RETURNDESK_LOAD_INSPECTORS": str(args.inspectors),
                    },
                    capture_output=True,
                    text=True,
                    check=False,
                    timeout=args.seconds + 120,
                )
                elapsed = time.perf_counter() - started
                load_after = os.getloadavg()
            finally:
                os.killpg(server.pid, signal.SIGTERM)
                server.wait(timeout=30)
        if not done.stdout.strip().startswith("["):
            log(f"locust gave no statistics (exit {done.returncode}):\n{done.stderr[-3000:]}")
            return 1
        report(
            json.loads(done.stdout),
            float(args.seconds),
            {
                "seconds": args.seconds,
                "wall_seconds": round(elapsed, 1),
                "server": f"gunicorn {args.workers}x{args.threads}",
                "users": {
                    "shoppers": args.shoppers,
                    "stations": args.stations,
                    "inspectors": args.inspectors,
                },
                "loadavg_before": [round(x, 2) for x in load_before],
                "loadavg_after": [round(x, 2) for x in load_after],
            },
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
