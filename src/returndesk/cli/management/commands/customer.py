from __future__ import annotations

import json
from typing import Any

from django.core.management.base import CommandParser
from django.core.serializers.json import DjangoJSONEncoder

from returndesk.cli.management.commands._base import ReturnDeskCommand
from returndesk.privacy.services import customer_erase, customer_export
from returndesk.tenants.selectors import merchant_get


class Command(ReturnDeskCommand):
    help = (
        'A customer\'s personal data at one merchant (docs/security.md, "Customer data"). '
        "`customer export EMAIL --merchant SLUG` prints everything held about them as JSON; "
        "`customer erase EMAIL --merchant SLUG` anonymizes it (financial records stay whole) "
        "and prints what changed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        for name, text in (("export", "print their data as JSON"), ("erase", "anonymize it")):
            action = sub.add_parser(name, help=text)
            action.add_argument("email")
            action.add_argument("--merchant", required=True, metavar="SLUG")

    def handle(self, *args: Any, **o: Any) -> None:
        merchant = merchant_get(o["merchant"])
        if o["action"] == "export":
            data = customer_export(merchant=merchant, email=o["email"], actor=self.actor)
        else:
            data = customer_erase(merchant=merchant, email=o["email"], actor=self.actor)
        self.stdout.write(json.dumps(data, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False))
