"""Reads for refunds: a return's settlements, refunds and adjustments; finance's lists; the
reconciliation export."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from django.db.models import Count, QuerySet

from returndesk.core.errors import NotFound
from returndesk.refunds.models import Adjustment, Exchange, Refund, Settlement
from returndesk.refunds.services import snap_order_number
from returndesk.returns.models import Return


def settlements_of(ret: Return) -> list[Settlement]:
    return list(Settlement.objects.filter(return_request=ret).order_by("number"))


def refunds_of(ret: Return) -> list[Refund]:
    return list(
        Refund.objects.filter(return_request=ret)
        .select_related("settlement", "return_request", "tender")
        .prefetch_related("attempt_rows")
        .order_by("created_at", "pk")
    )


def adjustments_of(ret: Return) -> list[Adjustment]:
    return list(Adjustment.objects.filter(return_request=ret).order_by("created_at", "pk"))


def exchanges_of(ret: Return) -> list[Exchange]:
    return list(
        Exchange.objects.filter(return_request=ret)
        .select_related("return_line")
        .order_by("created_at", "pk")
    )


def refund_get(refund_id: str) -> Refund:
    found = (
        Refund.objects.select_related("settlement", "return_request", "return_request__order")
        .prefetch_related("attempt_rows")
        .filter(public_id=refund_id)
        .first()
    )
    if found is None:
        raise NotFound(f"No refund {refund_id}.", code="refund_not_found")
    return found


def refunds_query(
    *,
    status: str | None = None,
    provider: str | None = None,
    method: str | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
) -> QuerySet[Refund]:
    qs = Refund.objects.select_related("settlement", "return_request", "return_request__order")
    if status:
        qs = qs.filter(status=status)
    if provider:
        qs = qs.filter(provider=provider)
    if method:
        qs = qs.filter(method=method)
    if created_from:
        qs = qs.filter(created_at__gte=created_from)
    if created_to:
        qs = qs.filter(created_at__lt=created_to)
    return qs


def refunds_status_counts(**filters: Any) -> dict[str, int]:
    """How many refunds of each status `refunds_query(**filters)` (without its status) finds:
    one query, for the finance list's tabs."""
    rows = refunds_query(**filters).order_by().values("status").annotate(n=Count("pk"))
    return {row["status"]: row["n"] for row in rows}


def adjustments_query(*, status: str | None = None) -> QuerySet[Adjustment]:
    qs = Adjustment.objects.select_related("return_request")
    if status:
        qs = qs.filter(status=status)
    return qs


EXPORT_COLUMNS = (
    "refund",
    "ran",
    "order_number",
    "settlement",
    "stage",
    "status",
    "kind",
    "method",
    "provider",
    "tender",
    "currency",
    "amount",
    "bonus",
    "settlement_paid",
    "settlement_deductions",
    "settlement_total",
    "deductions_detail",
    "provider_reference",
    "attempts",
    "created_at",
    "succeeded_at",
    "failed_at",
    "failure_message",
)


def _deductions_detail(calculation: dict[str, Any]) -> str:
    parts = []
    for line in calculation.get("lines", []):
        for d in line.get("deductions", []):
            parts.append(f"{line.get('sku')} {d.get('code')} {d['amount']['amount']}")
    for d in calculation.get("return_deductions", []):
        parts.append(f"return {d.get('code')} {d['amount']['amount']}")
    return "; ".join(parts)


def refunds_export_rows(qs: QuerySet[Refund]) -> Iterator[dict[str, Any]]:
    """One row per refund (a refund is one tender's part of a settlement), amounts in minor
    units; the settlement's figures repeat on each of its rows."""
    for r in qs.order_by("created_at", "pk").iterator(chunk_size=500):
        calc = r.settlement.calculation
        yield {
            "refund": r.public_id,
            "ran": r.return_request.ran,
            "order_number": snap_order_number(r.return_request),
            "settlement": r.settlement.public_id,
            "stage": r.settlement.stage,
            "status": r.status,
            "kind": r.kind,
            "method": r.method,
            "provider": r.provider,
            "tender": r.payment_reference,
            "currency": r.currency,
            "amount": r.amount,
            "bonus": r.bonus_amount,
            "settlement_paid": calc.get("paid", {}).get("amount", ""),
            "settlement_deductions": calc.get("deductions", {}).get("amount", ""),
            "settlement_total": r.settlement.total_amount,
            "deductions_detail": _deductions_detail(calc),
            "provider_reference": r.provider_reference,
            "attempts": r.attempts,
            "created_at": r.created_at.isoformat(),
            "succeeded_at": r.succeeded_at.isoformat() if r.succeeded_at else "",
            "failed_at": r.failed_at.isoformat() if r.failed_at else "",
            "failure_message": r.failure_message,
        }
