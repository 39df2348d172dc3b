from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser

from returndesk.cli.management.commands._base import ReturnDeskCommand
from returndesk.core.money import Money
from returndesk.core.tenancy import merchant_scope
from returndesk.returns.simulation import policy_simulate
from returndesk.tenants.selectors import merchant_get


def _day(text: str | None, name: str) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text).replace(tzinfo=UTC)
    except ValueError:
        raise CommandError(f"{name}: '{text}' is not a date like 2026-11-01") from None


class Command(ReturnDeskCommand):
    help = (
        "Replay a merchant's recorded returns under a draft policy (a JSON file) next to the "
        "current one; prints the counts, fees, refunds and the largest differences."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--merchant", required=True, metavar="SLUG")
        parser.add_argument("--policy", required=True, metavar="FILE")
        parser.add_argument("--from", dest="date_from", metavar="DATE")
        parser.add_argument("--to", dest="date_to", metavar="DATE")
        parser.add_argument("--json", action="store_true", help="print the report as JSON")

    def handle(self, *args: Any, **o: Any) -> None:
        merchant = merchant_get(o["merchant"])
        try:
            document = json.loads(Path(o["policy"]).read_text())
        except FileNotFoundError:
            raise CommandError(f"No such file: {o['policy']}") from None
        except json.JSONDecodeError as exc:
            raise CommandError(f"{o['policy']} is not JSON: {exc}") from None
        with merchant_scope(merchant):
            report = policy_simulate(
                merchant=merchant,
                draft_document=document,
                date_from=_day(o["date_from"], "--from"),
                date_to=_day(o["date_to"], "--to"),
            )
        if o["json"]:
            self.stdout.write(json.dumps(report, indent=2))
            return
        currency = report["currency"]

        def money(amount: int) -> str:
            return Money(amount, currency).format(merchant.locale)

        self.stdout.write(
            f"{report['returns']} returns, {report['lines']} lines; current policy is "
            f"v{report['current_version']}"
        )
        self.stdout.write(f"{'':<20}{'current':>16}{'draft':>16}")
        for key in ("authorized", "pending_review", "rejected", "invalid", "eligible_lines",
                    "ineligible_lines"):  # fmt: skip
            self.stdout.write(f"{key:<20}{report['current'][key]:>16}{report['draft'][key]:>16}")
        for key in ("fees", "refunds"):
            self.stdout.write(
                f"{key:<20}{money(report['current'][key]):>16}{money(report['draft'][key]):>16}"
            )
        substituted = report["draft"]["reasons_substituted"]
        if substituted:
            self.stdout.write(
                f"{substituted} lines had no recorded reason and were evaluated with the "
                "policy's first reason."
            )
        self.stdout.write(f"{report['changed_returns']} returns get another answer; the largest:")
        for diff in report["largest_differences"]:
            self.stdout.write(
                f"  {diff['ran']}  order {diff['order_number']}: "
                f"{diff['current']['outcome']} {money(diff['current']['refund'])} -> "
                f"{diff['draft']['outcome']} {money(diff['draft']['refund'])}"
            )
