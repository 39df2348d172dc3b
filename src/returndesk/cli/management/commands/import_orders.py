from __future__ import annotations

import sys
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser
from tqdm import tqdm

from returndesk.catalog.importing.base import ImportFormatError
from returndesk.catalog.importing.runner import FORMATS, import_orders
from returndesk.cli.management.commands._base import ReturnDeskCommand
from returndesk.returns.historical import historical_returns_import
from returndesk.tenants.selectors import merchant_get


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"--shift-to: '{text}' is not a date like 2026-11-26") from None


class Command(ReturnDeskCommand):
    help = (
        "Import orders from a file (csv, jsonl or online-retail; .gz read as is). "
        "Streams the file in constant memory, shows "
        "progress on a terminal, and ends with a summary: "
        "created, updated, unchanged, and every skipped row with its line number and reason."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file")
        parser.add_argument("--merchant", required=True, metavar="SLUG")
        parser.add_argument("--format", required=True, choices=FORMATS, dest="fmt")
        parser.add_argument(
            "--shift-to",
            metavar="DATE",
            help="online-retail: move every time so that the newest invoice falls on DATE",
        )
        parser.add_argument(
            "--map",
            action="append",
            default=[],
            metavar="FIELD=COLUMN",
            help="csv: read FIELD from a differently named COLUMN",
        )
        parser.add_argument(
            "--no-progress", action="store_true", help="no progress bar even on a terminal"
        )

    def handle(self, *args: Any, **o: Any) -> None:
        path = Path(o["file"])
        merchant = merchant_get(o["merchant"])
        mapping: dict[str, str] = {}
        for item in o["map"]:
            field, sep, column = item.partition("=")
            if not sep or not field or not column:
                raise CommandError(f"--map '{item}': use FIELD=COLUMN")
            mapping[field.strip()] = column.strip()
        shift_to = _date(o["shift_to"]) if o["shift_to"] else None
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        show_bar = sys.stderr.isatty() and not o["no_progress"]
        bar = tqdm(
            total=path.stat().st_size,
            unit="B",
            unit_scale=True,
            desc="importing",
            disable=not show_bar,
            file=sys.stderr,
        )
        seen = [0]

        def progress(done: int) -> None:
            bar.update(done - seen[0])
            seen[0] = done

        # Skips are written out as they come and printed at the end: memory stays flat.
        with tempfile.TemporaryFile("w+", encoding="utf-8") as skipped:

            def report(kind: str, line: int, key: str, message: str) -> None:
                where = f"line {line}" + (f" ({key})" if key else "")
                label = "skipped" if kind == "skipped" else "note"
                skipped.write(f"  {where}: {label}: {message}\n")

            history = None
            try:
                summary = import_orders(
                    actor=self.actor,
                    merchant=merchant,
                    path=path,
                    fmt=o["fmt"],
                    shift_to=shift_to,
                    mapping=mapping,
                    report=report,
                    progress=progress,
                )
                if o["fmt"] == "online-retail":
                    # Its C invoices are returns, linked to the purchases just imported.
                    history = historical_returns_import(
                        actor=self.actor,
                        merchant=merchant,
                        path=path,
                        shift_to=shift_to,
                        report=report,
                    )
            except ImportFormatError as exc:
                bar.close()
                raise CommandError(f"{path}: {exc}") from exc
            bar.close()
            skipped.seek(0)
            if summary.skipped_rows or summary.failed_orders or summary.notes:
                self.stdout.write("Rows left out or worth a look:")
                for text in skipped:
                    self.stdout.write(text.rstrip("\n"))
        self.stdout.write(f"Imported {path.name} for {merchant.slug} ({summary.engine}):")
        self.stdout.write(f"  orders created:   {summary.created}")
        self.stdout.write(f"  orders updated:   {summary.updated}")
        self.stdout.write(f"  orders unchanged: {summary.unchanged}")
        self.stdout.write(f"  rows skipped:     {summary.skipped_rows}")
        self.stdout.write(f"  orders refused:   {summary.failed_orders}")
        self.stdout.write(f"  notes:            {summary.notes}")
        for reason, count in sorted(summary.reasons.items(), key=lambda kv: -kv[1]):
            self.stdout.write(f"    {count:>7}  {reason}")
        if history is not None:
            self.stdout.write("Historical returns (the C invoices):")
            self.stdout.write(f"  returns created:   {history.returns_created}")
            self.stdout.write(f"  returns unchanged: {history.returns_unchanged}")
            self.stdout.write(f"  units linked:      {history.units_linked}")
            self.stdout.write(f"  rows not linked:   {history.rows_unlinked}")
            self.stdout.write(f"  rows skipped:      {history.rows_skipped}")
