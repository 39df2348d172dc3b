from __future__ import annotations

from django import template

from returndesk.core.money import Money

register = template.Library()


@register.filter
def money(amount: int | None, currency: str) -> str:
    """Minor units as the locale writes them: 2721, "USD" -> $27.21."""
    if amount is None:
        return "\u2013"  # an en dash: no amount
    return Money(int(amount), currency).format("en")
