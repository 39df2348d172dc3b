"""The receiving station in the console: scan, see the answer and the expected items, record
the box; the exceptions page; and who may use them."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django_scopes import scopes_disabled

from returndesk.core.codes import generate_ran
from returndesk.returns.models import Return
from returndesk.tenants.models import Facility, Merchant
from returndesk.tenants.services import facility_create
from returndesk.warehouse.models import Receipt, UnidentifiedPackage
from tests.conftest import ACTOR, ApiClient
from tests.console.test_console import signed_in, staff
from tests.factories import make_facility
from tests.returns.test_returns_api import order  # noqa: F401 - the order fixture
from tests.warehouse.conftest import make_return

pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true"}


@pytest.fixture
def facility(merchant: Merchant) -> Facility:
    return make_facility(merchant, code="FAC1", name="Facility one")


@pytest.fixture
def ran(api: ApiClient, order: dict, facility: Facility) -> str:  # noqa: F811
    return make_return(api)["ran"]


@pytest.fixture
def worker(merchant: Merchant) -> Client:
    return signed_in(staff("dock@provider.example", "warehouse", None))


def scan(client: Client, code: str, **kw: Any) -> Any:
    return client.post("/console/m/acme/station/FAC1/scan/", {"code": code}, **kw)


def test_the_station_page_is_scanner_first(worker: Client, facility: Facility) -> None:
    start = worker.get("/console/m/acme/station/")
    assert start.status_code == 302 and start["Location"].endswith("/station/FAC1/")
    page = worker.get("/console/m/acme/station/FAC1/")
    text = page.content.decode()
    assert page.status_code == 200
    assert 'id="scan-code"' in text and "autofocus" in text
    assert "console/station.js" in text
    assert "<script>" not in text  # no inline script: the CSP would refuse it


def test_a_scan_answers_received_with_the_expected_items(
    worker: Client, ran: str, merchant: Merchant
) -> None:
    answer = scan(worker, ran, headers=HTMX)
    text = answer.content.decode()
    assert answer.status_code == 200 and "<html" not in text
    assert 'data-outcome="received"' in text
    assert "Trail Runner" in text and "SHOE-1" in text
    assert 'name="received-rcl_' in text
    with scopes_disabled():
        assert Return.objects.get().status == "received"


def test_the_worker_records_the_box(worker: Client, ran: str) -> None:
    scan(worker, ran, headers=HTMX)
    with scopes_disabled():
        receipt = Receipt.objects.get()
        shoe, sock = list(receipt.lines.order_by("pk"))
    response = worker.post(
        f"/console/m/acme/station/FAC1/receipts/{receipt.public_id}/",
        {
            f"received-{shoe.public_id}": "2",
            f"received-{sock.public_id}": "0",
            "package_condition": "damaged",
            "weight_grams": "1400",
            "wrong_line": shoe.public_id,
            "wrong_description": "Another brand's shoe",
            "extra_items": "A phone charger\nA sock of another colour",
            "notes": "",
        },
        headers=HTMX,
    )
    text = response.content.decode()
    assert 'data-outcome="recorded"' in text
    with scopes_disabled():
        receipt.refresh_from_db()
        shoe.refresh_from_db()
        sock.refresh_from_db()
    assert receipt.state == "closed" and receipt.weight_grams == 1400
    assert (shoe.received_quantity, shoe.wrong_item) == (2, True)
    assert (sock.received_quantity, sock.missing_quantity) == (0, 1)
    assert [e["description"] for e in receipt.extra_items] == [
        "A phone charger",
        "A sock of another colour",
    ]


def test_a_bad_box_says_what_is_wrong(worker: Client, ran: str) -> None:
    scan(worker, ran, headers=HTMX)
    with scopes_disabled():
        receipt = Receipt.objects.get()
        shoe = receipt.lines.order_by("pk").first()
    assert shoe is not None
    response = worker.post(
        f"/console/m/acme/station/FAC1/receipts/{receipt.public_id}/",
        {f"received-{shoe.public_id}": "9", "package_condition": "intact"},
    )
    assert response.status_code == 422
    assert b"error-summary" in response.content
    with scopes_disabled():
        assert Receipt.objects.get().state == "open"


def test_mistyped_unidentified_and_exception_answers(
    worker: Client, ran: str, merchant: Merchant
) -> None:
    typo = ("1" if ran[0] != "1" else "2") + ran[1:]
    mistyped = scan(worker, typo, headers=HTMX).content.decode()
    assert 'data-outcome="mistyped"' in mistyped
    assert UnidentifiedPackage.objects.count() == 0
    unknown = scan(worker, "PARCEL-WITHOUT-LABEL", headers=HTMX).content.decode()
    assert 'data-outcome="unidentified"' in unknown
    with scopes_disabled():
        Return.objects.update(status="cancelled")
    exception = scan(worker, ran, headers=HTMX).content.decode()
    assert 'data-outcome="exception"' in exception


def test_the_exceptions_page_lists_and_links(worker: Client, ran: str) -> None:
    scan(worker, "PARCEL-WITHOUT-LABEL")
    package = UnidentifiedPackage.objects.get()
    page = worker.get("/console/m/acme/station/exceptions/")
    assert package.public_id.encode() in page.content
    linked = worker.post(
        f"/console/m/acme/station/exceptions/{package.public_id}/link/", {"ran": ran}, follow=True
    )
    assert b"linked to return" in linked.content
    with scopes_disabled():
        assert Return.objects.get().status == "received"
    assert (
        package.public_id.encode() not in worker.get("/console/m/acme/station/exceptions/").content
    )


def test_a_merchant_warehouse_worker_matches_only_their_merchants_returns(
    api: ApiClient, ran: str, merchant: Merchant, other_merchant: Merchant, facility: Facility
) -> None:
    facility.merchants.add(other_merchant)
    theirs = signed_in(staff("dock@globex.example", "warehouse", other_merchant))
    answer = theirs.post(
        "/console/m/globex/station/FAC1/scan/", {"code": ran}, headers=HTMX
    ).content.decode()
    assert 'data-outcome="unidentified"' in answer and "Acme" not in answer
    with scopes_disabled():
        assert Return.objects.get().status == "authorized"


def test_an_agent_may_not_receive(merchant: Merchant, facility: Facility) -> None:
    agent = signed_in(staff("agent@acme.example", "agent", merchant))
    assert agent.get("/console/m/acme/station/FAC1/").status_code == 403
    assert scan(agent, generate_ran()).status_code == 403


def test_a_facility_out_of_reach_is_404(merchant: Merchant, other_merchant: Merchant) -> None:
    facility_create(
        actor=ACTOR,
        code="FAC9",
        name="Elsewhere",
        line1="9 Dock Rd",
        city="Newark",
        postal_code="07102",
        country="US",
        merchant_slugs=[other_merchant.slug],
    )
    own = signed_in(staff("dock@acme.example", "warehouse", merchant))
    assert own.get("/console/m/acme/station/FAC9/").status_code == 404
    assert own.get("/console/m/acme/station/NOPE/").status_code == 404
