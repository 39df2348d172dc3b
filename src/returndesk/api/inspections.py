"""Inspection and disposition at the facilities (API.md: POST /returns/{ran}/lines/{line_id}/
inspection and /disposition), and the unit's item tag: provider keys only, within their
facilities."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django_scopes import scopes_disabled
from ninja import Query, Router
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from returndesk.api.receipts import WITH_CONFLICT, provider_context
from returndesk.api.render import file_response, json_response
from returndesk.api.schemas import PROBLEMS
from returndesk.core.codes import format_ran, parse_ran
from returndesk.core.errors import NotFound
from returndesk.returns.models import Return
from returndesk.tenants import permissions as perm
from returndesk.tenants.selectors import Principal
from returndesk.warehouse import dispositions, inspection
from returndesk.warehouse.models import Disposition, Inspection, ReceiptLine
from returndesk.warehouse.tags import render_tag_pdf, render_tag_zpl

router = Router(tags=["inspection"])

Unit = Annotated[StrictInt, Field(ge=1, le=10_000)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class InspectionIn(_In):
    unit: Unit | None = Field(
        default=None,
        description="1-based among the line's received units; required when more than one was "
        "received",
    )
    grade: Annotated[str, Field(min_length=1, max_length=4)] = Field(
        description="on the merchant's scale (default A like new, B open box, C used, "
        "D damaged, X not the item sold)"
    )
    accessories_missing: list[Annotated[str, Field(max_length=64)]] = Field(
        default_factory=list, max_length=50, description="codes of the product's accessories"
    )
    matches_description: bool = True
    serial_number: Annotated[str, Field(max_length=100)] = ""
    defects: list[Annotated[str, Field(max_length=40)]] = Field(
        default_factory=list, max_length=30, description="defect codes of the taxonomy"
    )
    notes: Annotated[str, Field(max_length=4000)] = ""
    photo_upload_ids: list[Annotated[str, Field(max_length=40)]] = Field(
        default_factory=list, max_length=20
    )
    seconds_spent: Annotated[StrictInt, Field(ge=0, le=86_400)] | None = None
    correction: bool = Field(
        default=False,
        description="replace the findings of a unit inspected before (until it is "
        "dispositioned); without it other findings for an inspected unit are 409",
    )

    def to_input(self) -> inspection.InspectionInput:
        return inspection.InspectionInput(
            grade=self.grade,
            accessories_missing=self.accessories_missing,
            matches_description=self.matches_description,
            serial_number=self.serial_number,
            defects=self.defects,
            notes=self.notes,
            photo_upload_ids=self.photo_upload_ids,
            seconds_spent=self.seconds_spent,
            correction=self.correction,
        )


class DispositionIn(_In):
    unit: Unit | None = None
    disposition: Annotated[str, Field(min_length=1, max_length=20)] = Field(
        description="restock, refurbish, repair, return_to_vendor, liquidate, donate, recycle, "
        "discard or quarantine"
    )
    reason: Annotated[str, Field(max_length=1000)] = Field(
        default="", description="required when it differs from the recommendation"
    )


class DispositionOut(BaseModel):
    id: str
    ran: str
    line_id: str | None
    receipt_line_id: str
    unit: int
    sku: str
    disposition: str
    recommended: str
    overridden: bool
    reason: str | None
    figures: dict[str, Any]
    condition: str = Field(description="where the unit is in the inventory ledger")
    lpn: str = Field(description="the license plate number on the unit's item tag")
    tag: dict[str, str]
    decided_at: datetime
    decided_by: str
    return_ready: bool | None = Field(
        default=None,
        description="every received unit of the return is dispositioned (POST answers only)",
    )


class InspectionOut(BaseModel):
    id: str
    ran: str
    line_id: str | None
    receipt_line_id: str
    unit: int
    sku: str
    grade: str
    accessories_missing: list[str]
    matches_description: bool
    serial_number: str | None
    serial_sold: bool | None = Field(description="null when there was nothing to check")
    defects: list[str]
    notes: str
    photo_upload_ids: list[str]
    contradicted: bool
    contradictions: list[str]
    seconds_spent: int | None
    inspected_at: datetime
    inspected_by: str
    corrections: int
    return_status: str | None = None
    recommendation: dict[str, Any] = Field(
        description="the engine's answer: recommendation, figures, ranked options, weighting"
    )
    disposition: DispositionOut | None


def _line_ids(line: ReceiptLine) -> dict[str, Any]:
    order_line = line.return_line.order_line
    return {
        "line_id": order_line.line_id if order_line is not None else None,
        "receipt_line_id": line.public_id,
    }


def tag_links(ret: Return, line: ReceiptLine, unit: int) -> dict[str, str]:
    args = [format_ran(ret.ran), line.public_id, unit]
    return {
        "pdf": reverse("api-v1:inspection_tag_pdf", args=args),
        "zpl": reverse("api-v1:inspection_tag_zpl", args=args),
    }


def disposition_out(found: Disposition, ret: Return, line: ReceiptLine) -> dict[str, Any]:
    unit = found.inspection.unit
    return {
        "id": found.public_id,
        "ran": format_ran(ret.ran),
        **_line_ids(line),
        "unit": unit,
        "sku": found.sku,
        "disposition": found.option,
        "recommended": found.recommended,
        "overridden": found.overridden,
        "reason": found.reason or None,
        "figures": found.figures,
        "condition": found.condition,
        "lpn": found.lpn,
        "tag": tag_links(ret, line, unit),
        "decided_at": found.decided_at,
        "decided_by": found.decided_by_label,
    }


def inspection_out(
    found: Inspection, ret: Return, line: ReceiptLine, chosen: Disposition | None
) -> dict[str, Any]:
    return {
        "id": found.public_id,
        "ran": format_ran(ret.ran),
        **_line_ids(line),
        "unit": found.unit,
        "sku": found.sku,
        "grade": found.grade,
        "accessories_missing": found.accessories_missing,
        "matches_description": found.matches_description,
        "serial_number": found.serial_number or None,
        "serial_sold": found.serial_sold,
        "defects": found.defect_codes,
        "notes": found.notes,
        "photo_upload_ids": found.photo_upload_ids,
        "contradicted": found.contradicted,
        "contradictions": found.contradictions,
        "seconds_spent": found.seconds_spent,
        "inspected_at": found.inspected_at,
        "inspected_by": found.inspected_by_label,
        "corrections": found.corrections,
        "recommendation": found.recommendation_figures,
        "disposition": disposition_out(chosen, ret, line) if chosen else None,
    }


def warehouse_of_return(ret: Return) -> dict[str, Any]:
    """The return's inspections and dispositions, for GET /returns/{ran}."""
    found = list(inspection.inspections_of(ret))
    chosen = {d.inspection_id: d for d in dispositions.dispositions_of(ret)}
    return {
        "inspections": [
            inspection_out(item, ret, item.receipt_line, chosen.get(item.pk)) for item in found
        ],
        "dispositions": [
            disposition_out(chosen[item.pk], ret, item.receipt_line)
            for item in found
            if item.pk in chosen
        ],
    }


def _unit_line(principal: Principal, ran: str, line_id: str) -> tuple[Return, ReceiptLine]:
    """The return (among the key's merchants) and its receipt line, received at one of the
    key's facilities; 404 otherwise, as for an unknown return."""
    code = parse_ran(ran)
    with scopes_disabled():
        ret = Return.objects.filter(ran=code, merchant_id__in=principal.merchant_ids).first()
    if ret is None:
        raise NotFound(f"No return {format_ran(code)}.")
    line = inspection.receipt_line_find(ret=ret, line_id=line_id)
    if line.receipt.facility_id not in principal.facility_ids:
        raise NotFound(f"No return {format_ran(code)}.")
    return ret, line


@router.post(
    "/returns/{ran}/lines/{line_id}/inspection",
    response={200: InspectionOut, 201: InspectionOut, **WITH_CONFLICT},
)
def inspection_record(
    request: HttpRequest, ran: str, line_id: str, payload: InspectionIn
) -> HttpResponse:
    """Record the inspection of one received unit and answer the recommended disposition with
    its figures (201; 200 when the same findings were recorded before). Other findings for an
    inspected unit are 409 already_inspected unless `correction` is set. A line or unit that
    was not received is 422 not_received; a receipt whose box is not recorded is 409
    receipt_open. When every received unit is inspected the return becomes `inspected`."""
    with provider_context(request, perm.INSPECTION) as principal:
        ret, line = _unit_line(principal, ran, line_id)
        result = inspection.inspection_record(
            actor=principal.actor, receipt_line=line, unit=payload.unit, data=payload.to_input()
        )
        with scopes_disabled():
            ret.refresh_from_db()
        chosen = dispositions.disposition_for(receipt_line=line, unit=result.inspection.unit)
        body = {**inspection_out(result.inspection, ret, line, chosen), "return_status": ret.status}
        return json_response(body, 201 if result.created else 200)


@router.post(
    "/returns/{ran}/lines/{line_id}/disposition",
    response={200: DispositionOut, 201: DispositionOut, **WITH_CONFLICT},
)
def disposition_record(
    request: HttpRequest, ran: str, line_id: str, payload: DispositionIn
) -> HttpResponse:
    """Record what happens to an inspected unit: the recommended disposition, or another with a
    `reason` (recorded as an override). Gives the unit its LPN and item tag and writes the
    inventory movement. 409 not_inspected before the inspection, 409 already_dispositioned for
    another choice afterwards; the same choice again answers 200."""
    with provider_context(request, perm.DISPOSITION) as principal:
        ret, line = _unit_line(principal, ran, line_id)
        result = dispositions.disposition_record(
            actor=principal.actor,
            receipt_line=line,
            unit=payload.unit,
            option=payload.disposition,
            reason=payload.reason,
        )
        body = {
            **disposition_out(result.disposition, ret, line),
            "return_ready": result.return_ready,
        }
        return json_response(body, 201 if result.created else 200)


class TagQuery(BaseModel):
    size: Literal["4x6", "2x1"] = "4x6"


def _tag(principal: Principal, ran: str, line_id: str, unit: int) -> Any:
    ret, line = _unit_line(principal, ran, line_id)
    number = inspection.unit_count_check(line, unit)
    found = dispositions.disposition_for(receipt_line=line, unit=number)
    if found is None:
        raise NotFound(f"Unit {number} has no disposition yet, so no tag.")
    return dispositions.tag_document(found, ret=ret)


@router.get(
    "/returns/{ran}/lines/{line_id}/units/{unit}/tag.pdf",
    response={200: None, **PROBLEMS},
    url_name="inspection_tag_pdf",
    openapi_extra={
        "responses": {"200": {"description": "the unit's item tag (LPN as Code 128)",
                              "content": {"application/pdf": {}}}}
    },
)  # fmt: skip
def tag_pdf(
    request: HttpRequest, ran: str, line_id: str, unit: int, query: Query[TagQuery]
) -> HttpResponse:
    """The dispositioned unit's item tag as PDF, 4x6 (default) or 2x1 inches."""
    with provider_context(request, perm.TAGS_PRINT) as principal:
        doc = _tag(principal, ran, line_id, unit)
        return file_response(
            render_tag_pdf(doc, query.size), "application/pdf", f"tag-{doc.lpn}.pdf"
        )


@router.get(
    "/returns/{ran}/lines/{line_id}/units/{unit}/tag.zpl",
    response={200: None, **PROBLEMS},
    url_name="inspection_tag_zpl",
    openapi_extra={
        "responses": {"200": {"description": "the unit's item tag as ZPL II (203 dpi)",
                              "content": {"text/plain": {}}}}
    },
)  # fmt: skip
def tag_zpl(
    request: HttpRequest, ran: str, line_id: str, unit: int, query: Query[TagQuery]
) -> HttpResponse:
    """The dispositioned unit's item tag as ZPL II, 4x6 (default) or 2x1 inches."""
    with provider_context(request, perm.TAGS_PRINT) as principal:
        doc = _tag(principal, ran, line_id, unit)
        zpl = render_tag_zpl(doc, query.size).encode()
        return file_response(zpl, "text/plain; charset=utf-8", f"tag-{doc.lpn}.zpl")
