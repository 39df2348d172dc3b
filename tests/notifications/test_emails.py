"""Shopper e-mails (issue 8) through Django's locmem backend: one e-mail per event a shopper cares
about, sent once however often the dispatcher and the send job run; HTML and plain text; the
label attached to the approval (or the drop-off code with its QR code); the refund line by line;
a gift's store credit to the recipient without the buyer; retries ending `failed` where staff see
it; the timeline; gettext in the merchant's language."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_scopes import scopes_disabled

from returndesk.core.codes import format_ran
from returndesk.core.localize import day_text
from returndesk.core.tenancy import merchant_scope
from returndesk.notifications import email_render, emails
from returndesk.notifications.dispatch import outbox_dispatch_due
from returndesk.notifications.emails import email_delivery_send
from returndesk.notifications.models import EmailDelivery, OutboxMessage
from returndesk.returns.lifecycle import return_transition
from returndesk.returns.models import Return, ReturnEvent
from returndesk.returns.services import returns_expire_due
from returndesk.tenants.models import Merchant
from tests.catalogues import install_german
from tests.conftest import ACTOR, ApiClient
from tests.console.test_console import signed_in, staff
from tests.notifications.email_helpers import (
    SHOPPER,
    deliver,
    deliveries,
    html_of,
    only,
    sent,
)
from tests.refunds.conftest import create_return, inspect, receive, run_worker, set_policy
from tests.returns.test_returns_api import order, request  # noqa: F401 - the order fixture

pytestmark = pytest.mark.django_db
RECIPIENT = "friend@example.org"
TIMES = "\u00d7"  # the multiplication sign the e-mails write between an item and its units


@pytest.fixture(autouse=True)
def order_1001(order: dict[str, Any]) -> dict[str, Any]:  # noqa: F811
    """Every test starts from order 1001 (tests/returns/test_returns_api.order)."""
    return order


@pytest.fixture(autouse=True)
def no_label_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    """Most tests issue no label: the approval e-mail goes at once instead of waiting for one."""
    monkeypatch.setattr(email_render, "LABEL_WAIT", timedelta(0))


@pytest.fixture
def branded(merchant: Merchant) -> Merchant:
    merchant.support_email = "help@acme.example"
    merchant.brand_color = "#FFD400"  # light: black text reads on it, white would not
    merchant.save()
    return merchant


@pytest.fixture
def station(provider_api: ApiClient) -> ApiClient:
    return provider_api  # a station at FAC1, which serves the merchant (labels route there)


def issue_label(api: ApiClient, ran: str) -> dict[str, Any]:
    response = api.post(f"/returns/{ran}/label", {})
    assert response.status_code in (200, 201), response.content
    return dict(response.json())


def the_return(ran: str) -> Return:
    with scopes_disabled():
        return Return.objects.get(ran=ran.replace("-", ""))


def timeline(ran: str, prefix: str = "email.") -> list[ReturnEvent]:
    with scopes_disabled():
        return list(
            ReturnEvent.objects.filter(
                return_request__ran=ran.replace("-", ""), type__startswith=prefix
            ).order_by("id")
        )


def test_a_new_return_sends_we_have_it_and_approved_once_each(
    api: ApiClient, station: ApiClient, branded: Merchant
) -> None:
    ran = api.post("/returns", request()).json()["ran"]
    issue_label(api, ran)
    deliver()
    deliver()  # the worker's jobs again: nothing is due twice
    assert [m.extra_headers["X-ReturnDesk-Event"] for m in mail.outbox] == [
        "return.created",
        "return.authorized",
    ]
    # A dispatcher that crashed after fanning out, before marking its rows, runs them again;
    # a send job whose lease ran out takes a delivery already sent.
    with scopes_disabled():
        OutboxMessage.objects.update(state=OutboxMessage.STATE_PENDING, claimed_until=None)
    outbox_dispatch_due()
    for delivery in deliveries():
        assert email_delivery_send(delivery.pk) == EmailDelivery.SENT
    assert len(deliveries()) == 2 and len(mail.outbox) == 2

    created = only("return.created")
    assert created.to == [SHOPPER]
    assert created.subject == f"We have your return request {format_ran(ran)}"
    assert created.from_email == "Acme via ReturnDesk <returns@localhost>"
    assert created.reply_to == ["help@acme.example"]
    assert created.extra_headers["Auto-Submitted"] == "auto-generated"
    # a plain-text part and an HTML part, both saying it
    message = created.message()
    kinds = [part.get_content_type() for part in message.walk()]
    assert kinds == ["multipart/alternative", "text/plain", "text/html"]
    assert "we have your request to return items from order 1001" in created.body
    assert format_ran(ran) in created.body and "Trail Runner" in created.body
    html = html_of(created)
    assert "We have your return request" in html and format_ran(ran) in html
    # the merchant's branding: its colour, with the text colour that reads on it
    assert "background:#FFD400;color:#000000" in html
    assert "help@acme.example" in html
    # the signed link to the status page opens it
    link = next(w for w in created.body.split() if "/status/" in w)
    assert link.startswith("http://localhost:8000/r/acme/status/")
    status = Client().get(link.removeprefix("http://localhost:8000"))
    assert status.status_code == 200 and format_ran(ran) in status.content.decode()


def test_the_approval_carries_the_label_and_packing_instructions(
    api: ApiClient, station: ApiClient
) -> None:
    ran = api.post("/returns", request()).json()["ran"]
    label = issue_label(api, ran)
    deliver()
    approved = only("return.authorized")
    assert approved.subject == f"Your return {format_ran(ran)} is approved"
    (attachment,) = approved.attachments
    assert attachment.filename == f"return-{format_ran(ran)}.pdf"
    assert attachment.mimetype == "application/pdf"
    assert bytes(attachment.content).startswith(b"%PDF")
    assert label["tracking_number"] in approved.body
    assert "Your prepaid return label is attached" in approved.body
    assert "How to pack:" in approved.body
    assert "Both shoes in the original box." in approved.body  # the product's instructions
    assert "Please send the items back by" in approved.body


def test_the_approval_waits_a_while_for_its_label(
    api: ApiClient, station: ApiClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(email_render, "LABEL_WAIT", timedelta(minutes=10))
    ran = api.post("/returns", request()).json()["ran"]
    deliver()
    assert sent("return.authorized") == []
    (waiting,) = deliveries(event_type="return.authorized")
    assert waiting.state == EmailDelivery.PENDING and waiting.attempts == 0  # not an attempt
    assert waiting.next_attempt_at > timezone.now()

    issue_label(api, ran)  # the portal issues it just after the approval
    with scopes_disabled():
        EmailDelivery.objects.filter(pk=waiting.pk).update(next_attempt_at=timezone.now())
    deliver()
    assert only("return.authorized").attachments[0].mimetype == "application/pdf"


def test_without_a_label_in_time_the_approval_points_to_the_status_page(
    api: ApiClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(email_render, "LABEL_WAIT", timedelta(minutes=10))
    api.post("/returns", request())
    deliver()
    with scopes_disabled():
        OutboxMessage.objects.update(created_at=timezone.now() - timedelta(minutes=11))
        EmailDelivery.objects.update(next_attempt_at=timezone.now())
    deliver()
    approved = only("return.authorized")
    assert approved.attachments == []
    assert "Your return label is waiting for you on your return's page." in approved.body


def test_a_dropoff_code_comes_with_its_qr_code(api: ApiClient, station: ApiClient) -> None:
    response = api.put("/shipping/settings", {"carriers": ["prepaid"], "mode": "dropoff"})
    assert response.status_code == 200, response.content
    ran = api.post("/returns", request()).json()["ran"]
    code = issue_label(api, ran)["dropoff_code"]
    deliver()
    approved = only("return.authorized")
    assert f"Drop-off code: {code}" in approved.body
    html = html_of(approved)
    assert code in html and 'src="cid:' in html
    message = approved.message()
    (qr,) = [p for p in message.walk() if p.get_content_type() == "image/png"]
    assert qr["Content-ID"].strip("<>") in html
    assert qr.get_content().startswith(b"\x89PNG")
    assert [p.get_filename() for p in message.walk() if p.get_content_type() == "application/pdf"]


def test_a_return_through_to_its_refund_sends_each_email_once(
    api: ApiClient, station: ApiClient, merchant: Merchant
) -> None:
    ran = create_return(api)["ran"]
    issue_label(api, ran)
    deliver()
    with merchant_scope(merchant):  # the carrier's first scan (shipping/tracking.py)
        return_transition(ret=the_return(ran), to_status="in_transit", actor=ACTOR)
    deliver()
    receive(station, ran, {"1": 2, "2": 1})
    deliver()
    for line, unit in (("1", 1), ("1", 2), ("2", 1)):
        inspect(station, ran, line, unit)
    run_worker()  # the inspection makes the money due: a manual refund, pending
    (refund,) = api.get(f"/returns/{ran}/refunds").json()["refunds"]
    assert api.post(f"/refunds/{refund['id']}/mark-paid", {"reference": "BACS-1"}).status_code
    deliver()
    deliver()
    assert [m.extra_headers["X-ReturnDesk-Event"] for m in mail.outbox] == [
        "return.created",
        "return.authorized",
        "return.in_transit",
        "return.received",
        "return.inspected",
        "refund.succeeded",
    ]
    assert all(m.to == [SHOPPER] for m in mail.outbox)
    assert "The carrier has your parcel" in only("return.in_transit").body
    assert "arrived at our returns centre" in only("return.received").body
    assert "We have checked the items you sent back." in only("return.inspected").body
    # every e-mail sent is on the return's timeline, once
    entries = timeline(ran)
    assert [e.type for e in entries] == ["email.sent"] * 6
    assert [e.payload["event_type"] for e in entries] == [
        m.extra_headers["X-ReturnDesk-Event"] for m in mail.outbox
    ]
    assert f"return.received e-mail to {SHOPPER}" in entries[3].reason


def test_the_refund_email_lists_the_lines_and_deductions(
    api: ApiClient, station: ApiClient
) -> None:
    document = api.get("/policy").json()["document"]
    set_policy(
        api, fees={**document["fees"], "restocking_percent": "10", "return_shipping_fee": 500}
    )
    ran = create_return(api)["ran"]
    receive(station, ran, {"1": 2, "2": 1})
    for line, unit in (("1", 1), ("1", 2), ("2", 1)):
        inspect(station, ran, line, unit)
    run_worker()
    body = api.get(f"/returns/{ran}/refunds").json()
    (refund,) = body["refunds"]
    (settlement,) = body["settlements"]
    api.post(f"/refunds/{refund['id']}/mark-paid", {"reference": "BACS-2"})
    deliver()
    email = only("refund.succeeded")
    total = settlement["total"]["amount"]
    dollars = f"${total // 100:,}.{total % 100:02d}"
    assert email.subject == f"Your refund of {dollars}"
    text = email.body
    assert "How your refund was worked out:" in text
    assert f"- Trail Runner {TIMES} 2: $182.00" in text  # 2 x (89.00 - 5.00 + 7.00 tax)
    assert "    Restocking fee: -$18.20" in text  # a line's own deduction, under it
    assert f"- Sock {TIMES} 1: $12.00" in text
    assert "    Restocking fee: -$1.20" in text
    assert "- Return shipping: -$5.00" in text  # the return's, once
    assert f"Total: {dollars}" in text
    html = html_of(email)
    assert "Restocking fee" in html and "Return shipping" in html and dollars in html


def test_a_gifts_store_credit_goes_to_the_recipient_without_the_buyer(
    api: ApiClient, station: ApiClient
) -> None:
    document = api.get("/policy").json()["document"]
    set_policy(
        api,
        resolutions={**document["resolutions"], "store_credit": True},
    )
    gift = {"postal_code": "62 701", "recipient_email": RECIPIENT}
    body = request(email="", gift=gift, resolution="store_credit")
    response = api.post("/returns", body)
    assert response.status_code == 201, response.content
    ran = response.json()["ran"]
    receive(station, ran, {"1": 1})
    inspect(station, ran, "1", 1)
    run_worker()  # the store credit is issued at once when due
    deliver()
    events = [m.extra_headers["X-ReturnDesk-Event"] for m in mail.outbox]
    assert "store_credit.issued" in events
    assert "refund.succeeded" not in events  # the store credit e-mail tells it, once
    for email in mail.outbox:
        assert email.to == [RECIPIENT]
        for text in (email.subject, email.body, html_of(email)):
            assert SHOPPER not in text.lower()
            assert "Sam Shopper" not in text
    credit = only("store_credit.issued")
    assert f"$91.00 of store credit has been added for {RECIPIENT}." in credit.body
    assert f"- Trail Runner {TIMES} 1: $91.00" in credit.body
    # the timeline says an e-mail went to the gift's recipient, without the address
    assert all(RECIPIENT not in e.reason for e in timeline(ran))
    assert "to the gift's recipient" in timeline(ran)[0].reason


def test_review_rejection_cancellation_and_expiry_each_tell_the_shopper(
    api: ApiClient, merchant: Merchant
) -> None:
    refused = api.post(
        "/returns", request(lines=[{"line_id": "3", "quantity": 1, "reason": "changed_mind"}])
    ).json()
    cancelled = api.post("/returns", request()).json()["ran"]
    api.post(f"/returns/{cancelled}/cancel", {"reason": "customer kept it (staff note)"})
    api.post("/returns", request(lines=[{"line_id": "2", "quantity": 1, "reason": "wrong_size"}]))
    assert returns_expire_due(now=timezone.now() + timedelta(days=15)) == 1
    document = api.get("/policy").json()["document"]
    document["auto_approval"]["max_order_value"] = 1000
    api.put("/policy", document)
    reviewed = api.post("/returns", request()).json()["ran"]
    deliver()

    assert refused["status"] == "rejected"
    rejection = only("return.rejected")
    assert rejection.subject == f"Your return {format_ran(refused['ran'])} was not accepted"
    assert "Our return policy does not allow this return:" in rejection.body
    assert "- Final sale" in rejection.body  # the policy's own words to the shopper
    cancellation = only("return.cancelled")
    assert format_ran(cancelled) in cancellation.subject
    assert "staff note" not in cancellation.body  # what staff type stays with staff
    assert "deadline" in only("return.expired").body
    review = only("return.pending_review")
    assert format_ran(reviewed) in review.subject
    # after review, staff's rejection reason is not sent; the shopper is told it was reviewed
    api.post(f"/returns/{reviewed}/reject", {"reason": "serial returner, risk 80"})
    deliver()
    (_, staff_rejection) = sent("return.rejected")
    assert "After reviewing your request" in staff_rejection.body
    assert "serial returner" not in staff_rejection.body + html_of(staff_rejection)


def test_a_released_exchange_tells_the_shopper(api: ApiClient) -> None:
    from tests.refunds.test_exchanges import instant_exchange

    ran, exchange = instant_exchange(api, "SHOE-2", 8400)  # cheaper: 7.00 comes back
    assert exchange["status"] == "released"
    deliver()
    email = only("exchange.released")
    assert email.to == [SHOPPER] and format_ran(ran) in email.subject
    assert "we are sending you Shoe-2 (quantity: 1)" in email.body
    assert "The difference of $7.00 is refunded to you." in email.body


class BrokenBackend:
    """A mail server that hangs up on every message."""

    def __init__(self, **_: Any) -> None:
        pass

    def send_messages(self, messages: list[Any]) -> int:
        import smtplib

        raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")


@pytest.fixture
def broken_mail(settings: Any) -> Iterator[None]:
    settings.MAILERS = {"default": {"BACKEND": f"{__name__}.BrokenBackend"}}
    yield


def test_a_failing_mail_server_is_retried_then_the_email_fails_visibly(
    api: ApiClient, merchant: Merchant, broken_mail: None
) -> None:
    ran = api.post("/returns", request()).json()["ran"]
    deliver()
    first = deliveries(event_type="return.created")[0]
    assert (first.state, first.attempts) == (EmailDelivery.PENDING, 1)
    assert first.last_error == "SMTPServerDisconnected: Connection unexpectedly closed"
    assert first.next_attempt_at > timezone.now() + timedelta(seconds=50)  # backing off
    for _ in range(emails.MAX_ATTEMPTS):
        with scopes_disabled():
            EmailDelivery.objects.update(next_attempt_at=timezone.now())
        deliver()
    (given_up, _) = deliveries()
    assert (given_up.state, given_up.attempts) == (EmailDelivery.FAILED, emails.MAX_ATTEMPTS)
    assert mail.outbox == []
    failed = timeline(ran)
    assert [e.type for e in failed] == ["email.failed", "email.failed"]
    assert "not sent after 6 attempts: SMTPServerDisconnected" in failed[0].reason
    # staff see it on the return's page in the console
    client = signed_in(staff("agent@acme.example", "agent", merchant))
    page = client.get(reverse("console:return", args=["acme", ran])).content.decode()
    assert "E-mails to the shopper" in page
    assert "<strong>failed</strong>: SMTPServerDisconnected" in page
    assert "email.failed" in page


@pytest.fixture
def german(settings: Any, tmp_path: Path) -> None:
    """A few of the e-mails' words in German (no German catalogue ships yet)."""
    install_german(
        settings,
        tmp_path,
        {
            "Your return %(ran)s is approved": "Ihre Rücksendung %(ran)s ist genehmigt",
            "Your return is approved": "Ihre Rücksendung ist genehmigt",
            "See your return": "Zu Ihrer Rücksendung",
        },
    )


def test_emails_are_written_in_the_merchants_language(
    api: ApiClient, merchant: Merchant, german: None
) -> None:
    merchant.locale = "de"
    merchant.save()
    ran = api.post("/returns", request()).json()["ran"]
    deliver()
    approved = only("return.authorized")
    assert approved.subject == f"Ihre Rücksendung {format_ran(ran)} ist genehmigt"
    assert "Ihre Rücksendung ist genehmigt" in approved.body
    assert "Zu Ihrer Rücksendung" in html_of(approved)
    assert '<html lang="de"' in html_of(approved)
    # dates (and money) in the merchant's locale, as the portal writes them
    expires = the_return(ran).expires_at
    assert expires is not None
    assert day_text(expires, tz=merchant.timezone, locale="de") in approved.body


def test_another_merchants_events_never_reach_this_merchants_shoppers(
    api: ApiClient, outsider_api: ApiClient, other_merchant: Merchant
) -> None:
    api.post("/returns", request())
    deliver()
    with merchant_scope(other_merchant):
        assert not EmailDelivery.objects.exists()
    for delivery in deliveries():
        assert delivery.merchant_id != other_merchant.pk
        assert delivery.message.merchant_id == delivery.merchant_id
