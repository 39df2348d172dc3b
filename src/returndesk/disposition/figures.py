"""The disposition figures: the default table per category and a merchant's overrides. Pure.

`figures_for(category, overrides)` gives the `CategoryFigures` the engine ranks with: the
default row of the category (or of `other`), with the merchant's override for that category merged
over it field by field, and key by key inside the per-grade and per-option tables. Overrides are
validated by `FiguresOverrides` (pydantic; `parse_overrides` for raw JSON). Money is in minor units
of the merchant's currency; the defaults are set for a two-decimal currency of about the
dollar's value. docs/disposition.md shows the whole table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal
from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from returndesk.disposition.engine import NOT_THE_ITEM_GRADE, OPTIONS, CategoryFigures

__all__ = [
    "CATEGORIES",
    "DEFAULT_CATEGORY",
    "DEFAULT_FIGURES",
    "CategoryOverride",
    "FiguresOverrides",
    "figures_for",
    "normalize_category",
    "parse_overrides",
]

DEFAULT_CATEGORY = "other"

# The share of a product's embodied carbon that each option saves compared with landfill: reuse
# as it is saves the most; a second life after work or a longer trip saves a little less;
# recycling saves the material only (its share is per category, below); landfill is the baseline.
_REUSE_SHARES: dict[str, Decimal] = {
    "restock": Decimal("1"),
    "refurbish": Decimal("0.9"),
    "repair": Decimal("0.85"),
    "return_to_vendor": Decimal("0.8"),
    "liquidate": Decimal("0.85"),
    "donate": Decimal("0.95"),
    "discard": Decimal("0"),
}


def _co2e(embodied: str, recycle_share: str) -> dict[str, Decimal]:
    shares = {**_REUSE_SHARES, "recycle": Decimal(recycle_share)}
    return {option: Decimal(embodied) * shares[option] for option in OPTIONS}


def _outbound(
    *, rtv: int, liquidate: int, donate: int, recycle: int, discard: int, work: int
) -> dict[str, int]:
    return {
        "restock": 0,  # put away in this facility: the processing cost covers it
        "refurbish": work,  # to and from the refurbisher's bench
        "repair": work,
        "return_to_vendor": rtv,
        "liquidate": liquidate,
        "donate": donate,
        "recycle": recycle,
        "discard": discard,
    }


def _grades(a: str, b: str, c: str, d: str) -> dict[str, Decimal]:
    return {"A": Decimal(a), "B": Decimal(b), "C": Decimal(c), "D": Decimal(d)}


def _row(
    category: str,
    *,
    grades: dict[str, Decimal],
    processing: int,
    refurbishment: int | None,
    refurbished: str,
    repair: int | None,
    repaired: str,
    liquidation: str,
    outbound: dict[str, int],
    hazardous: int,
    embodied: str,
    recycle_share: str,
    hygiene: bool = False,
) -> CategoryFigures:
    return CategoryFigures(
        category=category,
        grade_factors=grades,
        processing_cost=processing,
        refurbishment_cost=refurbishment,
        refurbished_factor=Decimal(refurbished),
        repair_cost=repair,
        repaired_factor=Decimal(repaired),
        liquidation_factor=Decimal(liquidation),
        outbound_costs=outbound,
        hazardous_handling_cost=hazardous,
        co2e_avoided_per_kg=_co2e(embodied, recycle_share),
        hygiene=hygiene,
    )


# Embodied carbon (kg CO2e per kg of product) is a round figure from published life-cycle
# studies of typical products: cotton and synthetic clothing about 20, a pair of shoes about 14
# per kg, small electronics about 80, furniture and homeware about 6, a book about 2.5.
DEFAULT_FIGURES: dict[str, CategoryFigures] = {
    row.category: row
    for row in (
        _row(
            "apparel",
            grades=_grades("1", "0.8", "0.45", "0.15"),
            processing=250,
            refurbishment=400,
            refurbished="0.7",
            repair=600,
            repaired="0.75",
            liquidation="0.25",
            outbound=_outbound(
                rtv=700, liquidate=100, donate=150, recycle=100, discard=60, work=200
            ),
            hazardous=1000,
            embodied="20",
            recycle_share="0.1",
        ),
        _row(
            "footwear",
            grades=_grades("1", "0.8", "0.4", "0.15"),
            processing=300,
            refurbishment=500,
            refurbished="0.7",
            repair=900,
            repaired="0.7",
            liquidation="0.25",
            outbound=_outbound(
                rtv=900, liquidate=150, donate=200, recycle=150, discard=80, work=300
            ),
            hazardous=1000,
            embodied="14",
            recycle_share="0.05",
        ),
        _row(
            "electronics",
            grades=_grades("1", "0.85", "0.6", "0.25"),
            processing=600,
            refurbishment=2500,
            refurbished="0.8",
            repair=4500,
            repaired="0.75",
            liquidation="0.35",
            outbound=_outbound(
                rtv=1200, liquidate=200, donate=300, recycle=400, discard=250, work=500
            ),
            hazardous=1500,
            embodied="80",
            recycle_share="0.2",
        ),
        _row(
            "home",
            grades=_grades("1", "0.85", "0.55", "0.2"),
            processing=400,
            refurbishment=800,
            refurbished="0.75",
            repair=1500,
            repaired="0.75",
            liquidation="0.25",
            outbound=_outbound(
                rtv=1500, liquidate=300, donate=400, recycle=200, discard=150, work=400
            ),
            hazardous=1200,
            embodied="6",
            recycle_share="0.15",
        ),
        _row(
            "beauty_hygiene",
            grades=_grades("1", "0.7", "0.2", "0.05"),
            processing=200,
            refurbishment=None,
            refurbished="0",
            repair=None,
            repaired="0",
            liquidation="0.15",
            outbound=_outbound(rtv=600, liquidate=100, donate=150, recycle=120, discard=60, work=0),
            hazardous=800,
            embodied="4",
            recycle_share="0.05",
            hygiene=True,
        ),
        _row(
            "toys",
            grades=_grades("1", "0.8", "0.5", "0.15"),
            processing=300,
            refurbishment=400,
            refurbished="0.7",
            repair=800,
            repaired="0.7",
            liquidation="0.25",
            outbound=_outbound(
                rtv=900, liquidate=150, donate=200, recycle=150, discard=80, work=300
            ),
            hazardous=1000,
            embodied="6",
            recycle_share="0.1",
        ),
        _row(
            "books_media",
            grades=_grades("1", "0.85", "0.6", "0.2"),
            processing=150,
            refurbishment=None,
            refurbished="0",
            repair=None,
            repaired="0",
            liquidation="0.15",
            outbound=_outbound(rtv=400, liquidate=50, donate=100, recycle=30, discard=40, work=0),
            hazardous=1000,
            embodied="2.5",
            recycle_share="0.3",
        ),
        _row(
            DEFAULT_CATEGORY,
            grades=_grades("1", "0.8", "0.5", "0.15"),
            processing=350,
            refurbishment=600,
            refurbished="0.7",
            repair=1500,
            repaired="0.7",
            liquidation="0.2",
            outbound=_outbound(
                rtv=1000, liquidate=200, donate=300, recycle=200, discard=100, work=300
            ),
            hazardous=1200,
            embodied="8",
            recycle_share="0.1",
        ),
    )
}
CATEGORIES: tuple[str, ...] = tuple(DEFAULT_FIGURES)


def normalize_category(name: str) -> str:
    """Categories match without regard to case or surrounding spaces ("Apparel " is apparel)."""
    return name.strip().casefold()


# ----------------------------------------------------------------------------------------------
# Overrides


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


# A fraction of the resale value: 0 to 1, at most 4 decimal places.
Factor = Annotated[Decimal, Field(ge=0, le=1, decimal_places=4)]
# kg CO2e avoided per kg of item; negative when an option does worse than landfill.
Co2ePerKg = Annotated[Decimal, Field(ge=-1000, le=1000, decimal_places=4)]
MinorUnits = Annotated[int, Field(ge=0, le=10**9)]
Grade = Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9+-]{0,3}$")]
CategoryName = Annotated[str, Field(min_length=1, max_length=100)]


class CategoryOverride(_Model):
    """Any subset of a category's figures. `refurbishment_cost` or `repair_cost` set to null
    means the category is not refurbished (repaired); left out, the default stays."""

    grade_factors: dict[Grade, Factor] | None = None
    processing_cost: MinorUnits | None = None
    refurbishment_cost: MinorUnits | None = None
    refurbished_factor: Factor | None = None
    repair_cost: MinorUnits | None = None
    repaired_factor: Factor | None = None
    liquidation_factor: Factor | None = None
    outbound_costs: dict[str, MinorUnits] | None = None
    hazardous_handling_cost: MinorUnits | None = None
    co2e_avoided_per_kg: dict[str, Co2ePerKg] | None = None
    hygiene: bool | None = None

    @model_validator(mode="after")
    def _null_only_for_optional_work(self) -> Self:
        nulls = sorted(
            name
            for name in self.model_fields_set
            if getattr(self, name) is None and name not in ("refurbishment_cost", "repair_cost")
        )
        if nulls:
            raise ValueError(
                f"{', '.join(nulls)} cannot be null (leave a figure out to keep the default; "
                "only refurbishment_cost and repair_cost take null, for 'not offered')"
            )
        return self

    @field_validator("grade_factors")
    @classmethod
    def _no_factor_for_x(cls, value: dict[str, Decimal] | None) -> dict[str, Decimal] | None:
        if value is not None and NOT_THE_ITEM_GRADE in value:
            raise ValueError(
                f"grade {NOT_THE_ITEM_GRADE} means 'not the item sold': it is quarantined and "
                "has no resale factor"
            )
        return value

    @field_validator("outbound_costs", "co2e_avoided_per_kg")
    @classmethod
    def _known_options(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None:
            unknown = sorted(key for key in value if key not in OPTIONS)
            if unknown:
                raise ValueError(
                    f"unknown option {', '.join(repr(k) for k in unknown)}; the options are "
                    + ", ".join(OPTIONS)
                )
        return value


class FiguresOverrides(_Model):
    """A merchant's overrides: per category (by name; a new name starts from `other`), and
    aliases that map the merchant's own category names onto a row of the table."""

    categories: dict[CategoryName, CategoryOverride] = Field(default_factory=dict)
    aliases: dict[CategoryName, CategoryName] = Field(default_factory=dict)

    @field_validator("categories")
    @classmethod
    def _unique_categories(cls, value: dict[str, CategoryOverride]) -> dict[str, CategoryOverride]:
        normalized: dict[str, CategoryOverride] = {}
        for name, override in value.items():
            key = normalize_category(name)
            if not key:
                raise ValueError("a category name must not be blank")
            if key in normalized:
                raise ValueError(f"category '{name}' appears more than once (case is ignored)")
            normalized[key] = override
        return normalized

    @model_validator(mode="after")
    def _aliases_point_at_rows(self) -> Self:
        aliases: dict[str, str] = {}
        for name, target in self.aliases.items():
            key, row = normalize_category(name), normalize_category(target)
            if row not in DEFAULT_FIGURES and row not in self.categories:
                raise ValueError(
                    f"alias '{name}' points at '{target}', which is neither a default category "
                    f"({', '.join(CATEGORIES)}) nor one of the overridden categories"
                )
            if key in self.categories:
                raise ValueError(
                    f"'{name}' is both an alias and an overridden category; keep one of them"
                )
            aliases[key] = row
        self.aliases = aliases
        return self


def parse_overrides(data: Mapping[str, Any] | None) -> FiguresOverrides:
    """Validate a merchant's overrides (JSON-shaped); raises pydantic's `ValidationError`."""
    return FiguresOverrides.model_validate(data or {})


def figures_for(category: str, overrides: FiguresOverrides | None = None) -> CategoryFigures:
    """The figures the engine ranks a unit of `category` with, for one merchant."""
    overrides = overrides or FiguresOverrides()
    key = normalize_category(category)
    key = overrides.aliases.get(key, key)
    base = DEFAULT_FIGURES.get(key, DEFAULT_FIGURES[DEFAULT_CATEGORY])
    override = overrides.categories.get(key)
    row = key if key in DEFAULT_FIGURES or override is not None else DEFAULT_CATEGORY
    merged = replace(base, category=row)
    if override is None:
        return merged
    changes: dict[str, Any] = {}
    for name in override.model_fields_set:
        value = getattr(override, name)
        if name in ("grade_factors", "outbound_costs", "co2e_avoided_per_kg"):
            if value is not None:
                changes[name] = {**getattr(base, name), **value}
        elif value is not None or name in ("refurbishment_cost", "repair_cost"):
            changes[name] = value
    return replace(merged, **changes)
