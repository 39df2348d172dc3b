"""The 4x6 inch return label and its packing slip, as PDF (reportlab) and as ZPL for thermal
printers. No ORM: a `LabelDocument` in, bytes or text out.

Page one is the label: the shopper's address, the facility's, the carrier and its tracking
number as Code 128 when there is one, the weight, and the RAN as Code 128 and as a QR code (a
box-free drop-off shows its drop-off code as the QR instead, which the receiving scan accepts
like a RAN). The pages after it are the packing slip: each item with what goes in the box.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import datetime

from reportlab.graphics import renderPDF
from reportlab.graphics.barcode import code128, qr
from reportlab.graphics.shapes import Drawing
from reportlab.lib.units import inch
from reportlab.lib.utils import simpleSplit
from reportlab.pdfgen.canvas import Canvas

from returndesk.core.codes import format_ran

PAGE = (4 * inch, 6 * inch)  # 288 x 432 pt
MARGIN = 12.0
BARCODE_DATA = re.compile(r"^[0-9A-Z]+$")


@dataclass(frozen=True)
class PackingItem:
    sku: str
    name: str
    quantity: int
    reason: str
    accessories: tuple[str, ...] = ()
    instructions: str = ""


@dataclass(frozen=True)
class LabelDocument:
    ran: str  # compact, 13 symbols
    merchant_name: str
    order_number: str
    ship_from: tuple[str, ...]
    ship_to: tuple[str, ...]
    facility_code: str
    carrier: str
    service: str
    tracking_number: str
    dropoff_code: str
    weight_grams: int
    created_at: datetime
    condition_required: str
    items: tuple[PackingItem, ...]


def format_dropoff_code(code: str) -> str:
    """DO-XXXXX-XXXXX, as a person reads it."""
    return f"{code[:2]}-{code[2:7]}-{code[7:]}" if len(code) == 12 else code


def _weight(grams: int) -> str:
    return f"{grams / 1000:.2f} kg ({grams * 0.00220462:.1f} lb)"


def _barcode_data(value: str) -> str:
    if not BARCODE_DATA.match(value):
        raise ValueError(f"'{value}' is not printable as a label barcode")
    return value


# PDF ---------------------------------------------------------------------------------------


def _code128(canvas: Canvas, value: str, *, y: float, height: float, max_bar: float) -> None:
    """A Code 128 centred across the page, as wide as fits (quiet zones included)."""
    probe = code128.Code128(_barcode_data(value), barHeight=height, barWidth=1)
    bar = min(max_bar, (PAGE[0] - 2 * MARGIN) / probe.width)
    barcode = code128.Code128(value, barHeight=height, barWidth=bar)
    barcode.drawOn(canvas, (PAGE[0] - barcode.width) / 2, y)


def _qr(canvas: Canvas, value: str, *, x: float, y: float, size: float) -> None:
    widget = qr.QrCodeWidget(value, barLevel="M")
    x1, y1, x2, y2 = widget.getBounds()
    drawing = Drawing(size, size, transform=[size / (x2 - x1), 0, 0, size / (y2 - y1), 0, 0])
    drawing.add(widget)
    renderPDF.draw(drawing, canvas, x, y)


def _lines(
    canvas: Canvas,
    lines: list[str],
    *,
    x: float,
    y: float,
    font: str,
    size: float,
    width: float,
    leading: float | None = None,
) -> float:
    """Write wrapped lines downward from y; answers the y below the last."""
    leading = leading or size * 1.2
    canvas.setFont(font, size)
    for line in lines:
        for part in simpleSplit(line, font, size, width) or [""]:
            canvas.drawString(x, y, part)
            y -= leading
    return y


def fitting_size(
    lines: list[str], *, font: str, width: float, height: float, sizes: tuple[float, ...]
) -> float:
    """The largest of `sizes` at which `lines`, wrapped to `width`, fit in `height` (leading
    1.2 x size); the smallest when none does. Long addresses get smaller type, never overlap
    the barcode below them."""
    for size in sizes:
        count = sum(len(simpleSplit(line, font, size, width) or [""]) for line in lines)
        if count * size * 1.2 <= height:
            return size
    return sizes[-1]


def _rule(canvas: Canvas, y: float) -> None:
    canvas.setLineWidth(1.2)
    canvas.line(MARGIN, y, PAGE[0] - MARGIN, y)


def _label_page(canvas: Canvas, doc: LabelDocument) -> None:
    width, height = PAGE
    inner = width - 2 * MARGIN
    top = height - MARGIN
    canvas.setFont("Helvetica-Bold", 20)
    canvas.drawString(MARGIN, top - 18, "RETURN")
    carrier = doc.carrier if not doc.dropoff_code else "Box-free drop-off"
    _lines(
        canvas,
        [carrier, doc.service],
        x=width / 2,
        y=top - 8,
        font="Helvetica-Bold",
        size=8,
        width=width / 2 - MARGIN,
    )
    _rule(canvas, top - 26)

    y = _lines(canvas, ["FROM"], x=MARGIN, y=top - 36, font="Helvetica-Bold", size=7, width=inner)
    from_size = fitting_size(
        list(doc.ship_from),
        font="Helvetica",
        width=inner * 0.62,
        height=y - (top - 92) - 4,
        sizes=(8, 7, 6, 5),
    )
    _lines(
        canvas,
        list(doc.ship_from),
        x=MARGIN,
        y=y,
        font="Helvetica",
        size=from_size,
        width=inner * 0.62,
    )
    _lines(
        canvas,
        ["WEIGHT", _weight(doc.weight_grams), "", "DATE", doc.created_at.strftime("%Y-%m-%d")],
        x=MARGIN + inner * 0.66,
        y=top - 36,
        font="Helvetica",
        size=7,
        width=inner * 0.34,
    )
    _rule(canvas, top - 92)

    y = _lines(
        canvas, ["SHIP TO"], x=MARGIN, y=top - 104, font="Helvetica-Bold", size=8, width=inner
    )
    to_size = fitting_size(
        list(doc.ship_to),
        font="Helvetica-Bold",
        width=inner * 0.72,
        height=(y - 2) - (top - 184) - 4,
        sizes=(11, 10, 9, 8, 7, 6),
    )
    _lines(
        canvas,
        list(doc.ship_to),
        x=MARGIN,
        y=y - 2,
        font="Helvetica-Bold",
        size=to_size,
        width=inner * 0.72,
    )
    box_w, box_h = inner * 0.24, 34
    box_x, box_y = width - MARGIN - box_w, top - 150
    canvas.setLineWidth(2)
    canvas.rect(box_x, box_y, box_w, box_h)
    canvas.setFont("Helvetica-Bold", 13)
    canvas.drawCentredString(box_x + box_w / 2, box_y + 12, doc.facility_code[:8])
    _rule(canvas, top - 184)

    if doc.tracking_number:
        canvas.setFont("Helvetica-Bold", 7)
        canvas.drawString(MARGIN, top - 194, "TRACKING #")
        _code128(canvas, doc.tracking_number, y=top - 246, height=46, max_bar=1.4)
        canvas.setFont("Helvetica", 9)
        canvas.drawCentredString(width / 2, top - 257, doc.tracking_number)
    elif doc.dropoff_code:
        _lines(
            canvas,
            [
                "No box or printer needed: show the QR code below at the drop-off",
                "point, with the items packed as the packing slip says.",
            ],
            x=MARGIN,
            y=top - 198,
            font="Helvetica",
            size=8,
            width=inner,
        )
    _rule(canvas, top - 264)

    canvas.setFont("Helvetica-Bold", 7)
    canvas.drawString(MARGIN, top - 274, "RETURN AUTHORIZATION (RAN)")
    _code128(canvas, doc.ran, y=top - 326, height=46, max_bar=1.4)
    # the QR sits below the Code 128 with its own quiet zone: the two must never touch
    qr_size = 80.0
    _qr(
        canvas,
        doc.dropoff_code or doc.ran,
        x=width - MARGIN - qr_size + 6,
        y=MARGIN - 6,
        size=qr_size,
    )
    y = _lines(
        canvas,
        [format_ran(doc.ran)],
        x=MARGIN,
        y=top - 346,
        font="Helvetica-Bold",
        size=15,
        width=inner - qr_size,
    )
    details = [f"{doc.merchant_name} · order {doc.order_number}"]
    if doc.dropoff_code:
        details.append(f"Drop-off code {format_dropoff_code(doc.dropoff_code)}")
    _lines(canvas, details, x=MARGIN, y=y - 2, font="Helvetica", size=7, width=inner - qr_size)


def _slip_pages(canvas: Canvas, doc: LabelDocument) -> None:
    width, height = PAGE
    inner = width - 2 * MARGIN

    def header() -> float:
        y = _lines(
            canvas,
            ["PACKING SLIP"],
            x=MARGIN,
            y=height - MARGIN - 14,
            font="Helvetica-Bold",
            size=14,
            width=inner,
        )
        return _lines(
            canvas,
            [f"{doc.merchant_name} · order {doc.order_number}", f"RAN {format_ran(doc.ran)}"],
            x=MARGIN,
            y=y,
            font="Helvetica",
            size=8,
            width=inner,
        )

    y = header() - 6
    for item in doc.items:
        needed = 40 + 10 * (len(item.accessories) + len(item.instructions) // 50)
        if y - needed < MARGIN + 50:
            canvas.showPage()
            y = header() - 6
        _rule(canvas, y + 6)
        y = _lines(
            canvas,
            [f"{item.quantity} \u00d7 {item.name}"],
            x=MARGIN,
            y=y - 6,
            font="Helvetica-Bold",
            size=10,
            width=inner,
        )
        notes = [f"SKU {item.sku} · reason: {item.reason.replace('_', ' ')}"]
        if item.accessories:
            notes.append("Include: " + ", ".join(item.accessories))
        if item.instructions:
            notes.append(item.instructions)
        y = _lines(canvas, notes, x=MARGIN, y=y, font="Helvetica", size=8, width=inner) - 4
    if doc.condition_required:
        if y < MARGIN + 60:
            canvas.showPage()
            y = header() - 6
        _rule(canvas, y + 4)
        _lines(
            canvas,
            [
                "Condition",
                doc.condition_required,
                "",
                "Put the label on the outside of the box and this slip inside.",
            ],
            x=MARGIN,
            y=y - 8,
            font="Helvetica",
            size=8,
            width=inner,
        )


def render_pdf(doc: LabelDocument) -> bytes:
    """The label (page one) and the packing slip (the pages after), each 4x6 inches."""
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=PAGE, pageCompression=1, invariant=1)
    canvas.setTitle(f"Return label {format_ran(doc.ran)}")
    canvas.setAuthor(doc.merchant_name)
    _label_page(canvas, doc)
    canvas.showPage()
    _slip_pages(canvas, doc)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


# ZPL ---------------------------------------------------------------------------------------

DOTS = 203  # a standard thermal printer: 8 dots per mm
WIDTH_DOTS = 4 * DOTS  # 812
HEIGHT_DOTS = 6 * DOTS  # 1218
ZPL_MARGIN = 24


def zpl_escape(text: str) -> str:
    """Field data under ^FH: the characters ZPL would read as commands (and the escape
    character itself) are written as _XX hex; ^CI28 makes the rest UTF-8."""
    out = []
    for char in text:
        if char in "^~_\\" or ord(char) < 32:
            out.append("".join(f"_{b:02X}" for b in char.encode()))
        else:
            out.append(char)
    return "".join(out)


def _text(
    x: int, y: int, size: int, text: str, *, width: int = 0, lines: int = 1, align: str = "L"
) -> str:
    block = f"^FB{width},{lines},0,{align},0" if width else ""
    return f"^FO{x},{y}^A0N,{size},{size}{block}^FH^FD{text}^FS"


def _block(values: list[str]) -> str:
    # \& is a line break inside ^FB; each value is escaped first, so a backslash in the data
    # cannot start one.
    return "\\&".join(zpl_escape(v) for v in values)


def _module_width(data: str) -> int:
    # Code 128 subset B: 11 modules a symbol, start and check, 13 for the stop.
    modules = (len(data) + 2) * 11 + 13
    return max(1, min(3, (WIDTH_DOTS - 2 * ZPL_MARGIN - 40) // modules))


def render_zpl(doc: LabelDocument) -> str:
    """The label page as ZPL II for a 203 dpi 4x6 thermal printer (no packing slip)."""
    m, inner = ZPL_MARGIN, WIDTH_DOTS - 2 * ZPL_MARGIN
    carrier = doc.carrier if not doc.dropoff_code else "Box-free drop-off"
    out = [
        "^XA",
        "^CI28",
        f"^PW{WIDTH_DOTS}",
        f"^LL{HEIGHT_DOTS}",
        "^LH0,0",
        _text(m, 24, 56, "RETURN"),
        _text(
            WIDTH_DOTS // 2,
            24,
            24,
            _block([carrier, doc.service]),
            width=inner // 2,
            lines=2,
            align="R",
        ),
        f"^FO{m},90^GB{inner},3,3^FS",
        _text(m, 102, 20, "FROM"),
        _text(m, 126, 22, _block(list(doc.ship_from)), width=inner * 62 // 100, lines=7),
        _text(
            m + inner * 66 // 100,
            102,
            20,
            _block(
                ["WEIGHT", _weight(doc.weight_grams), "DATE", doc.created_at.strftime("%Y-%m-%d")]
            ),
            width=inner * 34 // 100,
            lines=4,
        ),
        f"^FO{m},300^GB{inner},3,3^FS",
        _text(m, 314, 24, "SHIP TO"),
        _text(m, 344, 34, _block(list(doc.ship_to)), width=inner * 72 // 100, lines=7),
        f"^FO{WIDTH_DOTS - m - 180},344^GB180,110,4^FS",
        _text(
            WIDTH_DOTS - m - 180, 380, 44, zpl_escape(doc.facility_code[:8]), width=180, align="C"
        ),
        f"^FO{m},620^GB{inner},3,3^FS",
    ]
    if doc.tracking_number:
        data = _barcode_data(doc.tracking_number)
        out += [
            _text(m, 634, 22, "TRACKING #"),
            f"^FO{m + 20},664^BY{_module_width(data)}^BCN,120,Y,N,N,A^FD{data}^FS",
        ]
    elif doc.dropoff_code:
        out.append(
            _text(
                m,
                640,
                24,
                _block(
                    [
                        "No box or printer needed: show the QR code at the",
                        "drop-off point, packed as the packing slip says.",
                    ]
                ),
                width=inner,
                lines=2,
            )
        )
    ran = _barcode_data(doc.ran)
    qr_data = _barcode_data(doc.dropoff_code or doc.ran)
    details = [f"{doc.merchant_name} - order {doc.order_number}"]
    if doc.dropoff_code:
        details.append(f"Drop-off code {format_dropoff_code(doc.dropoff_code)}")
    out += [
        f"^FO{m},850^GB{inner},3,3^FS",
        _text(m, 864, 22, "RETURN AUTHORIZATION (RAN)"),
        f"^FO{m + 20},894^BY{_module_width(ran)}^BCN,130,N,N,N,A^FD{ran}^FS",
        _text(m, 1040, 44, zpl_escape(format_ran(doc.ran))),
        _text(m, 1094, 22, _block(details), width=inner - 220, lines=3),
        f"^FO{WIDTH_DOTS - m - 200},1036^BQN,2,6^FDMA,{qr_data}^FS",
        "^XZ",
    ]
    return "\n".join(out) + "\n"
