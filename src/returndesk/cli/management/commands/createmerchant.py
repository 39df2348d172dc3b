from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from returndesk.cli.management.commands._base import ReturnDeskCommand
from returndesk.tenants.services import merchant_create


class Command(ReturnDeskCommand):
    help = "Create a merchant client of the provider."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--slug", required=True)
        parser.add_argument("--name", required=True)
        parser.add_argument("--currency", required=True, help="ISO 4217, e.g. USD")
        parser.add_argument("--timezone", required=True, help="IANA zone, e.g. America/New_York")
        parser.add_argument("--support-email", default="")
        parser.add_argument("--support-phone", default="")
        parser.add_argument("--brand-color", default="#1F6FEB")

    def handle(self, *args: Any, **o: Any) -> None:
        merchant = merchant_create(
            actor=self.actor,
            slug=o["slug"],
            name=o["name"],
            currency=o["currency"],
            timezone_name=o["timezone"],
            support_email=o["support_email"],
            support_phone=o["support_phone"],
            brand_color=o["brand_color"],
        )
        self.stdout.write(
            f"Created merchant {merchant.slug} ({merchant.name}, {merchant.currency}, "
            f"{merchant.timezone})"
        )
