"""A merchant's SLAs with the provider and the breaches recorded against them (the same as the
`sla.breached` webhook events), read with the merchant's key. The provider sets SLAs in the
console (docs/decisions/0016-provider-operations.md)."""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router
from pydantic import BaseModel, Field

from returndesk.api.auth import merchant_context
from returndesk.api.pagination import paginate
from returndesk.api.render import json_response
from returndesk.api.schemas import PROBLEMS
from returndesk.core.codes import format_ran
from returndesk.operations.models import SLA_KINDS, ServiceLevel, SlaBreach
from returndesk.tenants import permissions as perm

router = Router(tags=["slas"])
KINDS = ", ".join(SLA_KINDS)


class SlaOut(BaseModel):
    kind: str = Field(description=f"one of {KINDS}")
    business_days: int = Field(description="of the facility handling the return")
    starts: str = Field(description="what starts the clock")
    ends: str = Field(description="what stops it")
    effective_from: datetime = Field(description="work that started earlier is not measured")


class SlaList(BaseModel):
    data: list[SlaOut]


class BreachOut(BaseModel):
    id: str
    event_id: str = Field(description="the id of the sla.breached event sent for it")
    ran: str
    kind: str = Field(description=f"one of {KINDS}")
    facility: str = Field(description="the facility's code")
    business_days: int
    started_at: datetime
    due_at: datetime
    breached_at: datetime = Field(description="the moment it was breached: its due time")
    finished_at: datetime | None = Field(description="when the late work was done; null: waiting")


class BreachPage(BaseModel):
    data: list[BreachOut]
    next_cursor: str | None


class BreachFilters(BaseModel):
    kind: str | None = Field(default=None, description=f"one of {KINDS}")
    waiting: bool | None = Field(default=None, description="true: only work still waiting")
    limit: int | None = None
    cursor: str | None = None


@router.get("/slas", response={200: SlaList, **PROBLEMS})
def slas_list(request: HttpRequest) -> HttpResponse:
    """The merchant's SLAs, each in business days of the facility that handles the return."""
    with merchant_context(request, perm.RETURNS_VIEW) as (_, merchant):
        levels = ServiceLevel.objects.filter(merchant=merchant).order_by("kind")
        data = [
            {
                "kind": level.kind,
                "business_days": level.business_days,
                "starts": SLA_KINDS[level.kind][0],
                "ends": SLA_KINDS[level.kind][1],
                "effective_from": level.effective_from,
            }
            for level in levels
        ]
    return json_response({"data": data})


@router.get("/sla-breaches", response={200: BreachPage, **PROBLEMS})
def sla_breaches_list(request: HttpRequest, filters: Query[BreachFilters]) -> HttpResponse:
    """The merchant's returns that missed an SLA, latest due first; filter by `kind` and by
    `waiting` (the late work not done yet)."""
    with merchant_context(request, perm.RETURNS_VIEW) as (_, merchant):
        found = SlaBreach.objects.filter(merchant=merchant).select_related(
            "return_request", "facility"
        )
        if filters.kind:
            found = found.filter(kind=filters.kind)
        if filters.waiting is not None:
            found = found.filter(finished_at__isnull=filters.waiting)
        rows, next_cursor = paginate(
            found,
            ordering=["-due_at", "-public_id"],
            cursor=filters.cursor,
            limit=filters.limit,
            parse=[datetime.fromisoformat, str],
        )
        data = [
            {
                "id": b.public_id,
                "event_id": b.event_id,
                "ran": format_ran(b.return_request.ran),
                "kind": b.kind,
                "facility": b.facility.code,
                "business_days": b.business_days,
                "started_at": b.started_at,
                "due_at": b.due_at,
                "breached_at": b.due_at,
                "finished_at": b.finished_at,
            }
            for b in rows
        ]
    return json_response({"data": data, "next_cursor": next_cursor})
