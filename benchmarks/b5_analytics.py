"""B5: the analytics summary over 1,000,000 return lines (PostgreSQL).

1. A fresh database gets one merchant (GBP, Europe/London) and a facility, then
   `generate_volume.py` writes a year of orders and RETURN_LINES return lines (with their
   labels, timelines, receipts, inspections, dispositions, settlements, refunds, store credit,
   adjustments and exchanges) drawn from the Online Retail distributions. Timed, not a bar.
2. `returndesk analytics-refresh --full` builds the daily rollups from those rows: the cost of
   the nightly rebuild. Timed, not a bar.
3. In a child process configured for that database (`b5_measure.py`): the summary of the whole
   range (every return line), through the selector and through GET /api/v1/analytics/summary
   (Django's test client: middleware, key check and JSON included, no HTTP server), WARMUP
   calls then RUNS timed calls each. Figures: median, p50 and p90 in ms and the queries per
   call. Bar (QUALITY.md B5): p50 <= 300 ms. Also timed, without bars: the return rates per
   SKU and per category over the whole range, and the refresh job with nothing to do and
   after one return's new event.

Set RETURNDESK_BENCH_B5_LINES for a smaller run, RETURNDESK_BENCH_KEEP=1 to keep the database.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from b1_import import app_env, create_database, drop_database, returndesk_bin
from common import data_dir, emit, log

DATABASE = "rd_bench_b5"
RETURN_LINES = int(os.environ.get("RETURNDESK_BENCH_B5_LINES", "1000000"))
MERCHANT = ["--slug", "b5-shop", "--name", "B5 Shop", "--currency", "GBP"]
FACILITY = [
    *("--code", "B5FAC", "--name", "B5 centre", "--line1", "1 Dock Rd", "--city", "London"),
    *("--postal-code", "E1 1AA", "--country", "GB", "--merchant", "b5-shop"),
]


def _timed(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=sys.stderr)
    return time.perf_counter() - started


def main(args: argparse.Namespace) -> int:
    source = data_dir() / "online-retail" / "online_retail.csv.gz"
    if not source.is_file():
        log(f"B5 needs {source}; it is absent")
        return 1
    keep = os.environ.get("RETURNDESK_BENCH_KEEP") == "1"
    here = Path(__file__).parent
    with tempfile.TemporaryDirectory(prefix="rd-bench-b5-") as tmp:
        create_database(DATABASE)
        try:
            env = app_env(DATABASE, Path(tmp))
            for command in (
                ["migrate", "--no-input"],
                ["createmerchant", *MERCHANT, "--timezone", "Europe/London"],
                ["createfacility", *FACILITY],
            ):
                subprocess.run(
                    [returndesk_bin(), *command], env=env, check=True, stdout=subprocess.DEVNULL
                )
            seconds = _timed(
                [
                    sys.executable,
                    str(here / "generate_volume.py"),
                    *("--merchant", "b5-shop", "--facility", "B5FAC"),
                    *("--return-lines", str(RETURN_LINES), "--data", str(source)),
                ],
                env,
            )
            emit("B5", "generate_seconds", round(seconds, 1), return_lines=RETURN_LINES)
            seconds = _timed([returndesk_bin(), "analytics-refresh", "--full"], env)
            emit("B5", "full_rebuild_seconds", round(seconds, 1), return_lines=RETURN_LINES)
            done = subprocess.run(
                [sys.executable, str(here / "b5_measure.py")], env=env, check=False
            )
            return done.returncode
        finally:
            if keep:
                log(f"B5: kept database {DATABASE}")
            else:
                drop_database(DATABASE)
