"""Historical returns: the Online Retail file's C invoices, imported as completed returns.

Each returned unit is linked to the same customer's most recent earlier purchase of the same
SKU that still has units not yet returned; one return is recorded per C invoice and linked
order. Units that cannot be linked (a guest, no earlier purchase, more units than bought) are
reported with their line numbers. Historical returns count as already returned, feed history,
risk and simulation, and write no outbox rows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from django.db import transaction
from django.db.models import Sum

from returndesk.catalog.importing import online_retail
from returndesk.catalog.importing.base import Skip
from returndesk.catalog.importing.runner import refresh_statistics
from returndesk.catalog.models import OrderLine
from returndesk.core.actors import Actor
from returndesk.core.codes import generate_ran
from returndesk.core.tenancy import merchant_scope
from returndesk.returns.lifecycle import return_event_record
from returndesk.returns.models import COMPLETED, RELEASED_STATUSES, Return, ReturnLine
from returndesk.tenants.models import Merchant

Reporter = Callable[[str, int, str, str], None]
NOT_RECORDED = "not_recorded"  # the source gives no reason for a return


@dataclass
class HistoricalSummary:
    returns_created: int = 0
    returns_unchanged: int = 0
    units_linked: int = 0
    rows_unlinked: int = 0
    rows_skipped: int = 0


def historical_returns_import(
    *,
    actor: Actor,
    merchant: Merchant,
    path: Path,
    shift_to: date | None = None,
    report: Reporter | None = None,
) -> HistoricalSummary:
    """Import the C invoices of an Online Retail file as completed returns (idempotent)."""
    summary = HistoricalSummary()

    def say(line: int, key: str, message: str) -> None:
        if report is not None:
            report("skipped", line, key, message)

    with merchant_scope(merchant):
        for event in online_retail.parse(path, shift_to=shift_to, returns=True):
            if isinstance(event, Skip):
                summary.rows_skipped += 1
                say(event.line, event.key, event.reason)
            elif isinstance(event, online_retail.ParsedReturn):
                _import_one(actor, merchant, event, summary, say)
    if summary.returns_created:
        # Thousands of new rows: refresh the planner's statistics, or the risk queries of the
        # next return scan every return line.
        refresh_statistics(("returns_return", "returns_returnline"))
    return summary


def _import_one(
    actor: Actor,
    merchant: Merchant,
    parsed: online_retail.ParsedReturn,
    summary: HistoricalSummary,
    say: Callable[[int, str, str], None],
) -> None:
    if not parsed.email:
        for line_no in parsed.source_lines:
            summary.rows_unlinked += 1
            say(line_no, parsed.invoice, "guest return: no customer to link to a purchase")
        return
    with transaction.atomic():
        existing = Return.objects.filter(
            merchant=merchant, source_reference__startswith=f"{parsed.invoice}/"
        ).count()
        if existing:
            summary.returns_unchanged += existing
            return
        skus = {line.sku for line in parsed.lines}
        candidates = list(
            OrderLine.objects.filter(
                merchant=merchant,
                order__email=parsed.email,
                sku__in=skus,
                order__placed_at__lt=parsed.returned_at,
            )
            .select_related("order")
            .order_by("-order__placed_at", "-order_id", "position")
        )
        held = {
            row["order_line_id"]: row["units"]
            for row in ReturnLine.objects.filter(order_line__in=candidates)
            .exclude(return_request__status__in=RELEASED_STATUSES)
            .values("order_line_id")
            .annotate(units=Sum("quantity"))
        }
        by_sku: dict[str, list[OrderLine]] = defaultdict(list)
        for purchase in candidates:
            by_sku[purchase.sku].append(purchase)
        # order id -> order line id -> [order line, units, value returned]; rows of one C
        # invoice that return the same purchase line become one return line.
        linked: dict[int, dict[int, list[Any]]] = defaultdict(dict)
        for line, line_no in zip(parsed.lines, parsed.source_lines, strict=True):
            wanted = line.quantity
            for bought in by_sku.get(line.sku, []):
                free = bought.quantity - held.get(bought.pk, 0)
                if free <= 0:
                    continue
                units = min(free, wanted)
                held[bought.pk] = held.get(bought.pk, 0) + units
                part = linked[bought.order_id].setdefault(bought.pk, [bought, 0, 0])
                part[1] += units
                part[2] += units * line.unit_price.amount
                wanted -= units
                if wanted == 0:
                    break
            if wanted:
                summary.rows_unlinked += 1
                why = (
                    f"{wanted} of {line.quantity} units of {line.sku} match no earlier purchase "
                    f"by customer {parsed.customer_id}"
                )
                say(line_no, parsed.invoice, why)
        for by_line in linked.values():
            parts = list(by_line.values())
            order = parts[0][0].order
            ret = Return.objects.create(
                merchant=merchant,
                ran=generate_ran(),
                order=order,
                customer_id=order.customer_id,
                email=order.email,
                status=COMPLETED,
                channel="import",
                resolution="refund",
                decision={"historical": True, "source_invoice": parsed.invoice},
                currency=order.currency,
                refund_estimate_amount=sum(value for _, _, value in parts),
                created_by_label=actor.label,
                source_reference=f"{parsed.invoice}/{order.order_number}",
            )
            ReturnLine.objects.bulk_create(
                ReturnLine(
                    merchant=merchant,
                    return_request=ret,
                    order_line=bought,
                    sku=bought.sku,
                    name=bought.name,
                    quantity=units,
                    reason=NOT_RECORDED,
                    currency=order.currency,
                    value_amount=value,
                )
                for bought, units, value in parts
            )
            # The record keeps the time the return happened, not the time of the import.
            Return.objects.filter(pk=ret.pk).update(created_at=parsed.returned_at)
            return_event_record(
                ret=ret,
                type="return.imported",
                actor=actor,
                channel="import",
                to_status=COMPLETED,
                payload={"source_invoice": parsed.invoice},
                notify=False,
            )
            summary.returns_created += 1
            summary.units_linked += sum(units for _, units, _ in parts)
