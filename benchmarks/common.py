"""What every benchmark shares: the JSON line it prints per figure, and where it runs.

A figure is printed to stdout as one JSON object per line, stamped with the date of the run, the
machine (cores, memory, platform) and its load average, so figures from different runs can be
told apart.
Progress and diagnostics go to stderr only.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

REPO_DIR = Path(__file__).resolve().parent.parent


def log(message: str) -> None:
    """Progress for the person watching: stderr, never stdout."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)


@cache
def run_date() -> str:
    """When this run started (ISO 8601, UTC, to the second); the same on every line."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def _mem_total_gib() -> float | None:
    try:
        text = Path("/proc/meminfo").read_text(encoding="ascii")
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("MemTotal:"):
            return round(int(line.split()[1]) / (1024 * 1024), 1)
    return None


@cache
def machine() -> dict[str, Any]:
    """Cores available to this process, total memory and the platform."""
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "mem_total_gib": _mem_total_gib(),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def emit(bench: str, figure: str, value: float | int, **extra: Any) -> None:
    """Print one figure as one JSON line on stdout. A figure with a `bar` also gets
    `value_to_bar`, the value divided by the bar (with `meets_bar` saying which side is good:
    >= 1 for a floor such as a rate, <= 1 for a ceiling such as a p99 or a duration)."""
    record = {"bench": bench, "figure": figure, "value": value, **extra}
    bar = extra.get("bar")
    if isinstance(bar, int | float) and bar and isinstance(value, int | float):
        record["value_to_bar"] = round(value / bar, 4)
    record["date"] = run_date()
    record["machine"] = machine()
    # The machine is shared: how busy it was when the figure was taken (1, 5, 15 minutes).
    record["loadavg"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(record), flush=True)


def data_dir() -> Path:
    """The shared real data: $RETURNDESK_DATA_DIR, else ../shared/data beside the repository."""
    configured = os.environ.get("RETURNDESK_DATA_DIR")
    return Path(configured) if configured else REPO_DIR.parent / "shared" / "data"
