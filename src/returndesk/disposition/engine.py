"""The disposition engine: what to do with one inspected unit, and why. Pure: no Django, no ORM.

The caller passes the unit (`Item`), the figures of its category (`CategoryFigures`, usually from
`disposition.figures.figures_for`) and the merchant's `Weighting` between money and
sustainability, and gets a `Recommendation`: the option to take, every option ranked with its
figures, and, for an option the rules exclude, the rules that excluded it. The same inputs always
give the same answer. docs/disposition.md explains the rules, the formulas and the rounding.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import Any

from returndesk.core.money import Money, validate_currency

__all__ = [
    "DAMAGED_GRADE",
    "NOT_THE_ITEM_GRADE",
    "OPTIONS",
    "QUARANTINE",
    "CategoryFigures",
    "DispositionInvalid",
    "Exclusion",
    "Item",
    "OptionFigures",
    "RankedOption",
    "Recommendation",
    "Weighting",
    "recommend",
]

# The options, in the order of the waste hierarchy: keep the item in use first, landfill last.
# This order also breaks ties between options with the same score and the same net recovery.
OPTIONS: tuple[str, ...] = (
    "restock",
    "refurbish",
    "repair",
    "return_to_vendor",
    "liquidate",
    "donate",
    "recycle",
    "discard",
)
# Not an option: where a unit waits when the rules allow none (it is not the item sold).
QUARANTINE = "quarantine"

# On every grading scale these two letters keep the meaning of the default scale.
DAMAGED_GRADE = "D"
NOT_THE_ITEM_GRADE = "X"

# Defect codes the rules read (the inspection taxonomy may have more; the others only inform).
FUNCTIONAL = "functional"
MISSING_PARTS = "missing_parts"
USED_WORN = "used_worn"
WRONG_ITEM = "wrong_item"
COUNTERFEIT = "counterfeit"
EMPTY_BOX = "empty_box"

HAZARDOUS_ROUTES = frozenset({"return_to_vendor", "recycle", "discard"})
SELL_ONWARD_AS_IS = frozenset({"restock", "liquidate", "donate"})
_KG_PER_TONNE = 3  # carbon prices are per tonne: scaleb(-3) gives the price per kg, exactly


class DispositionInvalid(ValueError):
    """Inputs the engine cannot rank: the message says which and why."""


# ----------------------------------------------------------------------------------------------
# Inputs


@dataclass(frozen=True)
class Item:
    """One inspected unit. Money in integer minor units of `currency`."""

    sku: str
    category: str
    resale_value: int  # what one new unit sells for
    currency: str
    grade: str  # on the merchant's scale; D damaged and X not the item sold on every scale
    opened: bool = False
    hazardous: bool = False
    hygiene: bool = False  # the product is in a hygiene category (also set by the figures)
    defect_codes: tuple[str, ...] = ()
    weight_kg: Decimal = Decimal(0)
    vendor_credit: int | None = None  # None: no return-to-vendor agreement for this SKU
    functional_defect: bool = False  # also implied by the defect code "functional"


@dataclass(frozen=True)
class CategoryFigures:
    """The figures of one category. Money in minor units of the merchant's currency; factors are
    fractions of the unit's resale value; CO2e is kg avoided (vs landfill) per kg of item."""

    category: str
    grade_factors: Mapping[str, Decimal]  # restock: resale value x factor, per grade
    processing_cost: int  # preparing a unit for sale again: restock, refurbish, repair
    refurbishment_cost: int | None  # None: the category is not refurbished
    refurbished_factor: Decimal
    repair_cost: int | None  # None: the category is not repaired
    repaired_factor: Decimal
    liquidation_factor: Decimal  # a liquidator pays resale value x grade factor x this
    outbound_costs: Mapping[str, int]  # per option: shipping, pickup or disposal fee
    hazardous_handling_cost: int  # added to the outbound of a hazardous unit
    co2e_avoided_per_kg: Mapping[str, Decimal]  # per option
    hygiene: bool = False  # every product of the category counts as hygiene

    def __post_init__(self) -> None:
        for name, table in (
            ("outbound_costs", self.outbound_costs),
            ("co2e_avoided_per_kg", self.co2e_avoided_per_kg),
        ):
            missing = [option for option in OPTIONS if option not in table]
            if missing:
                raise DispositionInvalid(f"{name} of {self.category} lacks {', '.join(missing)}")


@dataclass(frozen=True)
class Weighting:
    """The merchant's balance: score = money_weight x net recovery + (1 - money_weight) x the
    money-equivalent of the CO2e avoided, at `carbon_price_per_tonne` (minor units)."""

    money_weight: Decimal = Decimal("0.5")
    carbon_price_per_tonne: int = 20_000  # 200.00 in a two-decimal currency

    def __post_init__(self) -> None:
        if not isinstance(self.money_weight, Decimal) or not (
            Decimal(0) <= self.money_weight <= Decimal(1)
        ):
            raise DispositionInvalid("money_weight is a Decimal from 0 to 1")
        if isinstance(self.carbon_price_per_tonne, bool) or self.carbon_price_per_tonne < 0:
            raise DispositionInvalid("carbon_price_per_tonne is a non-negative integer")

    @property
    def sustainability_weight(self) -> Decimal:
        return Decimal(1) - self.money_weight


# ----------------------------------------------------------------------------------------------
# Outputs


@dataclass(frozen=True)
class Exclusion:
    rule: str
    message: str


@dataclass(frozen=True)
class OptionFigures:
    """net_recovery = gross_recovery - processing_cost - treatment_cost - outbound_cost
    - hazardous_handling_cost + vendor_credit; score = w x net_recovery + (1 - w) x carbon_value.
    """

    recovery_factor: Decimal  # of the resale value (liquidation: grade factor x its factor)
    gross_recovery: int
    processing_cost: int
    treatment_cost: int  # refurbishment or repair
    outbound_cost: int
    hazardous_handling_cost: int
    vendor_credit: int
    net_recovery: int
    co2e_avoided_kg: Decimal
    carbon_value: int  # the CO2e avoided at the carbon price, minor units
    score: Decimal

    def as_dict(self) -> dict[str, Any]:
        return {
            "recovery_factor": _number(self.recovery_factor),
            "gross_recovery": self.gross_recovery,
            "processing_cost": self.processing_cost,
            "treatment_cost": self.treatment_cost,
            "outbound_cost": self.outbound_cost,
            "hazardous_handling_cost": self.hazardous_handling_cost,
            "vendor_credit": self.vendor_credit,
            "net_recovery": self.net_recovery,
            "co2e_avoided_kg": _number(self.co2e_avoided_kg),
            "carbon_value": self.carbon_value,
            "score": _number(self.score),
        }


@dataclass(frozen=True)
class RankedOption:
    option: str
    rank: int | None  # 1 is the best allowed option; None when excluded
    figures: OptionFigures | None  # None when the category does not offer it or in quarantine
    exclusions: tuple[Exclusion, ...] = ()

    @property
    def allowed(self) -> bool:
        return not self.exclusions

    def as_dict(self) -> dict[str, Any]:
        return {
            "option": self.option,
            "rank": self.rank,
            "allowed": self.allowed,
            "figures": None if self.figures is None else self.figures.as_dict(),
            "excluded_by": [{"rule": e.rule, "message": e.message} for e in self.exclusions],
        }


@dataclass(frozen=True)
class Recommendation:
    option: str  # one of OPTIONS, or QUARANTINE when the rules allow none
    currency: str
    explanation: str
    ranked: tuple[RankedOption, ...]  # allowed options best first, then the excluded ones
    weighting: Weighting
    category: str
    runner_up: str | None = None
    margin: Decimal | None = None  # score of the recommendation minus the runner-up's
    quarantine_rules: tuple[Exclusion, ...] = field(default=())

    @property
    def figures(self) -> OptionFigures | None:
        """The recommended option's figures (None for quarantine)."""
        return self.option_named(self.option).figures if self.option in OPTIONS else None

    def option_named(self, option: str) -> RankedOption:
        for ranked in self.ranked:
            if ranked.option == option:
                return ranked
        raise KeyError(option)

    def as_dict(self) -> dict[str, Any]:
        figures = self.figures
        return {
            "recommendation": self.option,
            "currency": self.currency,
            "category": self.category,
            "explanation": self.explanation,
            "figures": None if figures is None else figures.as_dict(),
            "runner_up": self.runner_up,
            "margin": None if self.margin is None else _number(self.margin),
            "weighting": {
                "money_weight": _number(self.weighting.money_weight),
                "sustainability_weight": _number(self.weighting.sustainability_weight),
                "carbon_price_per_tonne": self.weighting.carbon_price_per_tonne,
            },
            "quarantine_rules": [
                {"rule": e.rule, "message": e.message} for e in self.quarantine_rules
            ],
            "options": [ranked.as_dict() for ranked in self.ranked],
        }


def _number(value: Decimal) -> int | float | str:
    """JSON numbers for the API and the console; exact to the digits our figures carry."""
    normalized = value.normalize()
    if normalized == normalized.to_integral_value():
        return int(normalized)
    as_float = float(normalized)
    return as_float if Decimal(repr(as_float)) == normalized else str(normalized)


# ----------------------------------------------------------------------------------------------
# Arithmetic


def round_half_up(value: Decimal) -> int:
    """To whole minor units, half away from zero (as core.money.percent: 12.5 -> 13)."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _figures(
    option: str,
    item: Item,
    figures: CategoryFigures,
    weighting: Weighting,
    grade_factor: Decimal,
    hazardous: bool,
) -> OptionFigures | None:
    processing = treatment = 0
    factor = Decimal(0)
    if option == "restock":
        factor, processing = grade_factor, figures.processing_cost
    elif option == "refurbish":
        if figures.refurbishment_cost is None:
            return None
        factor, processing = figures.refurbished_factor, figures.processing_cost
        treatment = figures.refurbishment_cost
    elif option == "repair":
        if figures.repair_cost is None:
            return None
        factor, processing = figures.repaired_factor, figures.processing_cost
        treatment = figures.repair_cost
    elif option == "liquidate":
        factor = grade_factor * figures.liquidation_factor
    credit = (item.vendor_credit or 0) if option == "return_to_vendor" else 0
    outbound = figures.outbound_costs[option]
    hazardous_cost = figures.hazardous_handling_cost if hazardous else 0
    gross = round_half_up(Decimal(item.resale_value) * factor)
    net = gross - processing - treatment - outbound - hazardous_cost + credit
    co2e = item.weight_kg * figures.co2e_avoided_per_kg[option]
    carbon_value = round_half_up(co2e * Decimal(weighting.carbon_price_per_tonne).scaleb(-3))
    score = weighting.money_weight * net + weighting.sustainability_weight * carbon_value
    return OptionFigures(
        recovery_factor=factor,
        gross_recovery=gross,
        processing_cost=processing,
        treatment_cost=treatment,
        outbound_cost=outbound,
        hazardous_handling_cost=hazardous_cost,
        vendor_credit=credit,
        net_recovery=net,
        co2e_avoided_kg=co2e,
        carbon_value=carbon_value,
        score=score,
    )


# ----------------------------------------------------------------------------------------------
# Rules


def _quarantine_rules(item: Item) -> tuple[Exclusion, ...]:
    codes = set(item.defect_codes)
    rules: list[Exclusion] = []
    if item.grade == NOT_THE_ITEM_GRADE or WRONG_ITEM in codes:
        rules.append(
            Exclusion(
                "not_the_item_sold",
                f"the unit is not the {item.sku} sold: its value and vendor are unknown, so it "
                "is held in quarantine for investigation",
            )
        )
    if COUNTERFEIT in codes:
        rules.append(
            Exclusion(
                "counterfeit",
                "a counterfeit may not be sold, given or sent on; it is held in quarantine as "
                "evidence",
            )
        )
    if EMPTY_BOX in codes:
        rules.append(
            Exclusion("empty_box", "the box held no item; it is held in quarantine as evidence")
        )
    return tuple(rules)


def _rule_exclusions(
    option: str, item: Item, figures: CategoryFigures, offered: bool
) -> list[Exclusion]:
    codes = set(item.defect_codes)
    hygiene = item.hygiene or figures.hygiene
    opened = item.opened or USED_WORN in codes
    functional = item.functional_defect or FUNCTIONAL in codes
    out: list[Exclusion] = []
    if not offered:
        out.append(
            Exclusion(
                "not_offered_for_category", f"the {figures.category} figures do not offer {option}"
            )
        )
    if item.hazardous and option not in HAZARDOUS_ROUTES:
        out.append(
            Exclusion(
                "hazardous",
                "hazardous goods leave only through hazardous handling: back to the vendor, "
                "to a licensed recycler or to licensed disposal",
            )
        )
    if hygiene and opened and option in SELL_ONWARD_AS_IS:
        out.append(
            Exclusion(
                "opened_hygiene",
                "an opened hygiene product is never sold or given on as it is",
            )
        )
    if option in ("restock", "donate") and item.grade == DAMAGED_GRADE:
        out.append(
            Exclusion("damaged", f"a grade {DAMAGED_GRADE} (damaged) unit is never {option}d")
        )
    if functional and option in ("restock", "refurbish", "donate"):
        out.append(
            Exclusion(
                "functional_defect",
                f"a unit with a functional defect is not {_past(option)}: it does not work",
            )
        )
    if option == "restock" and MISSING_PARTS in codes:
        out.append(
            Exclusion("missing_parts", "a unit with missing parts cannot be restocked as it is")
        )
    if option == "repair" and not functional:
        out.append(Exclusion("nothing_to_repair", "repair fixes a functional defect; none found"))
    if option == "return_to_vendor" and item.vendor_credit is None:
        out.append(
            Exclusion("no_vendor_agreement", f"no return-to-vendor agreement for {item.sku}")
        )
    return out


def _past(option: str) -> str:
    return {"restock": "restocked", "refurbish": "refurbished", "donate": "donated"}[option]


def _validate(item: Item, figures: CategoryFigures) -> Decimal | None:
    """The grade factor (None in quarantine); raises `DispositionInvalid` for bad inputs."""
    errors: list[str] = []
    try:
        validate_currency(item.currency)
    except ValueError as exc:
        errors.append(str(exc))
    if isinstance(item.resale_value, bool) or not isinstance(item.resale_value, int):
        errors.append("resale_value is an integer in minor units")
    elif item.resale_value < 0:
        errors.append("resale_value must not be negative")
    if not isinstance(item.weight_kg, Decimal) or not item.weight_kg.is_finite():
        errors.append("weight_kg is a finite Decimal")
    elif item.weight_kg < 0:
        errors.append("weight_kg must not be negative")
    if item.vendor_credit is not None and item.vendor_credit < 0:
        errors.append("vendor_credit must not be negative")
    factor = figures.grade_factors.get(item.grade)
    if factor is None and item.grade != NOT_THE_ITEM_GRADE:
        scale = ", ".join([*figures.grade_factors, NOT_THE_ITEM_GRADE])
        errors.append(f"grade '{item.grade}' is not on the scale ({scale})")
    if errors:
        raise DispositionInvalid("; ".join(errors))
    return factor


# ----------------------------------------------------------------------------------------------
# The recommendation


def recommend(
    item: Item, figures: CategoryFigures, weighting: Weighting | None = None
) -> Recommendation:
    """Rank the options for one unit: rules first, then the weighted score (docs/disposition.md).

    Raises `DispositionInvalid` for inputs that cannot be ranked (unknown grade, negative value).
    """
    weighting = weighting or Weighting()
    grade_factor = _validate(item, figures)
    quarantine = _quarantine_rules(item)
    if quarantine or grade_factor is None:
        return _quarantined(item, figures, weighting, quarantine)

    # Generous precision: every product here is exact (factors carry at most a few places).
    with localcontext() as ctx:
        ctx.prec = 60
        figures_by_option = {
            option: _figures(option, item, figures, weighting, grade_factor, item.hazardous)
            for option in OPTIONS
        }
    exclusions = {
        option: _rule_exclusions(option, item, figures, figures_by_option[option] is not None)
        for option in OPTIONS
    }
    repair = figures_by_option["repair"]
    if repair is not None and not exclusions["repair"]:
        others = [
            (option, found)
            for option, found in figures_by_option.items()
            if option != "repair" and found is not None and not exclusions[option]
        ]
        best_option, best = max(others, key=lambda pair: _net_key(pair[0], pair[1]))
        if repair.net_recovery <= best.net_recovery:
            currency = item.currency
            exclusions["repair"].append(
                Exclusion(
                    "repair_not_worth_it",
                    f"repair recovers {Money(repair.net_recovery, currency)} net, no more than "
                    f"{best_option} ({Money(best.net_recovery, currency)})",
                )
            )

    allowed = [option for option in OPTIONS if not exclusions[option]]
    allowed.sort(key=lambda option: _rank_key(option, figures_by_option[option]))
    excluded = [option for option in OPTIONS if exclusions[option]]
    ranked = tuple(
        [
            RankedOption(option, rank, figures_by_option[option])
            for rank, option in enumerate(allowed, start=1)
        ]
        + [
            RankedOption(option, None, figures_by_option[option], tuple(exclusions[option]))
            for option in excluded
        ]
    )
    best_option = allowed[0]  # discard is always allowed outside quarantine
    best_figures = figures_by_option[best_option]
    assert best_figures is not None
    runner_up = allowed[1] if len(allowed) > 1 else None
    margin = None
    if runner_up is not None:
        runner_figures = figures_by_option[runner_up]
        assert runner_figures is not None
        margin = best_figures.score - runner_figures.score
    return Recommendation(
        option=best_option,
        currency=item.currency,
        explanation=_explain(item, best_option, best_figures, runner_up, margin, weighting),
        ranked=ranked,
        weighting=weighting,
        category=figures.category,
        runner_up=runner_up,
        margin=margin,
    )


def _rank_key(option: str, found: OptionFigures | None) -> tuple[Decimal, int, int]:
    """Best first: the higher score, then the higher net recovery, then the waste hierarchy."""
    assert found is not None
    return (-found.score, -found.net_recovery, OPTIONS.index(option))


def _net_key(option: str, found: OptionFigures) -> tuple[int, int]:
    return (found.net_recovery, -OPTIONS.index(option))


def _quarantined(
    item: Item, figures: CategoryFigures, weighting: Weighting, rules: tuple[Exclusion, ...]
) -> Recommendation:
    ranked = tuple(RankedOption(option, None, None, rules) for option in OPTIONS)
    why = "; ".join(rule.message for rule in rules)
    if item.hazardous:
        why += "; it is hazardous: keep it in hazardous storage"
    return Recommendation(
        option=QUARANTINE,
        currency=item.currency,
        explanation=f"quarantine: {why}",
        ranked=ranked,
        weighting=weighting,
        category=figures.category,
        quarantine_rules=rules,
    )


def _explain(
    item: Item,
    option: str,
    found: OptionFigures,
    runner_up: str | None,
    margin: Decimal | None,
    weighting: Weighting,
) -> str:
    net = Money(found.net_recovery, item.currency)
    text = (
        f"{option}: {net} net recovery and {_number(found.co2e_avoided_kg)} kg CO2e avoided; "
        f"score {_number(found.score)} at money weight {_number(weighting.money_weight)}"
    )
    if runner_up is not None and margin is not None:
        text += f", {_number(margin)} ahead of {runner_up}"
    return text
