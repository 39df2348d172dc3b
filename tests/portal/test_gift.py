"""Step 7: a gift's recipient returns it with the order number and the shipping postal code,
gets store credit at an e-mail address of their own, and the buyer is not told who it was."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from returndesk.notifications.models import OutboxMessage
from returndesk.portal.links import status_url
from returndesk.returns.models import Return, ReturnEvent
from tests.conftest import ApiClient
from tests.portal.conftest import (
    choose,
    confirm,
    found,
    give_reasons,
    pick,
    review_token,
    set_policy,
    text,
)

pytestmark = pytest.mark.django_db
RECIPIENT = "friend@example.org"


@pytest.fixture
def recipient(api: ApiClient, order: dict) -> Client:
    client = found(postal_code="627 01")
    assert choose(client, n1=1).status_code == 302
    assert give_reasons(client, {"reason-1": "wrong_size"}).status_code == 302
    return client


def test_the_recipient_gets_store_credit_only(recipient: Client) -> None:
    page = recipient.get("/r/acme/resolution/")
    words = text(page)
    assert "Store credit of $91.00" in words
    assert "Refund of" not in words
    assert 'id="recipient_email"' in page.content.decode()
    refused = pick(recipient, "refund", recipient_email=RECIPIENT)
    assert refused.status_code == 422
    no_email = pick(recipient, "store_credit", recipient_email="not an address")
    assert no_email.status_code == 422
    assert "Enter your e-mail address" in text(no_email)


def test_the_store_credit_goes_to_the_recipients_own_email(recipient: Client) -> None:
    assert pick(recipient, "store_credit", recipient_email=RECIPIENT).status_code == 302
    review = text(recipient.get("/r/acme/review/"))
    assert f"Your store credit goes to {RECIPIENT}." in review
    assert "Store credit $91.00" in review
    done = confirm(recipient, review_token(recipient))
    ret = Return.objects.with_scopes_disabled().get()
    assert ret.gift and ret.resolution == "store_credit"
    assert ret.gift_recipient_email == RECIPIENT
    assert ret.created_by_label == "gift recipient (portal)"
    page = text(recipient.get(done["Location"]))
    assert "Your return is approved" in page and RECIPIENT in page


def test_nothing_the_buyer_is_sent_names_the_recipient(recipient: Client) -> None:
    pick(recipient, "store_credit", recipient_email=RECIPIENT)
    confirm(recipient, review_token(recipient))
    ret = Return.objects.with_scopes_disabled().get()
    outbox = OutboxMessage.objects.with_scopes_disabled().all()
    assert outbox.exists()
    for message in outbox:
        assert RECIPIENT not in json.dumps(message.payload)
        assert "friend" not in json.dumps(message.payload)
    for event in ReturnEvent.objects.with_scopes_disabled().filter(return_request=ret):
        assert RECIPIENT not in event.actor_label + event.reason + json.dumps(event.payload)
    # The status page (whoever holds its link) shows neither person's e-mail.
    status = text(Client().get(status_url(ret.merchant, ret.ran)))
    assert RECIPIENT not in status and "shopper@example.com" not in status


def test_the_recipient_finds_the_return_with_their_own_email_not_the_buyers(
    recipient: Client,
) -> None:
    pick(recipient, "store_credit", recipient_email=RECIPIENT)
    confirm(recipient, review_token(recipient))
    ran = Return.objects.with_scopes_disabled().get().ran
    buyer = Client().post("/r/acme/find-return/", {"ran": ran, "email": "shopper@example.com"})
    assert buyer.status_code == 404
    mine = Client().post("/r/acme/find-return/", {"ran": ran, "email": RECIPIENT.upper()})
    assert mine.status_code == 302


def test_a_gift_cannot_be_returned_online_without_store_credit(api: ApiClient, order: dict) -> None:
    set_policy(api, resolutions__store_credit=False)
    page = found(postal_code="62701").get("/r/acme/order/")
    assert page.status_code == 409
    assert "Gifts are returned for store credit" in text(page)
