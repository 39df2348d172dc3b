"""The finance console: refunds by status and filters, marking a manual refund paid, retrying a
failed one, resolving adjustments, the reconciliation CSV (its totals match the ledger to the
cent), a return's money and "Issue what is due", the payment settings page; and who may do
what (an agent 403, another merchant 404)."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.db.models import Sum
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from returndesk.core.actors import Actor
from returndesk.core.tenancy import merchant_scope
from returndesk.refunds.models import Adjustment, PaymentSettings, Refund, Settlement
from returndesk.refunds.services import adjustment_open
from returndesk.returns.models import Return
from returndesk.tenants.models import Merchant
from tests.conftest import ApiClient
from tests.console.test_console import signed_in, staff
from tests.factories import money, order_body, product_body
from tests.refunds.conftest import create_return, inspect, receive, run_worker, set_policy
from tests.returns.test_returns_api import order, recent  # noqa: F401 - the order fixture

pytestmark = pytest.mark.django_db
ACTOR = Actor.system("tests")
UNITS = (("1", 1), ("1", 2), ("2", 1))
REFUNDS = "/console/m/acme/finance/refunds/"


def put_order(api: ApiClient, number: str, tenders: list[dict[str, Any]]) -> None:
    body = order_body(placed_at=recent(6), delivered_at=recent(4))
    body["tenders"] = tenders
    assert api.put(f"/orders/{number}", body).status_code == 201


def inspected(api: ApiClient, station: ApiClient, number: str) -> str:
    """A return of both lines of order `number`, received and inspected: its money is due."""
    ran = str(create_return(api, order_number=number)["ran"])
    receive(station, ran, {"1": 2, "2": 1})
    for line, unit in UNITS:
        inspect(station, ran, line, unit)
    return ran


@pytest.fixture
def ledger(
    api: ApiClient,
    provider_api: ApiClient,
    order: dict[str, Any],  # noqa: F811
) -> dict[str, str]:
    """Three settled returns: 1001 paid by card (no provider: manual), 2001 by gift card and a
    Stripe card (Stripe is not set up: manual), 3001 by an `other` tender and PayPal (manual)."""
    put_order(api, "2001", order_body()["tenders"])
    put_order(
        api,
        "3001",
        [
            {"method": "other", "amount": money(9900)},
            {"method": "paypal", "amount": money(10000), "provider": "paypal"},
        ],
    )
    rans = {number: inspected(api, provider_api, number) for number in ("1001", "2001", "3001")}
    run_worker()
    return rans


def refund_of(merchant: Merchant, ran: str, **match: Any) -> Refund:
    with merchant_scope(merchant):
        return Refund.objects.get(return_request__ran=ran.replace("-", ""), **match)


def finance(merchant: Merchant) -> Client:
    return signed_in(staff("finance@acme.example", "finance", merchant))


def test_the_list_shows_refunds_by_status_with_their_actions(
    merchant: Merchant, ledger: dict[str, str]
) -> None:
    client = finance(merchant)
    page = client.get(REFUNDS)
    assert page.status_code == 200
    text = page.content.decode()
    assert text.count('id="row-rfd_') == 5
    # the tabs count: four manual refunds wait for finance, the gift card was credited at once
    assert 'Pending<span class="tab-count">4</span>' in text
    assert 'Succeeded<span class="tab-count">1</span>' in text
    assert text.count(">Mark paid</button>") == 4
    assert ledger["1001"] in text and "$194.00" in text

    pending = client.get(REFUNDS, {"status": "pending"}).content.decode()
    assert pending.count('id="row-rfd_') == 4 and "gift_card · gift_card" not in pending
    by_provider = client.get(REFUNDS, {"provider": "gift_card"}).content.decode()
    assert by_provider.count('id="row-rfd_') == 1
    by_method = client.get(REFUNDS, {"method": "paypal"}).content.decode()
    assert by_method.count('id="row-rfd_') == 1 and ledger["3001"] in by_method
    today = timezone.localdate()
    earlier = {"created_to": (today.replace(year=today.year - 1)).isoformat()}
    assert client.get(REFUNDS, earlier).content.decode().count('id="row-rfd_') == 0
    backwards = client.get(REFUNDS, {"created_from": "2026-02-02", "created_to": "2026-02-01"})
    assert b"The end date is before the start date." in backwards.content


def test_the_list_uses_the_same_number_of_queries_for_1_and_5_refunds(
    merchant: Merchant, ledger: dict[str, str]
) -> None:
    client = finance(merchant)
    client.get(REFUNDS)  # the session and the seat, warmed
    with CaptureQueriesContext(connection) as one:
        assert client.get(REFUNDS, {"provider": "gift_card"}).status_code == 200
    with CaptureQueriesContext(connection) as five:
        page = client.get(REFUNDS, {"status": ""})
    assert page.content.decode().count('id="row-rfd_') == 5
    assert len(five) == len(one), [q["sql"] for q in five]


def test_finance_marks_a_manual_refund_paid_with_a_reference(
    merchant: Merchant, ledger: dict[str, str]
) -> None:
    client = finance(merchant)
    refund = refund_of(merchant, ledger["1001"])
    url = f"{REFUNDS}{refund.public_id}/mark-paid/"
    back = f"{REFUNDS}?status=pending"
    refused = client.post(url, {"reference": "  ", "next": back}, follow=True)
    assert b"not marked paid" in refused.content
    assert refund_of(merchant, ledger["1001"]).status == "pending"

    done = client.post(url, {"reference": "BACS-0042", "next": back})
    assert done.status_code == 302 and done["Location"] == back
    paid = refund_of(merchant, ledger["1001"])
    assert (paid.status, paid.provider_reference) == ("succeeded", "BACS-0042")
    assert paid.marked_paid_by_label == "finance@acme.example"
    shown = client.get(back).content.decode()
    assert "marked paid with reference BACS-0042" in shown
    assert refund.public_id not in shown.split("<table")[1]  # no longer pending
    # a redirect elsewhere than this console is not followed
    other = refund_of(merchant, ledger["3001"], method="other")
    away = client.post(
        f"{REFUNDS}{other.public_id}/mark-paid/",
        {"reference": "BACS-0043", "next": "https://evil.example/"},
    )
    assert away["Location"] == f"{REFUNDS}{other.public_id}/"


def test_a_gift_card_refund_is_not_marked_paid_by_hand(
    merchant: Merchant, ledger: dict[str, str]
) -> None:
    gift = refund_of(merchant, ledger["2001"], kind="gift_card")
    answer = finance(merchant).post(
        f"{REFUNDS}{gift.public_id}/mark-paid/", {"reference": "X"}, follow=True
    )
    assert b"not marked paid" in answer.content and b"only manual" in answer.content


def test_a_failed_refund_is_retried(merchant: Merchant, ledger: dict[str, str]) -> None:
    client = finance(merchant)
    refund = refund_of(merchant, ledger["1001"])
    with merchant_scope(merchant):
        Refund.objects.filter(pk=refund.pk).update(status="failed", failure_message="bank said no")
    listed = client.get(REFUNDS, {"status": "failed"}).content.decode()
    assert "bank said no" in listed and f'aria-label="Retry {refund.public_id}"' in listed
    retried = client.post(f"{REFUNDS}{refund.public_id}/retry/", follow=True)
    assert b"retried; it is now pending" in retried.content
    assert refund_of(merchant, ledger["1001"]).status == "pending"
    again = client.post(f"{REFUNDS}{refund.public_id}/retry/", follow=True)
    assert b"not retried" in again.content


def test_a_failed_provider_refund_found_paid_at_the_provider_is_marked_paid(
    merchant: Merchant, ledger: dict[str, str]
) -> None:
    client = finance(merchant)
    refund = refund_of(merchant, ledger["2001"], kind="manual")
    with merchant_scope(merchant):  # as if Stripe had been set up and its answer was lost
        Refund.objects.filter(pk=refund.pk).update(
            kind="payment", provider="stripe", status="failed", failure_message="timeout"
        )
    page = client.get(f"{REFUNDS}{refund.public_id}/").content.decode()
    assert ">Mark paid</button>" in page and ">Retry</button>" in page
    done = client.post(f"{REFUNDS}{refund.public_id}/mark-paid/", {"reference": "re_3Nx1"})
    assert done.status_code == 302
    paid = refund_of(merchant, ledger["2001"], kind="payment")
    assert (paid.status, paid.provider_reference) == ("succeeded", "re_3Nx1")


def test_the_refund_page_shows_the_calculation_line_by_line(
    merchant: Merchant, ledger: dict[str, str]
) -> None:
    card = refund_of(merchant, ledger["2001"], kind="manual")
    page = finance(merchant).get(f"{REFUNDS}{card.public_id}/").content.decode()
    assert "Settlement 1" in page and "SHOE-1" in page and "SOCK-1" in page
    assert "$174.00" in page and "$20.00" in page  # this refund and its gift card sibling
    assert "$194.00" in page  # the settlement's total
    assert "Where it was paid" in page and "manual refund is paid outside" in page


def adjusted(merchant: Merchant, ran: str) -> Adjustment:
    with merchant_scope(merchant):
        ret = Return.objects.get(ran=ran.replace("-", ""))
        found = adjustment_open(
            ret=ret, cause="inspection", amount=1500, findings=["1: empty_box"], actor=ACTOR
        )
    assert found is not None
    return found


def test_finance_resolves_an_adjustment_with_a_note(
    merchant: Merchant, ledger: dict[str, str]
) -> None:
    adjustment = adjusted(merchant, ledger["1001"])
    client = finance(merchant)
    listed = client.get("/console/m/acme/finance/adjustments/").content.decode()
    assert adjustment.public_id in listed and "1: empty_box" in listed and "$15.00" in listed
    url = f"/console/m/acme/finance/adjustments/{adjustment.public_id}/resolve/"
    refused = client.post(url, {"action": "write_off", "note": " "}, follow=True)
    assert b"not resolved" in refused.content
    done = client.post(url, {"action": "carrier_claim", "note": "claim 77 filed"}, follow=True)
    assert b"resolved by carrier claim" in done.content
    with merchant_scope(merchant):
        adjustment.refresh_from_db()
    assert (adjustment.status, adjustment.action) == ("resolved", "carrier_claim")
    open_now = client.get("/console/m/acme/finance/adjustments/").content.decode()
    assert adjustment.public_id not in open_now
    resolved = client.get("/console/m/acme/finance/adjustments/", {"status": "resolved"})
    assert b"claim 77 filed" in resolved.content


def read_csv(response: Any) -> list[dict[str, str]]:
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith('attachment; filename="refunds-acme-')
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def test_the_export_totals_match_the_ledger_to_the_cent(
    merchant: Merchant,
    ledger: dict[str, str],
    outsider_api: ApiClient,
    other_merchant: Merchant,
) -> None:
    # another merchant's refund, settled at authorization: it must not be in this export
    assert outsider_api.put("/products/SHOE-1", product_body()).status_code == 201
    assert outsider_api.put("/products/SOCK-1", product_body(price=money(1200))).status_code == 201
    put_order(outsider_api, "1001", [{"method": "card", "amount": money(19900)}])
    document = outsider_api.get("/policy").json()["document"]
    set_policy(
        outsider_api,
        refund_timing="authorization",
        trusted_customers={**document["trusted_customers"], "min_completed_returns": 0},
    )
    create_return(outsider_api)
    run_worker()
    with merchant_scope(other_merchant):
        assert Refund.objects.count() == 1
    client = finance(merchant)
    paid = refund_of(merchant, ledger["1001"])
    client.post(f"{REFUNDS}{paid.public_id}/mark-paid/", {"reference": "BACS-1"})

    rows = read_csv(client.get("/console/m/acme/finance/refunds.csv"))
    with merchant_scope(merchant):
        ledger_sums = {
            (r["currency"], r["status"]): r["total"]
            for r in Refund.objects.values("currency", "status").annotate(total=Sum("amount"))
        }
        settlements = {s.public_id: s.total_amount for s in Settlement.objects.all()}
        refund_ids = set(Refund.objects.values_list("public_id", flat=True))
    assert {row["refund"] for row in rows} == refund_ids  # every refund once, none of globex
    exported: dict[tuple[str, str], int] = defaultdict(int)
    per_settlement: dict[str, int] = defaultdict(int)
    for row in rows:
        exported[(row["currency"], row["status"])] += int(row["amount"])
        per_settlement[row["settlement"]] += int(row["amount"])
        assert int(row["settlement_total"]) == settlements[row["settlement"]]
        assert Decimal(row["amount_decimal"]) == Decimal(row["amount"]) / 100
    assert dict(exported) == ledger_sums
    assert dict(per_settlement) == settlements
    assert {(k, v) for k, v in exported.items()} >= {(("USD", "succeeded"), 2000 + 19400)}
    by_ran = {row["ran"]: row for row in rows if row["provider_reference"] == "BACS-1"}
    assert list(by_ran) == [ledger["1001"].replace("-", "")]
    assert by_ran[ledger["1001"].replace("-", "")]["order_number"] == "1001"

    pending = read_csv(client.get("/console/m/acme/finance/refunds.csv", {"status": "pending"}))
    assert {row["status"] for row in pending} == {"pending"} and len(pending) == 3


def test_the_export_neutralises_formulas(merchant: Merchant, ledger: dict[str, str]) -> None:
    client = finance(merchant)
    refund = refund_of(merchant, ledger["1001"])
    client.post(f"{REFUNDS}{refund.public_id}/mark-paid/", {"reference": "=HYPERLINK(1)"})
    rows = read_csv(client.get("/console/m/acme/finance/refunds.csv", {"status": "succeeded"}))
    assert "'=HYPERLINK(1)" in {row["provider_reference"] for row in rows}


def test_the_return_page_shows_its_money_and_issues_what_is_due(
    merchant: Merchant,
    api: ApiClient,
    provider_api: ApiClient,
    order: dict[str, Any],  # noqa: F811
) -> None:
    client = finance(merchant)
    early = str(create_return(api)["ran"])
    page = client.get(f"/console/m/acme/returns/{early}/").content.decode()
    assert 'id="money"' in page and "Due on inspection." in page
    assert "Issue what is due" not in page
    refused = client.post(f"/console/m/acme/finance/returns/{early}/issue/", follow=True)
    assert b"Not due yet" in refused.content or b"the money is due on inspection" in refused.content

    receive(provider_api, early, {"1": 2, "2": 1})
    for line, unit in UNITS:
        inspect(provider_api, early, line, unit)
    page = client.get(f"/console/m/acme/returns/{early}/").content.decode()
    assert "Due now: $194.00" in page and "Issue what is due" in page
    issued = client.post(f"/console/m/acme/finance/returns/{early}/issue/", follow=True)
    assert b"Issued $194.00 in 1 refund(s): settlement 1." in issued.content
    assert b"Mark paid" in issued.content and b"Nothing is due now" in issued.content
    again = client.post(f"/console/m/acme/finance/returns/{early}/issue/", follow=True)
    assert b"nothing is due now" in again.content
    with merchant_scope(merchant):
        assert Settlement.objects.count() == 1

    agent = signed_in(staff("agent@acme.example", "agent", merchant))
    seen = agent.get(f"/console/m/acme/returns/{early}/").content.decode()
    assert 'id="money"' in seen and "Mark paid" not in seen
    assert agent.post(f"/console/m/acme/finance/returns/{early}/issue/").status_code == 403


def test_an_agent_may_not_use_the_finance_pages(merchant: Merchant, ledger: dict[str, str]) -> None:
    agent = signed_in(staff("agent@acme.example", "agent", merchant))
    refund = refund_of(merchant, ledger["1001"])
    adjustment = adjusted(merchant, ledger["1001"])
    for url in (
        REFUNDS,
        f"{REFUNDS}{refund.public_id}/",
        "/console/m/acme/finance/refunds.csv",
        "/console/m/acme/finance/adjustments/",
        "/console/m/acme/admin/payments/",
    ):
        assert agent.get(url).status_code == 403, url
    for url, body in (
        (f"{REFUNDS}{refund.public_id}/mark-paid/", {"reference": "X"}),
        (f"{REFUNDS}{refund.public_id}/retry/", {}),
        (
            f"/console/m/acme/finance/adjustments/{adjustment.public_id}/resolve/",
            {"action": "write_off", "note": "x"},
        ),
    ):
        assert agent.post(url, body).status_code == 403, url
    assert refund_of(merchant, ledger["1001"]).status == "pending"
    nav = finance(merchant).get("/console/m/acme/").content.decode()
    assert 'href="/console/m/acme/finance/refunds/">Finance<' in nav


def test_another_merchants_refund_is_404_under_this_merchants_console(
    merchant: Merchant, other_merchant: Merchant, ledger: dict[str, str]
) -> None:
    refund = refund_of(merchant, ledger["1001"])
    adjustment = adjusted(merchant, ledger["1001"])
    outsider = signed_in(staff("finance@globex.example", "finance", other_merchant))
    base = "/console/m/globex/finance"
    assert outsider.get(f"{base}/refunds/{refund.public_id}/").status_code == 404
    paid = outsider.post(f"{base}/refunds/{refund.public_id}/mark-paid/", {"reference": "X"})
    assert paid.status_code == 404
    assert outsider.post(f"{base}/refunds/{refund.public_id}/retry/").status_code == 404
    resolved = outsider.post(
        f"{base}/adjustments/{adjustment.public_id}/resolve/",
        {"action": "write_off", "note": "x"},
    )
    assert resolved.status_code == 404
    assert outsider.post(f"{base}/returns/{ledger['1001']}/issue/").status_code == 404
    assert outsider.get(REFUNDS).status_code == 404
    rows = read_csv_of(outsider.get(f"{base}/refunds.csv"))
    assert rows == []
    assert refund_of(merchant, ledger["1001"]).status == "pending"


def read_csv_of(response: Any) -> list[dict[str, str]]:
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def test_provider_staff_filter_by_merchant(
    merchant: Merchant, other_merchant: Merchant, ledger: dict[str, str]
) -> None:
    ops = signed_in(staff("ops@provider.example", "provider_admin", None))
    page = ops.get(REFUNDS).content.decode()
    assert 'id="filter-merchant"' in page and page.count('id="row-rfd_') == 5
    moved = ops.get(REFUNDS, {"merchant": "globex", "status": "failed"})
    assert moved.status_code == 302
    assert moved["Location"] == "/console/m/globex/finance/refunds/?status=failed"
    assert ops.get(moved["Location"]).content.decode().count('id="row-rfd_') == 0
    assert ops.get(REFUNDS, {"merchant": "nobody"}).status_code == 404


def test_payment_settings_keep_secrets_write_only(merchant: Merchant) -> None:
    admin = signed_in(staff("admin@acme.example", "merchant_admin", merchant))
    url = "/console/m/acme/admin/payments/"
    page = admin.get(url)
    assert page.status_code == 200 and b"Not set." in page.content
    form = {
        "allocation_rule": "card_first",
        "stripe_secret_key": "sk_test_abcdefgh1234",
        "stripe_webhook_secret": "",
        "paypal_client_id": "client-1",
        "paypal_client_secret": "",
        "paypal_environment": "sandbox",
        "max_attempts": "4",
    }
    saved = admin.post(url, form, follow=True)
    assert b"Payment settings saved." in saved.content
    assert b"sk_test_abcdefgh1234" not in saved.content and b"ending in 1234" in saved.content
    assert b"/api/v1/payments/stripe/acme/webhooks" in saved.content
    with merchant_scope(merchant):
        row = PaymentSettings.objects.get()
    assert (row.allocation_rule, row.max_attempts, row.paypal_client_id) == (
        "card_first",
        4,
        "client-1",
    )
    admin.post(url, {**form, "stripe_secret_key": ""})  # empty: kept
    with merchant_scope(merchant):
        assert PaymentSettings.objects.get().stripe_secret_key == "sk_test_abcdefgh1234"
    admin.post(url, {**form, "stripe_secret_key": "", "clear_stripe_secret_key": "on"})
    with merchant_scope(merchant):
        assert PaymentSettings.objects.get().stripe_secret_key == ""
    bad = admin.post(url, {**form, "max_attempts": "99"})
    assert bad.status_code == 422 and b"a whole number from 1 to" in bad.content
    assert b'value="99"' in bad.content  # the refused input stays in place
    worded = admin.post(url, {**form, "max_attempts": "many"})
    assert worded.status_code == 422
    finance_user = finance(merchant)
    assert finance_user.get(url).status_code == 403
    assert finance_user.post(url, form).status_code == 403
