from __future__ import annotations

import html
import json
import re
from typing import Any

import pytest
from django.test import Client

from returndesk.core.models import AuditLogEntry
from returndesk.tenants.models import Merchant
from tests.conftest import ApiClient
from tests.console.test_console import signed_in, staff
from tests.returns.test_returns_api import order, request  # noqa: F401 - the order fixture

pytestmark = pytest.mark.django_db
EDITOR = "/console/m/acme/policy/"
PUBLISH = "/console/m/acme/policy/publish/"


@pytest.fixture
def admin(merchant: Merchant) -> Client:
    return signed_in(staff("admin@acme.example", "merchant_admin", merchant))


def form_data(client: Client, **changes: Any) -> dict[str, Any]:
    """What the editor's form submits as it is shown, with some fields changed."""
    page = client.get(EDITOR).content.decode()
    form = page[page.index('class="policy-form"') :]
    data: dict[str, Any] = {}
    for tag in re.findall(r"<input [^>]*>", form):
        name = re.search(r'name="([^"]+)"', tag)
        if not name or name.group(1) == "csrfmiddlewaretoken":
            continue
        if 'type="checkbox"' in tag:
            if "checked" in tag:
                data[name.group(1)] = "on"
            continue
        value = re.search(r'value="([^"]*)"', tag)
        data[name.group(1)] = html.unescape(value.group(1)) if value else ""
    for name, body in re.findall(r'<textarea name="([^"]+)"[^>]*>(.*?)</textarea>', form, re.S):
        data[name] = html.unescape(body).lstrip("\n")
    for name, body in re.findall(r'<select name="([^"]+)"[^>]*>(.*?)</select>', form, re.S):
        data[name] = re.search(r'<option value="([^"]*)"[^>]*selected', body).group(1)  # type: ignore[union-attr]
    for name, value in changes.items():
        if value is None:
            data.pop(name, None)
        else:
            data[name] = value
    return data


def hidden(page: str, name: str) -> str:
    found = re.search(rf'<input type="hidden" name="{name}" value="([^"]*)"', page)
    assert found, f"no hidden {name}"
    return html.unescape(found.group(1))


def error_of(page: str, field: str) -> str:
    found = re.search(rf'<ul class="errorlist" id="id_{field}_error">(.*?)</ul>', page, re.S)
    assert found, f"no error shown for {field}"
    return re.sub(r"<[^>]+>", "", found.group(1))


def current_version(api: ApiClient) -> dict[str, Any]:
    return api.get("/policy").json()


def test_the_editor_shows_the_current_policy_in_the_form(admin: Client) -> None:
    page = admin.get(EDITOR)
    assert page.status_code == 200
    text = page.content.decode()
    assert 'href="/console/m/acme/policy/"' in text  # in the navigation
    assert re.search(r'name="window_days" value="30"', text)
    assert re.search(r'name="return_shipping_fee" value="0(\.00)?"', text)
    assert "Return shipping fee (USD)" in text
    # the rest of the document is there; the form's fields are not repeated in it
    document = json.loads(form_data(admin)["document"])
    assert "reasons" in document and "window_days" not in document
    assert "resolutions" not in document and "restocking_percent" not in document["fees"]


def test_a_merchant_admin_previews_then_publishes_a_longer_window(
    admin: Client, api: ApiClient
) -> None:
    preview = admin.post(EDITOR, form_data(admin, window_days="45"))
    assert preview.status_code == 200
    text = preview.content.decode()
    assert "<strong>Return window (days)</strong>: 30 days → 45 days" in text
    assert "Simulation over" in text and "Publish version 2" in text
    assert '+  "window_days": 45' in html.unescape(text)
    assert current_version(api)["version"] == 1  # a preview publishes nothing

    published = admin.post(
        PUBLISH,
        {
            "draft": hidden(text, "draft"),
            "token": hidden(text, "token"),
            "note": "longer window for the holidays",
        },
    )
    assert published.status_code == 302
    assert published["Location"] == "/console/m/acme/policy/versions/2/"
    policy = current_version(api)
    assert policy["version"] == 2 and policy["document"]["window_days"] == 45
    assert policy["published_by"] == "admin@acme.example"
    assert AuditLogEntry.objects.filter(action="policy.published", object_ref="v2").exists()

    shown = admin.get(published["Location"]).content.decode()
    assert "Published by admin@acme.example" in shown and "longer window" in shown
    assert "30 days → 45 days" in shown
    listing = admin.get("/console/m/acme/policy/versions/").content.decode()
    assert "Version 2" in listing and "Version 1" in listing and "default policy" in listing


def test_a_draft_edited_after_its_preview_is_not_published(admin: Client, api: ApiClient) -> None:
    text = admin.post(EDITOR, form_data(admin, window_days="45")).content.decode()
    draft = json.loads(hidden(text, "draft"))
    draft["window_days"] = 365
    response = admin.post(PUBLISH, {"draft": json.dumps(draft), "token": hidden(text, "token")})
    assert response.status_code == 409
    again = response.content.decode()
    assert "Nothing was published" in again
    assert current_version(api)["version"] == 1
    # validated and simulated again: the preview now shows what would really be published
    assert "30 days → 365 days" in again and "Simulation over" in again
    assert re.search(r'name="window_days" value="365"', again)
    assert (
        admin.post(
            PUBLISH, {"draft": hidden(again, "draft"), "token": hidden(again, "token")}
        ).status_code
        == 302
    )
    assert current_version(api)["document"]["window_days"] == 365


def test_a_preview_of_a_version_no_longer_current_is_not_published(
    admin: Client, api: ApiClient
) -> None:
    text = admin.post(EDITOR, form_data(admin, window_days="45")).content.decode()
    meanwhile = current_version(api)["document"]
    meanwhile["days_to_ship"] = 21
    assert api.put("/policy", meanwhile).status_code == 201  # someone else publishes v2
    response = admin.post(PUBLISH, {"draft": hidden(text, "draft"), "token": hidden(text, "token")})
    assert response.status_code == 409
    assert current_version(api)["version"] == 2
    again = response.content.decode()
    assert "against version 2" in again and "Publish version 3" in again
    # the draft would undo the other change: the new preview says so
    assert "<strong>Days to ship</strong>: 21 days → 14 days" in again


def test_a_forged_or_missing_token_publishes_nothing(admin: Client, api: ApiClient) -> None:
    text = admin.post(EDITOR, form_data(admin, window_days="45")).content.decode()
    for token in ("", "forged:token", hidden(text, "token") + "x"):
        response = admin.post(PUBLISH, {"draft": hidden(text, "draft"), "token": token})
        assert response.status_code == 409
    garbage = admin.post(PUBLISH, {"draft": "{not json", "token": hidden(text, "token")})
    assert garbage.status_code == 302
    assert current_version(api)["version"] == 1


def test_bad_values_are_shown_next_to_their_field_and_nothing_is_published(
    admin: Client, api: ApiClient
) -> None:
    response = admin.post(
        EDITOR,
        form_data(
            admin,
            window_days="-1",
            store_credit_bonus_percent="150",
            return_shipping_fee="5.123",
            recent_days="many",
        ),
    )
    assert response.status_code == 422
    text = response.content.decode()
    assert "nothing was saved" in text and "Publish version" not in text
    assert "Enter a whole number" in error_of(text, "recent_days")
    assert "decimal places" in error_of(text, "return_shipping_fee")
    # the policy's own rules, from policy_parse, once the form's values parse
    response = admin.post(
        EDITOR, form_data(admin, window_days="-1", store_credit_bonus_percent="150")
    )
    text = response.content.decode()
    assert "greater than or equal to 0" in error_of(text, "window_days")
    assert "less than or equal to 100" in error_of(text, "store_credit_bonus_percent")
    assert 'aria-invalid="true"' in text
    assert current_version(api)["version"] == 1


def test_offering_no_resolution_is_an_error_on_the_resolutions(admin: Client) -> None:
    data = form_data(admin, refund=None, store_credit=None, exchange=None)
    text = admin.post(EDITOR, data).content.decode()
    errors = re.search(r'<ul class="errorlist" id="resolution-errors">(.*?)</ul>', text, re.S)
    assert errors and "at least one resolution" in errors.group(1)


def test_errors_in_the_full_document_name_their_json_path(admin: Client) -> None:
    document = json.loads(form_data(admin)["document"])
    document["reasons"][1]["code"] = "Wrong Size"
    document["window_days"] = 10  # a field of the form
    document["surprise"] = 1
    text = admin.post(EDITOR, form_data(admin, document=json.dumps(document))).content.decode()
    errors = re.search(r'<ul class="errorlist" id="document-errors">(.*?)</ul>', text, re.S)
    assert errors
    assert "<code>window_days</code>: Set this in the form above" in errors.group(1)
    del document["window_days"]
    text = admin.post(EDITOR, form_data(admin, document=json.dumps(document))).content.decode()
    errors = re.search(r'<ul class="errorlist" id="document-errors">(.*?)</ul>', text, re.S)
    assert errors
    assert "<code>reasons[1].code</code>: String should match pattern" in errors.group(1)
    assert "<code>surprise</code>: is not a field of a policy" in errors.group(1)


def test_json_that_does_not_parse_says_where(admin: Client) -> None:
    text = admin.post(EDITOR, form_data(admin, document='{"reasons": [}')).content.decode()
    assert "This is not valid JSON" in error_of(text, "document")
    assert "line 1, column 14" in error_of(text, "document")
    text = admin.post(EDITOR, form_data(admin, document="[1, 2]")).content.decode()
    assert "must be a JSON object" in error_of(text, "document")


def test_the_simulation_counts_what_the_draft_changes(
    admin: Client,
    api: ApiClient,
    order: dict[str, Any],  # noqa: F811
) -> None:
    assert api.post("/returns", request()).json()["status"] == "authorized"
    text = admin.post(EDITOR, form_data(admin, window_days="1")).content.decode()
    assert "Simulation over 1 past return (1 lines)" in text
    rows = dict(
        re.findall(r'<tr class="changed"><th scope="row">([^<]+)</th>\s*(.*?)</tr>', text, re.S)
    )
    assert set(rows) >= {"Approved", "Rejected", "Refunds"}
    numbers = lambda row: re.findall(r'<td class="num">([^<]*)</td>', row)  # noqa: E731
    assert numbers(rows["Approved"]) == ["1", "0", "-1"]
    assert numbers(rows["Rejected"]) == ["0", "1", "+1"]
    assert numbers(rows["Refunds"])[1] == "$0.00"
    assert "1 return would be decided differently." in text


def test_a_user_without_policy_manage_sees_no_entry_and_gets_403(
    merchant: Merchant, api: ApiClient
) -> None:
    client = signed_in(staff("agent@acme.example", "agent", merchant))
    assert b"/console/m/acme/policy/" not in client.get("/console/m/acme/").content
    for url in (EDITOR, "/console/m/acme/policy/versions/", "/console/m/acme/policy/versions/1/"):
        assert client.get(url).status_code == 403, url
    assert client.post(EDITOR, {"window_days": "45"}).status_code == 403
    assert client.post(PUBLISH, {"draft": "{}", "token": ""}).status_code == 403
    assert current_version(api)["version"] == 1


def test_another_merchants_admin_gets_404_on_every_policy_url(
    merchant: Merchant, other_merchant: Merchant, api: ApiClient
) -> None:
    client = signed_in(staff("admin@globex.example", "merchant_admin", other_merchant))
    for url in (EDITOR, "/console/m/acme/policy/versions/", "/console/m/acme/policy/versions/1/"):
        assert client.get(url).status_code == 404, url
    assert client.post(EDITOR, {"window_days": "45"}).status_code == 404
    assert client.post(PUBLISH, {"draft": "{}", "token": ""}).status_code == 404
    assert client.get("/console/m/globex/policy/versions/1/").status_code == 200  # its own


def test_an_unknown_version_is_404(admin: Client) -> None:
    assert admin.get("/console/m/acme/policy/versions/7/").status_code == 404
