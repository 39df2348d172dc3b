"""B4: the policy engine alone, and a draft-policy simulation over every imported historical
return line of the Online Retail merchant, database loading included (PostgreSQL).

1. A fresh database gets the whole Online Retail file with `returndesk import-orders` (orders,
   then its C invoices as historical returns), shifted to today.
2. In a child process configured for that database (`b4_measure.py`):
   - the simulation (`returns.simulation.policy_simulate`: load every recorded return, its
     order lines and products, then run the current and a draft policy over each) is timed
     five times; the median is the figure. Bar: <= 2 s.
   - the engine alone decides every case's request again and again for about two seconds;
     line decisions per second is the figure. Bar: >= 50,000.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

from b1_import import app_env, dropping_databases, import_file, prepare_app_database
from common import data_dir, log

DATABASE = "rd_bench_b4"


def main(args: argparse.Namespace) -> int:
    source = data_dir() / "online-retail" / "online_retail.csv.gz"
    if not source.is_file():
        log(f"B4 needs {source}; it is absent")
        return 1
    with tempfile.TemporaryDirectory(prefix="rd-bench-b4-") as tmp, dropping_databases(DATABASE):
        var_dir = Path(tmp)
        prepare_app_database(DATABASE, var_dir)
        import_file(DATABASE, var_dir, source, date.today().isoformat())
        measure = Path(__file__).with_name("b4_measure.py")
        done = subprocess.run(
            [sys.executable, str(measure)], env=app_env(DATABASE, var_dir), check=False
        )
        return done.returncode
