"""Steps 2 to 5 of the shopper portal, through the Django test client."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from babel.dates import format_date
from django.test import Client
from django.utils import timezone
from PIL import Image

from returndesk.core.codes import format_ran
from returndesk.core.idempotency import IdempotencyRecord
from returndesk.core.models import Upload
from returndesk.portal.state import draft_fingerprint
from returndesk.portal.views import confirm as confirm_views
from returndesk.returns.models import Return, ReturnLine
from returndesk.tenants.models import Merchant
from tests.conftest import ApiClient
from tests.factories import money, order_body
from tests.portal.conftest import (
    choose,
    confirm,
    found,
    give_reasons,
    photo,
    pick,
    review_token,
    set_policy,
    text,
    up_to_review,
)

pytestmark = pytest.mark.django_db


def returns() -> Any:
    return Return.objects.with_scopes_disabled()


# -- step 2 -------------------------------------------------------------------------------------


def test_it_lists_the_items_with_the_policys_reason_for_those_that_cant_go_back(
    shopper: Client,
) -> None:
    page = shopper.get("/r/acme/order/")
    assert page.status_code == 200
    words = text(page)
    assert "Order 1001" in words and "Trail Runner" in words and "Sock" in words
    assert "Final sale items can't be returned" in words
    assert "You can return this item until" in words
    body = page.content.decode()
    assert 'name="qty-1"' in body and 'name="qty-2"' in body
    assert 'name="qty-3"' not in body  # the gift card: final sale, no quantity to choose
    assert '<option value="2">2</option>' in body  # both shoes may go back


def test_a_line_past_its_window_says_when_the_window_ended(api: ApiClient, shopper: Client) -> None:
    delivered = timezone.now() - timedelta(days=70)
    old = delivered.isoformat()
    body = order_body(placed_at=old, delivered_at=old)
    body["tenders"] = [{"method": "card", "amount": money(19900)}]
    assert api.put("/orders/2002", body).status_code == 201
    client = found("2002")
    words = text(client.get("/r/acme/order/"))
    # 30 days from delivery, to the end of that day in New York, in the locale's words
    ended = delivered.astimezone(ZoneInfo("America/New_York")).date() + timedelta(days=30)
    assert f"The 30-day window ended on {format_date(ended, 'long', locale='en')}" in words
    assert 'name="qty-1"' not in client.get("/r/acme/order/").content.decode()


def test_choosing_nothing_or_too_many_is_refused_in_place(shopper: Client) -> None:
    nothing = choose(shopper, n1=0, n2=0)
    assert nothing.status_code == 422
    assert "Choose at least one item to return." in text(nothing)
    too_many = choose(shopper, n1=3)
    assert too_many.status_code == 422
    assert "Choose a number from 0 to 2." in text(too_many)
    assert 'aria-invalid="true"' in too_many.content.decode()


def test_the_steps_cannot_be_skipped(shopper: Client) -> None:
    assert shopper.get("/r/acme/reasons/")["Location"] == "/r/acme/order/"
    assert shopper.get("/r/acme/resolution/")["Location"] == "/r/acme/reasons/"
    assert shopper.get("/r/acme/review/")["Location"] == "/r/acme/order/"
    assert Client().get("/r/acme/reasons/")["Location"] == "/r/acme/"


# -- step 3 -------------------------------------------------------------------------------------


def test_a_reason_that_needs_a_photo_is_refused_without_one(shopper: Client) -> None:
    choose(shopper, n1=1)
    page = shopper.get("/r/acme/reasons/")
    assert "Defective or doesn't work (photo needed)" in text(page)
    missing = give_reasons(shopper, {"reason-1": "defective"})
    assert missing.status_code == 422
    assert "Add a photo: it's needed for “Defective or doesn't work”." in text(missing)
    assert 'id="photos-1-error"' in missing.content.decode()


def test_a_file_that_is_not_an_image_is_refused_in_place(shopper: Client) -> None:
    choose(shopper, n1=1)
    fake = photo()
    fake.name = "receipt.jpg"
    fake.seek(0)
    fake.truncate()
    fake.write(b"%PDF-1.4 not a photo at all")
    fake.seek(0)
    page = give_reasons(shopper, {"reason-1": "defective", "photos-1": fake})
    assert page.status_code == 422
    assert "“receipt.jpg” can't be used: the file is not a readable image." in text(page)
    assert not Upload.objects.with_scopes_disabled().exists()


def test_a_photo_goes_through_the_upload_service_and_loses_its_metadata(shopper: Client) -> None:
    choose(shopper, n1=1)
    done = give_reasons(
        shopper, {"reason-1": "defective", "comment-1": "Sole came off", "photos-1": photo()}
    )
    assert done.status_code == 302 and done["Location"] == "/r/acme/resolution/"
    stored = Upload.objects.with_scopes_disabled().get()
    assert stored.purpose == "photo" and stored.uploaded_by == "shopper (portal)"
    with Image.open(stored.file.path) as image:
        assert not image.getexif()
    # Back on the page, the photo is still there and need not be sent again.
    again = shopper.get("/r/acme/reasons/")
    assert "1 photo attached." in text(again)
    assert give_reasons(shopper, {"reason-1": "defective"}).status_code == 302


def test_a_good_photo_is_kept_when_another_line_fails(shopper: Client) -> None:
    choose(shopper, n1=1, n2=1)
    page = give_reasons(shopper, {"reason-1": "defective", "photos-1": photo(), "reason-2": ""})
    assert page.status_code == 422
    assert "Choose a reason for returning this item." in text(page)
    assert "1 photo attached." in text(page)


# -- step 4 and the figures ----------------------------------------------------------------------


def test_the_resolutions_offered_show_what_each_gives(api: ApiClient, shopper: Client) -> None:
    set_policy(api, resolutions__store_credit_bonus_percent=10)
    choose(shopper, n1=1)
    give_reasons(shopper, {"reason-1": "wrong_size"})
    words = text(shopper.get("/r/acme/resolution/"))
    # one shoe: 89.00 - 5.00 discount share + 7.00 tax share = 91.00; 10 % bonus on credit
    assert "Refund of $91.00 to your original payment method" in words
    assert "Store credit of $100.10, including a $9.10 bonus" in words
    assert "Exchange" not in words  # not offered by the default policy
    assert pick(shopper, "exchange").status_code == 422


def test_the_figures_before_confirming_show_each_fee_and_when_the_money_comes(
    api: ApiClient, shopper: Client
) -> None:
    set_policy(api, fees__restocking_percent=10, fees__return_shipping_fee=595)
    up_to_review(shopper)
    page = shopper.get("/r/acme/review/")
    words = text(page)
    assert "Trail Runner \u00d7 1 $91.00" in words and "Sock \u00d7 1 $12.00" in words
    assert "Items $103.00" in words
    assert "Restocking fee (Trail Runner) \u2212$9.10" in words
    assert "Restocking fee (Sock) \u2212$1.20" in words
    assert "Return shipping \u2212$5.95" in words
    assert "Refund estimate $86.75" in words
    assert "When: your refund is due after we have received and checked your items" in words
    assert "Unused and in its original packaging" in words
    assert not returns().exists()  # nothing written before the shopper confirms


def test_the_money_is_written_the_merchants_way(merchant: Merchant, shopper: Client) -> None:
    Merchant.objects.filter(pk=merchant.pk).update(locale="de_DE")
    up_to_review(shopper)
    assert "Items 103,00 $" in text(shopper.get("/r/acme/review/"))


def test_an_exchange_names_what_comes_instead(api: ApiClient, shopper: Client) -> None:
    set_policy(api, resolutions__exchange=True)
    body = {
        "name": "Trail Runner, size 10",
        "category": "footwear",
        "price": money(8900),
    }
    assert api.put("/products/SHOE-10", body).status_code == 201
    choose(shopper, n1=1)
    give_reasons(shopper, {"reason-1": "wrong_size"})
    page = shopper.get("/r/acme/resolution/")
    assert '<option value="SHOE-10">Trail Runner, size 10</option>' in page.content.decode()
    assert '<option value="SOCK-1">' not in page.content.decode()  # another price
    assert pick(shopper, "exchange").status_code == 422  # which one, then?
    assert pick(shopper, "exchange", **{"exchange-1": "SHOE-10"}).status_code == 302
    words = text(shopper.get("/r/acme/review/"))
    assert "Trail Runner, size 10 instead of Trail Runner" in words
    assert confirm(shopper, review_token(shopper)).status_code == 302
    line = ReturnLine.objects.with_scopes_disabled().get()
    assert (line.exchange_sku, line.exchange_quantity) == ("SHOE-10", 1)


# -- step 5: confirming --------------------------------------------------------------------------


def test_confirming_makes_the_return_and_shows_its_ran_codes_and_packing(shopper: Client) -> None:
    up_to_review(shopper)
    done = confirm(shopper, review_token(shopper))
    assert done.status_code == 302
    ret = returns().get()
    assert ret.status == "authorized" and ret.channel == "portal"
    assert ret.created_by_label == "shopper (portal)"
    assert done["Location"] == f"/r/acme/returns/{ret.ran}/"
    page = shopper.get(done["Location"])
    words = text(page)
    body = page.content.decode()
    assert "Your return is approved" in words
    assert f'<p class="ran" id="ran">{format_ran(ret.ran)}</p>' in body
    assert 'class="qr"' in body and 'class="barcode"' in body and "<svg" in body
    assert "Both shoes in the original box." in words  # the product's packing instructions
    assert "Your label isn't ready yet." in words  # no facility serves acme here
    assert "Send it by" in words
    assert 'id="status-link"' in body


def test_the_confirmation_is_only_for_the_session_that_made_the_return(shopper: Client) -> None:
    up_to_review(shopper)
    location = confirm(shopper, review_token(shopper))["Location"]
    assert Client().get(location).status_code == 404
    assert found().get(location).status_code == 404  # even the same order, another session


def test_a_double_submit_makes_one_return(shopper: Client) -> None:
    up_to_review(shopper)
    token = review_token(shopper)
    first = confirm(shopper, token)
    second = confirm(shopper, token)
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    assert returns().count() == 1


def test_a_second_press_before_the_session_knows_replays_the_first(shopper: Client) -> None:
    """The second request left before the first one's session was saved: the token is still
    the draft's, and the stored answer gives the same return."""
    up_to_review(shopper)
    token = review_token(shopper)
    saved = dict(shopper.session.items())
    first = confirm(shopper, token)
    session = shopper.session
    session.update(saved)
    session.save()
    second = confirm(shopper, token)
    assert second.status_code == 302 and second["Location"] == first["Location"]
    assert returns().count() == 1


def test_a_press_while_the_first_still_runs_waits_then_says_so(
    shopper: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(confirm_views, "WAIT_FOR_FIRST_SECONDS", 0)
    up_to_review(shopper)
    token = review_token(shopper)
    IdempotencyRecord.objects.create(  # the first press, still creating the return
        credential=f"portal:{Merchant.objects.get(slug='acme').pk}",
        key=token,
        fingerprint=draft_fingerprint(shopper.session["portal_draft"]),
        state="in_progress",
        locked_until=timezone.now() + timedelta(seconds=60),
        created_at=timezone.now(),
    )
    page = confirm(shopper, token)
    assert page.status_code == 202
    assert "We're still creating your return" in text(page)
    assert not returns().exists()


def test_an_old_confirm_button_cannot_confirm_other_figures(shopper: Client) -> None:
    up_to_review(shopper)
    stale = review_token(shopper)
    pick(shopper, "store_credit")  # the shopper changed their mind in another tab
    page = confirm(shopper, stale)
    assert page.status_code == 409
    assert "The details changed since this page was shown" in text(page)
    assert not returns().exists()


def test_a_return_sent_to_review_says_so_and_what_happens_next(
    api: ApiClient, shopper: Client
) -> None:
    set_policy(api, auto_approval__max_order_value=1000)
    up_to_review(shopper)
    assert "We'll review this return before approving it" in text(shopper.get("/r/acme/review/"))
    location = confirm(shopper, review_token(shopper))["Location"]
    assert returns().get().status == "pending_review"
    page = shopper.get(location)
    words = text(page)
    assert "We're reviewing your return" in words
    assert "What happens next:" in words and "don't send anything" in words
    assert 'class="qr"' not in page.content.decode()  # nothing may travel yet
    assert "order total" not in words  # the staff message stays with staff


def test_a_return_rejected_at_confirmation_says_why(api: ApiClient, shopper: Client) -> None:
    up_to_review(shopper)
    token = review_token(shopper)
    # Meanwhile the same units went back in another return.
    other = {
        "order_number": "1001",
        "email": "shopper@example.com",
        "resolution": "refund",
        "lines": [
            {"line_id": "1", "quantity": 2, "reason": "wrong_size"},
            {"line_id": "2", "quantity": 1, "reason": "wrong_size"},
        ],
    }
    assert api.post("/returns", other).status_code == 201
    page = shopper.get(confirm(shopper, token)["Location"])
    words = text(page)
    assert "We can't accept this return" in words
    assert "Trail Runner : Already returned" in words


def test_a_mistyped_or_foreign_confirmation_address_is_404(
    shopper: Client, other_merchant: Merchant
) -> None:
    assert shopper.get("/r/acme/returns/NOT-A-RAN/").status_code == 404
    up_to_review(shopper)
    location = confirm(shopper, review_token(shopper))["Location"]
    assert shopper.get(location.replace("/r/acme/", "/r/globex/")).status_code == 404
    for step in ("order", "reasons", "resolution", "review"):
        assert shopper.get(f"/r/globex/{step}/")["Location"] == "/r/globex/"


def test_a_submit_too_large_to_be_photos_is_refused_before_it_is_read(
    shopper: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    from returndesk.portal.views import flow

    monkeypatch.setattr(flow, "MAX_SUBMIT_BYTES", 100)
    choose(shopper, n1=1)
    page = give_reasons(shopper, {"reason-1": "defective", "photos-1": photo()})
    assert page.status_code == 422
    assert "The photos are too large together" in text(page)
    assert not Upload.objects.with_scopes_disabled().exists()
