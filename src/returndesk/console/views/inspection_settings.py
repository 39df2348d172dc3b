"""Inspection settings (issue 6): a merchant's grading scale, its own defect codes on top of the
provider's, the weighting between money and sustainability that ranks the dispositions, and its
overrides of the default figures, shown beside the default table they override.

The page reads the lines and numbers the admin typed and refuses, in place and translated, what
it cannot read; `warehouse.inspection.settings_save` validates again and saves with an audit entry.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from pydantic import ValidationError as PydanticValidationError

from returndesk.console.access import Seat
from returndesk.console.views.admin import Field, field_errors, form_status, problem_for
from returndesk.console.views.common import console_page, page_context
from returndesk.core.errors import ApplicationError
from returndesk.disposition.engine import NOT_THE_ITEM_GRADE, OPTIONS
from returndesk.disposition.figures import DEFAULT_FIGURES, parse_overrides
from returndesk.tenants import permissions as perm
from returndesk.warehouse import inspection

GRADE_CODE = re.compile(r"^[A-Z][A-Z0-9+-]{0,3}$")  # as disposition.figures.Grade
DEFECT_CODE = re.compile(r"^[a-z0-9_]{1,40}$")
FIELDS = ("grade_scale", "defect_codes", "money_weight", "carbon_price_per_tonne", "overrides")


@dataclass(frozen=True)
class Parsed:
    grade_scale: list[dict[str, str]]
    defect_codes: list[dict[str, str]]
    money_weight: Decimal
    carbon_price_per_tonne: int
    overrides: dict[str, Any]


def _lines(text: str) -> list[tuple[str, str]]:
    out = []
    for line in text.splitlines():
        if line.strip():
            code, _sep, label = line.strip().partition(" ")
            out.append((code, label.strip()))
    return out


def _pairs_text(pairs: Sequence[tuple[str, Any]]) -> str:
    return "\n".join(f"{code} {label}" for code, label in pairs)


def _grades(text: str, errors: dict[str, str]) -> list[dict[str, str]]:
    pairs = [(code.upper(), label) for code, label in _lines(text)]
    if not pairs:
        return []  # the default scale
    codes = [code for code, _label in pairs]
    bad = [code for code in codes if not GRADE_CODE.match(code)]
    duplicates = sorted({code for code in codes if codes.count(code) > 1})
    if bad:
        errors["grade_scale"] = _(
            "%(codes)s: a grade is a letter, then up to three letters, digits, + or -."
        ) % {"codes": ", ".join(bad)}
    elif duplicates:
        errors["grade_scale"] = _("Each grade once: %(codes)s appears more than once.") % {
            "codes": ", ".join(duplicates)
        }
    elif NOT_THE_ITEM_GRADE not in codes:
        errors["grade_scale"] = _(
            "Keep grade %(x)s, 'not the item sold': it quarantines a unit that is not what "
            "was sold."
        ) % {"x": NOT_THE_ITEM_GRADE}
    defaults = [(code, str(label)) for code, label in inspection.DEFAULT_GRADES]
    if pairs == defaults:
        return []  # unchanged: keep following the default scale (and its translations)
    return [{"code": code, "label": label or code} for code, label in pairs]


def _defects(text: str, errors: dict[str, str]) -> list[dict[str, str]]:
    pairs = _lines(text)
    codes = [code for code, _label in pairs]
    provider = {code for code, _label in inspection.DEFECT_CODES}
    bad = [code for code in codes if not DEFECT_CODE.match(code)]
    duplicates = sorted({code for code in codes if codes.count(code) > 1})
    taken = sorted(set(codes) & provider)
    if bad:
        errors["defect_codes"] = _(
            "%(codes)s: a code is lower-case letters, digits and _ (up to 40), then its label."
        ) % {"codes": ", ".join(bad)}
    elif duplicates:
        errors["defect_codes"] = _("Each code once: %(codes)s appears more than once.") % {
            "codes": ", ".join(duplicates)
        }
    elif taken:
        errors["defect_codes"] = _("%(codes)s is already a provider-wide code.") % {
            "codes": ", ".join(taken)
        }
    return [{"code": code, "label": label or code} for code, label in pairs]


def _weight(text: str, errors: dict[str, str]) -> Decimal:
    try:
        weight = Decimal(text.strip().replace(",", "."))
    except InvalidOperation:
        weight = Decimal("NaN")
    if not weight.is_finite() or not Decimal(0) <= weight <= Decimal(1):
        errors["money_weight"] = _("A number from 0 to 1, such as 0.5.")
        return Decimal("0.5")
    if weight.as_tuple().exponent < -4:  # type: ignore[operator]
        errors["money_weight"] = _("At most four decimal places.")
    return weight


def _price(text: str, errors: dict[str, str]) -> int:
    cleaned = text.strip()
    if not cleaned.isdigit() or len(cleaned) > 9:
        errors["carbon_price_per_tonne"] = _(
            "A whole number of minor units (cents for a dollar), 0 or more."
        )
        return 0
    return int(cleaned)


def _overrides(text: str, errors: dict[str, str]) -> dict[str, Any]:
    if not text.strip():
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        errors["overrides"] = _("Not valid JSON: %(reason)s at line %(line)d, column %(col)d.") % {
            "reason": exc.msg,
            "line": exc.lineno,
            "col": exc.colno,
        }
        return {}
    if not isinstance(data, dict):
        errors["overrides"] = _('A JSON object, such as {"categories": {}}.')
        return {}
    try:
        parse_overrides(data)
    except PydanticValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        errors["overrides"] = _("Refused at %(where)s: %(reason)s") % {
            "where": where or _("the top"),
            "reason": first["msg"],
        }
    return data


def parse(values: Mapping[str, str]) -> tuple[Parsed, dict[str, str]]:
    """What the admin typed, read field by field; the errors say, in place, what was not."""
    errors: dict[str, str] = {}
    parsed = Parsed(
        grade_scale=_grades(values["grade_scale"], errors),
        defect_codes=_defects(values["defect_codes"], errors),
        money_weight=_weight(values["money_weight"], errors),
        carbon_price_per_tonne=_price(values["carbon_price_per_tonne"], errors),
        overrides=_overrides(values["overrides"], errors),
    )
    return parsed, errors


def current_values(merchant_id: int) -> dict[str, str]:
    settings = inspection.settings_for(merchant_id)
    provider = {code for code, _label in inspection.DEFECT_CODES}
    overrides = dict(settings.figures_overrides)
    return {
        "grade_scale": _pairs_text(settings.grades),
        "defect_codes": _pairs_text([p for p in settings.defects if p[0] not in provider]),
        "money_weight": f"{settings.weighting.money_weight.normalize():f}",
        "carbon_price_per_tonne": str(settings.weighting.carbon_price_per_tonne),
        "overrides": json.dumps(overrides, indent=2, ensure_ascii=False) if overrides else "",
    }


def fields(values: Mapping[str, str], errors: Mapping[str, str], currency: str) -> dict[str, Field]:
    specs = [
        Field(
            "grade_scale",
            _("Grading scale"),
            type="textarea",
            help=_(
                "One grade a line, best first: the code, a space, then its label, e.g. "
                "'A Like new'. Grade X, 'not the item sold', must stay; D means damaged. "
                "Leave empty for the default scale."
            ),
        ),
        Field(
            "defect_codes",
            _("Your own defect codes"),
            type="textarea",
            help=_(
                "One a line: the code (lower-case letters, digits and _), a space, then its "
                "label, e.g. 'zip_broken Zip broken'. They are offered after the provider-wide "
                "codes."
            ),
        ),
        Field(
            "money_weight",
            _("Weight of money (0 to 1)"),
            help=_(
                "1 ranks the options by money recovered only, 0 by carbon avoided only; "
                "0.5 weighs them equally."
            ),
        ),
        Field(
            "carbon_price_per_tonne",
            _("Carbon price per tonne of CO2e, in minor units of %(currency)s")
            % {"currency": currency},
            type="number",
            help=_(
                "What avoiding a tonne of CO2e is worth to you, in the smallest unit of "
                "%(currency)s (cents for a dollar): 20000 is 200.00."
            )
            % {"currency": currency},
        ),
        Field(
            "overrides",
            _("Figure overrides (JSON)"),
            type="textarea",
            help=_(
                'Only what differs from the default table below, e.g. {"categories": '
                '{"apparel": {"processing_cost": 400, "grade_factors": {"B": 0.7}}}, '
                '"aliases": {"tees": "apparel"}}. Money in minor units. Leave empty to use the '
                "defaults."
            ),
        ),
    ]
    for spec in specs:
        spec.value = values.get(spec.name, "")
        spec.error = errors.get(spec.name, "")
    return {spec.name: spec for spec in specs}


def _figure(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, Decimal):
        return f"{value.normalize():f}" if value else "0"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    return str(value)


def default_table() -> dict[str, Any]:
    """DEFAULT_FIGURES as rows of text, for the read-only tables beside the overrides."""
    grades = sorted({g for row in DEFAULT_FIGURES.values() for g in row.grade_factors})
    factors, main, outbound, co2e = [], [], [], []
    for name, row in DEFAULT_FIGURES.items():
        factors.append([name, *(_figure(row.grade_factors.get(g)) for g in grades)])
        main.append(
            [
                name,
                _figure(row.processing_cost),
                _figure(row.refurbishment_cost),
                _figure(row.refurbished_factor),
                _figure(row.repair_cost),
                _figure(row.repaired_factor),
                _figure(row.liquidation_factor),
                _figure(row.hazardous_handling_cost),
                _figure(row.hygiene),
            ]
        )
        outbound.append([name, *(_figure(row.outbound_costs.get(o)) for o in OPTIONS)])
        co2e.append([name, *(_figure(row.co2e_avoided_per_kg.get(o)) for o in OPTIONS)])
    return {
        "grades": grades,
        "options": OPTIONS,
        "factors": factors,
        "main": main,
        "outbound": outbound,
        "co2e": co2e,
    }


@console_page(perm.MERCHANT_SETTINGS)
def inspection_settings(request: HttpRequest, seat: Seat) -> HttpResponse:
    merchant = seat.merchant
    values = current_values(merchant.pk)
    errors: dict[str, str] = {}
    problem = ""
    status = 200
    if request.method == "POST":
        values = {name: request.POST.get(name, "") for name in FIELDS}
        parsed, errors = parse(values)
        if errors:
            problem, status = _("Check the fields marked below."), 422
        else:
            try:
                inspection.settings_save(
                    actor=seat.actor,
                    merchant_id=merchant.pk,
                    grade_scale=parsed.grade_scale,
                    defect_codes=parsed.defect_codes,
                    figures_overrides=parsed.overrides,
                    money_weight=parsed.money_weight,
                    carbon_price_per_tonne=parsed.carbon_price_per_tonne,
                )
            except ApplicationError as exc:
                errors = field_errors(exc)
                errors["overrides"] = errors.pop("figures_overrides", "")
                errors["money_weight"] = errors.pop("weighting", "")
                problem, status = problem_for(exc), form_status(exc)
            else:
                messages.success(request, _("Inspection settings saved."))
                return HttpResponseRedirect(
                    reverse("console:admin_inspection", args=[merchant.slug])
                )
    provider = [(code, str(label)) for code, label in inspection.DEFECT_CODES]
    shown = fields(values, errors, merchant.currency)
    groups = [
        (_("Grades and defects"), [shown["grade_scale"], shown["defect_codes"]]),
        (_("Weighting"), [shown["money_weight"], shown["carbon_price_per_tonne"]]),
        (_("Figures"), [shown["overrides"]]),
    ]
    return render(
        request,
        "console/admin/inspection_settings.html",
        page_context(
            seat,
            groups=groups,
            provider_defects=provider,
            defaults=default_table(),
            problem=problem,
        ),
        status=status,
    )


urlpatterns = [
    path("m/<slug:slug>/admin/inspection/", inspection_settings, name="admin_inspection"),
]
