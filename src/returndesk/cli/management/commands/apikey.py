from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from returndesk.cli.management.commands._base import ReturnDeskCommand
from returndesk.tenants.models import ApiKey
from returndesk.tenants.selectors import merchant_get
from returndesk.tenants.services import apikey_create, apikey_revoke


class Command(ReturnDeskCommand):
    help = (
        "Manage API keys. `apikey create --merchant SLUG --name NAME` or "
        "`apikey create --provider --name NAME [--facility CODE ...]` prints the new key alone "
        "on the last line; it is shown only this once."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="create a key")
        owner = create.add_mutually_exclusive_group(required=True)
        owner.add_argument("--merchant", metavar="SLUG")
        owner.add_argument("--provider", action="store_true")
        create.add_argument("--name", required=True)
        create.add_argument("--facility", action="append", default=[], dest="facilities")
        listing = sub.add_parser("list", help="list keys (never their secrets)")
        listing.add_argument("--merchant", metavar="SLUG")
        revoke = sub.add_parser("revoke", help="revoke a key by its id (key_...)")
        revoke.add_argument("key_id")

    def handle(self, *args: Any, **o: Any) -> None:
        action = o["action"]
        if action == "create":
            merchant = merchant_get(o["merchant"]) if o["merchant"] else None
            key, raw = apikey_create(
                actor=self.actor,
                name=o["name"],
                merchant=merchant,
                facility_codes=o["facilities"],
            )
            owner = f"merchant {merchant.slug}" if merchant else "the provider"
            self.stdout.write(f"Created {key.kind} key {key.public_id} '{key.name}' for {owner}.")
            self.stdout.write("Store it now: it is shown only this once.")
            self.stdout.write(raw)
        elif action == "list":
            keys = ApiKey.objects.select_related("merchant").order_by("created_at")
            if o["merchant"]:
                keys = keys.filter(merchant__slug=o["merchant"])
            for key in keys:
                state = "revoked" if key.revoked_at else "active"
                owner = key.merchant.slug if key.merchant else "provider"
                used = key.last_used_at.isoformat() if key.last_used_at else "never"
                self.stdout.write(
                    f"{key.public_id}  {key.prefix}…  {owner:<20} {key.name:<30} {state}  "
                    f"last used {used}"
                )
        elif action == "revoke":
            key_obj = ApiKey.objects.filter(public_id=o["key_id"]).first()
            if key_obj is None:
                raise CommandError(f"No API key with id {o['key_id']}.")
            apikey_revoke(actor=self.actor, key=key_obj)
            self.stdout.write(f"Revoked {key_obj.public_id}.")
