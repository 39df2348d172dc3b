"""A merchant's return policy as data: a validated, versioned JSON document. Pure: no Django.

`PolicyDocument()` with no arguments is the default policy, published as version 1 for every new
merchant. Amounts are integers in the merchant currency's minor units; percentages are `Decimal`
from 0 to 100 (`12.5` means 12.5 %), written to JSON as numbers. The caller versions documents;
`policies/engine.py` evaluates them. docs/policies.md describes every field.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Annotated, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationInfo,
    field_validator,
    model_validator,
)

__all__ = [
    "EU_MEMBER_STATES",
    "AutoApproval",
    "Fees",
    "PolicyDocument",
    "Reason",
    "Resolutions",
    "SeasonalExtension",
    "TrustedCustomers",
    "default_policy",
    "month_day",
]

MAX_DAYS = 3650


def _decimal_to_json(value: Decimal) -> int | float:
    """JSON numbers, as API.md shows them (`12.5`). Four decimal places at most, so exact."""
    normalized = value.normalize()
    if normalized == normalized.to_integral_value():
        return int(normalized)
    return float(normalized)


_AS_JSON_NUMBER = PlainSerializer(_decimal_to_json, return_type=int | float, when_used="json")

# A percentage: 0..100, at most 4 decimal places.
Percent = Annotated[Decimal, Field(ge=0, le=100, decimal_places=4), _AS_JSON_NUMBER]
# A risk score or threshold on the 0..100 scale of the risk module.
RiskScore = Annotated[Decimal, Field(ge=0, le=100, decimal_places=4), _AS_JSON_NUMBER]
# A risk weight: any non-negative number.
Weight = Annotated[Decimal, Field(ge=0, decimal_places=4), _AS_JSON_NUMBER]
Days = Annotated[int, Field(ge=0, le=MAX_DAYS)]
NonEmpty = Annotated[str, Field(min_length=1, max_length=200)]
MinorUnits = Annotated[int, Field(ge=0)]
CountryCode = Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
ReasonCode = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")]

_MONTH_DAY = re.compile(r"^(\d{2})-(\d{2})$")

# The 27 member states of the European Union (ISO 3166-1 alpha-2; Greece is GR).
EU_MEMBER_STATES: tuple[str, ...] = (
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU",
    "IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
)  # fmt: skip

DEFAULT_STATUTORY_LABEL = "the 14-day right of withdrawal for distance sales in the EU and the UK"
DEFAULT_CONDITION = "Unused and in its original packaging, with all accessories and tags"


def month_day(value: str) -> tuple[int, int]:
    """Parse "MM-DD" into (month, day); 02-29 is allowed (it falls on 28 Feb in common years)."""
    match = _MONTH_DAY.match(value)
    if match is None:
        raise ValueError(f"'{value}' is not a MM-DD date (e.g. 12-31)")
    month, day = int(match.group(1)), int(match.group(2))
    try:
        date(2000, month, day)  # a leap year, so 02-29 passes
    except ValueError:
        raise ValueError(f"'{value}' is not a day of the year") from None
    return month, day


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SeasonalExtension(_Model):
    """Bought between two recurring dates (inclusive; may wrap over the new year), returnable
    until the first `returnable_until` on or after the purchase date."""

    purchased_from: str
    purchased_to: str
    returnable_until: str
    label: NonEmpty

    @field_validator("purchased_from", "purchased_to", "returnable_until")
    @classmethod
    def _check_month_day(cls, value: str) -> str:
        month_day(value)
        return value

    def covers(self, purchased: date) -> bool:
        """Whether a local purchase date falls in the range (inclusive, wrapping over 31 Dec)."""
        start, end, day = (
            month_day(self.purchased_from),
            month_day(self.purchased_to),
            (purchased.month, purchased.day),
        )
        if start <= end:
            return start <= day <= end
        return day >= start or day <= end

    def returnable_until_for(self, purchased: date) -> date:
        """The first `returnable_until` date on or after the purchase date."""
        month, day = month_day(self.returnable_until)
        for year in (purchased.year, purchased.year + 1):
            candidate = _month_day_in(year, month, day)
            if candidate >= purchased:
                return candidate
        raise AssertionError("unreachable: next year's date is always later")  # pragma: no cover


def _month_day_in(year: int, month: int, day: int) -> date:
    try:
        return date(year, month, day)
    except ValueError:  # 29 Feb in a common year
        return date(year, month, day - 1)


class Reason(_Model):
    code: ReasonCode
    label: NonEmpty
    photo_required: bool = False
    shipping_paid_by: Literal["customer", "merchant"] = "customer"
    restocking_fee: bool = True
    merchant_fault: bool = False


def _reason(code: str, label: str, *, merchant_fault: bool, photo: bool = False) -> Reason:
    return Reason(
        code=code,
        label=label,
        photo_required=photo,
        shipping_paid_by="merchant" if merchant_fault else "customer",
        restocking_fee=not merchant_fault,
        merchant_fault=merchant_fault,
    )


def _default_reasons() -> list[Reason]:
    return [
        _reason("changed_mind", "Changed my mind", merchant_fault=False),
        _reason("wrong_size", "Wrong size or fit", merchant_fault=False),
        _reason("no_longer_needed", "No longer needed", merchant_fault=False),
        _reason("defective", "Defective or doesn't work", merchant_fault=True, photo=True),
        _reason("damaged_in_transit", "Arrived damaged", merchant_fault=True, photo=True),
        _reason("wrong_item", "Wrong item sent", merchant_fault=True),
        _reason("not_as_described", "Not as described", merchant_fault=True),
    ]


class Resolutions(_Model):
    refund: bool = True
    store_credit: bool = True
    store_credit_bonus_percent: Percent = Decimal(0)
    exchange: bool = False
    # An exchange released right after authorization (and payment of any difference), before the
    # return arrives; a return that then never arrives opens an adjustment. docs/refunds.md.
    instant_exchange: bool = False

    @model_validator(mode="after")
    def _at_least_one(self) -> Self:
        if not (self.refund or self.store_credit or self.exchange):
            raise ValueError("offer at least one resolution: refund, store_credit or exchange")
        return self

    def offered(self) -> tuple[str, ...]:
        """The resolution codes offered, in a fixed order."""
        flags = (("refund", self.refund), ("store_credit", self.store_credit))
        return tuple(code for code, on in (*flags, ("exchange", self.exchange)) if on)


class Fees(_Model):
    restocking_percent: Percent = Decimal(0)
    restocking_percent_by_reason: dict[str, Percent] = Field(default_factory=dict)
    restocking_percent_by_category: dict[str, Percent] = Field(default_factory=dict)
    return_shipping_fee: MinorUnits = 0


class AutoApproval(_Model):
    max_order_value: MinorUnits | None = None
    max_recent_returns: Annotated[int, Field(ge=0)] | None = None
    recent_days: Annotated[int, Field(ge=1, le=MAX_DAYS)] = 90
    max_risk_score: RiskScore | None = Decimal(60)


class TrustedCustomers(_Model):
    max_risk_score: RiskScore = Decimal(20)
    min_completed_returns: Annotated[int, Field(ge=0)] = 3


def _default_statutory() -> dict[str, int]:
    return dict.fromkeys((*EU_MEMBER_STATES, "GB"), 14)


def _default_grades() -> dict[str, Decimal]:
    return {
        "A": Decimal(0),
        "B": Decimal(10),
        "C": Decimal(25),
        "D": Decimal(50),
        "X": Decimal(100),
    }


RISK_SIGNALS: tuple[str, ...] = (
    "return_rate",
    "recent_returns",
    "order_value",
    "email_velocity",
    "address_velocity",
    "blocklisted",
    "contradicted_returns",
)


def _default_risk_weights() -> dict[str, Decimal]:
    return {
        "return_rate": Decimal(30),
        "recent_returns": Decimal(20),
        "order_value": Decimal(15),
        "email_velocity": Decimal(15),
        "address_velocity": Decimal(20),
        "blocklisted": Decimal(100),
        "contradicted_returns": Decimal(40),
    }


class PolicyDocument(_Model):
    """A merchant's return policy. `PolicyDocument()` is the default policy."""

    window_days: Days = 30
    category_window_days: dict[NonEmpty, Days] = Field(default_factory=dict)
    sku_window_days: dict[NonEmpty, Days] = Field(default_factory=dict)
    seasonal_extensions: list[SeasonalExtension] = Field(default_factory=list)
    statutory_minimum_days: dict[CountryCode, Days] = Field(default_factory=_default_statutory)
    statutory_label: NonEmpty = DEFAULT_STATUTORY_LABEL
    non_returnable_skus: list[NonEmpty] = Field(default_factory=list)
    non_returnable_categories: list[NonEmpty] = Field(default_factory=list)
    condition_required: Annotated[str, Field(max_length=1000)] = DEFAULT_CONDITION
    proof_of_purchase: Literal["order", "order_or_receipt"] = "order"
    reasons: Annotated[list[Reason], Field(min_length=1)] = Field(default_factory=_default_reasons)
    resolutions: Resolutions = Field(default_factory=Resolutions)
    fees: Fees = Field(default_factory=Fees)
    refund_timing: Literal["authorization", "first_scan", "delivery", "receipt", "inspection"] = (
        "inspection"
    )
    auto_approval: AutoApproval = Field(default_factory=AutoApproval)
    high_risk_threshold: RiskScore = Decimal(80)
    trusted_customers: TrustedCustomers = Field(default_factory=TrustedCustomers)
    grade_deductions_percent: dict[NonEmpty, Percent] = Field(default_factory=_default_grades)
    days_to_ship: Annotated[int, Field(ge=1, le=MAX_DAYS)] = 14
    risk_weights: dict[NonEmpty, Weight] = Field(default_factory=_default_risk_weights)

    @field_validator("reasons")
    @classmethod
    def _unique_reason_codes(cls, reasons: list[Reason]) -> list[Reason]:
        seen: set[str] = set()
        for reason in reasons:
            if reason.code in seen:
                raise ValueError(f"reason code '{reason.code}' appears more than once")
            seen.add(reason.code)
        return reasons

    @field_validator("fees")
    @classmethod
    def _fee_reasons_exist(cls, fees: Fees, info: ValidationInfo) -> Fees:
        # `reasons` is declared (so validated) before `fees`; absent here when it was invalid.
        reasons: list[Reason] | None = info.data.get("reasons")
        if reasons is None:
            return fees
        codes = {reason.code for reason in reasons}
        unknown = [code for code in fees.restocking_percent_by_reason if code not in codes]
        if unknown:
            raise ValueError(
                "restocking_percent_by_reason names reasons the policy does not offer: "
                + ", ".join(sorted(unknown))
            )
        return fees

    def reason(self, code: str) -> Reason | None:
        for reason in self.reasons:
            if reason.code == code:
                return reason
        return None


def default_policy() -> PolicyDocument:
    """The policy every new merchant starts with (version 1)."""
    return PolicyDocument()
