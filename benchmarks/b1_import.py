r"""B1: import the whole UCI Online Retail file with `returndesk import-orders` on PostgreSQL.

Everything runs in one go so the figures are measured side by side (../shared/docs/QUALITY.md):

1. Baseline: the file, gunzipped to a temporary file, loaded with
   `psql -c "\copy bare FROM 'file' WITH (FORMAT csv, HEADER true)"` into a bare table of text
   columns in a scratch database. Wall seconds of the psql process (connection included),
   median of 3 runs, the table truncated between runs. rows/s = data rows / seconds.
2. `returndesk import-orders FILE --merchant online-retail --format online-retail
   --shift-to TODAY --no-progress` into a freshly created and migrated database with one
   merchant. Wall seconds of the process (start-up included) and its peak RSS, read from that
   process's own rusage (`os.wait4`), so one run's peak cannot hide another's. Peak RSS is the
   `returndesk` process only; PostgreSQL's memory is not counted.
   Bars: import rows/s >= 0.05 x \copy rows/s; peak RSS <= 250 MB (MB = 2**20 bytes).
3. A re-import of the same file into the same database: wall seconds and the summary counts
   from its stdout (expected: 0 created, every order unchanged).
4. With --scale10: a file ten times larger (the data rows repeated, invoice numbers of copy k
   shifted by k x 1,000,000, a leading C or A kept), written gzipped to a temporary directory
   and imported into another fresh database. Bar: peak RSS no higher than for the 1x file
   (within RSS_TOLERANCE, for allocator noise) and <= 250 MB.

The benchmark databases and temporary files are removed at the end.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import IO, Any

from common import data_dir, emit, log

BENCH = "B1"
PG_HOST = os.environ.get("RETURNDESK_BENCH_PGHOST", "127.0.0.1")
PG_PORT = os.environ.get("RETURNDESK_BENCH_PGPORT", "5432")
PG_USER = os.environ.get("RETURNDESK_BENCH_PGUSER", "postgres")
APP_DB = "rd_bench_b1"
SCALE10_DB = "rd_bench_b1_x10"
COPY_DB = "rd_bench_b1_copy"
MERCHANT_SLUG = "online-retail"
MERCHANT_ARGS = [
    *("--slug", MERCHANT_SLUG, "--name", "Online Retail"),
    *("--currency", "GBP", "--timezone", "Europe/London"),
]
COPY_RUNS = 3
RATIO_BAR = 0.05
RSS_BAR_MB = 250.0
RSS_TOLERANCE = 0.05
SCALE = 10
INVOICE_OFFSET = 1_000_000
SUMMARY_LINE = re.compile(
    r"^\s*(?P<label>orders created|orders updated|orders unchanged|rows skipped|"
    r"orders refused|notes):\s+(?P<count>\d+)\s*$"
)


@dataclass(frozen=True)
class ImportRun:
    """One `returndesk import-orders` process: how long, how much memory, what it reported."""

    seconds: float
    peak_rss_mb: float
    counts: dict[str, int] = field(default_factory=dict)

    def rows_per_s(self, rows: int) -> float:
        return rows / self.seconds


# PostgreSQL through psql ----------------------------------------------------------------------


def psql(database: str, *commands: str) -> str:
    """Run each command with psql in `database`; answers its unaligned, tuples-only output."""
    argv = ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"]
    argv += ["-h", PG_HOST, "-p", PG_PORT, "-U", PG_USER, "-d", database]
    for command in commands:
        argv += ["-c", command]
    return subprocess.run(argv, check=True, capture_output=True, text=True).stdout.strip()


def drop_database(name: str) -> None:
    psql("postgres", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def create_database(name: str) -> None:
    drop_database(name)
    psql("postgres", f'CREATE DATABASE "{name}"')


def server_version() -> str:
    return psql("postgres", "SHOW server_version").split()[0]


# Files -----------------------------------------------------------------------------------------


def open_csv(path: Path, mode: str = "rt") -> IO[str]:
    if path.suffix == ".gz":
        return gzip.open(path, mode, encoding="utf-8", newline="")
    return path.open(mode, encoding="utf-8", newline="")


def read_header_and_count(path: Path) -> tuple[list[str], int]:
    """The header and the number of data rows (CSV records, not lines)."""
    with open_csv(path) as stream:
        reader = csv.reader(stream)
        header = next(reader)
        return header, sum(1 for _ in reader)


def gunzip(source: Path, target: Path) -> None:
    with gzip.open(source, "rb") as src, target.open("wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)


def shifted_invoice(number: str, copy: int) -> str:
    """Invoice `number` in copy `copy`: 536365 -> 1536365 for copy 1, C536379 -> C1536379."""
    prefix = number[:1] if number[:1].isalpha() else ""
    digits = number[len(prefix) :]
    if not digits.isdigit():
        return f"{number}-{copy}"
    return f"{prefix}{int(digits) + copy * INVOICE_OFFSET}"


def build_scaled(source: Path, target: Path, copies: int) -> int:
    """Write `copies` copies of the data rows, invoices shifted per copy; answers the rows."""
    rows = 0
    with open_csv(target, "wt") as out:
        writer = csv.writer(out, lineterminator="\n")
        for copy in range(copies):
            with open_csv(source) as stream:
                reader = csv.reader(stream)
                header = next(reader)
                if copy == 0:
                    writer.writerow(header)
                for row in reader:
                    row[0] = shifted_invoice(row[0], copy)
                    writer.writerow(row)
                    rows += 1
    return rows


# Timed processes -------------------------------------------------------------------------------


def run_measured(argv: list[str], env: dict[str, str], stdout: IO[str]) -> tuple[float, float]:
    """Run `argv` to its end; answers its wall seconds and its own peak RSS in MB."""
    started = time.perf_counter()
    process = subprocess.Popen(argv, env=env, stdout=stdout)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise subprocess.CalledProcessError(process.returncode, argv)
    return seconds, usage.ru_maxrss / 1024  # ru_maxrss is in KiB on Linux


def time_copy(plain: Path, columns: int) -> list[float]:
    """Wall seconds of each `psql \\copy` of `plain` into a bare table, truncated between."""
    create_database(COPY_DB)
    psql(COPY_DB, f"CREATE TABLE bare ({', '.join(f'c{i} text' for i in range(columns))})")
    copy = f"\\copy bare FROM '{plain}' WITH (FORMAT csv, HEADER true)"
    times = []
    for run in range(COPY_RUNS):
        psql(COPY_DB, "TRUNCATE bare")
        started = time.perf_counter()
        psql(COPY_DB, copy)
        times.append(time.perf_counter() - started)
        log(f"psql \\copy run {run + 1}: {times[-1]:.2f} s")
    log(f"bare table holds {psql(COPY_DB, 'SELECT count(*) FROM bare')} rows")
    return times


# ReturnDesk ------------------------------------------------------------------------------------


def returndesk_bin() -> str:
    """The `returndesk` script of the virtualenv running this benchmark."""
    return str(Path(sys.executable).parent / "returndesk")


def app_env(database: str, var_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["DATABASE_URL"] = f"postgres://{PG_USER}@{PG_HOST}:{PG_PORT}/{database}"
    env["RETURNDESK_VAR_DIR"] = str(var_dir)
    return env


def prepare_app_database(database: str, var_dir: Path) -> None:
    """A fresh database, migrated, with the Online Retail merchant."""
    create_database(database)
    env = app_env(database, var_dir)
    for command in (["migrate", "--no-input"], ["createmerchant", *MERCHANT_ARGS]):
        subprocess.run([returndesk_bin(), *command], env=env, check=True, stdout=subprocess.DEVNULL)


def parse_summary(text: str) -> dict[str, int]:
    """The counts of the summary `import-orders` ends with ("orders created: N", ...)."""
    counts = {}
    for line in text.splitlines():
        if match := SUMMARY_LINE.match(line):
            counts[match["label"].split()[-1]] = int(match["count"])
    return counts


def summary_block(text: str) -> str:
    """The summary at the end of the output (from "Imported ..."), without the skip list."""
    start = text.rfind("\nImported ")
    return text[start + 1 :] if start >= 0 else text[-2000:]


def import_file(database: str, var_dir: Path, path: Path, shift_to: str) -> ImportRun:
    argv = [returndesk_bin(), "import-orders", str(path), "--merchant", MERCHANT_SLUG]
    argv += ["--format", "online-retail", "--shift-to", shift_to, "--no-progress"]
    with tempfile.TemporaryFile("w+", encoding="utf-8") as out:
        seconds, peak = run_measured(argv, app_env(database, var_dir), out)
        out.seek(0)
        text = out.read()
    log(f"import of {path.name}: {seconds:.1f} s, peak RSS {peak:.0f} MB\n{summary_block(text)}")
    counts = parse_summary(text)
    if "created" not in counts:
        raise RuntimeError(f"no summary in the output of {' '.join(argv)}")
    return ImportRun(seconds, peak, counts)


# The benchmark ---------------------------------------------------------------------------------


@contextmanager
def dropping_databases(*names: str) -> Iterator[None]:
    try:
        yield
    finally:
        for name in names:
            try:
                drop_database(name)
            except subprocess.CalledProcessError as exc:
                log(f"could not drop database {name}: {exc.stderr}")


def bench_copy(source: Path, work: Path, context: dict[str, Any]) -> float:
    """The \\copy baseline; emits it and answers its rows/s."""
    plain = work / "online_retail.csv"
    gunzip(source, plain)
    header, rows = read_header_and_count(plain)
    times = time_copy(plain, len(header))
    drop_database(COPY_DB)
    plain.unlink()
    seconds = statistics.median(times)
    rate = rows / seconds
    emit(
        BENCH,
        "psql_copy_rows_per_s",
        round(rate),
        seconds=round(seconds, 3),
        **context,
        runs_seconds=[round(t, 3) for t in times],
    )
    return rate


def bench_import(
    source: Path, work: Path, shift_to: str, copy_rate: float, context: dict[str, Any]
) -> ImportRun:
    """Import, then re-import, the 1x file; emits the figures and answers the first import."""
    var_dir = work / "var"
    prepare_app_database(APP_DB, var_dir)
    first = import_file(APP_DB, var_dir, source, shift_to)
    rate = first.rows_per_s(context["rows"])
    emit(
        BENCH,
        "import_rows_per_s",
        round(rate),
        seconds=round(first.seconds, 2),
        peak_rss_mb=round(first.peak_rss_mb, 1),
        **first.counts,
        **context,
    )
    ratio = rate / copy_rate
    emit(
        BENCH,
        "ratio_import_to_copy",
        round(ratio, 4),
        bar=RATIO_BAR,
        meets_bar=ratio >= RATIO_BAR,
        **context,
    )
    emit(
        BENCH,
        "import_peak_rss_mb",
        round(first.peak_rss_mb, 1),
        bar=RSS_BAR_MB,
        meets_bar=first.peak_rss_mb <= RSS_BAR_MB,
        **context,
    )
    again = import_file(APP_DB, var_dir, source, shift_to)
    emit(
        BENCH,
        "reimport_seconds",
        round(again.seconds, 2),
        rows_per_s=round(again.rows_per_s(context["rows"])),
        peak_rss_mb=round(again.peak_rss_mb, 1),
        **again.counts,
        **context,
    )
    drop_database(APP_DB)
    return first


def bench_scale10(
    source: Path, work: Path, shift_to: str, first: ImportRun, context: dict[str, Any]
) -> None:
    """Import a file SCALE times larger into a fresh database; compare its peak memory."""
    scaled = work / f"online_retail_x{SCALE}.csv.gz"
    log(f"building {scaled} ({SCALE} copies)")
    rows = build_scaled(source, scaled, SCALE)
    var_dir = work / "var"
    prepare_app_database(SCALE10_DB, var_dir)
    run = import_file(SCALE10_DB, var_dir, scaled, shift_to)
    extra = {**context, "rows": rows, "scale": SCALE}
    emit(
        BENCH,
        "scale10_import_rows_per_s",
        round(run.rows_per_s(rows)),
        seconds=round(run.seconds, 2),
        peak_rss_mb=round(run.peak_rss_mb, 1),
        **run.counts,
        **extra,
    )
    ratio = run.peak_rss_mb / first.peak_rss_mb
    meets = run.peak_rss_mb <= RSS_BAR_MB and ratio <= 1 + RSS_TOLERANCE
    emit(
        BENCH,
        "scale10_peak_rss_mb",
        round(run.peak_rss_mb, 1),
        bar=RSS_BAR_MB,
        x1_peak_rss_mb=round(first.peak_rss_mb, 1),
        ratio_to_x1=round(ratio, 3),
        tolerance=RSS_TOLERANCE,
        meets_bar=meets,
        **extra,
    )
    drop_database(SCALE10_DB)
    scaled.unlink()


def main(args: argparse.Namespace) -> int:
    source = data_dir() / "online-retail" / "online_retail.csv.gz"
    if not source.is_file():
        log(f"B1: {source} not found (set RETURNDESK_DATA_DIR); not run")
        return 1
    shift_to = date.today().isoformat()
    with (
        tempfile.TemporaryDirectory(prefix="rd-bench-b1-") as tmp,
        dropping_databases(COPY_DB, APP_DB, SCALE10_DB),
    ):
        work = Path(tmp)
        try:
            _, rows = read_header_and_count(source)
            context = {"rows": rows, "postgresql": server_version()}
            copy_rate = bench_copy(source, work, context)
            first = bench_import(source, work, shift_to, copy_rate, context)
            if args.scale10:
                bench_scale10(source, work, shift_to, first, context)
        except (subprocess.CalledProcessError, RuntimeError) as exc:
            stderr = getattr(exc, "stderr", None)
            log(f"B1 failed: {exc}" + (f"\n{stderr}" if stderr else ""))
            return 1
    return 0


@contextmanager
def online_retail_today(database: str, bench: str) -> Iterator[Path | None]:
    """A fresh database holding the whole Online Retail file shifted to today (orders and
    historical returns); answers its var directory, or None when the data set is absent.
    The database and the directory are removed afterwards."""
    source = data_dir() / "online-retail" / "online_retail.csv.gz"
    if not source.is_file():
        log(f"{bench} needs {source}; it is absent")
        yield None
        return
    prefix = f"rd-bench-{bench.lower()}-"
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp, dropping_databases(database):
        var_dir = Path(tmp)
        prepare_app_database(database, var_dir)
        import_file(database, var_dir, source, date.today().isoformat())
        yield var_dir
