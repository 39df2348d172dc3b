"""R5 of QUALITY.md, generated: every API operation and every console page, tried with another
merchant's credentials on merchant A's objects, answers exactly what it answers for an object
that does not exist (404, or 403 where the credential may not use the operation at all), and
never shows anything of A's.

The operations are read from the OpenAPI document the API serves and the pages from the
console's URLconf, so whatever is added later is walked too. Path parameters are filled from
A's world (world.py) by name, through PARAMETERS below: a new parameter name fails the test
until it is given a kind there (and a value in the world). Request bodies are the smallest the
schema accepts, with the fields that name an object (order number, e-mail, RAN...) set to A's.

Each request is sent twice by the other merchant's credential: once naming A's objects, once
naming objects that exist nowhere (same shapes). The two answers must have the same status and
problem code, an operation on one of A's objects must answer 403 or 404, and no answer may
hold an identifier of A's that the request did not send. Then A's own credentials are shown to
find each object, so a 404 above is the tenancy check and not a wrong test value.

tests/console/test_isolation.py checks the other half of the console: B's user on A's seat
(/console/m/<A>/...) answers 404 as an unknown merchant does.
"""

from __future__ import annotations

import io
import json
import re
from typing import Any
from urllib.parse import urlencode

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import URLPattern, reverse
from PIL import Image

from returndesk.console import urls as console_urls
from returndesk.core.codes import format_ran, generate_ran, is_valid_ran
from returndesk.warehouse.tags import is_valid_lpn, new_lpn
from tests.conftest import ApiClient
from tests.console.test_console import signed_in
from tests.reliability.walk import Operation, operations
from tests.reliability.world import OBJECT_FIELDS, World

pytestmark = pytest.mark.django_db

OBJECT = "one of merchant A's objects (or a facility or provider row A's seat reaches)"
NATURAL = "a merchant's own key (SKU, order number...): B has none of A's"
SHARED = "not an object of A's: every merchant has its own, or it is a route"
PARAMETERS = {
    # A's objects by their public ids or codes (API names, then the console's)
    "ran": OBJECT,
    "route_id": OBJECT,
    "receipt_id": OBJECT,
    "package_id": OBJECT,
    "line_id": OBJECT,
    "lpn": OBJECT,
    "refund_id": OBJECT,
    "adjustment_id": OBJECT,
    "exchange_id": OBJECT,
    "endpoint_id": OBJECT,
    "delivery_id": OBJECT,
    "receipt": OBJECT,
    "package": OBJECT,
    "line": OBJECT,
    "photo": OBJECT,
    "linked_photo": OBJECT,
    "public_id": OBJECT,  # an API key of A's
    "inbound_id": OBJECT,  # a shop webhook A received
    "writeback_id": OBJECT,  # a refund written back to A's shop
    "facility": OBJECT,  # FAC1 serves A only
    "webhook_id": OBJECT,  # a carrier webhook: provider staff only
    # natural keys within a merchant
    "sku": NATURAL,
    "order_number": NATURAL,
    "email": NATURAL,
    "code": NATURAL,  # a gift card's
    # not A's objects
    "unit": SHARED,  # a unit number within a line named by another parameter
    "fmt": SHARED,
    "action": SHARED,
    "version": SHARED,  # B has its own policy versions
    "kind": SHARED,  # shopify or woocommerce: B's own connection
    "table": SHARED,  # an analytics table's name
    "period": SHARED,  # a billing month
    "carrier": SHARED,  # an inbound webhook's route
    "merchant_slug": SHARED,  # an inbound webhook's route, or a provider page's merchant
}
NOWHERE = {"sku": "NO-SUCH-SKU", "order_number": "NO-SUCH-ORDER", "email": "nobody@example.net"}


def kind_of(name: str, where: str) -> str:
    assert name in PARAMETERS, (
        f"{where} has a parameter {name!r} the isolation walk does not know: give it a kind in "
        "PARAMETERS (tests/reliability/test_r5_isolation.py) and a value in the world"
    )
    return PARAMETERS[name]


def nowhere(name: str, value: Any) -> Any:
    """A value shaped like `value` that names nothing."""
    text = str(value)
    if name in NOWHERE:
        return NOWHERE[name]
    if PARAMETERS.get(name) == SHARED or name == "facility" or isinstance(value, int):
        return value  # a facility is the provider's: the credential's reach is what differs
    if is_valid_ran(text):
        return format_ran(generate_ran())
    if is_valid_lpn(text):
        return new_lpn()
    prefixed = re.fullmatch(r"([a-z]+)_([0-9A-Z]+)", text)
    if prefixed:
        return f"{prefixed.group(1)}_{'0' * len(prefixed.group(2))}"
    return f"NOWHERE-{text}"


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), "teal").save(out, "JPEG")
    return out.getvalue()


def body_of(response: Any) -> str:
    raw = b"".join(response.streaming_content) if response.streaming else response.content
    return raw.decode(errors="replace")


def leaked(world: World, request: str, answer: str) -> set[str]:
    return {m for m in world.markers if m in answer and m not in request}


def problem_code(response: Any) -> str | None:
    if response.get("Content-Type", "").startswith("application/problem+json"):
        return str(json.loads(response.content).get("code"))
    return None


# --- the API ----------------------------------------------------------------------------------


def send(op: Operation, key: ApiClient, values: dict[str, Any]) -> tuple[Any, str]:
    """`op` with its parameters and object fields from `values`: the answer, and what was sent."""
    fields = {name: values[source] for name, source in OBJECT_FIELDS.items() if source in values}
    url = op.url(values)
    query = {name: fields[name] for name in op.query_names if name in fields}
    if query:
        url += "?" + urlencode(query)
    headers = {"Authorization": f"Bearer {key.key}"}
    body = op.minimal_body(fields)
    client = Client()
    if op.media_type == "multipart/form-data":
        data = {
            k: SimpleUploadedFile("p.jpg", jpeg(), "image/jpeg") if v == b"" else v
            for k, v in body.items()
        }
        return client.post(url, data, headers=headers), f"{url} {data}"
    if body is None:
        return client.generic(op.method, url, headers=headers), url
    sent = json.dumps(body)
    response = client.generic(
        op.method, url, sent, content_type="application/json", headers=headers
    )
    return response, f"{url} {sent}"


def api_walk(world: World, key: ApiClient) -> list[str]:
    failures = []
    sent_so_far = ""  # what B sent may be B's own data now (a PUT /orders/... of its own)
    for op in operations():
        kinds = {name: kind_of(name, op.label) for name in op.path_names}
        theirs = world.values
        unknown = {name: nowhere(name, value) for name, value in theirs.items()}
        answer, sent = send(op, key, theirs)
        control, _ = send(op, key, unknown)
        text = body_of(answer)
        sent_so_far += sent
        if found := leaked(world, sent_so_far, text):
            failures.append(f"{op.label}: the answer shows A's {sorted(found)}")
        if (answer.status_code, problem_code(answer)) != (
            control.status_code,
            problem_code(control),
        ):
            failures.append(
                f"{op.label}: {answer.status_code} {problem_code(answer)} for A's objects, "
                f"{control.status_code} {problem_code(control)} for unknown ones"
            )
        if OBJECT in kinds.values() and answer.status_code not in (403, 404):
            failures.append(f"{op.label}: {answer.status_code} on A's object: {text[:300]}")
        if not op.keyed and answer.status_code not in (401, 404):
            failures.append(f"{op.label}: unsigned, yet {answer.status_code}")
    return failures


def test_another_merchants_key_finds_nothing_of_a(world: World) -> None:
    failures = api_walk(world, world.b_key)
    assert not failures, "\n".join(failures)


def test_another_merchants_station_finds_nothing_of_a(world: World) -> None:
    failures = api_walk(world, world.b_station)
    assert not failures, "\n".join(failures)
    # A's own credentials do find every object named above (run last: they may change it).
    missed = []
    for op in operations():
        if OBJECT not in {PARAMETERS[name] for name in op.path_names}:
            continue
        answers = [send(op, key, world.values)[0] for key in (world.a_key, world.a_station)]
        if all(a.status_code in (403, 404) for a in answers):
            missed.append(f"{op.label}: {[a.status_code for a in answers]}")
    assert not missed, "A's own keys do not find these, so the walk proves nothing:\n" + "\n".join(
        missed
    )


# --- the console ------------------------------------------------------------------------------


def merchant_pages() -> list[URLPattern]:
    found = [p for p in console_urls.urlpatterns if isinstance(p, URLPattern)]
    return [p for p in found if "slug" in p.pattern.converters]


def test_another_merchants_user_on_their_own_seat_finds_nothing_of_a(world: World) -> None:
    """B's admin at /console/m/<B>/... with A's objects in the rest of the URL.

    A form the page refuses before it looks anything up (a required field missing) redirects
    back the same way for an unknown object, so a POST may answer 3xx as long as the unknown
    object's answer is the same; each POST is sent from a fresh session, so the message it
    leaves is not read on the next page."""
    reader = signed_in(world.b_admin)
    failures = []
    for page in merchant_pages():
        names = [n for n in page.pattern.converters if n != "slug"]
        kinds = {name: kind_of(name, f"console page {page.name}") for name in names}
        missing = set(names) - set(world.values)
        assert not missing, f"give the world a value for {missing} ({page.name})"
        theirs = {n: world.values[n] for n in names}
        unknown = {n: nowhere(n, v) for n, v in theirs.items()}
        for method in ("GET", "POST"):
            answers = []
            for values in (theirs, unknown):
                url = reverse(f"console:{page.name}", kwargs={"slug": world.other.slug, **values})
                if method == "GET":
                    answers.append((url, reader.get(url)))
                else:
                    answers.append((url, signed_in(world.b_admin).post(url, {"reason": "x"})))
            (url, answer), (_, control) = answers
            if found := leaked(world, url, body_of(answer)):
                failures.append(f"{method} {url}: the page shows A's {sorted(found)}")
            if answer.status_code != control.status_code:
                failures.append(
                    f"{method} {url}: {answer.status_code} for A's objects, "
                    f"{control.status_code} for unknown ones"
                )
            allowed = {403, 404, 405} | (set(range(300, 400)) if method == "POST" else set())
            if OBJECT in kinds.values() and answer.status_code not in allowed:
                failures.append(f"{method} {url}: {answer.status_code} on A's object")
    assert not failures, "\n".join(failures)
