"""Loading recorded returns as simulation cases: a handful of queries whatever the count."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from returndesk.catalog.models import Order, OrderLine, Product
from returndesk.catalog.services import paid_total
from returndesk.core.codes import format_ran
from returndesk.policies.engine import (
    CustomerHistory,
    LineSnapshot,
    OrderSnapshot,
    RequestLine,
    ReturnRequest,
)
from returndesk.policies.selectors import policy_current
from returndesk.policies.services import policy_document, policy_parse
from returndesk.policies.simulation import SimulationCase, simulate
from returndesk.returns.models import RELEASED_STATUSES, Return, ReturnLine
from returndesk.tenants.models import Merchant


def simulation_cases(
    *, merchant: Merchant, date_from: datetime | None, date_to: datetime | None
) -> list[SimulationCase]:
    """Every recorded return of the period, as the engine saw (or would have seen) it: the
    order's total and the returned lines, each with what earlier returns held of it."""
    returns = Return.objects.filter(merchant=merchant, order__isnull=False)
    if date_from:
        returns = returns.filter(created_at__gte=date_from)
    if date_to:
        returns = returns.filter(created_at__lt=date_to)
    rows = list(
        returns.order_by("created_at", "pk").values(
            "pk", "ran", "order_id", "resolution", "created_at", "risk_score"
        )
    )
    order_ids = {row["order_id"] for row in rows}
    return_lines: dict[int, list[Any]] = defaultdict(list)
    # Units each order line gave to returns, in the order the returns were made.
    held_by: dict[int, list[tuple[datetime, int, int]]] = defaultdict(list)
    for line in (
        ReturnLine.objects.filter(merchant=merchant, return_request__order_id__in=order_ids)
        .exclude(return_request__status__in=RELEASED_STATUSES)
        .values(
            "return_request_id",
            "order_line_id",
            "quantity",
            "reason",
            "return_request__created_at",
        )
    ):
        return_lines[line["return_request_id"]].append(line)
        held_by[line["order_line_id"]].append(
            (line["return_request__created_at"], line["return_request_id"], line["quantity"])
        )
    # What each order was paid: its total needs every line, its snapshot only the returned ones.
    paid_lines: dict[int, list[tuple[int, int, int, int]]] = defaultdict(list)
    for order_id, *figures in OrderLine.objects.filter(
        merchant=merchant, order_id__in=order_ids
    ).values_list("order_id", "unit_price_amount", "quantity", "discount_amount", "tax_amount"):
        paid_lines[order_id].append(tuple(figures))  # type: ignore[arg-type]
    orders = {
        o["pk"]: o
        for o in Order.objects.filter(merchant=merchant, pk__in=order_ids).values(
            "pk",
            "order_number",
            "currency",
            "placed_at",
            "delivered_at",
            "ship_country",
            "tax_included",
            "shipping_total_amount",
            "order_discount_total_amount",
        )
    }
    totals = {
        pk: paid_total(
            paid_lines[pk],
            tax_included=o["tax_included"],
            shipping=o["shipping_total_amount"],
            order_discount=o["order_discount_total_amount"],
        )
        for pk, o in orders.items()
    }
    returned_ids = {line["order_line_id"] for lines in return_lines.values() for line in lines}
    order_lines = {
        ol["pk"]: ol
        for ol in OrderLine.objects.filter(merchant=merchant, pk__in=returned_ids).values(
            "pk",
            "line_id",
            "sku",
            "name",
            "quantity",
            "unit_price_amount",
            "discount_amount",
            "tax_amount",
            "product_id",
        )
    }
    products = {
        p["pk"]: p
        for p in Product.objects.filter(
            merchant=merchant, pk__in={ol["product_id"] for ol in order_lines.values()}
        ).values("pk", "category", "returnable", "final_sale")
    }
    cases = []
    for row in rows:
        requested = return_lines[row["pk"]]
        if not requested:
            continue
        o = orders[row["order_id"]]
        mark = (row["created_at"], row["pk"])
        snapshot_lines = []
        for rl in requested:
            li = order_lines[rl["order_line_id"]]
            product = products[li["product_id"]]
            snapshot_lines.append(
                LineSnapshot(
                    line_id=li["line_id"],
                    sku=li["sku"],
                    name=li["name"],
                    category=product["category"],
                    quantity=li["quantity"],
                    unit_price=li["unit_price_amount"],
                    discount=li["discount_amount"],
                    tax=li["tax_amount"],
                    returnable=product["returnable"],
                    final_sale=product["final_sale"],
                    # what returns made before this one held of the line
                    already_returned=sum(
                        units
                        for at, return_id, units in held_by[li["pk"]]
                        if (at, return_id) < mark
                    ),
                )
            )
        cases.append(
            SimulationCase(
                ref=format_ran(row["ran"]),
                order=OrderSnapshot(
                    order_number=o["order_number"],
                    currency=o["currency"],
                    placed_at=o["placed_at"],
                    delivered_at=o["delivered_at"],
                    ship_country=o["ship_country"],
                    tax_included=o["tax_included"],
                    total=totals[o["pk"]],
                    lines=tuple(snapshot_lines),
                ),
                request=ReturnRequest(
                    lines=tuple(
                        RequestLine(
                            line_id=order_lines[rl["order_line_id"]]["line_id"],
                            quantity=rl["quantity"],
                            reason=rl["reason"],
                            has_photo=True,  # photos were given where they were asked for
                        )
                        for rl in requested
                    ),
                    resolution=row["resolution"],
                ),
                history=CustomerHistory(risk_score=row["risk_score"]),
                requested_at=row["created_at"],
            )
        )
    return cases


def policy_simulate(
    *,
    merchant: Merchant,
    draft_document: Any,
    date_from: datetime | None = None,
    date_to: datetime | None = None,
) -> dict[str, Any]:
    """Replay the period's recorded returns under a draft policy next to the current one."""
    draft = policy_parse(draft_document)
    current_version = policy_current(merchant=merchant)
    current = policy_document(current_version)
    cases = simulation_cases(merchant=merchant, date_from=date_from, date_to=date_to)
    report = simulate(
        current=current,
        draft=draft,
        cases=cases,
        timezone=merchant.timezone,
        currency=merchant.currency,
    )
    return {"current_version": current_version.version, **report}
