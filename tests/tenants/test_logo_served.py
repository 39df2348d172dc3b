"""A merchant's logo, once uploaded, is served back to browsers (the portal's header shows it);
nothing else under the media folder is."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from PIL import Image

from returndesk.core.actors import Actor
from returndesk.tenants.models import Merchant
from returndesk.tenants.services import merchant_update

pytestmark = pytest.mark.django_db


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 20), "#C0392B").save(out, "PNG")
    return out.getvalue()


def test_the_uploaded_logo_is_served_as_an_image(merchant: Merchant) -> None:
    merchant = merchant_update(
        actor=Actor.system("tests"),
        merchant=merchant,
        name="Acme",
        support_email="",
        support_phone="",
        locale="en",
        brand_color="#C0392B",
        timezone_name="America/New_York",
        logo=png(),
    )
    response = Client().get(merchant.logo.url)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("image/")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert Image.open(io.BytesIO(b"".join(response.streaming_content))).size == (40, 20)


def test_other_uploads_and_paths_outside_logos_are_not_served(merchant: Merchant) -> None:
    secret = Path(settings.MEDIA_ROOT) / "uploads" / "receipt.png"
    secret.parent.mkdir(parents=True, exist_ok=True)
    secret.write_bytes(png())
    client = Client()
    assert client.get("/media/uploads/receipt.png").status_code == 404
    for escape in (
        "/media/logos/../uploads/receipt.png",
        "/media/logos/%2e%2e/uploads/receipt.png",
    ):
        assert client.get(escape).status_code in {400, 404}, escape
