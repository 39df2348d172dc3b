from __future__ import annotations

from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from returndesk.tenants.models import ApiKey, Facility, Merchant
from returndesk.tenants.selectors import apikey_authenticate

pytestmark = pytest.mark.django_db


def cli(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def create_acme() -> str:
    return cli(
        "createmerchant", "--slug", "acme", "--name", "Acme", "--currency", "USD",
        "--timezone", "UTC",
    )  # fmt: skip


def test_createmerchant_and_createfacility() -> None:
    out = cli(
        "createmerchant",
        "--slug",
        "acme",
        "--name",
        "Acme",
        "--currency",
        "USD",
        "--timezone",
        "America/New_York",
    )
    assert "Created merchant acme" in out
    cli(
        "createmerchant",
        "--slug",
        "beta",
        "--name",
        "Beta",
        "--currency",
        "EUR",
        "--timezone",
        "Europe/Berlin",
    )
    out = cli(
        "createfacility",
        "--code",
        "NJ1",
        "--name",
        "Secaucus",
        "--line1",
        "1 Dock Rd",
        "--city",
        "Secaucus",
        "--postal-code",
        "07094",
        "--country",
        "US",
        "--merchant",
        "acme",
        "--merchant",
        "beta",
    )
    assert "serving acme, beta" in out
    assert set(Facility.objects.get(code="NJ1").merchants.values_list("slug", flat=True)) == {
        "acme",
        "beta",
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--currency", "US"], "currency"),
        (["--currency", "XYZ"], "ISO 4217"),
        (["--timezone", "Mars/Olympus"], "IANA time zone"),
        (["--slug", "Bad Slug"], "slug"),
    ],
)
def test_createmerchant_explains_bad_input(args: list[str], message: str) -> None:
    base = {"--slug": "acme", "--name": "Acme", "--currency": "USD", "--timezone": "UTC"}
    base.update(dict(zip(args[::2], args[1::2], strict=True)))
    with pytest.raises(CommandError, match=message):
        cli("createmerchant", *[x for kv in base.items() for x in kv])
    assert not Merchant.objects.exists()


def test_apikey_create_prints_the_key_alone_on_the_last_line() -> None:
    create_acme()
    out = cli("apikey", "create", "--merchant", "acme", "--name", "shop sync")
    key = out.strip().splitlines()[-1]
    assert key.startswith("rd_m_") and " " not in key
    principal = apikey_authenticate(key)
    assert principal is not None and principal.merchant is not None
    assert principal.merchant.slug == "acme"
    stored = ApiKey.objects.get()
    assert key not in (stored.key_hash, stored.prefix) and stored.prefix == key[:12]
    cli("apikey", "revoke", stored.public_id)
    assert apikey_authenticate(key) is None


def test_provider_keys_can_be_limited_to_facilities() -> None:
    create_acme()
    cli(
        "createfacility",
        "--code",
        "F1",
        "--name",
        "One",
        "--line1",
        "1 Rd",
        "--city",
        "X",
        "--postal-code",
        "1",
        "--country",
        "US",
        "--merchant",
        "acme",
    )
    cli(
        "createfacility",
        "--code",
        "F2",
        "--name",
        "Two",
        "--line1",
        "2 Rd",
        "--city",
        "X",
        "--postal-code",
        "2",
        "--country",
        "US",
    )
    key = cli("apikey", "create", "--provider", "--name", "dock", "--facility", "F2")
    principal = apikey_authenticate(key.strip().splitlines()[-1])
    assert principal is not None and principal.merchant is None
    assert principal.merchant_ids == frozenset()  # F2 serves nobody yet
    with pytest.raises(CommandError, match="No facility with code NOPE"):
        cli("apikey", "create", "--provider", "--name", "x", "--facility", "NOPE")


def test_import_orders_prints_a_summary_with_line_numbers(tmp_path: Path) -> None:
    create_acme()
    path = tmp_path / "orders.jsonl"
    path.write_text('{"order_number": "1"}\n')
    out = cli("import_orders", str(path), "--merchant", "acme", "--format", "jsonl")
    assert "line 1 (1): skipped:" in out
    assert "orders created:   0" in out
    with pytest.raises(CommandError, match="No such file"):
        cli("import_orders", str(tmp_path / "missing"), "--merchant", "acme", "--format", "csv")
    with pytest.raises(CommandError, match="No merchant with slug 'nope'"):
        cli("import_orders", str(path), "--merchant", "nope", "--format", "jsonl")


def test_the_returndesk_command_accepts_hyphenated_names(capsys) -> None:  # type: ignore[no-untyped-def]
    from returndesk.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["returndesk", "import-orders", "--help"])
    assert exit_info.value.code == 0
    assert "--shift-to" in capsys.readouterr().out


def test_the_demo_prints_where_to_go_and_its_example_order_works(
    settings: Any, tmp_path: Path
) -> None:
    settings.VAR_DIR = tmp_path
    out = StringIO()
    call_command("demo", "--seed-only", "--without-online-retail", "--port", "8123", stdout=out)
    printed = out.getvalue()
    assert "Console      http://127.0.0.1:8123/console/" in printed
    assert "Portal       http://127.0.0.1:8123/r/northwind/" in printed
    assert "rd_m_" in printed and "rd_p_" in printed  # the API keys, once
    found = Client().post(
        "/r/northwind/", {"order_number": "NW-10002", "email": "grace.hopper@example.com"}
    )
    assert found.status_code == 302  # the order the demo points shoppers to exists
