"""The generic import formats (docs/import-formats.md).

- `jsonl`: one order per line, the body of `PUT /orders/{order_number}` plus `order_number`.
- `csv`: one order line per row; order fields repeat on each row of the order, and the rows of
  one order are consecutive. Money columns are decimal amounts in major units ("12.50").
  `--map field=Header` maps a field to a differently named column.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from pydantic import ValidationError

from returndesk.catalog.importing.base import (
    CountingReader,
    ImportFormatError,
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
from returndesk.catalog.schemas import OrderBulkItem
from returndesk.core.money import Money, MoneyError

CSV_FIELDS = (
    "order_number",
    "placed_at",
    "delivered_at",
    "currency",
    "email",
    "customer_name",
    "customer_phone",
    "customer_external_id",
    "ship_name",
    "ship_line1",
    "ship_line2",
    "ship_city",
    "ship_region",
    "ship_postal_code",
    "ship_country",
    "tax_included",
    "shipping_total",
    "order_discount_total",
    "line_id",
    "sku",
    "quantity",
    "unit_price",
    "discount",
    "tax",
    "serial_numbers",
    "tender_method",
    "tender_amount",
    "tender_reference",
    "tender_provider",
)
CSV_REQUIRED = ("order_number", "placed_at", "line_id", "sku", "quantity", "unit_price")


def _pydantic_reason(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"])
        parts.append(f"{where}: {error['msg']}" if where else error["msg"])
    return "; ".join(parts)


def parse_jsonl(path: Path, *, counter: list[CountingReader] | None = None) -> Iterator[ParseEvent]:
    stream, bytes_counter = open_text(path)
    if counter is not None:
        counter.append(bytes_counter)
    with stream:
        for line_no, text in enumerate(stream, start=1):
            if not text.strip():
                continue
            try:
                raw = json.loads(text)
            except json.JSONDecodeError as exc:
                yield Skip(line_no, f"malformed JSON: {exc.msg} at column {exc.colno}")
                continue
            try:
                item = OrderBulkItem.model_validate(raw)
            except ValidationError as exc:
                key = raw.get("order_number", "") if isinstance(raw, dict) else ""
                yield Skip(line_no, _pydantic_reason(exc), str(key))
                continue
            yield ParsedOrder(item.to_input(item.order_number, source="import"), line_no)


class _RowError(ValueError):
    pass


def _parse_time(text: str, name: str) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise _RowError(f"{name}: '{text}' is not an ISO 8601 time") from None
    if value.tzinfo is None:
        raise _RowError(f"{name}: '{text}' needs a time zone offset")
    return value


def _money(text: str, currency: str, name: str) -> Money | None:
    if not text:
        return None
    try:
        return Money.from_decimal(text, currency)
    except MoneyError as exc:
        raise _RowError(f"{name}: {exc}") from None


def _bool(text: str, name: str) -> bool:
    lowered = text.strip().lower()
    if lowered in {"", "0", "false", "no"}:
        return False
    if lowered in {"1", "true", "yes"}:
        return True
    raise _RowError(f"{name}: '{text}' is not true or false")


def parse_csv(
    path: Path,
    *,
    default_currency: str,
    mapping: dict[str, str] | None = None,
    counter: list[CountingReader] | None = None,
) -> Iterator[ParseEvent]:
    mapping = mapping or {}
    unknown = sorted(set(mapping) - set(CSV_FIELDS))
    if unknown:
        raise ImportFormatError(f"--map names unknown fields: {', '.join(unknown)}")
    stream, bytes_counter = open_text(path)
    if counter is not None:
        counter.append(bytes_counter)
    with stream:
        reader = csv.reader(stream)
        header = [h.strip() for h in next(reader, [])]
        columns = {name: mapping.get(name, name) for name in CSV_FIELDS}
        missing = [columns[f] for f in CSV_REQUIRED if columns[f] not in header]
        if missing:
            raise ImportFormatError(f"the CSV header lacks required columns: {', '.join(missing)}")
        index = {name: header.index(col) for name, col in columns.items() if col in header}

        current: list[tuple[int, dict[str, str]]] = []
        line_no = 1
        for row in reader:
            line_no += 1
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                yield Skip(line_no, f"expected {len(header)} columns, found {len(row)}")
                continue
            values = {name: row[i].strip() for name, i in index.items()}
            if current and current[0][1]["order_number"] != values["order_number"]:
                yield from _csv_order(current, default_currency)
                current = []
            current.append((line_no, values))
        if current:
            yield from _csv_order(current, default_currency)


def _csv_order(
    rows: list[tuple[int, dict[str, str]]], default_currency: str
) -> Iterator[ParseEvent]:
    first_line, first = rows[0]
    number = first["order_number"]
    try:
        currency = first.get("currency") or default_currency
        placed_at = _parse_time(first["placed_at"], "placed_at")
        if placed_at is None:
            raise _RowError("placed_at is required")
        lines = []
        for line_no, values in rows:
            try:
                quantity = int(values["quantity"])
            except ValueError:
                raise _RowError(
                    f"line {line_no}: quantity '{values['quantity']}' is not a whole number"
                ) from None
            unit_price = _money(values["unit_price"], currency, f"line {line_no}: unit_price")
            if unit_price is None:
                raise _RowError(f"line {line_no}: unit_price is required")
            serials = values.get("serial_numbers", "")
            lines.append(
                OrderLineInput(
                    line_id=values["line_id"],
                    sku=values["sku"],
                    quantity=quantity,
                    unit_price=unit_price,
                    discount=_money(
                        values.get("discount", ""), currency, f"line {line_no}: discount"
                    ),
                    tax=_money(values.get("tax", ""), currency, f"line {line_no}: tax"),
                    serial_numbers=tuple(s.strip() for s in serials.split(";") if s.strip()),
                )
            )
        tenders: tuple[TenderInput, ...] = ()
        tender_amount = _money(first.get("tender_amount", ""), currency, "tender_amount")
        if tender_amount is not None:
            tenders = (
                TenderInput(
                    first.get("tender_method") or "other",
                    tender_amount,
                    first.get("tender_reference", ""),
                    first.get("tender_provider", ""),
                ),
            )
        order = OrderInput(
            order_number=number,
            placed_at=placed_at,
            delivered_at=_parse_time(first.get("delivered_at", ""), "delivered_at"),
            currency=currency,
            lines=tuple(lines),
            customer=CustomerInput(
                email=first.get("email", ""),
                name=first.get("customer_name", ""),
                phone=first.get("customer_phone", ""),
                external_id=first.get("customer_external_id", ""),
            ),
            shipping_address=AddressInput(
                name=first.get("ship_name", ""),
                line1=first.get("ship_line1", ""),
                line2=first.get("ship_line2", ""),
                city=first.get("ship_city", ""),
                region=first.get("ship_region", ""),
                postal_code=first.get("ship_postal_code", ""),
                country=first.get("ship_country", ""),
            ),
            tax_included=_bool(first.get("tax_included", ""), "tax_included"),
            shipping_total=_money(first.get("shipping_total", ""), currency, "shipping_total"),
            order_discount_total=_money(
                first.get("order_discount_total", ""), currency, "order_discount_total"
            ),
            tenders=tenders,
            source="import",
        )
    except (_RowError, MoneyError) as exc:
        yield Skip(first_line, f"order {number}: {exc}", number)
        return
    yield ParsedOrder(order, first_line)
