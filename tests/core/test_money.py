from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from returndesk.core.money import Money, MoneyError, allocate


def test_it_parses_major_units_exactly() -> None:
    assert Money.from_decimal("2.55", "GBP") == Money(255, "GBP")
    assert Money.from_decimal("1500", "JPY") == Money(1500, "JPY")
    assert Money.from_decimal("1.234", "KWD") == Money(1234, "KWD")


@pytest.mark.parametrize(("value", "currency"), [("0.001", "GBP"), ("1.5", "JPY")])
def test_it_refuses_amounts_finer_than_the_minor_unit(value: str, currency: str) -> None:
    with pytest.raises(MoneyError, match="finer than"):
        Money.from_decimal(value, currency)


def test_it_refuses_unknown_currencies_and_mixing() -> None:
    with pytest.raises(MoneyError):
        Money(1, "XYZ")
    with pytest.raises(MoneyError):
        Money(1, "USD") + Money(1, "EUR")


def test_percent_rounds_half_up() -> None:
    assert Money(250, "USD").percent(Decimal("1")) == Money(3, "USD")  # 2.5 -> 3
    assert Money(999, "USD").percent(Decimal("12.5")) == Money(125, "USD")  # 124.875


@given(
    total=st.integers(min_value=-(10**12), max_value=10**12),
    weights=st.lists(st.integers(min_value=0, max_value=10**9), min_size=1, max_size=12),
)
def test_allocation_never_creates_or_loses_a_cent(total: int, weights: list[int]) -> None:
    parts = allocate(total, weights)
    assert sum(parts) == total
    assert len(parts) == len(weights)
    if sum(weights):
        for part, weight in zip(parts, weights, strict=True):
            exact = Decimal(total) * weight / sum(weights)
            assert abs(Decimal(part) - exact) < 1


def test_it_formats_for_the_locale() -> None:
    assert Money(123456, "USD").format("en_US") == "$1,234.56"
    assert Money(123456, "EUR").format("de_DE") == "1.234,56\xa0€"
