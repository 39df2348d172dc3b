"""A shopper at acme's portal with order 1001 found (step 1 done), and the steps as helpers."""

from __future__ import annotations

import html
import io
import re
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from PIL import Image

from tests.conftest import ApiClient
from tests.returns.test_returns_api import order  # noqa: F401 - the order fixture

TOKEN = re.compile(r'name="token" value="([^"]+)"')


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path


def text(response: Any) -> str:
    """The page's words as a reader sees them: no tags, entities decoded, spaces collapsed."""
    words = re.sub(r"<[^>]+>", " ", response.content.decode())
    return " ".join(html.unescape(words).split())


def set_policy(api: ApiClient, **changes: Any) -> None:
    document = api.get("/policy").json()["document"]
    for path, value in changes.items():
        target = document
        *parents, leaf = path.split("__")
        for part in parents:
            target = target[part]
        target[leaf] = value
    assert api.put("/policy", document).status_code in (200, 201)


def found(number: str = "1001", **proof: str) -> Client:
    client = Client()
    proof = proof or {"email": "shopper@example.com"}
    response = client.post("/r/acme/", {"order_number": number, **proof})
    assert response.status_code == 302, text(response)
    return client


@pytest.fixture
def shopper(api: ApiClient, order: dict[str, Any]) -> Client:  # noqa: F811
    return found()


def photo(kind: str = "JPEG") -> io.BytesIO:
    out = io.BytesIO()
    image = Image.new("RGB", (32, 24), "teal")
    exif = Image.Exif()
    exif[0x010F] = "CameraMaker"
    image.save(out, kind, exif=exif) if kind == "JPEG" else image.save(out, kind)
    out.seek(0)
    out.name = "photo.jpg" if kind == "JPEG" else "photo.png"
    return out


def choose(client: Client, **quantities: int) -> Any:
    return client.post("/r/acme/order/", {f"qty-{k[1:]}": v for k, v in quantities.items()})


def give_reasons(client: Client, data: dict[str, Any]) -> Any:
    return client.post("/r/acme/reasons/", data)


def pick(client: Client, resolution: str, **extra: str) -> Any:
    return client.post("/r/acme/resolution/", {"resolution": resolution, **extra})


def review_token(client: Client) -> str:
    page = client.get("/r/acme/review/")
    assert page.status_code == 200, text(page)
    match = TOKEN.search(page.content.decode())
    assert match, text(page)
    return match.group(1)


def confirm(client: Client, token: str) -> Any:
    return client.post("/r/acme/review/", {"token": token})


def up_to_review(client: Client, resolution: str = "refund") -> None:
    """Two items (one shoe, the socks), simple reasons, the resolution: ready to confirm."""
    assert choose(client, n1=1, n2=1).status_code == 302
    assert (
        give_reasons(client, {"reason-1": "wrong_size", "reason-2": "changed_mind"}).status_code
        == 302
    )
    assert pick(client, resolution).status_code == 302
