"""Known small data for the operations tests: returns, receipts, inspections, dispositions,
labels and timeline events written straight to the tables with the times each test needs (the
services stamp `now`; these figures need chosen moments)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from itertools import count
from typing import Any
from zoneinfo import ZoneInfo

from django_scopes import scopes_disabled

from returndesk.core.codes import generate_ran
from returndesk.returns.models import Return, ReturnEvent, ReturnLine
from returndesk.shipping.models import Label
from returndesk.tenants.models import Facility, Merchant
from returndesk.warehouse.inventory import CONDITION_OF
from returndesk.warehouse.models import Disposition, Inspection, Receipt, ReceiptLine

NEW_YORK = ZoneInfo("America/New_York")
_serial = count(1)


def local(text: str, zone: ZoneInfo = NEW_YORK) -> datetime:
    """'2025-11-26 20:30' in the zone, as an aware datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=zone)


def _id(prefix: str) -> str:
    return f"{prefix}_T{next(_serial):06d}"


@dataclass
class Built:
    ret: Return
    lines: list[ReturnLine] = field(default_factory=list)
    receipt: Receipt | None = None
    receipt_lines: list[ReceiptLine] = field(default_factory=list)
    inspections: list[Inspection] = field(default_factory=list)
    dispositions: list[Disposition] = field(default_factory=list)
    labels: list[Label] = field(default_factory=list)


class World:
    """Writes rows for one merchant; every method takes the moments as aware datetimes."""

    def __init__(self, merchant: Merchant) -> None:
        self.merchant = merchant

    def event(self, ret: Return, at: datetime, type: str, to_status: str = "") -> ReturnEvent:
        with scopes_disabled():
            event = ReturnEvent.objects.create(
                merchant=self.merchant,
                return_request=ret,
                public_id=_id("evt"),
                type=type,
                to_status=to_status,
                actor_label="tests",
            )
            ReturnEvent.objects.filter(pk=event.pk).update(created_at=at)
        return event

    def return_(
        self,
        *,
        status: str,
        authorized_at: datetime,
        units: int = 1,
        sku: str = "SHOE-1",
    ) -> Built:
        with scopes_disabled():
            ret = Return.objects.create(
                merchant=self.merchant,
                ran=generate_ran(),
                status=status,
                channel="portal",
                resolution="refund",
                currency="USD",
                created_by_label="tests",
                authorized_at=authorized_at,
            )
            line = ReturnLine.objects.create(
                merchant=self.merchant,
                return_request=ret,
                sku=sku,
                name=sku,
                quantity=units,
                reason="too_small",
                currency="USD",
                value_amount=5000,
            )
        self.event(ret, authorized_at, "return.authorized", "authorized")
        return Built(ret=ret, lines=[line])

    def label(
        self, built: Built, *, facility: Facility, at: datetime, status: str = "active"
    ) -> Label:
        with scopes_disabled():
            label = Label.objects.create(
                merchant=self.merchant,
                public_id=_id("lbl"),
                return_request=built.ret,
                facility=facility,
                kind="label",
                adapter="prepaid",
                carrier="ReturnDesk",
                status=status,
                paid_by="merchant",
                cost_currency="USD",
                currency="USD",
                created_by_label="tests",
            )
            Label.objects.filter(pk=label.pk).update(created_at=at)
        built.labels.append(label)
        return label

    def receive(
        self, built: Built, *, facility: Facility, at: datetime, by: str = "alice@example.com"
    ) -> Receipt:
        with scopes_disabled():
            receipt = Receipt.objects.create(
                merchant=self.merchant,
                public_id=_id("rcpt"),
                return_request=built.ret,
                facility=facility,
                code=built.ret.ran,
                matched_by="ran",
                received_at=at,
                received_by_label=by,
                state="closed",
            )
            for line in built.lines:
                built.receipt_lines.append(
                    ReceiptLine.objects.create(
                        merchant=self.merchant,
                        receipt=receipt,
                        return_line=line,
                        public_id=_id("rcl"),
                        expected_quantity=line.quantity,
                        received_quantity=line.quantity,
                    )
                )
        built.receipt = receipt
        self.event(built.ret, at, "return.received", "received")
        return receipt

    def inspect(
        self,
        built: Built,
        *,
        unit: int,
        at: datetime,
        by: str = "alice@example.com",
        seconds: int | None = None,
        last: bool = False,
    ) -> Inspection:
        assert built.receipt is not None
        line = built.receipt_lines[0]
        with scopes_disabled():
            inspection = Inspection.objects.create(
                merchant=self.merchant,
                public_id=_id("insp"),
                receipt_line=line,
                return_request=built.ret,
                facility_id=built.receipt.facility_id,
                unit=unit,
                sku=line.return_line.sku,
                grade="A",
                recommendation="restock",
                recommendation_figures={},
                inspected_at=at,
                seconds_spent=seconds,
                inspected_by_label=by,
            )
        built.inspections.append(inspection)
        if last:
            self.event(built.ret, at, "return.inspected", "inspected")
        return inspection

    def dispose(
        self,
        built: Built,
        inspection: Inspection,
        *,
        option: str,
        at: datetime,
        by: str = "bob@example.com",
        last: bool = False,
    ) -> Disposition:
        with scopes_disabled():
            disposition = Disposition.objects.create(
                merchant=self.merchant,
                public_id=_id("disp"),
                inspection=inspection,
                return_request=built.ret,
                facility_id=inspection.facility_id,
                sku=inspection.sku,
                option=option,
                recommended="restock",
                overridden=option != "restock",
                condition=CONDITION_OF[option],
                lpn=_id("LPN")[-10:],
                decided_at=at,
                decided_by_label=by,
            )
        built.dispositions.append(disposition)
        if last:
            self.event(built.ret, at, "return.dispositioned")
        return disposition

    def set_status(self, built: Built, status: str, at: datetime | None = None) -> None:
        with scopes_disabled():
            Return.objects.filter(pk=built.ret.pk).update(status=status)
        built.ret.status = status
        if at is not None:
            self.event(built.ret, at, f"return.{status}", status)


def facility(code: str, *, merchants: list[Merchant], tz: str = "America/New_York", **kw: Any):
    from returndesk.core.actors import Actor
    from returndesk.tenants.services import facility_create

    return facility_create(
        actor=Actor.system("tests"),
        code=code,
        name=f"Centre {code}",
        line1="1 Dock Rd",
        city="Newark",
        postal_code="07102",
        country=kw.get("country", "US"),
        timezone_name=tz,
        merchant_slugs=[m.slug for m in merchants],
    )
