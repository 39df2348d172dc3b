"""Runs an import: parse, validate, write in batches, report.

The writer is chosen by the database: on PostgreSQL, COPY into staging tables and a set-based
upsert in one transaction (`pg.PgStagingWriter`); elsewhere, batches of orders through
`orders_upsert`, each batch in its own transaction. Both give the same rows and the same counts.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Protocol, cast

from django.db import connection

from returndesk.catalog.importing import generic, online_retail
from returndesk.catalog.importing.base import (
    CountingReader,
    ImportFormatError,
    Note,
    ParsedOrder,
    ParseEvent,
    Skip,
)
from returndesk.catalog.inputs import OrderInput
from returndesk.catalog.models import Product
from returndesk.catalog.services import (
    CREATED,
    UNCHANGED,
    UPDATED,
    order_validate,
    orders_upsert,
)
from returndesk.core.actors import Actor
from returndesk.core.tenancy import merchant_scope
from returndesk.tenants.models import Merchant

FORMATS = ("csv", "jsonl", "online-retail")
BATCH_SIZE = 500

# (kind, line, key, message): kind is "skipped" or "note".
Reporter = Callable[[str, int, str, str], None]


@dataclass
class ImportSummary:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped_rows: int = 0
    failed_orders: int = 0
    notes: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    engine: str = ""

    def count(self, reason: str) -> None:
        # Reasons group without their figures ("negative quantity -2" and "-5" count together).
        label = re.sub(
            r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w])",
            "N",
            reason.split(": ")[0] if ": " in reason else reason,
        )
        self.reasons[label] = self.reasons.get(label, 0) + 1


def _events(
    merchant: Merchant,
    path: Path,
    fmt: str,
    shift_to: date | None,
    mapping: dict[str, str] | None,
    counter: list[CountingReader],
) -> Iterator[ParseEvent]:
    if fmt == "online-retail":
        if merchant.currency != online_retail.CURRENCY:
            raise ImportFormatError(
                f"the Online Retail file is in GBP; merchant '{merchant.slug}' works in "
                f"{merchant.currency}"
            )
        # Without `returns` the reader yields no ParsedReturn.
        return cast(
            Iterator[ParseEvent], online_retail.parse(path, shift_to=shift_to, counter=counter)
        )
    if shift_to is not None:
        raise ImportFormatError("--shift-to applies to the online-retail format only")
    if fmt == "jsonl":
        return generic.parse_jsonl(path, counter=counter)
    if fmt == "csv":
        return generic.parse_csv(
            path, default_currency=merchant.currency, mapping=mapping, counter=counter
        )
    raise ImportFormatError(f"unknown format '{fmt}': use one of {', '.join(FORMATS)}")


def import_orders(
    *,
    actor: Actor,
    merchant: Merchant,
    path: Path,
    fmt: str,
    shift_to: date | None = None,
    mapping: dict[str, str] | None = None,
    report: Reporter | None = None,
    progress: Callable[[int], None] | None = None,
    fast_path: bool | None = None,
) -> ImportSummary:
    """Import a file of orders for a merchant; answers the counts. Bad rows go to `report`."""
    if not path.is_file():
        raise ImportFormatError(f"no such file: {path}")
    allow_new_products = fmt == "online-retail"
    summary = ImportSummary()

    def say(kind: str, line: int, key: str, message: str) -> None:
        if report is not None:
            report(kind, line, key, message)

    counter: list[CountingReader] = []
    if fast_path is None:
        fast_path = connection.vendor == "postgresql"
    with merchant_scope(merchant):
        events = _events(merchant, path, fmt, shift_to, mapping, counter)
        # Read before the fast path opens its COPY: the connection serves nothing else then.
        known_skus = (
            set()
            if allow_new_products or not fast_path
            else set(Product.objects.filter(merchant=merchant).values_list("sku", flat=True))
        )
        if fast_path:
            from returndesk.catalog.importing.pg import PgStagingWriter

            summary.engine = "postgresql-copy"
            writer: _Writer = PgStagingWriter(merchant, allow_new_products)
        else:
            summary.engine = "orm-batches"
            writer = _OrmWriter(actor, merchant, allow_new_products)
        batch: list[tuple[OrderInput, int]] = []
        numbers: set[str] = set()

        def flush() -> None:
            for outcome, line, number, errors in writer.write(batch):
                if outcome == "failed":
                    summary.failed_orders += 1
                    for error in errors:
                        summary.count(error)
                        say("skipped", line, number, f"order {number}: {error}")
            batch.clear()
            numbers.clear()

        last_bytes = 0
        try:
            for event in events:
                if isinstance(event, Skip):
                    summary.skipped_rows += 1
                    summary.count(event.reason)
                    say("skipped", event.line, event.key, event.reason)
                elif isinstance(event, Note):
                    summary.notes += 1
                    say("note", event.line, event.key, event.message)
                elif isinstance(event, ParsedOrder):
                    if fast_path:
                        errors = order_validate(
                            merchant,
                            event.order,
                            known_skus=known_skus,
                            allow_new_products=allow_new_products,
                        )
                        if errors:
                            summary.failed_orders += 1
                            for error in errors:
                                message = f"{error.field}: {error.message}"
                                summary.count(message)
                                say("skipped", event.first_line, event.order.order_number, message)
                            continue
                    if event.order.order_number in numbers:
                        flush()  # a later record of the same order wins: write the earlier first
                    batch.append((event.order, event.first_line))
                    numbers.add(event.order.order_number)
                    if len(batch) >= BATCH_SIZE:
                        flush()
                if progress is not None and counter and counter[0].bytes_read != last_bytes:
                    last_bytes = counter[0].bytes_read
                    progress(last_bytes)
            if batch:
                flush()
        except BaseException:
            writer.abort()
            raise
        created, updated, unchanged = writer.finish()
        summary.created, summary.updated, summary.unchanged = created, updated, unchanged
    if created:
        # A bulk load leaves the planner's statistics far behind: PostgreSQL and SQLite both
        # then scan a whole merchant's lines to find one customer's purchase.
        refresh_statistics(CATALOG_TABLES)
    return summary


CATALOG_TABLES = (
    "catalog_customer",
    "catalog_product",
    "catalog_order",
    "catalog_orderline",
    "catalog_tender",
)


def refresh_statistics(tables: tuple[str, ...]) -> None:
    """ANALYZE after a bulk load, on either engine."""
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"ANALYZE {table}")


class _Writer(Protocol):
    def write(self, batch: list[tuple[OrderInput, int]]) -> list[tuple[str, int, str, list[str]]]:
        """Stage or write a batch; answers the orders refused, with their messages."""
        ...

    def finish(self) -> tuple[int, int, int]:
        """Complete the import; answers (created, updated, unchanged)."""
        ...

    def abort(self) -> None:
        """Undo what is not yet committed."""
        ...


class _OrmWriter:
    def __init__(self, actor: Actor, merchant: Merchant, allow_new_products: bool) -> None:
        self.actor = actor
        self.merchant = merchant
        self.allow_new_products = allow_new_products
        self.counts = {CREATED: 0, UPDATED: 0, UNCHANGED: 0}

    def write(self, batch: list[tuple[OrderInput, int]]) -> list[tuple[str, int, str, list[str]]]:
        results = orders_upsert(
            actor=self.actor,
            merchant=self.merchant,
            orders=[order for order, _ in batch],
            allow_new_products=self.allow_new_products,
        )
        failed = []
        for (order, line), result in zip(batch, results, strict=True):
            if result.errors:
                # Batch field names say orders[i]; the report names the order instead.
                messages = [
                    f"{e.field.split('.', 1)[-1] if e.field.startswith('orders[') else e.field}: "
                    f"{e.message}"
                    for e in result.errors
                ]
                failed.append(("failed", line, order.order_number, messages))
            else:
                self.counts[result.outcome] += 1
        return failed

    def finish(self) -> tuple[int, int, int]:
        return self.counts[CREATED], self.counts[UPDATED], self.counts[UNCHANGED]

    def abort(self) -> None:
        """Each batch committed on its own; nothing is pending."""
