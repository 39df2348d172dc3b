"""Reads for receiving: what a scanned code points at, receipts and the exceptions queue.

Receiving crosses merchants (a facility serves several), so these lookups run with the tenant
scope disabled on purpose and filter by the merchant ids the caller may act for.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Prefetch, Q, QuerySet
from django_scopes import scopes_disabled

from returndesk.catalog.models import Product
from returndesk.core.errors import NotFound
from returndesk.core.models import Upload
from returndesk.returns.models import Return
from returndesk.shipping.models import ACTIVE, Label
from returndesk.tenants.models import Facility
from returndesk.warehouse.models import (
    MATCHED_DROPOFF,
    MATCHED_TRACKING,
    Receipt,
    ReceiptLine,
    UnidentifiedPackage,
)


def _compact(code: str) -> tuple[str, str]:
    text = code.strip().upper()
    return text, text.replace("-", "").replace(" ", "")


# What a scan needs of the label and its return: the receiving service locks and reads the
# return again before it changes anything.
LABEL_MATCH_FIELDS = (
    "status",
    "tracking_number",
    "dropoff_code",
    "created_at",
    "return_request__merchant_id",
)


def label_match(*, code: str) -> tuple[Label, str] | None:
    """The label a scanned code names, and how (tracking or dropoff): the active label first
    (API.md: exact tracking and drop-off matches come before a RAN), then a voided one, since a
    parcel for a cancelled or expired return still carries the label it was sent with.

    One query reads every label the code could name (a tracking number is unique per adapter, a
    drop-off code unique, so these are a handful) and the order above is applied here: an active
    label by tracking number, then by drop-off code (the oldest if several); else the newest label
    by tracking number, then by drop-off code."""
    text, compact = _compact(code)
    if not compact:
        return None
    with scopes_disabled():
        candidates = list(
            Label.objects.filter(Q(tracking_number__in=[text, compact]) | Q(dropoff_code=compact))
            .select_related("return_request")
            .only(*LABEL_MATCH_FIELDS)
            .order_by("-created_at", "-pk")
        )
    tracked = [label for label in candidates if label.tracking_number in (text, compact)]
    dropped = [label for label in candidates if label.dropoff_code == compact]
    active = [label for label in tracked if label.status == ACTIVE] or [
        label for label in dropped if label.status == ACTIVE
    ]
    if active:
        label = min(active, key=lambda found: found.pk)
    elif tracked or dropped:
        label = (tracked or dropped)[0]
    else:
        return None
    how = (
        MATCHED_DROPOFF
        if label.dropoff_code and label.dropoff_code == compact
        else MATCHED_TRACKING
    )
    return label, how


def return_by_ran(*, ran: str, merchant_ids: Iterable[int]) -> Return | None:
    """A return by its canonical RAN among these merchants' returns."""
    with scopes_disabled():
        return Return.objects.filter(ran=ran, merchant_id__in=list(merchant_ids)).first()


def facility_merchant_ids(facility: Facility) -> frozenset[int]:
    """The merchants a facility serves."""
    return frozenset(
        Facility.merchants.through.objects.filter(facility_id=facility.pk).values_list(
            "merchant_id", flat=True
        )
    )


def facility_get(*, code: str, facility_ids: Iterable[int] | None = None) -> Facility:
    """A facility by its code, among those the caller may use; 404 otherwise, as for an
    unknown one."""
    found = Facility.objects.filter(code=code.strip().upper() or "-")
    if facility_ids is not None:
        found = found.filter(pk__in=list(facility_ids))
    facility = found.first()
    if facility is None:
        raise NotFound(f"No facility {code}.")
    return facility


def _receipt_query() -> QuerySet[Receipt]:
    return Receipt.objects.select_related(
        "facility", "return_request", "merchant"
    ).prefetch_related(
        Prefetch(
            "lines",
            queryset=ReceiptLine.objects.select_related(
                "return_line", "return_line__order_line"
            ).order_by("pk"),
        )
    )


def receipt_get(*, public_id: str, merchant_ids: Iterable[int]) -> Receipt:
    """A receipt with its lines, among these merchants' receipts; 404 otherwise."""
    with scopes_disabled():
        receipt = (
            _receipt_query().filter(public_id=public_id, merchant_id__in=list(merchant_ids)).first()
        )
    if receipt is None:
        raise NotFound(f"No receipt {public_id}.")
    return receipt


def receipt_for_return(*, ret: Return) -> Receipt | None:
    """The return's receipt with its lines (at most one), or None: what inspection starts from."""
    with scopes_disabled():
        return _receipt_query().filter(return_request=ret).first()


def receipt_line_for(*, ret: Return, return_line_id: int) -> ReceiptLine | None:
    """The receipt's line for one line of the return, or None when nothing was received."""
    with scopes_disabled():
        return (
            ReceiptLine.objects.filter(receipt__return_request=ret, return_line_id=return_line_id)
            .select_related("receipt")
            .first()
        )


def products_of(receipt: Receipt) -> dict[str, Product]:
    """The products of the receipt's lines by SKU, for names and pictures."""
    skus = {line.return_line.sku for line in receipt.lines.all() if line.return_line.sku}
    with scopes_disabled():
        return {
            p.sku: p for p in Product.objects.filter(merchant_id=receipt.merchant_id, sku__in=skus)
        }


def unidentified_get(*, public_id: str, facility_ids: Iterable[int]) -> UnidentifiedPackage:
    package = (
        UnidentifiedPackage.objects.select_related("facility")
        .filter(public_id=public_id, facility_id__in=list(facility_ids))
        .first()
    )
    if package is None:
        raise NotFound(f"No unidentified package {public_id}.")
    return package


def packages_of_return(*, ret: Return) -> list[UnidentifiedPackage]:
    """The packages received without a match and linked to this return afterwards, with the
    notes and photos taken while nobody knew whose they were."""
    return list(
        UnidentifiedPackage.objects.filter(return_request=ret)
        .select_related("facility", "receipt")
        .order_by("received_at", "pk")
    )


def package_photo(*, package: UnidentifiedPackage, upload_id: str) -> Upload:
    """One of a package's photos, from its owner: the facility while the package is unlinked,
    the return's merchant once linked (`uploads_transfer`); 404 otherwise."""
    if upload_id not in package.photo_upload_ids:
        raise NotFound(f"No photo {upload_id}.")
    owner = (
        Q(merchant__isnull=True, facility_id=package.facility_id)
        if package.linked_at is None
        else Q(merchant_id=package.merchant_id)
    )
    with scopes_disabled():
        photo = Upload.objects.filter(owner, public_id=upload_id, purpose="photo").first()
    if photo is None:
        raise NotFound(f"No photo {upload_id}.")
    return photo


def return_package_photo(*, ret: Return, upload_id: str) -> Upload:
    """A photo of a package linked to this return, which its merchant now owns; 404 for any
    other upload, whoever owns it."""
    for package in UnidentifiedPackage.objects.filter(
        return_request=ret, merchant_id=ret.merchant_id
    ):
        if upload_id in package.photo_upload_ids:
            return package_photo(package=package, upload_id=upload_id)
    raise NotFound(f"No photo {upload_id}.")


@dataclass(frozen=True)
class ExceptionsQueue:
    unidentified: list[UnidentifiedPackage]
    receipts: list[Receipt]


def exceptions_queue(
    *, facility_ids: Iterable[int], merchant_ids: Iterable[int], limit: int = 200
) -> ExceptionsQueue:
    """What staff must resolve at these facilities: packages nobody could match, and packages
    for returns that could not be received (still unresolved), oldest first."""
    facilities, merchants = list(facility_ids), list(merchant_ids)
    unidentified = list(
        UnidentifiedPackage.objects.filter(facility_id__in=facilities, linked_at__isnull=True)
        .select_related("facility")
        .order_by("received_at", "pk")[:limit]
    )
    with scopes_disabled():
        receipts = list(
            Receipt.objects.filter(
                facility_id__in=facilities,
                merchant_id__in=merchants,
                exception_resolved_at__isnull=True,
            )
            .exclude(exception_kind="")
            .select_related("facility", "return_request", "merchant")
            .order_by("received_at", "pk")[:limit]
        )
    return ExceptionsQueue(unidentified=unidentified, receipts=receipts)
