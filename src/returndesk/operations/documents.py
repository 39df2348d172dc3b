"""A client's monthly statement as data, CSV and PDF. Pure: no Django (billing.py builds the
statement from the recorded events; docs/decisions/0016-provider-operations.md).

Every line is one billable event, traceable to its return (RAN) and to the row that recorded
the event (`reference`: a receipt, label, inspection or disposition id). Amounts are integers
in minor units of the statement's currency; a line's amount is `quantity * unit_amount`, and
the totals are sums of lines, so the statement adds up to the cent.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from returndesk.core.money import Money

CSV_COLUMNS = (
    "date",
    "fee",
    "description",
    "ran",
    "reference",
    "facility",
    "quantity",
    "unit_price",
    "amount",
    "currency",
)


FEE_TITLES = {
    "return_processed": "Return processed",
    "label": "Label",
    "inspection": "Inspection",
    "storage_day": "Storage per day",
}


def fee_title(fee: str) -> str:
    """A fee's name in English ("disposition_return_to_vendor" -> "Disposition: return to
    vendor"); pages use their translated names instead."""
    if fee.startswith("disposition_"):
        return "Disposition: " + fee.removeprefix("disposition_").replace("_", " ")
    return FEE_TITLES.get(fee, fee)


@dataclass(frozen=True)
class StatementLine:
    at: datetime  # when the event happened (storage: the first day billed), in local time
    fee: str  # one of models.FEES
    description: str
    ran: str  # formatted
    reference: str  # the public id of the row that recorded the event
    facility: str
    quantity: int
    unit_amount: int

    @property
    def amount(self) -> int:
        return self.quantity * self.unit_amount


@dataclass(frozen=True)
class FeeTotal:
    fee: str
    lines: int
    quantity: int
    amount: int


@dataclass(frozen=True)
class Statement:
    provider: str
    merchant_slug: str
    merchant_name: str
    period: str  # YYYY-MM
    timezone: str  # the month's days are the merchant's
    currency: str
    lines: tuple[StatementLine, ...]
    fee_order: tuple[str, ...]  # how totals are listed

    @property
    def totals(self) -> list[FeeTotal]:
        by_fee: dict[str, list[StatementLine]] = {}
        for line in self.lines:
            by_fee.setdefault(line.fee, []).append(line)
        order = [fee for fee in self.fee_order if fee in by_fee]
        order += sorted(set(by_fee) - set(order))
        return [
            FeeTotal(
                fee,
                len(by_fee[fee]),
                sum(line.quantity for line in by_fee[fee]),
                sum(line.amount for line in by_fee[fee]),
            )
            for fee in order
        ]

    @property
    def total(self) -> int:
        return sum(line.amount for line in self.lines)

    def money(self, amount: int) -> Money:
        return Money(amount, self.currency)

    @property
    def filename(self) -> str:
        return f"statement-{self.merchant_slug}-{self.period}"


def render_csv(statement: Statement) -> str:
    """One row per line; prices and amounts in major units (e.g. 2.50) with the currency."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for line in statement.lines:
        writer.writerow(
            [
                line.at.isoformat(timespec="seconds"),
                line.fee,
                _safe(line.description),
                line.ran,
                line.reference,
                _safe(line.facility),
                line.quantity,
                statement.money(line.unit_amount).to_decimal(),
                statement.money(line.amount).to_decimal(),
                statement.currency,
            ]
        )
    return out.getvalue()


def _safe(text: str) -> str:
    """A cell a spreadsheet would read as a formula is quoted with a leading apostrophe."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _table(rows: Sequence[Sequence[object]], widths: Sequence[float], numeric: int) -> Table:
    table = Table(rows, colWidths=widths, repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 8),
                ("FONT", (0, 1), (-1, -1), "Helvetica", 8),
                ("LINEBELOW", (0, 0), (-1, 0), 0.6, colors.black),
                ("LINEBELOW", (0, 1), (-1, -1), 0.25, colors.lightgrey),
                ("ALIGN", (numeric, 0), (-1, -1), "RIGHT"),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    return table


def render_pdf(statement: Statement, *, fee_names: dict[str, str] | None = None) -> bytes:
    """The statement on A4 landscape pages: totals per fee, then every line."""
    names = fee_names or {fee: fee_title(fee) for fee in statement.fee_order}
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=landscape(A4),
        leftMargin=12 * mm,
        rightMargin=12 * mm,
        topMargin=12 * mm,
        bottomMargin=12 * mm,
        title=f"Statement {statement.merchant_name} {statement.period}",
        author=statement.provider,
        invariant=1,
    )
    styles = getSampleStyleSheet()
    money = statement.money
    story: list[object] = [
        Paragraph(f"{_escape(statement.provider)}: statement {statement.period}", styles["Title"]),
        Paragraph(
            f"{_escape(statement.merchant_name)} ({statement.merchant_slug}). Days in "
            f"{_escape(statement.timezone)}; amounts in {statement.currency}.",
            styles["Normal"],
        ),
        Spacer(1, 6 * mm),
    ]
    totals = [["Fee", "Lines", "Quantity", "Amount"]]
    for total in statement.totals:
        totals.append(
            [
                names.get(total.fee, total.fee),
                str(total.lines),
                str(total.quantity),
                money(total.amount).format("en"),
            ]
        )
    totals.append(["Total", "", "", money(statement.total).format("en")])
    summary = _table(totals, [90 * mm, 25 * mm, 25 * mm, 40 * mm], numeric=1)
    summary.setStyle(TableStyle([("FONT", (0, -1), (-1, -1), "Helvetica-Bold", 8)]))
    story += [summary, Spacer(1, 6 * mm)]
    if statement.lines:
        rows: list[list[object]] = [
            ["Date", "Fee", "Description", "RAN", "Reference", "Facility", "Qty", "Price", "Amount"]
        ]
        for line in statement.lines:
            rows.append(
                [
                    line.at.strftime("%Y-%m-%d %H:%M"),
                    names.get(line.fee, line.fee),
                    line.description[:60],
                    line.ran,
                    line.reference,
                    line.facility,
                    str(line.quantity),
                    money(line.unit_amount).format("en"),
                    money(line.amount).format("en"),
                ]
            )
        widths = [28, 38, 62, 28, 40, 18, 12, 22, 25]
        story.append(_table(rows, [w * mm for w in widths], numeric=6))
    else:
        story.append(Paragraph("No billable events in this month.", styles["Normal"]))
    doc.build(story)
    return buffer.getvalue()


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
