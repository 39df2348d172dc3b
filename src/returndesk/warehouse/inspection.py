"""Inspection of received units: the inspector's findings per unit, the disposition the engine
recommends from them, and the return's move to `inspected` once every received unit is done.

A unit is addressed as API.md says: its receipt line and its number among the line's received
units (1-based). Posting the same findings again changes nothing; other findings for an
inspected unit are 409 `already_inspected` unless the post says `correction` (allowed until the
unit is dispositioned). docs/decisions/0006-warehouse.md, "Inspection".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Count, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_scopes import scopes_disabled
from pydantic import ValidationError as PydanticValidationError

from returndesk.catalog.models import Product
from returndesk.core.actors import Actor
from returndesk.core.audit import audit_record
from returndesk.core.errors import Conflict, FieldError, NotFound, ValidationFailed
from returndesk.core.ids import new_public_id
from returndesk.core.uploads import uploads_check
from returndesk.disposition.engine import (
    DAMAGED_GRADE,
    NOT_THE_ITEM_GRADE,
    DispositionInvalid,
    Item,
    Recommendation,
    Weighting,
    recommend,
)
from returndesk.disposition.figures import figures_for, parse_overrides
from returndesk.returns.lifecycle import return_event_record, return_transition
from returndesk.returns.models import INSPECTED, RECEIVED, Return
from returndesk.warehouse.models import (
    CLOSED,
    Inspection,
    InspectionDefect,
    InspectionSettings,
    Receipt,
    ReceiptLine,
)

# The default grading scale (a merchant may define its own; D and X keep their meaning).
DEFAULT_GRADES: tuple[tuple[str, Any], ...] = (
    ("A", _("Like new")),
    ("B", _("Open box")),
    ("C", _("Used")),
    (DAMAGED_GRADE, _("Damaged")),
    (NOT_THE_ITEM_GRADE, _("Not the item sold")),
)

# The provider-wide defect taxonomy; a merchant adds its own codes in its settings.
DEFECT_CODES: tuple[tuple[str, Any], ...] = (
    ("cosmetic", _("Cosmetic damage")),
    ("functional", _("Does not work")),
    ("missing_parts", _("Missing parts")),
    ("used_worn", _("Used or worn (wardrobing)")),
    ("packaging_damaged", _("Packaging damaged")),
    ("stained_soiled", _("Stained or soiled")),
    ("water_damage", _("Water damage")),
    ("wrong_item", _("Wrong item")),
    ("empty_box", _("Empty box")),
    ("counterfeit", _("Counterfeit")),
    ("other", _("Other")),
)

# Findings that contradict the shopper, and so count in the customer's risk history.
EMPTY_BOX = "empty_box"
WRONG_ITEM = "wrong_item"
COUNTERFEIT = "counterfeit"
SERIAL_NOT_SOLD = "serial_not_sold"
CLAIM_NOT_FOUND = "claim_not_found"  # "defective" (or damaged) claimed, no defect found
# Reasons that claim the unit is faulty: inspection finding nothing contradicts them.
FAULT_CLAIMS = frozenset({"defective", "damaged_in_transit"})
# Defect codes that are not a fault of the unit itself.
NOT_A_FAULT = frozenset({"packaging_damaged", "wrong_item", "empty_box", "counterfeit"})

MAX_NOTES = 4000
MAX_SECONDS = 24 * 3600


class NotReceived(ValidationFailed):
    code = "not_received"
    title = "Not received"


class ReceiptNotRecorded(Conflict):
    code = "receipt_open"
    title = "Box not recorded"


class AlreadyInspected(Conflict):
    code = "already_inspected"
    title = "Unit already inspected"


class AlreadyDispositioned(Conflict):
    code = "already_dispositioned"
    title = "Unit already dispositioned"


# ----------------------------------------------------------------------------------------------
# The merchant's settings


@dataclass(frozen=True)
class Settings:
    grades: tuple[tuple[str, Any], ...]  # (code, label); a default label is lazily translated
    defects: tuple[tuple[str, Any], ...]
    figures_overrides: Mapping[str, Any]
    weighting: Weighting

    @property
    def grade_codes(self) -> list[str]:
        return [code for code, _ in self.grades]

    @property
    def defect_codes(self) -> list[str]:
        return [code for code, _ in self.defects]


def _pairs(rows: Any) -> tuple[tuple[str, Any], ...]:
    return tuple((str(r["code"]), str(r.get("label") or r["code"])) for r in rows or [])


def settings_for(merchant_id: int) -> Settings:
    """The merchant's grading scale, defect codes (the provider's and its own), figure overrides
    and weighting; the defaults where it has set none."""
    with scopes_disabled():
        row = InspectionSettings.objects.filter(merchant_id=merchant_id).first()
    if row is None:
        return Settings(DEFAULT_GRADES, DEFECT_CODES, {}, Weighting())
    grades = _pairs(row.grade_scale) or DEFAULT_GRADES
    known = {code for code, _ in DEFECT_CODES}
    extra = tuple(pair for pair in _pairs(row.defect_codes) if pair[0] not in known)
    return Settings(
        grades=grades,
        defects=DEFECT_CODES + extra,
        figures_overrides=row.figures_overrides or {},
        weighting=Weighting(
            money_weight=Decimal(row.money_weight),
            carbon_price_per_tonne=row.carbon_price_per_tonne,
        ),
    )


def settings_save(
    *,
    actor: Actor,
    merchant_id: int,
    grade_scale: Sequence[Mapping[str, str]] = (),
    defect_codes: Sequence[Mapping[str, str]] = (),
    figures_overrides: Mapping[str, Any] | None = None,
    money_weight: Decimal = Decimal("0.5"),
    carbon_price_per_tonne: int = 20_000,
) -> InspectionSettings:
    """Set a merchant's scale, extra defect codes, figure overrides (validated by
    `disposition.figures.parse_overrides`) and weighting."""
    errors: list[FieldError] = []
    grades = [str(g.get("code", "")).strip().upper() for g in grade_scale]
    if grades and (len(set(grades)) != len(grades) or not all(grades)):
        errors.append(FieldError("grade_scale", "each grade once, with a code"))
    if grades and NOT_THE_ITEM_GRADE not in grades:
        errors.append(FieldError("grade_scale", "keep X, 'not the item sold'"))
    codes = [str(d.get("code", "")).strip() for d in defect_codes]
    if not all(c and c.replace("_", "").isalnum() and c.islower() for c in codes):
        errors.append(FieldError("defect_codes", "codes are lower case letters, digits and _"))
    try:
        parse_overrides(figures_overrides)
    except PydanticValidationError as exc:
        errors.append(FieldError("figures_overrides", str(exc.errors()[0]["msg"])))
    try:
        Weighting(money_weight=Decimal(money_weight), carbon_price_per_tonne=carbon_price_per_tonne)
    except DispositionInvalid as exc:
        errors.append(FieldError("weighting", str(exc)))
    if errors:
        raise ValidationFailed("; ".join(f"{e.field}: {e.message}" for e in errors), errors=errors)
    with transaction.atomic(), scopes_disabled():
        row, _ = InspectionSettings.objects.update_or_create(
            merchant_id=merchant_id,
            defaults={
                "grade_scale": [
                    {"code": code, "label": str(g.get("label") or code)}
                    for code, g in zip(grades, grade_scale, strict=True)
                ],
                "defect_codes": [
                    {"code": code, "label": str(d.get("label") or code)}
                    for code, d in zip(codes, defect_codes, strict=True)
                ],
                "figures_overrides": dict(figures_overrides or {}),
                "money_weight": Decimal(money_weight),
                "carbon_price_per_tonne": carbon_price_per_tonne,
            },
        )
        audit_record(
            actor=actor,
            action="inspection_settings.saved",
            object_type="inspection_settings",
            object_ref=str(merchant_id),
            merchant_id=merchant_id,
            changes={"grades": grades, "defect_codes": codes, "money_weight": str(money_weight)},
        )
    return row


# ----------------------------------------------------------------------------------------------
# Inspection


@dataclass(frozen=True)
class InspectionInput:
    grade: str
    accessories_missing: Sequence[str] = ()
    matches_description: bool = True
    serial_number: str = ""
    defects: Sequence[str] = ()
    notes: str = ""
    photo_upload_ids: Sequence[str] = ()
    seconds_spent: int | None = None
    correction: bool = False


@dataclass(frozen=True)
class InspectionResult:
    inspection: Inspection
    created: bool
    recommendation: dict[str, Any] = field(default_factory=dict)


def _normal(data: InspectionInput) -> dict[str, Any]:
    """The findings, comparable with what is stored (for the idempotent repeat)."""
    return {
        "grade": data.grade.strip().upper(),
        "accessories_missing": sorted(set(data.accessories_missing)),
        "matches_description": bool(data.matches_description),
        "serial_number": data.serial_number.strip().upper(),
        "defect_codes": sorted(set(data.defects)),
        "notes": data.notes.strip(),
        "photo_upload_ids": list(dict.fromkeys(data.photo_upload_ids)),
    }


def _stored(inspection: Inspection) -> dict[str, Any]:
    return {
        "grade": inspection.grade,
        "accessories_missing": list(inspection.accessories_missing),
        "matches_description": inspection.matches_description,
        "serial_number": inspection.serial_number,
        "defect_codes": list(inspection.defect_codes),
        "notes": inspection.notes,
        "photo_upload_ids": list(inspection.photo_upload_ids),
    }


def product_for(line: ReceiptLine) -> Product | None:
    """The catalogue product of a receipt line: the order line's, or by SKU on a receipt
    return."""
    order_line = line.return_line.order_line
    with scopes_disabled():
        if order_line is not None:
            return Product.objects.filter(pk=order_line.product_id).first()
        found = Product.objects.filter(merchant_id=line.merchant_id, sku=line.return_line.sku)
        return found.first()


def unit_count_check(line: ReceiptLine, unit: int | None) -> int:
    """The unit's number among the line's received units; 422 not_received otherwise."""
    received = line.received_quantity
    if received < 1:
        raise NotReceived(
            f"Nothing of line {line_name(line)} was received "
            f"({line.missing_quantity} missing): there is nothing to inspect.",
            errors=[FieldError("line_id", "no unit of this line was received")],
        )
    if unit is None:
        if received > 1:
            raise ValidationFailed.on(
                "unit", f"{received} units were received: say which (1 to {received})"
            )
        return 1
    if not 1 <= unit <= received:
        raise NotReceived(
            f"Unit {unit} of line {line_name(line)} was not received: "
            f"{received} of {line.expected_quantity} were.",
            errors=[FieldError("unit", f"from 1 to {received}")],
        )
    return unit


def line_name(line: ReceiptLine) -> str:
    order_line = line.return_line.order_line
    return order_line.line_id if order_line is not None else line.public_id


def _check(
    line: ReceiptLine,
    unit: int,
    data: InspectionInput,
    found: dict[str, Any],
    settings: Settings,
    product: Product | None,
) -> list[FieldError]:
    errors: list[FieldError] = []
    if found["grade"] not in settings.grade_codes:
        errors.append(FieldError("grade", f"one of {', '.join(settings.grade_codes)}"))
    unknown = [code for code in found["defect_codes"] if code not in settings.defect_codes]
    if unknown:
        errors.append(FieldError("defects", f"unknown defect codes: {', '.join(unknown)}"))
    accessories = {str(a.get("code")) for a in (product.accessories if product else [])}
    strange = [code for code in found["accessories_missing"] if code not in accessories]
    if strange:
        offered = ", ".join(sorted(accessories)) or "none"
        errors.append(
            FieldError(
                "accessories_missing",
                f"not accessories of this product: {', '.join(strange)} (it has {offered})",
            )
        )
    unit_absent = EMPTY_BOX in found["defect_codes"] or found["grade"] == NOT_THE_ITEM_GRADE
    serialized = product is not None and product.serialized
    if serialized and not found["serial_number"] and not unit_absent:
        errors.append(
            FieldError("serial_number", "a serialized product is inspected with its serial")
        )
    if len(found["serial_number"]) > 100:
        errors.append(FieldError("serial_number", "at most 100 characters"))
    if len(found["notes"]) > MAX_NOTES:
        errors.append(FieldError("notes", f"at most {MAX_NOTES} characters"))
    if data.seconds_spent is not None and not 0 <= data.seconds_spent <= MAX_SECONDS:
        errors.append(FieldError("seconds_spent", "from 0 to 86,400"))
    if found["serial_number"]:
        twin = (
            Inspection.objects.filter(
                receipt_line__receipt_id=line.receipt_id, serial_number=found["serial_number"]
            )
            .exclude(receipt_line=line, unit=unit)
            .first()
        )
        if twin is not None:
            errors.append(
                FieldError("serial_number", f"already recorded on unit {twin.unit} of this return")
            )
    return errors


def serial_sold(line: ReceiptLine, serial: str) -> bool | None:
    """Whether the serial was sold on the order line; None when there is nothing to check."""
    order_line = line.return_line.order_line
    sold = [str(s).strip().upper() for s in (order_line.serial_numbers if order_line else [])]
    if not serial or not sold:
        return None
    return serial in sold


def contradictions_of(found: dict[str, Any], reason: str, sold: bool | None) -> list[str]:
    """The findings that contradict what the shopper said or sent."""
    codes = set(found["defect_codes"])
    out = []
    if EMPTY_BOX in codes:
        out.append(EMPTY_BOX)
    if WRONG_ITEM in codes or found["grade"] == NOT_THE_ITEM_GRADE:
        out.append(WRONG_ITEM)
    if COUNTERFEIT in codes:
        out.append(COUNTERFEIT)
    if sold is False:
        out.append(SERIAL_NOT_SOLD)
    faults = codes - NOT_A_FAULT
    if reason in FAULT_CLAIMS and not faults and not out and found["grade"] != DAMAGED_GRADE:
        out.append(CLAIM_NOT_FOUND)
    return out


def item_for(
    line: ReceiptLine,
    product: Product | None,
    found: dict[str, Any],
    settings: Settings,
    currency: str,
) -> Item:
    """The engine's view of the unit: the product's figures, the grade and the defects. A unit
    graded below the best grade has been opened; missing accessories are missing parts."""
    resale = line.return_line.value_amount // max(line.return_line.quantity, 1)
    if product is not None:
        resale = product.resale_value_amount or product.price_amount
    defects = set(found["defect_codes"])
    if found["accessories_missing"]:
        defects.add("missing_parts")
    return Item(
        sku=line.return_line.sku,
        category=(product.category if product else "") or "other",
        resale_value=int(resale),
        currency=product.currency if product else currency,
        grade=found["grade"],
        opened=found["grade"] != settings.grade_codes[0],
        hazardous=bool(product and product.hazardous),
        defect_codes=tuple(sorted(defects)),
        weight_kg=Decimal(product.weight_grams or 0) / 1000 if product else Decimal(0),
    )


def recommendation_for(
    line: ReceiptLine, product: Product | None, found: dict[str, Any], settings: Settings
) -> Recommendation:
    """The engine's answer for the unit, with the merchant's figures and weighting; the
    product's own refurbishment and repair costs replace the category's."""
    figures = figures_for(
        (product.category if product else "") or "other",
        parse_overrides(settings.figures_overrides),
    )
    if product is not None and product.refurbish_cost_amount is not None:
        figures = replace(figures, refurbishment_cost=int(product.refurbish_cost_amount))
    if product is not None and product.repair_cost_amount is not None:
        figures = replace(figures, repair_cost=int(product.repair_cost_amount))
    item = item_for(line, product, found, settings, line.return_line.currency)
    try:
        return recommend(item, figures, settings.weighting)
    except DispositionInvalid as exc:
        raise ValidationFailed.on("grade", str(exc)) from exc


def lock_return(line: ReceiptLine) -> tuple[Return, Receipt]:
    receipt = Receipt.objects.select_related("facility").get(pk=line.receipt_id)
    # With its order, so a transition made under this lock can use it as it is (lock_held).
    ret = (
        Return.objects.select_for_update(of=("self",))
        .select_related("order")
        .get(pk=receipt.return_request_id)
    )
    return ret, receipt


def _receipt_ready(receipt: Receipt) -> None:
    if receipt.is_exception:
        raise ReceiptNotRecorded(
            f"Receipt {receipt.public_id} is a receiving exception ({receipt.exception_kind}): "
            "staff must resolve it before its units are inspected."
        )
    if receipt.state != CLOSED:
        raise ReceiptNotRecorded(
            f"Record what the box held (receipt {receipt.public_id}) before inspecting it."
        )


def inspection_record(
    *, actor: Actor, receipt_line: ReceiptLine, unit: int | None, data: InspectionInput
) -> InspectionResult:
    """Record the findings on one received unit and answer the recommended disposition.

    The same findings again change nothing (created False); other findings are 409
    already_inspected unless `data.correction`, and 409 already_dispositioned once the unit has
    a disposition. A line or unit not received is 422 not_received; a receipt whose box is not
    recorded is 409 receipt_open. When every received unit of the return is inspected, the
    return becomes `inspected`."""
    with transaction.atomic(), scopes_disabled():
        ret, receipt = lock_return(receipt_line)
        _receipt_ready(receipt)
        line = (
            ReceiptLine.objects.select_related("return_line", "return_line__order_line")
            .select_for_update(of=("self",))
            .get(pk=receipt_line.pk)
        )
        number = unit_count_check(line, unit)
        settings = settings_for(line.merchant_id)
        found = _normal(data)
        product = product_for(line)
        existing = Inspection.objects.filter(receipt_line=line, unit=number).first()
        if existing is not None and _stored(existing) == found:
            return InspectionResult(existing, False, recommendation=existing.recommendation_figures)
        if existing is not None:
            if hasattr(existing, "disposition"):
                raise AlreadyDispositioned(
                    f"Unit {number} of line {line_name(line)} is already dispositioned "
                    f"({existing.disposition.option}); its inspection stays as it is."
                )
            if not data.correction:
                raise AlreadyInspected(
                    f"Unit {number} of line {line_name(line)} was inspected with other "
                    "findings; send correction: true to replace them."
                )
        errors = _check(line, number, data, found, settings, product)
        if errors:
            detail = "; ".join(f"{e.field}: {e.message}" for e in errors)
            raise ValidationFailed(detail, errors=errors)
        uploads_check(
            merchant_id=line.merchant_id,
            ids=found["photo_upload_ids"],
            purpose="photo",
            field="photo_upload_ids",
        )
        if ret.status not in (RECEIVED, INSPECTED):
            raise Conflict(
                f"Return {ret.ran} is {ret.status}: its units are no longer inspected.",
                code="invalid_transition",
            )
        recommendation = recommendation_for(line, product, found, settings)
        sold = serial_sold(line, found["serial_number"])
        contradictions = contradictions_of(found, line.return_line.reason, sold)
        inspection = existing or Inspection(
            merchant_id=line.merchant_id,
            public_id=new_public_id("insp"),
            receipt_line=line,
            return_request=ret,
            facility_id=receipt.facility_id,
            unit=number,
            sku=line.return_line.sku,
            reason=line.return_line.reason,
        )
        for name, value in found.items():
            setattr(inspection, name, value)
        inspection.serial_sold = sold
        inspection.contradictions = contradictions
        inspection.contradicted = bool(contradictions)
        inspection.recommendation = recommendation.option
        inspection.recommendation_figures = recommendation.as_dict()
        inspection.inspected_at = timezone.now()
        inspection.seconds_spent = data.seconds_spent
        inspection.inspected_by_label = actor.label
        inspection.inspected_by_user_id = actor.user_id
        inspection.inspected_by_api_key_id = actor.api_key_id
        if existing is not None:
            inspection.corrections += 1
        inspection.save()
        if existing is not None:  # a correction replaces the defects; a new one has none
            InspectionDefect.objects.filter(inspection=inspection).delete()
        InspectionDefect.objects.bulk_create(
            InspectionDefect(
                merchant_id=inspection.merchant_id,
                inspection=inspection,
                code=code,
                sku=inspection.sku,
                reason=inspection.reason,
                inspected_at=inspection.inspected_at,
            )
            for code in found["defect_codes"]
        )
        summary = {
            "inspection": inspection.public_id,
            "sku": inspection.sku,
            "unit": number,
            "grade": inspection.grade,
            "defects": found["defect_codes"],
            "accessories_missing": found["accessories_missing"],
            "contradictions": contradictions,
            "recommendation": recommendation.option,
            "correction": existing is not None,
        }
        return_event_record(
            ret=ret,
            type="return.unit_inspected",
            actor=actor,
            channel="warehouse",
            payload=summary,
            notify=False,
        )
        audit_record(
            actor=actor,
            action="inspection.corrected" if existing else "inspection.recorded",
            object_type="inspection",
            object_ref=inspection.public_id,
            merchant_id=inspection.merchant_id,
            changes={**summary, "before": _stored(existing) if existing else None},
        )
        if ret.status == RECEIVED and not units_to_inspect(receipt):
            return_transition(
                ret=ret,
                to_status=INSPECTED,
                actor=actor,
                reason="every received unit is inspected",
                channel="warehouse",
                payload=inspection_summary(receipt),
                lock_held=True,  # locked above by lock_return, with its order
            )
    return InspectionResult(inspection, existing is None, recommendation=recommendation.as_dict())


def units_of(receipt: Receipt) -> list[tuple[ReceiptLine, int]]:
    """Every received unit of the receipt, line by line; lines with nothing received have none
    (the receipt recorded them missing)."""
    lines = ReceiptLine.objects.filter(receipt=receipt).order_by("pk")
    return [(line, unit) for line in lines for unit in line.units]


def units_to_inspect(receipt: Receipt) -> list[tuple[ReceiptLine, int]]:
    done = set(
        Inspection.objects.filter(receipt_line__receipt=receipt).values_list(
            "receipt_line_id", "unit"
        )
    )
    return [(line, unit) for line, unit in units_of(receipt) if (line.pk, unit) not in done]


def inspection_summary(receipt: Receipt) -> dict[str, Any]:
    inspections = Inspection.objects.filter(receipt_line__receipt=receipt).order_by("pk")
    lines = ReceiptLine.objects.filter(receipt=receipt).select_related("return_line")
    return {
        "receipt": receipt.public_id,
        "inspected_units": inspections.count(),
        "missing_units": sum(line.missing_quantity for line in lines),
        "contradicted": any(i.contradicted for i in inspections),
        "grades": [i.grade for i in inspections],
    }


# ----------------------------------------------------------------------------------------------
# Reads


def inspections_of(ret: Return) -> QuerySet[Inspection]:
    with scopes_disabled():
        return (
            Inspection.objects.filter(return_request=ret)
            .select_related("receipt_line", "receipt_line__return_line__order_line")
            .order_by("receipt_line_id", "unit")
        )


def inspection_get(*, receipt_line: ReceiptLine, unit: int) -> Inspection | None:
    with scopes_disabled():
        return (
            Inspection.objects.filter(receipt_line=receipt_line, unit=unit)
            .select_related("receipt_line")
            .first()
        )


@dataclass(frozen=True)
class DefectTrend:
    key: str  # the SKU or the reason
    code: str
    count: int


def defect_trends(
    *,
    merchant_id: int,
    by: str = "sku",
    since: datetime | None = None,
    until: datetime | None = None,
    skus: Iterable[str] | None = None,
) -> list[DefectTrend]:
    """Defects counted per SKU (or per return reason) and code, most frequent first: what the
    analytics issue charts. Reads `InspectionDefect` through its (merchant, sku|reason, code,
    inspected_at) indexes."""
    if by not in ("sku", "reason"):
        raise ValueError("by is sku or reason")
    with scopes_disabled():
        rows = InspectionDefect.objects.filter(merchant_id=merchant_id)
        if since is not None:
            rows = rows.filter(inspected_at__gte=since)
        if until is not None:
            rows = rows.filter(inspected_at__lt=until)
        if skus is not None:
            rows = rows.filter(sku__in=list(skus))
        counted = rows.values(by, "code").annotate(n=Count("pk")).order_by("-n", by, "code")
        return [DefectTrend(row[by], row["code"], row["n"]) for row in counted]


def receipt_line_find(*, ret: Return, line_id: str) -> ReceiptLine:
    """The return's receipt line by the order's line id or its own id (rcl_...). 404 for a line
    the return does not have; 422 not_received when the return has no receipt yet."""
    with scopes_disabled():
        receipt = Receipt.objects.filter(return_request=ret).first()
        if receipt is None:
            known = ret.lines.filter(order_line__line_id=line_id).exists()
            if known:
                raise NotReceived(
                    "Nothing of this return has been received: scan its package first.",
                    errors=[FieldError("line_id", "not received")],
                )
            raise NotFound(f"No line {line_id} in this return.")
        lines = list(
            ReceiptLine.objects.filter(receipt=receipt).select_related(
                "receipt", "receipt__facility", "return_line", "return_line__order_line"
            )
        )
    for line in lines:
        order_line = line.return_line.order_line
        if line.public_id == line_id or (order_line is not None and order_line.line_id == line_id):
            return line
    raise NotFound(f"No line {line_id} in this return.")
