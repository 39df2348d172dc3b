"""Long addresses get smaller type on the label and never run into the barcodes below them."""

from __future__ import annotations

import pypdfium2 as pdfium
from hypothesis import given
from hypothesis import strategies as st

from returndesk.shipping.labels import fitting_size, render_pdf
from tests.shipping.test_label_rendering import decoded, document, pages

SIZES = (11.0, 10.0, 9.0, 8.0, 7.0, 6.0)
LONG_SHIP_TO = (
    "Northwind Electronics & Apparel Returns Department",
    "c/o Harbor Returns Secaucus Receiving Dock (HRB-NJ1)",
    "500 Harbor Boulevard, Building 7, Door 12",
    "Secaucus NJ 07094",
    "US",
)


@given(st.lists(st.text(min_size=1, max_size=80), min_size=1, max_size=8))
def test_the_chosen_size_fits_or_is_the_smallest(lines: list[str]) -> None:
    from reportlab.lib.utils import simpleSplit

    size = fitting_size(lines, font="Helvetica-Bold", width=190, height=70, sizes=SIZES)
    count = sum(len(simpleSplit(line, "Helvetica-Bold", size, 190) or [""]) for line in lines)
    assert count * size * 1.2 <= 70 or size == SIZES[-1]


def test_a_long_address_stays_above_the_tracking_barcode() -> None:
    doc = document(ship_to=LONG_SHIP_TO)
    pdf = render_pdf(doc)
    text = pdfium.PdfDocument(pdf)[0].get_textpage()
    # The band between the ship-to block's rule and the tracking barcode holds only its title.
    band = text.get_text_bounded(left=0, bottom=432 - 12 - 200, right=288, top=432 - 12 - 185)
    assert band.strip() == "TRACKING #"
    everything = text.get_text_range()
    assert "500 Harbor Boulevard" in everything and "US" in everything
    found = decoded(pages(pdf)[0])
    assert doc.tracking_number in found["Code128"] and doc.ran in found["Code128"]
