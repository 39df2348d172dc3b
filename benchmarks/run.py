"""Run the benchmarks (`make bench`): `python benchmarks/run.py [--only b1] [--scale10]`.

Each benchmark is a module with `main(args) -> int` that prints one JSON line per figure on
stdout (see `common.emit`) and its progress on stderr. Add a benchmark by adding its module to
`BENCHMARKS`. The exit status is non-zero when any benchmark failed to run (a figure that misses
its bar is reported in its JSON line, not by the exit status).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from types import ModuleType

import b1_import
import b2_returns
import b3_receiving
import b4_policy
import b5_analytics
from common import log

BENCHMARKS: dict[str, ModuleType] = {
    "b1": b1_import,
    "b2": b2_returns,
    "b3": b3_receiving,
    "b4": b4_policy,
    "b5": b5_analytics,
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only",
        action="append",
        choices=sorted(BENCHMARKS),
        metavar="NAME",
        help=f"run only this benchmark (repeatable): {', '.join(sorted(BENCHMARKS))}",
    )
    parser.add_argument(
        "--scale10",
        action="store_true",
        help="B1: also import a file ten times larger and compare peak memory",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    failed = []
    for name in args.only or list(BENCHMARKS):
        entry: Callable[[argparse.Namespace], int] = BENCHMARKS[name].main
        log(f"{name}: start")
        if entry(args) != 0:
            failed.append(name)
        log(f"{name}: done")
    if failed:
        log(f"failed to run: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
