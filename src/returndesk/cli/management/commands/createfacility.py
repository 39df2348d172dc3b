from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from returndesk.cli.management.commands._base import ReturnDeskCommand
from returndesk.tenants.services import facility_create


class Command(ReturnDeskCommand):
    help = "Create a return centre of the provider that serves the given merchants."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--code", required=True)
        parser.add_argument("--name", required=True)
        parser.add_argument("--line1", required=True)
        parser.add_argument("--line2", default="")
        parser.add_argument("--city", required=True)
        parser.add_argument("--region", default="")
        parser.add_argument("--postal-code", required=True)
        parser.add_argument("--country", required=True, help="ISO 3166-1 alpha-2, e.g. US")
        parser.add_argument("--timezone", default="UTC")
        parser.add_argument(
            "--merchant", action="append", default=[], dest="merchants", metavar="SLUG"
        )

    def handle(self, *args: Any, **o: Any) -> None:
        facility = facility_create(
            actor=self.actor,
            code=o["code"],
            name=o["name"],
            line1=o["line1"],
            line2=o["line2"],
            city=o["city"],
            region=o["region"],
            postal_code=o["postal_code"],
            country=o["country"],
            timezone_name=o["timezone"],
            merchant_slugs=o["merchants"],
        )
        served = ", ".join(m.slug for m in facility.merchants.all()) or "no merchant yet"
        self.stdout.write(f"Created facility {facility.code} ({facility.name}), serving {served}")
