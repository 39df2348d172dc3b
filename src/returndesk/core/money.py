"""Money in integer minor units with an ISO 4217 currency. Pure: no Django.

Rounding rules are explicit: parsing refuses amounts finer than the currency's minor unit,
percentages round half-up, and splits use the largest-remainder method so that no minor unit is
created or lost.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache

from babel.core import Locale
from babel.numbers import format_currency, get_currency_precision, list_currencies


class MoneyError(ValueError):
    """A money value that cannot be represented exactly; the message is for the user."""


@lru_cache(maxsize=512)
def _known_currencies() -> frozenset[str]:
    return frozenset(list_currencies())


@lru_cache(maxsize=512)
def currency_exponent(currency: str) -> int:
    """Digits after the decimal point for a currency (USD 2, JPY 0, KWD 3)."""
    return int(get_currency_precision(currency))


def validate_currency(code: str) -> str:
    if not isinstance(code, str) or code.upper() != code or code not in _known_currencies():
        raise MoneyError(f"'{code}' is not an ISO 4217 currency code (e.g. USD, EUR, GBP)")
    return code


@dataclass(frozen=True, slots=True, order=False)
class Money:
    amount: int
    currency: str

    def __post_init__(self) -> None:
        if isinstance(self.amount, bool) or not isinstance(self.amount, int):
            raise MoneyError("a money amount is an integer in minor units")
        validate_currency(self.currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    @classmethod
    def from_decimal(cls, value: Decimal | str, currency: str) -> Money:
        """Parse a major-unit amount ("2.55" GBP -> 255); refuse what is finer than a minor unit."""
        try:
            dec = Decimal(str(value).strip())
        except InvalidOperation:
            raise MoneyError(f"'{value}' is not a number") from None
        if not dec.is_finite():
            raise MoneyError(f"'{value}' is not a finite amount")
        exponent = currency_exponent(validate_currency(currency))
        scaled = dec.scaleb(exponent)
        if scaled != scaled.to_integral_value():
            raise MoneyError(
                f"{value} {currency} is finer than the currency's minor unit "
                f"({exponent} decimal places)"
            )
        return cls(int(scaled), currency)

    def to_decimal(self) -> Decimal:
        return Decimal(self.amount).scaleb(-currency_exponent(self.currency))

    def _check(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise TypeError("Money only combines with Money")
        if other.currency != self.currency:
            raise MoneyError(f"cannot combine {self.currency} with {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._check(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._check(other)
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __mul__(self, quantity: int) -> Money:
        if isinstance(quantity, bool) or not isinstance(quantity, int):
            raise TypeError("Money multiplies by an integer quantity; use percent() for rates")
        return Money(self.amount * quantity, self.currency)

    __rmul__ = __mul__

    def __lt__(self, other: Money) -> bool:
        self._check(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._check(other)
        return self.amount <= other.amount

    def __gt__(self, other: Money) -> bool:
        self._check(other)
        return self.amount > other.amount

    def __ge__(self, other: Money) -> bool:
        self._check(other)
        return self.amount >= other.amount

    def __bool__(self) -> bool:
        return self.amount != 0

    def percent(self, rate: Decimal) -> Money:
        """`rate` percent of this amount, rounded half-up to the minor unit (12.5 -> 12.5 %)."""
        exact = Decimal(self.amount) * Decimal(rate) / Decimal(100)
        return Money(int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP)), self.currency)

    def allocate(self, weights: Sequence[int]) -> list[Money]:
        """Split by integer weights with the largest-remainder method; the parts sum exactly."""
        return [Money(part, self.currency) for part in allocate(self.amount, weights)]

    def format(self, locale: str | Locale = "en") -> str:
        return str(format_currency(self.to_decimal(), self.currency, locale=locale))

    def as_dict(self) -> dict[str, int | str]:
        return {"amount": self.amount, "currency": self.currency}

    def __str__(self) -> str:
        return f"{self.to_decimal()} {self.currency}"


def allocate(total: int, weights: Sequence[int]) -> list[int]:
    """Split `total` in proportion to non-negative integer weights (largest remainder).

    Ties in the remainder go to the earlier weight, so the result is deterministic. With all
    weights zero the total is split evenly.
    """
    if not weights:
        raise ValueError("allocate needs at least one weight")
    if any(w < 0 for w in weights):
        raise ValueError("weights must not be negative")
    weight_sum = sum(weights)
    if weight_sum == 0:
        weights = [1] * len(weights)
        weight_sum = len(weights)
    sign = -1 if total < 0 else 1
    magnitude = abs(total)
    shares = [magnitude * w // weight_sum for w in weights]
    remainders = [magnitude * w % weight_sum for w in weights]
    leftover = magnitude - sum(shares)
    order = sorted(range(len(weights)), key=lambda i: (-remainders[i], i))
    for i in order[:leftover]:
        shares[i] += 1
    return [sign * s for s in shares]


def discount_shares(line_values: Sequence[int], discount: int) -> tuple[list[int], int]:
    """An order-level discount shared over the lines in proportion to each line's value (its
    price less its own discount), and what exceeds the goods (left for the shipping). The
    policy engine's estimate and the refund calculator both share it this way."""
    weights = [max(0, v) for v in line_values]
    on_goods = min(max(0, discount), sum(weights))
    if on_goods == 0 or not weights:
        return [0] * len(weights), max(0, discount)
    return allocate(on_goods, weights), discount - on_goods
