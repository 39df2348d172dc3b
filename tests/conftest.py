"""Shared fixtures, and the rules for tests that need the outside (ARCHITECTURE.md):

- a test that needs ../shared/data or Chromium skips with a loud reason where it is absent, and
  fails instead under RETURNDESK_TEST_STRICT=1 (CI);
- tests marked `postgres_only` are deselected (not skipped) on SQLite; under strict mode the
  PostgreSQL pass must have run some.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client, override_settings
from hypothesis import settings as hypothesis_settings

from returndesk.core.actors import Actor
from returndesk.tenants.models import Merchant
from returndesk.tenants.services import apikey_create, merchant_create
from tests.factories import make_facility

hypothesis_settings.register_profile("soak", max_examples=5_000, deadline=None)
hypothesis_settings.register_profile("default", deadline=None)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

STRICT = os.environ.get("RETURNDESK_TEST_STRICT") == "1"
ON_POSTGRES = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
ACTOR = Actor.system("tests")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    marked = [item for item in items if item.get_closest_marker("postgres_only")]
    if ON_POSTGRES:
        if STRICT and items and not marked:
            raise pytest.UsageError(
                "RETURNDESK_TEST_STRICT=1 on PostgreSQL: this run collected no postgres_only test"
            )
        return
    if marked:
        config.hook.pytest_deselected(items=marked)
        items[:] = [item for item in items if not item.get_closest_marker("postgres_only")]


def require_outside(what: str, present: bool, how: str) -> None:
    """Skip loudly without `what`; under strict mode its absence is a failure."""
    if present:
        return
    message = f"NEEDS {what}: {how}"
    if STRICT:
        pytest.fail(f"RETURNDESK_TEST_STRICT=1 and {message}")
    pytest.skip(message)


@pytest.fixture(scope="session", autouse=True)
def _media_in_a_temporary_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Files the code stores (uploads, logos, label PDFs) go to a folder of this run, never to
    var/media; a test that wants its own folder still sets settings.MEDIA_ROOT."""
    with override_settings(MEDIA_ROOT=str(tmp_path_factory.mktemp("media"))):
        yield


@pytest.fixture(scope="session")
def online_retail_file() -> Path:
    path = Path(settings.RETURNDESK_DATA_DIR) / "online-retail" / "online_retail.csv.gz"
    require_outside(
        "../shared/data",
        path.is_file(),
        f"{path} is absent; this test reads the real Online Retail file",
    )
    return path


@pytest.fixture
def make_merchant(db: None) -> Callable[..., Merchant]:
    def make(slug: str = "acme", currency: str = "USD", tz: str = "America/New_York") -> Merchant:
        return merchant_create(
            actor=ACTOR, slug=slug, name=slug.title(), currency=currency, timezone_name=tz
        )

    return make


@pytest.fixture
def merchant(make_merchant: Callable[..., Merchant]) -> Merchant:
    return make_merchant("acme")


@pytest.fixture
def other_merchant(make_merchant: Callable[..., Merchant]) -> Merchant:
    return make_merchant("globex")


class ApiClient:
    """The test client speaking JSON with a bearer key."""

    def __init__(self, key: str | None) -> None:
        self.client = Client()
        self.key = key

    def _headers(self, extra: dict[str, str] | None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.key}"} if self.key else {}
        return {**headers, **(extra or {})}

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(f"/api/v1{path}", params, headers=self._headers(None))

    def send(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: bytes | str | None = None,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> Any:
        data = raw if raw is not None else json.dumps(body)
        call = getattr(self.client, method.lower())
        return call(
            f"/api/v1{path}", data=data, content_type=content_type, headers=self._headers(headers)
        )

    def put(self, path: str, body: Any, **kw: Any) -> Any:
        return self.send("PUT", path, body, **kw)

    def post(self, path: str, body: Any, **kw: Any) -> Any:
        return self.send("POST", path, body, **kw)


@pytest.fixture
def api(merchant: Merchant) -> ApiClient:
    _, key = apikey_create(actor=ACTOR, name="test", merchant=merchant)
    return ApiClient(key)


@pytest.fixture
def outsider_api(other_merchant: Merchant) -> ApiClient:
    _, key = apikey_create(actor=ACTOR, name="outsider", merchant=other_merchant)
    return ApiClient(key)


@pytest.fixture
def provider_api(merchant: Merchant) -> ApiClient:
    make_facility(merchant, code="FAC1", name="Facility one")
    _, key = apikey_create(actor=ACTOR, name="station", facility_codes=["FAC1"])
    return ApiClient(key)
