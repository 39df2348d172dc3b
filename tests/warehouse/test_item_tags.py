"""Item tags: LPNs with a check symbol, 4x6 and 2x1 tags whose Code 128 a scanner reads (PDF
rendered at a thermal printer's 203 dpi), well-formed ZPL, and the tag endpoints."""

from __future__ import annotations

from typing import Any

import pypdfium2 as pdfium
import pytest

from returndesk.warehouse.tags import (
    TagDocument,
    is_valid_lpn,
    lpn_check_symbol,
    new_lpn,
    render_tag_pdf,
    render_tag_zpl,
)
from tests.conftest import ApiClient
from tests.shipping.test_label_rendering import check_zpl, decoded, pages, zpl_fields
from tests.warehouse.test_inspection_api import dispose, inspect, receive

pytestmark = pytest.mark.django_db


def document(**overrides: Any) -> TagDocument:
    values: dict[str, Any] = {
        "lpn": new_lpn(),
        "sku": "SHOE-1",
        "name": "Trail Runner",
        "disposition": "restock",
        "condition": "sellable",
        "grade": "A",
        "ran": "7Q0M-2XD9-TP4K-8",
        "facility_code": "FAC1",
        "merchant_name": "Acme",
        "decided_at": "2026-11-20",
    }
    values.update(overrides)
    return TagDocument(**values)


def test_an_lpn_catches_a_mistyped_symbol() -> None:
    lpn = new_lpn()
    assert is_valid_lpn(lpn) and is_valid_lpn(lpn.lower())
    assert len(lpn) == 13 and lpn.startswith("LP")
    for i in range(2, 12):
        wrong = "0" if lpn[i] != "0" else "1"
        assert not is_valid_lpn(lpn[:i] + wrong + lpn[i + 1 :])
    assert lpn_check_symbol(lpn[2:12]) == lpn[-1]


@pytest.mark.parametrize("size", ["4x6", "2x1"])
@pytest.mark.parametrize("attempt", range(4))
def test_a_scanner_reads_the_lpn_on_the_pdf(size: str, attempt: int) -> None:
    doc = document()
    pdf = render_tag_pdf(doc, size)
    width, height = pdfium.PdfDocument(pdf)[0].get_size()
    assert (round(width / 72), round(height / 72)) == ((4, 6) if size == "4x6" else (2, 1))
    assert decoded(pages(pdf)[0])["Code128"] == {doc.lpn}


@pytest.mark.parametrize("size", ["4x6", "2x1"])
def test_the_zpl_is_well_formed_and_carries_the_lpn(size: str) -> None:
    doc = document(name="Shoe ^XZ with ~ and _ in it")
    zpl = render_tag_zpl(doc, size)
    check_zpl(zpl)
    barcodes = [data for cmds, data in zpl_fields(zpl) if "^BC" in cmds]
    assert barcodes == [doc.lpn]
    assert "^XZ with" not in zpl  # field data is escaped
    assert ("^PW812" in zpl) == (size == "4x6")


def test_the_tag_endpoints_answer_pdf_and_zpl(station: ApiClient, authorized: dict) -> None:
    ran = authorized["ran"]
    receive(station, ran, {"2": 1})
    inspect(station, ran, "2")
    before = station.get(f"/returns/{ran}/lines/2/units/1/tag.pdf")
    assert before.status_code == 404
    disposed = dispose(station, ran, "2", disposition="restock").json()
    pdf = station.get(disposed["tag"]["pdf"].removeprefix("/api/v1"))
    assert (pdf.status_code, pdf["Content-Type"]) == (200, "application/pdf")
    assert decoded(pages(pdf.content)[0])["Code128"] == {disposed["lpn"]}
    small = station.get(disposed["tag"]["zpl"].removeprefix("/api/v1"), size="2x1")
    assert small.status_code == 200
    assert disposed["lpn"] in small.content.decode()
    assert station.get(f"/returns/{ran}/lines/2/units/1/tag.zpl", size="9x9").status_code == 422
