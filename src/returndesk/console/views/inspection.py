"""Inspection at the station: a recorded receipt's units, one form per unit (keyboard-only,
the best grade and "matches" preselected, photos from a phone or webcam), then the engine's
recommendation with its figures and the ranked alternatives; the worker accepts it or chooses
another option with a reason, and prints the unit's item tag.

Reached from the station's receipt (`m/<slug>/station/<facility>/receipts/<receipt>/inspect/`);
who reaches which facility and merchant is the station's rule (`station.reach_of`).
"""

from __future__ import annotations

import time
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from returndesk.console.access import Seat
from returndesk.console.views.common import console_page, page_context
from returndesk.console.views.station import Reach, reach_of
from returndesk.core.codes import format_ran
from returndesk.core.errors import ApplicationError, NotFound
from returndesk.core.money import Money
from returndesk.core.uploads import upload_create
from returndesk.disposition.engine import OPTIONS, QUARANTINE
from returndesk.tenants import permissions as perm
from returndesk.tenants.models import Facility
from returndesk.warehouse import dispositions, inspection, selectors
from returndesk.warehouse.models import CLOSED, Inspection, Receipt, ReceiptLine
from returndesk.warehouse.tags import render_tag_pdf, render_tag_zpl

OPTION_LABELS = {
    "restock": gettext_lazy("Restock"),
    "refurbish": gettext_lazy("Refurbish"),
    "repair": gettext_lazy("Repair"),
    "return_to_vendor": gettext_lazy("Return to vendor"),
    "liquidate": gettext_lazy("Liquidate"),
    "donate": gettext_lazy("Donate"),
    "recycle": gettext_lazy("Recycle"),
    "discard": gettext_lazy("Discard"),
    QUARANTINE: gettext_lazy("Quarantine"),
}
MAX_PHOTOS = 6
FIGURE_LABELS = {
    "gross_recovery": gettext_lazy("Gross recovery"),
    "processing_cost": gettext_lazy("Processing cost"),
    "treatment_cost": gettext_lazy("Refurbishment or repair cost"),
    "outbound_cost": gettext_lazy("Outbound cost"),
    "hazardous_handling_cost": gettext_lazy("Hazardous handling"),
    "vendor_credit": gettext_lazy("Vendor credit"),
    "net_recovery": gettext_lazy("Net recovery"),
    "carbon_value": gettext_lazy("Value of the CO2e avoided"),
    "co2e_avoided_kg": gettext_lazy("kg CO2e avoided"),
    "score": gettext_lazy("Score"),
}


def _place(seat: Seat, facility: str, receipt: str, permission: str) -> tuple[Facility, Receipt]:
    reach: Reach = reach_of(seat, permission)
    try:
        place = selectors.facility_get(code=facility, facility_ids=reach.facility_ids)
        found = selectors.receipt_get(public_id=receipt, merchant_ids=reach.merchant_ids)
    except NotFound:
        raise Http404 from None
    if found.facility_id != place.pk:
        raise Http404
    return place, found


def _line(receipt: Receipt, line_id: str) -> ReceiptLine:
    for line in receipt.lines.all():
        if line.public_id == line_id:
            return line
    raise Http404


def _name(line: ReceiptLine) -> str:
    return line.return_line.name or line.return_line.sku


def _unit_url(seat: Seat, place: Facility, receipt: Receipt, line: ReceiptLine, unit: int) -> str:
    return reverse(
        "console:inspect_unit",
        args=[seat.merchant.slug, place.code, receipt.public_id, line.public_id, unit],
    )


def _units(seat: Seat, place: Facility, receipt: Receipt) -> list[dict[str, Any]]:
    done = {
        (i.receipt_line_id, i.unit): i for i in inspection.inspections_of(receipt.return_request)
    }
    decided = {d.inspection_id: d for d in dispositions.dispositions_of(receipt.return_request)}
    rows = []
    for line in receipt.lines.all():
        for unit in line.units:
            found = done.get((line.pk, unit))
            rows.append(
                {
                    "line": line,
                    "name": _name(line),
                    "unit": unit,
                    "of": line.received_quantity,
                    "inspection": found,
                    "disposition": decided.get(found.pk) if found else None,
                    "url": _unit_url(seat, place, receipt, line, unit),
                }
            )
    return rows


@console_page(perm.INSPECTION, methods=("GET",))
def inspect_units(request: HttpRequest, seat: Seat, facility: str, receipt: str) -> HttpResponse:
    place, found = _place(seat, facility, receipt, perm.INSPECTION)
    units = _units(seat, place, found)
    missing = [line for line in found.lines.all() if line.missing_quantity]
    next_unit = next(
        (u for u in units if u["inspection"] is None or u["disposition"] is None), None
    )
    return render(
        request,
        "console/inspect_units.html",
        page_context(
            seat,
            facility=place,
            receipt=found,
            ran=format_ran(found.return_request.ran),
            units=units,
            missing=missing,
            next_unit=next_unit,
            recorded=found.state == CLOSED and not found.is_exception,
        ),
    )


def _figures_rows(found: Inspection) -> list[dict[str, Any]]:
    answer = found.recommendation_figures or {}
    currency = answer.get("currency", "")
    rows = []
    for option in answer.get("options", []):
        figures = option.get("figures") or {}
        rows.append(
            {
                "option": option["option"],
                "label": OPTION_LABELS.get(option["option"], option["option"]),
                "rank": option.get("rank"),
                "allowed": option.get("allowed", False),
                "net": Money(int(figures["net_recovery"]), currency) if figures else None,
                "co2e": figures.get("co2e_avoided_kg") if figures else None,
                "score": figures.get("score") if figures else None,
                "excluded_by": [e.get("message", "") for e in option.get("excluded_by", [])],
            }
        )
    return rows


def _recommended(found: Inspection) -> dict[str, Any]:
    answer = found.recommendation_figures or {}
    currency = answer.get("currency", "")
    figures = answer.get("figures") or {}
    money = (
        "gross_recovery",
        "processing_cost",
        "treatment_cost",
        "outbound_cost",
        "hazardous_handling_cost",
        "vendor_credit",
        "net_recovery",
        "carbon_value",
    )
    return {
        "option": found.recommendation,
        "label": OPTION_LABELS.get(found.recommendation, found.recommendation),
        "explanation": answer.get("explanation", ""),
        "figures": [
            (
                FIGURE_LABELS[name],
                Money(int(figures[name]), currency) if name in money else figures[name],
            )
            for name in (*money, "co2e_avoided_kg", "score")
            if name in figures
        ],
        "weighting": answer.get("weighting", {}),
    }


def _unit_page(
    request: HttpRequest,
    seat: Seat,
    place: Facility,
    receipt: Receipt,
    line: ReceiptLine,
    unit: int,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
    status: int = 200,
) -> HttpResponse:
    found = inspection.inspection_get(receipt_line=line, unit=unit)
    decided = dispositions.disposition_for(receipt_line=line, unit=unit) if found else None
    settings = inspection.settings_for(receipt.merchant_id)
    product = inspection.product_for(line)
    correcting = request.GET.get("correct") == "1" and found is not None and decided is None
    units = _units(seat, place, receipt)
    after = [u for u in units if u["inspection"] is None or u["disposition"] is None]
    following = next((u for u in after if (u["line"].pk, u["unit"]) != (line.pk, unit)), None)
    shown: dict[str, Any] = values or {}
    if not shown and found is not None:
        shown = {
            "grade": found.grade,
            "defects": found.defect_codes,
            "accessories_missing": found.accessories_missing,
            "matches_description": found.matches_description,
            "serial_number": found.serial_number,
            "notes": found.notes,
        }
    allowed = []
    if found is not None:
        rows = _figures_rows(found)
        allowed = [r for r in rows if r["allowed"]]
        if found.recommendation == QUARANTINE:
            allowed = [
                {"option": QUARANTINE, "label": OPTION_LABELS[QUARANTINE], "net": None},
                *[{"option": o, "label": OPTION_LABELS[o], "net": None} for o in OPTIONS],
            ]
    context = page_context(
        seat,
        facility=place,
        receipt=receipt,
        ran=format_ran(receipt.return_request.ran),
        line=line,
        name=_name(line),
        unit=unit,
        reason=line.return_line.reason,
        comment=line.return_line.comment,
        product=product,
        accessories=product.accessories if product else [],
        grades=settings.grades,
        defects=settings.defects,
        inspection=found,
        disposition=decided,
        show_form=found is None or correcting,
        correcting=correcting,
        values=shown,
        errors=errors or {},
        started=int(time.time()),
        recommended=_recommended(found) if found else None,
        ranked=_figures_rows(found) if found else [],
        allowed=allowed,
        choice=(values or {}).get("disposition") or (found.recommendation if found else ""),
        following=following,
        wrong_item=line.wrong_item_description if line.wrong_item else "",
        can_dispose=seat.can(perm.DISPOSITION),
        can_print=seat.can(perm.TAGS_PRINT),
        units_url=reverse(
            "console:inspect_units", args=[seat.merchant.slug, place.code, receipt.public_id]
        ),
    )
    return render(request, "console/inspect_unit.html", context, status=status)


@console_page(perm.INSPECTION, methods=("GET", "POST"))
def inspect_unit(
    request: HttpRequest, seat: Seat, facility: str, receipt: str, line: str, unit: int
) -> HttpResponse:
    place, found = _place(seat, facility, receipt, perm.INSPECTION)
    receipt_line = _line(found, line)
    if not 1 <= unit <= receipt_line.received_quantity:
        raise Http404
    if request.method != "POST":
        return _unit_page(request, seat, place, found, receipt_line, unit)
    data = request.POST
    values: dict[str, Any] = {
        "grade": data.get("grade", ""),
        "defects": data.getlist("defects"),
        "accessories_missing": data.getlist("accessories_missing"),
        "matches_description": data.get("matches_description") == "yes",
        "serial_number": data.get("serial_number", ""),
        "notes": data.get("notes", ""),
    }
    try:
        started = int(data.get("started", "0"))
    except ValueError:
        started = 0
    spent = max(0, min(int(time.time()) - started, 86_400)) if started else None
    try:
        photos = request.FILES.getlist("photos")[:MAX_PHOTOS]
        photo_ids = [
            upload_create(
                actor=seat.actor, merchant_id=found.merchant_id, data=photo.read(), purpose="photo"
            ).public_id
            for photo in photos
            if photo.size
        ]
        inspection.inspection_record(
            actor=seat.actor,
            receipt_line=receipt_line,
            unit=unit,
            data=inspection.InspectionInput(
                grade=values["grade"],
                accessories_missing=values["accessories_missing"],
                matches_description=values["matches_description"],
                serial_number=values["serial_number"],
                defects=values["defects"],
                notes=values["notes"],
                photo_upload_ids=photo_ids,
                seconds_spent=spent,
                correction=data.get("correction") == "1",
            ),
        )
    except ApplicationError as exc:
        errors = {e.field: e.message for e in exc.errors} or {"form": exc.detail}
        return _unit_page(
            request, seat, place, found, receipt_line, unit, errors=errors, values=values,
            status=422,
        )  # fmt: skip
    return HttpResponseRedirect(_unit_url(seat, place, found, receipt_line, unit))


@console_page(perm.DISPOSITION, methods=("POST",))
def dispose_unit(
    request: HttpRequest, seat: Seat, facility: str, receipt: str, line: str, unit: int
) -> HttpResponse:
    place, found = _place(seat, facility, receipt, perm.DISPOSITION)
    receipt_line = _line(found, line)
    if not 1 <= unit <= receipt_line.received_quantity:
        raise Http404
    option = request.POST.get("disposition", "")
    try:
        result = dispositions.disposition_record(
            actor=seat.actor,
            receipt_line=receipt_line,
            unit=unit,
            option=option,
            reason=request.POST.get("reason", ""),
        )
    except ApplicationError as exc:
        errors = {e.field: e.message for e in exc.errors} or {"form": exc.detail}
        return _unit_page(
            request, seat, place, found, receipt_line, unit, errors=errors,
            values={"disposition": option, "reason": request.POST.get("reason", "")},
            status=422,
        )  # fmt: skip
    messages.success(
        request,
        _("%(option)s recorded. Tag %(lpn)s: print it and stick it on the item.")
        % {"option": OPTION_LABELS.get(option, option), "lpn": result.disposition.lpn},
    )
    if result.return_ready:
        messages.info(request, _("Every unit of this return is done: it is ready for the refund."))
    return HttpResponseRedirect(_unit_url(seat, place, found, receipt_line, unit))


@console_page(perm.TAGS_PRINT, methods=("GET",))
def unit_tag(
    request: HttpRequest,
    seat: Seat,
    facility: str,
    receipt: str,
    line: str,
    unit: int,
    fmt: str,
) -> HttpResponse:
    _, found = _place(seat, facility, receipt, perm.TAGS_PRINT)
    receipt_line = _line(found, line)
    decided = dispositions.disposition_for(receipt_line=receipt_line, unit=unit)
    if decided is None or fmt not in ("pdf", "zpl"):
        raise Http404
    size = request.GET.get("size", "4x6")
    if size not in ("4x6", "2x1"):
        size = "4x6"
    doc = dispositions.tag_document(decided, ret=found.return_request)
    if fmt == "pdf":
        response = HttpResponse(render_tag_pdf(doc, size), content_type="application/pdf")
    else:
        response = HttpResponse(
            render_tag_zpl(doc, size).encode(), content_type="text/plain; charset=utf-8"
        )
    response["Content-Disposition"] = f'inline; filename="tag-{doc.lpn}-{size}.{fmt}"'
    response["Cache-Control"] = "private, no-store"
    return response


_BASE = "m/<slug:slug>/station/<str:facility>/receipts/<str:receipt>/inspect/"
urlpatterns = [
    path(_BASE, inspect_units, name="inspect_units"),
    path(f"{_BASE}<str:line>/<int:unit>/", inspect_unit, name="inspect_unit"),
    path(f"{_BASE}<str:line>/<int:unit>/dispose/", dispose_unit, name="dispose_unit"),
    path(f"{_BASE}<str:line>/<int:unit>/tag.<str:fmt>", unit_tag, name="unit_tag"),
]
