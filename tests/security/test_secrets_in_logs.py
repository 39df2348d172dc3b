"""Secrets never appear in logs or error pages (issue 10, security).

Requests carrying an API key, a webhook signing secret and payment credentials are made to fail
inside the code that stores them; what the installation's own log handler wrote, what pytest
captured, and what the client got back hold none of them, with DEBUG off and (for the console's
technical error page, which shows the request and each frame's variables) with DEBUG on too.
The `stripe` library's own request logging is checked against a real call."""

from __future__ import annotations

import io
import logging
import secrets
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from returndesk.core.redaction import REDACTED, RedactSecrets, redact
from returndesk.integrations.models import ShopConnection
from returndesk.refunds.models import PaymentSettings
from returndesk.tenants.models import Merchant
from tests.console.test_console import staff
from tests.payments.conftest import adapter, refund_order, stripe_server  # noqa: F401
from tests.payments.servers import ServerHandle

pytestmark = pytest.mark.django_db

STRIPE_KEY = "sk_live_" + secrets.token_hex(16)
STRIPE_WEBHOOK = "whsec_" + secrets.token_hex(16)
PAYPAL_SECRET = "EPaypalClient" + secrets.token_hex(12)  # no recognizable shape
SHOPIFY_SECRET = "shpss_" + secrets.token_hex(16)
SHOPIFY_TOKEN = "shpat_" + secrets.token_hex(16)
ALL = (STRIPE_KEY, STRIPE_WEBHOOK, PAYPAL_SECRET, SHOPIFY_SECRET, SHOPIFY_TOKEN)


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    """What the installation's own handler (settings LOGGING, the one production ships) writes."""
    [handler] = [
        h
        for h in logging.getLogger().handlers
        if any(isinstance(f, RedactSecrets) for f in h.filters)
    ]
    assert isinstance(handler, logging.StreamHandler)
    out = io.StringIO()
    previous = handler.setStream(out)
    try:
        yield out
    finally:
        handler.setStream(previous)


@pytest.fixture
def failing_saves(monkeypatch: pytest.MonkeyPatch) -> None:
    """Storing payment or shop settings fails, with the worst kind of message: one that quotes
    the shaped secrets it was given (a library may do that)."""

    def fail(self: Any, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError(f"could not store {STRIPE_KEY} {STRIPE_WEBHOOK} {SHOPIFY_TOKEN}")

    monkeypatch.setattr(PaymentSettings, "save", fail)
    monkeypatch.setattr(ShopConnection, "save", fail)


def leaks(text: str, *also: str) -> list[str]:
    return [s for s in (*ALL, *also) if s in text]


def test_api_errors_carrying_secrets_log_and_answer_none_of_them(
    api: Any, failing_saves: None, log_output: io.StringIO, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    answers = [
        api.put(
            "/payments/settings",
            {
                "stripe_secret_key": STRIPE_KEY,
                "stripe_webhook_secret": STRIPE_WEBHOOK,
                "paypal_client_id": "client",
                "paypal_client_secret": PAYPAL_SECRET,
            },
        ),
        api.put(
            "/integrations/shopify",
            {
                "shop_url": "acme.myshopify.com",
                "webhook_secret": SHOPIFY_SECRET,
                "access_token": SHOPIFY_TOKEN,
            },
        ),
    ]
    assert [a.status_code for a in answers] == [500, 500]
    written = log_output.getvalue()
    assert "could not store" in written and REDACTED in written  # the error was logged
    assert leaks(written, api.key) == []
    assert leaks(caplog.text, api.key) == []
    for answer in answers:
        assert leaks(answer.content.decode(), api.key) == []


@pytest.mark.parametrize("debug", [False, True])
def test_console_errors_show_and_log_no_secret(
    merchant: Merchant,
    failing_saves: None,
    log_output: io.StringIO,
    settings: Any,
    debug: bool,
) -> None:
    """With DEBUG on, Django's technical page lists the POST and every frame's variables: the
    views mark their secret parameters and the services their secret variables."""
    settings.DEBUG = debug
    client = Client(raise_request_exception=False)
    client.force_login(staff("admin@acme.example", "merchant_admin", merchant))
    answers = [
        client.post(
            "/console/m/acme/admin/payments/",
            {
                "allocation_rule": "proportional",
                "stripe_secret_key": STRIPE_KEY,
                "stripe_webhook_secret": STRIPE_WEBHOOK,
                "paypal_client_id": "client",
                "paypal_client_secret": PAYPAL_SECRET,
                "paypal_environment": "sandbox",
                "max_attempts": "6",
            },
        ),
        client.post(
            "/console/m/acme/admin/integrations/shopify/",
            {
                "shop_url": "acme.myshopify.com",
                "webhook_secret": SHOPIFY_SECRET,
                "access_token": SHOPIFY_TOKEN,
                "api_version": "2024-10",
                "enabled": "on",
            },
        ),
    ]
    assert [a.status_code for a in answers] == [500, 500]
    for answer in answers:
        page = answer.content.decode()
        assert ("payment_settings_update" in page or "shop_connection_update" in page) == debug
        assert leaks(page) == [], page if debug else ""
    assert leaks(log_output.getvalue()) == []


def test_the_stripe_library_logs_requests_but_never_the_key(
    stripe_server: ServerHandle,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="stripe")
    charge = stripe_server.payment(5_000, "USD")
    key = stripe_server.credentials["secret_key"]
    assert adapter(stripe_server).refund(refund_order(charge)).status == "succeeded"
    said = [r.getMessage() for r in caplog.records if r.name == "stripe"]
    assert any("Request to Stripe api" in m for m in said)  # it does log each request
    assert not [m for m in said if key in m]


@pytest.mark.parametrize(
    "secret",
    [*ALL[:2], *ALL[3:], "rd_m_" + secrets.token_urlsafe(32), "EZTK" + secrets.token_hex(16)],
    ids=["stripe-key", "stripe-webhook", "shopify-secret", "shopify-token", "api-key", "easypost"],
)
def test_shaped_secrets_are_redacted_wherever_they_sit_in_a_record(secret: str) -> None:
    assert redact(f"key={secret}, again {secret}") == f"key={REDACTED}, again {REDACTED}"
    assert redact(f"Authorization: Bearer {secret}") == f"Authorization: Bearer {REDACTED}"
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "saw %s", (secret,), None)
    record.payload = {"key": secret}
    try:
        raise ValueError(secret)
    except ValueError:
        record.exc_info = sys.exc_info()
    RedactSecrets().filter(record)
    text = logging.Formatter().format(record)
    assert secret not in text and secret not in str(record.payload)
    assert "saw [redacted]" in text and "ValueError: [redacted]" in text
