from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from returndesk.core.models import Upload
from tests.conftest import ApiClient
from tests.returns.test_returns_api import order, request  # noqa: F401 - the order fixture

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = tmp_path


def photo_with_gps() -> bytes:
    image = Image.new("RGB", (64, 48), "teal")
    exif = Image.Exif()
    exif[0x010F] = "CameraMaker"  # Make
    exif[0x8825] = {2: (40.0, 44.0, 0.0)}  # GPSInfo: latitude
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


def upload(api: ApiClient, data: bytes, name: str = "photo.jpg", purpose: str = "photo") -> Any:
    return api.client.post(
        "/api/v1/uploads",
        {"purpose": purpose, "file": _named(data, name)},
        headers={"Authorization": f"Bearer {api.key}"},
    )


def _named(data: bytes, name: str) -> io.BytesIO:
    buffer = io.BytesIO(data)
    buffer.name = name
    return buffer


def test_a_photo_is_stored_without_its_metadata(api: ApiClient) -> None:
    response = upload(api, photo_with_gps())
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["upload_id"].startswith("upl_")
    assert (body["width"], body["height"], body["content_type"]) == (64, 48, "image/jpeg")
    stored = Upload.objects.with_scopes_disabled().get(public_id=body["upload_id"])
    with Image.open(stored.file.path) as image:
        assert not image.getexif()  # no camera, no GPS


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"just text, named like a photo", "photo.jpg", "not a readable image"),
        (b"", "empty.jpg", "empty"),
    ],
)
def test_what_is_not_an_image_is_refused(
    api: ApiClient, data: bytes, name: str, message: str
) -> None:
    response = upload(api, data, name)
    assert response.status_code == 422
    assert message in json.loads(response.content)["detail"]
    assert not Upload.objects.with_scopes_disabled().exists()


def test_a_gif_is_not_an_accepted_format(api: ApiClient) -> None:
    out = io.BytesIO()
    Image.new("RGB", (4, 4)).save(out, "GIF")
    response = upload(api, out.getvalue(), "x.gif")
    assert response.status_code == 422
    assert "JPEG, PNG or WebP" in json.loads(response.content)["detail"]


def test_uploads_must_be_multipart(api: ApiClient) -> None:
    response = api.post("/uploads", {"file": "nope"})
    assert response.status_code == 415


def test_a_reason_that_needs_a_photo_takes_an_upload(
    api: ApiClient,
    order: dict[str, Any],  # noqa: F811
) -> None:
    without = api.post(
        "/returns", request(lines=[{"line_id": "1", "quantity": 1, "reason": "defective"}])
    )
    assert without.status_code == 422
    photo_id = upload(api, photo_with_gps()).json()["upload_id"]
    line = {"line_id": "1", "quantity": 1, "reason": "defective", "photo_upload_ids": [photo_id]}
    created = api.post("/returns", request(lines=[line]))
    assert created.status_code == 201, created.content
    assert created.json()["lines"][0]["photo_upload_ids"] == [photo_id]


def test_another_merchants_upload_cannot_be_referenced(
    api: ApiClient,
    outsider_api: ApiClient,
    order: dict[str, Any],  # noqa: F811
) -> None:
    theirs = upload(outsider_api, photo_with_gps()).json()["upload_id"]
    line = {"line_id": "1", "quantity": 1, "reason": "defective", "photo_upload_ids": [theirs]}
    response = api.post("/returns", request(lines=[line]))
    assert response.status_code == 422
    assert "no photo upload" in json.loads(response.content)["detail"]
