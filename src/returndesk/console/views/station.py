"""The receiving station: scanner-first pages where a worker scans packages at a facility and
records what each box held, and the exceptions queue of what could not be matched or received.

A facility serves many merchants, but console URLs carry one merchant's slug: the station lives
under the worker's current seat (`m/<slug>/station/<facility>/`), and a scan there matches the
returns of every merchant the facility serves that the worker may receive for (all of them for
a provider-wide role; a merchant's own warehouse staff match only their merchant's returns, and
anything else at that facility is unidentified to them). docs/decisions/0006-warehouse.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from returndesk.console.access import Seat
from returndesk.console.views.common import console_page, page_context, photo_response
from returndesk.core.codes import RanInvalid, format_ran
from returndesk.core.errors import ApplicationError, NotFound
from returndesk.core.uploads import upload_create
from returndesk.tenants import permissions as perm
from returndesk.tenants.models import Facility, Merchant
from returndesk.tenants.permissions import ROLE_PERMISSIONS
from returndesk.warehouse import selectors, services
from returndesk.warehouse.models import OPEN, PACKAGE_CONDITIONS, Receipt, UnidentifiedPackage

MISTYPED = "mistyped"
RECORDED = "recorded"
PACKAGE_SAVED = "package_saved"  # photos and notes of an unidentified package saved
MAX_PACKAGE_PHOTOS = 6  # per submit, as on the inspection form
CONDITION_LABELS = {
    "intact": gettext_lazy("Intact"),
    "damaged": gettext_lazy("Damaged"),
    "opened": gettext_lazy("Opened"),
    "wet": gettext_lazy("Wet"),
    "unpackaged": gettext_lazy("No packaging"),
}


@dataclass(frozen=True)
class Reach:
    """Where this worker may receive: facilities, and the merchants whose returns match."""

    facility_ids: frozenset[int]
    merchant_ids: frozenset[int]


def reach_of(seat: Seat, permission: str = perm.RECEIVING) -> Reach:
    memberships = list(seat.user.memberships.all())
    granting = [m for m in memberships if permission in ROLE_PERMISSIONS[m.role]]
    if any(m.merchant_id is None for m in granting):
        merchants = frozenset(Merchant.objects.filter(is_active=True).values_list("pk", flat=True))
        facilities = frozenset(Facility.objects.values_list("pk", flat=True))
        return Reach(facility_ids=facilities, merchant_ids=merchants)
    active = {m.pk for m in seat.merchants}
    merchants = frozenset(m.merchant_id for m in granting if m.merchant_id in active)
    facilities = frozenset(
        Facility.objects.filter(merchants__in=merchants).values_list("pk", flat=True)
    )
    return Reach(facility_ids=facilities, merchant_ids=merchants)


def _facility(seat: Seat, code: str, reach: Reach) -> Facility:
    try:
        return selectors.facility_get(code=code, facility_ids=reach.facility_ids)
    except NotFound:
        raise Http404 from None


def _receipt(reach: Reach, facility: Facility, public_id: str) -> Receipt:
    try:
        receipt = selectors.receipt_get(public_id=public_id, merchant_ids=reach.merchant_ids)
    except NotFound:
        raise Http404 from None
    if receipt.facility_id != facility.pk:
        raise Http404
    return receipt


def _lines(receipt: Receipt) -> list[dict[str, Any]]:
    products = selectors.products_of(receipt)
    rows = []
    for line in receipt.lines.all():
        product = products.get(line.return_line.sku)
        order_line = line.return_line.order_line
        rows.append(
            {
                "id": line.public_id,
                "line_id": order_line.line_id if order_line else "",
                "sku": line.return_line.sku,
                "name": line.return_line.name
                or (product.name if product else line.return_line.sku),
                "accessories": [
                    a.get("name", "") for a in (product.accessories if product else [])
                ],
                "expected": line.expected_quantity,
                "received": line.received_quantity
                if receipt.state != OPEN
                else line.expected_quantity,
                "missing": line.missing_quantity,
                "wrong_item": line.wrong_item_description if line.wrong_item else "",
            }
        )
    return rows


def _package(reach: Reach, public_id: str, facility: Facility | None = None) -> UnidentifiedPackage:
    """An unidentified package at a facility in reach (and at `facility`, when given)."""
    try:
        package = selectors.unidentified_get(public_id=public_id, facility_ids=reach.facility_ids)
    except NotFound:
        raise Http404 from None
    if facility is not None and package.facility_id != facility.pk:
        raise Http404
    return package


def _station(
    request: HttpRequest,
    seat: Seat,
    facility: Facility,
    *,
    outcome: str = "",
    receipt: Receipt | None = None,
    package: UnidentifiedPackage | None = None,
    detail: str = "",
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> HttpResponse:
    context = page_context(
        seat,
        facility=facility,
        outcome=outcome,
        receipt=receipt,
        ran=format_ran(receipt.return_request.ran) if receipt else "",
        lines=_lines(receipt) if receipt else [],
        package=package,
        # Photos and notes for a package that matched nothing, by whoever may handle it.
        can_annotate=(
            package is not None and package.linked_at is None and seat.can(perm.UNIDENTIFIED)
        ),
        detail=detail,
        errors=errors or {},
        conditions=[(c, CONDITION_LABELS[c]) for c in PACKAGE_CONDITIONS],
        can_record=receipt is not None and receipt.state == OPEN,
    )
    template = "console/station_result.html" if request.htmx else "console/station.html"  # type: ignore[attr-defined]
    return render(request, template, context, status=status)


def _refused(
    request: HttpRequest, seat: Seat, place: Facility, exc: ApplicationError, **shown: Any
) -> HttpResponse:
    """The station again after a refused form: the same answer, the form saying why (422 for a
    whole page; htmx swaps only a 2xx, so 200 there)."""
    errors = {e.field: e.message for e in exc.errors} or {"form": exc.detail}
    status = 200 if request.htmx else 422  # type: ignore[attr-defined]
    return _station(request, seat, place, detail=exc.detail, errors=errors, status=status, **shown)


@console_page(perm.RECEIVING, methods=("GET",))
def station_start(request: HttpRequest, seat: Seat) -> HttpResponse:
    reach = reach_of(seat)
    facilities = list(Facility.objects.filter(pk__in=reach.facility_ids).order_by("code"))
    if len(facilities) == 1:
        return HttpResponseRedirect(
            reverse("console:station", args=[seat.merchant.slug, facilities[0].code])
        )
    return render(request, "console/station_start.html", page_context(seat, facilities=facilities))


@console_page(perm.RECEIVING, methods=("GET",))
def station(request: HttpRequest, seat: Seat, facility: str) -> HttpResponse:
    return _station(request, seat, _facility(seat, facility, reach_of(seat)))


@console_page(perm.RECEIVING, methods=("POST",))
def station_scan(request: HttpRequest, seat: Seat, facility: str) -> HttpResponse:
    reach = reach_of(seat)
    place = _facility(seat, facility, reach)
    code = request.POST.get("code", "")
    try:
        result = services.receipt_scan(
            actor=seat.actor, facility=place, code=code, merchant_ids=reach.merchant_ids
        )
    except RanInvalid as exc:
        return _station(request, seat, place, outcome=MISTYPED, detail=exc.detail)
    except ApplicationError as exc:
        return _station(request, seat, place, outcome=MISTYPED, detail=exc.detail)
    receipt = None
    if result.receipt is not None:
        receipt = _receipt(reach, place, result.receipt.public_id)
    return _station(
        request, seat, place, outcome=result.outcome, receipt=receipt, package=result.package
    )


def _int(value: str) -> int | None:
    try:
        return int(value.strip())
    except ValueError:
        return None


@console_page(perm.RECEIVING, methods=("POST",))
def station_record(request: HttpRequest, seat: Seat, facility: str, receipt: str) -> HttpResponse:
    reach = reach_of(seat)
    place = _facility(seat, facility, reach)
    found = _receipt(reach, place, receipt)
    data = request.POST
    lines = []
    for line in found.lines.all():
        count = _int(data.get(f"received-{line.public_id}", "0") or "0")
        lines.append(
            services.LineCount(line_id=line.public_id, quantity=-1 if count is None else count)
        )
    extras = [
        services.ExtraItem(description=text.strip())
        for text in data.get("extra_items", "").splitlines()
        if text.strip()
    ]
    wrong = None
    if data.get("wrong_line") and data.get("wrong_description", "").strip():
        wrong = services.WrongItem(
            line_id=data["wrong_line"], description=data["wrong_description"]
        )
    weight = data.get("weight_grams", "").strip()
    try:
        services.receipt_record(
            actor=seat.actor,
            receipt=found,
            lines=lines,
            extra_items=extras,
            wrong_item=wrong,
            package_condition=data.get("package_condition", "intact"),
            weight_grams=_int(weight) if weight else None,
            notes=data.get("notes", ""),
        )
    except ApplicationError as exc:
        return _refused(request, seat, place, exc, outcome=services.RECEIVED_NOW, receipt=found)
    recorded = _receipt(reach, place, receipt)
    return _station(request, seat, place, outcome=RECORDED, receipt=recorded)


@console_page(perm.UNIDENTIFIED, methods=("POST",))
def station_package(request: HttpRequest, seat: Seat, facility: str, package: str) -> HttpResponse:
    """Photos (camera or files) and notes of a package that matched nothing. The photos belong
    to the facility until the package is linked to its return; new ones join those taken
    before."""
    reach = reach_of(seat, perm.UNIDENTIFIED)
    place = _facility(seat, facility, reach)
    found = _package(reach, package, place)
    try:
        added = [
            upload_create(
                actor=seat.actor,
                merchant_id=None,
                facility_id=place.pk,
                data=photo.read(),
                purpose="photo",
            ).public_id
            for photo in request.FILES.getlist("photos")[:MAX_PACKAGE_PHOTOS]
            if photo.size
        ]
        saved = services.unidentified_annotate(
            actor=seat.actor,
            package=found,
            notes=request.POST.get("notes", ""),
            photo_upload_ids=[*found.photo_upload_ids, *added],
        )
    except ApplicationError as exc:
        return _refused(request, seat, place, exc, outcome=services.UNIDENTIFIED, package=found)
    return _station(request, seat, place, outcome=PACKAGE_SAVED, package=saved)


@console_page(perm.UNIDENTIFIED, methods=("GET",))
def station_package_photo(
    request: HttpRequest, seat: Seat, package: str, photo: str
) -> HttpResponse:
    """A photo of a package in the exceptions queue, for the staff who may link it. Once the
    package is linked its photos are the return's merchant's, shown on the return only."""
    found = _package(reach_of(seat, perm.UNIDENTIFIED), package)
    if found.linked_at is not None:
        raise Http404
    try:
        return photo_response(selectors.package_photo(package=found, upload_id=photo))
    except NotFound:
        raise Http404 from None


@console_page(perm.UNIDENTIFIED, methods=("GET",))
def station_exceptions(request: HttpRequest, seat: Seat) -> HttpResponse:
    reach = reach_of(seat, perm.UNIDENTIFIED)
    queue = selectors.exceptions_queue(
        facility_ids=reach.facility_ids, merchant_ids=reach.merchant_ids
    )
    receipts = [(format_ran(r.return_request.ran), r) for r in queue.receipts]
    return render(
        request,
        "console/station_exceptions.html",
        page_context(seat, packages=queue.unidentified, receipts=receipts),
    )


@console_page(perm.UNIDENTIFIED, methods=("POST",))
def station_link(request: HttpRequest, seat: Seat, package: str) -> HttpResponse:
    reach = reach_of(seat, perm.UNIDENTIFIED)
    try:
        found = selectors.unidentified_get(public_id=package, facility_ids=reach.facility_ids)
    except NotFound:
        raise Http404 from None
    try:
        result = services.unidentified_link(
            actor=seat.actor,
            package=found,
            ran=request.POST.get("ran", ""),
            merchant_ids=reach.merchant_ids,
        )
    except ApplicationError as exc:
        messages.error(request, exc.detail)
    else:
        assert result.receipt is not None
        messages.success(
            request,
            _("Package %(package)s linked to return %(ran)s.")
            % {"package": found.public_id, "ran": format_ran(result.receipt.return_request.ran)},
        )
    return HttpResponseRedirect(reverse("console:station_exceptions", args=[seat.merchant.slug]))


urlpatterns = [
    path("m/<slug:slug>/station/", station_start, name="station_start"),
    path("m/<slug:slug>/station/exceptions/", station_exceptions, name="station_exceptions"),
    path(
        "m/<slug:slug>/station/exceptions/<str:package>/link/",
        station_link,
        name="station_link",
    ),
    path(
        "m/<slug:slug>/station/exceptions/<str:package>/photos/<str:photo>/",
        station_package_photo,
        name="station_package_photo",
    ),
    path("m/<slug:slug>/station/<str:facility>/", station, name="station"),
    path("m/<slug:slug>/station/<str:facility>/scan/", station_scan, name="station_scan"),
    path(
        "m/<slug:slug>/station/<str:facility>/receipts/<str:receipt>/",
        station_record,
        name="station_record",
    ),
    path(
        "m/<slug:slug>/station/<str:facility>/packages/<str:package>/",
        station_package,
        name="station_package",
    ),
]
