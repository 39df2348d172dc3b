"""The console's store credit page: finance looks a customer up, adjusts with a reason and
reverses a credit (both audit-logged); an admin sets how long credit lasts; other roles and
other merchants are refused."""

from __future__ import annotations

import pytest

from returndesk.core.models import AuditLogEntry
from returndesk.tenants.models import Merchant
from tests.console.test_console import signed_in, staff
from tests.credit.helpers import EMAIL, issue

pytestmark = pytest.mark.django_db
URL = "/console/m/acme/store-credit/"


def test_finance_looks_up_a_customer(merchant: Merchant) -> None:
    issue(merchant, 6199, "rf_1", bonus=620)
    client = signed_in(staff("finance@acme.example", "finance", merchant))
    home = client.get(URL)
    assert home.status_code == 200
    text = home.content.decode()
    assert f'href="{URL}"' in text and "Store credit" in text  # in the navigation
    assert "Adjust a balance" in text and "How long store credit lasts" not in text
    page = client.get(URL, {"email": "  SHOPPER@example.com"})
    text = page.content.decode()
    assert page.status_code == 200
    assert "$68.19" in text and "$6.20" in text and "rf_1" in text
    assert "Reverse" in text
    missing = client.get(URL, {"email": "nobody@example.com"})
    assert missing.status_code == 200 and b"No customer of Acme has this e-mail" in missing.content


def test_finance_adjusts_a_balance_with_a_reason(merchant: Merchant) -> None:
    issue(merchant, 1000, "rf_1")
    client = signed_in(staff("finance@acme.example", "finance", merchant))
    form = {
        "action": "adjust",
        "email": EMAIL,
        "direction": "remove",
        "amount": "2.50",
        "currency": "USD",
        "reference": "adj_test_1",
    }
    refused = client.post(URL, {**form, "reason": ""})
    assert refused.status_code == 422
    assert b"Say why" in refused.content and b'aria-invalid="true"' in refused.content
    too_fine = client.post(URL, {**form, "amount": "2.505", "reason": "x"})
    assert too_fine.status_code == 422 and b"at most 2 decimal places" in too_fine.content
    too_much = client.post(URL, {**form, "amount": "20", "reason": "x"})
    assert too_much.status_code == 409
    done = client.post(URL, {**form, "reason": "charged twice"}, follow=True)
    assert done.status_code == 200
    text = done.content.decode()
    assert "The balance is now $7.50." in text and "charged twice" in text
    again = client.post(URL, {**form, "reason": "charged twice"}, follow=True)
    assert b"already recorded" in again.content
    audit = AuditLogEntry.objects.get(action="store_credit.adjusted")
    assert audit.actor_label == "finance@acme.example"
    assert audit.changes["reason"] == "charged twice"


def test_finance_reverses_what_is_left_of_a_credit(merchant: Merchant) -> None:
    issue(merchant, 1000, "rf_1")
    client = signed_in(staff("finance@acme.example", "finance", merchant))
    form = {"action": "reverse", "email": EMAIL, "issue_reference": "rf_1", "reference": "r1"}
    assert client.post(URL, {**form, "reason": ""}).status_code == 422
    done = client.post(URL, {**form, "reason": "empty box"}, follow=True)
    assert b"The balance is now $0.00." in done.content
    assert AuditLogEntry.objects.filter(action="store_credit.reversed").count() == 1
    assert client.post(URL, {**form, "reference": "r2", "reason": "x"}).status_code == 409


def test_an_admin_sets_how_long_credit_lasts_and_finance_may_not(merchant: Merchant) -> None:
    admin = signed_in(staff("admin@acme.example", "merchant_admin", merchant))
    assert b"How long store credit lasts" in admin.get(URL).content
    bad = admin.post(URL, {"action": "settings", "store_credit_validity_days": "ten"})
    assert bad.status_code == 422 and b"whole number of days" in bad.content
    saved = admin.post(URL, {"action": "settings", "store_credit_validity_days": "90"}, follow=True)
    assert b"new store credit lasts 90 days" in saved.content
    assert b'value="90"' in saved.content
    finance = signed_in(staff("finance@acme.example", "finance", merchant))
    refused = finance.post(URL, {"action": "settings", "store_credit_validity_days": ""})
    assert refused.status_code == 403


@pytest.mark.parametrize("role", ["agent", "warehouse", "merchant_viewer"])
def test_roles_without_the_permission_are_refused(merchant: Merchant, role: str) -> None:
    client = signed_in(staff(f"{role}@acme.example", role, merchant))
    assert client.get(URL).status_code == 403
    form = {"action": "adjust", "email": EMAIL, "amount": "1", "reason": "x", "reference": "a"}
    assert client.post(URL, form).status_code == 403
    assert not AuditLogEntry.objects.filter(action="store_credit.adjusted").exists()


def test_another_merchants_staff_get_404(merchant: Merchant, other_merchant: Merchant) -> None:
    issue(merchant, 1000, "rf_1")
    client = signed_in(staff("finance@globex.example", "finance", other_merchant))
    assert client.get(URL, {"email": EMAIL}).status_code == 404
    own = signed_in(staff("finance2@globex.example", "finance", other_merchant))
    page = own.get("/console/m/globex/store-credit/", {"email": EMAIL})
    assert page.status_code == 200 and b"No customer of Globex has this e-mail" in page.content
