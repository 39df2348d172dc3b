"""Fixtures for the payment replay servers (servers.py). Other test folders import them:

    from tests.payments.conftest import paypal_server, stripe_server  # noqa: F401

`stripe_server` / `paypal_server`: a fresh server in this process for one test, as a
`ServerHandle` (`.url`, `.credentials`, `.ledger()`, `.fault(...)`, `.payment(...)`,
`.settle(...)`, `.checkout(...)`). `payment_server_process(kind, ledger_path=...)`: the same
server as a separate process (for tests that kill a worker), ended after the test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from returndesk.refunds.providers import RefundOrder, provider_for
from tests.conftest import require_outside
from tests.payments.servers import ServerHandle, paypal_files, serve_in_thread, spawn, stripe_files


def payment_data_dir(kind: str) -> Path:
    """../shared/data, with the vendor's files the replay server reads; skips loudly without."""
    data_dir = Path(settings.RETURNDESK_DATA_DIR)
    files = stripe_files(data_dir) if kind == "stripe" else paypal_files(data_dir)
    missing = [str(path) for path in files.values() if not path.is_file()]
    require_outside(
        "../shared/data",
        not missing,
        f"{', '.join(missing)} absent; the {kind} replay server answers with their shapes",
    )
    return data_dir


def adapter(server: ServerHandle, *, credentials: dict[str, str] | None = None, **kw: Any) -> Any:
    """The server's provider adapter, built as refund execution builds it."""
    return provider_for(
        server.kind, {**server.credentials, **(credentials or {})}, server.url, **kw
    )


def refund_order(payment: str, **overrides: Any) -> RefundOrder:
    values: dict[str, Any] = {
        "refund_id": "rfd_7QK2M",
        "idempotency_key": "refund-rfd_7QK2M",
        "amount": 1234,
        "currency": "USD",
        "payment_reference": payment,
        "reason": "requested_by_customer",
    }
    return RefundOrder(**{**values, **overrides})


@pytest.fixture
def stripe_server() -> Iterator[ServerHandle]:
    with serve_in_thread("stripe", payment_data_dir("stripe")) as server:
        yield server


@pytest.fixture
def paypal_server() -> Iterator[ServerHandle]:
    with serve_in_thread("paypal", payment_data_dir("paypal")) as server:
        yield server


@pytest.fixture
def payment_server_process() -> Iterator[Callable[..., ServerHandle]]:
    started: list[ServerHandle] = []

    def start(kind: str, *, ledger_path: Path | None = None) -> ServerHandle:
        handle = spawn(kind, ledger_path=ledger_path, data_dir=payment_data_dir(kind))
        started.append(handle)
        return handle

    yield start
    for handle in started:
        if handle.process is not None:
            handle.process.terminate()
            try:
                handle.process.wait(timeout=10)
            except Exception:
                handle.process.kill()
                handle.process.wait()
