"""Risk scores from fixtures with the expected score and reasons (policies/risk.py's formula)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from returndesk.policies.document import default_policy
from returndesk.policies.models import BlocklistEntry
from returndesk.policies.risk import RiskSignals, risk_assess
from tests.conftest import ApiClient
from tests.returns.test_returns_api import order, request  # noqa: F401 - the order fixture

WEIGHTS = default_policy().risk_weights


def test_a_first_time_customer_with_a_small_order_scores_little() -> None:
    risk = risk_assess(RiskSignals(currency="USD", units_bought=3, order_total=19_900), WEIGHTS)
    # order value 199.00 of 1,000.00 x weight 15 = 2.985 -> 2.99
    assert risk.score == Decimal("2.99")
    assert [r.signal for r in risk.reasons] == ["order_value"]


def test_a_serial_returner_scores_on_each_signal() -> None:
    signals = RiskSignals(
        currency="GBP",
        units_bought=10,
        units_returned=8,
        recent_returns=4,
        order_total=250_000,
        email_returns_24h=2,
        address_returns_24h=6,
    )
    risk = risk_assess(signals, WEIGHTS)
    expected = {
        "return_rate": Decimal("24.00"),  # 8/10 x 30
        "recent_returns": Decimal("16.00"),  # 4/5 x 20
        "order_value": Decimal("15.00"),  # 2,500.00 caps at 1 x 15
        "email_velocity": Decimal("10.00"),  # 2/3 x 15
        "address_velocity": Decimal("20.00"),  # 6/3 caps at 1 x 20
    }
    assert {r.signal: r.points for r in risk.reasons} == expected
    assert risk.score == Decimal("85.00")


def test_a_blocklisted_customer_scores_the_maximum() -> None:
    risk = risk_assess(
        RiskSignals(currency="USD", blocklisted="e-mail on the merchant's blocklist"), WEIGHTS
    )
    assert risk.score == Decimal(100)
    assert risk.reasons[0].detail == "e-mail on the merchant's blocklist"


def test_a_yen_order_is_scaled_by_its_own_currency() -> None:
    risk = risk_assess(RiskSignals(currency="JPY", order_total=500), WEIGHTS)
    assert risk.score == Decimal("7.50")  # 500 yen of 1,000 x 15


@pytest.mark.django_db
def test_a_provider_blocklisted_email_goes_to_review_with_its_reason(
    api: ApiClient,
    order: dict[str, Any],  # noqa: F811
) -> None:
    BlocklistEntry.objects.create(merchant=None, kind="email", value="shopper@example.com")
    ret = api.post("/returns", request()).json()
    assert ret["status"] == "pending_review"
    assert ret["risk"]["score"] == 100.0
    reasons = {r["signal"]: r["detail"] for r in ret["risk"]["reasons"]}
    assert reasons["blocklisted"] == "e-mail on the provider's blocklist"
    review = [c["code"] for c in ret["decision"]["review_clauses"]]
    assert review, ret["decision"]


@pytest.mark.django_db
def test_a_merchant_blocklisted_postal_code_is_named_in_the_reasons(
    api: ApiClient,
    order: dict[str, Any],  # noqa: F811
    merchant,  # type: ignore[no-untyped-def]
) -> None:
    BlocklistEntry.objects.create(merchant=merchant, kind="postal_code", value="US:62701")
    ret = api.post("/returns", request()).json()
    reasons = {r["signal"]: r["detail"] for r in ret["risk"]["reasons"]}
    assert reasons["blocklisted"] == "postal code on the merchant's blocklist"
    assert ret["status"] == "pending_review"
