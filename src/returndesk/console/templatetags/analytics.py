"""Rates as the analytics pages write them."""

from __future__ import annotations

from fractions import Fraction

from django import template

from returndesk.analytics.tables import percent as as_percent

register = template.Library()


@register.filter
def percent(value: Fraction | None) -> str:
    """An exact rate as a percentage to one place: Fraction(1, 8) -> 12.5 %."""
    return as_percent(value)
