"""Step 6: the signed status link, cancelling from it, and "find my return"."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.core import signing
from django.test import Client

from returndesk.core.actors import Actor
from returndesk.core.codes import format_ran, generate_ran
from returndesk.core.models import RateLimitCounter
from returndesk.core.tenancy import merchant_scope
from returndesk.portal.links import STATUS_LINK_MAX_AGE, status_url
from returndesk.returns.lifecycle import return_transition
from returndesk.returns.models import Return
from returndesk.returns.services import return_act
from returndesk.tenants.models import Merchant
from tests.conftest import ApiClient
from tests.portal.conftest import confirm, found, review_token, set_policy, text, up_to_review

pytestmark = pytest.mark.django_db


@pytest.fixture
def made(shopper: Client) -> Return:
    up_to_review(shopper)
    confirm(shopper, review_token(shopper))
    return Return.objects.with_scopes_disabled().get()


def link(ret: Return) -> str:
    return status_url(ret.merchant, ret.ran)


def test_the_status_link_shows_the_shoppers_timeline(made: Return) -> None:
    page = Client().get(link(made))
    assert page.status_code == 200
    words = text(page)
    assert format_ran(made.ran) in words
    assert "Status: Approved: ready to send" in words
    assert "Return requested" in words and "Return approved" in words
    assert "Trail Runner \u00d7 1" in words
    assert "Cancel this return" in words
    assert 'class="qr"' in page.content.decode()


def test_the_timeline_leaves_out_what_is_for_staff(
    api: ApiClient, shopper: Client, merchant: Merchant
) -> None:
    set_policy(api, auto_approval__max_order_value=1000)
    up_to_review(shopper)
    confirm(shopper, review_token(shopper))
    ret = Return.objects.with_scopes_disabled().get()
    with merchant_scope(merchant):
        return_act(
            actor=Actor.system("agent@acme.example"),
            ret=ret,
            action="reject",
            reason="INTERNAL: serial returner, see ticket 4411",
        )
    words = text(Client().get(link(ret)))
    assert "Sent for review" in words and "Return not accepted" in words
    assert "Status: Not accepted" in words
    assert "INTERNAL" not in words and "agent@acme.example" not in words
    assert "order total" not in words and "auto-approval" not in words
    assert "shopper (portal)" not in words


def test_an_expired_link_says_so(made: Return, monkeypatch: pytest.MonkeyPatch) -> None:
    then = time.time() - STATUS_LINK_MAX_AGE.total_seconds() - 60
    with monkeypatch.context() as m:
        m.setattr(signing.time, "time", lambda: then)
        old = link(made)
    page = Client().get(old)
    assert page.status_code == 410
    assert "This link has expired" in text(page)
    assert format_ran(made.ran) not in text(page)


@pytest.mark.parametrize("tamper", ["ran", "signature"])
def test_a_tampered_link_opens_nothing(made: Return, tamper: str) -> None:
    url = link(made)
    if tamper == "ran":
        other = generate_ran()
        url = url.replace(made.ran, other)
    else:
        url = url[:-3] + ("AAA/" if not url.endswith("AAA/") else "BBB/")
    page = Client().get(url)
    assert page.status_code == 404
    assert "This link doesn't work" in text(page)


def test_a_link_of_one_merchant_opens_nothing_at_another(
    made: Return, other_merchant: Merchant
) -> None:
    url = link(made).replace("/r/acme/", "/r/globex/")
    assert Client().get(url).status_code == 404


def test_the_shopper_cancels_while_nothing_is_shipped(made: Return) -> None:
    url = link(made)
    ask = Client().get(url + "cancel/")
    assert ask.status_code == 200 and "Yes, cancel my return" in text(ask)
    partial = Client().get(url + "cancel/", headers={"HX-Request": "true"})
    assert "<html" not in partial.content.decode() and "Yes, cancel my return" in text(partial)
    done = Client().post(url + "cancel/", {"reason": "Bought the wrong one"})
    assert done.status_code == 302 and done["Location"] == url
    made.refresh_from_db()
    assert made.status == "cancelled"
    event = made.events.with_scopes_disabled().get(type="return.cancelled")  # type: ignore[attr-defined]
    assert (event.actor_label, event.channel) == ("shopper (portal)", "portal")
    assert event.reason == "cancelled by the shopper: Bought the wrong one"
    page = Client().get(url)
    assert "Status: Cancelled" in text(page) and "Cancel this return" not in text(page)


def test_cancelling_is_refused_once_the_parcel_is_on_its_way(
    made: Return, merchant: Merchant
) -> None:
    with merchant_scope(merchant):
        return_transition(ret=made, to_status="in_transit", actor=Actor.system("carrier"))
    url = link(made)
    assert "Cancel this return" not in text(Client().get(url))
    inline = Client().get(url + "cancel/", headers={"HX-Request": "true"})
    assert inline.status_code == 200 and "can't be cancelled any more" in text(inline)
    refused = Client().post(url + "cancel/", {})
    assert refused.status_code == 409
    assert "can't be cancelled any more" in text(refused)
    made.refresh_from_db()
    assert made.status == "in_transit"


# -- find my return -----------------------------------------------------------------------------


def find_return(client: Client, ran: str, email: str) -> Any:
    return client.post("/r/acme/find-return/", {"ran": ran, "email": email})


def test_find_my_return_leads_to_the_status_link(made: Return) -> None:
    page = Client().get("/r/acme/find-return/")
    assert page.status_code == 200 and "Find my return" in text(page)
    typed = format_ran(made.ran).lower()
    found_it = find_return(Client(), typed, " Shopper@Example.com ")
    assert found_it.status_code == 302
    assert Client().get(found_it["Location"]).status_code == 200


def test_a_wrong_email_reads_exactly_like_an_unknown_return(made: Return) -> None:
    wrong = find_return(Client(), format_ran(made.ran), "someone@else.com")
    unknown = find_return(Client(), format_ran(generate_ran()), "someone@else.com")
    assert wrong.status_code == unknown.status_code == 404

    def words(response: Any, ran: str) -> str:
        import re

        return re.sub(r'(nonce|value)="[A-Za-z0-9+/=_-]{20,}"', "", text(response)).replace(
            ran, "R"
        )

    assert "We couldn't find a return with these details" in text(wrong)
    assert words(wrong, format_ran(made.ran)) == words(unknown, unknown.wsgi_request.POST["ran"])


def test_a_mistyped_ran_gets_the_check_character_message(made: Return) -> None:
    code = made.ran
    swapped = code[:4] + code[5] + code[4] + code[6:]
    if swapped == code:  # two equal neighbours: change a symbol instead
        swapped = code[:4] + ("0" if code[4] != "0" else "1") + code[5:]
    counted = RateLimitCounter.objects.count()
    page = find_return(Client(), swapped, "shopper@example.com")
    assert page.status_code == 422
    assert "is not a valid return number: a character is mistyped" in text(page)
    short = find_return(Client(), "ABCD-EFGH", "shopper@example.com")
    assert "a return number has 13 characters; this has 8" in text(short)
    assert RateLimitCounter.objects.count() == counted  # a typo costs no attempt


def test_find_my_return_is_rate_limited_per_return(made: Return) -> None:
    for n in range(5):
        client = Client(REMOTE_ADDR=f"10.1.0.{n}")
        assert find_return(client, made.ran, "guess@x.com").status_code == 404
    blocked = find_return(Client(REMOTE_ADDR="10.1.0.99"), made.ran, "shopper@example.com")
    assert blocked.status_code == 429 and int(blocked["Retry-After"]) > 0


def test_find_my_return_is_rate_limited_per_client(made: Return) -> None:
    client = Client(REMOTE_ADDR="192.0.2.9")
    for _ in range(10):
        assert find_return(client, generate_ran(), "a@b.c").status_code == 404
    assert find_return(client, made.ran, "shopper@example.com").status_code == 429


def test_find_my_return_is_per_merchant(made: Return, other_merchant: Merchant) -> None:
    page = Client().post(
        "/r/globex/find-return/", {"ran": made.ran, "email": "shopper@example.com"}
    )
    assert page.status_code == 404


def test_another_merchants_portal_knows_nothing_of_this_session(
    made: Return, other_merchant: Merchant
) -> None:
    client = found()
    assert client.get("/r/globex/order/")["Location"] == "/r/globex/"
