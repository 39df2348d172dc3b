"""The risk score of a return request: pure, documented, weights from the policy.

Each signal is scaled to 0..1, multiplied by its weight (`risk_weights` in the policy), and the
points are summed and capped at 100:

- return_rate: units this customer returned / units they bought (0 with no purchase history);
- recent_returns: returns in the policy's recent window, 5 or more counting fully;
- order_value: the order total / 1,000 major units of its currency, capped at 1;
- email_velocity: other returns opened with this e-mail in the last 24 hours, 3 or more fully;
- address_velocity: returns from other e-mails to the same postal code in the last 24 hours,
  3 or more fully;
- blocklisted: 1 when the e-mail or postal code is on the merchant's or the provider's list;
- contradicted_returns: earlier returns of this customer whose inspection contradicted them (an
  empty box, the wrong item, a counterfeit, a serial not sold, a fault claimed and not found),
  2 or more counting fully. A finding is a fact about what came back, not a rate or a burst,
  so it has its own weight (docs/decisions/0010-facility-photos-risk-findings-inventory-api.md).

The reasons list every signal that scored, with its figures, so staff see why.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from returndesk.core.money import currency_exponent

RECENT_RETURNS_FULL = 5
VELOCITY_FULL = 3
CONTRADICTED_FULL = 2
ORDER_VALUE_FULL_MAJOR = 1000


@dataclass(frozen=True)
class RiskSignals:
    currency: str
    units_bought: int = 0
    units_returned: int = 0
    recent_returns: int = 0
    order_total: int = 0
    email_returns_24h: int = 0
    address_returns_24h: int = 0
    blocklisted: str = ""  # what matched, e.g. "e-mail on the merchant's blocklist"
    contradicted_returns: int = 0
    contradictions: tuple[str, ...] = ()  # the findings behind them, e.g. ("empty_box",)


@dataclass(frozen=True)
class RiskReason:
    signal: str
    points: Decimal
    detail: str


@dataclass(frozen=True)
class RiskAssessment:
    score: Decimal
    reasons: tuple[RiskReason, ...]


def _ratio(part: int, full: int) -> Decimal:
    if full <= 0 or part <= 0:
        return Decimal(0)
    return min(Decimal(part) / Decimal(full), Decimal(1))


def _contradicted_detail(signals: RiskSignals) -> str:
    count = signals.contradicted_returns
    returns = "earlier return" if count == 1 else "earlier returns"
    found = f": {', '.join(signals.contradictions)}" if signals.contradictions else ""
    return f"{count} {returns} where inspection contradicted the customer{found}"


def risk_assess(signals: RiskSignals, weights: dict[str, Decimal]) -> RiskAssessment:
    """Score a request from its signals; deterministic, 0..100, two decimals."""
    order_full = ORDER_VALUE_FULL_MAJOR * 10 ** currency_exponent(signals.currency)
    scaled = {
        "return_rate": (
            _ratio(signals.units_returned, signals.units_bought),
            f"returned {signals.units_returned} of {signals.units_bought} units bought",
        ),
        "recent_returns": (
            _ratio(signals.recent_returns, RECENT_RETURNS_FULL),
            f"{signals.recent_returns} returns in the recent window",
        ),
        "order_value": (
            _ratio(signals.order_total, order_full),
            f"order total {signals.order_total} minor units",
        ),
        "email_velocity": (
            _ratio(signals.email_returns_24h, VELOCITY_FULL),
            f"{signals.email_returns_24h} other returns with this e-mail in 24 hours",
        ),
        "address_velocity": (
            _ratio(signals.address_returns_24h, VELOCITY_FULL),
            f"{signals.address_returns_24h} returns from other e-mails to this postal code "
            "in 24 hours",
        ),
        "blocklisted": (Decimal(1 if signals.blocklisted else 0), signals.blocklisted),
        "contradicted_returns": (
            _ratio(signals.contradicted_returns, CONTRADICTED_FULL),
            _contradicted_detail(signals),
        ),
    }
    reasons = []
    total = Decimal(0)
    for signal, (value, detail) in scaled.items():
        points = (value * weights.get(signal, Decimal(0))).quantize(
            Decimal("0.01"), rounding=ROUND_HALF_UP
        )
        if points > 0:
            reasons.append(RiskReason(signal, points, detail))
            total += points
    return RiskAssessment(min(total, Decimal(100)), tuple(reasons))
