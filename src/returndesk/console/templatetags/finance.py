"""Template filters for the finance pages: money as the calculator writes it in its answer."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import template

from returndesk.core.money import Money

register = template.Library()


@register.filter
def cash(value: Mapping[str, Any] | None) -> str:
    """{"amount": 2721, "currency": "USD"} -> $27.21; nothing -> an en dash."""
    if not value:
        return "\u2013"
    return Money(int(value["amount"]), str(value["currency"])).format("en")
