"""The policy engine: a return request against a policy, explained clause by clause. Pure.

No Django, no database, no clock: the caller passes the policy, a snapshot of the order, the
request, the customer's history, the current instant and the merchant's time zone, and gets a
`Decision` back. The same inputs always give the same decision. docs/policies.md describes the
order of the checks and every clause code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from returndesk.core.money import Money
from returndesk.policies.document import PolicyDocument, Reason

__all__ = [
    "Clause",
    "CustomerHistory",
    "Decision",
    "FeeLine",
    "LineSnapshot",
    "LineVerdict",
    "OrderSnapshot",
    "RequestInvalid",
    "RequestLine",
    "ReturnRequest",
    "decide",
    "window_end",
]

RESOLUTIONS = ("refund", "store_credit", "exchange")
PROOFS = ("order", "receipt")
EARLY_TIMINGS = ("authorization", "first_scan")
_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip


# ----------------------------------------------------------------------------------------------
# Inputs


@dataclass(frozen=True)
class LineSnapshot:
    line_id: str
    sku: str
    name: str
    category: str
    quantity: int
    unit_price: int
    discount: int  # line total, minor units
    tax: int  # line total, minor units
    returnable: bool
    final_sale: bool
    already_returned: int  # units returned or requested in other returns


@dataclass(frozen=True)
class OrderSnapshot:
    order_number: str
    currency: str
    placed_at: datetime  # aware
    delivered_at: datetime | None  # aware
    ship_country: str
    tax_included: bool
    lines: tuple[LineSnapshot, ...]
    total: int
    # False for a return on a receipt: the order is not in the system, so nobody knows yet
    # when it was bought; the window is then checked by staff against the receipt in review.
    purchase_date_known: bool = True


@dataclass(frozen=True)
class RequestLine:
    line_id: str
    quantity: int
    reason: str
    has_photo: bool = False


@dataclass(frozen=True)
class ReturnRequest:
    lines: tuple[RequestLine, ...]
    resolution: str
    proof: str = "order"  # or "receipt"


@dataclass(frozen=True)
class CustomerHistory:
    recent_returns: int = 0
    completed_returns_without_finding: int = 0
    risk_score: Decimal = Decimal(0)


# ----------------------------------------------------------------------------------------------
# Outputs


@dataclass(frozen=True)
class Clause:
    code: str
    shopper_message: str
    staff_message: str


@dataclass(frozen=True)
class FeeLine:
    code: str  # "restocking_fee" | "return_shipping_fee"
    line_id: str | None
    amount: int
    reason: str  # the clause behind it, for humans


@dataclass(frozen=True)
class LineVerdict:
    line_id: str
    requested_quantity: int
    allowed_quantity: int
    eligible: bool
    clauses: tuple[Clause, ...]
    window_ends_at: datetime | None  # UTC
    value: int  # what the allowed units were paid, minor units


@dataclass(frozen=True)
class Decision:
    outcome: str  # "authorized" | "pending_review" | "rejected"
    verdicts: tuple[LineVerdict, ...]
    review_clauses: tuple[Clause, ...]
    fees: tuple[FeeLine, ...]
    refund_estimate: int
    store_credit_bonus: int
    currency: str
    resolution: str
    refund_timing: str
    condition_required: str


class RequestInvalid(Exception):
    """A malformed request: every problem at once, as (field path, message) pairs."""

    def __init__(self, errors: Sequence[tuple[str, str]]) -> None:
        self.errors: list[tuple[str, str]] = list(errors)
        super().__init__("; ".join(f"{field}: {message}" for field, message in self.errors))


# ----------------------------------------------------------------------------------------------
# Time


def _require_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime")


def _end_of_local_day(day: date, zone: ZoneInfo) -> datetime:
    """The last microsecond of a local calendar day, in UTC.

    Computed as one microsecond before the next local day begins, so that it is right even where
    a DST change happens at midnight: a day whose 23:00-24:00 hour repeats ends after the second
    one, and a next day whose midnight is skipped begins at the transition.
    """
    next_midnight = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)  # fold=0
    return next_midnight.astimezone(UTC) - timedelta(microseconds=1)


def window_end(policy: PolicyDocument, *, start: datetime, timezone: str, days: int) -> datetime:
    """23:59:59.999999 local time (merchant's zone) on the local date of `start` plus `days`,
    DST included; returned in UTC."""
    _require_aware(start, "start")
    zone = ZoneInfo(timezone)
    local_start = start.astimezone(zone).date()
    return _end_of_local_day(local_start + timedelta(days=days), zone)


def _human_date(day: date) -> str:
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"


def _utc(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _pct(value: Decimal) -> str:
    return f"{value.normalize():f}"


# ----------------------------------------------------------------------------------------------
# Request validation


def _validate(
    policy: PolicyDocument, order: OrderSnapshot, request: ReturnRequest
) -> dict[str, LineSnapshot]:
    errors: list[tuple[str, str]] = []
    lines = {line.line_id: line for line in order.lines}
    if not request.lines:
        errors.append(("lines", "at least one line is required"))
    first_seen: dict[str, int] = {}
    for i, item in enumerate(request.lines):
        where = f"lines[{i}]"
        if item.line_id not in lines:
            errors.append((f"{where}.line_id", f"no line {item.line_id} on this order"))
        elif item.line_id in first_seen:
            errors.append(
                (
                    f"{where}.line_id",
                    f"line {item.line_id} is already in this request "
                    f"(lines[{first_seen[item.line_id]}])",
                )
            )
        else:
            first_seen[item.line_id] = i
        if item.quantity <= 0:
            errors.append((f"{where}.quantity", "the quantity must be at least 1"))
        reason = policy.reason(item.reason)
        if reason is None:
            offered = ", ".join(r.code for r in policy.reasons)
            errors.append(
                (f"{where}.reason", f"unknown reason '{item.reason}'; the policy offers {offered}")
            )
        elif reason.photo_required and not item.has_photo:
            errors.append(
                (f"{where}.photo_upload_ids", f"a photo is required for '{reason.label}'")
            )
    offered_resolutions = policy.resolutions.offered()
    if request.resolution not in offered_resolutions:
        errors.append(
            (
                "resolution",
                f"'{request.resolution}' is not offered; choose "
                + " or ".join(offered_resolutions),
            )
        )
    if request.proof not in PROOFS:
        errors.append(("proof_of_purchase_upload_id", f"unknown proof '{request.proof}'"))
    elif request.proof == "receipt" and policy.proof_of_purchase != "order_or_receipt":
        errors.append(
            (
                "proof_of_purchase_upload_id",
                "this merchant accepts returns only for orders found in the system, "
                "not uploaded receipts",
            )
        )
    if errors:
        raise RequestInvalid(errors)
    return lines


# ----------------------------------------------------------------------------------------------
# Per line


@dataclass(frozen=True)
class _Window:
    ends_at: datetime
    clauses: tuple[Clause, ...]  # what shaped it (statutory minimum, seasonal extension)
    shopper_label: str  # "30-day" or the seasonal label
    staff_rule: str


def _window(
    policy: PolicyDocument,
    order: OrderSnapshot,
    line: LineSnapshot,
    zone_name: str,
) -> _Window:
    zone = ZoneInfo(zone_name)
    if order.delivered_at is not None:
        start, start_label = order.delivered_at, "delivery"
    else:
        start, start_label = order.placed_at, "the order date (no delivery time known)"
    if line.sku in policy.sku_window_days:
        days, rule = policy.sku_window_days[line.sku], f"SKU override for {line.sku}"
    elif line.category in policy.category_window_days:
        days = policy.category_window_days[line.category]
        rule = f"category override for {line.category}"
    else:
        days, rule = policy.window_days, "the policy's window"
    clauses: list[Clause] = []
    country = order.ship_country.upper()
    statutory = policy.statutory_minimum_days.get(country)
    if statutory is not None and statutory > days:
        clauses.append(
            Clause(
                "statutory_minimum",
                f"Under {policy.statutory_label}, you have at least {statutory} days to return "
                f"an order delivered to {country}",
                f"statutory minimum for {country} is {statutory} days; it extends the "
                f"{days}-day window ({rule})",
            )
        )
        days, rule = statutory, f"statutory minimum for {country}, over {rule}"
    ends_at = window_end(policy, start=start, timezone=zone_name, days=days)
    shopper_label = f"{days}-day"
    staff_rule = f"{days} days ({rule}) from {start_label} at {_utc(start)}"

    purchased = order.placed_at.astimezone(zone).date()
    best: tuple[datetime, str, date] | None = None
    for extension in policy.seasonal_extensions:
        if extension.covers(purchased):
            until = extension.returnable_until_for(purchased)
            seasonal_end = _end_of_local_day(until, zone)
            if best is None or seasonal_end > best[0]:
                best = (seasonal_end, extension.label, until)
    if best is not None and best[0] > ends_at:
        seasonal_end, label, until = best
        clauses.append(
            Clause(
                "seasonal_extension",
                f"{label}: bought on {_human_date(purchased)}, returnable until "
                f"{_human_date(until)}",
                f"seasonal extension '{label}' for a purchase on {purchased.isoformat()} "
                f"(local): window ends {_utc(seasonal_end)} instead of {_utc(ends_at)}",
            )
        )
        ends_at = seasonal_end
        shopper_label = f"extended ({label})"
        staff_rule = f"seasonal extension '{label}' until {until.isoformat()}; {staff_rule}"
    return _Window(ends_at, tuple(clauses), shopper_label, f"{staff_rule} in {zone_name}")


def _equal_shares_sum(total: int, units: int, first: int, count: int) -> int:
    """The sum of shares [first, first + count) when `total` (>= 0) is split over `units` equal
    weights by largest remainder: each unit gets total // units, and the earliest
    total % units units one more. The same figures as `allocate`, without a list per unit
    (wholesale lines run to thousands of units)."""
    base, extra = divmod(total, units)
    return base * count + max(0, min(extra, first + count) - first)


def _units_value(line: LineSnapshot, first: int, count: int, tax_included: bool) -> int:
    """What units [first, first + count) of the line were paid. The discount and the tax are
    split over the units by largest remainder; units are taken in order, after those already
    returned, so successive returns of a line add up to exactly what the line was paid."""
    if count <= 0 or line.quantity <= 0:
        return 0
    discount = _equal_shares_sum(line.discount, line.quantity, first, count)
    tax = 0 if tax_included else _equal_shares_sum(line.tax, line.quantity, first, count)
    return line.unit_price * count - discount + tax


def _restocking_percent(
    policy: PolicyDocument, reason: Reason, category: str
) -> tuple[Decimal, str]:
    fees = policy.fees
    if reason.code in fees.restocking_percent_by_reason:
        return fees.restocking_percent_by_reason[reason.code], f"reason {reason.code}"
    if category in fees.restocking_percent_by_category:
        return fees.restocking_percent_by_category[category], f"category {category}"
    return fees.restocking_percent, "the policy's rate"


# ----------------------------------------------------------------------------------------------
# The decision


def decide(
    policy: PolicyDocument,
    order: OrderSnapshot,
    request: ReturnRequest,
    history: CustomerHistory,
    *,
    now: datetime,
    timezone: str,
) -> Decision:
    """Evaluate a return request. Raises `RequestInvalid` for a malformed request."""
    _require_aware(now, "now")
    _require_aware(order.placed_at, "order.placed_at")
    if order.delivered_at is not None:
        _require_aware(order.delivered_at, "order.delivered_at")
    ZoneInfo(timezone)  # an unknown zone fails before anything else
    lines = _validate(policy, order, request)
    currency = order.currency

    non_returnable_skus = set(policy.non_returnable_skus)
    non_returnable_categories = set(policy.non_returnable_categories)

    line_clauses: list[list[Clause]] = []
    partial: list[tuple[RequestLine, LineSnapshot, Reason, int, datetime | None, int]] = []
    fees: list[FeeLine] = []
    restocking_total = 0
    eligible_total = 0
    eligible_reasons: list[Reason] = []

    for item in request.lines:
        line = lines[item.line_id]
        reason = policy.reason(item.reason)
        assert reason is not None  # validated
        clauses: list[Clause] = []
        blocked = False
        ends_at: datetime | None = None
        allowed = 0

        if line.final_sale:
            blocked = True
            clauses.append(
                Clause(
                    "final_sale",
                    "Final sale items can't be returned",
                    f"{line.sku} was sold as final sale",
                )
            )
        not_returnable_why = (
            "the product is marked not returnable"
            if not line.returnable
            else f"SKU {line.sku} is on the policy's non-returnable list"
            if line.sku in non_returnable_skus
            else f"category {line.category} is on the policy's non-returnable list"
            if line.category in non_returnable_categories
            else None
        )
        if not_returnable_why is not None:
            blocked = True
            clauses.append(
                Clause("not_returnable", "This item can't be returned", not_returnable_why)
            )

        if not blocked:
            window = _window(policy, order, line, timezone)
            ends_at = window.ends_at
            clauses.extend(window.clauses)
            local_end = _human_date(ends_at.astimezone(ZoneInfo(timezone)).date())
            if not order.purchase_date_known:
                clauses.append(
                    Clause(
                        "return_window_on_receipt",
                        f"We'll check the date on your receipt against the {window.shopper_label}"
                        " window",
                        f"purchase date unknown (receipt): check the receipt's date; "
                        f"{window.staff_rule}",
                    )
                )
            elif now > ends_at:
                blocked = True
                clauses.append(
                    Clause(
                        "window_expired",
                        f"The {window.shopper_label} window ended on {local_end}",
                        f"window ended {_utc(ends_at)}; now {_utc(now)}; {window.staff_rule}",
                    )
                )
            else:
                clauses.append(
                    Clause(
                        "return_window",
                        f"You can return this item until {local_end}",
                        f"window ends {_utc(ends_at)}; {window.staff_rule}",
                    )
                )
            available = max(0, line.quantity - max(0, line.already_returned))
            if available == 0:
                blocked = True
                clauses.append(
                    Clause(
                        "already_returned",
                        "Already returned",
                        f"all {line.quantity} units of line {line.line_id} are returned or in "
                        "another return",
                    )
                )
            elif item.quantity > available and not blocked:
                clauses.append(
                    Clause(
                        "quantity_reduced",
                        f"Only {available} of this item can still be returned",
                        f"requested {item.quantity}; bought {line.quantity}, "
                        f"{line.already_returned} returned or requested already",
                    )
                )
            if not blocked:
                allowed = min(item.quantity, available)

        value = 0
        if not blocked:
            value = _units_value(line, max(0, line.already_returned), allowed, order.tax_included)
            eligible_total += value
            eligible_reasons.append(reason)
            if reason.restocking_fee:
                percent, source = _restocking_percent(policy, reason, line.category)
                amount = Money(max(0, value), currency).percent(percent).amount
                if amount > 0:
                    why = f"{_pct(percent)}% restocking fee ({source}) for '{reason.label}'"
                    fees.append(FeeLine("restocking_fee", line.line_id, amount, why))
                    restocking_total += amount
                    clauses.append(
                        Clause(
                            "restocking_fee",
                            f"A {_pct(percent)}% restocking fee applies",
                            f"{why}: {Money(amount, currency)} of {Money(value, currency)}",
                        )
                    )
        line_clauses.append(clauses)
        partial.append((item, line, reason, allowed, ends_at, value))

    shipping_fee = policy.fees.return_shipping_fee
    if eligible_reasons and shipping_fee > 0:
        merchant_paid = [r for r in eligible_reasons if r.shipping_paid_by == "merchant"]
        if merchant_paid:
            for (_item, _line, reason, allowed, _ends, _value), clauses in zip(
                partial, line_clauses, strict=True
            ):
                if allowed > 0 and reason.shipping_paid_by == "merchant":
                    clauses.append(
                        Clause(
                            "shipping_fee_waived",
                            "Return shipping is free for this return",
                            f"return shipping fee of {Money(shipping_fee, currency)} waived: "
                            f"'{reason.label}' is a merchant-paid reason",
                        )
                    )
        else:
            remaining = max(0, eligible_total - restocking_total)
            amount = min(shipping_fee, remaining)
            if amount > 0:
                why = f"return shipping fee of {Money(shipping_fee, currency)}"
                if amount < shipping_fee:
                    why += f", capped at the {Money(remaining, currency)} left to refund"
                fees.append(FeeLine("return_shipping_fee", None, amount, why))

    verdicts = tuple(
        LineVerdict(
            line_id=item.line_id,
            requested_quantity=item.quantity,
            allowed_quantity=allowed,
            eligible=allowed > 0,
            clauses=tuple(clauses),
            window_ends_at=ends_at,
            value=value,
        )
        for (item, _line, _reason, allowed, ends_at, value), clauses in zip(
            partial, line_clauses, strict=True
        )
    )
    fee_total = sum(fee.amount for fee in fees)
    estimate = max(0, eligible_total - fee_total)
    bonus = 0
    if request.resolution == "store_credit":
        bonus_percent = policy.resolutions.store_credit_bonus_percent
        bonus = Money(estimate, currency).percent(bonus_percent).amount

    any_eligible = any(v.eligible for v in verdicts)
    review = _review_clauses(policy, order, request, history) if any_eligible else ()
    outcome = "rejected" if not any_eligible else "pending_review" if review else "authorized"

    return Decision(
        outcome=outcome,
        verdicts=verdicts,
        review_clauses=review,
        fees=tuple(fees),
        refund_estimate=estimate,
        store_credit_bonus=bonus,
        currency=currency,
        resolution=request.resolution,
        refund_timing=_refund_timing(policy, history),
        condition_required=policy.condition_required,
    )


def _review_clauses(
    policy: PolicyDocument,
    order: OrderSnapshot,
    request: ReturnRequest,
    history: CustomerHistory,
) -> tuple[Clause, ...]:
    limits = policy.auto_approval
    review = "We'll review this return before approving it"
    clauses: list[Clause] = []
    if request.proof == "receipt":
        clauses.append(
            Clause(
                "proof_receipt",
                "We'll check your receipt before approving this return",
                "proof of purchase is an uploaded receipt for an order not in the system",
            )
        )
    if limits.max_order_value is not None and order.total > limits.max_order_value:
        clauses.append(
            Clause(
                "order_value_limit",
                review,
                f"order total {Money(order.total, order.currency)} is above the auto-approval "
                f"limit of {Money(limits.max_order_value, order.currency)}",
            )
        )
    if (
        limits.max_recent_returns is not None
        and history.recent_returns >= limits.max_recent_returns
    ):
        clauses.append(
            Clause(
                "recent_returns_limit",
                review,
                f"the customer has {history.recent_returns} returns in the last "
                f"{limits.recent_days} days; auto-approval stops at "
                f"{limits.max_recent_returns}",
            )
        )
    if limits.max_risk_score is not None and history.risk_score > limits.max_risk_score:
        clauses.append(
            Clause(
                "risk_score_limit",
                review,
                f"risk score {_pct(history.risk_score)} is above the auto-approval limit of "
                f"{_pct(limits.max_risk_score)}",
            )
        )
    return tuple(clauses)


def _refund_timing(policy: PolicyDocument, history: CustomerHistory) -> str:
    if history.risk_score > policy.high_risk_threshold:
        return "inspection"
    trusted = policy.trusted_customers
    is_trusted = (
        history.risk_score < trusted.max_risk_score
        and history.completed_returns_without_finding >= trusted.min_completed_returns
    )
    if policy.refund_timing in EARLY_TIMINGS and not is_trusted:
        return "delivery"
    return policy.refund_timing
