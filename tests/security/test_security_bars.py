"""The security bars of QUALITY.md that other folders do not already prove (docs/security.md
maps each bar to its tests): API keys stored hashed and shown once, integration secrets
encrypted in every column that holds one, uploads capped in size and pixels with every kind of
metadata dropped, configuration actions in the audit log without their secrets, and sign-in
attempts rate-limited."""

from __future__ import annotations

import hashlib
import io
import re
import secrets
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.db import connection
from django.test import Client
from django_scopes import scopes_disabled
from PIL import Image, PngImagePlugin

from returndesk.core import uploads
from returndesk.core.errors import ValidationFailed
from returndesk.core.models import AuditLogEntry
from returndesk.core.secrets import EncryptedTextField
from returndesk.core.tenancy import merchant_scope
from returndesk.core.uploads import upload_create
from returndesk.notifications.webhooks import (
    webhook_endpoint_create,
    webhook_endpoint_rotate_secret,
)
from returndesk.refunds.services import payment_settings_update
from returndesk.tenants.models import ApiKey, Merchant
from returndesk.tenants.selectors import apikey_authenticate
from returndesk.tenants.services import apikey_revoke
from tests.conftest import ACTOR
from tests.console.test_console import PASSWORD, staff
from tests.integrations.conftest import connect

pytestmark = pytest.mark.django_db


def all_column_values() -> list[str]:
    """Every text value stored in every table, read with raw SQL (no field decrypts it)."""
    values = []
    with connection.cursor() as cursor:
        for model in apps.get_models():
            for field in model._meta.concrete_fields:
                cursor.execute(
                    f"SELECT {connection.ops.quote_name(field.column)} "  # noqa: S608
                    f"FROM {connection.ops.quote_name(model._meta.db_table)}"
                )
                values += [str(v) for (v,) in cursor.fetchall() if v is not None]
    return values


def test_an_api_key_is_shown_once_and_stored_only_as_its_hash(merchant: Merchant) -> None:
    client = Client()
    client.force_login(staff("admin@acme.example", "merchant_admin", merchant))
    created = client.post("/console/m/acme/admin/api-keys/", {"name": "shop sync"})
    assert created.status_code == 200
    assert "no-store" in created["Cache-Control"]
    key = ApiKey.objects.get(name="shop sync")
    [raw] = re.findall(r'value="(rd_m_[^"]+)"', created.content.decode())
    assert raw.startswith(key.prefix)
    assert apikey_authenticate(raw) is not None
    assert key.key_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert not [v for v in all_column_values() if raw in v]  # nowhere in the database
    listing = client.get("/console/m/acme/admin/api-keys/").content.decode()
    assert key.prefix in listing and raw not in listing  # never shown again
    apikey_revoke(actor=ACTOR, key=key)
    assert apikey_authenticate(raw) is None


def test_every_encrypted_column_holds_only_ciphertext(merchant: Merchant) -> None:
    plain = {
        "stripe": "sk_test_" + secrets.token_hex(12),
        "paypal": "paypal-" + secrets.token_hex(12),
        "shop": "shpat_" + secrets.token_hex(12),
    }
    with merchant_scope(merchant):
        payment_settings_update(
            merchant_id=merchant.pk,
            changes={"stripe_secret_key": plain["stripe"], "paypal_client_secret": plain["paypal"]},
            actor=ACTOR,
        )
    connect(merchant, "shopify", access_token=plain["shop"])
    _, whsec = webhook_endpoint_create(
        actor=ACTOR, merchant=merchant, url="https://hooks.example.com/in"
    )
    encrypted = [
        (model, field)
        for model in apps.get_models()
        for field in model._meta.concrete_fields
        if isinstance(field, EncryptedTextField)
    ]
    covered = {model._meta.label for model, _ in encrypted}
    assert {"refunds.PaymentSettings", "integrations.ShopConnection"} <= covered
    assert "notifications.WebhookEndpoint" in covered
    with connection.cursor() as cursor:
        for model, field in encrypted:
            cursor.execute(
                f"SELECT {connection.ops.quote_name(field.column)} "  # noqa: S608
                f"FROM {connection.ops.quote_name(model._meta.db_table)}"
            )
            for (stored,) in cursor.fetchall():
                assert stored == "" or stored.startswith("fernet:"), (model, field.name)
    stored_anywhere = "\n".join(all_column_values())
    for secret in [*plain.values(), whsec]:
        assert secret not in stored_anywhere


def _png_with_text(size: tuple[int, int] = (16, 16)) -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Samantha Q. Shopper, 742 Evergreen Terrace")
    out = io.BytesIO()
    Image.new("RGB", size, "teal").save(out, "PNG", pnginfo=info)
    return out.getvalue()


def test_uploads_drop_text_metadata_too(merchant: Merchant, settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path
    with merchant_scope(merchant):
        stored = upload_create(actor=ACTOR, merchant_id=merchant.pk, data=_png_with_text())
    data = Path(stored.file.path).read_bytes()
    assert b"Evergreen" not in data and b"Author" not in data
    with Image.open(io.BytesIO(data)) as image:
        assert not image.info.get("Author")


def test_uploads_are_capped_in_bytes_and_in_pixels(
    merchant: Merchant, monkeypatch: pytest.MonkeyPatch
) -> None:
    too_big = b"\xff\xd8\xff" + b"0" * uploads.MAX_UPLOAD_BYTES
    with pytest.raises(ValidationFailed, match="over 10 MiB"):
        upload_create(actor=ACTOR, merchant_id=merchant.pk, data=too_big)
    # a small file that would decode to more pixels than allowed is refused, not decoded
    monkeypatch.setattr(uploads, "MAX_PIXELS", 100)
    with pytest.raises(ValidationFailed, match="megapixels"):
        upload_create(actor=ACTOR, merchant_id=merchant.pk, data=_png_with_text((20, 20)))


def test_configuration_actions_are_audited_without_their_secrets(merchant: Merchant) -> None:
    secret = "sk_test_" + secrets.token_hex(12)
    with merchant_scope(merchant):
        payment_settings_update(
            merchant_id=merchant.pk, changes={"stripe_secret_key": secret}, actor=ACTOR
        )
    connect(merchant, "shopify")
    endpoint, whsec = webhook_endpoint_create(
        actor=ACTOR, merchant=merchant, url="https://hooks.example.com/in"
    )
    _, rotated = webhook_endpoint_rotate_secret(
        actor=ACTOR, merchant=merchant, public_id=endpoint.public_id
    )
    client = Client()
    client.force_login(staff("admin@acme.example", "merchant_admin", merchant))
    client.post("/console/m/acme/admin/api-keys/", {"name": "audited"})
    with scopes_disabled():
        entries = AuditLogEntry.objects.filter(merchant=merchant)
        actions = set(entries.values_list("action", flat=True))
        text = " ".join(str(e.changes) + e.object_ref for e in entries)
    assert {
        "payment_settings.update",
        "shop_connection.update",
        "webhooks.endpoint_created",
        "webhooks.secret_rotated",
        "apikey.created",
    } <= actions, actions
    for value in (secret, whsec, rotated):
        assert value not in text


def test_sign_in_attempts_are_rate_limited_per_account(merchant: Merchant) -> None:
    staff("agent@acme.example", "agent", merchant)
    client = Client()
    for _ in range(10):
        wrong = client.post("/console/login/", {"username": "agent@acme.example", "password": "x"})
        assert wrong.status_code == 200 and b"do not match" in wrong.content
    # the eleventh is refused before the password is even checked, right or wrong
    right = client.post(
        "/console/login/", {"username": "Agent@acme.example ", "password": PASSWORD}
    )
    assert right.status_code == 429 and b"Too many attempts" in right.content
    assert int(right["Retry-After"]) > 0
    # another account from the same address is not held back by it
    staff("finance@acme.example", "finance", merchant)
    other = client.post(
        "/console/login/", {"username": "finance@acme.example", "password": PASSWORD}
    )
    assert other.status_code == 302
