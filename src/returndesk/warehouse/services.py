"""Receiving: a scanned package becomes a receipt for its return (or an unidentified package),
and the worker records what the box held.

The return's status changes only through `returns.lifecycle.return_transition`; the receipt is
written in the same transaction, under the return's row lock, so two stations scanning the same
package at once get one receipt (R3 of QUALITY.md). See docs/decisions/0006-warehouse.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django_scopes import scopes_disabled

from returndesk.core.actors import Actor
from returndesk.core.audit import audit_record
from returndesk.core.codes import RanInvalid, format_ran, normalize_ran, parse_ran
from returndesk.core.errors import Conflict, FieldError, NotFound, ValidationFailed
from returndesk.core.ids import new_public_id
from returndesk.core.uploads import uploads_check, uploads_transfer
from returndesk.returns.lifecycle import (
    return_event_record,
    return_exception_flag,
    return_transition,
)
from returndesk.returns.models import (
    AUTHORIZED,
    DELIVERED,
    IN_TRANSIT,
    LOST,
    RECEIVED,
    Return,
    ReturnLine,
)
from returndesk.tenants.models import Facility
from returndesk.warehouse import selectors
from returndesk.warehouse.models import (
    CLOSED,
    MATCHED_LINK,
    MATCHED_RAN,
    PACKAGE_CONDITIONS,
    Receipt,
    ReceiptLine,
    UnidentifiedPackage,
)

# A package for a return in one of these states is received (API.md, "Return status").
RECEIVABLE = frozenset({AUTHORIZED, IN_TRANSIT, DELIVERED, LOST})

# What a scan came to.
RECEIVED_NOW = "received"  # a new receipt; the return is now received
ALREADY_RECEIVED = "already_received"  # the package was scanned before: the same receipt
EXCEPTION = "exception"  # a receipt exception: the return could not be received
UNIDENTIFIED = "unidentified"  # nothing matched: an unidentified package

MAX_EXTRA_ITEMS = 50
MAX_PACKAGE_PHOTOS = 20
MAX_NOTES = 4000


class ReceiptClosed(Conflict):
    code = "receipt_closed"
    title = "Receipt already recorded"


class AlreadyLinked(Conflict):
    code = "already_linked"
    title = "Package already linked"


@dataclass(frozen=True)
class ScanResult:
    outcome: str  # received, already_received, exception, unidentified
    created: bool
    receipt: Receipt | None = None
    package: UnidentifiedPackage | None = None
    matched_by: str = ""
    # A receipt written by this scan comes with its lines (each with its return line and order
    # line), so the answer can be given without reading back what was just written.
    receipt_lines: tuple[ReceiptLine, ...] | None = None


@dataclass(frozen=True)
class LineCount:
    line_id: str  # the order's line id, or the receipt line's own id (rcl_...)
    quantity: int


@dataclass(frozen=True)
class ExtraItem:
    description: str
    quantity: int = 1
    sku: str = ""


@dataclass(frozen=True)
class WrongItem:
    line_id: str
    description: str
    sku: str = ""


def _actor_fields(actor: Actor) -> dict[str, Any]:
    return {
        "received_by_label": actor.label,
        "received_by_user_id": actor.user_id,
        "received_by_api_key_id": actor.api_key_id,
    }


def receipt_scan(
    *,
    actor: Actor,
    facility: Facility,
    code: str,
    merchant_ids: Iterable[int] | None = None,
    facility_merchant_ids: frozenset[int] | None = None,
) -> ScanResult:
    """Match a scanned code and receive the package: by exact tracking number or drop-off code
    first, then as a RAN. A RAN with a wrong check character raises RanInvalid (nothing is
    recorded); a code that matches no return of a merchant this facility serves (and, when given,
    one of `merchant_ids`) becomes an unidentified package. `facility_merchant_ids`, when the
    caller has already read them, are the merchants the facility serves."""
    code = code.strip()
    if not code:
        raise ValidationFailed.on("code", "scan or type a code")
    if len(code) > 100:
        raise ValidationFailed.on("code", "a code has at most 100 characters")
    served = (
        facility_merchant_ids
        if facility_merchant_ids is not None
        else selectors.facility_merchant_ids(facility)
    )
    if merchant_ids is not None:
        served = served & frozenset(merchant_ids)
    ret: Return | None = None
    matched_by = ""
    found = selectors.label_match(code=code)
    if found is not None:
        label, matched_by = found
        ret = label.return_request
    else:
        try:
            normalized = normalize_ran(code)
        except RanInvalid:
            normalized = ""  # not shaped like a RAN at all: nothing to match
        if normalized:
            ran = parse_ran(normalized)  # a wrong check character: "mistyped", nothing recorded
            ret = selectors.return_by_ran(ran=ran, merchant_ids=served)
            matched_by = MATCHED_RAN
    if ret is None or ret.merchant_id not in served:
        # Another merchant's return looks the same as no return at all from this facility.
        return _unidentified(actor=actor, facility=facility, code=code)
    return _receive(actor=actor, ret=ret, facility=facility, code=code, matched_by=matched_by)


def _receive(
    *, actor: Actor, ret: Return, facility: Facility, code: str, matched_by: str
) -> ScanResult:
    with transaction.atomic(), scopes_disabled():
        # The one row lock of the scan (R3): a second station scanning the same package waits
        # here, then finds the receipt. The order comes along for the transition's outbox row.
        locked = (
            Return.objects.select_for_update(of=("self",)).select_related("order").get(pk=ret.pk)
        )
        # Under the lock, so a receipt another station just wrote is seen (a narrow query: most
        # scans find none).
        prior = Receipt.objects.filter(return_request=locked)
        existing = prior.select_related("facility").first() if prior.exists() else None
        if existing is not None:
            if existing.is_exception and locked.status in RECEIVABLE:
                # Staff made the return receivable (reopened, approved): this scan receives it.
                existing.exception_resolved_at = timezone.now()
                existing.save(update_fields=["exception_resolved_at", "updated_at"])
                _transition_received(actor=actor, ret=locked, receipt=existing, lock_held=True)
                return ScanResult(RECEIVED_NOW, False, receipt=existing, matched_by=matched_by)
            outcome = EXCEPTION if existing.is_exception else ALREADY_RECEIVED
            return ScanResult(outcome, False, receipt=existing, matched_by=matched_by)
        receivable = locked.status in RECEIVABLE
        receipt = Receipt(
            merchant_id=locked.merchant_id,
            public_id=new_public_id("rcpt"),
            return_request=locked,
            facility=facility,
            code=code,
            matched_by=matched_by,
            received_at=timezone.now(),
            exception_kind="" if receivable else locked.status,
            **_actor_fields(actor),
        )
        receipt.save()
        lines = ReturnLine.objects.filter(return_request=locked).select_related("order_line")
        receipt_lines = tuple(
            ReceiptLine.objects.bulk_create(
                ReceiptLine(
                    merchant_id=locked.merchant_id,
                    receipt=receipt,
                    return_line=line,
                    public_id=new_public_id("rcl"),
                    expected_quantity=line.quantity,
                )
                for line in lines.order_by("pk")
            )
        )
        if receivable:
            _transition_received(actor=actor, ret=locked, receipt=receipt, lock_held=True)
            return ScanResult(
                RECEIVED_NOW,
                True,
                receipt=receipt,
                matched_by=matched_by,
                receipt_lines=receipt_lines,
            )
        return_exception_flag(
            ret=locked,
            reason=f"A package for this {locked.status} return arrived at facility "
            f"{facility.code} (receipt {receipt.public_id}); staff must decide what happens to it.",
            actor=actor,
            payload={"receipt": receipt.public_id, "facility": facility.code, "code": code},
        )
        return ScanResult(
            EXCEPTION, True, receipt=receipt, matched_by=matched_by, receipt_lines=receipt_lines
        )


def _transition_received(
    *, actor: Actor, ret: Return, receipt: Receipt, lock_held: bool = False
) -> None:
    return_transition(
        ret=ret,
        to_status=RECEIVED,
        actor=actor,
        reason=f"received at facility {receipt.facility.code}",
        channel="warehouse",
        payload={
            "receipt": receipt.public_id,
            "facility": receipt.facility.code,
            "matched_by": receipt.matched_by,
        },
        lock_held=lock_held,
    )


def _unidentified(*, actor: Actor, facility: Facility, code: str) -> ScanResult:
    open_packages = UnidentifiedPackage.objects.filter(
        facility=facility, code=code, linked_at__isnull=True
    )
    existing = open_packages.first()
    if existing is not None:
        return ScanResult(UNIDENTIFIED, False, package=existing)
    package = UnidentifiedPackage(
        public_id=new_public_id("unid"),
        facility=facility,
        code=code,
        received_at=timezone.now(),
        **_actor_fields(actor),
    )
    try:
        with transaction.atomic():
            package.save()
            audit_record(
                actor=actor,
                action="unidentified_package.recorded",
                object_type="unidentified_package",
                object_ref=package.public_id,
                changes={"facility": facility.code, "code": code},
            )
    except IntegrityError:
        # Another station recorded the same code a moment ago: that one is the package.
        existing = open_packages.first()
        if existing is None:
            raise
        return ScanResult(UNIDENTIFIED, False, package=existing)
    return ScanResult(UNIDENTIFIED, True, package=package)


def _line_key(line: ReceiptLine) -> list[str]:
    keys = [line.public_id]
    order_line = line.return_line.order_line
    if order_line is not None:
        keys.append(order_line.line_id)
    return keys


def _contents_of(receipt: Receipt, lines: list[ReceiptLine]) -> dict[str, Any]:
    """The recorded contents, comparable with a new recording (for an idempotent PUT)."""
    wrong = next((line for line in lines if line.wrong_item), None)
    return {
        "lines": {line.pk: line.received_quantity for line in lines},
        "extra_items": receipt.extra_items,
        "wrong_item": (
            {
                "line": wrong.pk,
                "description": wrong.wrong_item_description,
                "sku": wrong.wrong_item_sku,
            }
            if wrong
            else None
        ),
        "package_condition": receipt.package_condition,
        "weight_grams": receipt.weight_grams,
        "photo_upload_ids": list(receipt.photo_upload_ids),
        "notes": receipt.notes,
    }


def receipt_record(
    *,
    actor: Actor,
    receipt: Receipt,
    lines: Sequence[LineCount],
    extra_items: Sequence[ExtraItem] = (),
    missing: Sequence[str] = (),
    wrong_item: WrongItem | None = None,
    package_condition: str = "intact",
    weight_grams: int | None = None,
    photo_upload_ids: Sequence[str] = (),
    notes: str = "",
) -> Receipt:
    """Record what the box held and close the receipt. Lines not given received nothing; units
    not received are missing (`missing` may name such lines, and naming a complete line is an
    error). Recording the same contents again changes nothing; other contents on a closed
    receipt are 409 receipt_closed."""
    with transaction.atomic(), scopes_disabled():
        locked = (
            Receipt.objects.select_for_update(of=("self",))
            .select_related("facility")
            .get(pk=receipt.pk)
        )
        receipt_lines = list(
            ReceiptLine.objects.filter(receipt=locked)
            .select_related("return_line", "return_line__order_line")
            .order_by("pk")
        )
        by_key: dict[str, ReceiptLine] = {}
        for line in receipt_lines:
            for key in _line_key(line):
                by_key.setdefault(key, line)
        errors: list[FieldError] = []
        received: dict[int, int] = {}
        for i, count in enumerate(lines):
            counted = by_key.get(count.line_id)
            if counted is None:
                errors.append(FieldError(f"lines[{i}].line_id", "is not a line of this return"))
            elif counted.pk in received:
                errors.append(FieldError(f"lines[{i}].line_id", "is given twice"))
            elif count.quantity < 0:
                errors.append(FieldError(f"lines[{i}].quantity", "must be 0 or more"))
            elif count.quantity > counted.expected_quantity:
                errors.append(
                    FieldError(
                        f"lines[{i}].quantity",
                        f"the return expects {counted.expected_quantity}; record surplus units "
                        "under extra_items",
                    )
                )
            else:
                received[counted.pk] = count.quantity
        for i, line_id in enumerate(missing):
            named = by_key.get(line_id)
            if named is None:
                errors.append(FieldError(f"missing[{i}]", "is not a line of this return"))
            elif received.get(named.pk, 0) >= named.expected_quantity:
                errors.append(FieldError(f"missing[{i}]", "every unit of this line was received"))
        wrong_line: ReceiptLine | None = None
        if wrong_item is not None:
            wrong_line = by_key.get(wrong_item.line_id)
            if wrong_line is None:
                errors.append(FieldError("wrong_item.line_id", "is not a line of this return"))
            elif received.get(wrong_line.pk, 0) < 1:
                errors.append(
                    FieldError(
                        "wrong_item.line_id",
                        "count the wrong item among the line's received units, so that it is "
                        "inspected",
                    )
                )
            if not wrong_item.description.strip():
                errors.append(FieldError("wrong_item.description", "say what came instead"))
        if len(extra_items) > MAX_EXTRA_ITEMS:
            errors.append(FieldError("extra_items", f"at most {MAX_EXTRA_ITEMS} entries"))
        for i, extra in enumerate(extra_items):
            if not extra.description.strip() and not extra.sku.strip():
                errors.append(FieldError(f"extra_items[{i}].description", "say what it is"))
            if extra.quantity < 1:
                errors.append(FieldError(f"extra_items[{i}].quantity", "must be 1 or more"))
        if package_condition not in PACKAGE_CONDITIONS:
            errors.append(
                FieldError("package_condition", f"one of {', '.join(PACKAGE_CONDITIONS)}")
            )
        if weight_grams is not None and not 0 < weight_grams <= 1_000_000:
            errors.append(FieldError("weight_grams", "between 1 and 1,000,000 grams"))
        if errors:
            detail = "; ".join(f"{e.field}: {e.message}" for e in errors)
            raise ValidationFailed(detail, errors=errors)
        uploads_check(
            merchant_id=locked.merchant_id,
            ids=photo_upload_ids,
            purpose="photo",
            field="photo_upload_ids",
        )
        extras = [
            {"description": e.description.strip(), "quantity": e.quantity, "sku": e.sku.strip()}
            for e in extra_items
        ]
        wanted: dict[str, Any] = {
            "lines": {line.pk: received.get(line.pk, 0) for line in receipt_lines},
            "extra_items": extras,
            "wrong_item": (
                {
                    "line": wrong_line.pk,
                    "description": wrong_item.description.strip(),
                    "sku": wrong_item.sku.strip(),
                }
                if wrong_line is not None and wrong_item is not None
                else None
            ),
            "package_condition": package_condition,
            "weight_grams": weight_grams,
            "photo_upload_ids": list(dict.fromkeys(photo_upload_ids)),
            "notes": notes.strip(),
        }
        if locked.state == CLOSED:
            if _contents_of(locked, receipt_lines) == wanted:
                return locked
            raise ReceiptClosed(
                f"Receipt {locked.public_id} is already recorded and closed; its received "
                "units are what inspection works on."
            )
        for line in receipt_lines:
            line.received_quantity = wanted["lines"][line.pk]
            line.missing_quantity = line.expected_quantity - line.received_quantity
            line.wrong_item = wrong_line is not None and line.pk == wrong_line.pk
            line.wrong_item_description = (
                wanted["wrong_item"]["description"] if line.wrong_item else ""
            )
            line.wrong_item_sku = wanted["wrong_item"]["sku"] if line.wrong_item else ""
        ReceiptLine.objects.bulk_update(
            receipt_lines,
            [
                "received_quantity",
                "missing_quantity",
                "wrong_item",
                "wrong_item_description",
                "wrong_item_sku",
                "updated_at",
            ],
        )
        locked.extra_items = extras
        locked.package_condition = package_condition
        locked.weight_grams = weight_grams
        locked.photo_upload_ids = wanted["photo_upload_ids"]
        locked.notes = wanted["notes"]
        locked.state = CLOSED
        locked.recorded_at = timezone.now()
        locked.recorded_by_label = actor.label
        locked.save()
        summary = {
            "receipt": locked.public_id,
            "facility": locked.facility.code,
            "lines": [
                {
                    "sku": line.return_line.sku,
                    "expected": line.expected_quantity,
                    "received": line.received_quantity,
                    "missing": line.missing_quantity,
                    "wrong_item": line.wrong_item_description or None,
                }
                for line in receipt_lines
            ],
            "extra_items": extras,
            "package_condition": package_condition,
            "weight_grams": weight_grams,
        }
        ret = Return.objects.get(pk=locked.return_request_id)
        return_event_record(
            ret=ret,
            type="return.receipt_recorded",
            actor=actor,
            channel="warehouse",
            payload=summary,
            notify=False,
        )
        audit_record(
            actor=actor,
            action="receipt.recorded",
            object_type="receipt",
            object_ref=locked.public_id,
            merchant_id=locked.merchant_id,
            changes=summary,
        )
    return locked


def unidentified_link(
    *,
    actor: Actor,
    package: UnidentifiedPackage,
    ran: str,
    merchant_ids: Iterable[int] | None = None,
) -> ScanResult:
    """Attach a package received without a match to its return, which receives it (or records
    the receipt exception) exactly as a scan of its RAN would have. A mistyped RAN is 422; a
    return of no merchant the package's facility serves is 404."""
    code = parse_ran(ran)
    facility = package.facility
    served = selectors.facility_merchant_ids(facility)
    if merchant_ids is not None:
        served = served & frozenset(merchant_ids)
    ret = selectors.return_by_ran(ran=code, merchant_ids=served)
    if ret is None:
        raise NotFound(f"No return {format_ran(code)}.")
    with transaction.atomic():
        locked = UnidentifiedPackage.objects.select_for_update().get(pk=package.pk)
        if locked.linked_at is not None:
            if locked.return_request_id == ret.pk and locked.receipt_id is not None:
                with scopes_disabled():
                    receipt = Receipt.objects.get(pk=locked.receipt_id)
                return ScanResult(ALREADY_RECEIVED, False, receipt=receipt, package=locked)
            raise AlreadyLinked(f"Package {locked.public_id} is already linked to another return.")
        result = _receive(
            actor=actor,
            ret=ret,
            facility=facility,
            code=locked.code or locked.public_id,
            matched_by=MATCHED_LINK,
        )
        # The photos were the facility's while nobody knew whose the package was: they go
        # with it to the return's merchant, and to nobody else.
        moved = uploads_transfer(
            ids=locked.photo_upload_ids, facility_id=facility.pk, merchant_id=ret.merchant_id
        )
        locked.merchant_id = ret.merchant_id
        locked.return_request = ret
        locked.receipt = result.receipt
        locked.linked_at = timezone.now()
        locked.linked_by_label = actor.label
        locked.save()
        return_event_record(
            ret=ret,
            type="return.package_linked",
            actor=actor,
            channel="warehouse",
            payload={"package": locked.public_id, "facility": facility.code, "code": locked.code},
            notify=False,
        )
        audit_record(
            actor=actor,
            action="unidentified_package.linked",
            object_type="unidentified_package",
            object_ref=locked.public_id,
            merchant_id=ret.merchant_id,
            changes={
                "ran": format_ran(ret.ran),
                "receipt": result.receipt.public_id if result.receipt else None,
                "photos_moved": moved,
            },
        )
    return ScanResult(result.outcome, result.created, receipt=result.receipt, package=locked)


def unidentified_annotate(
    *,
    actor: Actor,
    package: UnidentifiedPackage,
    notes: str,
    photo_upload_ids: Sequence[str] | None = None,
) -> UnidentifiedPackage:
    """What the worker saw on a package nobody could match (sender, contents) and its photos,
    for whoever links it later. The notes and the photos (when given) replace what was there;
    the photos are uploads of the package's facility (`POST /uploads` with `facility`). The
    same again changes nothing; a package already linked is 409 already_linked: its photos
    went to the return's merchant with it."""
    if len(notes) > MAX_NOTES:
        raise ValidationFailed.on("notes", f"at most {MAX_NOTES} characters")
    photos = None if photo_upload_ids is None else list(dict.fromkeys(photo_upload_ids))
    if photos is not None and len(photos) > MAX_PACKAGE_PHOTOS:
        raise ValidationFailed.on("photo_upload_ids", f"at most {MAX_PACKAGE_PHOTOS} photos")
    with transaction.atomic():
        locked = UnidentifiedPackage.objects.select_for_update().get(pk=package.pk)
        if locked.linked_at is not None:
            raise AlreadyLinked(
                f"Package {locked.public_id} is linked to its return; record photos and notes "
                "on the return's receipt."
            )
        if photos is not None:
            uploads_check(
                facility_id=locked.facility_id,
                ids=photos,
                purpose="photo",
                field="photo_upload_ids",
            )
        new_notes = notes.strip()
        new_photos = list(locked.photo_upload_ids) if photos is None else photos
        if (new_notes, new_photos) == (locked.notes, list(locked.photo_upload_ids)):
            return locked
        locked.notes = new_notes
        locked.photo_upload_ids = new_photos
        locked.save(update_fields=["notes", "photo_upload_ids", "updated_at"])
        audit_record(
            actor=actor,
            action="unidentified_package.annotated",
            object_type="unidentified_package",
            object_ref=locked.public_id,
            changes={"notes": new_notes, "photo_upload_ids": new_photos},
        )
    return locked
