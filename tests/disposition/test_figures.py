"""The default table of disposition figures and a merchant's overrides. No database."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from returndesk.disposition.engine import OPTIONS
from returndesk.disposition.figures import (
    CATEGORIES,
    DEFAULT_FIGURES,
    figures_for,
    parse_overrides,
)


def test_the_default_table_covers_the_brief_categories() -> None:
    assert CATEGORIES == (
        "apparel",
        "footwear",
        "electronics",
        "home",
        "beauty_hygiene",
        "toys",
        "books_media",
        "other",
    )


@pytest.mark.parametrize("category", CATEGORIES)
def test_every_default_row_is_complete_and_sensible(category: str) -> None:
    row = DEFAULT_FIGURES[category]
    assert set(row.outbound_costs) == set(OPTIONS) == set(row.co2e_avoided_per_kg)
    assert list(row.grade_factors) == ["A", "B", "C", "D"]
    factors = list(row.grade_factors.values())
    assert factors == sorted(factors, reverse=True)  # a better grade is never worth less
    assert row.co2e_avoided_per_kg["discard"] == 0  # landfill is the baseline
    assert max(row.co2e_avoided_per_kg.values()) == row.co2e_avoided_per_kg["restock"]
    assert row.outbound_costs["restock"] == 0


def test_an_unknown_category_gets_the_other_row_and_case_does_not_matter() -> None:
    assert figures_for("garden furniture") == DEFAULT_FIGURES["other"]
    assert figures_for("  Apparel ") == DEFAULT_FIGURES["apparel"]


def test_an_override_merges_over_the_default_field_by_field_and_key_by_key() -> None:
    overrides = parse_overrides(
        {
            "categories": {
                "Apparel": {
                    "processing_cost": 300,
                    "grade_factors": {"B": "0.7", "A+": 1},
                    "outbound_costs": {"donate": 0},
                    "co2e_avoided_per_kg": {"recycle": "-0.5"},
                }
            }
        }
    )
    row = figures_for("apparel", overrides)
    default = DEFAULT_FIGURES["apparel"]
    assert row.processing_cost == 300
    assert row.grade_factors == {**default.grade_factors, "B": Decimal("0.7"), "A+": Decimal(1)}
    assert row.outbound_costs == {**default.outbound_costs, "donate": 0}
    assert row.co2e_avoided_per_kg["recycle"] == Decimal("-0.5")
    assert row.co2e_avoided_per_kg["restock"] == default.co2e_avoided_per_kg["restock"]
    assert row.repair_cost == default.repair_cost  # left out: the default stays
    assert figures_for("footwear", overrides) == DEFAULT_FIGURES["footwear"]


def test_null_refurbishment_or_repair_cost_means_not_offered() -> None:
    overrides = parse_overrides({"categories": {"toys": {"repair_cost": None}}})
    row = figures_for("toys", overrides)
    assert row.repair_cost is None
    assert row.refurbishment_cost == DEFAULT_FIGURES["toys"].refurbishment_cost


def test_a_new_category_starts_from_other() -> None:
    overrides = parse_overrides({"categories": {"bikes": {"repair_cost": 2500}}})
    row = figures_for("Bikes", overrides)
    assert row.category == "bikes"
    assert row.repair_cost == 2500
    assert row.processing_cost == DEFAULT_FIGURES["other"].processing_cost


def test_aliases_map_the_merchants_categories_onto_rows() -> None:
    overrides = parse_overrides(
        {
            "categories": {"bikes": {"repair_cost": 2500}},
            "aliases": {"Shirts": "apparel", "E-bikes": "Bikes"},
        }
    )
    assert figures_for("shirts", overrides) == DEFAULT_FIGURES["apparel"]
    assert figures_for("e-bikes", overrides).repair_cost == 2500


def _errors(data: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as caught:
        parse_overrides(data)
    return [(".".join(str(p) for p in e["loc"]), e["msg"]) for e in caught.value.errors()]


@pytest.mark.parametrize(
    ("data", "where", "message"),
    [
        (
            {"categories": {"apparel": {"grade_factors": {"B": "1.2"}}}},
            "categories.apparel.grade_factors.B",
            "less than or equal to 1",
        ),
        (
            {"categories": {"apparel": {"grade_factors": {"X": "0.1"}}}},
            "categories.apparel.grade_factors",
            "grade X means 'not the item sold'",
        ),
        (
            {"categories": {"apparel": {"grade_factors": {"b": "0.5"}}}},
            "categories.apparel.grade_factors.b.[key]",
            "should match pattern",
        ),
        (
            {"categories": {"apparel": {"processing_cost": -1}}},
            "categories.apparel.processing_cost",
            "greater than or equal to 0",
        ),
        (
            {"categories": {"apparel": {"processing_cost": 2.5}}},
            "categories.apparel.processing_cost",
            "valid integer",
        ),
        (
            {"categories": {"apparel": {"processing_cost": None}}},
            "categories.apparel",
            "processing_cost cannot be null",
        ),
        (
            {"categories": {"apparel": {"outbound_costs": {"landfill": 10}}}},
            "categories.apparel.outbound_costs",
            "unknown option 'landfill'; the options are restock, refurbish",
        ),
        (
            {"categories": {"apparel": {"co2e_avoided_per_kg": {"restock": "0.00001"}}}},
            "categories.apparel.co2e_avoided_per_kg.restock",
            "no more than 4 decimal places",
        ),
        (
            {"categories": {"apparel": {"resale_factor": "0.5"}}},
            "categories.apparel.resale_factor",
            "Extra inputs are not permitted",
        ),
        (
            {"categories": {"Toys": {}, "toys ": {}}},
            "categories",
            "category 'toys ' appears more than once",
        ),
        (
            {"aliases": {"shirts": "clothes"}},
            "",
            "alias 'shirts' points at 'clothes', which is neither a default category",
        ),
        (
            {"categories": {"shirts": {}}, "aliases": {"Shirts": "apparel"}},
            "",
            "'Shirts' is both an alias and an overridden category",
        ),
    ],
)
def test_bad_overrides_are_refused_with_a_clear_message(
    data: dict[str, Any], where: str, message: str
) -> None:
    errors = _errors(data)
    assert any(loc == where and message in msg for loc, msg in errors), errors
