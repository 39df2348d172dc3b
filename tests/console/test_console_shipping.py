"""The console's view of a return's journey: issuing and printing the label, the carrier's
tracking, searching by tracking number, and exceptions a carrier raised."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from returndesk.core.codes import format_ran, parse_ran
from returndesk.core.tenancy import merchant_scope
from returndesk.returns.models import Return
from returndesk.tenants.models import Merchant
from tests.conftest import ApiClient
from tests.console.test_console import signed_in, staff
from tests.shipping.tracking_helpers import (
    GENERIC_SECRET,
    at,
    generic_body,
    generic_headers,
    post_webhook,
    run_webhook_tasks,
    travelling_return,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def agent(merchant: Merchant) -> Client:
    return signed_in(staff("agent@acme.example", "agent", merchant))


@pytest.fixture
def travelling(api: ApiClient, merchant: Merchant, settings: Any) -> str:
    settings.RETURNDESK_CARRIER_WEBHOOK_SECRETS = f"prepaid={GENERIC_SECRET}"
    return travelling_return(api, merchant, tracking="RD123456789US", adapter="prepaid")["ran"]


def scan(event_id: str, status: str, hours: int) -> None:
    body = generic_body(event_id, "RD123456789US", status, at(hours))
    assert post_webhook("prepaid", body, generic_headers(body)).status_code == 202
    run_webhook_tasks()


def test_the_detail_shows_the_label_and_its_tracking(agent: Client, travelling: str) -> None:
    scan("evt-1", "in_transit", 1)
    page = agent.get(f"/console/m/acme/returns/{travelling}/").content.decode()
    assert "RD123456789US" in page
    assert "Carrier status: <strong>in_transit</strong>" in page
    assert "in_transit scan" in page and "Newark, NJ, US" in page
    pdf = agent.get(f"/console/m/acme/returns/{travelling}/label.pdf")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")


def test_staff_find_a_return_by_its_tracking_number(agent: Client, travelling: str) -> None:
    found = agent.get("/console/m/acme/returns/", {"q": "RD123456789US"}).content.decode()
    assert travelling in found
    nothing = agent.get("/console/m/acme/returns/", {"q": "RD000000000US"}).content.decode()
    assert travelling not in nothing


def test_a_carrier_exception_is_queued_shown_and_cleared_with_a_reason(
    agent: Client, merchant: Merchant, travelling: str
) -> None:
    scan("evt-1", "in_transit", 1)
    scan("evt-2", "return_to_sender", 2)
    home = agent.get("/console/m/acme/").content.decode()
    assert '<span class="count">1</span> Exceptions' in home
    queue = agent.get("/console/m/acme/returns/", {"queue": "exceptions"}).content.decode()
    assert travelling in queue
    detail = agent.get(f"/console/m/acme/returns/{travelling}/").content.decode()
    assert "Clear the exception" in detail
    url = f"/console/m/acme/returns/{travelling}/exception/clear/"
    refused = agent.post(url, {"reason": " "}, follow=True).content.decode()
    assert "Say what was done about the exception." in refused
    agent.post(url, {"reason": "Called the carrier; parcel rerouted"})
    with merchant_scope(merchant):
        ret = Return.objects.get(ran=parse_ran(travelling))
        assert ret.exception_at is None
        assert ret.events.filter(
            type="return.exception_cleared", reason="Called the carrier; parcel rerouted"
        ).exists()
    assert (
        travelling
        not in agent.get("/console/m/acme/returns/", {"queue": "exceptions"}).content.decode()
    )


def test_an_agent_issues_the_label_once_and_a_viewer_cannot(
    api: ApiClient, merchant: Merchant, agent: Client, travelling: str
) -> None:
    # A second return of the same order, authorized, without a label yet.
    created = api.post(
        "/returns",
        {
            "order_number": "1001",
            "email": "shopper@example.com",
            "channel": "api",
            "resolution": "refund",
            "lines": [{"line_id": "2", "quantity": 1, "reason": "wrong_size"}],
        },
    ).json()
    ran = created["ran"]
    url = f"/console/m/acme/returns/{ran}/label/"
    viewer = signed_in(staff("viewer@acme.example", "merchant_viewer", merchant))
    assert viewer.post(url).status_code == 403
    assert "Issue the label" in agent.get(f"/console/m/acme/returns/{ran}/").content.decode()
    first = agent.post(url, follow=True).content.decode()
    assert "Label issued" in first
    again = agent.post(url, follow=True).content.decode()
    assert "already has a label" in again
    with merchant_scope(merchant):
        assert Return.objects.get(ran=parse_ran(ran)).labels.count() == 1
    assert format_ran(parse_ran(ran)) == ran
