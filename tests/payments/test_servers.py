"""The replay servers themselves: as a separate process with a ledger file (how the refund
worker's crash tests use them), and their fault injection."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from returndesk.refunds.providers import ProviderError, RefundOrder, provider_for
from tests.payments.servers import ServerHandle, parse_form


def test_stripes_form_encoding_reads_as_nested_data() -> None:
    raw = (
        b"charge=ch_1&amount=2500&metadata[returndesk_refund]=rfd_1"
        b"&line_items[0][price_data][currency]=usd&line_items[1][quantity]=2"
    )
    assert parse_form(raw) == {
        "charge": "ch_1",
        "amount": "2500",
        "metadata": {"returndesk_refund": "rfd_1"},
        "line_items": [{"price_data": {"currency": "usd"}}, {"quantity": "2"}],
    }


@pytest.mark.parametrize("kind", ["stripe", "paypal"])
def test_a_server_process_keeps_its_ledger_in_a_file(
    payment_server_process: Callable[..., ServerHandle], tmp_path: Path, kind: str
) -> None:
    ledger = tmp_path / "ledger.jsonl"
    server = payment_server_process(kind, ledger_path=ledger)
    assert server.process is not None and server.process.poll() is None
    payment = server.payment(5000, "USD")
    provider = provider_for(kind, server.credentials, server.url)
    outcome = provider.refund(RefundOrder("rfd_1", "k-1", 2000, "USD", payment))
    provider.refund(RefundOrder("rfd_1", "k-1", 2000, "USD", payment))
    lines = [json.loads(line) for line in ledger.read_text().splitlines()]
    assert [entry["id"] for entry in lines] == [outcome.reference]
    assert server.ledger() == lines
    assert (lines[0]["provider"], lines[0]["amount"], lines[0]["payment"]) == (kind, 2000, payment)


def test_faults_apply_to_the_next_requests_then_stop(stripe_server: ServerHandle) -> None:
    charge = stripe_server.payment(5000, "USD")
    provider = provider_for("stripe", stripe_server.credentials, stripe_server.url)
    stripe_server.fault("error", count=2, status=503)
    for _ in range(2):
        with pytest.raises(ProviderError):
            provider.refund(RefundOrder("rfd_1", "k-1", 2000, "USD", charge))
    provider.refund(RefundOrder("rfd_1", "k-1", 2000, "USD", charge))
    assert [r["fault"] for r in stripe_server.requests()] == ["error", "error", None]
    assert len(stripe_server.ledger()) == 1


def test_a_fault_can_aim_at_one_path_and_be_cleared(paypal_server: ServerHandle) -> None:
    capture = paypal_server.payment(5000, "USD")
    provider = provider_for("paypal", paypal_server.credentials, paypal_server.url)
    paypal_server.fault("drop", path="/refund$")
    with pytest.raises(ProviderError):
        provider.refund(RefundOrder("rfd_1", "k-1", 2000, "USD", capture))
    paths = [(r["path"], r["fault"]) for r in paypal_server.requests()]
    assert paths == [
        ("/v1/oauth2/token", None),
        (f"/v2/payments/captures/{capture}/refund", "drop"),
    ]
    paypal_server.fault("error", count=5)
    paypal_server.clear_faults()
    assert provider.refund(RefundOrder("rfd_1", "k-1", 2000, "USD", capture)).status == (
        "succeeded"
    )
