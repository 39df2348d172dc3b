"""The refund calculator: what is due for a return, line by line, and where it goes. Pure.

No Django, no database, no clock: the caller passes the policy, what the order paid
(`PaidOrder`), what comes back with the inspection findings known so far (`RefundRequest`) and
what earlier refunds of the order took (`PriorRefunds`), and gets a `RefundCalculation` that
explains every figure. The same inputs always give the same result. Money is integer minor units;
splits use largest remainder, so no minor unit is created or lost. docs/refunds.md has the
formulas and the rounding.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from returndesk.core.money import (
    Money,
    MoneyError,
    allocate,
    discount_shares,
    validate_currency,
)
from returndesk.disposition.engine import NOT_THE_ITEM_GRADE
from returndesk.policies.document import PolicyDocument, Reason
from returndesk.refunds.tenders import (
    ALLOCATION_RULES,
    DEFAULT_ALLOCATION_RULE,
    DEFAULT_PROVIDERS,
    TENDER_METHODS,
    Allocation,
    Tender,
    TendersShort,
    allocate_to_tenders,
)

__all__ = [
    "RESOLUTIONS",
    "Accessory",
    "CurrencyMismatch",
    "Deduction",
    "LineRefund",
    "PaidLine",
    "PaidOrder",
    "PriorRefunds",
    "RefundCalculation",
    "RefundInvalid",
    "RefundRequest",
    "ReturnedLine",
    "ShippingRefund",
    "UnitFinding",
    "calculate",
    "equal_shares_sum",
    "line_paid_totals",
]

# An exchange is priced by the exchange flow: it asks for the credit as a "refund" calculation.
RESOLUTIONS: tuple[str, ...] = ("refund", "store_credit")


class RefundInvalid(ValueError):
    """Inputs the calculator refuses: every problem at once, as (field path, message) pairs."""

    code = "refund_invalid"

    def __init__(self, errors: Sequence[tuple[str, str]]) -> None:
        self.errors: list[tuple[str, str]] = list(errors)
        super().__init__("; ".join(f"{where}: {message}" for where, message in self.errors))


class CurrencyMismatch(RefundInvalid):
    """The order, a tender or the request are in different currencies."""

    code = "currency_mismatch"


# ----------------------------------------------------------------------------------------------
# Inputs (money in integer minor units of the order's currency)


@dataclass(frozen=True)
class Accessory:
    code: str
    name: str
    value: int  # what the merchant deducts when it does not come back


@dataclass(frozen=True)
class PaidLine:
    line_id: str
    sku: str
    quantity: int
    unit_price: int  # per unit
    discount: int = 0  # line total
    tax: int = 0  # line total; inside the price when the order's `tax_included`
    name: str = ""
    category: str = ""
    accessories: tuple[Accessory, ...] = ()  # the product's, as the catalogue lists them


@dataclass(frozen=True)
class PaidOrder:
    order_number: str
    currency: str
    lines: tuple[PaidLine, ...]
    tenders: tuple[Tender, ...] = ()
    tax_included: bool = False
    shipping_total: int = 0
    order_discount_total: int = 0

    @property
    def total(self) -> int:
        """What the shopper paid: catalog.services.paid_total's formula."""
        lines = sum(
            li.unit_price * li.quantity - li.discount + (0 if self.tax_included else li.tax)
            for li in self.lines
        )
        return lines + self.shipping_total - self.order_discount_total


@dataclass(frozen=True)
class UnitFinding:
    """What inspection found on one unit. Findings of a line are in unit order."""

    grade: str | None = None  # None: not graded
    accessories_missing: tuple[str, ...] = ()  # accessory codes
    reference: str = ""  # the inspection's public id, quoted in the explanation


@dataclass(frozen=True)
class ReturnedLine:
    line_id: str
    quantity: int
    reason: str  # a reason code of the policy
    findings: tuple[UnitFinding, ...] = ()  # at most `quantity`; the rest are not inspected yet


@dataclass(frozen=True)
class RefundRequest:
    lines: tuple[ReturnedLine, ...]
    resolution: str = "refund"  # or "store_credit"
    currency: str | None = None  # when given, must be the order's
    # The return shipping fee an earlier settlement of the same return already took: a return
    # pays its fee once, however many settlements its units are refunded in.
    return_fee_taken: int = 0


@dataclass(frozen=True)
class PriorRefunds:
    """What earlier refunds of the order took. Units of a line are taken in order, after these."""

    units: Mapping[str, int] = field(default_factory=dict)  # line_id -> units refunded
    lines: Mapping[str, int] = field(default_factory=dict)  # line_id -> amount refunded
    shipping: int = 0
    tenders: Mapping[str, int] = field(default_factory=dict)  # tender_id -> amount refunded

    def plus(self, calculation: RefundCalculation) -> PriorRefunds:
        """These refunds and the calculated one: what to record once it is paid."""
        units, lines, tenders = dict(self.units), dict(self.lines), dict(self.tenders)
        for line in calculation.lines:
            units[line.line_id] = units.get(line.line_id, 0) + line.quantity
            lines[line.line_id] = lines.get(line.line_id, 0) + line.refund.amount
        for part in calculation.allocations:
            if part.tender_id is not None:
                tenders[part.tender_id] = tenders.get(part.tender_id, 0) + part.amount.amount
        return PriorRefunds(
            units, lines, self.shipping + calculation.shipping.amount.amount, tenders
        )


# ----------------------------------------------------------------------------------------------
# Outputs


@dataclass(frozen=True)
class Deduction:
    code: str  # restocking_fee | grade | missing_accessory | return_shipping_fee
    amount: Money
    basis: Money  # what it applies to
    reason: str  # for people: the rate or value and what it was applied to
    source: str  # "policy" or "inspection"
    rule: str  # the policy field, or the inspection finding, behind it
    capped: bool = False  # cut down to what was left

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "amount": self.amount.as_dict(),
            "basis": self.basis.as_dict(),
            "reason": self.reason,
            "source": self.source,
            "rule": self.rule,
            "capped": self.capped,
        }


@dataclass(frozen=True)
class LineRefund:
    line_id: str
    sku: str
    name: str
    quantity: int
    first_unit: int  # 1-based number of the first unit of the line this refund covers
    reason: str
    merchant_fault: bool
    gross: Money  # unit price x quantity
    line_discount: Money  # share of the line's discount
    order_discount: Money  # share of the order's discount
    tax: Money  # share of the line's tax (inside `gross` when tax_included)
    tax_included: bool
    paid: Money  # gross - discounts (+ tax unless included)
    deductions: tuple[Deduction, ...]
    net: Money  # paid - deductions, never below 0 nor above what the line has left
    return_shipping_fee_share: Money
    refund: Money  # net - the return shipping fee's share: what this line refunds
    notes: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "line_id": self.line_id,
            "sku": self.sku,
            "name": self.name,
            "quantity": self.quantity,
            "first_unit": self.first_unit,
            "reason": self.reason,
            "merchant_fault": self.merchant_fault,
            "gross": self.gross.as_dict(),
            "line_discount": self.line_discount.as_dict(),
            "order_discount": self.order_discount.as_dict(),
            "tax": self.tax.as_dict(),
            "tax_included": self.tax_included,
            "paid": self.paid.as_dict(),
            "deductions": [d.as_dict() for d in self.deductions],
            "net": self.net.as_dict(),
            "return_shipping_fee_share": self.return_shipping_fee_share.as_dict(),
            "refund": self.refund.as_dict(),
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class ShippingRefund:
    amount: Money  # the order's shipping refunded now
    paid: Money  # what the order's shipping cost the shopper
    refunded_before: Money
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "amount": self.amount.as_dict(),
            "paid": self.paid.as_dict(),
            "refunded_before": self.refunded_before.as_dict(),
            "reason": self.reason,
        }


@dataclass(frozen=True)
class RefundCalculation:
    order_number: str
    currency: str
    resolution: str
    allocation_rule: str
    lines: tuple[LineRefund, ...]
    return_deductions: tuple[Deduction, ...]  # once per return: the return shipping fee
    shipping: ShippingRefund
    paid: Money  # what the returned units were paid
    deductions: Money  # every deduction, line and return
    total: Money  # due: the lines' refunds plus the shipping refunded
    store_credit_bonus: Money
    allocations: tuple[Allocation, ...]  # sums to `total`
    checks: tuple[str, ...]  # what was verified, for the preview

    @property
    def store_credit_total(self) -> Money:
        """Store credit to issue: the total plus the bonus (zero unless the resolution is
        store credit)."""
        if self.resolution != "store_credit":
            return Money.zero(self.currency)
        return self.total + self.store_credit_bonus

    def as_dict(self) -> dict[str, Any]:
        return {
            "order_number": self.order_number,
            "currency": self.currency,
            "resolution": self.resolution,
            "allocation_rule": self.allocation_rule,
            "lines": [line.as_dict() for line in self.lines],
            "return_deductions": [d.as_dict() for d in self.return_deductions],
            "shipping": self.shipping.as_dict(),
            "paid": self.paid.as_dict(),
            "deductions": self.deductions.as_dict(),
            "total": self.total.as_dict(),
            "store_credit_bonus": self.store_credit_bonus.as_dict(),
            "store_credit_total": self.store_credit_total.as_dict(),
            "allocations": [a.as_dict() for a in self.allocations],
            "checks": list(self.checks),
        }


# ----------------------------------------------------------------------------------------------
# Shares


def equal_shares_sum(total: int, units: int, first: int, count: int) -> int:
    """The sum of shares [first, first + count) when `total` (>= 0) is split over `units` equal
    weights by largest remainder: what `allocate(total, [1] * units)` gives, summed, without a
    list per unit (wholesale lines run to tens of thousands of units)."""
    base, extra = divmod(total, units)
    return base * count + max(0, min(extra, first + count) - first)


def _order_discount_shares(order: PaidOrder) -> tuple[list[int], int]:
    """The order discount's share of each line, in proportion to the line's price less its
    discount, and what is left over for shipping (a discount larger than the goods)."""
    return discount_shares(
        [li.unit_price * li.quantity - li.discount for li in order.lines],
        order.order_discount_total,
    )


@dataclass(frozen=True)
class _Slice:
    gross: int
    line_discount: int
    order_discount: int
    tax: int
    paid: int


def _slice(line: PaidLine, order_discount: int, tax_included: bool, first: int, n: int) -> _Slice:
    """Units [first, first + n) of a line. Both discounts are split over the units together, so
    no unit is discounted below zero; the order discount's share is the difference."""
    gross = line.unit_price * n
    discount = equal_shares_sum(line.discount, line.quantity, first, n)
    discounts = equal_shares_sum(line.discount + order_discount, line.quantity, first, n)
    tax = equal_shares_sum(line.tax, line.quantity, first, n)
    paid = gross - discounts + (0 if tax_included else tax)
    return _Slice(gross, discount, discounts - discount, tax, paid)


def line_paid_totals(order: PaidOrder) -> dict[str, int]:
    """What each line was paid in all, order discount shared out: the cap on its refunds."""
    shares, _ = _order_discount_shares(order)
    return {
        li.line_id: _slice(li, share, order.tax_included, 0, li.quantity).paid
        for li, share in zip(order.lines, shares, strict=True)
    }


# ----------------------------------------------------------------------------------------------
# Validation


def _check_currencies(order: PaidOrder, request: RefundRequest) -> list[str]:
    errors: list[tuple[str, str]] = []
    try:
        validate_currency(order.currency)
    except MoneyError as exc:
        raise CurrencyMismatch([("order.currency", str(exc))]) from None
    for i, tender in enumerate(order.tenders):
        if tender.currency != order.currency:
            errors.append(
                (
                    f"order.tenders[{i}].currency",
                    f"tender {tender.tender_id} is in {tender.currency} but the order is in "
                    f"{order.currency}",
                )
            )
    if request.currency is not None and request.currency != order.currency:
        errors.append(
            (
                "currency",
                f"the refund is asked in {request.currency} but the order was paid in "
                f"{order.currency}; refunds are never converted",
            )
        )
    if errors:
        raise CurrencyMismatch(errors)
    checks = [f"the order is in {order.currency}"]
    if order.tenders:
        checks.append(f"{len(order.tenders)} tender(s), all in {order.currency}")
    if request.currency is not None:
        checks.append(f"the request is in {order.currency}")
    return checks


def _validate(
    policy: PolicyDocument, order: PaidOrder, request: RefundRequest, prior: PriorRefunds
) -> dict[str, PaidLine]:
    errors: list[tuple[str, str]] = []
    lines: dict[str, PaidLine] = {}
    for i, li in enumerate(order.lines):
        where = f"order.lines[{i}]"
        if li.line_id in lines:
            errors.append((f"{where}.line_id", f"line {li.line_id} appears twice"))
        lines[li.line_id] = li
        if li.quantity <= 0:
            errors.append((f"{where}.quantity", "must be at least 1"))
        if li.unit_price < 0 or li.discount < 0 or li.tax < 0:
            errors.append((where, "unit_price, discount and tax are never negative"))
        elif li.discount > li.unit_price * li.quantity:
            errors.append((f"{where}.discount", "is more than the line's price"))
    if order.shipping_total < 0 or order.order_discount_total < 0:
        errors.append(("order", "shipping_total and order_discount_total are never negative"))
    elif order.total < 0:
        errors.append(("order.order_discount_total", "is more than the order's goods and shipping"))
    tender_ids: set[str] = set()
    for i, tender in enumerate(order.tenders):
        if tender.tender_id in tender_ids:
            errors.append((f"order.tenders[{i}].tender_id", "appears twice"))
        tender_ids.add(tender.tender_id)
        if tender.method not in TENDER_METHODS:
            errors.append(
                (f"order.tenders[{i}].method", f"must be one of {', '.join(TENDER_METHODS)}")
            )
        if tender.amount < 0:
            errors.append((f"order.tenders[{i}].amount", "is never negative"))
    if order.tenders and not errors:
        paid = sum(t.amount for t in order.tenders)
        if paid != order.total:
            errors.append(
                (
                    "order.tenders",
                    f"the tenders add up to {Money(paid, order.currency)} but the order total "
                    f"is {Money(order.total, order.currency)}",
                )
            )
    if request.resolution not in RESOLUTIONS:
        errors.append(("resolution", f"must be one of {', '.join(RESOLUTIONS)}"))
    if not request.lines:
        errors.append(("lines", "at least one line is required"))
    seen: set[str] = set()
    for i, item in enumerate(request.lines):
        where = f"lines[{i}]"
        line = lines.get(item.line_id)
        if line is None:
            errors.append((f"{where}.line_id", f"no line {item.line_id} on this order"))
            continue
        if item.line_id in seen:
            errors.append((f"{where}.line_id", f"line {item.line_id} is already in this request"))
        seen.add(item.line_id)
        before = prior.units.get(item.line_id, 0)
        if item.quantity <= 0:
            errors.append((f"{where}.quantity", "must be at least 1"))
        elif before + item.quantity > line.quantity:
            errors.append(
                (
                    f"{where}.quantity",
                    f"{item.quantity} asked, but only {max(0, line.quantity - before)} of the "
                    f"{line.quantity} bought are not refunded yet",
                )
            )
        if policy.reason(item.reason) is None:
            errors.append((f"{where}.reason", f"the policy has no reason '{item.reason}'"))
        if len(item.findings) > item.quantity:
            errors.append((f"{where}.findings", "more findings than units returned"))
        codes = {a.code for a in line.accessories}
        for j, finding in enumerate(item.findings):
            grade = finding.grade
            if grade is not None and grade not in policy.grade_deductions_percent:
                errors.append(
                    (
                        f"{where}.findings[{j}].grade",
                        f"grade '{grade}' has no deduction in the policy's "
                        "grade_deductions_percent",
                    )
                )
            for code in finding.accessories_missing:
                if code not in codes:
                    errors.append(
                        (
                            f"{where}.findings[{j}].accessories_missing",
                            f"{line.sku} has no accessory '{code}'",
                        )
                    )
    negative = [k for k, v in (*prior.lines.items(), *prior.tenders.items()) if v < 0]
    if prior.shipping < 0 or negative or any(v < 0 for v in prior.units.values()):
        errors.append(("prior", "amounts and units refunded before are never negative"))
    if errors:
        raise RefundInvalid(errors)
    return lines


# ----------------------------------------------------------------------------------------------
# Deductions


def _pct(value: Decimal) -> str:
    return f"{value.normalize():f}"


def _restocking_rate(policy: PolicyDocument, reason: Reason, category: str) -> tuple[Decimal, str]:
    """The rate and the policy field it comes from: by reason, else category, else the policy's
    (the policy engine's order)."""
    fees = policy.fees
    if reason.code in fees.restocking_percent_by_reason:
        rate = fees.restocking_percent_by_reason[reason.code]
        return rate, f"fees.restocking_percent_by_reason.{reason.code}"
    if category in fees.restocking_percent_by_category:
        rate = fees.restocking_percent_by_category[category]
        return rate, f"fees.restocking_percent_by_category.{category}"
    return fees.restocking_percent, "fees.restocking_percent"


def _units(numbers: Sequence[int]) -> str:
    return ("unit " if len(numbers) == 1 else "units ") + ", ".join(map(str, numbers))


def _line_deductions(
    policy: PolicyDocument,
    order: PaidOrder,
    line: PaidLine,
    item: ReturnedLine,
    reason: Reason,
    order_discount: int,
    first: int,
    paid: int,
) -> tuple[list[Deduction], list[str]]:
    """Restocking fee, then grade, then missing accessories; each at most what the ones before
    left of the line's paid value, so the line never goes below zero."""
    currency = order.currency
    left = max(0, paid)
    deductions: list[Deduction] = []
    notes: list[str] = []

    def add(code: str, amount: int, basis: int, why: str, source: str, rule: str) -> None:
        nonlocal left
        taken = min(amount, left)
        if taken <= 0:
            return
        if taken < amount:
            why += f", capped at the {Money(left, currency)} left on the line"
        left -= taken
        deductions.append(
            Deduction(
                code,
                Money(taken, currency),
                Money(basis, currency),
                why,
                source,
                rule,
                taken < amount,
            )
        )

    if reason.restocking_fee:
        rate, rule = _restocking_rate(policy, reason, line.category)
        fee = Money(max(0, paid), currency).percent(rate).amount
        why = (
            f"{_pct(rate)}% restocking fee for '{reason.label}' of {Money(max(0, paid), currency)}"
        )
        add("restocking_fee", fee, max(0, paid), why, "policy", rule)

    graded: dict[str, list[int]] = {}
    for offset, finding in enumerate(item.findings):
        if finding.grade is not None:
            graded.setdefault(finding.grade, []).append(offset)
    for grade, offsets in graded.items():
        rate = policy.grade_deductions_percent[grade]
        numbers = [first + o + 1 for o in offsets]
        refs = sorted({item.findings[o].reference for o in offsets if item.findings[o].reference})
        seen = f"grade {grade} on {_units(numbers)}" + (f" ({', '.join(refs)})" if refs else "")
        if rate == 0:
            continue
        if reason.merchant_fault and grade != NOT_THE_ITEM_GRADE:
            notes.append(f"{seen}: no grade deduction, '{reason.label}' is the merchant's fault")
            continue
        basis = sum(
            _slice(line, order_discount, order.tax_included, first + o, 1).paid for o in offsets
        )
        amount = Money(max(0, basis), currency).percent(rate).amount
        why = f"{seen}: {_pct(rate)}% of {Money(max(0, basis), currency)}"
        add("grade", amount, max(0, basis), why, "inspection", f"grade_deductions_percent.{grade}")

    for accessory in line.accessories:
        missing = [
            first + offset + 1
            for offset, finding in enumerate(item.findings)
            if accessory.code in finding.accessories_missing
        ]
        if not missing or accessory.value <= 0:
            continue
        amount = accessory.value * len(missing)
        why = (
            f"{accessory.name} missing on {_units(missing)}: "
            f"{Money(accessory.value, currency)} each"
        )
        rule = f"accessories_missing.{accessory.code}"
        add("missing_accessory", amount, amount, why, "inspection", rule)
    return deductions, notes


# ----------------------------------------------------------------------------------------------
# The calculation


def calculate(
    policy: PolicyDocument,
    order: PaidOrder,
    request: RefundRequest,
    prior: PriorRefunds | None = None,
    *,
    allocation_rule: str = DEFAULT_ALLOCATION_RULE,
    providers: Collection[str] = DEFAULT_PROVIDERS,
) -> RefundCalculation:
    """What is due for the returned units and how it splits across the tenders. Raises
    `CurrencyMismatch` or `RefundInvalid` (every problem at once) for inputs it refuses."""
    prior = prior or PriorRefunds()
    checks = _check_currencies(order, request)
    lines = _validate(policy, order, request, prior)
    if allocation_rule not in ALLOCATION_RULES:
        raise RefundInvalid([("allocation_rule", f"must be one of {', '.join(ALLOCATION_RULES)}")])
    currency = order.currency
    shares, on_shipping = _order_discount_shares(order)
    share_of = {li.line_id: s for li, s in zip(order.lines, shares, strict=True)}
    totals = line_paid_totals(order)

    drafts: list[tuple[ReturnedLine, Reason, _Slice, list[Deduction], list[str], int, int]] = []
    for item in request.lines:
        line = lines[item.line_id]
        reason = policy.reason(item.reason)
        assert reason is not None  # validated
        first = prior.units.get(item.line_id, 0)
        part = _slice(line, share_of[item.line_id], order.tax_included, first, item.quantity)
        deductions, notes = _line_deductions(
            policy, order, line, item, reason, share_of[item.line_id], first, part.paid
        )
        net = max(0, part.paid - sum(d.amount.amount for d in deductions))
        left = max(0, totals[item.line_id] - prior.lines.get(item.line_id, 0))
        if net > left:
            notes.append(
                f"capped at the {Money(left, currency)} of the line not refunded yet "
                f"(paid {Money(totals[item.line_id], currency)} in all)"
            )
            net = left
        drafts.append((item, reason, part, deductions, notes, first, net))

    nets = [draft[-1] for draft in drafts]
    return_deductions: list[Deduction] = []
    fee_shares = [0] * len(drafts)
    merchant_paid = [r.label for _, r, *_ in drafts if r.shipping_paid_by == "merchant"]
    fee = max(0, policy.fees.return_shipping_fee - request.return_fee_taken)
    if request.return_fee_taken and policy.fees.return_shipping_fee:
        checks.append(
            f"return shipping fee: {Money(request.return_fee_taken, currency)} taken before"
        )
    if fee > 0 and not merchant_paid:
        amount = min(fee, sum(nets))
        if amount > 0:
            why = f"return shipping fee of {Money(fee, currency)}"
            if amount < fee:
                why += f", capped at the {Money(sum(nets), currency)} left to refund"
            return_deductions.append(
                Deduction(
                    "return_shipping_fee",
                    Money(amount, currency),
                    Money(sum(nets), currency),
                    why,
                    "policy",
                    "fees.return_shipping_fee",
                    amount < fee,
                )
            )
            # Shared over the lines by largest remainder so that each line's refund, the
            # figure recorded against the line, adds up to the total.
            fee_shares = allocate(amount, nets)
    elif fee > 0:
        checks.append(
            f"return shipping fee of {Money(fee, currency)} waived: "
            f"'{merchant_paid[0]}' is a merchant-paid reason"
        )

    shipping_paid = max(0, order.shipping_total - on_shipping)
    shipping_before = min(prior.shipping, shipping_paid)
    at_fault = [r.label for _, r, *_ in drafts if r.merchant_fault]
    if at_fault:
        shipping_amount = shipping_paid - shipping_before
        shipping_why = f"'{at_fault[0]}' is the merchant's fault: the order's shipping is refunded"
        if shipping_before:
            shipping_why += f" (less the {Money(shipping_before, currency)} refunded before)"
    else:
        shipping_amount = 0
        shipping_why = "not refunded: no returned line is the merchant's fault"
    shipping = ShippingRefund(
        Money(shipping_amount, currency),
        Money(shipping_paid, currency),
        Money(shipping_before, currency),
        shipping_why,
    )

    refunds: list[LineRefund] = []
    for (item, reason, part, deductions, notes, first, net), fee_share in zip(
        drafts, fee_shares, strict=True
    ):
        line = lines[item.line_id]
        refunds.append(
            LineRefund(
                line_id=line.line_id,
                sku=line.sku,
                name=line.name,
                quantity=item.quantity,
                first_unit=first + 1,
                reason=reason.code,
                merchant_fault=reason.merchant_fault,
                gross=Money(part.gross, currency),
                line_discount=Money(part.line_discount, currency),
                order_discount=Money(part.order_discount, currency),
                tax=Money(part.tax, currency),
                tax_included=order.tax_included,
                paid=Money(part.paid, currency),
                deductions=tuple(deductions),
                net=Money(net, currency),
                return_shipping_fee_share=Money(fee_share, currency),
                refund=Money(net - fee_share, currency),
                notes=tuple(notes),
            )
        )

    total = sum(r.refund.amount for r in refunds) + shipping_amount
    bonus = 0
    if request.resolution == "store_credit":
        rate = policy.resolutions.store_credit_bonus_percent
        bonus = Money(total, currency).percent(rate).amount
    try:
        allocations = allocate_to_tenders(
            total,
            order.tenders,
            prior.tenders,
            currency=currency,
            rule=allocation_rule,
            resolution=request.resolution,
            providers=providers,
        )
    except TendersShort as exc:
        raise RefundInvalid([("prior.tenders", str(exc))]) from None
    deducted = sum(d.amount.amount for r in refunds for d in r.deductions)
    deducted += sum(d.amount.amount for d in return_deductions)
    return RefundCalculation(
        order_number=order.order_number,
        currency=currency,
        resolution=request.resolution,
        allocation_rule=allocation_rule,
        lines=tuple(refunds),
        return_deductions=tuple(return_deductions),
        shipping=shipping,
        paid=Money(sum(r.paid.amount for r in refunds), currency),
        deductions=Money(deducted, currency),
        total=Money(total, currency),
        store_credit_bonus=Money(bonus, currency),
        allocations=allocations,
        checks=tuple(checks),
    )
