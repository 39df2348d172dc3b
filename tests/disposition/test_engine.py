"""The pure disposition engine: Hypothesis properties and the rules, case by case. No database."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from returndesk.disposition.engine import (
    OPTIONS,
    QUARANTINE,
    CategoryFigures,
    DispositionInvalid,
    Item,
    OptionFigures,
    Recommendation,
    Weighting,
    recommend,
)
from returndesk.disposition.figures import CATEGORIES, figures_for

GRADES = ["A", "B", "C", "D"]
DEFECTS = ["cosmetic", "functional", "missing_parts", "used_worn", "scuffed_sole"]
QUARANTINE_CODES = ["wrong_item", "counterfeit", "empty_box"]


# ---- builders ---------------------------------------------------------------------------------


def item(**overrides: Any) -> Item:
    values: dict[str, Any] = {
        "sku": "SKU-1",
        "category": "apparel",
        "resale_value": 5000,
        "currency": "USD",
        "grade": "A",
        "weight_kg": Decimal("1"),
    }
    values.update(overrides)
    return Item(**values)


def run(weighting: Weighting | None = None, **overrides: Any) -> Recommendation:
    unit = item(**overrides)
    return recommend(unit, figures_for(unit.category), weighting)


def allowed(rec: Recommendation) -> list[str]:
    return [ranked.option for ranked in rec.ranked if ranked.allowed]


def rules(rec: Recommendation, option: str) -> list[str]:
    return [exclusion.rule for exclusion in rec.option_named(option).exclusions]


# ---- strategies -------------------------------------------------------------------------------

factors = st.decimals(min_value=0, max_value=1, places=2)
costs = st.integers(0, 20_000)


@st.composite
def category_figures(draw: st.DrawFn) -> CategoryFigures:
    """Arbitrary figures, not only the defaults: the properties hold for any merchant's table."""
    return CategoryFigures(
        category="any",
        grade_factors={grade: draw(factors) for grade in GRADES},
        processing_cost=draw(costs),
        refurbishment_cost=draw(st.none() | costs),
        refurbished_factor=draw(factors),
        repair_cost=draw(st.none() | costs),
        repaired_factor=draw(factors),
        liquidation_factor=draw(factors),
        outbound_costs={option: draw(costs) for option in OPTIONS},
        hazardous_handling_cost=draw(costs),
        co2e_avoided_per_kg={
            option: draw(st.decimals(min_value=-10, max_value=200, places=3)) for option in OPTIONS
        },
        hygiene=draw(st.booleans()),
    )


@st.composite
def items(draw: st.DrawFn, *, quarantine: bool = False) -> Item:
    codes = DEFECTS + (QUARANTINE_CODES if quarantine else [])
    return Item(
        sku="SKU-1",
        category=draw(st.sampled_from(CATEGORIES)),
        resale_value=draw(st.integers(0, 2_000_000)),
        currency=draw(st.sampled_from(["USD", "EUR", "JPY", "KWD"])),
        grade=draw(st.sampled_from(GRADES + (["X"] if quarantine else []))),
        opened=draw(st.booleans()),
        hazardous=draw(st.booleans()),
        hygiene=draw(st.booleans()),
        defect_codes=tuple(draw(st.lists(st.sampled_from(codes), max_size=3, unique=True))),
        weight_kg=draw(st.decimals(min_value=0, max_value=200, places=3)),
        vendor_credit=draw(st.none() | st.integers(0, 200_000)),
        functional_defect=draw(st.booleans()),
    )


weightings = st.builds(
    Weighting,
    money_weight=st.decimals(min_value=0, max_value=1, places=4),
    carbon_price_per_tonne=st.integers(0, 500_000),
)
figure_tables = category_figures() | st.sampled_from(CATEGORIES).map(figures_for)


def _rank_key(option: str, found: OptionFigures) -> tuple[Decimal, int, int]:
    return (-found.score, -found.net_recovery, OPTIONS.index(option))


# ---- properties -------------------------------------------------------------------------------


@given(items(), figure_tables, weightings)
def test_the_recommendation_is_the_best_allowed_option_by_the_weighting(
    unit: Item, figures: CategoryFigures, weighting: Weighting
) -> None:
    rec = recommend(unit, figures, weighting)
    candidates = [r for r in rec.ranked if r.allowed]
    assert candidates, "discard is always allowed outside quarantine"
    for ranked in candidates:
        assert ranked.figures is not None
        found = ranked.figures
        expected = weighting.money_weight * found.net_recovery + (
            (1 - weighting.money_weight) * found.carbon_value
        )
        assert found.score == expected
    best = min(candidates, key=lambda r: _rank_key(r.option, r.figures))  # type: ignore[arg-type]
    assert rec.option == best.option
    assert rec.figures == best.figures
    assert all(best.figures.score >= r.figures.score for r in candidates)  # type: ignore[union-attr]


@given(items(), figure_tables, weightings)
def test_the_ranking_is_a_total_order_consistent_with_the_score(
    unit: Item, figures: CategoryFigures, weighting: Weighting
) -> None:
    rec = recommend(unit, figures, weighting)
    assert sorted(r.option for r in rec.ranked) == sorted(OPTIONS)  # each option exactly once
    candidates = [r for r in rec.ranked if r.allowed]
    excluded = [r for r in rec.ranked if not r.allowed]
    assert rec.ranked == (*candidates, *excluded)  # allowed first
    assert [r.rank for r in candidates] == list(range(1, len(candidates) + 1))
    assert all(r.rank is None and r.exclusions for r in excluded)
    keys = [_rank_key(r.option, r.figures) for r in candidates]  # type: ignore[arg-type]
    assert keys == sorted(keys)
    assert len(set(keys)) == len(keys)  # no two options tie: the order is total
    scores = [r.figures.score for r in candidates]  # type: ignore[union-attr]
    assert scores == sorted(scores, reverse=True)
    if len(candidates) > 1:
        assert rec.runner_up == candidates[1].option
        assert rec.margin == scores[0] - scores[1]
        assert rec.margin is not None and rec.margin >= 0


@given(items(), figure_tables, weightings)
def test_the_figures_add_up(unit: Item, figures: CategoryFigures, weighting: Weighting) -> None:
    rec = recommend(unit, figures, weighting)
    for ranked in rec.ranked:
        found = ranked.figures
        if found is None:
            assert ranked.option in ("refurbish", "repair")  # not offered by the category
            continue
        assert found.net_recovery == (
            found.gross_recovery
            - found.processing_cost
            - found.treatment_cost
            - found.outbound_cost
            - found.hazardous_handling_cost
            + found.vendor_credit
        )
        exact = Decimal(unit.resale_value) * found.recovery_factor
        assert abs(Decimal(found.gross_recovery) - exact) <= Decimal("0.5")
        assert found.co2e_avoided_kg == unit.weight_kg * figures.co2e_avoided_per_kg[ranked.option]
        carbon_exact = found.co2e_avoided_kg * weighting.carbon_price_per_tonne / 1000
        assert abs(Decimal(found.carbon_value) - carbon_exact) <= Decimal("0.5")
        assert found.outbound_cost == figures.outbound_costs[ranked.option]
        assert found.hazardous_handling_cost == (
            figures.hazardous_handling_cost if unit.hazardous else 0
        )
        if ranked.option != "return_to_vendor":
            assert found.vendor_credit == 0


@given(items(), figure_tables, weightings)
def test_a_grade_d_item_is_never_restocked(
    unit: Item, figures: CategoryFigures, weighting: Weighting
) -> None:
    rec = recommend(Item(**{**unit.__dict__, "grade": "D"}), figures, weighting)
    assert rec.option != "restock"
    assert "damaged" in rules(rec, "restock")


@given(items(), figure_tables, weightings)
def test_an_opened_hygiene_product_is_never_restocked_nor_sold_or_given_as_it_is(
    unit: Item, figures: CategoryFigures, weighting: Weighting
) -> None:
    rec = recommend(Item(**{**unit.__dict__, "hygiene": True, "opened": True}), figures, weighting)
    assert rec.option not in ("restock", "liquidate", "donate")
    for option in ("restock", "liquidate", "donate"):
        assert "opened_hygiene" in rules(rec, option)


@given(items(), figure_tables, weightings)
def test_hazardous_goods_leave_only_through_hazardous_handling(
    unit: Item, figures: CategoryFigures, weighting: Weighting
) -> None:
    rec = recommend(Item(**{**unit.__dict__, "hazardous": True}), figures, weighting)
    assert set(allowed(rec)) <= {"return_to_vendor", "recycle", "discard"}
    assert rec.option in ("return_to_vendor", "recycle", "discard")
    assert rec.figures is not None
    assert rec.figures.hazardous_handling_cost == figures.hazardous_handling_cost


@given(items(), figure_tables, weightings)
def test_repair_is_allowed_only_when_it_recovers_more_than_every_other_allowed_option(
    unit: Item, figures: CategoryFigures, weighting: Weighting
) -> None:
    rec = recommend(unit, figures, weighting)
    repair = rec.option_named("repair")
    if repair.allowed:
        assert repair.figures is not None
        for other in rec.ranked:
            if other.allowed and other.option != "repair":
                assert other.figures is not None
                assert repair.figures.net_recovery > other.figures.net_recovery
    else:
        assert repair.exclusions


@given(items(), figure_tables)
def test_with_all_weight_on_money_the_recommendation_recovers_the_most_money(
    unit: Item, figures: CategoryFigures
) -> None:
    rec = recommend(unit, figures, Weighting(money_weight=Decimal(1)))
    assert rec.figures is not None
    assert rec.figures.net_recovery == max(
        r.figures.net_recovery  # type: ignore[union-attr]
        for r in rec.ranked
        if r.allowed
    )


@given(items(quarantine=True), figure_tables, weightings)
def test_a_unit_that_is_not_the_item_sold_is_quarantined_and_nothing_else(
    unit: Item, figures: CategoryFigures, weighting: Weighting
) -> None:
    rec = recommend(unit, figures, weighting)
    not_ours = unit.grade == "X" or set(unit.defect_codes) & set(QUARANTINE_CODES)
    assert (rec.option == QUARANTINE) == bool(not_ours)
    if not_ours:
        assert not allowed(rec)
        assert rec.figures is None and rec.runner_up is None
        assert rec.quarantine_rules
        assert rec.as_dict()["recommendation"] == QUARANTINE


@given(items(quarantine=True), figure_tables, weightings)
def test_the_same_inputs_give_the_same_answer(
    unit: Item, figures: CategoryFigures, weighting: Weighting
) -> None:
    assert recommend(unit, figures, weighting) == recommend(unit, figures, weighting)


# ---- rules, case by case ----------------------------------------------------------------------


def test_it_restocks_a_like_new_apparel_unit() -> None:
    rec = run(grade="A")
    assert rec.option == "restock"
    assert rec.figures is not None
    assert rec.figures.gross_recovery == 5000


def test_grade_d_may_still_be_liquidated_but_not_donated() -> None:
    rec = run(grade="D")
    assert "liquidate" in allowed(rec)
    assert rules(rec, "donate") == ["damaged"]


def test_the_category_can_make_a_product_hygiene() -> None:
    rec = run(category="beauty_hygiene", opened=True, hygiene=False)
    assert rules(rec, "restock") == ["opened_hygiene"]
    assert rec.option not in ("restock", "liquidate", "donate")


def test_an_unopened_hygiene_product_may_be_restocked() -> None:
    assert run(category="beauty_hygiene", opened=False).option == "restock"


def test_worn_counts_as_opened_for_hygiene() -> None:
    rec = run(category="beauty_hygiene", opened=False, defect_codes=("used_worn",))
    assert "opened_hygiene" in rules(rec, "restock")


def test_an_opened_hygiene_unit_may_be_refurbished_where_the_category_offers_it() -> None:
    # In-ear headphones: a refurbisher replaces the tips and sanitises the unit.
    rec = run(category="electronics", hygiene=True, opened=True, grade="C", resale_value=20_000)
    assert "refurbish" in allowed(rec)
    assert rec.option == "refurbish"


def test_categories_without_refurbishment_or_repair_say_so() -> None:
    rec = run(category="books_media", functional_defect=True)
    assert rules(rec, "refurbish")[0] == "not_offered_for_category"
    assert rules(rec, "repair") == ["not_offered_for_category"]
    assert rec.option_named("repair").figures is None


def test_a_functional_defect_stops_restock_refurbish_and_donate() -> None:
    rec = run(defect_codes=("functional",))
    for option in ("restock", "refurbish", "donate"):
        assert "functional_defect" in rules(rec, option)
    assert "nothing_to_repair" not in rules(rec, "repair")


def test_repair_needs_a_functional_defect() -> None:
    assert rules(run(), "repair") == ["nothing_to_repair"]


def test_repair_wins_when_it_is_worth_it() -> None:
    rec = run(category="electronics", resale_value=19_900, grade="B", functional_defect=True)
    assert rec.option == "repair"
    assert rec.figures is not None
    # 19,900 x 0.75 = 14,925; less processing 600, repair 4,500 and outbound 500.
    assert rec.figures.net_recovery == 9_325


def test_repair_not_worth_it_names_the_better_option() -> None:
    rec = run(category="electronics", resale_value=7_900, grade="B", functional_defect=True)
    [exclusion] = rec.option_named("repair").exclusions
    assert exclusion.rule == "repair_not_worth_it"
    assert "3.25 USD" in exclusion.message and "liquidate (21.50 USD)" in exclusion.message


def test_repair_that_only_equals_the_best_alternative_is_not_worth_it() -> None:
    figures = figures_for("other")
    # Repair: 10,000 x 0.7 - 350 - 1,500 - 300 = 4,850. Liquidation: 10,000 x 0.5 x f - 200.
    tuned = CategoryFigures(**{**figures.__dict__, "liquidation_factor": Decimal("1.01")})
    rec = recommend(item(category="other", resale_value=10_000, grade="C"), tuned)
    assert rec.option_named("liquidate").figures.net_recovery == 4_850  # type: ignore[union-attr]
    rec = recommend(
        item(category="other", resale_value=10_000, grade="C", functional_defect=True), tuned
    )
    assert rules(rec, "repair") == ["repair_not_worth_it"]


def test_missing_parts_stop_a_restock_but_not_a_refurbishment() -> None:
    rec = run(defect_codes=("missing_parts",))
    assert rules(rec, "restock") == ["missing_parts"]
    assert rec.option == "refurbish"


def test_return_to_vendor_needs_an_agreement_and_adds_the_credit() -> None:
    assert rules(run(), "return_to_vendor") == ["no_vendor_agreement"]
    rec = run(vendor_credit=4_000, grade="D")
    found = rec.option_named("return_to_vendor").figures
    assert found is not None
    assert found.vendor_credit == 4_000
    assert found.net_recovery == 4_000 - 700


def test_a_hazardous_unit_goes_back_to_its_vendor_when_that_pays() -> None:
    rec = run(category="electronics", hazardous=True, vendor_credit=5_000)
    assert rec.option == "return_to_vendor"
    assert rec.figures is not None
    assert rec.figures.net_recovery == 5_000 - 1_200 - 1_500


@pytest.mark.parametrize(
    ("overrides", "rule"),
    [
        ({"grade": "X"}, "not_the_item_sold"),
        ({"defect_codes": ("wrong_item",)}, "not_the_item_sold"),
        ({"defect_codes": ("counterfeit",)}, "counterfeit"),
        ({"defect_codes": ("empty_box",)}, "empty_box"),
    ],
)
def test_not_the_item_sold_is_quarantined(overrides: dict[str, Any], rule: str) -> None:
    rec = run(**overrides)
    assert rec.option == QUARANTINE
    assert [e.rule for e in rec.quarantine_rules] == [rule]
    assert all(rules(rec, option) == [rule] for option in OPTIONS)
    assert rec.explanation.startswith("quarantine: ")


def test_a_hazardous_unit_in_quarantine_is_kept_in_hazardous_storage() -> None:
    assert "hazardous storage" in run(grade="X", hazardous=True).explanation


def test_sustainability_weight_can_change_the_answer() -> None:
    unit = dict(category="apparel", grade="A", weight_kg=Decimal("0.5"), resale_value=20)
    # Restock: 20 - 250 = -230, 10 kg CO2e; discard: -60, 0 kg.
    assert run(Weighting(money_weight=Decimal(1)), **unit).option == "discard"
    assert run(Weighting(money_weight=Decimal(0)), **unit).option == "restock"


def test_ties_go_to_more_money_then_up_the_waste_hierarchy() -> None:
    # Nothing to recover, nothing to pay, no carbon: every allowed option scores 0.
    flat = CategoryFigures(
        category="flat",
        grade_factors={"A": Decimal(0)},
        processing_cost=0,
        refurbishment_cost=0,
        refurbished_factor=Decimal(0),
        repair_cost=None,
        repaired_factor=Decimal(0),
        liquidation_factor=Decimal(0),
        outbound_costs=dict.fromkeys(OPTIONS, 0),
        hazardous_handling_cost=0,
        co2e_avoided_per_kg=dict.fromkeys(OPTIONS, Decimal(0)),
    )
    rec = recommend(item(grade="A"), flat)
    assert allowed(rec) == ["restock", "refurbish", "liquidate", "donate", "recycle", "discard"]


def test_as_dict_is_plain_json() -> None:
    import json

    rec = run(grade="B", opened=True, weight_kg=Decimal("1.2"))
    data = json.loads(json.dumps(rec.as_dict()))
    assert data["recommendation"] == "restock"
    assert data["figures"]["net_recovery"] == 3_750
    assert data["weighting"] == {
        "money_weight": 0.5,
        "sustainability_weight": 0.5,
        "carbon_price_per_tonne": 20_000,
    }
    [repair] = [o for o in data["options"] if o["option"] == "repair"]
    assert repair["rank"] is None and repair["allowed"] is False
    assert repair["excluded_by"][0]["rule"] == "nothing_to_repair"


# ---- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"grade": "Q"}, "grade 'Q' is not on the scale (A, B, C, D, X)"),
        ({"resale_value": -1}, "resale_value must not be negative"),
        ({"weight_kg": Decimal(-1)}, "weight_kg must not be negative"),
        ({"vendor_credit": -5}, "vendor_credit must not be negative"),
        ({"currency": "usd"}, "'usd' is not an ISO 4217 currency code"),
    ],
)
def test_it_refuses_inputs_it_cannot_rank(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(DispositionInvalid, match=message.replace("(", r"\(").replace(")", r"\)")):
        run(**overrides)


@pytest.mark.parametrize("weight", [Decimal("-0.1"), Decimal("1.5")])
def test_money_weight_is_between_0_and_1(weight: Decimal) -> None:
    with pytest.raises(DispositionInvalid, match="money_weight"):
        Weighting(money_weight=weight)


def test_a_figures_row_must_cover_every_option() -> None:
    figures = figures_for("apparel")
    with pytest.raises(DispositionInvalid, match="outbound_costs of apparel lacks discard"):
        CategoryFigures(
            **{**figures.__dict__, "outbound_costs": {o: 0 for o in OPTIONS if o != "discard"}}
        )
