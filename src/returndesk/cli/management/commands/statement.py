from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser

from returndesk.cli.management.commands._base import ReturnDeskCommand
from returndesk.operations.billing import statement_build
from returndesk.operations.documents import render_csv, render_pdf
from returndesk.tenants.selectors import merchant_get


class Command(ReturnDeskCommand):
    help = (
        "Write a merchant's monthly statement (docs/decisions/0016-provider-operations.md) as "
        "CSV or PDF, to a file or, for CSV, to standard output."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--merchant", required=True, help="the merchant's slug")
        parser.add_argument("--month", required=True, help="YYYY-MM, the merchant's month")
        parser.add_argument("--format", choices=["csv", "pdf"], default="csv")
        parser.add_argument("--output", default="", help="a file; CSV goes to stdout without")

    def handle(self, *args: Any, **o: Any) -> None:
        statement = statement_build(merchant=merchant_get(o["merchant"]), period=o["month"])
        if o["format"] == "pdf":
            if not o["output"]:
                raise CommandError("A PDF needs --output FILE.")
            Path(o["output"]).write_bytes(render_pdf(statement))
        elif o["output"]:
            Path(o["output"]).write_text(render_csv(statement), encoding="utf-8")
        else:
            self.stdout.write(render_csv(statement), ending="")
            return
        total = statement.money(statement.total).format("en")
        self.stdout.write(
            f"Wrote {o['output']}: {len(statement.lines)} lines, {total} for "
            f"{statement.merchant_slug} {statement.period}"
        )
