"""The inventory ledger, read: balances per facility, SKU and condition, and one tagged unit by
its LPN (warehouse/inventory.py). A provider key reads the stock at its facilities, of the
merchants they serve; a merchant key reads its own stock wherever it is. Anyone else's unit is
404, exactly as an unknown LPN."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router
from pydantic import BaseModel, Field

from returndesk.api.auth import principal_of
from returndesk.api.inspections import disposition_out
from returndesk.api.pagination import paginate
from returndesk.api.render import json_response
from returndesk.api.schemas import PROBLEMS
from returndesk.core.codes import format_ran
from returndesk.core.errors import PermissionDenied
from returndesk.tenants import permissions as perm
from returndesk.tenants.selectors import Principal
from returndesk.warehouse import inventory
from returndesk.warehouse.models import CONDITIONS

router = Router(tags=["inventory"])


class BalanceOut(BaseModel):
    facility: str = Field(description="the facility's code")
    merchant: str = Field(description="the merchant's slug (whose stock it is)")
    sku: str
    condition: str = Field(description=f"one of {', '.join(CONDITIONS)}")
    quantity: int


class BalancePage(BaseModel):
    data: list[BalanceOut]
    next_cursor: str | None


class BalanceFilters(BaseModel):
    facility: str | None = Field(default=None, max_length=20, description="a facility's code")
    sku: str | None = Field(default=None, max_length=64)
    condition: str | None = Field(default=None, description=f"one of {', '.join(CONDITIONS)}")
    limit: int | None = None
    cursor: str | None = None


class MovementOut(BaseModel):
    id: str
    facility: str
    condition: str
    quantity: int = Field(description="+1 into the condition, -1 out of it")
    kind: str = Field(description="disposition or move")
    note: str
    at: datetime
    by: str


class TaggedUnitOut(BaseModel):
    lpn: str
    ran: str
    sku: str
    condition: str = Field(description="where the unit is now")
    facility: str
    merchant: str
    disposition: dict[str, Any] = Field(
        description="how the unit was dispositioned (as the return's dispositions show it)"
    )
    movements: list[MovementOut]


def _reach(principal: Principal) -> tuple[frozenset[int], frozenset[int] | None]:
    """(merchant ids, facility ids or None for anywhere) whose stock this credential reads."""
    if not principal.can(perm.INVENTORY_VIEW):
        raise PermissionDenied("This credential may not read the inventory.")
    if principal.merchant is not None:
        return frozenset({principal.merchant.pk}), None
    return principal.merchant_ids, principal.facility_ids


@router.get("/inventory", response={200: BalancePage, **PROBLEMS})
def inventory_balances(request: HttpRequest, filters: Query[BalanceFilters]) -> HttpResponse:
    """Units per facility, merchant, SKU and condition, summed from the ledger (zero balances
    left out), ordered by facility, merchant, SKU and condition; filter by `facility`, `sku`
    and `condition`."""
    merchant_ids, facility_ids = _reach(principal_of(request))
    rows, next_cursor = paginate(
        inventory.balance_rows(
            merchant_ids=merchant_ids,
            facility_ids=facility_ids,
            facility_code=filters.facility or "",
            sku=filters.sku or "",
            condition=filters.condition or "",
        ),
        ordering=inventory.BALANCE_ORDER,
        cursor=filters.cursor,
        limit=filters.limit,
        parse=[str, str, str, str],
    )
    data = [
        {
            "facility": row["facility__code"],
            "merchant": row["merchant__slug"],
            "sku": row["sku"],
            "condition": row["condition"],
            "quantity": row["quantity"],
        }
        for row in rows
    ]
    return json_response({"data": data, "next_cursor": next_cursor})


@router.get("/inventory/items/{lpn}", response={200: TaggedUnitOut, **PROBLEMS})
def inventory_item(request: HttpRequest, lpn: str) -> HttpResponse:
    """One unit by the LPN on its item tag: its disposition, the return (RAN), SKU, the
    condition it is in now, the facility, and every movement of the ledger."""
    merchant_ids, facility_ids = _reach(principal_of(request))
    unit = inventory.tagged_unit(lpn=lpn, merchant_ids=merchant_ids, facility_ids=facility_ids)
    found = unit.disposition
    ret = found.return_request
    return json_response(
        {
            "lpn": found.lpn,
            "ran": format_ran(ret.ran),
            "sku": found.sku,
            "condition": unit.condition,
            "facility": found.facility.code,
            "merchant": found.merchant.slug,
            "disposition": disposition_out(found, ret, found.inspection.receipt_line),
            "movements": [
                {
                    "id": movement.public_id,
                    "facility": movement.facility.code,
                    "condition": movement.condition,
                    "quantity": movement.quantity,
                    "kind": movement.kind,
                    "note": movement.note,
                    "at": movement.created_at,
                    "by": movement.moved_by_label,
                }
                for movement in unit.movements
            ],
        }
    )
