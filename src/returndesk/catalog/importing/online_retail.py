"""The UCI Online Retail file (docs/import-formats.md, "online-retail", has the rules).

An invoice is an order, a StockCode a product, each row a line whose `line_id` is its 1-based
position within its invoice in file order. Rows that are not sales of a product are skipped and
reported, never turned into orders.
"""

from __future__ import annotations

import csv
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from returndesk.catalog.importing.base import (
    BloomFilter,
    CountingReader,
    ImportFormatError,
    Note,
    ParsedOrder,
    ParseEvent,
    Skip,
    open_text,
)
from returndesk.catalog.inputs import (
    AddressInput,
    CustomerInput,
    OrderInput,
    OrderLineInput,
    TenderInput,
)
from returndesk.core.money import Money, MoneyError

CURRENCY = "GBP"
TIMEZONE = ZoneInfo("Europe/London")
COLUMNS = [
    "InvoiceNo",
    "StockCode",
    "Description",
    "Quantity",
    "InvoiceDate",
    "UnitPrice",
    "CustomerID",
    "Country",
]
EMAIL_TEMPLATE = "customer-{}@online-retail.invalid"
# Codes that are charges, fees or adjustments rather than goods.
NON_PRODUCT_CODES = frozenset(
    {"POST", "DOT", "C2", "D", "M", "S", "B", "BANK CHARGES", "AMAZONFEE", "CRUK"}
)
NON_PRODUCT_PREFIXES = ("GIFT_",)  # gift vouchers: money, not goods
COUNTRIES = {
    "Australia": "AU",
    "Austria": "AT",
    "Bahrain": "BH",
    "Belgium": "BE",
    "Brazil": "BR",
    "Canada": "CA",
    "Cyprus": "CY",
    "Czech Republic": "CZ",
    "Denmark": "DK",
    "EIRE": "IE",
    "Finland": "FI",
    "France": "FR",
    "Germany": "DE",
    "Greece": "GR",
    "Hong Kong": "HK",
    "Iceland": "IS",
    "Israel": "IL",
    "Italy": "IT",
    "Japan": "JP",
    "Lebanon": "LB",
    "Lithuania": "LT",
    "Malta": "MT",
    "Netherlands": "NL",
    "Norway": "NO",
    "Poland": "PL",
    "Portugal": "PT",
    "RSA": "ZA",
    "Saudi Arabia": "SA",
    "Singapore": "SG",
    "Spain": "ES",
    "Sweden": "SE",
    "Switzerland": "CH",
    "USA": "US",
    "United Arab Emirates": "AE",
    "United Kingdom": "GB",
    # No single ISO country: left empty.
    "Channel Islands": "",
    "European Community": "",
    "Unspecified": "",
}
# How many invoices stay open for rows that arrive out of place (the real file has one invoice
# interrupted by a few rows of another). Memory is bounded by this, not by the file.
WINDOW = 1000


@lru_cache(maxsize=4096)
def parse_local_time(text: str) -> datetime:
    """InvoiceDate is local London time to the minute: '2010-12-01 08:26' (or '12/1/2010 8:26')."""
    text = text.strip()
    if len(text) == 16 and text[4] == "-" and text[10] == " ":
        try:
            return datetime(
                int(text[0:4]), int(text[5:7]), int(text[8:10]), int(text[11:13]), int(text[14:16])
            )
        except ValueError:
            pass
    for fmt in ("%m/%d/%Y %H:%M", "%Y-%m-%d %H:%M:%S"):
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    raise ValueError(f"unreadable InvoiceDate '{text}'")


@lru_cache(maxsize=65536)
def parse_price(text: str) -> Money:
    """A UnitPrice in pounds as Money; MoneyError when finer than a penny."""
    return Money.from_decimal(text, CURRENCY)


def newest_invoice_date(path: Path) -> date:
    """The local date of the newest invoice (a first pass, for --shift-to)."""
    stream, _ = open_text(path)
    newest: datetime | None = None
    last_text = ""
    with stream:
        reader = csv.reader(stream)
        next(reader, None)
        for row in reader:
            if len(row) != len(COLUMNS):
                continue
            text = row[4]
            if text == last_text:
                continue
            last_text = text
            try:
                when = parse_local_time(text)
            except ValueError:
                continue
            if newest is None or when > newest:
                newest = when
    if newest is None:
        raise ImportFormatError("the file has no readable InvoiceDate")
    return newest.date()


@dataclass
class _Invoice:
    number: str
    first_line: int
    rows: int = 0
    local_time: datetime | None = None
    customer_id: str = ""
    country: str = ""
    lines: list[OrderLineInput] = field(default_factory=list)
    source_lines: list[int] = field(default_factory=list)
    seen_rows: set[tuple[str, ...]] = field(default_factory=set)


def _price_problem(price_text: str) -> str | None:
    try:
        price = parse_price(price_text)
    except MoneyError as exc:
        if "finer" in str(exc):
            return f"price {price_text} is finer than a penny"
        return f"unreadable price '{price_text}'"
    if price.amount <= 0:
        return f"zero or negative price {price_text}"
    return None


def _row_skip_reason(row: list[str]) -> str | None:
    invoice, code, _, quantity_text, _, price_text, _, _ = row
    if invoice.upper().startswith("C"):
        return "return invoice (C): not a sale (imported as a historical return)"
    if invoice.upper().startswith("A"):
        return "bad-debt adjustment invoice (A): not a sale"
    upper = code.strip().upper()
    if upper in NON_PRODUCT_CODES or upper.startswith(NON_PRODUCT_PREFIXES):
        return f"non-product code {code.strip()}"
    try:
        quantity = int(quantity_text)
    except ValueError:
        return f"unreadable quantity '{quantity_text}'"
    if quantity < 0:
        return f"negative quantity {quantity}"
    if quantity == 0:
        return "zero quantity"
    return _price_problem(price_text)


def _return_row_skip_reason(row: list[str]) -> str | None:
    """A row of a C invoice: a product returned, with a negative quantity and a real price."""
    code, quantity_text, price_text = row[1].strip(), row[3], row[5]
    upper = code.upper()
    if upper in NON_PRODUCT_CODES or upper.startswith(NON_PRODUCT_PREFIXES):
        return f"non-product code {code} on a return invoice"
    try:
        quantity = int(quantity_text)
    except ValueError:
        return f"unreadable quantity '{quantity_text}'"
    if quantity >= 0:
        return f"quantity {quantity} on a return invoice (returns are negative)"
    return _price_problem(price_text)


@dataclass(frozen=True)
class ParsedReturn:
    """A C invoice: units a customer sent back, to be linked to their earlier purchases."""

    invoice: str
    customer_id: str
    returned_at: datetime
    lines: tuple[OrderLineInput, ...]  # quantities positive: units returned
    source_lines: tuple[int, ...]  # the file line of each entry in `lines`
    first_line: int

    @property
    def email(self) -> str:
        return EMAIL_TEMPLATE.format(self.customer_id) if self.customer_id else ""


def _to_order(invoice: _Invoice, shift: timedelta) -> OrderInput:
    assert invoice.local_time is not None
    placed_at = (invoice.local_time + shift).replace(tzinfo=TIMEZONE)
    total = sum(line.unit_price.amount * line.quantity for line in invoice.lines)
    customer = (
        CustomerInput(
            email=EMAIL_TEMPLATE.format(invoice.customer_id), external_id=invoice.customer_id
        )
        if invoice.customer_id
        else CustomerInput()
    )
    return OrderInput(
        order_number=invoice.number,
        placed_at=placed_at,
        currency=CURRENCY,
        lines=tuple(invoice.lines),
        customer=customer,
        shipping_address=AddressInput(country=COUNTRIES.get(invoice.country, "")),
        tenders=(TenderInput("other", Money(total, CURRENCY)),) if total > 0 else (),
        source="import",
    )


def _customer_id(raw: str) -> str:
    raw = raw.strip()
    if raw.endswith(".0"):
        raw = raw[:-2]
    return raw


def parse(
    path: Path,
    *,
    shift_to: date | None = None,
    counter: list[CountingReader] | None = None,
    returns: bool = False,
) -> Iterator[ParseEvent | ParsedReturn]:
    """Stream the file as orders, skips (with line numbers) and notes; or, with `returns`, as
    the C invoices (historical returns) and their own skips."""
    shift = timedelta(0)
    if shift_to is not None:
        shift = timedelta(days=(shift_to - newest_invoice_date(path)).days)
    stream, bytes_counter = open_text(path)
    if counter is not None:
        counter.append(bytes_counter)
    with stream:
        reader = csv.reader(stream)
        header = next(reader, None)
        if header is None or [h.strip() for h in header] != COLUMNS:
            raise ImportFormatError(
                f"expected the Online Retail header {','.join(COLUMNS)}; found "
                f"{','.join(header or [])!r}"
            )
        open_invoices: OrderedDict[str, _Invoice] = OrderedDict()
        # Invoices already emitted, to refuse one that reappears: fixed memory, any file size.
        closed = BloomFilter()

        def close_oldest() -> Iterator[ParseEvent | ParsedReturn]:
            _, invoice = open_invoices.popitem(last=False)
            closed.add(invoice.number)
            if invoice.lines and returns:
                assert invoice.local_time is not None
                yield ParsedReturn(
                    invoice=invoice.number,
                    customer_id=invoice.customer_id,
                    returned_at=(invoice.local_time + shift).replace(tzinfo=TIMEZONE),
                    lines=tuple(invoice.lines),
                    source_lines=tuple(invoice.source_lines),
                    first_line=invoice.first_line,
                )
            elif invoice.lines:
                yield ParsedOrder(_to_order(invoice, shift), invoice.first_line)

        line_no = 1
        for row in reader:
            line_no += 1
            if len(row) != len(COLUMNS):
                if not returns:  # reported once, by the orders pass
                    yield Skip(line_no, f"expected {len(COLUMNS)} columns, found {len(row)}")
                continue
            number = row[0].strip()
            if not number:
                if not returns:
                    yield Skip(line_no, "no InvoiceNo")
                continue
            if returns and not number.upper().startswith("C"):
                continue  # the orders pass reads these
            invoice = open_invoices.get(number)
            if invoice is None:
                if number in closed:
                    yield Skip(
                        line_no,
                        f"invoice {number} reappears after its rows ended; "
                        "rows of one invoice must be close together",
                        number,
                    )
                    continue
                invoice = _Invoice(number, line_no)
                open_invoices[number] = invoice
                if len(open_invoices) > WINDOW:
                    yield from close_oldest()
            invoice.rows += 1
            position = invoice.rows
            reason = _return_row_skip_reason(row) if returns else _row_skip_reason(row)
            if reason is None:
                try:
                    local_time = parse_local_time(row[4])
                except ValueError as exc:
                    reason = str(exc)
            if reason is not None:
                yield Skip(line_no, reason, number)
                continue
            key = tuple(row)
            if key in invoice.seen_rows and not returns:
                yield Note(
                    line_no, "exact duplicate of an earlier row: kept as its own line", number
                )
            invoice.seen_rows.add(key)
            if invoice.local_time is None:
                invoice.local_time = local_time
                invoice.customer_id = _customer_id(row[6])
                invoice.country = row[7].strip()
            invoice.lines.append(
                OrderLineInput(
                    line_id=str(position),
                    sku=row[1].strip(),
                    quantity=-int(row[3]) if returns else int(row[3]),
                    unit_price=parse_price(row[5]),
                    product_name=row[2].strip() or row[1].strip(),
                )
            )
            invoice.source_lines.append(line_no)
        while open_invoices:
            yield from close_oldest()
