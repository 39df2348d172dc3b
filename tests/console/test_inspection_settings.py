"""The inspection settings page (issue 6): the defaults shown, a merchant's scale, defect codes,
weighting and figure overrides saved (and offered on the inspection form), each refused input
shown beside its field with nothing saved, and who may."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils.html import escape
from django_scopes import scopes_disabled

from returndesk.core.models import AuditLogEntry
from returndesk.tenants.models import Merchant
from returndesk.warehouse.inspection import settings_for
from returndesk.warehouse.models import InspectionSettings, Receipt
from tests.console.test_console import signed_in, staff
from tests.console.test_inspection_console import lines_of, recorded, unit_url  # noqa: F401
from tests.console.test_station import facility, ran, worker  # noqa: F401 - fixtures
from tests.returns.test_returns_api import order  # noqa: F401 - the order fixture

pytestmark = pytest.mark.django_db
URL = "/console/m/acme/admin/inspection/"
GOOD = {
    "grade_scale": "A Mint\nB Good\nD Damaged\nX Not the item sold",
    "defect_codes": "zip_broken Zip broken\nsmells Smells of smoke",
    "money_weight": "0.8",
    "carbon_price_per_tonne": "5000",
    "overrides": json.dumps({"categories": {"apparel": {"processing_cost": 400}}}),
}


@pytest.fixture
def admin(merchant: Merchant) -> Client:
    return signed_in(staff("admin@acme.example", "merchant_admin", merchant))


def test_the_page_shows_the_defaults(admin: Client) -> None:
    page = admin.get(URL)
    assert page.status_code == 200
    text = page.content.decode()
    assert "Inspection settings" in text
    assert "A Like new\nB Open box" in text and "X Not the item sold" in text
    assert 'value="0.5"' in text and 'value="20000"' in text
    assert "minor units of USD" in text
    # the default table, read-only, per category
    assert "Costs and factors per category" in text and ">apparel<" in text
    assert ">electronics<" in text and "return_to_vendor" in text
    assert reverse("console:admin_inspection", args=["acme"]) in text  # in the admin menu


def test_saving_changes_the_settings_and_the_inspection_form(
    admin: Client,
    merchant: Merchant,
    worker: Client,  # noqa: F811
    recorded: Receipt,  # noqa: F811
) -> None:
    response = admin.post(URL, GOOD)
    assert response.status_code == 302 and response["Location"] == URL
    settings = settings_for(merchant.pk)
    assert settings.grade_codes == ["A", "B", "D", "X"]
    assert ("zip_broken", "Zip broken") in settings.defects
    assert "cosmetic" in settings.defect_codes  # the provider's codes stay
    assert settings.weighting.money_weight == Decimal("0.8")
    assert settings.weighting.carbon_price_per_tonne == 5000
    assert settings.figures_overrides == {"categories": {"apparel": {"processing_cost": 400}}}
    with scopes_disabled():
        assert AuditLogEntry.objects.filter(action="inspection_settings.saved").count() == 1
    shown = admin.get(URL).content.decode()
    assert "Inspection settings saved." in shown
    assert "A Mint\nB Good" in shown and "zip_broken Zip broken" in shown
    assert 'value="0.8"' in shown and "processing_cost" in shown

    form = worker.get(unit_url(recorded, lines_of(recorded)[0])).content.decode()
    assert "Mint" in form and "Zip broken" in form
    assert "Open box" not in form


def test_the_unchanged_default_scale_stays_the_default(admin: Client, merchant: Merchant) -> None:
    values = admin.get(URL).context["groups"]
    posted = {f.name: f.value for _heading, group in values for f in group}
    assert admin.post(URL, posted).status_code == 302
    with scopes_disabled():
        assert InspectionSettings.objects.get(merchant=merchant).grade_scale == []


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"grade_scale": "A Mint\nB Good"}, "grade_scale", "Keep grade X"),
        ({"grade_scale": "A Mint\nA Again\nX No"}, "grade_scale", "Each grade once"),
        ({"grade_scale": "a! Bad\nX No"}, "grade_scale", "A!"),
        ({"defect_codes": "Zip-Broken Zip"}, "defect_codes", "Zip-Broken"),
        ({"defect_codes": "cosmetic Again"}, "defect_codes", "provider-wide"),
        ({"money_weight": "1.5"}, "money_weight", "from 0 to 1"),
        ({"money_weight": "much"}, "money_weight", "from 0 to 1"),
        ({"carbon_price_per_tonne": "-3"}, "carbon_price_per_tonne", "whole number"),
        ({"overrides": '{"categories": '}, "overrides", "Not valid JSON"),
        ({"overrides": "[1]"}, "overrides", "A JSON object"),
        (
            {"overrides": json.dumps({"categories": {"apparel": {"grade_factors": {"B": 3}}}})},
            "overrides",
            "categories.apparel.grade_factors.B",
        ),
        (
            {"overrides": json.dumps({"categories": {"apparel": {"colour": "red"}}})},
            "overrides",
            "Refused at",
        ),
    ],
)
def test_a_bad_input_is_shown_beside_its_field(
    admin: Client, merchant: Merchant, changes: dict[str, str], field: str, message: str
) -> None:
    response = admin.post(URL, {**GOOD, **changes})
    assert response.status_code == 422
    text = response.content.decode()
    assert "Check the fields marked below." in text
    error = text.split(f'id="f-{field}-error">', 1)[1].split("</p>", 1)[0]
    assert message in error
    assert f'id="f-{field}" name="{field}"' in text and 'aria-invalid="true"' in text
    for typed in changes.values():  # what was typed is kept
        assert f">{escape(typed)}</textarea>" in text or f'value="{escape(typed)}"' in text
    with scopes_disabled():
        assert not InspectionSettings.objects.filter(merchant=merchant).exists()
        assert not AuditLogEntry.objects.filter(action="inspection_settings.saved").exists()


def test_who_may(merchant: Merchant, other_merchant: Merchant) -> None:
    agent = signed_in(staff("agent@acme.example", "agent", merchant))
    assert agent.get(URL).status_code == 403
    assert agent.post(URL, GOOD).status_code == 403
    stranger = signed_in(staff("admin@globex.example", "merchant_admin", other_merchant))
    assert stranger.get(URL).status_code == 404
    assert stranger.post(URL, GOOD).status_code == 404
    with scopes_disabled():
        assert not InspectionSettings.objects.exists()


def test_the_page_is_in_the_administration_menu_only_for_who_may(
    merchant: Merchant, admin: Client
) -> None:
    home = reverse("console:home", args=["acme"])
    link = reverse("console:admin_inspection", args=["acme"])
    agent = signed_in(staff("agent@acme.example", "agent", merchant))
    assert link in admin.get(home).content.decode()
    assert link not in agent.get(home).content.decode()
