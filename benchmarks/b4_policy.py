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
from pathlib import Path

from b1_import import app_env, online_retail_today

DATABASE = "rd_bench_b4"


def main(args: argparse.Namespace) -> int:
    with online_retail_today(DATABASE, "B4") as var_dir:
        if var_dir is None:
            return 1
        measure = Path(__file__).with_name("b4_measure.py")
        done = subprocess.run(
            [sys.executable, str(measure)], env=app_env(DATABASE, var_dir), check=False
        )
        return done.returncode
