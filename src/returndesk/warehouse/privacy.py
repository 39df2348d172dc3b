"""A customer's personal data at the warehouse: what staff noted and photographed about their
packages (core/privacy.py says how the apps' privacy modules fit together).

Erasure keeps every receipt, receipt line, inspection and disposition with its quantities,
grades, defect codes and findings (refunds and adjustments rest on them); the notes are blanked
(a package's photo or note can carry the shopper's name and address from its label) and the
photos are deleted.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from returndesk.core.privacy import ERASED, Subject, uploads_erase, uploads_export
from returndesk.warehouse.models import Inspection, Receipt, UnidentifiedPackage


def _receipts(subject: Subject) -> QuerySet[Receipt]:
    return Receipt.objects.filter(return_request_id__in=subject.return_ids).order_by("pk")


def _inspections(subject: Subject) -> QuerySet[Inspection]:
    return Inspection.objects.filter(return_request_id__in=subject.return_ids).order_by("pk")


def _packages(subject: Subject) -> QuerySet[UnidentifiedPackage]:
    # Unidentified packages are the facility's rows (no merchant scope), linked once matched.
    return UnidentifiedPackage.objects.filter(
        merchant_id=subject.merchant_id, return_request_id__in=subject.return_ids
    ).order_by("pk")


def _photo_ids(subject: Subject) -> list[str]:
    rows: list[Any] = [*_receipts(subject), *_inspections(subject), *_packages(subject)]
    return [i for row in rows for i in row.photo_upload_ids]


def export(subject: Subject) -> dict[str, Any]:
    return {
        "receipts": [
            {
                "id": r.public_id,
                "ran": r.return_request.ran,
                "received_at": r.received_at,
                "package_condition": r.package_condition,
                "notes": r.notes,
                "photo_upload_ids": r.photo_upload_ids,
                "extra_items": r.extra_items,
                "lines": [
                    {
                        "sku": line.return_line.sku,
                        "expected": line.expected_quantity,
                        "received": line.received_quantity,
                        "missing": line.missing_quantity,
                        "wrong_item": line.wrong_item,
                    }
                    for line in r.lines.all()
                ],
            }
            for r in _receipts(subject)
            .select_related("return_request")
            .prefetch_related("lines__return_line")
        ],
        "inspections": [
            {
                "id": i.public_id,
                "sku": i.sku,
                "unit": i.unit,
                "grade": i.grade,
                "defect_codes": i.defect_codes,
                "contradictions": i.contradictions,
                "notes": i.notes,
                "photo_upload_ids": i.photo_upload_ids,
                "inspected_at": i.inspected_at,
            }
            for i in _inspections(subject)
        ],
        "unidentified_packages": [
            {"id": p.public_id, "notes": p.notes, "photo_upload_ids": p.photo_upload_ids}
            for p in _packages(subject)
        ],
        "warehouse_photos": uploads_export(
            merchant_id=subject.merchant_id, ids=_photo_ids(subject)
        ),
    }


def erase(subject: Subject) -> dict[str, int]:
    photos = uploads_erase(merchant_id=subject.merchant_id, ids=_photo_ids(subject))
    changed = 0
    querysets: list[QuerySet[Any]] = [_receipts(subject), _inspections(subject), _packages(subject)]
    for rows in querysets:
        changed += rows.exclude(notes="").update(notes=ERASED)
        rows.update(photo_upload_ids=[])
    return {"warehouse_notes": changed, "warehouse_photos": photos}
