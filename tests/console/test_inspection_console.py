"""Inspection in the console: the station's recorded receipt links to its units; a unit's form
records findings (keyboard defaults, photos), shows the recommendation with its figures and the
ranked options; accepting it or choosing another with a reason; the tag prints; who may."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django_scopes import scopes_disabled
from PIL import Image

from returndesk.tenants.models import Facility, Merchant
from returndesk.warehouse.models import Disposition, Inspection, Receipt, ReceiptLine
from tests.console.test_console import signed_in, staff
from tests.console.test_station import facility, ran, scan, worker  # noqa: F401 - fixtures
from tests.returns.test_returns_api import order  # noqa: F401 - the order fixture

pytestmark = pytest.mark.django_db


@pytest.fixture
def recorded(worker: Client, ran: str) -> Receipt:  # noqa: F811
    scan(worker, ran)
    with scopes_disabled():
        receipt = Receipt.objects.get()
        lines = list(ReceiptLine.objects.filter(receipt=receipt).order_by("pk"))
    url = reverse("console:station_record", args=["acme", "FAC1", receipt.public_id])
    response = worker.post(url, {f"received-{lines[0].public_id}": "1",
                                 f"received-{lines[1].public_id}": "1"})  # fmt: skip
    assert response.status_code == 200
    assert b"Inspect the items" in response.content
    return receipt


def unit_url(receipt: Receipt, line: ReceiptLine, unit: int = 1, name: str = "inspect_unit") -> str:
    return reverse(
        f"console:{name}", args=["acme", "FAC1", receipt.public_id, line.public_id, unit]
    )


def lines_of(receipt: Receipt) -> list[ReceiptLine]:
    with scopes_disabled():
        return list(ReceiptLine.objects.filter(receipt=receipt).select_related("return_line"))


def photo() -> io.BytesIO:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), "teal").save(out, "JPEG")
    out.seek(0)
    out.name = "unit.jpg"
    return out


def test_the_units_page_lists_what_to_inspect(worker: Client, recorded: Receipt) -> None:  # noqa: F811
    page = worker.get(reverse("console:inspect_units", args=["acme", "FAC1", recorded.public_id]))
    assert page.status_code == 200
    text = page.content.decode()
    assert "to inspect" in text and "Next: Trail Runner, unit 1" in text
    assert "Missing from the box" in text


def test_a_worker_inspects_accepts_and_overrides(
    worker: Client,  # noqa: F811
    recorded: Receipt,
    settings: Any,
    tmp_path: Any,
) -> None:
    settings.MEDIA_ROOT = tmp_path
    shoe, sock = lines_of(recorded)
    form = worker.get(unit_url(recorded, shoe))
    assert form.status_code == 200
    text = form.content.decode()
    assert 'capture="environment"' in text and 'value="A" checked' in text
    assert "Spare laces" in text  # the accessories checklist
    response = worker.post(
        unit_url(recorded, shoe),
        {"grade": "B", "defects": ["cosmetic"], "matches_description": "yes",
         "started": "0", "photos": photo()},
    )  # fmt: skip
    assert response.status_code == 302
    shown = worker.get(unit_url(recorded, shoe)).content.decode()
    assert "Recommended:" in shown and "The options, ranked" in shown
    assert "Net recovery" in shown
    with scopes_disabled():
        found = Inspection.objects.get(receipt_line=shoe)
        assert (found.grade, found.defect_codes, len(found.photo_upload_ids)) == (
            "B",
            ["cosmetic"],
            1,
        )
    accepted = worker.post(
        unit_url(recorded, shoe, name="dispose_unit"), {"disposition": found.recommendation}
    )
    assert accepted.status_code == 302
    page = worker.get(unit_url(recorded, shoe)).content.decode()
    assert "Print the item tag" in page
    tag = worker.get(reverse("console:unit_tag", args=["acme", "FAC1", recorded.public_id,
                                                       shoe.public_id, 1, "pdf"]))  # fmt: skip
    assert (tag.status_code, tag["Content-Type"]) == (200, "application/pdf")

    worker.post(unit_url(recorded, sock), {"grade": "A", "matches_description": "yes"})
    bare = worker.post(unit_url(recorded, sock, name="dispose_unit"), {"disposition": "donate"})
    assert bare.status_code == 422
    assert "say why" in bare.content.decode()
    worker.post(
        unit_url(recorded, sock, name="dispose_unit"),
        {"disposition": "donate", "reason": "Charity drive"},
    )
    with scopes_disabled():
        chosen = Disposition.objects.get(inspection__receipt_line=sock)
        assert (chosen.option, chosen.overridden, chosen.reason) == (
            "donate",
            True,
            "Charity drive",
        )
        assert (
            recorded.return_request.__class__.objects.get(pk=recorded.return_request_id).status
            == "inspected"
        )


def test_an_invalid_inspection_shows_errors_in_place(
    worker: Client,  # noqa: F811
    recorded: Receipt,
) -> None:
    shoe, _ = lines_of(recorded)
    response = worker.post(unit_url(recorded, shoe), {"grade": "Q"})
    assert response.status_code == 422
    assert "Nothing was recorded" in response.content.decode()
    with scopes_disabled():
        assert not Inspection.objects.exists()


def test_a_unit_not_received_is_404(worker: Client, recorded: Receipt) -> None:  # noqa: F811
    shoe, _ = lines_of(recorded)
    assert worker.get(unit_url(recorded, shoe, unit=2)).status_code == 404


def test_who_may_inspect(
    recorded: Receipt,
    merchant: Merchant,
    other_merchant: Merchant,
    facility: Facility,  # noqa: F811
) -> None:
    shoe, _ = lines_of(recorded)
    viewer = signed_in(staff("viewer@acme.example", "merchant_viewer", merchant))
    assert viewer.get(unit_url(recorded, shoe)).status_code == 403
    agent = signed_in(staff("agent@acme.example", "agent", merchant))
    assert agent.post(unit_url(recorded, shoe), {"grade": "A"}).status_code == 403
    theirs = signed_in(staff("dock@globex.example", "warehouse", other_merchant))
    url = reverse("console:inspect_unit", args=["globex", "FAC1", recorded.public_id,
                                               shoe.public_id, 1])  # fmt: skip
    assert theirs.get(url).status_code == 404
