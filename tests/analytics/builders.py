"""Recorded rows with chosen times, for data sets whose figures are computed by hand.

The services stamp everything with the time of the call; these helpers write the same rows the
services write (the fields the figures read) at the times a test names, so that a cycle time or
a day boundary is known in advance. Everything runs inside the merchant's scope.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from itertools import count
from typing import Any

from returndesk.catalog.models import Customer, Order, OrderLine, Product
from returndesk.core.actors import Actor
from returndesk.core.codes import generate_ran
from returndesk.core.ids import new_public_id
from returndesk.core.tenancy import merchant_scope
from returndesk.credit.services import store_credit_issue, store_credit_redeem
from returndesk.refunds.models import Adjustment, Exchange, Refund, Settlement
from returndesk.returns.models import Return, ReturnEvent, ReturnLine
from returndesk.shipping.models import Label
from returndesk.tenants.models import Facility, Merchant
from returndesk.warehouse.models import (
    Disposition,
    Inspection,
    InspectionDefect,
    Receipt,
    ReceiptLine,
)
from returndesk.warehouse.tags import new_lpn
from tests.factories import make_facility

ACTOR = Actor.system("tests")
_numbers = count(1)


@dataclass
class Shop:
    merchant: Merchant
    facility: Facility | None = None
    products: dict[str, Product] = field(default_factory=dict)

    @property
    def currency(self) -> str:
        return self.merchant.currency

    def _facility(self) -> Facility:
        if self.facility is None:
            self.facility = make_facility(self.merchant, code="ANFAC", name="Analytics centre")
        return self.facility

    def product(self, sku: str, *, category: str = "", price: int = 1000) -> Product:
        with merchant_scope(self.merchant):
            made = Product.objects.create(
                merchant=self.merchant,
                sku=sku,
                name=f"{sku.title()} product",
                category=category,
                currency=self.currency,
                price_amount=price,
            )
        self.products[sku] = made
        return made

    def order(
        self,
        placed_at: datetime,
        lines: list[tuple[str, int, int, int]],
        *,
        email: str = "shopper@example.com",
    ) -> list[OrderLine]:
        """An order placed at `placed_at`; lines are (sku, units, unit price, line discount)."""
        with merchant_scope(self.merchant):
            customer, _ = Customer.objects.get_or_create(merchant=self.merchant, email=email)
            order = Order.objects.create(
                merchant=self.merchant,
                order_number=f"A-{next(_numbers)}",
                customer=customer,
                email=email,
                placed_at=placed_at,
                currency=self.currency,
            )
            return [
                OrderLine.objects.create(
                    merchant=self.merchant,
                    order=order,
                    line_id=str(position),
                    position=position,
                    product=self.products[sku],
                    sku=sku,
                    name=self.products[sku].name,
                    quantity=units,
                    currency=self.currency,
                    unit_price_amount=price,
                    discount_amount=discount,
                )
                for position, (sku, units, price, discount) in enumerate(lines, start=1)
            ]

    def return_(
        self,
        at: datetime,
        lines: list[tuple[OrderLine, int, str, int]],
        *,
        status: str = "completed",
        channel: str = "portal",
        resolution: str = "refund",
        risk: tuple[str, ...] = (),
    ) -> Return:
        """A return requested at `at`; lines are (order line, units, reason, value)."""
        with merchant_scope(self.merchant):
            order = lines[0][0].order
            ret = Return.objects.create(
                merchant=self.merchant,
                ran=generate_ran(),
                order=order,
                customer=order.customer,
                email=order.email,
                status=status,
                channel=channel,
                resolution=resolution,
                currency=self.currency,
                risk_reasons=[{"signal": s, "points": 10.0, "detail": s} for s in risk],
                created_by_label="tests",
            )
            ReturnLine.objects.bulk_create(
                ReturnLine(
                    merchant=self.merchant,
                    return_request=ret,
                    order_line=line,
                    sku=line.sku,
                    name=line.name,
                    quantity=units,
                    reason=reason,
                    currency=self.currency,
                    value_amount=value,
                )
                for line, units, reason, value in lines
            )
            Return.objects.filter(pk=ret.pk).update(created_at=at)
            ret.refresh_from_db()
        return ret

    def event(self, ret: Return, to_status: str, at: datetime, from_status: str = "") -> None:
        with merchant_scope(self.merchant):
            event = ReturnEvent.objects.create(
                merchant=self.merchant,
                return_request=ret,
                public_id=new_public_id("evt"),
                type=f"return.{to_status}",
                from_status=from_status,
                to_status=to_status,
                actor_label="tests",
            )
            ReturnEvent.objects.filter(pk=event.pk).update(created_at=at)

    def label(self, ret: Return, *, merchant_cost: int, cost: int) -> Label:
        with merchant_scope(self.merchant):
            return Label.objects.create(
                merchant=self.merchant,
                public_id=new_public_id("lbl"),
                return_request=ret,
                facility=self._facility(),
                kind="label",
                adapter="prepaid",
                carrier="ReturnDesk",
                tracking_number=f"RD{ret.ran}",
                paid_by="merchant",
                cost_currency=self.currency,
                cost_amount=cost,
                currency=self.currency,
                merchant_cost_amount=merchant_cost,
                created_by_label="tests",
            )

    def receipt(self, ret: Return, at: datetime) -> dict[str, ReceiptLine]:
        """The package received at `at`, every unit of every line in it; lines by SKU."""
        with merchant_scope(self.merchant):
            receipt = Receipt.objects.create(
                merchant=self.merchant,
                public_id=new_public_id("rcpt"),
                return_request=ret,
                facility=self._facility(),
                code=ret.ran,
                matched_by="ran",
                received_at=at,
                received_by_label="tests",
                state="closed",
            )
            return {
                line.sku: ReceiptLine.objects.create(
                    merchant=self.merchant,
                    receipt=receipt,
                    return_line=line,
                    public_id=new_public_id("rcl"),
                    expected_quantity=line.quantity,
                    received_quantity=line.quantity,
                )
                for line in ret.lines.all()
            }

    def inspect(
        self,
        line: ReceiptLine,
        unit: int,
        at: datetime,
        *,
        defects: tuple[str, ...] = (),
        contradicted: bool = False,
    ) -> Inspection:
        with merchant_scope(self.merchant):
            ret = line.receipt.return_request
            inspection = Inspection.objects.create(
                merchant=self.merchant,
                public_id=new_public_id("insp"),
                receipt_line=line,
                return_request=ret,
                facility=self._facility(),
                unit=unit,
                sku=line.return_line.sku,
                reason=line.return_line.reason,
                grade="X" if contradicted else "A",
                defect_codes=list(defects),
                contradicted=contradicted,
                contradictions=["empty_box"] if contradicted else [],
                recommendation="restock",
                inspected_at=at,
                inspected_by_label="tests",
            )
            InspectionDefect.objects.bulk_create(
                InspectionDefect(
                    merchant=self.merchant,
                    inspection=inspection,
                    code=code,
                    sku=inspection.sku,
                    reason=inspection.reason,
                    inspected_at=at,
                )
                for code in defects
            )
        return inspection

    def dispose(
        self, inspection: Inspection, option: str, *, net: int, gross: int, co2e: Any
    ) -> Disposition:
        with merchant_scope(self.merchant):
            return Disposition.objects.create(
                merchant=self.merchant,
                public_id=new_public_id("disp"),
                inspection=inspection,
                return_request=inspection.return_request,
                facility=self._facility(),
                sku=inspection.sku,
                option=option,
                recommended=option,
                figures={"net_recovery": net, "gross_recovery": gross, "co2e_avoided_kg": co2e},
                condition="sellable",
                lpn=new_lpn(),
                decided_at=inspection.inspected_at,
                decided_by_label="tests",
            )

    def settle(self, ret: Return, *, deductions: list[tuple[str, int]], total: int) -> Settlement:
        """A settlement whose calculation deducted (code, amount) each; the return shipping fee
        is the return's deduction, the others the first line's."""
        line_deductions = [
            {"code": code, "amount": {"amount": amount, "currency": self.currency}}
            for code, amount in deductions
            if code != "return_shipping_fee"
        ]
        return_deductions = [
            {"code": code, "amount": {"amount": amount, "currency": self.currency}}
            for code, amount in deductions
            if code == "return_shipping_fee"
        ]
        with merchant_scope(self.merchant):
            number = Settlement.objects.filter(return_request=ret).count() + 1
            return Settlement.objects.create(
                merchant=self.merchant,
                public_id=new_public_id("stl"),
                return_request=ret,
                order=ret.order,
                number=number,
                stage="inspection",
                resolution=ret.resolution,
                currency=self.currency,
                total_amount=total,
                calculation={
                    "lines": [{"line_id": "1", "deductions": line_deductions}],
                    "return_deductions": return_deductions,
                },
                created_by_label="tests",
            )

    def refund(
        self,
        settlement: Settlement,
        *,
        method: str,
        amount: int,
        status: str = "succeeded",
        at: datetime | None = None,
        bonus: int = 0,
    ) -> Refund:
        kind = "store_credit" if method == "store_credit" else "payment"
        with merchant_scope(self.merchant):
            return Refund.objects.create(
                merchant=self.merchant,
                public_id=new_public_id("rfd"),
                settlement=settlement,
                return_request=settlement.return_request,
                kind=kind,
                method=method,
                provider=method if kind == "store_credit" else "manual",
                currency=self.currency,
                amount=amount,
                bonus_amount=bonus,
                status=status,
                idempotency_key=new_public_id("idem"),
                succeeded_at=at if status == "succeeded" else None,
            )

    def store_credit(self, refund: Refund, *, redeemed: int) -> None:
        """The refund's credit issued (amount plus bonus), and `redeemed` of it spent."""
        email = refund.return_request.email
        store_credit_issue(
            merchant=self.merchant,
            email=email,
            currency=self.currency,
            amount=refund.amount,
            bonus=refund.bonus_amount,
            reference=refund.public_id,
            source={"refund": refund.public_id},
            actor=ACTOR,
        )
        if redeemed:
            store_credit_redeem(
                merchant=self.merchant,
                email=email,
                currency=self.currency,
                amount=redeemed,
                reference=f"checkout-{refund.public_id}",
                actor=ACTOR,
            )

    def adjustment(self, ret: Return, *, cause: str, amount: int) -> Adjustment:
        with merchant_scope(self.merchant):
            return Adjustment.objects.create(
                merchant=self.merchant,
                public_id=new_public_id("adj"),
                return_request=ret,
                cause=cause,
                currency=self.currency,
                amount=amount,
            )

    def exchange(
        self, ret: Return, *, credit: int, price: int, status: str = "released"
    ) -> Exchange:
        with merchant_scope(self.merchant):
            line = ret.lines.first()
            assert line is not None
            return Exchange.objects.create(
                merchant=self.merchant,
                public_id=new_public_id("exc"),
                return_request=ret,
                return_line=line,
                sku=line.sku,
                quantity=line.quantity,
                currency=self.currency,
                price_amount=price,
                credit_amount=credit,
                difference_amount=price - credit,
                status=status,
            )
