"""A customer's personal data exported and erased (QUALITY.md, security; API.md
/customers/{email}/export and /erase; `returndesk customer export|erase`).

The erasure test reads every row of every table afterwards: nothing of the merchant's may still
name the person, the other merchant's copy of the same person stays, and the money is exactly
what it was."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import models
from django_scopes import scopes_disabled

from returndesk.catalog.models import Order, OrderLine, Tender
from returndesk.core.models import AuditLogEntry
from returndesk.core.privacy import erased_email
from returndesk.credit.models import StoreCreditAccount, StoreCreditEntry
from returndesk.privacy.services import customer_erase, customer_export
from returndesk.refunds.models import Refund, Settlement
from returndesk.tenants.models import Merchant
from tests.conftest import ACTOR, ApiClient
from tests.factories import money
from tests.security.privacy_world import EMAIL, PERSONAL, World, build

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(api: ApiClient, merchant: Merchant, settings: Any, tmp_path: Path) -> World:
    settings.MEDIA_ROOT = tmp_path
    return build(api, merchant)


@pytest.fixture
def elsewhere(outsider_api: ApiClient, other_merchant: Merchant) -> World:
    """The same person at another merchant: an order and a cancelled return."""
    return build(outsider_api, other_merchant, full=False)


def _text(value: Any) -> str:
    if isinstance(value, bytes | memoryview):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, dict | list):
        return json.dumps(value, default=str)
    return str(value)


def rows_naming_the_person(merchant: Merchant) -> list[str]:
    """Every stored value that still names the person, as "model.field: value", across every
    table, except rows that belong to another merchant."""
    needles = [v.lower() for v in PERSONAL.values()]
    found = []
    with scopes_disabled():
        for model in apps.get_models():
            names = {f.name for f in model._meta.concrete_fields}
            rows: Any = model._default_manager.all()
            if "merchant" in names:
                rows = rows.filter(models.Q(merchant=merchant) | models.Q(merchant__isnull=True))
            for row in rows.iterator():
                for field in model._meta.concrete_fields:
                    text = _text(getattr(row, field.attname)).lower()
                    if any(n in text for n in needles):
                        found.append(f"{model._meta.label}.{field.name}: {text[:120]}")
    return found


def money_snapshot(merchant: Merchant) -> dict[str, Any]:
    """The financial record: order numbers, line money, tenders, settlements, refunds, the
    store credit ledger."""
    with scopes_disabled():
        return {
            "orders": sorted(
                Order.objects.filter(merchant=merchant).values_list(
                    "order_number", "currency", "shipping_total_amount", "ship_country"
                )
            ),
            "lines": sorted(
                OrderLine.objects.filter(merchant=merchant).values_list(
                    "sku", "quantity", "unit_price_amount", "discount_amount", "tax_amount"
                )
            ),
            "tenders": sorted(
                Tender.objects.filter(merchant=merchant).values_list("method", "amount")
            ),
            "settlements": sorted(
                Settlement.objects.filter(merchant=merchant).values_list(
                    "public_id", "total_amount", "calculation"
                ),
                key=str,
            ),
            "refunds": sorted(
                Refund.objects.filter(merchant=merchant).values_list(
                    "public_id", "amount", "status", "provider"
                )
            ),
            "credit": sorted(
                StoreCreditEntry.objects.filter(merchant=merchant).values_list(
                    "public_id", "amount", "balance_after_amount"
                )
            ),
            "balances": sorted(
                StoreCreditAccount.objects.filter(merchant=merchant).values_list(
                    "currency", "balance_amount"
                )
            ),
        }


def test_the_export_holds_everything_kept_about_the_person(world: World) -> None:
    export = customer_export(merchant=world.merchant, email=" Sam.Shopper@Example.com", actor=ACTOR)
    text = json.dumps(export, default=str)
    for value in PERSONAL.values():
        assert value in text, value
    assert export["customer"]["phone"] == PERSONAL["phone"]
    assert [o["order_number"] for o in export["orders"]] == ["1001"]
    assert {r["ran"] for r in export["returns"]} == {world.ran, world.cancelled_ran}
    assert {p["id"] for p in export["return_photos"] + export["warehouse_photos"]} == set(
        world.photo_ids[:3]
    )
    for section in (
        "labels", "receipts", "inspections", "settlements", "refunds", "store_credit", "emails",
        "events", "shop_webhooks", "payment_webhooks", "carrier_webhooks", "blocklist",
    ):  # fmt: skip
        assert export[section], section
    assert export["shop_webhooks"][0]["body"]["email"] == EMAIL
    with scopes_disabled():
        logged = AuditLogEntry.objects.get(action="customer.exported")
    placeholder = erased_email(world.merchant.pk, EMAIL)
    assert (logged.merchant_id, logged.object_ref) == (world.merchant.pk, placeholder)


def test_erasure_leaves_nothing_personal_and_the_money_whole(
    world: World, elsewhere: World, django_capture_on_commit_callbacks: Any
) -> None:
    assert rows_naming_the_person(world.merchant)  # the scan does find them before
    money = money_snapshot(world.merchant)
    theirs = money_snapshot(elsewhere.merchant)

    with django_capture_on_commit_callbacks(execute=True):  # the files go once it commits
        done = customer_erase(merchant=world.merchant, email=EMAIL, actor=ACTOR)

    assert done["placeholder"] == erased_email(world.merchant.pk, EMAIL)
    assert done["placeholder"].startswith("erased-") and done["placeholder"].endswith("@invalid")
    assert rows_naming_the_person(world.merchant) == []
    assert money_snapshot(world.merchant) == money
    # photos are gone from storage, not just unlinked
    assert not any(Path(p).exists() for p in world.photo_paths[:3])
    assert Path(world.photo_paths[3]).exists()  # never attached to anything of theirs
    # the other merchant's customer is untouched
    assert money_snapshot(elsewhere.merchant) == theirs
    other = customer_export(merchant=elsewhere.merchant, email=EMAIL, actor=ACTOR)
    assert other["customer"]["name"] == PERSONAL["name"]
    assert other["returns"][0]["lines"] and other["orders"][0]["ship_to"]["line1"]
    # the records kept now name the placeholder
    with scopes_disabled():
        account = StoreCreditAccount.objects.get(merchant=world.merchant)
        order = Order.objects.get(merchant=world.merchant)
    assert account.email == order.email == done["placeholder"]
    assert (order.ship_country, order.ship_region, order.ship_line1) == ("US", "IL", "")
    # audit-logged under the placeholder, and the log names the e-mail nowhere
    with scopes_disabled():
        erased = AuditLogEntry.objects.get(action="customer.erased")
        assert erased.object_ref == done["placeholder"]
        assert erased.changes["orders"] == 1 and erased.changes["return_photos"] == 1
        assert not AuditLogEntry.objects.filter(object_ref__icontains=EMAIL).exists()


def test_after_erasure_the_export_shows_nothing_and_a_second_erasure_changes_nothing(
    world: World,
) -> None:
    first = customer_erase(merchant=world.merchant, email=EMAIL, actor=ACTOR)
    export = customer_export(merchant=world.merchant, email=EMAIL, actor=ACTOR)
    text = json.dumps(export, default=str)
    assert export["customer"] is None and export["orders"] == [] and export["returns"] == []
    for key, value in PERSONAL.items():
        if key != "email":  # the export repeats the address it was asked about
            assert value not in text, key
    again = customer_erase(merchant=world.merchant, email=EMAIL, actor=ACTOR)
    assert again["placeholder"] == first["placeholder"]
    assert set(again["changed"].values()) == {0}


def test_the_same_person_known_again_after_erasure_is_erased_again(
    api: ApiClient, merchant: Merchant, settings: Any, tmp_path: Path
) -> None:
    settings.MEDIA_ROOT = tmp_path
    build(api, merchant, full=False)
    customer_erase(merchant=merchant, email=EMAIL, actor=ACTOR)
    # a new order with the same e-mail: a new customer record, erased beside the first one
    second = api.put(
        "/orders/1002",
        {
            "customer": {"email": EMAIL, "name": PERSONAL["name"]},
            "placed_at": "2026-11-02T10:00:00Z",
            "currency": "USD",
            "lines": [{"line_id": "1", "sku": "SOCK-1", "quantity": 1, "unit_price": money(1200)}],
            "tenders": [{"method": "card", "amount": money(1200)}],
        },
    )
    assert second.status_code == 201, second.content
    done = customer_erase(merchant=merchant, email=EMAIL, actor=ACTOR)
    assert done["changed"]["customers"] == 1 and done["changed"]["orders"] == 1
    assert rows_naming_the_person(merchant) == []


def test_the_api_exports_and_erases_with_the_privacy_permission(
    world: World, api: ApiClient, provider_api: ApiClient, merchant: Merchant
) -> None:
    export = api.get(f"/customers/{EMAIL}/export")
    assert export.status_code == 200, export.content
    assert export["Cache-Control"] == "private, no-store"
    assert export.json()["customer"]["name"] == PERSONAL["name"]
    assert api.get("/customers/not-an-email/export").status_code == 422
    # a provider (station) key may not use it at all
    assert provider_api.get(f"/customers/{EMAIL}/export").status_code == 403
    assert provider_api.post(f"/customers/{EMAIL}/erase", None).status_code == 403
    assert ApiClient(None).post(f"/customers/{EMAIL}/erase", None).status_code == 401
    erased = api.post(f"/customers/{EMAIL}/erase", None)
    assert erased.status_code == 200, erased.content
    assert erased.json()["placeholder"] == erased_email(merchant.pk, EMAIL)
    assert erased.json()["changed"]["customers"] == 1
    assert api.get(f"/customers/{EMAIL}/export").json()["orders"] == []


def test_another_merchants_key_finds_nothing_and_erases_nothing(
    world: World, outsider_api: ApiClient
) -> None:
    unknown = outsider_api.get("/customers/nobody@example.com/export")
    theirs = outsider_api.get(f"/customers/{EMAIL}/export")
    assert theirs.status_code == unknown.status_code == 200
    assert theirs.json()["orders"] == unknown.json()["orders"] == []
    erased = outsider_api.post(f"/customers/{EMAIL}/erase", None)
    assert set(erased.json()["changed"].values()) == {0}
    assert rows_naming_the_person(world.merchant)  # still all there


def test_the_commands_print_the_export_and_erase(world: World) -> None:
    out = StringIO()
    call_command("customer", "export", EMAIL, "--merchant", "acme", stdout=out)
    export = json.loads(out.getvalue())
    assert export["customer"]["email"] == EMAIL and export["merchant"] == "acme"
    out = StringIO()
    call_command("customer", "erase", EMAIL, "--merchant", "acme", stdout=out)
    assert json.loads(out.getvalue())["placeholder"] == erased_email(world.merchant.pk, EMAIL)
    assert rows_naming_the_person(world.merchant) == []
