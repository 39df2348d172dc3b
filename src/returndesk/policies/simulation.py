"""Replaying recorded returns under a draft policy next to the current one. Pure.

Each case is a recorded return as the engine would have seen it when it was requested. Cases
whose reason the policy does not know (historical imports record none) are evaluated with the
policy's first reason, and counted, so the report says how much rests on that substitution.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from returndesk.policies.document import PolicyDocument
from returndesk.policies.engine import (
    CustomerHistory,
    Decision,
    OrderSnapshot,
    RequestInvalid,
    ReturnRequest,
    decide,
)

LARGEST = 10


@dataclass(frozen=True)
class SimulationCase:
    ref: str  # the return's RAN
    order: OrderSnapshot
    request: ReturnRequest
    history: CustomerHistory
    requested_at: datetime


@dataclass
class PolicyTotals:
    authorized: int = 0
    pending_review: int = 0
    rejected: int = 0
    invalid: int = 0  # the policy refuses the request itself (a resolution it does not offer)
    eligible_lines: int = 0
    ineligible_lines: int = 0
    fees: int = 0
    refunds: int = 0
    reasons_substituted: int = 0
    invalid_examples: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Outcome:
    outcome: str
    refund: int


def _evaluate(
    policy: PolicyDocument, case: SimulationCase, timezone: str, totals: PolicyTotals
) -> _Outcome:
    known = {reason.code for reason in policy.reasons}
    fallback = policy.reasons[0].code
    lines = []
    for line in case.request.lines:
        if line.reason not in known:
            totals.reasons_substituted += 1
            line = replace(line, reason=fallback, has_photo=True)
        lines.append(line)
    request = replace(case.request, lines=tuple(lines))
    try:
        decision: Decision = decide(
            policy, case.order, request, case.history, now=case.requested_at, timezone=timezone
        )
    except RequestInvalid as exc:
        totals.invalid += 1
        if len(totals.invalid_examples) < 5:
            totals.invalid_examples.append(f"{case.ref}: {exc}")
        return _Outcome("invalid", 0)
    setattr(totals, decision.outcome, getattr(totals, decision.outcome) + 1)
    for verdict in decision.verdicts:
        if verdict.eligible:
            totals.eligible_lines += 1
        else:
            totals.ineligible_lines += 1
    if decision.outcome != "rejected":
        totals.fees += sum(fee.amount for fee in decision.fees)
        totals.refunds += decision.refund_estimate
    return _Outcome(
        decision.outcome, decision.refund_estimate if decision.outcome != "rejected" else 0
    )


def simulate(
    *,
    current: PolicyDocument,
    draft: PolicyDocument,
    cases: list[SimulationCase],
    timezone: str,
    currency: str,
) -> dict[str, Any]:
    """Counts and money under each policy, and the returns whose answer changes the most."""
    before, after = PolicyTotals(), PolicyTotals()
    differences: list[dict[str, Any]] = []
    lines = 0
    for case in cases:
        lines += len(case.request.lines)
        a = _evaluate(current, case, timezone, before)
        b = _evaluate(draft, case, timezone, after)
        if a != b:
            differences.append(
                {
                    "ran": case.ref,
                    "order_number": case.order.order_number,
                    "current": {"outcome": a.outcome, "refund": a.refund},
                    "draft": {"outcome": b.outcome, "refund": b.refund},
                    "refund_difference": b.refund - a.refund,
                }
            )
    differences.sort(
        key=lambda d: (
            -abs(d["refund_difference"]),
            d["current"]["outcome"] == d["draft"]["outcome"],
            d["ran"],
        )
    )
    return {
        "returns": len(cases),
        "lines": lines,
        "currency": currency,
        "current": _totals(before),
        "draft": _totals(after),
        "changed_returns": len(differences),
        "largest_differences": differences[:LARGEST],
    }


def _totals(totals: PolicyTotals) -> dict[str, Any]:
    return {
        "authorized": totals.authorized,
        "pending_review": totals.pending_review,
        "rejected": totals.rejected,
        "invalid": totals.invalid,
        "eligible_lines": totals.eligible_lines,
        "ineligible_lines": totals.ineligible_lines,
        "fees": totals.fees,
        "refunds": totals.refunds,
        "reasons_substituted": totals.reasons_substituted,
        "invalid_examples": totals.invalid_examples,
    }
