"""A merchant's carrier settings and facility routing (the console's Admin > Shipping page,
for the merchant's own tools)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Router
from pydantic import BaseModel, Field

from returndesk.api.auth import merchant_context
from returndesk.api.render import json_response, money
from returndesk.api.schemas import PROBLEMS, MoneyOut
from returndesk.shipping import selectors, services
from returndesk.shipping.models import CarrierSettings, FacilityRoute
from returndesk.tenants import permissions as perm

router = Router(tags=["shipping"])


class CarrierSettingsIn(BaseModel):
    carriers: list[str] = Field(description="prepaid, easypost: in order of preference")
    mode: str = Field("label", description="label, or dropoff for box-free drop-off codes")
    easypost_services: list[str] = Field(default_factory=list, description="empty: any")
    easypost_carrier_accounts: list[str] = Field(default_factory=list)
    prepaid_cost_amount: int = Field(0, description="the prepaid label's price, minor units")


class CarrierSettingsOut(BaseModel):
    carriers: list[str]
    mode: str
    easypost_services: list[str]
    easypost_carrier_accounts: list[str]
    prepaid_cost: MoneyOut


class RouteIn(BaseModel):
    facility: str = Field(description="the code of a facility serving the merchant")
    country: str = Field("", description="two letters; empty for any country")
    region: str = Field("", description="empty for the whole country")
    priority: int = Field(100, description="among equally specific routes, the lowest wins")


class RouteOut(BaseModel):
    id: str
    facility: str
    country: str
    region: str
    priority: int


class RouteList(BaseModel):
    items: list[RouteOut]


def settings_out(row: CarrierSettings) -> dict[str, Any]:
    return {
        "carriers": list(row.carriers),
        "mode": row.mode,
        "easypost_services": list(row.easypost_services),
        "easypost_carrier_accounts": list(row.easypost_carrier_accounts),
        "prepaid_cost": money(row.prepaid_cost_amount, row.currency),
    }


def route_out(route: FacilityRoute) -> dict[str, Any]:
    return {
        "id": route.public_id,
        "facility": route.facility.code,
        "country": route.country,
        "region": route.region,
        "priority": route.priority,
    }


@router.get("/shipping/settings", response={200: CarrierSettingsOut, **PROBLEMS})
def shipping_settings_get(request: HttpRequest) -> HttpResponse:
    """The merchant's carriers; without settings of its own, the provider's prepaid label."""
    with merchant_context(request, perm.INTEGRATIONS_MANAGE) as (_, merchant):
        return json_response(settings_out(selectors.carrier_settings_for(merchant=merchant)))


@router.put("/shipping/settings", response={200: CarrierSettingsOut, **PROBLEMS})
def shipping_settings_put(request: HttpRequest, payload: CarrierSettingsIn) -> HttpResponse:
    """Replace the merchant's carrier settings (422 with field errors; nothing saved then)."""
    with merchant_context(request, perm.INTEGRATIONS_MANAGE) as (principal, merchant):
        row = services.carrier_settings_update(
            actor=principal.actor, merchant=merchant, **payload.model_dump()
        )
        return json_response(settings_out(row))


@router.get("/shipping/routes", response={200: RouteList, **PROBLEMS})
def shipping_routes(request: HttpRequest) -> HttpResponse:
    with merchant_context(request, perm.INTEGRATIONS_MANAGE) as (_, merchant):
        routes = selectors.facility_routes_list(merchant=merchant)
        return json_response({"items": [route_out(r) for r in routes]})


@router.post("/shipping/routes", response={201: RouteOut, **PROBLEMS})
def shipping_route_add(request: HttpRequest, payload: RouteIn) -> HttpResponse:
    with merchant_context(request, perm.INTEGRATIONS_MANAGE) as (principal, merchant):
        route = services.facility_route_add(
            actor=principal.actor,
            merchant=merchant,
            facility_code=payload.facility,
            country=payload.country,
            region=payload.region,
            priority=payload.priority,
        )
        return json_response(route_out(route), 201)


@router.delete("/shipping/routes/{route_id}", response={204: None, **PROBLEMS})
def shipping_route_remove(request: HttpRequest, route_id: str) -> HttpResponse:
    """Another merchant's route answers 404, exactly as an unknown one."""
    with merchant_context(request, perm.INTEGRATIONS_MANAGE) as (principal, merchant):
        services.facility_route_remove(actor=principal.actor, merchant=merchant, public_id=route_id)
        return HttpResponse(status=204)
