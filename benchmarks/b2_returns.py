"""B2: creating returns over HTTP on the production server setup, 16 concurrent clients.

1. A fresh PostgreSQL database gets the whole Online Retail file (`import-orders`, shifted to
   today, so recent orders are inside the 30-day window) and a merchant API key.
2. `returndesk serve` (gunicorn, 2 workers x 2 threads: this machine has 2 cores) starts.
3. The same load generator (16 threads, one keep-alive connection each) first runs GET /healthz
   for the phase length, then POST /returns, each request returning one unit of a different
   recent order with an e-mail. Figures: requests/s and p50/p99 latency of each phase, and the
   ratio returns/s / healthz/s. Bars (QUALITY.md B2): ratio >= 0.15 and returns p99 <= 150 ms.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import subprocess
import threading
import time
from typing import Any

from b1_import import app_env, online_retail_today, psql, returndesk_bin
from common import emit, log

DATABASE = "rd_bench_b2"
PORT = int(os.environ.get("RETURNDESK_BENCH_PORT", "8765"))
CLIENTS = 16
PHASE_SECONDS = float(os.environ.get("RETURNDESK_BENCH_PHASE_S", "20"))
RATIO_BAR = 0.15
P99_BAR_MS = 150.0


def recent_orders(limit: int) -> list[tuple[str, str, str]]:
    """(order number, e-mail, first line id) of recent orders with an e-mail."""
    rows = psql(
        DATABASE,
        "SELECT o.order_number, o.email, min(l.line_id::int)::text FROM catalog_order o "
        "JOIN catalog_orderline l ON l.order_id = o.id "
        "WHERE o.email <> '' AND o.placed_at > now() - interval '25 days' "
        f"GROUP BY o.order_number, o.email, o.placed_at ORDER BY o.placed_at DESC LIMIT {limit}",
    )
    return [tuple(line.split("|")) for line in rows.splitlines() if line]  # type: ignore[misc]


def wait_for_server() -> None:
    for _ in range(100):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=1)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("the server did not come up")


def run_phase(make_request: Any, seconds: float) -> tuple[int, list[float], int]:
    """Run CLIENTS threads for `seconds`; answers (ok count, latencies in ms, errors)."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop_at = time.perf_counter() + seconds

    def client(index: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
        n = 0
        mine: list[float] = []
        while time.perf_counter() < stop_at:
            method, path, body, headers = make_request(index, n)
            n += 1
            started = time.perf_counter()
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                ok = response.status < 400
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
                ok = False
            if ok:
                mine.append((time.perf_counter() - started) * 1000)
            else:
                with lock:
                    errors[0] += 1
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    begun = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - begun
    return int(len(latencies) / elapsed), latencies, errors[0]


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main(args: argparse.Namespace) -> int:
    with online_retail_today(DATABASE, "B2") as var_dir:
        if var_dir is None:
            return 1
        env = {**app_env(DATABASE, var_dir), "ALLOWED_HOSTS": "127.0.0.1,localhost"}
        created = subprocess.run(
            [returndesk_bin(), "apikey", "create", "--merchant", "online-retail", "--name", "b2"],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        key = created.stdout.strip().splitlines()[-1]
        orders = recent_orders(20_000)
        log(f"{len(orders)} recent orders with an e-mail to return from")
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
            cursor = iter(range(len(orders)))
            cursor_lock = threading.Lock()

            def create_return(index: int, n: int) -> tuple[str, str, str, dict[str, str]]:
                with cursor_lock:
                    number, email, line_id = orders[next(cursor) % len(orders)]
                body = {
                    "order_number": number,
                    "email": email,
                    "channel": "api",
                    "resolution": "refund",
                    "lines": [{"line_id": line_id, "quantity": 1, "reason": "changed_mind"}],
                }
                headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
                return "POST", "/api/v1/returns", json.dumps(body), headers

            returns_rps, returns_lat, returns_err = run_phase(create_return, PHASE_SECONDS)
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
    ratio = returns_rps / health_rps if health_rps else 0.0
    p99 = percentile(returns_lat, 99)
    for name, rps, lat, err in (
        ("healthz_rps", health_rps, health_lat, health_err),
        ("returns_rps", returns_rps, returns_lat, returns_err),
    ):
        emit(
            "B2",
            name,
            rps,
            p50_ms=round(percentile(lat, 50), 2),
            p99_ms=round(percentile(lat, 99), 2),
            errors=err,
            clients=CLIENTS,
        )
    emit(
        "B2",
        "ratio_returns_to_healthz",
        round(ratio, 4),
        bar=RATIO_BAR,
        meets_bar=ratio >= RATIO_BAR,
    )
    emit("B2", "returns_p99_ms", round(p99, 2), bar=P99_BAR_MS, meets_bar=p99 <= P99_BAR_MS)
    return 0
