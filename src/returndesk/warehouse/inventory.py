"""The inventory ledger: stock movements per facility, SKU and condition, never changed once
written; balances are sums over it.

A disposition puts its unit into a condition (restock: sellable, refurbish: the refurbish
queue, and so on) with one +1 row; moving a tagged unit on (a refurbished unit becomes sellable)
writes -1 from where it was and +1 where it goes, so the units of a SKU at a facility always
add up to the units dispositioned there. A move into sellable is a restock and queues an
`inventory.restocked` outbox event for the merchant.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import QuerySet, Sum
from django_scopes import scopes_disabled

from returndesk.core.actors import Actor
from returndesk.core.audit import audit_record
from returndesk.core.errors import Conflict, NotFound, ValidationFailed
from returndesk.core.ids import new_public_id
from returndesk.notifications.services import outbox_enqueue
from returndesk.tenants.models import Facility
from returndesk.warehouse.models import (
    CONDITIONS,
    DISCARDED,
    DONATED,
    OUTBOUND_LIQUIDATOR,
    OUTBOUND_VENDOR,
    QUARANTINED,
    RECYCLED,
    REFURBISH_QUEUE,
    REPAIR_QUEUE,
    SELLABLE,
    Disposition,
    InventoryMovement,
)

# Where each disposition puts the unit.
CONDITION_OF: dict[str, str] = {
    "restock": SELLABLE,
    "refurbish": REFURBISH_QUEUE,
    "repair": REPAIR_QUEUE,
    "return_to_vendor": OUTBOUND_VENDOR,
    "liquidate": OUTBOUND_LIQUIDATOR,
    "donate": DONATED,
    "recycle": RECYCLED,
    "discard": DISCARDED,
    "quarantine": QUARANTINED,
}
# Conditions a unit leaves the building from: nothing moves out of them again.
GONE = frozenset({DONATED, RECYCLED, DISCARDED})


@dataclass(frozen=True)
class Balance:
    facility: str
    sku: str
    condition: str
    quantity: int


def movement_write(
    *,
    actor: Actor,
    merchant_id: int,
    facility: Facility,
    sku: str,
    condition: str,
    quantity: int,
    kind: str,
    lpn: str = "",
    disposition: Disposition | None = None,
    note: str = "",
) -> InventoryMovement:
    """Append one row to the ledger; a unit into sellable is a restock and queues
    `inventory.restocked`. Call inside the transaction that made the change."""
    if condition not in CONDITIONS:
        raise ValidationFailed.on("condition", f"one of {', '.join(CONDITIONS)}")
    if quantity == 0:
        raise ValidationFailed.on("quantity", "a movement moves something")
    with scopes_disabled():
        movement = InventoryMovement.objects.create(
            merchant_id=merchant_id,
            public_id=new_public_id("mov"),
            facility=facility,
            sku=sku,
            condition=condition,
            quantity=quantity,
            lpn=lpn,
            disposition=disposition,
            kind=kind,
            note=note[:300],
            moved_by_label=actor.label,
        )
    if condition == SELLABLE and quantity > 0:
        outbox_enqueue(
            merchant_id=merchant_id,
            type="inventory.restocked",
            at=movement.created_at,
            data={
                "sku": sku,
                "quantity": quantity,
                "facility": facility.code,
                "condition": condition,
                "lpn": lpn or None,
                "ran": disposition.return_request.ran if disposition else None,
                "movement": movement.public_id,
            },
        )
    return movement


def lpn_condition(*, merchant_ids: Iterable[int], lpn: str) -> tuple[InventoryMovement, str]:
    """The tagged unit's latest movement and the condition it is in now; 404 for an unknown
    LPN or another merchant's."""
    with scopes_disabled():
        rows = InventoryMovement.objects.filter(
            lpn=lpn.strip().upper(), merchant_id__in=list(merchant_ids)
        ).select_related("facility")
        by_condition = {
            row["condition"]: row["n"]
            for row in rows.values("condition").annotate(n=Sum("quantity"))
        }
        last = rows.order_by("-pk").first()
    held = [c for c, n in by_condition.items() if n > 0]
    if last is None or not held:
        raise NotFound(f"No unit tagged {lpn} in stock.")
    return last, held[0]


def unit_move(
    *, actor: Actor, merchant_ids: Iterable[int], lpn: str, to_condition: str, note: str = ""
) -> InventoryMovement:
    """Move a tagged unit to another condition: -1 where it is, +1 where it goes. A unit
    donated, recycled or discarded has left and does not move again (409)."""
    if to_condition not in CONDITIONS:
        raise ValidationFailed.on("condition", f"one of {', '.join(CONDITIONS)}")
    with transaction.atomic():
        last, where = lpn_condition(merchant_ids=merchant_ids, lpn=lpn)
        if where == to_condition:
            return last
        if where in GONE:
            raise Conflict(f"Unit {lpn} was {where}: it has left the building.")
        for condition, quantity in ((where, -1), (to_condition, 1)):
            moved = movement_write(
                actor=actor,
                merchant_id=last.merchant_id,
                facility=last.facility,
                sku=last.sku,
                condition=condition,
                quantity=quantity,
                kind="move",
                lpn=last.lpn,
                disposition=last.disposition,
                note=note,
            )
        audit_record(
            actor=actor,
            action="inventory.moved",
            object_type="inventory_unit",
            object_ref=last.lpn,
            merchant_id=last.merchant_id,
            changes={"from": where, "to": to_condition, "sku": last.sku},
        )
    return moved


def balances(
    *,
    merchant_ids: Iterable[int] | None = None,
    facility_ids: Iterable[int] | None = None,
    skus: Iterable[str] | None = None,
) -> list[Balance]:
    """Units per facility, SKU and condition, summed from the ledger (zero balances left out)."""
    with scopes_disabled():
        rows = InventoryMovement.objects.all()
        if merchant_ids is not None:
            rows = rows.filter(merchant_id__in=list(merchant_ids))
        if facility_ids is not None:
            rows = rows.filter(facility_id__in=list(facility_ids))
        if skus is not None:
            rows = rows.filter(sku__in=list(skus))
        summed = (
            rows.values("facility__code", "sku", "condition")
            .annotate(n=Sum("quantity"))
            .order_by("facility__code", "sku", "condition")
        )
        return [
            Balance(row["facility__code"], row["sku"], row["condition"], row["n"])
            for row in summed
            if row["n"]
        ]


# The order of the balances list and its keyset (api/pagination.py): unique per row.
BALANCE_ORDER = ("facility__code", "merchant__slug", "sku", "condition")


def balance_rows(
    *,
    merchant_ids: Iterable[int],
    facility_ids: Iterable[int] | None = None,
    facility_code: str = "",
    sku: str = "",
    condition: str = "",
) -> QuerySet[InventoryMovement, dict[str, Any]]:
    """Units per facility, merchant, SKU and condition, summed by the database (zero balances
    left out, in HAVING, so that a page of the list is full): rows of `facility__code`,
    `merchant__slug`, `sku`, `condition` and `quantity`. The merchant is part of the key since
    two merchants at one facility may use the same SKU. An unknown condition is 422."""
    if condition and condition not in CONDITIONS:
        raise ValidationFailed.on("condition", f"one of {', '.join(CONDITIONS)}")
    with scopes_disabled():
        rows = InventoryMovement.objects.filter(merchant_id__in=list(merchant_ids))
    if facility_ids is not None:
        rows = rows.filter(facility_id__in=list(facility_ids))
    if facility_code.strip():
        rows = rows.filter(facility__code=facility_code.strip().upper())
    if sku.strip():
        rows = rows.filter(sku=sku.strip())
    if condition:
        rows = rows.filter(condition=condition)
    return (
        rows.values(*BALANCE_ORDER)
        .annotate(quantity=Sum("quantity"))
        .exclude(quantity=0)
        .order_by(*BALANCE_ORDER)
    )


@dataclass(frozen=True)
class TaggedUnit:
    """A unit by its LPN: how it was dispositioned, where it is now, and every movement."""

    disposition: Disposition
    condition: str
    movements: list[InventoryMovement]


def tagged_unit(
    *, lpn: str, merchant_ids: Iterable[int], facility_ids: Iterable[int] | None = None
) -> TaggedUnit:
    """The unit tagged `lpn` among these merchants' (and, when given, at these facilities);
    404 for an unknown LPN and for anyone else's, alike."""
    code = lpn.strip().upper()
    with scopes_disabled():
        found = Disposition.objects.filter(lpn=code, merchant_id__in=list(merchant_ids))
        if facility_ids is not None:
            found = found.filter(facility_id__in=list(facility_ids))
        disposition = found.select_related(
            "facility",
            "merchant",
            "return_request",
            "inspection",
            "inspection__receipt_line__return_line__order_line",
        ).first()
        if disposition is None:
            raise NotFound(f"No unit tagged {lpn}.")
        movements = list(
            InventoryMovement.objects.filter(lpn=code, merchant_id=disposition.merchant_id)
            .select_related("facility")
            .order_by("pk")
        )
    held: dict[str, int] = {}
    for movement in movements:
        held[movement.condition] = held.get(movement.condition, 0) + movement.quantity
    where = next((c for c, n in held.items() if n > 0), disposition.condition)
    return TaggedUnit(disposition=disposition, condition=where, movements=movements)
