from __future__ import annotations

import time
from typing import Any

from django.core.management.base import CommandParser

from returndesk.analytics.rollups import analytics_refresh, rollups_build
from returndesk.cli.management.commands._base import ReturnDeskCommand
from returndesk.tenants.models import Merchant
from returndesk.tenants.selectors import merchant_get


class Command(ReturnDeskCommand):
    help = (
        "Bring the analytics rollups up to date now (what the worker does every minute), or "
        "with --full rebuild them from the recorded rows (every merchant, or --merchant's)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--merchant", metavar="SLUG", help="only this merchant (with --full)")
        parser.add_argument("--full", action="store_true", help="rebuild every day")

    def handle(self, *args: Any, **o: Any) -> None:
        started = time.perf_counter()
        if o["full"]:
            merchants = (
                [merchant_get(o["merchant"])]
                if o["merchant"]
                else list(Merchant.objects.filter(is_active=True))
            )
            for merchant in merchants:
                days = rollups_build(merchant=merchant)
                self.stdout.write(f"{merchant.slug}: {days} days rebuilt")
        else:
            report = analytics_refresh()
            for slug in report.built:
                self.stdout.write(f"{slug}: built in full")
            for slug, days in report.refreshed.items():
                self.stdout.write(f"{slug}: {days} days rebuilt")
        self.stdout.write(f"done in {time.perf_counter() - started:.1f} s")
