"""Loading recorded returns as simulation cases: a handful of queries whatever the count."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from returndesk.catalog.models import OrderLine, Product
from returndesk.catalog.services import paid_total
from returndesk.core.codes import format_ran
from returndesk.policies.document import PolicyDocument
from returndesk.policies.engine import (
    CustomerHistory,
    LineSnapshot,
    OrderSnapshot,
    RequestLine,
    ReturnRequest,
)
from returndesk.policies.selectors import policy_current
from returndesk.policies.services import policy_parse
from returndesk.policies.simulation import SimulationCase, simulate
from returndesk.returns.models import RELEASED_STATUSES, Return, ReturnLine
from returndesk.tenants.models import Merchant


def simulation_cases(
    *, merchant: Merchant, date_from: datetime | None, date_to: datetime | None
) -> list[SimulationCase]:
    """Every recorded return of the period, as the engine saw (or would have seen) it."""
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
    order_lines: dict[int, list[Any]] = defaultdict(list)
    for ol in (
        OrderLine.objects.filter(merchant=merchant, order_id__in=order_ids)
        .order_by("order_id", "position")
        .values(
            "pk",
            "order_id",
            "line_id",
            "sku",
            "name",
            "quantity",
            "unit_price_amount",
            "discount_amount",
            "tax_amount",
            "product_id",
            "order__order_number",
            "order__currency",
            "order__placed_at",
            "order__delivered_at",
            "order__ship_country",
            "order__tax_included",
            "order__shipping_total_amount",
            "order__order_discount_total_amount",
        )
    ):
        order_lines[ol["order_id"]].append(ol)
    products = {
        p["pk"]: p
        for p in Product.objects.filter(merchant=merchant).values(
            "pk", "category", "returnable", "final_sale"
        )
    }
    cases = []
    for row in rows:
        lines = order_lines[row["order_id"]]
        if not lines:
            continue
        first = lines[0]

        def held_before(order_line_id: int, row: Any = row) -> int:
            return sum(
                units
                for at, return_id, units in held_by[order_line_id]
                if (at, return_id) < (row["created_at"], row["pk"])
            )

        order = OrderSnapshot(
            order_number=first["order__order_number"],
            currency=first["order__currency"],
            placed_at=first["order__placed_at"],
            delivered_at=first["order__delivered_at"],
            ship_country=first["order__ship_country"],
            tax_included=first["order__tax_included"],
            total=paid_total(
                (
                    (
                        li["unit_price_amount"],
                        li["quantity"],
                        li["discount_amount"],
                        li["tax_amount"],
                    )
                    for li in lines
                ),
                tax_included=first["order__tax_included"],
                shipping=first["order__shipping_total_amount"],
                order_discount=first["order__order_discount_total_amount"],
            ),
            lines=tuple(
                LineSnapshot(
                    line_id=li["line_id"],
                    sku=li["sku"],
                    name=li["name"],
                    category=products[li["product_id"]]["category"],
                    quantity=li["quantity"],
                    unit_price=li["unit_price_amount"],
                    discount=li["discount_amount"],
                    tax=li["tax_amount"],
                    returnable=products[li["product_id"]]["returnable"],
                    final_sale=products[li["product_id"]]["final_sale"],
                    already_returned=held_before(li["pk"]),
                )
                for li in lines
            ),
        )
        line_ids = {li["pk"]: li["line_id"] for li in lines}
        request = ReturnRequest(
            lines=tuple(
                RequestLine(
                    line_id=line_ids[rl["order_line_id"]],
                    quantity=rl["quantity"],
                    reason=rl["reason"],
                    has_photo=True,  # photos were given where they were asked for
                )
                for rl in return_lines[row["pk"]]
            ),
            resolution=row["resolution"],
        )
        if not request.lines:
            continue
        cases.append(
            SimulationCase(
                ref=format_ran(row["ran"]),
                order=order,
                request=request,
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
    current = PolicyDocument.model_validate(current_version.document)
    cases = simulation_cases(merchant=merchant, date_from=date_from, date_to=date_to)
    report = simulate(
        current=current,
        draft=draft,
        cases=cases,
        timezone=merchant.timezone,
        currency=merchant.currency,
    )
    return {"current_version": current_version.version, **report}
