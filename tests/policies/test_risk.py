"""The risk module's contradicted-returns signal, on its own: properties over any signals and
weights (Hypothesis), and worked examples. Pure: no database."""

from __future__ import annotations

from dataclasses import replace
from decimal import ROUND_HALF_UP, Decimal

from hypothesis import given
from hypothesis import strategies as st

from returndesk.policies.document import RISK_SIGNALS, PolicyDocument, default_policy
from returndesk.policies.risk import CONTRADICTED_FULL, RiskSignals, risk_assess

FINDINGS = ["empty_box", "wrong_item", "counterfeit", "serial_not_sold", "claim_not_found"]
counts = st.integers(0, 50)
weights_of = st.decimals(min_value=0, max_value=200, places=2)

signals_st = st.builds(
    RiskSignals,
    currency=st.sampled_from(["USD", "EUR", "JPY", "GBP"]),
    units_bought=counts,
    units_returned=counts,
    recent_returns=counts,
    order_total=st.integers(0, 10**7),
    email_returns_24h=counts,
    address_returns_24h=counts,
    blocklisted=st.sampled_from(["", "e-mail on the merchant's blocklist"]),
    contradicted_returns=counts,
    contradictions=st.lists(st.sampled_from(FINDINGS), unique=True).map(lambda x: tuple(sorted(x))),
)
weights_st = st.fixed_dictionaries({signal: weights_of for signal in RISK_SIGNALS})


def points_of(signals: RiskSignals, weights: dict[str, Decimal], signal: str) -> Decimal:
    found = {r.signal: r.points for r in risk_assess(signals, weights).reasons}
    return found.get(signal, Decimal(0))


@given(signals_st, weights_st)
def test_it_scores_its_own_weight_times_its_share(
    signals: RiskSignals, weights: dict[str, Decimal]
) -> None:
    share = min(Decimal(signals.contradicted_returns) / CONTRADICTED_FULL, Decimal(1))
    expected = (share * weights["contradicted_returns"]).quantize(
        Decimal("0.01"),
        rounding=ROUND_HALF_UP,  # as risk_assess rounds every signal's points
    )
    assert points_of(signals, weights, "contradicted_returns") == expected


@given(signals_st, weights_st, weights_of)
def test_its_weight_moves_only_its_own_points(
    signals: RiskSignals, weights: dict[str, Decimal], other: Decimal
) -> None:
    before = {r.signal: r.points for r in risk_assess(signals, weights).reasons}
    changed = {**weights, "contradicted_returns": other}
    after = {r.signal: r.points for r in risk_assess(signals, changed).reasons}
    before.pop("contradicted_returns", None)
    after.pop("contradicted_returns", None)
    assert before == after


@given(signals_st, weights_st, st.integers(0, 50))
def test_more_contradicted_returns_never_lower_the_score(
    signals: RiskSignals, weights: dict[str, Decimal], more: int
) -> None:
    score = risk_assess(signals, weights).score
    worse = replace(signals, contradicted_returns=signals.contradicted_returns + more)
    assert risk_assess(worse, weights).score >= score
    assert Decimal(0) <= risk_assess(worse, weights).score <= Decimal(100)


@given(signals_st, weights_st)
def test_the_score_is_the_sum_of_the_reasons_capped_at_100(
    signals: RiskSignals, weights: dict[str, Decimal]
) -> None:
    assessed = risk_assess(signals, weights)
    assert assessed.score == min(sum((r.points for r in assessed.reasons), Decimal(0)), 100)
    assert all(r.points > 0 for r in assessed.reasons)


@given(signals_st, weights_st)
def test_no_contradiction_or_no_weight_gives_no_reason(
    signals: RiskSignals, weights: dict[str, Decimal]
) -> None:
    clean = replace(signals, contradicted_returns=0, contradictions=())
    assert "contradicted_returns" not in {r.signal for r in risk_assess(clean, weights).reasons}
    unweighted = {**weights, "contradicted_returns": Decimal(0)}
    reasons = {r.signal for r in risk_assess(signals, unweighted).reasons}
    assert "contradicted_returns" not in reasons


def test_worked_examples_with_the_default_weight() -> None:
    weights = default_policy().risk_weights
    assert weights["contradicted_returns"] == Decimal(40)
    one = risk_assess(
        RiskSignals(currency="USD", contradicted_returns=1, contradictions=("empty_box",)),
        weights,
    )
    [reason] = one.reasons
    assert (reason.signal, reason.points, one.score) == (
        "contradicted_returns",
        Decimal("20.00"),  # 1 of 2 x 40
        Decimal("20.00"),
    )
    assert reason.detail == (
        "1 earlier return where inspection contradicted the customer: empty_box"
    )
    three = risk_assess(
        RiskSignals(
            currency="USD", contradicted_returns=3, contradictions=("counterfeit", "wrong_item")
        ),
        weights,
    )
    assert three.score == Decimal("40.00")  # 3 of 2 caps at 1 x 40
    assert three.reasons[0].detail == (
        "3 earlier returns where inspection contradicted the customer: counterfeit, wrong_item"
    )


def test_a_policy_without_the_weight_leaves_the_signal_out() -> None:
    """A version published before the signal existed keeps deciding as it did."""
    old = PolicyDocument.model_validate({"risk_weights": {"return_rate": 30, "blocklisted": 100}})
    assessed = risk_assess(RiskSignals(currency="USD", contradicted_returns=2), old.risk_weights)
    assert assessed.reasons == () and assessed.score == 0
