"""Item tags: the license plate number (LPN) a dispositioned unit carries through the building,
as a Code 128 on a 4x6 or a 2x1 inch tag, in PDF (reportlab) and ZPL (203 dpi thermal printers).

An LPN is `LP`, ten symbols of the RAN alphabet and a check symbol (Luhn mod 32), so a mistyped
one is caught before anything is looked up. Rendering is pure (no ORM).
"""

from __future__ import annotations

import io
import secrets
from dataclasses import dataclass
from itertools import groupby

from reportlab.lib.units import inch
from reportlab.lib.utils import simpleSplit
from reportlab.pdfgen.canvas import Canvas

from returndesk.core.barcodes import code128_modules
from returndesk.core.codes import ALPHABET
from returndesk.shipping.labels import zpl_escape

PREFIX = "LP"
PAYLOAD = 10
SIZES = {"4x6": (4 * inch, 6 * inch), "2x1": (2 * inch, 1 * inch)}
DOTS = 203
_VALUE = {symbol: value for value, symbol in enumerate(ALPHABET)}


def lpn_check_symbol(payload: str) -> str:
    """Luhn mod 32 over the payload symbols: catches every single mistyped symbol and most
    swaps of neighbours."""
    total, factor = 0, 2
    for symbol in reversed(payload):
        addend = factor * _VALUE[symbol]
        total += addend // 32 + addend % 32
        factor = 1 if factor == 2 else 2
    return ALPHABET[(32 - total % 32) % 32]


def new_lpn() -> str:
    payload = "".join(secrets.choice(ALPHABET) for _ in range(PAYLOAD))
    return PREFIX + payload + lpn_check_symbol(payload)


def is_valid_lpn(text: str) -> bool:
    code = text.strip().upper()
    if len(code) != len(PREFIX) + PAYLOAD + 1 or not code.startswith(PREFIX):
        return False
    payload, check = code[len(PREFIX) : -1], code[-1]
    if not all(symbol in _VALUE for symbol in payload + check):
        return False
    return lpn_check_symbol(payload) == check


@dataclass(frozen=True)
class TagDocument:
    lpn: str
    sku: str
    name: str
    disposition: str  # the chosen option, e.g. restock
    condition: str  # where it goes in the ledger, e.g. sellable
    grade: str
    ran: str  # formatted
    facility_code: str
    merchant_name: str
    decided_at: str  # YYYY-MM-DD


def _modules(data: str) -> str:
    """The Code 128 modules of the data, 1 for a bar."""
    return code128_modules(data)


def _lines(doc: TagDocument) -> list[str]:
    return [
        f"{doc.sku} - {doc.name}",
        f"{doc.disposition.replace('_', ' ').upper()} -> {doc.condition.replace('_', ' ')}",
        f"Grade {doc.grade} - return {doc.ran}",
        f"{doc.merchant_name} - {doc.facility_code} - {doc.decided_at}",
    ]


def render_tag_pdf(doc: TagDocument, size: str = "4x6") -> bytes:
    """The tag as a one-page PDF of the given size (4x6 or 2x1 inches)."""
    width, height = SIZES[size]
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=(width, height), pageCompression=1, invariant=1)
    canvas.setTitle(f"Item tag {doc.lpn}")
    canvas.setAuthor(doc.merchant_name)
    margin = 0.08 * inch if size == "2x1" else 0.2 * inch
    bar_height = 0.5 * inch if size == "2x1" else 1.3 * inch
    # Whole printer dots per module (203 dpi), drawn bar by bar in a space of printer dots and
    # a hair inside each bar's edges: a rasterizer that fills every dot a shape touches would
    # otherwise print a 2-dot module as 3 and the 2x1 tag would not read.
    pattern = _modules(doc.lpn)
    dots = max(1, min(4, int((width * DOTS / 72 - 8) / (len(pattern) + 20))))
    left = round((width * DOTS / 72 - len(pattern) * dots) / 2)
    bar_dots = round(bar_height * DOTS / 72)

    def draw_barcode(top: float) -> None:
        bottom = round((top - bar_height) * DOTS / 72)
        canvas.saveState()
        canvas.scale(72 / DOTS, 72 / DOTS)
        x = left
        for bit, run in groupby(pattern):
            length = len(list(run)) * dots
            if bit == "1":
                canvas.rect(x + 0.1, bottom, length - 0.2, bar_dots, stroke=0, fill=1)
            x += length
        canvas.restoreState()

    if size == "2x1":
        draw_barcode(height - 4)
        canvas.setFont("Helvetica-Bold", 8)
        canvas.drawCentredString(width / 2, 11, doc.lpn)
        canvas.setFont("Helvetica", 6)
        canvas.drawCentredString(width / 2, 3, f"{doc.sku[:18]} - {doc.disposition.upper()[:12]}")
    else:
        y = height - margin - 22
        canvas.setFont("Helvetica-Bold", 22)
        canvas.drawString(margin, y, "ITEM TAG")
        y -= 30
        draw_barcode(y)
        y -= bar_height + 24
        canvas.setFont("Helvetica-Bold", 20)
        canvas.drawCentredString(width / 2, y, doc.lpn)
        y -= 34
        canvas.setFont("Helvetica", 11)
        for line in _lines(doc):
            for part in simpleSplit(line, "Helvetica", 11, width - 2 * margin):
                canvas.drawString(margin, y, part)
                y -= 15
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def render_tag_zpl(doc: TagDocument, size: str = "4x6") -> str:
    """The tag as ZPL II for a 203 dpi thermal printer (4x6 or 2x1 inches)."""
    width_in, height_in = (4, 6) if size == "4x6" else (2, 1)
    width, height = width_in * DOTS, height_in * DOTS
    modules = (len(doc.lpn) + 2) * 11 + 13
    margin = 16 if size == "2x1" else 30
    module = max(1, min(4, (width - 2 * margin - 20) // modules))
    left = (width - modules * module) // 2
    out = ["^XA", "^CI28", f"^PW{width}", f"^LL{height}", "^LH0,0"]
    if size == "2x1":
        out += [
            f"^FO{left},12^BY{module}^BCN,100,N,N,N,A^FD{doc.lpn}^FS",
            f"^FO0,122^A0N,26,26^FB{width},1,0,C,0^FH^FD{doc.lpn}^FS",
            f"^FO0,154^A0N,20,20^FB{width},1,0,C,0^FH^FD"
            f"{zpl_escape(doc.sku[:18])} {zpl_escape(doc.disposition.upper()[:12])}^FS",
        ]
    else:
        out += [
            f"^FO{margin},30^A0N,56,56^FDITEM TAG^FS",
            f"^FO{left},120^BY{module}^BCN,260,N,N,N,A^FD{doc.lpn}^FS",
            f"^FO0,410^A0N,56,56^FB{width},1,0,C,0^FH^FD{doc.lpn}^FS",
        ]
        y = 520
        for line in _lines(doc):
            out.append(
                f"^FO{margin},{y}^A0N,30,30^FB{width - 2 * margin},2,0,L,0^FH^FD"
                f"{zpl_escape(line)}^FS"
            )
            y += 80
    out.append("^XZ")
    return "\n".join(out) + "\n"
