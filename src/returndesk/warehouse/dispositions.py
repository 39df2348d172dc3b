"""Disposition of inspected units: the worker takes the engine's recommendation or chooses
another option with a reason (an override), the unit gets its LPN and goes into the inventory
ledger, and when every received unit of the return is dispositioned the return is ready for the
refund's final step (`return.dispositioned` on the timeline; `completed` belongs to refunds).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django_scopes import scopes_disabled

from returndesk.core.actors import Actor
from returndesk.core.audit import audit_record
from returndesk.core.codes import format_ran
from returndesk.core.errors import Conflict, FieldError, ValidationFailed
from returndesk.core.ids import new_public_id
from returndesk.disposition.engine import OPTIONS, QUARANTINE
from returndesk.returns.lifecycle import return_event_record
from returndesk.returns.models import INSPECTED, Return
from returndesk.warehouse.inspection import (
    AlreadyDispositioned,
    line_name,
    lock_return,
    unit_count_check,
    units_of,
)
from returndesk.warehouse.inventory import CONDITION_OF, movement_write
from returndesk.warehouse.models import Disposition, Inspection, Receipt, ReceiptLine
from returndesk.warehouse.tags import TagDocument, new_lpn

CHOICES = (*OPTIONS, QUARANTINE)
MAX_REASON = 1000
READY_EVENT = "return.dispositioned"


class NotInspected(Conflict):
    code = "not_inspected"
    title = "Unit not inspected"


@dataclass(frozen=True)
class DispositionResult:
    disposition: Disposition
    created: bool
    return_ready: bool  # every received unit of the return is dispositioned


def _option_allowed(inspection: Inspection, option: str) -> str | None:
    """Why the engine's rules exclude the option for this unit, or None when allowed."""
    figures = inspection.recommendation_figures or {}
    if inspection.recommendation == QUARANTINE:
        return None  # anything may be chosen out of quarantine, with a reason
    for ranked in figures.get("options", []):
        if ranked.get("option") == option and not ranked.get("allowed", True):
            rules = "; ".join(e.get("message", "") for e in ranked.get("excluded_by", []))
            return rules or "the rules exclude it"
    return None


def _chosen_figures(inspection: Inspection, option: str) -> dict[str, Any]:
    for ranked in (inspection.recommendation_figures or {}).get("options", []):
        if ranked.get("option") == option:
            return dict(ranked.get("figures") or {})
    return {}


def disposition_record(
    *,
    actor: Actor,
    receipt_line: ReceiptLine,
    unit: int | None,
    option: str,
    reason: str = "",
) -> DispositionResult:
    """Record what happens to an inspected unit. A choice other than the recommendation needs a
    reason and is recorded as an override; an option the engine's rules exclude (a grade D unit
    restocked, an opened hygiene product sold) is refused (422). The same choice again changes
    nothing; another choice for a dispositioned unit is 409 already_dispositioned. Writes the
    inventory movement (a restock queues `inventory.restocked`), gives the unit its LPN, and
    when every received unit is dispositioned records `return.dispositioned`."""
    option = option.strip().lower()
    reason = reason.strip()
    with transaction.atomic(), scopes_disabled():
        ret, receipt = lock_return(receipt_line)
        line = ReceiptLine.objects.select_related("return_line", "return_line__order_line").get(
            pk=receipt_line.pk
        )
        number = unit_count_check(line, unit)
        inspection = (
            Inspection.objects.select_for_update(of=("self",))
            .filter(receipt_line=line, unit=number)
            .first()
        )
        if inspection is None:
            raise NotInspected(
                f"Unit {number} of line {line_name(line)} is not inspected yet: inspect it "
                "first, the recommendation comes from the inspection."
            )
        existing = Disposition.objects.filter(inspection=inspection).first()
        if existing is not None:
            if existing.option == option and (existing.reason == reason or not reason):
                return DispositionResult(existing, False, _all_done(receipt))
            raise AlreadyDispositioned(
                f"Unit {number} of line {line_name(line)} is already dispositioned "
                f"({existing.option}, tag {existing.lpn})."
            )
        errors: list[FieldError] = []
        if option not in CHOICES:
            errors.append(FieldError("disposition", f"one of {', '.join(CHOICES)}"))
        overridden = option != inspection.recommendation
        if overridden and not reason:
            errors.append(
                FieldError(
                    "reason",
                    f"say why, when choosing {option or 'another option'} over the recommended "
                    f"{inspection.recommendation}",
                )
            )
        if len(reason) > MAX_REASON:
            errors.append(FieldError("reason", f"at most {MAX_REASON} characters"))
        if option in CHOICES and overridden:
            excluded = _option_allowed(inspection, option)
            if excluded is not None:
                errors.append(FieldError("disposition", f"{option} is excluded: {excluded}"))
        if errors:
            detail = "; ".join(f"{e.field}: {e.message}" for e in errors)
            raise ValidationFailed(detail, errors=errors)
        disposition = Disposition(
            merchant_id=inspection.merchant_id,
            public_id=new_public_id("disp"),
            inspection=inspection,
            return_request=ret,
            facility_id=receipt.facility_id,
            sku=inspection.sku,
            option=option,
            recommended=inspection.recommendation,
            overridden=overridden,
            reason=reason,
            figures=_chosen_figures(inspection, option),
            condition=CONDITION_OF[option],
            decided_at=timezone.now(),
            decided_by_label=actor.label,
            decided_by_user_id=actor.user_id,
            decided_by_api_key_id=actor.api_key_id,
        )
        for attempt in range(5):  # an LPN is random: a clash is astronomically rare, but retry
            disposition.lpn = new_lpn()
            try:
                with transaction.atomic():
                    disposition.save()
                break
            except IntegrityError:
                if attempt == 4:
                    raise
        movement_write(
            actor=actor,
            merchant_id=disposition.merchant_id,
            facility=receipt.facility,
            sku=disposition.sku,
            condition=disposition.condition,
            quantity=1,
            kind="disposition",
            lpn=disposition.lpn,
            disposition=disposition,
        )
        summary = {
            "disposition": disposition.public_id,
            "sku": disposition.sku,
            "unit": number,
            "option": option,
            "recommended": disposition.recommended,
            "overridden": overridden,
            "reason": reason or None,
            "lpn": disposition.lpn,
            "condition": disposition.condition,
        }
        return_event_record(
            ret=ret,
            type="return.unit_dispositioned",
            actor=actor,
            channel="warehouse",
            payload=summary,
            notify=False,
        )
        audit_record(
            actor=actor,
            action="disposition.overridden" if overridden else "disposition.recorded",
            object_type="disposition",
            object_ref=disposition.public_id,
            merchant_id=disposition.merchant_id,
            changes=summary,
        )
        done = _all_done(receipt)
        if done and ret.status == INSPECTED:
            _ready(actor=actor, ret=ret, receipt=receipt)
    return DispositionResult(disposition, True, done)


def _all_done(receipt: Receipt) -> bool:
    done = set(
        Disposition.objects.filter(inspection__receipt_line__receipt=receipt).values_list(
            "inspection__receipt_line_id", "inspection__unit"
        )
    )
    return all((line.pk, unit) in done for line, unit in units_of(receipt))


def _ready(*, actor: Actor, ret: Return, receipt: Receipt) -> None:
    """Every received unit is dispositioned: the return waits for the refund's final step."""
    if ret.events.filter(type=READY_EVENT).exists():
        return
    dispositions = Disposition.objects.filter(return_request=ret).order_by("pk")
    return_event_record(
        ret=ret,
        type=READY_EVENT,
        actor=actor,
        channel="warehouse",
        reason="every received unit is dispositioned: ready for the refund's final step",
        payload={
            "receipt": receipt.public_id,
            "ran": format_ran(ret.ran),
            "dispositions": [
                {"lpn": d.lpn, "sku": d.sku, "option": d.option, "overridden": d.overridden}
                for d in dispositions
            ],
        },
        notify=False,
    )


def return_ready_for_completion(ret: Return) -> bool:
    """Whether the warehouse is done with the return (inspected, every received unit
    dispositioned): what the refund issue's final step waits for."""
    with scopes_disabled():
        return ret.status == INSPECTED and ret.events.filter(type=READY_EVENT).exists()


def dispositions_of(ret: Return) -> list[Disposition]:
    with scopes_disabled():
        return list(
            Disposition.objects.filter(return_request=ret)
            .select_related("inspection", "inspection__receipt_line__return_line__order_line")
            .order_by("inspection__receipt_line_id", "inspection__unit")
        )


def disposition_for(*, receipt_line: ReceiptLine, unit: int) -> Disposition | None:
    with scopes_disabled():
        return (
            Disposition.objects.filter(inspection__receipt_line=receipt_line, inspection__unit=unit)
            .select_related("inspection", "facility")
            .first()
        )


def tag_document(found: Disposition, *, ret: Return) -> TagDocument:
    """What the unit's item tag shows."""
    with scopes_disabled():
        line = found.inspection.receipt_line
        name = line.return_line.name or found.sku
        merchant = ret.merchant.name
        facility = found.facility.code
    return TagDocument(
        lpn=found.lpn,
        sku=found.sku,
        name=name,
        disposition=found.option,
        condition=found.condition,
        grade=found.inspection.grade,
        ran=format_ran(ret.ran),
        facility_code=facility,
        merchant_name=merchant,
        decided_at=found.decided_at.date().isoformat(),
    )
