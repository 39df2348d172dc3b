"""Receiving at the facilities (API.md: POST /receipts, PUT /receipts/{id},
POST /unidentified-packages/{id}/link; beside them GET and PUT /unidentified-packages/{id} for
the notes and photos of a package that matched nothing): provider keys only, within their
facilities."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Router
from pydantic import BaseModel, Field

from returndesk.api.auth import principal_of
from returndesk.api.render import json_response
from returndesk.api.schemas import PROBLEMS, ProblemOut
from returndesk.core.codes import format_ran
from returndesk.core.errors import NotFound, PermissionDenied
from returndesk.tenants import permissions as perm
from returndesk.tenants.models import Facility
from returndesk.tenants.selectors import Principal
from returndesk.warehouse import selectors, services
from returndesk.warehouse.models import Receipt, ReceiptLine, UnidentifiedPackage
from returndesk.warehouse.schemas import LinkIn, PackageIn, ReceiptIn, ScanIn

router = Router(tags=["receiving"])
WITH_CONFLICT: dict[int, type] = {**PROBLEMS, 409: ProblemOut}


class ReceiptLineOut(BaseModel):
    receipt_line_id: str
    line_id: str | None = Field(description="the order's line id (null on a receipt return)")
    sku: str
    name: str
    expected_quantity: int
    received_quantity: int
    missing_quantity: int
    wrong_item: dict[str, str] | None


class ReceiptExceptionOut(BaseModel):
    kind: str = Field(description="the return's status when the package arrived")
    resolved_at: datetime | None


class ReceiptOut(BaseModel):
    id: str
    facility: str
    code: str
    matched_by: str = Field(description="tracking, dropoff, ran or link")
    ran: str
    return_status: str
    state: str = Field(description="open (scanned) or closed (the box is recorded)")
    exception: ReceiptExceptionOut | None
    received_at: datetime
    received_by: str
    package_condition: str | None
    weight_grams: int | None
    notes: str
    photo_upload_ids: list[str]
    extra_items: list[dict[str, Any]]
    lines: list[ReceiptLineOut]
    recorded_at: datetime | None


class UnidentifiedPackageOut(BaseModel):
    id: str
    facility: str
    code: str
    notes: str
    photo_upload_ids: list[str]
    received_at: datetime
    received_by: str
    ran: str | None = Field(description="the return it was linked to, once linked")
    receipt_id: str | None
    linked_at: datetime | None


class ScanOut(BaseModel):
    outcome: str = Field(
        description="received (a new receipt), already_received (the same package scanned "
        "again), exception (a receipt exception: the return could not be received) or "
        "unidentified (an unidentified-package record)"
    )
    receipt: ReceiptOut | None
    unidentified_package: UnidentifiedPackageOut | None


@contextmanager
def provider_context(request: HttpRequest, permission: str) -> Iterator[Principal]:
    """Receiving is the provider's act at its facilities: a merchant key may not use it."""
    principal = principal_of(request)
    if principal.merchant is not None or not principal.can(permission):
        raise PermissionDenied("Only a provider key may work the facilities.")
    yield principal


def receipt_out(receipt: Receipt, lines: Iterable[ReceiptLine] | None = None) -> dict[str, Any]:
    """The receipt as the API shows it; `lines` are its lines when the caller has them in hand
    (each with its return line and order line), else they are read."""
    ret = receipt.return_request
    return {
        "id": receipt.public_id,
        "facility": receipt.facility.code,
        "code": receipt.code,
        "matched_by": receipt.matched_by,
        "ran": format_ran(ret.ran),
        "return_status": ret.status,
        "state": receipt.state,
        "exception": (
            {"kind": receipt.exception_kind, "resolved_at": receipt.exception_resolved_at}
            if receipt.exception_kind
            else None
        ),
        "received_at": receipt.received_at,
        "received_by": receipt.received_by_label,
        "package_condition": receipt.package_condition or None,
        "weight_grams": receipt.weight_grams,
        "notes": receipt.notes,
        "photo_upload_ids": receipt.photo_upload_ids,
        "extra_items": receipt.extra_items,
        "lines": [
            {
                "receipt_line_id": line.public_id,
                "line_id": (
                    line.return_line.order_line.line_id if line.return_line.order_line else None
                ),
                "sku": line.return_line.sku,
                "name": line.return_line.name,
                "expected_quantity": line.expected_quantity,
                "received_quantity": line.received_quantity,
                "missing_quantity": line.missing_quantity,
                "wrong_item": (
                    {"description": line.wrong_item_description, "sku": line.wrong_item_sku}
                    if line.wrong_item
                    else None
                ),
            }
            for line in (receipt.lines.all() if lines is None else lines)
        ],
        "recorded_at": receipt.recorded_at,
    }


def package_out(package: UnidentifiedPackage) -> dict[str, Any]:
    ret = package.return_request
    return {
        "id": package.public_id,
        "facility": package.facility.code,
        "code": package.code,
        "notes": package.notes,
        "photo_upload_ids": package.photo_upload_ids,
        "received_at": package.received_at,
        "received_by": package.received_by_label,
        "ran": format_ran(ret.ran) if ret is not None else None,
        "receipt_id": package.receipt.public_id if package.receipt else None,
        "linked_at": package.linked_at,
    }


def _scan_body(result: services.ScanResult, principal: Principal) -> dict[str, Any]:
    receipt = None
    if result.receipt is not None and result.receipt_lines is not None:
        # Written by this scan: answered from what was written, not read back.
        receipt = receipt_out(result.receipt, result.receipt_lines)
    elif result.receipt is not None:
        receipt = receipt_out(
            selectors.receipt_get(
                public_id=result.receipt.public_id, merchant_ids=principal.merchant_ids
            )
        )
    return {
        "outcome": result.outcome,
        "receipt": receipt,
        "unidentified_package": package_out(result.package) if result.package else None,
    }


@router.post("/receipts", response={200: ScanOut, 201: ScanOut, **PROBLEMS})
def receipt_scan(request: HttpRequest, payload: ScanIn) -> HttpResponse:
    """A package scanned at a facility: its code is a tracking number, a drop-off code or a RAN
    (exact tracking and drop-off matches first). Answers the receipt with the return and its
    expected lines (201; 200 when the package was already scanned), a receipt exception for a
    return that cannot be received (its status stays), or an unidentified-package record. A RAN
    with a wrong check character is 422 ran_invalid and records nothing."""
    with provider_context(request, perm.RECEIVING) as principal:
        facility = _facility(principal, payload.facility)
        result = services.receipt_scan(
            actor=principal.actor,
            facility=facility,
            code=payload.code,
            merchant_ids=principal.merchant_ids,
            facility_merchant_ids=principal.facility_merchants.get(facility.pk),
        )
        return json_response(_scan_body(result, principal), 201 if result.created else 200)


def _facility(principal: Principal, code: str) -> Facility:
    """The facility by its code among the key's, as read with the key (no query); an unknown
    code is looked up as ever, for the same 404."""
    wanted = code.strip().upper()
    for facility in principal.facilities.values():
        if facility.code == wanted:
            return facility
    return selectors.facility_get(code=code, facility_ids=principal.facility_ids)


def _receipt(principal: Principal, public_id: str) -> Receipt:
    receipt = selectors.receipt_get(public_id=public_id, merchant_ids=principal.merchant_ids)
    if receipt.facility_id not in principal.facility_ids:
        raise NotFound(f"No receipt {public_id}.")  # another facility's: as an unknown one
    return receipt


@router.get("/receipts/{receipt_id}", response={200: ReceiptOut, **PROBLEMS})
def receipt_get(request: HttpRequest, receipt_id: str) -> HttpResponse:
    """A receipt with its lines."""
    with provider_context(request, perm.RECEIVING) as principal:
        return json_response(receipt_out(_receipt(principal, receipt_id)))


@router.put("/receipts/{receipt_id}", response={200: ReceiptOut, **WITH_CONFLICT})
def receipt_record(request: HttpRequest, receipt_id: str, payload: ReceiptIn) -> HttpResponse:
    """What the box held: received units per line, extra items, missing lines, a wrong item,
    the package's condition and weight, photos and notes. Closes the receipt; the same body
    again changes nothing, other contents afterwards are 409 receipt_closed."""
    with provider_context(request, perm.RECEIVING) as principal:
        receipt = _receipt(principal, receipt_id)
        services.receipt_record(
            actor=principal.actor,
            receipt=receipt,
            lines=[line.to_input() for line in payload.lines],
            extra_items=[item.to_input() for item in payload.extra_items],
            missing=payload.missing,
            wrong_item=payload.wrong_item.to_input() if payload.wrong_item else None,
            package_condition=payload.package_condition,
            weight_grams=payload.weight_grams,
            photo_upload_ids=payload.photo_upload_ids,
            notes=payload.notes,
        )
        return json_response(
            receipt_out(
                selectors.receipt_get(public_id=receipt_id, merchant_ids=principal.merchant_ids)
            )
        )


@router.post(
    "/unidentified-packages/{package_id}/link",
    response={200: ScanOut, 201: ScanOut, **WITH_CONFLICT},
)
def unidentified_link(request: HttpRequest, package_id: str, payload: LinkIn) -> HttpResponse:
    """Attach a package received without a match to its return by RAN: the return receives it
    as a scan would have (or a receipt exception is recorded). 409 already_linked when the
    package went to another return."""
    with provider_context(request, perm.UNIDENTIFIED) as principal:
        package = selectors.unidentified_get(
            public_id=package_id, facility_ids=principal.facility_ids
        )
        result = services.unidentified_link(
            actor=principal.actor,
            package=package,
            ran=payload.ran,
            merchant_ids=principal.merchant_ids,
        )
        return json_response(_scan_body(result, principal), 201 if result.created else 200)


def _package(principal: Principal, package_id: str) -> UnidentifiedPackage:
    return selectors.unidentified_get(public_id=package_id, facility_ids=principal.facility_ids)


@router.get(
    "/unidentified-packages/{package_id}", response={200: UnidentifiedPackageOut, **PROBLEMS}
)
def unidentified_get(request: HttpRequest, package_id: str) -> HttpResponse:
    """A package received without a match, at one of the key's facilities."""
    with provider_context(request, perm.UNIDENTIFIED) as principal:
        return json_response(package_out(_package(principal, package_id)))


@router.put(
    "/unidentified-packages/{package_id}",
    response={200: UnidentifiedPackageOut, **WITH_CONFLICT},
)
def unidentified_annotate(
    request: HttpRequest, package_id: str, payload: PackageIn
) -> HttpResponse:
    """What the worker saw on a package that matched nothing: `notes` and `photo_upload_ids`
    (photos uploaded with `facility`, POST /uploads), replacing what was there. They go with
    the package to its return when it is linked; a linked package is 409 already_linked."""
    with provider_context(request, perm.UNIDENTIFIED) as principal:
        package = services.unidentified_annotate(
            actor=principal.actor,
            package=_package(principal, package_id),
            notes=payload.notes,
            photo_upload_ids=payload.photo_upload_ids,
        )
        return json_response(package_out(package))
