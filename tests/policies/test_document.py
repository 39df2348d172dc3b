"""The policy document: defaults, validators, JSON round trip. No database."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from returndesk.policies.document import (
    EU_MEMBER_STATES,
    PolicyDocument,
    SeasonalExtension,
    default_policy,
)


def errors_of(data: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as caught:
        PolicyDocument.model_validate(data)
    return [(".".join(str(p) for p in e["loc"]), e["msg"]) for e in caught.value.errors()]


# ---- defaults ---------------------------------------------------------------------------------


def test_the_default_policy_is_thirty_days_common_reasons_refund_or_store_credit() -> None:
    policy = PolicyDocument()
    assert policy == default_policy()
    assert policy.window_days == 30
    assert policy.category_window_days == {} and policy.sku_window_days == {}
    assert policy.seasonal_extensions == []
    assert policy.resolutions.refund and policy.resolutions.store_credit
    assert not policy.resolutions.exchange
    assert policy.resolutions.store_credit_bonus_percent == 0
    assert policy.resolutions.offered() == ("refund", "store_credit")
    assert policy.refund_timing == "inspection"
    assert policy.proof_of_purchase == "order"
    assert policy.days_to_ship == 14
    assert policy.condition_required
    assert policy.fees.restocking_percent == 0 and policy.fees.return_shipping_fee == 0
    assert policy.auto_approval.max_risk_score == Decimal(60)
    assert policy.auto_approval.max_order_value is None
    assert policy.auto_approval.recent_days == 90
    assert policy.high_risk_threshold == Decimal(80)
    assert policy.trusted_customers.max_risk_score == Decimal(20)
    assert policy.trusted_customers.min_completed_returns == 3
    assert policy.grade_deductions_percent == {
        "A": Decimal(0),
        "B": Decimal(10),
        "C": Decimal(25),
        "D": Decimal(50),
        "X": Decimal(100),
    }
    assert set(policy.risk_weights) == {
        "return_rate",
        "recent_returns",
        "order_value",
        "email_velocity",
        "address_velocity",
        "blocklisted",
        "contradicted_returns",
    }
    assert policy.risk_weights["contradicted_returns"] == Decimal(40)


def test_the_default_statutory_minimum_is_14_days_in_every_eu_state_and_the_uk() -> None:
    policy = PolicyDocument()
    assert len(EU_MEMBER_STATES) == 27
    assert policy.statutory_minimum_days == {c: 14 for c in (*EU_MEMBER_STATES, "GB")}
    assert "US" not in policy.statutory_minimum_days
    assert "withdrawal" in policy.statutory_label


def test_the_default_reasons() -> None:
    policy = PolicyDocument()
    customer = ["changed_mind", "wrong_size", "no_longer_needed"]
    merchant = ["defective", "damaged_in_transit", "wrong_item", "not_as_described"]
    assert [r.code for r in policy.reasons] == customer + merchant
    for code in customer:
        reason = policy.reason(code)
        assert reason is not None
        assert reason.shipping_paid_by == "customer"
        assert reason.restocking_fee and not reason.merchant_fault and not reason.photo_required
    for code in merchant:
        reason = policy.reason(code)
        assert reason is not None
        assert reason.shipping_paid_by == "merchant"
        assert not reason.restocking_fee and reason.merchant_fault
        assert reason.photo_required == (code in {"defective", "damaged_in_transit"})
    assert policy.reason("nope") is None


def test_each_default_is_a_fresh_object() -> None:
    first, second = PolicyDocument(), PolicyDocument()
    first.reasons.pop()
    first.statutory_minimum_days.pop("GB")
    assert len(second.reasons) == 7 and "GB" in second.statutory_minimum_days


# ---- validators -------------------------------------------------------------------------------


def test_unknown_fields_are_refused_at_every_level() -> None:
    assert errors_of({"windw_days": 30})[0][0] == "windw_days"
    assert errors_of({"fees": {"restocking": 5}})[0][0] == "fees.restocking"
    assert errors_of({"reasons": [{"code": "a", "label": "A", "photo": True}]})[0][0] == (
        "reasons.0.photo"
    )


def test_duplicate_reason_codes_are_refused() -> None:
    reasons = [{"code": "broken", "label": "Broken"}, {"code": "broken", "label": "Also broken"}]
    (field, message), *_ = errors_of({"reasons": reasons})
    assert field == "reasons" and "'broken' appears more than once" in message


def test_reason_codes_are_slugs_and_a_policy_offers_at_least_one_reason() -> None:
    assert errors_of({"reasons": [{"code": "Bad Code", "label": "x"}]})[0][0] == "reasons.0.code"
    assert errors_of({"reasons": []})[0][0] == "reasons"


@pytest.mark.parametrize("value", ["1-31", "13-01", "02-30", "00-10", "12/31", "", "04-31"])
def test_bad_month_days_are_refused(value: str) -> None:
    extension = {
        "purchased_from": "11-01",
        "purchased_to": "12-31",
        "returnable_until": "01-31",
        "label": "Holidays",
    }
    for field in ("purchased_from", "purchased_to", "returnable_until"):
        errors = errors_of({"seasonal_extensions": [{**extension, field: value}]})
        assert errors[0][0] == f"seasonal_extensions.0.{field}"
        assert "MM-DD" in errors[0][1] or "day of the year" in errors[0][1]


@pytest.mark.parametrize(
    "data",
    [
        {"fees": {"restocking_percent": -1}},
        {"fees": {"restocking_percent": 100.5}},
        {"fees": {"restocking_percent_by_reason": {"changed_mind": -5}}},
        {"fees": {"restocking_percent_by_category": {"shoes": -0.01}}},
        {"resolutions": {"store_credit_bonus_percent": -10}},
        {"grade_deductions_percent": {"A": -1}},
        {"risk_weights": {"return_rate": -1}},
        {"risk_weights": {"contradicted_returns": -1}},
        {"risk_weights": {"contradicted_returns": "0.00001"}},
        {"fees": {"return_shipping_fee": -1}},
        {"window_days": -1},
        {"window_days": 3651},
        {"sku_window_days": {"SKU-1": -3}},
        {"statutory_minimum_days": {"de": 14}},
        {"auto_approval": {"max_order_value": -1}},
        {"fees": {"restocking_percent": "12.34567"}},
    ],
)
def test_out_of_range_numbers_are_refused(data: dict[str, Any]) -> None:
    assert errors_of(data)


def test_fee_keys_must_name_reasons_the_policy_offers() -> None:
    (field, message), *_ = errors_of(
        {"fees": {"restocking_percent_by_reason": {"changed_mind": 5, "bored": 10}}}
    )
    assert field == "fees"
    assert "bored" in message and "changed_mind" not in message
    custom = {
        "reasons": [{"code": "bored", "label": "Bored"}],
        "fees": {"restocking_percent_by_reason": {"bored": 10}},
    }
    assert PolicyDocument.model_validate(custom).fees.restocking_percent_by_reason == {
        "bored": Decimal(10)
    }


def test_a_policy_offers_at_least_one_resolution() -> None:
    errors = errors_of({"resolutions": {"refund": False, "store_credit": False}})
    assert errors[0][0] == "resolutions"


def test_unknown_literals_are_refused() -> None:
    assert errors_of({"refund_timing": "whenever"})[0][0] == "refund_timing"
    assert errors_of({"proof_of_purchase": "vibes"})[0][0] == "proof_of_purchase"


# ---- seasonal extensions ----------------------------------------------------------------------


def test_a_seasonal_range_may_wrap_over_the_new_year() -> None:
    plain = SeasonalExtension(
        purchased_from="11-01", purchased_to="12-31", returnable_until="01-31", label="Holidays"
    )
    assert plain.covers(date(2026, 11, 1)) and plain.covers(date(2026, 12, 31))
    assert not plain.covers(date(2026, 10, 31)) and not plain.covers(date(2027, 1, 1))
    assert plain.returnable_until_for(date(2026, 11, 15)) == date(2027, 1, 31)

    wrapping = SeasonalExtension(
        purchased_from="12-15", purchased_to="01-15", returnable_until="02-15", label="Winter"
    )
    assert wrapping.covers(date(2026, 12, 20)) and wrapping.covers(date(2027, 1, 10))
    assert not wrapping.covers(date(2027, 1, 16)) and not wrapping.covers(date(2026, 12, 14))
    assert wrapping.returnable_until_for(date(2026, 12, 20)) == date(2027, 2, 15)
    assert wrapping.returnable_until_for(date(2027, 1, 10)) == date(2027, 2, 15)


def test_returnable_until_is_the_first_such_date_on_or_after_the_purchase() -> None:
    ext = SeasonalExtension(
        purchased_from="01-01", purchased_to="12-31", returnable_until="06-30", label="All year"
    )
    assert ext.returnable_until_for(date(2026, 6, 30)) == date(2026, 6, 30)
    assert ext.returnable_until_for(date(2026, 7, 1)) == date(2027, 6, 30)
    leap = SeasonalExtension(
        purchased_from="01-01", purchased_to="01-31", returnable_until="02-29", label="Leap"
    )
    assert leap.returnable_until_for(date(2027, 1, 10)) == date(2027, 2, 28)
    assert leap.returnable_until_for(date(2028, 1, 10)) == date(2028, 2, 29)


# ---- JSON -------------------------------------------------------------------------------------


def test_the_default_policy_survives_a_json_round_trip() -> None:
    policy = PolicyDocument()
    dumped = policy.model_dump(mode="json")
    assert PolicyDocument.model_validate(dumped) == policy
    assert PolicyDocument.model_validate(json.loads(json.dumps(dumped))) == policy
    assert PolicyDocument.model_validate_json(policy.model_dump_json()) == policy


def test_percentages_are_json_numbers() -> None:
    policy = PolicyDocument.model_validate(
        {"fees": {"restocking_percent": "12.5"}, "high_risk_threshold": 75}
    )
    dumped = policy.model_dump(mode="json")
    assert dumped["fees"]["restocking_percent"] == 12.5
    assert dumped["high_risk_threshold"] == 75 and isinstance(dumped["high_risk_threshold"], int)
    assert policy.model_dump()["fees"]["restocking_percent"] == Decimal("12.5")


percents = st.decimals(min_value=0, max_value=100, places=4, allow_nan=False)
codes = st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True)
month_days = st.dates(min_value=date(2000, 1, 1), max_value=date(2000, 12, 31)).map(
    lambda d: d.strftime("%m-%d")
)


@st.composite
def policies(draw: st.DrawFn) -> PolicyDocument:
    reason_codes = draw(st.lists(codes, min_size=1, max_size=5, unique=True))
    reasons = [
        {
            "code": code,
            "label": code.title(),
            "photo_required": draw(st.booleans()),
            "shipping_paid_by": draw(st.sampled_from(["customer", "merchant"])),
            "restocking_fee": draw(st.booleans()),
            "merchant_fault": draw(st.booleans()),
        }
        for code in reason_codes
    ]
    keys = st.text(min_size=1, max_size=8)
    data = {
        "window_days": draw(st.integers(0, 3650)),
        "category_window_days": draw(st.dictionaries(keys, st.integers(0, 365), max_size=3)),
        "sku_window_days": draw(st.dictionaries(keys, st.integers(0, 365), max_size=3)),
        "seasonal_extensions": [
            {
                "purchased_from": draw(month_days),
                "purchased_to": draw(month_days),
                "returnable_until": draw(month_days),
                "label": "Season",
            }
            for _ in range(draw(st.integers(0, 2)))
        ],
        "statutory_minimum_days": draw(
            st.dictionaries(st.from_regex(r"[A-Z]{2}", fullmatch=True), st.integers(0, 60))
        ),
        "non_returnable_skus": draw(st.lists(keys, max_size=3)),
        "proof_of_purchase": draw(st.sampled_from(["order", "order_or_receipt"])),
        "reasons": reasons,
        "resolutions": {
            "refund": True,
            "store_credit": draw(st.booleans()),
            "store_credit_bonus_percent": draw(percents),
            "exchange": draw(st.booleans()),
        },
        "fees": {
            "restocking_percent": draw(percents),
            "restocking_percent_by_reason": draw(
                st.dictionaries(st.sampled_from(reason_codes), percents)
            ),
            "restocking_percent_by_category": draw(st.dictionaries(keys, percents, max_size=3)),
            "return_shipping_fee": draw(st.integers(0, 10**6)),
        },
        "refund_timing": draw(
            st.sampled_from(["authorization", "first_scan", "delivery", "receipt", "inspection"])
        ),
        "auto_approval": {
            "max_order_value": draw(st.none() | st.integers(0, 10**8)),
            "max_recent_returns": draw(st.none() | st.integers(0, 20)),
            "recent_days": draw(st.integers(1, 365)),
            "max_risk_score": draw(st.none() | percents),
        },
        "high_risk_threshold": draw(percents),
        "grade_deductions_percent": draw(st.dictionaries(keys, percents, max_size=5)),
        "days_to_ship": draw(st.integers(1, 60)),
        "risk_weights": draw(
            st.dictionaries(keys, st.decimals(min_value=0, max_value=10**6, places=4))
        ),
    }
    return PolicyDocument.model_validate(data)


@given(policies())
def test_any_valid_policy_survives_a_json_round_trip(policy: PolicyDocument) -> None:
    dumped = policy.model_dump(mode="json")
    assert PolicyDocument.model_validate(dumped) == policy
    assert PolicyDocument.model_validate_json(policy.model_dump_json()) == policy
