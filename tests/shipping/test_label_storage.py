"""Files go through Django's default storage: a label's PDF is kept at its first print and read
back afterwards, and with an S3 bucket configured (django-storages; moto stands in for S3 in
this process) labels, photos and logos all land in the bucket and logos are still served."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from django.core.files.storage import default_storage
from django.test import Client
from django_scopes import scopes_disabled
from moto import mock_aws
from PIL import Image

from returndesk.core.actors import Actor
from returndesk.shipping.models import Label
from returndesk.tenants.models import Merchant
from returndesk.tenants.services import merchant_update
from tests.conftest import ApiClient

BUCKET = "returndesk-test-media"


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (60, 30), "#1F6FEB").save(out, "PNG")
    return out.getvalue()


def stored_label(ran: str) -> Label:
    with scopes_disabled():
        return Label.objects.get(return_request__ran=ran.replace("-", ""), status="active")


def test_a_label_pdf_is_kept_at_its_first_print(api: ApiClient, authorized: dict) -> None:
    ran = authorized["ran"]
    api.post(f"/returns/{ran}/label", {})
    first = api.get(f"/returns/{ran}/label.pdf").content
    label = stored_label(ran)
    assert label.document.name.startswith("labels/")
    assert default_storage.open(label.document.name).read() == first
    assert api.get(f"/returns/{ran}/label.pdf").content == first  # read back, not rendered
    assert stored_label(ran).document.name == label.document.name


@pytest.fixture
def s3(settings: Any) -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        settings.STORAGES = {
            **settings.STORAGES,
            "default": {
                "BACKEND": "returndesk.core.storage.PrivateS3Storage",
                "OPTIONS": {
                    "bucket_name": BUCKET,
                    "region_name": "us-east-1",
                    "access_key": "testing",
                    "secret_key": "testing",
                    "default_acl": None,
                    "file_overwrite": False,
                },
            },
        }
        yield client


def keys(client: Any) -> list[str]:
    return [o["Key"] for o in client.list_objects_v2(Bucket=BUCKET).get("Contents", [])]


def test_labels_photos_and_logos_go_to_the_bucket(
    s3: Any, api: ApiClient, authorized: dict, merchant: Merchant
) -> None:
    ran = authorized["ran"]
    api.post(f"/returns/{ran}/label", {})
    pdf = api.get(f"/returns/{ran}/label.pdf").content
    photo = api.client.post(
        "/api/v1/uploads",
        {"file": io.BytesIO(png()), "purpose": "photo"},
        headers={"Authorization": f"Bearer {api.key}"},
    )
    assert photo.status_code == 201, photo.content
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
    stored = keys(s3)
    label_key = stored_label(ran).document.name
    assert label_key in stored
    assert any(k.startswith("uploads/") for k in stored)
    assert merchant.logo.name in stored
    body = s3.get_object(Bucket=BUCKET, Key=label_key)["Body"].read()
    assert body == pdf
    # the bucket is never handed to a browser: the logo's URL is the application's own
    assert merchant.logo.url == f"/media/{merchant.logo.name}"
    served = Client().get(merchant.logo.url)
    assert served.status_code == 200
    assert served["Content-Type"] == "image/png"
    assert Image.open(io.BytesIO(b"".join(served.streaming_content))).size == (60, 30)
    assert Client().get("/media/logos/missing.png").status_code == 404
